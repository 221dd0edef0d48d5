#pragma once

// Disclosures: what a recorded disclosure must say. Whether a consent covers
// it is consent_rules.h's CheckConsentCovers.

#include "absl/status/status.h"
#include "ycr/v1/event.pb.h"

namespace ycr::domain {

// INVALID_ARGUMENT naming the field when the disclosure is incomplete;
// PERMISSION_DENIED when `from` is not the caller's organisation;
// FAILED_PRECONDITION when it has neither a consent nor a safeguarding basis,
// or the safeguarding basis lacks what the law asks to be recorded.
absl::Status ValidateDisclosure(const v1::DisclosureRecorded& disclosure,
                                const v1::Actor& caller);

// INVALID_ARGUMENT naming the field when a decision not to share lacks its
// decision-maker or reason.
absl::Status ValidateSharingDeclined(const v1::SharingDeclined& declined);

}  // namespace ycr::domain
