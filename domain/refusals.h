#pragma once

// The domain's refusals with their machine-readable details
// (common/error_details.h): a stable reason, and a PreconditionFailure whose
// type names what kind of thing stood in the way ("CONSENT", "REFERRAL",
// "CONCERN", ...) and whose subject names which ("consent_id/c-1"). The
// message is the description; a detail says nothing the message does not.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ycr::domain {

// "<field>/<id>": a PreconditionFailure's subject.
std::string Cited(absl::string_view field, absl::string_view id);

// FAILED_PRECONDITION INVALID_STATE: the thing (or one it cites) is not in
// a state that allows this step.
absl::Status InvalidState(absl::string_view type, absl::string_view subject,
                          absl::string_view message);

// FAILED_PRECONDITION NOT_COVERED: no consent or lawful basis covers it.
absl::Status NotCovered(absl::string_view type, absl::string_view subject,
                        absl::string_view message);

// FAILED_PRECONDITION REFERENCE_NOT_FOUND: the `type` whose id `id` the
// command cites in `field` does not exist (or is not the caller's to cite,
// answered alike). Subject Cited(field, id).
absl::Status ReferenceNotFound(absl::string_view type, absl::string_view field,
                               absl::string_view id, absl::string_view message);

// FAILED_PRECONDITION SUBJECT_ERASED (type "SUBJECT", subject
// "subject_id/<id>"). Only for an organisation entitled to know.
absl::Status SubjectErased(absl::string_view subject_id,
                           absl::string_view message);

// INVALID_ARGUMENT FIELD_REQUIRED "<field>: is required<more>".
absl::Status FieldRequired(absl::string_view field,
                           absl::string_view more = "");

// RequiredText, with "(<why>)" after "is required" (the field path stays
// the message's first word, for the BadRequest).
absl::Status RequiredTextFor(const std::string& value, absl::string_view field,
                             absl::string_view why);

// Closed vocabularies of the fields the contract classifies as codes but
// types as strings (issue 14: no free text in code fields).

// A related person's relationship to the young carer
// (RelatedPerson.relationship, ParentalResponsibility.relationship).
const std::vector<std::string>& RelationshipCodes();

// The law that allows sharing without consent to protect a child
// (SafeguardingBasis.lawful_basis): UK GDPR and DPA 2018 conditions, and the
// duties of the Children Acts and the Education Act.
const std::vector<std::string>& SafeguardingLawfulBasisCodes();

// Why a reader reads personal data (metadata x-ycr-purpose, kept in the
// access log).
const std::vector<std::string>& AccessPurposeCodes();

// OK when `value` is empty (and `optional`) or one of `codes`; otherwise
// INVALID_ARGUMENT "<field>: must be one of a, b, ... (a code, not text)".
absl::Status CheckCode(const std::string& value, absl::string_view field,
                       const std::vector<std::string>& codes, bool optional);

}  // namespace ycr::domain
