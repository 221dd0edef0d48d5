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
// `personal` is the personal part of the event that carries the disclosure
// (a safeguarding basis's risk statement and not-told reason are there).
// A safeguarding basis is only for PURPOSE_SAFEGUARDING.
absl::Status ValidateDisclosure(const v1::DisclosureRecorded& disclosure,
                                const v1::PersonalData& personal,
                                const v1::Actor& caller);

// A disclosure recorded inside another event (a referral's submission, an
// outcome report to a school, a referral to social care): ValidateDisclosure,
// with every message prefixed by `field`, plus INVALID_ARGUMENT unless it is
// about `subject_id`, goes to `to_organisation` (when not empty) and is for
// `purpose` (when not PURPOSE_UNSPECIFIED).
absl::Status ValidateEmbeddedDisclosure(const v1::DisclosureRecorded& d,
                                        const v1::PersonalData& personal,
                                        const v1::Actor& caller,
                                        absl::string_view field,
                                        const std::string& subject_id,
                                        const std::string& to_organisation,
                                        v1::Purpose purpose);

// INVALID_ARGUMENT naming the field when a decision not to share lacks its
// decision-maker or its reason (personal.reason: free text, sealed).
absl::Status ValidateSharingDeclined(const v1::SharingDeclined& declined,
                                     const v1::PersonalData& personal);

}  // namespace ycr::domain
