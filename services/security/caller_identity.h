#pragma once

// Who is calling. Resolved once per call; every rule and every event's actor
// reads it from ResolveCaller, never from a request body.
//
// Where the identity comes from is the server's choice, made once at start
// (ServerSecurity in server_security.h) and carried into every call by
// CallerInterceptorFactory:
//  - kCertificate (mutual TLS, the default): the client certificate's
//    subject, verified against the configured CA by the TLS handshake:
//      O  = organisation, OU = role, CN = user
//    Whatever identity metadata the client sends is thrown away.
//  - kMetadata (only on a plain-text loopback server started with
//    --insecure, for development and tests): the caller names itself in the
//    metadata keys of common/wire_names.h.

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/wire_names.h"
#include "ycr/v1/event.pb.h"

namespace ycr::services {

// The keys a caller names itself in (kMetadata): common/wire_names.h.
using ::ycr::kOrganisationMetadata;
using ::ycr::kRoleMetadata;
using ::ycr::kUserMetadata;

// Set by the server's interceptor only (a client's value is replaced): where
// this call's identity came from, and why it could not be resolved.
inline constexpr char kIdentitySourceMetadata[] = "x-ycr-identity-source";
inline constexpr char kIdentityErrorMetadata[] = "x-ycr-identity-error";

enum class IdentitySource { kCertificate, kMetadata };

// UNAUTHENTICATED when the identity is missing or malformed (each part must
// be 1..128 printable ASCII characters); PERMISSION_DENIED when the policy
// table (access_policy.h) does not let the caller's role call this method,
// or when the server was built without CallerInterceptorFactory.
absl::StatusOr<v1::Actor> ResolveCaller(const grpc::ServerContextBase& context);

// The identity in a PEM certificate's subject (O, OU, CN; exactly one of
// each). UNAUTHENTICATED naming the missing or malformed field otherwise.
// Does not verify the certificate: the TLS handshake has.
absl::StatusOr<v1::Actor> IdentityFromCertificate(absl::string_view pem);

// Writes each call's identity, from `source` (see above), and the called
// method's name (for the policy table, access_policy.h) into its metadata,
// replacing whatever the client sent under those keys.
// Certificates are parsed once and remembered (at most a few thousand).
// Thread-safe.
class CallerInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallerInterceptorFactory(IdentitySource source);
  ~CallerInterceptorFactory() override;

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

  class Certificates;

 private:
  const IdentitySource source_;
  std::unique_ptr<Certificates> certificates_;
};

}  // namespace ycr::services
