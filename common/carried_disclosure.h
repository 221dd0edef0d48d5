#pragma once

// Which disclosure an event records or carries: one answer for the rules of
// who sees what (domain/visibility.cc) and for which key seals an event's
// personal part (storage/subject_keys.cc), so the two cannot drift apart.
// Header only: its users link ycr_proto themselves.

#include "ycr/v1/event.pb.h"

namespace ycr {

// The disclosure `p` records or carries (a recorded disclosure, a
// referral's, a transfer's, an outcome report, a referral to social care);
// null when none.
inline const v1::DisclosureRecorded* CarriedDisclosure(
    const v1::EventPayload& p) {
  using K = v1::EventPayload;
  switch (p.kind_case()) {
    case K::kDisclosureRecorded:
      return &p.disclosure_recorded();
    case K::kReferralSubmitted:
      return &p.referral_submitted().disclosure();
    case K::kReferralTransferred:
      return &p.referral_transferred().disclosure();
    case K::kOutcomesRecorded:
      return p.outcomes_recorded().has_report()
                 ? &p.outcomes_recorded().report()
                 : nullptr;
    case K::kSocialCareReferralMade:
      return &p.social_care_referral_made().disclosure();
    default:
      return nullptr;
  }
}

}  // namespace ycr
