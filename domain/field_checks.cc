#include "domain/field_checks.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/error_details.h"
#include "common/proto_time.h"

namespace ycr::domain {

bool Blank(const std::string& value) {
  return absl::StripAsciiWhitespace(value).empty();
}

absl::Status OptionalText(const std::string& value, absl::string_view field) {
  if (value.size() > kMaxTextBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": at most ", kMaxTextBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status RequiredText(const std::string& value, absl::string_view field) {
  if (Blank(value)) {
    return FieldError(field, "is required", reason::kFieldRequired);
  }
  return OptionalText(value, field);
}

absl::Status ValidId(const std::string& value, absl::string_view field) {
  if (value.empty()) {
    return FieldError(field, "is required", reason::kFieldRequired);
  }
  if (value.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": at most ", kMaxIdBytes, " bytes"));
  }
  for (char c : value) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != ':' && c != '-') {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": only letters, digits and . _ : - are allowed"));
    }
  }
  return absl::OkStatus();
}

absl::Status RequiredTime(bool present, const google::protobuf::Timestamp& t,
                          absl::string_view field) {
  if (!present) {
    return FieldError(field, "is required", reason::kFieldRequired);
  }
  // RFC 3339 range: years 1 to 9999.
  if (t.seconds() < -62135596800 || t.seconds() > 253402300799 ||
      t.nanos() < 0 || t.nanos() > 999999999) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": out of range"));
  }
  return absl::OkStatus();
}

absl::Time TimeOr(bool present, const google::protobuf::Timestamp& t,
                  absl::Time otherwise) {
  return present ? FromProtoTime(t) : otherwise;
}

absl::Status NotFound(absl::string_view what) {
  return absl::NotFoundError(absl::StrCat("no such ", what));
}

absl::Status ActsFor(const std::string& caller_organisation,
                     const std::string& organisation, absl::string_view who,
                     absl::string_view action) {
  if (caller_organisation == organisation) return absl::OkStatus();
  // The organisation that may is not named: it may be the school that holds
  // a child's record, which another organisation is not told.
  return absl::PermissionDeniedError(absl::StrCat("only ", who, " may ", action,
                                                  "; the caller acts for ",
                                                  caller_organisation));
}

}  // namespace ycr::domain
