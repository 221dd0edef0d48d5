#include "domain/sharing_rules.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/error_details.h"
#include "common/ids.h"
#include "domain/field_checks.h"
#include "domain/refusals.h"

namespace ycr::domain {
namespace {

absl::Status Required(const std::string& value, absl::string_view field) {
  return RequiredText(value, field);
}

}  // namespace

std::string OrganisationToken(const std::string& organisation) {
  return NameUuid(
      absl::StrCat("ycr-organisation", std::string(1, '\0'), organisation));
}

std::string SharingStream(const std::string& subject_id) {
  return absl::StrCat("sharing-", subject_id);
}

std::string ConfidentialSharingStream(const std::string& subject_id,
                                      const std::string& organisation) {
  return absl::StrCat("sharing-", subject_id, "/",
                      OrganisationToken(organisation));
}

absl::Status ValidateDisclosure(const v1::DisclosureRecorded& d,
                                const v1::PersonalData& personal,
                                const v1::Actor& caller) {
  for (auto [value, field] :
       {std::pair{&d.disclosure_id(), "disclosure_id"},
        std::pair{&d.subject_id(), "subject_id"},
        std::pair{&d.from().organisation(), "from.organisation"},
        std::pair{&d.to().organisation(), "to.organisation"}}) {
    if (absl::Status s = Required(*value, field); !s.ok()) return s;
  }
  for (auto [value, field] :
       {std::pair{&d.disclosure_id(), "disclosure_id"},
        std::pair{&d.subject_id(), "subject_id"},
        std::pair{&d.from().organisation(), "from.organisation"},
        std::pair{&d.to().organisation(), "to.organisation"},
        std::pair{&d.from().role(), "from.role"},
        std::pair{&d.to().role(), "to.role"}}) {
    if (value->size() > kMaxIdBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": at most ", kMaxIdBytes, " bytes"));
    }
  }
  if (d.categories().empty() ||
      std::count(d.categories().begin(), d.categories().end(),
                 v1::DATA_CATEGORY_UNSPECIFIED) > 0) {
    return absl::InvalidArgumentError(
        "categories: at least one, none unspecified");
  }
  if (d.purpose() == v1::PURPOSE_UNSPECIFIED) {
    return absl::InvalidArgumentError("purpose: is required");
  }
  if (d.from().organisation() != caller.organisation()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "from.organisation: a caller records only its own organisation's "
        "disclosures; the caller acts for ",
        caller.organisation()));
  }
  if (d.from().organisation() == d.to().organisation()) {
    return absl::InvalidArgumentError(
        "to.organisation: a disclosure goes to another organisation");
  }
  switch (d.basis_case()) {
    case v1::DisclosureRecorded::kConsent:
      if (Blank(d.consent().consent_id())) {
        return FieldRequired("consent.consent_id");
      }
      return absl::OkStatus();
    case v1::DisclosureRecorded::kSafeguarding: {
      const auto& b = d.safeguarding();
      for (auto [value, field] :
           {std::pair{&b.lawful_basis(), "safeguarding.lawful_basis"},
            std::pair{&b.decision_maker(), "safeguarding.decision_maker"},
            std::pair{&personal.risk_statement(), "personal.risk_statement"}}) {
        if (Blank(*value)) {
          return NotCovered(
              "SAFEGUARDING_BASIS", field,
              absl::StrCat("safeguarding basis rule: sharing without consent "
                           "must record ",
                           field));
        }
      }
      if (!b.family_told() && Blank(personal.not_told_reason())) {
        return NotCovered(
            "SAFEGUARDING_BASIS", "personal.not_told_reason",
            "safeguarding basis rule: when the family is not told, "
            "personal.not_told_reason must say why");
      }
      // A code, not text: the plain event outlives erasure.
      if (absl::Status s =
              CheckCode(b.lawful_basis(), "safeguarding.lawful_basis",
                        SafeguardingLawfulBasisCodes(), /*optional=*/false);
          !s.ok()) {
        return s;
      }
      if (d.purpose() != v1::PURPOSE_SAFEGUARDING) {
        return NotCovered(
            "SAFEGUARDING_BASIS", "purpose",
            "safeguarding basis rule: sharing without consent is only to "
            "protect a child at risk (purpose PURPOSE_SAFEGUARDING); for any "
            "other purpose a consent must cover it");
      }
      for (const std::string* text : {&b.lawful_basis(), &b.concern_id()}) {
        if (text->size() > 500) {
          return absl::InvalidArgumentError(
              "safeguarding: lawful_basis and concern_id are at most 500 "
              "bytes");
        }
      }
      return absl::OkStatus();
    }
    default:
      return NotCovered(
          "LAWFUL_BASIS", "basis",
          "sharing rule: a disclosure needs a consent that covers it or a "
          "safeguarding basis; it has neither");
  }
}

absl::Status ValidateEmbeddedDisclosure(const v1::DisclosureRecorded& d,
                                        const v1::PersonalData& personal,
                                        const v1::Actor& caller,
                                        absl::string_view field,
                                        const std::string& subject_id,
                                        const std::string& to_organisation,
                                        v1::Purpose purpose) {
  if (absl::Status s = ValidateDisclosure(d, personal, caller); !s.ok()) {
    return WithFieldPrefix(s, field);
  }
  if (d.subject_id() != subject_id) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".subject_id: must be ", subject_id, ", whom it is about"));
  }
  if (!to_organisation.empty() && d.to().organisation() != to_organisation) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".to.organisation: must be ", to_organisation));
  }
  if (purpose != v1::PURPOSE_UNSPECIFIED && d.purpose() != purpose) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".purpose: must be ", v1::Purpose_Name(purpose)));
  }
  return absl::OkStatus();
}

absl::Status ValidateSharingDeclined(const v1::SharingDeclined& declined,
                                     const v1::PersonalData& personal) {
  for (auto [value, field] :
       {std::pair{&declined.subject_id(), "subject_id"},
        std::pair{&declined.to().organisation(), "to.organisation"},
        std::pair{&declined.decision_maker(), "decision_maker"},
        std::pair{&personal.reason(), "personal.reason"}}) {
    if (absl::Status s = Required(*value, field); !s.ok()) return s;
  }
  if (std::count(declined.categories().begin(), declined.categories().end(),
                 v1::DATA_CATEGORY_UNSPECIFIED) > 0) {
    return absl::InvalidArgumentError("categories: none unspecified");
  }
  return absl::OkStatus();
}

}  // namespace ycr::domain
