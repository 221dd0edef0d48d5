#include "services/security/revocation.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/files.h"

namespace ycr::services {
namespace {

// One line of an X509 name, e.g. "O=ycr development, CN=ycr development CA".
std::string NameText(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string text(data, size > 0 ? static_cast<size_t>(size) : 0);
  BIO_free(bio);
  return text;
}

std::string SerialText(const ASN1_INTEGER* serial) {
  BIGNUM* number = ASN1_INTEGER_to_BN(serial, nullptr);
  if (number == nullptr) return "?";
  char* hex = BN_bn2hex(number);
  std::string text = hex != nullptr ? hex : "?";
  OPENSSL_free(hex);
  BN_free(number);
  return text;
}

}  // namespace

struct RevocationList::Lists {
  ~Lists() {
    for (X509_CRL* crl : crls) X509_CRL_free(crl);
  }
  std::vector<X509_CRL*> crls;
};

bool RevocationList::Stamp::operator==(const Stamp& other) const {
  return device == other.device && inode == other.inode && size == other.size &&
         modified_ns == other.modified_ns && changed_ns == other.changed_ns;
}

RevocationList::RevocationList(std::string path, Logger* logger)
    : path_(std::move(path)), logger_(logger) {}

RevocationList::~RevocationList() {
  for (X509* ca : authorities_) X509_free(ca);
}

absl::StatusOr<std::unique_ptr<RevocationList>> RevocationList::Load(
    std::string path, const std::string& client_ca, Logger* logger) {
  std::unique_ptr<RevocationList> list(
      new RevocationList(std::move(path), logger));
  BIO* bio =
      BIO_new_mem_buf(client_ca.data(), static_cast<int>(client_ca.size()));
  while (X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    list->authorities_.push_back(ca);
  }
  BIO_free(bio);
  ERR_clear_error();
  if (list->authorities_.empty()) {
    return absl::InvalidArgumentError("client CA: no PEM certificate in it");
  }
  absl::MutexLock lock(&list->mu_);
  struct stat st;
  if (stat(list->path_.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("CRL file ", list->path_, ": cannot open it"));
  }
  list->stamp_ = {st.st_dev, st.st_ino, st.st_size,
                  st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
                  st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec};
  absl::StatusOr<std::shared_ptr<const Lists>> lists = list->Read();
  if (!lists.ok()) return lists.status();
  list->lists_ = *std::move(lists);
  list->loads_ = 1;
  return list;
}

absl::StatusOr<std::shared_ptr<const RevocationList::Lists>>
RevocationList::Read() const {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("CRL file ", path_, ": ", why));
  };
  absl::StatusOr<std::string> text = ReadFile(path_);
  if (!text.ok()) return bad(text.status().message());
  auto lists = std::make_shared<Lists>();
  BIO* bio = BIO_new_mem_buf(text->data(), static_cast<int>(text->size()));
  while (X509_CRL* crl =
             PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr)) {
    lists->crls.push_back(crl);
  }
  BIO_free(bio);
  ERR_clear_error();
  if (lists->crls.empty()) {
    // One DER-encoded list.
    const unsigned char* der =
        reinterpret_cast<const unsigned char*>(text->data());
    X509_CRL* crl =
        d2i_X509_CRL(nullptr, &der, static_cast<long>(text->size()));
    ERR_clear_error();
    if (crl == nullptr) return bad("no certificate revocation list in it");
    lists->crls.push_back(crl);
  }
  for (X509_CRL* crl : lists->crls) {
    bool signed_by_ca = false;
    for (X509* ca : authorities_) {
      if (X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) ==
              0 &&
          X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1) {
        signed_by_ca = true;
        break;
      }
    }
    ERR_clear_error();
    if (!signed_by_ca) {
      return bad(absl::StrCat("the list of issuer '",
                              NameText(X509_CRL_get_issuer(crl)),
                              "' is not signed by the client CA"));
    }
  }
  return std::shared_ptr<const Lists>(std::move(lists));
}

void RevocationList::Refresh() {
  struct stat st;
  Stamp now;
  if (stat(path_.c_str(), &st) == 0) {
    now = {st.st_dev, st.st_ino, st.st_size,
           st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
           st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec};
  }
  {
    absl::MutexLock lock(&mu_);
    if (now == stamp_) return;
    stamp_ = now;
  }
  // Read without the lock: handshakes meanwhile use the lists in force.
  absl::StatusOr<std::shared_ptr<const Lists>> lists = Read();
  if (!lists.ok()) {
    if (logger_ != nullptr) {
      logger_->Log(LogLevel::kError, "server.crl_reload_failed",
                   {{"path", path_},
                    {"error", std::string(lists.status().message())},
                    {"note", "the last good revocation lists stay in force"}});
    }
    return;
  }
  int loads = 0;
  {
    absl::MutexLock lock(&mu_);
    // A later change may have been read meanwhile: the latest stamp wins.
    if (!(stamp_ == now)) return;
    lists_ = *std::move(lists);
    loads = ++loads_;
  }
  if (logger_ != nullptr) {
    logger_->Log(LogLevel::kInfo, "server.crl_reloaded",
                 {{"path", path_}, {"loads", absl::StrCat(loads)}});
  }
}

absl::Status RevocationList::Check(absl::string_view certificate_pem) {
  Refresh();
  std::shared_ptr<const Lists> lists;
  {
    absl::MutexLock lock(&mu_);
    lists = lists_;
  }
  BIO* bio = BIO_new_mem_buf(certificate_pem.data(),
                             static_cast<int>(certificate_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ERR_clear_error();
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        "the caller's certificate cannot be parsed");
  }
  absl::Status status = absl::OkStatus();
  for (X509_CRL* crl : lists->crls) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) !=
        0) {
      continue;
    }
    X509_REVOKED* revoked = nullptr;
    if (X509_CRL_get0_by_cert(crl, &revoked, cert) == 1) {
      const std::string serial = SerialText(X509_get0_serialNumber(cert));
      const std::string subject = NameText(X509_get_subject_name(cert));
      status = absl::UnauthenticatedError(absl::StrCat(
          "certificate serial ", serial, " (", subject, ") is revoked"));
      if (logger_ != nullptr) {
        logger_->Log(LogLevel::kWarning, "server.certificate_revoked",
                     {{"serial", serial}, {"subject", subject}});
      }
      break;
    }
  }
  X509_free(cert);
  return status;
}

int RevocationList::loads() const {
  absl::MutexLock lock(&mu_);
  return loads_;
}

}  // namespace ycr::services
