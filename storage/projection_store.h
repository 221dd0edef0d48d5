#pragma once

// ProjectionStore: where read models keep their state and checkpoints, beside
// the log. A projection applies events in log order and commits the state
// changes of a run of events together with its checkpoint in ONE atomic
// write, so a crash can neither skip nor double-apply an event.
//
// State lives in generations: queries read the active generation while a
// rebuild fills the next one beside it; Activate() then swaps them and drops
// the old one. No storage-engine types appear here.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ycr::storage {

struct ProjectionCheckpoint {
  // Every event up to and including this position is applied (0: none).
  uint64_t position = 0;
  // The projection code that applied them.
  uint32_t code_version = 0;
};

// State changes staged for one commit. Reads see the staged changes over the
// committed state, so a run of events can read what earlier ones wrote.
// Not thread-safe: one runner owns it.
class ProjectionBatch {
 public:
  virtual ~ProjectionBatch() = default;
  virtual absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view key) = 0;
  virtual void Put(absl::string_view key, absl::string_view value) = 0;
  // As Put, for a key the batch has not seen and will not see again before
  // it is committed (no Get, Put or Delete of it: a key naming a position
  // of the log, written once by the event at that position). A build batch
  // keeps it out of its map of state read and written. Default: Put.
  virtual void PutNew(absl::string_view key, absl::string_view value) {
    Put(key, value);
  }
  virtual void Delete(absl::string_view key) = 0;
  // Bytes staged so far (to bound a commit).
  virtual size_t staged_bytes() const = 0;
};

class ProjectionStore {
 public:
  virtual ~ProjectionStore() = default;

  // The generation queries read, or nullopt if the projection never ran.
  virtual absl::StatusOr<std::optional<uint32_t>> ActiveGeneration(
      absl::string_view projection) = 0;

  // The checkpoint of one generation, or nullopt if it has none yet.
  virtual absl::StatusOr<std::optional<ProjectionCheckpoint>> ReadCheckpoint(
      absl::string_view projection, uint32_t generation) = 0;

  // An empty batch for one generation of `projection`.
  virtual std::unique_ptr<ProjectionBatch> NewBatch(
      absl::string_view projection, uint32_t generation) = 0;

  // A batch for a long run of events (catching up, or building a
  // generation from position 1): it keeps the state it reads or writes in
  // memory, up to about `cache_bytes`, across commits, so a run reads the
  // store only for keys it has not seen. Commit writes only what changed
  // since the last commit, in bulk, together with the checkpoint in one
  // atomic, durable write, like any commit.
  virtual std::unique_ptr<ProjectionBatch> NewBuildBatch(
      absl::string_view projection, uint32_t generation,
      size_t cache_bytes) = 0;

  // Writes the batch's changes and `checkpoint` in one atomic, durable
  // write. On error nothing of it is written. A NewBatch batch is spent
  // either way; a build batch stays usable after a successful commit (and
  // must be dropped after a failed one).
  virtual absl::Status Commit(ProjectionBatch& batch,
                              const ProjectionCheckpoint& checkpoint) = 0;

  // Sets a build batch's changes since its last commit or spill aside,
  // instead of committing them: reads through the batch still see them, but
  // nothing of them is in the generation's state, nor durable, until the
  // batch's next Commit, which writes them with everything staged since as
  // sorted, non-overlapping files in one atomic write with the checkpoint.
  // Made for building a generation from position 1, where a crash costs only
  // a restart of the build, and committing in pieces would leave
  // overlapping files for compaction to merge again and again (each piece
  // spans every key). True when spilled; false, doing nothing, where spills
  // are not supported (commit instead). The batch must be dropped after an
  // error.
  virtual absl::StatusOr<bool> Spill(ProjectionBatch& /*batch*/) {
    return false;
  }

  // Compacts the state of one generation (after building it in bulk: its
  // commits leave overlapping files that every read would otherwise visit
  // until background compaction catches up). Only an optimisation.
  virtual absl::Status CompactGeneration(absl::string_view projection,
                                         uint32_t generation) = 0;

  // Makes `generation` the active one (durably). Other generations stay
  // until dropped, so readers of the old one can finish.
  virtual absl::Status Activate(absl::string_view projection,
                                uint32_t generation) = 0;

  // Deletes the state and checkpoint of one generation.
  virtual absl::Status DropGeneration(absl::string_view projection,
                                      uint32_t generation) = 0;

  // Deletes the state and checkpoint of every generation of `projection`
  // but `keep`.
  virtual absl::Status DropOtherGenerations(absl::string_view projection,
                                            uint32_t keep) = 0;

  // Committed state of one generation.
  virtual absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view projection, uint32_t generation,
      absl::string_view key) = 0;

  // Calls `visit(key, value)` for the committed keys of one generation in
  // [from, to) in key order (`to` empty: to the end), from one consistent
  // view, until it returns false.
  virtual absl::Status Scan(
      absl::string_view projection, uint32_t generation, absl::string_view from,
      absl::string_view to,
      absl::FunctionRef<bool(absl::string_view key, absl::string_view value)>
          visit) = 0;
};

}  // namespace ycr::storage
