#include "clients/client_security.h"

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"

ABSL_FLAG(std::string, tls_ca, "",
          "PEM file of the CA that signed the server's certificate. Default: "
          "$YCR_TLS_CA.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM file of this client's certificate; its subject (O, OU, CN) is "
          "the caller's organisation, role and user. Default: $YCR_TLS_CERT.");
ABSL_FLAG(std::string, tls_key, "",
          "PEM file of the client certificate's private key. Default: "
          "$YCR_TLS_KEY.");
ABSL_FLAG(bool, insecure, false,
          "Plain text, for a development server started with --insecure: "
          "the identity is sent as metadata instead of a certificate. "
          "Default: true when $YCR_INSECURE is 1.");

namespace ycr::services {
namespace {

std::string FlagOrEnv(const std::string& flag, const char* env) {
  if (!flag.empty()) return flag;
  const char* value = std::getenv(env);
  return value != nullptr ? value : "";
}

absl::StatusOr<std::string> Pem(const char* flag, const char* env,
                                const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, " (or $", env,
        ") is required: the server speaks mutual TLS (deploy/dev-ca.sh "
        "makes development certificates); --insecure only reaches a "
        "development server started with --insecure"));
  }
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", text.status().message()));
  }
  return text;
}

}  // namespace

absl::StatusOr<ClientSecurity> ClientSecurityFromFlags() {
  ClientSecurity security;
  const char* insecure_env = std::getenv("YCR_INSECURE");
  security.insecure =
      absl::GetFlag(FLAGS_insecure) ||
      (insecure_env != nullptr && std::string(insecure_env) == "1");
  if (security.insecure) return security;
  const struct {
    const char* flag;
    const char* env;
    std::string path;
    std::string* pem;
  } kFiles[] = {
      {"tls_ca", "YCR_TLS_CA", absl::GetFlag(FLAGS_tls_ca), &security.ca},
      {"tls_cert", "YCR_TLS_CERT", absl::GetFlag(FLAGS_tls_cert),
       &security.certificate},
      {"tls_key", "YCR_TLS_KEY", absl::GetFlag(FLAGS_tls_key),
       &security.private_key},
  };
  for (const auto& file : kFiles) {
    absl::StatusOr<std::string> pem =
        Pem(file.flag, file.env, FlagOrEnv(file.path, file.env));
    if (!pem.ok()) return pem.status();
    *file.pem = *std::move(pem);
  }
  return security;
}

absl::StatusOr<ClientSecurity> IdentityFromDirectory(
    const ClientSecurity& base, const std::string& directory,
    const std::string& organisation, const std::string& user) {
  ClientSecurity security = base;
  const std::string stem =
      absl::StrCat(directory, "/", organisation, "/", user);
  absl::StatusOr<std::string> certificate = ReadFile(stem + ".crt");
  if (!certificate.ok()) {
    return absl::NotFoundError(absl::StrCat("no certificate for ", organisation,
                                            "/", user, ": ",
                                            certificate.status().message()));
  }
  absl::StatusOr<std::string> key = ReadFile(stem + ".key");
  if (!key.ok()) {
    return absl::NotFoundError(absl::StrCat(
        "no key for ", organisation, "/", user, ": ", key.status().message()));
  }
  security.certificate = *std::move(certificate);
  security.private_key = *std::move(key);
  return security;
}

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& target,
                                           const ClientSecurity& security) {
  // Answers as big as the server sends (a subject access pack can pass
  // gRPC's default 4 MiB).
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(256 << 20);
  if (security.insecure) {
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                     arguments);
  }
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = security.ca;
  options.pem_cert_chain = security.certificate;
  options.pem_private_key = security.private_key;
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(options),
                                   arguments);
}

}  // namespace ycr::services
