#pragma once

// The log's signed checkpoints (README "Proving the audit trail"): a
// Checkpointer signs a C2SP tlog-checkpoint of the log's tree whenever the
// log has grown, at least once a second while it grows, and keeps the latest
// in memory; Audit.Checkpoint, the proofs and the tlog HTTP listener
// (tlog_http.h) serve it and nothing larger. Also the signer key's files.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/signed_note.h"
#include "common/tlog.h"
#include "storage/event_log.h"

namespace ycr::services {

// The signer key a server makes in its data directory when it is given none.
inline constexpr char kDataDirSignerKeyFile[] = "tlog-signer.key";

struct SignedTreeHead {
  int64_t size = 0;
  tlog::Hash root{};
  // The signed note, as served at /checkpoint.
  std::string note;
};

class Checkpointer {
 public:
  // `log` must outlive it. The checkpoints' origin is the signer's name.
  // `last`: the last checkpoint this key signed of this log (served until
  // the next; tlog_identity.h). `on_signed` (may be null) keeps each new
  // checkpoint before it is served; its error fails the tick.
  using OnSigned = std::function<absl::Status(const SignedTreeHead&)>;
  Checkpointer(storage::EventLog* log, note::Signer signer,
               std::optional<SignedTreeHead> last = std::nullopt,
               OnSigned on_signed = nullptr);
  // Stops the thread (Stop).
  ~Checkpointer();

  // Signs a checkpoint of the log's head when there is none yet or the head
  // is past the latest; returns the latest. Errors from reading the tree.
  // Thread-safe.
  absl::StatusOr<SignedTreeHead> Tick();
  // A checkpoint of at least `min_size` records: the latest, or a new one
  // (Tick) when the latest is smaller. OUT_OF_RANGE naming min_tree_size
  // when the log holds fewer, once it holds everything acknowledged before
  // the call (EventLog::AwaitCurrent: a cluster node that has not applied
  // `min_size` yet waits up to kAwaitCurrentFor, and answers its error
  // when it cannot tell). Thread-safe.
  static constexpr absl::Duration kAwaitCurrentFor = absl::Seconds(10);
  absl::StatusOr<SignedTreeHead> AtLeast(uint64_t min_size);
  // The latest checkpoint; nullopt before the first Tick succeeded.
  std::optional<SignedTreeHead> Latest() const;

  // Ticks every `interval` on a thread of its own until Stop. A failed tick
  // is retried at the next one (`on_error`, may be null, hears of it).
  void Start(absl::Duration interval,
             std::function<void(const absl::Status&)> on_error = nullptr);
  // Idempotent.
  void Stop();

  const note::Signer& signer() const { return signer_; }

 private:
  storage::EventLog* const log_;
  const note::Signer signer_;
  const OnSigned on_signed_;
  // Serialises signing, so checkpoints only grow.
  absl::Mutex sign_mu_;
  mutable absl::Mutex mu_;
  std::optional<SignedTreeHead> latest_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// The signer key at `path` (the PRIVATE+KEY form keygen writes).
// INVALID_ARGUMENT naming `flag` when it cannot be read or parsed.
absl::StatusOr<note::Signer> LoadSignerKey(const std::string& flag,
                                           const std::string& path);

// A new key named `name` written to `path` (mode 0600). ALREADY_EXISTS when
// `path` exists: a signer key is never overwritten. INVALID_ARGUMENT
// naming `name` when it is not a key name signed-note allows.
absl::StatusOr<note::Signer> WriteNewSignerKey(const std::string& path,
                                               const std::string& name);

// The server's signer key: from `key_file` when given, else
// `<data_dir>/tlog-signer.key`, created on first start (*created says so).
// Its name must be `origin` (INVALID_ARGUMENT naming --tlog_origin
// otherwise): a checkpoint's key is named by its origin.
absl::StatusOr<note::Signer> ServerSignerKey(const std::string& key_file,
                                             const std::string& data_dir,
                                             const std::string& origin,
                                             bool* created);

}  // namespace ycr::services
