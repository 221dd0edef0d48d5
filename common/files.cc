#include "common/files.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace ycr {
namespace {

absl::Status Failed(const std::string& what, const std::string& path,
                    int error) {
  return absl::ErrnoToStatus(error, absl::StrCat(what, " ", path));
}

// Syncs the directory `dir`, so that a rename in it survives a crash.
absl::Status SyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Failed("cannot open directory", dir, errno);
  const int rc = fsync(fd);
  const int error = errno;
  close(fd);
  return rc == 0 ? absl::OkStatus()
                 : Failed("cannot sync directory", dir, error);
}

// WritePrivateFile (replace) and CreatePrivateFile (!replace).
absl::Status WritePrivate(const std::string& path, absl::string_view contents,
                          bool replace,
                          const std::function<void()>& before_link) {
  if (path.empty() || path.back() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "' does not name a file"));
  }
  struct stat existing;
  if (lstat(path.c_str(), &existing) == 0) {
    if (!replace) {
      return absl::AlreadyExistsError(absl::StrCat(path, " exists"));
    }
    if (!S_ISREG(existing.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " exists and is not a regular file"));
    }
  } else if (errno != ENOENT) {
    return Failed("cannot check", path, errno);
  }
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const std::string name =
      slash == std::string::npos ? path : path.substr(slash + 1);
  // A hidden name next to the target: the rename stays in one filesystem.
  std::string temp = absl::StrCat(dir, "/.", name, ".XXXXXX");
  // mkostemp creates the file 0600 (less any umask bits), O_EXCL.
  const int fd = mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return Failed("cannot create a file next to", path, errno);
  auto fail = [&](const std::string& what, int error) {
    close(fd);
    unlink(temp.c_str());
    return Failed(what, path, error);
  };
  // Exactly 0600, whatever the umask took away.
  if (fchmod(fd, S_IRUSR | S_IWUSR) != 0) return fail("cannot chmod", errno);
  while (!contents.empty()) {
    const ssize_t n = write(fd, contents.data(), contents.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write", errno);
    }
    contents.remove_prefix(static_cast<size_t>(n));
  }
  if (fsync(fd) != 0) return fail("cannot sync", errno);
  if (close(fd) != 0) {
    const int error = errno;
    unlink(temp.c_str());
    return Failed("cannot write", path, error);
  }
  if (replace) {
    if (rename(temp.c_str(), path.c_str()) != 0) {
      const int error = errno;
      unlink(temp.c_str());
      return Failed("cannot rename into", path, error);
    }
    return SyncDirectory(dir);
  }
  if (before_link != nullptr) before_link();
  // link(2) never replaces: whoever links first wins, whatever was checked.
  const int linked = link(temp.c_str(), path.c_str());
  const int error = errno;
  unlink(temp.c_str());
  if (linked != 0) {
    if (error == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat(path, " exists"));
    }
    return Failed("cannot link into", path, error);
  }
  return SyncDirectory(dir);
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat("cannot read ", path));
  }
  return text.str();
}

absl::Status WritePrivateFile(const std::string& path,
                              absl::string_view contents) {
  return WritePrivate(path, contents, /*replace=*/true, nullptr);
}

absl::Status CreatePrivateFile(const std::string& path,
                               absl::string_view contents,
                               const std::function<void()>& before_link) {
  return WritePrivate(path, contents, /*replace=*/false, before_link);
}

absl::StatusOr<std::string> ReadPrivateFile(absl::string_view flag,
                                            const std::string& path,
                                            absl::string_view what) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", text.status().message()));
  }
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": ", path, " is open to its group or others (mode 0",
        (st.st_mode >> 6) & 7, (st.st_mode >> 3) & 7, st.st_mode & 7, "); ",
        what, " must be private: chmod 600 ", path));
  }
  return text;
}

}  // namespace ycr
