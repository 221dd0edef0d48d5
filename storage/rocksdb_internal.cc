#include "storage/rocksdb_internal.h"

#include "absl/strings/str_cat.h"

namespace ycr::storage {

namespace internal {

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string message = absl::StrCat(what, ": ", s.ToString());
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(message);
  // Callers handle NotFound where absence is normal; anywhere else a record
  // that must exist is missing.
  if (s.IsCorruption() || s.IsNotFound()) return absl::DataLossError(message);
  return absl::UnavailableError(message);
}

}  // namespace internal

}  // namespace ycr::storage
