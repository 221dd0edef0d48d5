#include "services/tlog_identity.h"

#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "common/tlog.h"

namespace ycr::services {
namespace {

// The projection store's entry for the log's identity (no projection has
// this name), one generation, two keys.
constexpr char kEntry[] = "tlog";
constexpr uint32_t kGeneration = 1;
// The verifier key that signed the last checkpoint, and that checkpoint.
constexpr char kVerifierKey[] = "vkey";
constexpr char kCheckpoint[] = "checkpoint";

std::string DataDirKey(const TlogIdentityOptions& options) {
  return (std::filesystem::path(options.data_dir) / kDataDirSignerKeyFile)
      .string();
}

// The origin when none is given: the stored key's, else the key file's
// name, else a new one of this store's own.
absl::StatusOr<std::string> ChooseOrigin(
    const TlogIdentityOptions& options,
    const std::optional<note::Verifier>& stored) {
  if (!options.origin.empty()) return options.origin;
  if (stored.has_value()) return stored->name;
  const std::string path =
      !options.key_file.empty() ? options.key_file : DataDirKey(options);
  std::error_code ec;
  if (!options.key_file.empty() || std::filesystem::exists(path, ec)) {
    ASSIGN_OR_RETURN(note::Signer existing, LoadSignerKey("--tlog_key", path));
    return existing.name;
  }
  return absl::StrCat("localhost/ycr/", absl::BytesToHexString(RandomBytes(8)));
}

}  // namespace

absl::StatusOr<TlogIdentity> LoadTlogIdentity(
    const TlogIdentityOptions& options, storage::ProjectionStore& projections,
    storage::EventLog& log) {
  ASSIGN_OR_RETURN(std::optional<std::string> stored_vkey,
                   projections.Get(kEntry, kGeneration, kVerifierKey));
  ASSIGN_OR_RETURN(std::optional<std::string> stored_note,
                   projections.Get(kEntry, kGeneration, kCheckpoint));
  std::optional<note::Verifier> stored;
  if (stored_vkey.has_value()) {
    absl::StatusOr<note::Verifier> key = note::ParseVerifierKey(*stored_vkey);
    if (!key.ok()) {
      return absl::DataLossError(
          absl::StrCat("the store's tlog verifier key does not parse: ",
                       key.status().message()));
    }
    stored = *std::move(key);
  }
  ASSIGN_OR_RETURN(const std::string origin, ChooseOrigin(options, stored));
  // A store restored without its key file: making a new key would fork the
  // log in verifiers' eyes.
  std::error_code ec;
  if (stored.has_value() && options.key_file.empty() && !options.key_rotated &&
      !std::filesystem::exists(DataDirKey(options), ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--tlog_key: this log's checkpoints are signed by ", *stored_vkey,
        " and its signer key is not in the data directory (a restored "
        "backup holds no key file); give it with --tlog_key, or, to sign "
        "with a new key from now on, start with --tlog_key_rotated and give "
        "auditors the new verifier key"));
  }
  TlogIdentity identity;
  ASSIGN_OR_RETURN(identity.signer,
                   ServerSignerKey(options.key_file, options.data_dir, origin,
                                   &identity.made_key));
  if (!stored.has_value() || !stored_note.has_value()) return identity;

  const std::string now = note::VerifierKey(identity.signer);
  if (now != *stored_vkey) {
    if (!options.key_rotated) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--tlog_key: this log's last checkpoint was signed by ", *stored_vkey,
          ", not by this key (", now,
          "); to verifiers another key or origin is another, forked log. "
          "Give the key that signed it (--tlog_key, --tlog_origin), or, if "
          "the log's key was changed on purpose, start with "
          "--tlog_key_rotated and give auditors the new verifier key"));
    }
    identity.rotated_from = *stored_vkey;
  }
  // The stored checkpoint must be of this log's own tree.
  absl::StatusOr<std::string> text = note::Open(*stored_note, *stored);
  absl::StatusOr<note::Checkpoint> checkpoint =
      text.ok() ? note::ParseCheckpoint(*text)
                : absl::StatusOr<note::Checkpoint>(text.status());
  if (!checkpoint.ok()) {
    return absl::DataLossError(
        absl::StrCat("the store's last signed checkpoint does not open: ",
                     checkpoint.status().message()));
  }
  const uint64_t head = log.GetHead().position;
  if (static_cast<uint64_t>(checkpoint->size) > head) {
    return absl::DataLossError(absl::StrCat(
        "the store's last signed checkpoint covers ", checkpoint->size,
        " records but the log holds ", head,
        ": records it signed are lost (restore a complete backup)"));
  }
  ASSIGN_OR_RETURN(
      tlog::Hash root,
      tlog::TreeHash(checkpoint->size, storage::TreeHashReader(log)));
  if (root != checkpoint->root) {
    return absl::DataLossError(absl::StrCat(
        "the store's last signed checkpoint (", checkpoint->size,
        " records) is not of this log's tree: root ",
        tlog::HashHex(checkpoint->root), ", the log's ", tlog::HashHex(root)));
  }
  if (identity.rotated_from.empty()) {
    identity.last = SignedTreeHead{checkpoint->size, root, *stored_note};
  }
  return identity;
}

absl::Status SaveLastCheckpoint(storage::ProjectionStore& projections,
                                const std::string& verifier_key,
                                const SignedTreeHead& head) {
  std::unique_ptr<storage::ProjectionBatch> batch =
      projections.NewBatch(kEntry, kGeneration);
  batch->Put(kVerifierKey, verifier_key);
  batch->Put(kCheckpoint, head.note);
  storage::ProjectionCheckpoint at;
  at.position = static_cast<uint64_t>(head.size);
  return projections.Commit(*batch, at);
}

}  // namespace ycr::services
