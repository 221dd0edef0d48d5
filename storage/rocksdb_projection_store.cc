#include "storage/rocksdb_projection_store.h"

#include <rocksdb/utilities/write_batch_with_index.h>

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/key_format.h"
#include "storage/rocksdb_projection_build.h"

namespace ycr::storage {
namespace {

using internal::FromRocks;
using internal::Slice;
using internal::View;

absl::Status CheckName(absl::string_view projection) {
  if (!IsProjectionName(projection)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "projection name '", projection, "': 1 to 32 characters of [a-z0-9_]"));
  }
  return absl::OkStatus();
}

absl::Status Closed() { return absl::UnavailableError("the store is closed"); }

// The first key after every generation of `projection` in `prefix_byte`'s
// key space (names never contain 0x00 or 0x01).
std::string EndOfProjection(std::string start_of_generation_zero) {
  // kPrefix name 0x00 gen[4]: drop the generation, bump the separator.
  std::string end =
      start_of_generation_zero.substr(0, start_of_generation_zero.size() - 4);
  end.back() = '\x01';
  return end;
}

// The first key after every key of `generation` (key_of is
// ProjectionStatePrefix or ProjectionCheckpointKey); the last generation
// number has no successor to borrow.
std::string EndOfGeneration(std::string (*key_of)(absl::string_view, uint32_t),
                            absl::string_view projection, uint32_t generation) {
  if (generation == std::numeric_limits<uint32_t>::max()) {
    return EndOfProjection(key_of(projection, 0));
  }
  return key_of(projection, generation + 1);
}

class RocksDbProjectionBatch : public ProjectionBatch {
 public:
  RocksDbProjectionBatch(internal::OpenDb db, std::string projection,
                         uint32_t generation)
      : db_(db),
        projection_(std::move(projection)),
        generation_(generation),
        prefix_(ProjectionStatePrefix(projection_, generation)),
        batch_(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true) {}

  absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view key) override {
    absl::ReaderMutexLock lock(db_.mu);
    if (*db_.closed) return Closed();
    std::string value;
    rocksdb::Status s = batch_.GetFromBatchAndDB(
        db_.db, rocksdb::ReadOptions(), db_.projections,
        Slice(absl::StrCat(prefix_, key)), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "cannot read projection state");
    return std::optional<std::string>(std::move(value));
  }

  void Put(absl::string_view key, absl::string_view value) override {
    batch_.Put(db_.projections, Slice(absl::StrCat(prefix_, key)), Slice(value))
        .PermitUncheckedError();
    staged_bytes_ += prefix_.size() + key.size() + value.size();
  }

  void Delete(absl::string_view key) override {
    batch_.Delete(db_.projections, Slice(absl::StrCat(prefix_, key)))
        .PermitUncheckedError();
    staged_bytes_ += prefix_.size() + key.size();
  }

  size_t staged_bytes() const override { return staged_bytes_; }

  const std::string& projection() const { return projection_; }
  uint32_t generation() const { return generation_; }
  rocksdb::WriteBatchWithIndex& batch() { return batch_; }

 private:
  const internal::OpenDb db_;
  const std::string projection_;
  const uint32_t generation_;
  const std::string prefix_;
  rocksdb::WriteBatchWithIndex batch_;
  size_t staged_bytes_ = 0;
};

std::string EncodeCheckpoint(const ProjectionCheckpoint& checkpoint) {
  std::string value;
  PutBigEndian64(&value, checkpoint.position);
  PutBigEndian32(&value, checkpoint.code_version);
  return value;
}

}  // namespace

RocksDbProjectionStore::RocksDbProjectionStore(internal::OpenDb db) : db_(db) {
  internal::RemoveOrphanBuildFiles(db_);
}

absl::StatusOr<std::optional<uint32_t>>
RocksDbProjectionStore::ActiveGeneration(absl::string_view projection) {
  if (absl::Status s = CheckName(projection); !s.ok()) return s;
  absl::ReaderMutexLock lock(db_.mu);
  if (*db_.closed) return Closed();
  std::string value;
  rocksdb::Status s =
      db_.db->Get(rocksdb::ReadOptions(), db_.checkpoints,
                  Slice(ActiveGenerationKey(projection)), &value);
  if (s.IsNotFound()) return std::optional<uint32_t>();
  if (!s.ok()) return FromRocks(s, "cannot read a projection's generation");
  if (value.size() != 4) {
    return absl::DataLossError(absl::StrCat("active generation of projection ",
                                            projection, " is malformed"));
  }
  return std::optional<uint32_t>(GetBigEndian32(value.data()));
}

absl::StatusOr<std::optional<ProjectionCheckpoint>>
RocksDbProjectionStore::ReadCheckpoint(absl::string_view projection,
                                       uint32_t generation) {
  if (absl::Status s = CheckName(projection); !s.ok()) return s;
  absl::ReaderMutexLock lock(db_.mu);
  if (*db_.closed) return Closed();
  std::string value;
  rocksdb::Status s = db_.db->Get(
      rocksdb::ReadOptions(), db_.checkpoints,
      Slice(ProjectionCheckpointKey(projection, generation)), &value);
  if (s.IsNotFound()) return std::optional<ProjectionCheckpoint>();
  if (!s.ok()) return FromRocks(s, "cannot read a projection checkpoint");
  if (value.size() != 12) {
    return absl::DataLossError(
        absl::StrCat("checkpoint of projection ", projection, " is malformed"));
  }
  return std::optional<ProjectionCheckpoint>(ProjectionCheckpoint{
      GetBigEndian64(value.data()), GetBigEndian32(value.data() + 8)});
}

std::unique_ptr<ProjectionBatch> RocksDbProjectionStore::NewBatch(
    absl::string_view projection, uint32_t generation) {
  return std::make_unique<RocksDbProjectionBatch>(db_, std::string(projection),
                                                  generation);
}

std::unique_ptr<ProjectionBatch> RocksDbProjectionStore::NewBuildBatch(
    absl::string_view projection, uint32_t generation, size_t cache_bytes) {
  return internal::NewRocksDbBuildBatch(db_, std::string(projection),
                                        generation, cache_bytes);
}

absl::StatusOr<bool> RocksDbProjectionStore::Spill(ProjectionBatch& batch) {
  if (internal::AsBuildBatch(batch) == nullptr) {
    return absl::InvalidArgumentError("only a build batch can be spilled");
  }
  RETURN_IF_ERROR(internal::SpillBuildBatch(db_, batch));
  return true;
}

absl::Status RocksDbProjectionStore::Commit(
    ProjectionBatch& batch, const ProjectionCheckpoint& checkpoint) {
  const std::string value = EncodeCheckpoint(checkpoint);
  if (internal::AsBuildBatch(batch) != nullptr) {
    return internal::CommitBuildBatch(db_, batch, value);
  }
  auto& b = static_cast<RocksDbProjectionBatch&>(batch);
  if (absl::Status s = CheckName(b.projection()); !s.ok()) return s;
  b.batch()
      .Put(db_.checkpoints,
           Slice(ProjectionCheckpointKey(b.projection(), b.generation())),
           Slice(value))
      .PermitUncheckedError();
  absl::ReaderMutexLock lock(db_.mu);
  if (*db_.closed) return Closed();
  rocksdb::WriteOptions options;
  options.sync = false;
  absl::Status s = FromRocks(db_.db->Write(options, b.batch().GetWriteBatch()),
                             "cannot write projection state");
  b.batch().Clear();
  return s;
}

absl::Status RocksDbProjectionStore::CompactGeneration(
    absl::string_view projection, uint32_t generation) {
  if (absl::Status s = CheckName(projection); !s.ok()) return s;
  const std::string begin = ProjectionStatePrefix(projection, generation);
  const std::string end =
      EndOfGeneration(&ProjectionStatePrefix, projection, generation);
  const rocksdb::Slice begin_slice = Slice(begin);
  const rocksdb::Slice end_slice = Slice(end);
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction =
      rocksdb::BottommostLevelCompaction::kForceOptimized;
  absl::ReaderMutexLock lock(db_.mu);
  if (*db_.closed) return Closed();
  return FromRocks(
      db_.db->CompactRange(options, db_.projections, &begin_slice, &end_slice),
      "cannot compact projection state");
}

absl::Status RocksDbProjectionStore::Activate(absl::string_view projection,
                                              uint32_t generation) {
  if (absl::Status s = CheckName(projection); !s.ok()) return s;
  std::string value;
  PutBigEndian32(&value, generation);
  absl::ReaderMutexLock lock(db_.mu);
  if (*db_.closed) return Closed();
  rocksdb::WriteOptions options;
  options.sync = true;
  return FromRocks(
      db_.db->Put(options, db_.checkpoints,
                  Slice(ActiveGenerationKey(projection)), Slice(value)),
      "cannot switch a projection's generation");
}

absl::Status RocksDbProjectionStore::DropGeneration(
    absl::string_view projection, uint32_t generation) {
  if (absl::Status s = CheckName(projection); !s.ok()) return s;
  rocksdb::WriteBatch batch;
  for (auto [cf, key_of] :
       {std::pair{db_.projections, &ProjectionStatePrefix},
        std::pair{db_.checkpoints, &ProjectionCheckpointKey}}) {
    batch.DeleteRange(cf, Slice(key_of(projection, generation)),
                      Slice(EndOfGeneration(key_of, projection, generation)));
  }
  absl::ReaderMutexLock lock(db_.mu);
  if (*db_.closed) return Closed();
  return FromRocks(db_.db->Write(rocksdb::WriteOptions(), &batch),
                   "cannot drop a projection generation");
}

absl::Status RocksDbProjectionStore::DropOtherGenerations(
    absl::string_view projection, uint32_t keep) {
  if (absl::Status s = CheckName(projection); !s.ok()) return s;
  rocksdb::WriteBatch batch;
  for (auto [cf, key_of] :
       {std::pair{db_.projections, &ProjectionStatePrefix},
        std::pair{db_.checkpoints, &ProjectionCheckpointKey}}) {
    const std::string first = key_of(projection, 0);
    const std::string mine = key_of(projection, keep);
    const std::string next = EndOfGeneration(key_of, projection, keep);
    const std::string end = EndOfProjection(first);
    if (keep > 0) batch.DeleteRange(cf, Slice(first), Slice(mine));
    if (next < end) batch.DeleteRange(cf, Slice(next), Slice(end));
  }
  absl::ReaderMutexLock lock(db_.mu);
  if (*db_.closed) return Closed();
  return FromRocks(db_.db->Write(rocksdb::WriteOptions(), &batch),
                   "cannot drop a projection's old generations");
}

absl::StatusOr<std::optional<std::string>> RocksDbProjectionStore::Get(
    absl::string_view projection, uint32_t generation, absl::string_view key) {
  if (absl::Status s = CheckName(projection); !s.ok()) return s;
  absl::ReaderMutexLock lock(db_.mu);
  if (*db_.closed) return Closed();
  std::string value;
  rocksdb::Status s = db_.db->Get(
      rocksdb::ReadOptions(), db_.projections,
      Slice(absl::StrCat(ProjectionStatePrefix(projection, generation), key)),
      &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "cannot read projection state");
  return std::optional<std::string>(std::move(value));
}

absl::Status RocksDbProjectionStore::Scan(
    absl::string_view projection, uint32_t generation, absl::string_view from,
    absl::string_view to,
    absl::FunctionRef<bool(absl::string_view key, absl::string_view value)>
        visit) {
  if (absl::Status s = CheckName(projection); !s.ok()) return s;
  const std::string prefix = ProjectionStatePrefix(projection, generation);
  const std::string lower = absl::StrCat(prefix, from);
  const std::string upper = to.empty() ? EndOfGeneration(&ProjectionStatePrefix,
                                                         projection, generation)
                                       : absl::StrCat(prefix, to);
  const rocksdb::Slice lower_slice = Slice(lower);
  const rocksdb::Slice upper_slice = Slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_slice;
  options.iterate_upper_bound = &upper_slice;
  absl::ReaderMutexLock lock(db_.mu);
  if (*db_.closed) return Closed();
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db->NewIterator(options, db_.projections));
  for (it->Seek(lower_slice); it->Valid(); it->Next()) {
    absl::string_view key = View(it->key());
    key.remove_prefix(prefix.size());
    if (!visit(key, View(it->value()))) break;
  }
  return FromRocks(it->status(), "cannot scan projection state");
}

}  // namespace ycr::storage
