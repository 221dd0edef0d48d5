#include "domain/refusals.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/error_details.h"
#include "domain/field_checks.h"

namespace ycr::domain {

std::string Cited(absl::string_view field, absl::string_view id) {
  return absl::StrCat(field, "/", id);
}

absl::Status InvalidState(absl::string_view type, absl::string_view subject,
                          absl::string_view message) {
  return PreconditionError(absl::StatusCode::kFailedPrecondition, type, subject,
                           message, reason::kInvalidState);
}

absl::Status NotCovered(absl::string_view type, absl::string_view subject,
                        absl::string_view message) {
  return PreconditionError(absl::StatusCode::kFailedPrecondition, type, subject,
                           message, reason::kNotCovered);
}

absl::Status ReferenceNotFound(absl::string_view type, absl::string_view field,
                               absl::string_view id,
                               absl::string_view message) {
  return PreconditionError(absl::StatusCode::kFailedPrecondition, type,
                           Cited(field, id), message,
                           reason::kReferenceNotFound);
}

absl::Status SubjectErased(absl::string_view subject_id,
                           absl::string_view message) {
  return PreconditionError(absl::StatusCode::kFailedPrecondition, "SUBJECT",
                           Cited("subject_id", subject_id), message,
                           reason::kSubjectErased);
}

absl::Status FieldRequired(absl::string_view field, absl::string_view more) {
  return FieldError(field, absl::StrCat("is required", more),
                    reason::kFieldRequired);
}

absl::Status RequiredTextFor(const std::string& value, absl::string_view field,
                             absl::string_view why) {
  if (Blank(value)) return FieldRequired(field, absl::StrCat(" (", why, ")"));
  return OptionalText(value, field);
}

const std::vector<std::string>& RelationshipCodes() {
  static const auto* codes = new std::vector<std::string>{
      "mother",       "father",        "parent",         "step-parent",
      "guardian",     "grandparent",   "sibling",        "aunt-or-uncle",
      "foster-carer", "kinship-carer", "other-relative", "other"};
  return *codes;
}

const std::vector<std::string>& SafeguardingLawfulBasisCodes() {
  static const auto* codes = new std::vector<std::string>{
      "dpa2018-sch1-para18",    "ukgdpr-art6-1c",
      "ukgdpr-art6-1d",         "ukgdpr-art6-1e",
      "ukgdpr-art9-2g",         "children-act-1989-s17",
      "children-act-1989-s47",  "children-act-2004-s11",
      "education-act-2002-s175"};
  return *codes;
}

const std::vector<std::string>& AccessPurposeCodes() {
  static const auto* codes = new std::vector<std::string>{
      "case-work", "review",    "safeguarding", "subject-access",
      "audit",     "complaint", "legal",        "data-quality"};
  return *codes;
}

absl::Status CheckCode(const std::string& value, absl::string_view field,
                       const std::vector<std::string>& codes, bool optional) {
  if (value.empty() && optional) return absl::OkStatus();
  if (std::find(codes.begin(), codes.end(), value) != codes.end()) {
    return absl::OkStatus();
  }
  return FieldError(
      field,
      absl::StrCat(value.empty() ? "is required: " : "", "must be one of ",
                   absl::StrJoin(codes, ", "), " (a code, not text)"),
      value.empty() ? reason::kFieldRequired : reason::kFieldInvalid);
}

}  // namespace ycr::domain
