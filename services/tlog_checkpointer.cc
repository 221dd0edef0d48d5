#include "services/tlog_checkpointer.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace ycr::services {

Checkpointer::Checkpointer(storage::EventLog* log, note::Signer signer,
                           std::optional<SignedTreeHead> last,
                           OnSigned on_signed)
    : log_(log),
      signer_(std::move(signer)),
      on_signed_(std::move(on_signed)),
      latest_(std::move(last)) {}

Checkpointer::~Checkpointer() { Stop(); }

absl::StatusOr<SignedTreeHead> Checkpointer::Tick() {
  absl::MutexLock sign(&sign_mu_);
  const int64_t size = static_cast<int64_t>(log_->GetHead().position);
  if (std::optional<SignedTreeHead> latest = Latest();
      latest.has_value() && latest->size >= size) {
    return *latest;
  }
  SignedTreeHead head;
  head.size = size;
  ASSIGN_OR_RETURN(head.root,
                   tlog::TreeHash(size, storage::TreeHashReader(*log_)));
  note::Checkpoint checkpoint;
  checkpoint.origin = signer_.name;
  checkpoint.size = size;
  checkpoint.root = head.root;
  ASSIGN_OR_RETURN(head.note,
                   note::Sign(note::FormatCheckpoint(checkpoint), signer_));
  if (on_signed_ != nullptr) RETURN_IF_ERROR(on_signed_(head));
  absl::MutexLock lock(&mu_);
  latest_ = head;
  return head;
}

absl::StatusOr<SignedTreeHead> Checkpointer::AtLeast(uint64_t min_size) {
  std::optional<SignedTreeHead> latest = Latest();
  if (latest.has_value() && static_cast<uint64_t>(latest->size) >= min_size) {
    return *latest;
  }
  uint64_t head = log_->GetHead().position;
  if (min_size > head) {
    // A cluster node may not have applied yet what another node returned:
    // it waits (bounded) for the cluster's head before saying "beyond".
    ASSIGN_OR_RETURN(const uint64_t current,
                     log_->AwaitCurrent({absl::Now() + kAwaitCurrentFor}));
    head = std::max(current, log_->GetHead().position);
  }
  if (min_size > head) {
    return absl::OutOfRangeError(absl::StrCat("min_tree_size: ", min_size,
                                              " is beyond the log's head (",
                                              head, " records)"));
  }
  return Tick();
}

std::optional<SignedTreeHead> Checkpointer::Latest() const {
  absl::MutexLock lock(&mu_);
  return latest_;
}

void Checkpointer::Start(absl::Duration interval,
                         std::function<void(const absl::Status&)> on_error) {
  thread_ = std::thread([this, interval, on_error = std::move(on_error)] {
    while (true) {
      absl::Status ticked = Tick().status();
      if (!ticked.ok() && on_error != nullptr) on_error(ticked);
      absl::MutexLock lock(&mu_);
      // Wakes early only to stop.
      mu_.AwaitWithTimeout(absl::Condition(&stop_), interval);
      if (stop_) return;
    }
  });
}

void Checkpointer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<note::Signer> LoadSignerKey(const std::string& flag,
                                           const std::string& path) {
  // Whoever can read the key can sign checkpoints of another history.
  absl::StatusOr<std::string> text =
      ReadPrivateFile(flag, path, "a signer key");
  if (!text.ok()) return text.status();
  std::string key = *std::move(text);
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) {
    key.pop_back();
  }
  absl::StatusOr<note::Signer> signer = note::ParseSignerKey(key);
  if (!signer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", path, " is not a signer key (",
                     signer.status().message(), ")"));
  }
  return signer;
}

absl::StatusOr<note::Signer> WriteNewSignerKey(const std::string& path,
                                               const std::string& name) {
  if (absl::Status s = note::ValidKeyName(name); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("name: ", s.message()));
  }
  ASSIGN_OR_RETURN(note::Signer signer, note::NewSigner(name));
  // Created, never renamed over: of two keygens racing, one wins.
  absl::Status written =
      CreatePrivateFile(path, note::SignerKey(signer) + "\n");
  if (written.code() == absl::StatusCode::kAlreadyExists) {
    return absl::AlreadyExistsError(
        absl::StrCat(path, " exists; a signer key is never overwritten"));
  }
  RETURN_IF_ERROR(written);
  return signer;
}

absl::StatusOr<note::Signer> ServerSignerKey(const std::string& key_file,
                                             const std::string& data_dir,
                                             const std::string& origin,
                                             bool* created) {
  *created = false;
  if (absl::Status s = note::ValidKeyName(origin); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tlog_origin: ", s.message()));
  }
  const std::string path =
      !key_file.empty()
          ? key_file
          : (std::filesystem::path(data_dir) / kDataDirSignerKeyFile).string();
  std::error_code ec;
  absl::StatusOr<note::Signer> signer;
  if (key_file.empty() && !std::filesystem::exists(path, ec)) {
    std::filesystem::create_directories(data_dir, ec);
    signer = WriteNewSignerKey(path, origin);
    *created = signer.ok();
  } else {
    signer = LoadSignerKey("--tlog_key", path);
  }
  if (!signer.ok()) return signer.status();
  if (signer->name != origin) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tlog_origin: the signer key ", path, " is named '", signer->name,
        "', not '", origin,
        "'; a checkpoint's key is named by its origin (give the matching "
        "--tlog_origin, or a key made with ycr-server keygen --name=",
        origin, ")"));
  }
  return signer;
}

}  // namespace ycr::services
