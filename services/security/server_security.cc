#include "services/security/server_security.h"

#include <arpa/inet.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/security/revocation.h"

namespace ycr::services {
namespace {

// Every certificate in a PEM text; at least one is needed.
absl::Status CheckCertificates(absl::string_view pem, absl::string_view what,
                               X509** first = nullptr) {
  if (pem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": missing"));
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (count++ == 0 && first != nullptr) {
      *first = cert;
    } else {
      X509_free(cert);
    }
  }
  BIO_free(bio);
  if (count == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": no PEM certificate in it"));
  }
  return absl::OkStatus();
}

absl::Status CheckKeyPair(const ServerSecurity& security) {
  X509* cert = nullptr;
  if (absl::Status s = CheckCertificates(security.certificate_chain,
                                         "server certificate", &cert);
      !s.ok()) {
    return s;
  }
  if (security.private_key.empty()) {
    X509_free(cert);
    return absl::InvalidArgumentError("server private key: missing");
  }
  BIO* bio = BIO_new_mem_buf(security.private_key.data(),
                             static_cast<int>(security.private_key.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  absl::Status status = absl::OkStatus();
  if (key == nullptr) {
    status = absl::InvalidArgumentError(
        "server private key: not a readable, unencrypted PEM key");
  } else if (X509_check_private_key(cert, key) != 1) {
    status = absl::InvalidArgumentError(
        "server private key: does not belong to the server certificate");
  }
  EVP_PKEY_free(key);
  X509_free(cert);
  return status;
}

// Refuses, after the chain is verified, a caller whose certificate is
// revoked. Called by gRPC once per handshake; answers synchronously.
class RevocationVerifier
    : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit RevocationVerifier(std::shared_ptr<RevocationList> crl)
      : crl_(std::move(crl)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/,
              grpc::Status* sync_status) override {
    const grpc::string_ref pem = request->peer_cert();
    const absl::Status status =
        crl_->Check(absl::string_view(pem.data(), pem.size()));
    *sync_status = status.ok() ? grpc::Status::OK
                               : grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                              std::string(status.message()));
    return true;
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {
  }

 private:
  const std::shared_ptr<RevocationList> crl_;
};

}  // namespace

bool IsLoopbackAddress(absl::string_view listen) {
  absl::string_view host = listen;
  if (absl::ConsumePrefix(&host, "[")) {
    host = host.substr(0, host.find(']'));
  } else if (size_t colon = host.rfind(':'); colon != absl::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host == "localhost") return true;
  const std::string text(host);
  in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

absl::Status CheckListenAddress(absl::string_view what,
                                absl::string_view address) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": '", address, "' ", why,
                     "; expected HOST:PORT (port 0 picks a free port), an "
                     "IPv6 host in brackets, e.g. [::1]:7070"));
  };
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return bad("has no port");
  absl::string_view host = address.substr(0, colon);
  const absl::string_view port = address.substr(colon + 1);
  if (port.empty()) return bad("has no port");
  int number = 0;
  if (port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port, &number) || number > 65535) {
    return bad("has no port (or one out of 0..65535)");
  }
  if (absl::ConsumePrefix(&host, "[")) {
    if (!absl::ConsumeSuffix(&host, "]") || host.empty() ||
        absl::StrContains(host, ']')) {
      return bad("has a malformed bracketed host");
    }
  } else if (absl::StrContains(host, ':') || absl::StrContains(host, ']')) {
    return bad("has an IPv6 host without brackets, or no port");
  }
  return absl::OkStatus();
}

absl::StatusOr<ListeningSecurity> PrepareSecurity(
    absl::string_view listen, const ServerSecurity& security) {
  if (security.insecure) {
    if (!security.crl_path.empty()) {
      return absl::InvalidArgumentError(
          "a CRL file is for mutual TLS, not for insecure (plain text) "
          "serving");
    }
    if (!IsLoopbackAddress(listen)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "insecure (plain text) serving is allowed only on a loopback "
          "address, not on ",
          listen, "; use mutual TLS"));
    }
    return ListeningSecurity{grpc::InsecureServerCredentials(),
                             IdentitySource::kMetadata};
  }
  if (absl::Status s = CheckKeyPair(security); !s.ok()) return s;
  if (absl::Status s = CheckCertificates(security.client_ca, "client CA");
      !s.ok()) {
    return s;
  }
  // The revocation list is read before any gRPC TLS object exists: options
  // never turned into credentials are not freed by gRPC (a refused start
  // would leak them).
  std::shared_ptr<RevocationList> revocations;
  if (!security.crl_path.empty()) {
    absl::StatusOr<std::unique_ptr<RevocationList>> crl = RevocationList::Load(
        security.crl_path, security.client_ca, security.logger);
    if (!crl.ok()) return crl.status();
    revocations = *std::move(crl);
  }
  grpc::experimental::TlsServerCredentialsOptions options(
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
          security.client_ca,
          std::vector<grpc::experimental::IdentityKeyCertPair>{
              {security.private_key, security.certificate_chain}}));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (revocations != nullptr) {
    options.set_certificate_verifier(
        grpc::experimental::ExternalCertificateVerifier::Create<
            RevocationVerifier>(std::move(revocations)));
  }
  return ListeningSecurity{grpc::experimental::TlsServerCredentials(options),
                           IdentitySource::kCertificate};
}

}  // namespace ycr::services
