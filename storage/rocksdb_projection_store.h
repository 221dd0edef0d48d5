#pragma once

// ProjectionStore over the event log's RocksDB instance. Created by
// RocksDbEventLog::NewProjectionStore(); see projection_store.h for the
// contract.
//
// Commits are written without syncing the WAL: a projection is derived from
// the log, and a state and its checkpoint are in one write, so after a crash
// a projection is at most behind (never torn) and catches up from its
// checkpoint. The log's own synced writes flush them too. A build batch's
// commit is written as SST files (state and checkpoint), ingested in one
// atomic ingestion: durable, and neither memtable nor WAL; its spills are
// sorted runs beside the store, merged into the generation at its next
// commit (rocksdb_projection_build.h).

#include "storage/projection_store.h"
#include "storage/rocksdb_internal.h"

namespace ycr::storage {

class RocksDbProjectionStore : public ProjectionStore {
 public:
  // The first store of a database in this process removes the build files
  // a process that died left beside it.
  explicit RocksDbProjectionStore(internal::OpenDb db);

  absl::StatusOr<std::optional<uint32_t>> ActiveGeneration(
      absl::string_view projection) override;
  absl::StatusOr<std::optional<ProjectionCheckpoint>> ReadCheckpoint(
      absl::string_view projection, uint32_t generation) override;
  std::unique_ptr<ProjectionBatch> NewBatch(absl::string_view projection,
                                            uint32_t generation) override;
  std::unique_ptr<ProjectionBatch> NewBuildBatch(absl::string_view projection,
                                                 uint32_t generation,
                                                 size_t cache_bytes) override;
  absl::Status Commit(ProjectionBatch& batch,
                      const ProjectionCheckpoint& checkpoint) override;
  absl::StatusOr<bool> Spill(ProjectionBatch& batch) override;
  absl::Status CompactGeneration(absl::string_view projection,
                                 uint32_t generation) override;
  absl::Status Activate(absl::string_view projection,
                        uint32_t generation) override;
  absl::Status DropGeneration(absl::string_view projection,
                              uint32_t generation) override;
  absl::Status DropOtherGenerations(absl::string_view projection,
                                    uint32_t keep) override;
  absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view projection, uint32_t generation,
      absl::string_view key) override;
  absl::Status Scan(
      absl::string_view projection, uint32_t generation, absl::string_view from,
      absl::string_view to,
      absl::FunctionRef<bool(absl::string_view key, absl::string_view value)>
          visit) override;

 private:
  const internal::OpenDb db_;
};

}  // namespace ycr::storage
