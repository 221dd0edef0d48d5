#pragma once

// The RocksDB projection store's build batches (ProjectionStore::
// NewBuildBatch, Spill, and their Commit), apart from the store's other
// calls. Internal to storage.
//
// A build batch keeps the generation's state as far as it has seen it in a
// hash map over the store, its keys and values in a byte arena (ByteArena);
// keys put with PutNew (written once, never read back) are staged beside
// the map. A commit writes what changed, sorted, to an SST
// file and ingests it with the checkpoint's file in one atomic ingestion.
// A spill writes what changed to a run file of its own instead (a sorted
// SST beside the store, values marked put or deleted, with a Bloom filter
// in memory), which later reads through the batch consult before the
// store; the next commit merges every run and what is staged since into
// sorted, non-overlapping files of the generation, ingested with the
// checkpoint: a generation built from position 1 lands as one sorted run,
// with nothing for compaction to merge again.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "storage/projection_store.h"
#include "storage/rocksdb_internal.h"

namespace ycr::storage::internal {

std::unique_ptr<ProjectionBatch> NewRocksDbBuildBatch(const OpenDb& db,
                                                      std::string projection,
                                                      uint32_t generation,
                                                      size_t cache_bytes);

// Removes what the build directory holds, once per database path in this
// process (before any build of it here): files a process that died in a
// build left behind, which may hold state erased since.
void RemoveOrphanBuildFiles(const OpenDb& db);

// Null when `batch` is not a build batch.
ProjectionBatch* AsBuildBatch(ProjectionBatch& batch);

// Commits a build batch (see above) with `checkpoint_value`.
absl::Status CommitBuildBatch(const OpenDb& db, ProjectionBatch& build,
                              const std::string& checkpoint_value);

// Spills a build batch (see above).
absl::Status SpillBuildBatch(const OpenDb& db, ProjectionBatch& build);

}  // namespace ycr::storage::internal
