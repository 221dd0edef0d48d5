#pragma once

// How ycr's own clients (the ycr CLI, ycr-scheduler) reach the server:
// mutual TLS with a client certificate by default, or plain text with
// --insecure against a development server started with --insecure.
//
// The flags, each with an environment variable as its default:
//   --tls_ca     $YCR_TLS_CA     CA certificate that signed the server's
//   --tls_cert   $YCR_TLS_CERT   this client's certificate (its subject is
//                                the caller's identity: O, OU, CN)
//   --tls_key    $YCR_TLS_KEY    its private key
//   --insecure   $YCR_INSECURE=1 plain text; identity sent as metadata

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace ycr::services {

struct ClientSecurity {
  bool insecure = false;
  // PEM texts (TLS only).
  std::string ca;
  std::string certificate;
  std::string private_key;
};

// From the flags above. INVALID_ARGUMENT naming the flag when a file is
// missing or unreadable, or when neither certificates nor --insecure are
// given.
absl::StatusOr<ClientSecurity> ClientSecurityFromFlags();

// The same CA, with the certificate and key of one identity from a
// directory laid out by deploy/dev-ca.sh: DIR/<organisation>/<user>.crt and
// .key. NOT_FOUND naming the file when there is none.
absl::StatusOr<ClientSecurity> IdentityFromDirectory(
    const ClientSecurity& base, const std::string& directory,
    const std::string& organisation, const std::string& user);

// A channel to `target` (host:port) with `security`.
std::shared_ptr<grpc::Channel> OpenChannel(const std::string& target,
                                           const ClientSecurity& security);

}  // namespace ycr::services
