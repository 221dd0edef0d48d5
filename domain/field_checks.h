#pragma once

// Small field checks every rule file shares. Each names the field it
// refuses, so a caller's INVALID_ARGUMENT says what to fix.

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace ycr::domain {

// Longest id (subject, referral, agreement, ...) in bytes.
inline constexpr size_t kMaxIdBytes = 128;
// Longest free-text field in bytes.
inline constexpr size_t kMaxTextBytes = 16 * 1024;

bool Blank(const std::string& value);

// "<field>: is required" when blank; "<field>: at most N bytes" when longer
// than kMaxTextBytes.
absl::Status RequiredText(const std::string& value, absl::string_view field);
// As RequiredText, but an empty value is fine.
absl::Status OptionalText(const std::string& value, absl::string_view field);

// An id: 1..kMaxIdBytes of letters, digits and . _ : - (no spaces).
absl::Status ValidId(const std::string& value, absl::string_view field);

// A timestamp the caller must give, in range.
absl::Status RequiredTime(bool present, const google::protobuf::Timestamp& t,
                          absl::string_view field);

// The time the caller gave, or `otherwise` when the field is unset.
absl::Time TimeOr(bool present, const google::protobuf::Timestamp& t,
                  absl::Time otherwise);

// "no such <what>" as NOT_FOUND (the command layer, which knows the id,
// names it).
absl::Status NotFound(absl::string_view what);

// PERMISSION_DENIED unless the caller acts for `organisation`.
absl::Status ActsFor(const std::string& caller_organisation,
                     const std::string& organisation, absl::string_view who,
                     absl::string_view action);

}  // namespace ycr::domain
