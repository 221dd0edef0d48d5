#pragma once

// Disclosures: what a recorded disclosure must say. Whether a consent covers
// it is consent_rules.h's CheckConsentCovers.

#include <string>

#include "absl/status/status.h"
#include "ycr/v1/event.pb.h"

namespace ycr::domain {

// A stream-safe token for an organisation (any printable name): a
// name-based UUID, the same for the same organisation.
std::string OrganisationToken(const std::string& organisation);

// The journal a sharing event goes to. Disclosures under consent:
// "sharing-<subject>", one journal every party's records share.
// Confidential ones (ClassOf: a safeguarding disclosure, any decision not to
// share) go to the recording organisation's own journal,
// "sharing-<subject>/<organisation token>", so their versions never show in
// a journal a reader who may not see them reads or appends to.
std::string SharingStream(const std::string& subject_id);
std::string ConfidentialSharingStream(const std::string& subject_id,
                                      const std::string& organisation);

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
