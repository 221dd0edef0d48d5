#include "services/security/caller_identity.h"

#include <grpcpp/security/auth_context.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/security/access_policy.h"

namespace ycr::services {
namespace {

// Each part of an identity: 1..128 printable ASCII characters.
absl::Status CheckPart(absl::string_view value, absl::string_view what) {
  bool printable = !value.empty() && value.size() <= 128;
  for (char c : value) printable = printable && absl::ascii_isprint(c);
  if (!printable) {
    return absl::UnauthenticatedError(
        absl::StrCat(what, ": must be 1..128 printable ASCII characters"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> One(const grpc::ServerContextBase& context,
                                const char* key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(key);
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "no caller identity: send metadata ", kOrganisationMetadata, ", ",
        kUserMetadata, " and ", kRoleMetadata, " (", key, " is missing)"));
  }
  std::string value(it->second.data(), it->second.size());
  if (absl::Status s = CheckPart(value, key); !s.ok()) return s;
  return value;
}

// One subject field of a certificate, as UTF-8.
absl::StatusOr<std::string> SubjectField(X509_NAME* name, int nid,
                                         absl::string_view label) {
  const int at = X509_NAME_get_index_by_NID(name, nid, -1);
  if (at < 0) {
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate: its subject has no ", label));
  }
  if (X509_NAME_get_index_by_NID(name, nid, at) >= 0) {
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate: its subject has more than one ",
                     label, "; exactly one is needed"));
  }
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(
      &utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at)));
  if (length < 0) {
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate: its ", label, " cannot be read"));
  }
  std::string value(reinterpret_cast<char*>(utf8), length);
  OPENSSL_free(utf8);
  if (absl::Status s =
          CheckPart(value, absl::StrCat("client certificate ", label));
      !s.ok()) {
    return s;
  }
  return value;
}

}  // namespace

absl::StatusOr<v1::Actor> IdentityFromCertificate(absl::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return absl::ResourceExhaustedError("out of memory");
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) {
    return absl::UnauthenticatedError("client certificate: not readable PEM");
  }
  X509_NAME* name = X509_get_subject_name(cert);
  absl::StatusOr<std::string> organisation =
      SubjectField(name, NID_organizationName, "organisation (O)");
  absl::StatusOr<std::string> role =
      SubjectField(name, NID_organizationalUnitName, "role (OU)");
  absl::StatusOr<std::string> user =
      SubjectField(name, NID_commonName, "user (CN)");
  X509_free(cert);
  for (const auto* part : {&organisation, &role, &user}) {
    if (!part->ok()) return part->status();
  }
  v1::Actor actor;
  actor.set_organisation(*std::move(organisation));
  actor.set_user(*std::move(user));
  actor.set_role(*std::move(role));
  return actor;
}

// Certificates seen, by their PEM text: a connection's certificate arrives
// with every call on it, and parsing it costs more than the call.
class CallerInterceptorFactory::Certificates {
 public:
  absl::StatusOr<v1::Actor> Resolve(absl::string_view pem) {
    {
      absl::MutexLock lock(&mu_);
      auto it = seen_.find(pem);
      if (it != seen_.end()) return it->second;
    }
    absl::StatusOr<v1::Actor> identity = IdentityFromCertificate(pem);
    absl::MutexLock lock(&mu_);
    // Bounded: forgetting everything now and then costs a parse per caller.
    if (seen_.size() >= kMaxRemembered) seen_.clear();
    seen_.emplace(std::string(pem), identity);
    return identity;
  }

 private:
  static constexpr size_t kMaxRemembered = 4096;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::StatusOr<v1::Actor>> seen_
      ABSL_GUARDED_BY(mu_);
};

namespace {

class CallerInterceptor : public grpc::experimental::Interceptor {
 public:
  CallerInterceptor(grpc::experimental::ServerRpcInfo* info,
                    IdentitySource source,
                    CallerInterceptorFactory::Certificates* certificates)
      : info_(info), source_(source), certificates_(certificates) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      auto* metadata = methods->GetRecvInitialMetadata();
      if (metadata != nullptr) Rewrite(metadata);
    }
    methods->Proceed();
  }

 private:
  using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;

  // The strings put into `metadata` are literals, the server's method
  // registration, or members of this interceptor, which lives as long as
  // the call.
  void Put(Metadata* metadata, const char* key, const std::string& value) {
    metadata->emplace(grpc::string_ref(key, std::strlen(key)),
                      grpc::string_ref(value.data(), value.size()));
  }

  void Rewrite(Metadata* metadata) {
    metadata->erase(kMethodMetadata);
    // A literal-lifetime string: the server's method registration.
    metadata->emplace(
        grpc::string_ref(kMethodMetadata, std::strlen(kMethodMetadata)),
        grpc::string_ref(info_->method(), std::strlen(info_->method())));
    metadata->erase(kIdentitySourceMetadata);
    metadata->erase(kIdentityErrorMetadata);
    if (source_ == IdentitySource::kMetadata) {
      source_name_ = "metadata";
      Put(metadata, kIdentitySourceMetadata, source_name_);
      return;
    }
    source_name_ = "certificate";
    Put(metadata, kIdentitySourceMetadata, source_name_);
    // Never the client's word for it.
    metadata->erase(kOrganisationMetadata);
    metadata->erase(kUserMetadata);
    metadata->erase(kRoleMetadata);
    std::shared_ptr<const grpc::AuthContext> auth =
        info_->server_context()->auth_context();
    std::vector<grpc::string_ref> pem;
    if (auth != nullptr && auth->IsPeerAuthenticated()) {
      pem = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    }
    if (pem.empty()) {
      error_ = "no verified client certificate";
      Put(metadata, kIdentityErrorMetadata, error_);
      return;
    }
    absl::StatusOr<v1::Actor> identity = certificates_->Resolve(
        absl::string_view(pem.front().data(), pem.front().size()));
    if (!identity.ok()) {
      error_ = std::string(identity.status().message());
      Put(metadata, kIdentityErrorMetadata, error_);
      return;
    }
    actor_ = *std::move(identity);
    Put(metadata, kOrganisationMetadata, actor_.organisation());
    Put(metadata, kUserMetadata, actor_.user());
    Put(metadata, kRoleMetadata, actor_.role());
  }

  grpc::experimental::ServerRpcInfo* const info_;
  const IdentitySource source_;
  CallerInterceptorFactory::Certificates* const certificates_;
  std::string source_name_;
  std::string error_;
  v1::Actor actor_;
};

}  // namespace

CallerInterceptorFactory::CallerInterceptorFactory(IdentitySource source)
    : source_(source), certificates_(std::make_unique<Certificates>()) {}

CallerInterceptorFactory::~CallerInterceptorFactory() = default;

grpc::experimental::Interceptor*
CallerInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new CallerInterceptor(info, source_, certificates_.get());
}

absl::StatusOr<v1::Actor> ResolveCaller(
    const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  if (metadata.find(kIdentitySourceMetadata) == metadata.end()) {
    return absl::PermissionDeniedError(
        "the caller's identity is unknown (server built without its "
        "caller interceptor)");
  }
  if (auto error = metadata.find(kIdentityErrorMetadata);
      error != metadata.end()) {
    return absl::UnauthenticatedError(
        std::string(error->second.data(), error->second.size()));
  }
  v1::Actor actor;
  absl::StatusOr<std::string> organisation =
      One(context, kOrganisationMetadata);
  if (!organisation.ok()) return organisation.status();
  absl::StatusOr<std::string> user = One(context, kUserMetadata);
  if (!user.ok()) return user.status();
  absl::StatusOr<std::string> role = One(context, kRoleMetadata);
  if (!role.ok()) return role.status();
  actor.set_organisation(*std::move(organisation));
  actor.set_user(*std::move(user));
  actor.set_role(*std::move(role));
  // The policy table's gate (access_policy.h): the method comes from the
  // server's interceptor, never from the client.
  auto method = metadata.find(kMethodMetadata);
  if (method == metadata.end()) {
    return absl::PermissionDeniedError(
        "the called method is unknown (server built without its "
        "interceptor)");
  }
  if (absl::Status allowed = Authorise(
          actor,
          absl::string_view(method->second.data(), method->second.size()));
      !allowed.ok()) {
    return allowed;
  }
  return actor;
}

}  // namespace ycr::services
