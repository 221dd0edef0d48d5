#pragma once

// Which log a checkpoint speaks for (README "Proving the audit trail"): its
// origin and the key that signs it, kept with the store so that they follow
// the log through restarts, moves and restores from backup. The store keeps
// (in its projection store, entry "tlog", which backups hold) the origin
// chosen at first start, and the last signed checkpoint with the verifier
// key that signed it. A server started with another key or origin than
// signed that checkpoint would look, to every verifier, like a forked log:
// it is refused unless --tlog_key_rotated says the change is meant.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/signed_note.h"
#include "services/tlog_checkpointer.h"
#include "storage/event_log.h"
#include "storage/projection_store.h"

namespace ycr::services {

struct TlogIdentityOptions {
  // --tlog_origin. Empty: the origin the store keeps; for a store without
  // one, the name of the signer key when a key file exists (stores made
  // before the origin was kept), else a new one of this store's own,
  // "localhost/ycr/<16 random hex digits>", kept from then on.
  std::string origin;
  // --tlog_key; empty: <data_dir>/tlog-signer.key, made on first start.
  std::string key_file;
  std::string data_dir;
  // --tlog_key_rotated: the key (or origin) differs from the one that
  // signed the store's last checkpoint on purpose.
  bool key_rotated = false;
};

struct TlogIdentity {
  note::Signer signer;
  // The key file was made now.
  bool made_key = false;
  // The store's last checkpoint, when the same key signed it (served at
  // once after a restart).
  std::optional<SignedTreeHead> last;
  // Under key_rotated with another key: the verifier key that signed the
  // store's last checkpoint (the server logs the change). Empty otherwise.
  std::string rotated_from;
};

// The signer key and origin for the store `projections` (and `log`)
// belong to. FAILED_PRECONDITION naming --tlog_key_rotated when the key or
// origin is not the one that signed the store's last checkpoint; DATA_LOSS
// when that checkpoint is not of this log's tree (the log lost records it
// covered); ServerSignerKey's errors.
absl::StatusOr<TlogIdentity> LoadTlogIdentity(
    const TlogIdentityOptions& options, storage::ProjectionStore& projections,
    storage::EventLog& log);

// Keeps `head`, signed by the key of `verifier_key`, as the store's last
// checkpoint (one durable write). For Checkpointer's on_signed.
absl::Status SaveLastCheckpoint(storage::ProjectionStore& projections,
                                const std::string& verifier_key,
                                const SignedTreeHead& head);

}  // namespace ycr::services
