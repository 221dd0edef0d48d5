#pragma once

// Transport security of the server: mutual TLS by default, plain text only
// when asked for and only on a loopback address.

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/log.h"
#include "services/security/caller_identity.h"

namespace ycr::services {

struct ServerSecurity {
  // Mutual TLS: PEM texts of the server's certificate (chain), its private
  // key, and the CA certificate(s) that sign callers' certificates. Callers
  // without a certificate from that CA are refused in the handshake; the
  // identity of the others is their certificate's subject
  // (caller_identity.h). All three are required unless `insecure`.
  std::string certificate_chain;
  std::string private_key;
  std::string client_ca;
  // Plain text, and callers name themselves in metadata: for development
  // and tests on one machine only, so only on a loopback address.
  // Default: false.
  bool insecure = false;
  // With mutual TLS: a file of certificate revocation lists (PEM or DER)
  // signed by the client CA (revocation.h). A caller whose certificate is
  // listed is refused in the handshake; the file is re-read at the first
  // handshake after it changes. Default: "" (no revocation checks).
  std::string crl_path;
  // Where CRL reloads and revoked callers are logged. Not owned; may be
  // null. Server::Start sets it to the log's logger when unset.
  Logger* logger = nullptr;
};

// True for 127.0.0.0/8, ::1 and localhost ("host:port" or "[::1]:port").
bool IsLoopbackAddress(absl::string_view listen);

// OK when `address` is HOST:PORT with the port given (0..65535; 0 picks a
// free one): "127.0.0.1:7070", "[::1]:0", "localhost:9464".
// INVALID_ARGUMENT naming `what` (the flag or option, e.g.
// "--listen") otherwise: gRPC would take "127.0.0.1" as port 443, and an
// IPv6 address needs its brackets to tell its last group from a port.
absl::Status CheckListenAddress(absl::string_view what,
                                absl::string_view address);

// The credentials to listen on `listen` with, and where identities come
// from. INVALID_ARGUMENT, naming the part, when a PEM text is missing or
// unreadable, the key does not belong to the certificate, the CRL file is
// unusable (or given with `insecure`), or `insecure` is asked for on an
// address other than loopback.
struct ListeningSecurity {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  IdentitySource identities;
};
absl::StatusOr<ListeningSecurity> PrepareSecurity(
    absl::string_view listen, const ServerSecurity& security);

}  // namespace ycr::services
