#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ycr {

// The whole of the file at `path`. NOT_FOUND when it cannot be opened,
// DATA_LOSS when reading it fails part way; both name the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// The whole of a secret's file (a signer key, a key-encryption key) given
// by `flag`: INVALID_ARGUMENT naming the flag when it cannot be read, or
// when it is open to its group or others (mode & 077), with the chmod that
// fixes it; `what` names the secret in that message.
absl::StatusOr<std::string> ReadPrivateFile(absl::string_view flag,
                                            const std::string& path,
                                            absl::string_view what);

// Writes `contents` to `path` readable and writable by its owner only (mode
// 0600, whatever the umask), and atomically: into a temporary file created
// 0600 in the same directory (mkostemp), synced, then renamed over `path`,
// and the directory synced. A reader sees the old file or the whole new one,
// never a part, and the data is never readable by others, not even while
// it is written. An existing `path` that is not a regular file (a
// directory, a device, a symbolic link) is left alone: FAILED_PRECONDITION.
// Other failures are the errno's status; every error names the path, and
// no temporary file is left behind.
absl::Status WritePrivateFile(const std::string& path,
                              absl::string_view contents);

// As WritePrivateFile, but never replaces anything: the synced temporary
// file is hard-linked to `path` (link(2) fails when `path` exists, so of
// two writers racing for one path exactly one wins) and then removed.
// ALREADY_EXISTS naming the path when it exists, whatever it is.
// `before_link` (tests only) runs between the write and the link.
absl::Status CreatePrivateFile(const std::string& path,
                               absl::string_view contents,
                               const std::function<void()>& before_link = {});

}  // namespace ycr
