#pragma once

// Revocation of callers' certificates: a file of certificate revocation
// lists (CRLs, PEM or DER) issued by the client CA, consulted at every TLS
// handshake and re-read whenever the file changes, so that revoking a
// certificate needs no restart. A revoked certificate is refused in the
// handshake; connections already open stay open until they close.

#include <openssl/types.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"

namespace ycr::services {

class RevocationList {
 public:
  // Reads `path`. INVALID_ARGUMENT naming it when it cannot be read, holds
  // no CRL, or holds one that is not signed by a certificate of
  // `client_ca` (PEM). `logger` (may be null; must outlive this) hears of
  // reloads and refusals.
  static absl::StatusOr<std::unique_ptr<RevocationList>> Load(
      std::string path, const std::string& client_ca, Logger* logger);

  ~RevocationList();
  RevocationList(const RevocationList&) = delete;
  RevocationList& operator=(const RevocationList&) = delete;

  // OK unless `certificate_pem` (a caller's certificate, already verified
  // against the client CA) is revoked by a CRL of its issuer in the file as
  // it stands now: UNAUTHENTICATED naming its serial number then. The file
  // is re-read first if it changed since it was last read (its inode, size
  // or modification time); a file that cannot be used (unreadable, not a
  // CRL, not signed by the client CA: a half-written file, say) leaves the
  // last good lists in force, and the failure is logged once per change.
  // INVALID_ARGUMENT for a certificate that cannot be parsed. Thread-safe.
  absl::Status Check(absl::string_view certificate_pem);

  // How many times the file has been read successfully (1 after Load).
  int loads() const;

 private:
  struct Stamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    int64_t modified_ns = 0;
    int64_t changed_ns = 0;
    bool operator==(const Stamp& other) const;
  };
  struct Lists;

  RevocationList(std::string path, Logger* logger);
  // The lists in `path`, checked against the client CAs.
  absl::StatusOr<std::shared_ptr<const Lists>> Read() const;
  // Re-reads the file if its stamp changed.
  void Refresh() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string path_;
  Logger* const logger_;
  // The client CA certificates, owned.
  std::vector<X509*> authorities_;
  mutable absl::Mutex mu_;
  Stamp stamp_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Lists> lists_ ABSL_GUARDED_BY(mu_);
  int loads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ycr::services
