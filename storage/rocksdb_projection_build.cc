#include "storage/rocksdb_projection_build.h"

#include <rocksdb/sst_file_reader.h>
#include <rocksdb/sst_file_writer.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <queue>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/byte_arena.h"
#include "storage/key_format.h"

namespace ycr::storage::internal {
namespace {

absl::Status Closed() { return absl::UnavailableError("the store is closed"); }

// A run's values start with one of these.
constexpr char kPut = 'p';
constexpr char kDeleted = 'd';
// The marked value of an absent key.
constexpr char kAbsentMark[] = {kDeleted};
constexpr absl::string_view kAbsent(kAbsentMark, 1);

// The value a marked value holds (nullopt: absent).
std::optional<std::string> Unmark(absl::string_view marked) {
  if (marked[0] == kDeleted) return std::nullopt;
  return std::string(marked.substr(1));
}

// Merged state is written in files of about this size.
constexpr uint64_t kStateFileBytes = 256 << 20;

// A Bloom filter over a run's keys: about 1% false positives.
class Bloom {
 public:
  explicit Bloom(size_t keys)
      : bits_(std::max<size_t>(64, keys * 10)), words_((bits_ + 63) / 64) {}
  void Add(absl::string_view key) {
    const uint64_t h = absl::Hash<absl::string_view>()(key);
    const uint64_t d = (h >> 33) | 1;
    for (int k = 0; k < 7; ++k) {
      const uint64_t bit = (h + k * d) % bits_;
      words_[bit / 64] |= uint64_t{1} << (bit % 64);
    }
  }
  bool MayContain(absl::string_view key) const {
    const uint64_t h = absl::Hash<absl::string_view>()(key);
    const uint64_t d = (h >> 33) | 1;
    for (int k = 0; k < 7; ++k) {
      const uint64_t bit = (h + k * d) % bits_;
      if ((words_[bit / 64] & (uint64_t{1} << (bit % 64))) == 0) return false;
    }
    return true;
  }

 private:
  const uint64_t bits_;
  std::vector<uint64_t> words_;
};

// One spill: a sorted file of (key, marked value) beside the store.
struct Run {
  Run(std::string p, size_t keys) : path(std::move(p)), bloom(keys) {}
  ~Run() {
    lookup.reset();
    reader.reset();
    std::remove(path.c_str());
  }
  const std::string path;
  Bloom bloom;
  std::unique_ptr<rocksdb::SstFileReader> reader;
  std::unique_ptr<rocksdb::Iterator> lookup;
};

rocksdb::Options RunOptions() {
  rocksdb::Options options;
  options.compression = rocksdb::kNoCompression;
  return options;
}

std::atomic<uint64_t> next_batch{0};

class RocksDbBuildBatch : public ProjectionBatch {
 public:
  RocksDbBuildBatch(OpenDb db, std::string projection, uint32_t generation,
                    size_t cache_bytes)
      : db_(db),
        projection_(std::move(projection)),
        generation_(generation),
        prefix_(ProjectionStatePrefix(projection_, generation)),
        cache_bytes_(cache_bytes),
        id_(next_batch++) {}

  absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view key) override {
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      it->second.read = true;
      return Unmark(it->second.marked);
    }
    ASSIGN_OR_RETURN(std::optional<std::string> value, Lookup(key));
    Entry& e = entries_[arena_.Add(key)];
    e.marked = value.has_value() ? arena_.Add(kPut, *value) : kAbsent;
    e.read = true;
    cached_bytes_ += key.size() + (value.has_value() ? value->size() : 0);
    return value;
  }

  void Put(absl::string_view key, absl::string_view value) override {
    Set(key, arena_.Add(kPut, value));
  }

  void PutNew(absl::string_view key, absl::string_view value) override {
    // Not in the map: staged for the next run or commit only.
    fresh_.emplace_back(arena_.Add(key), arena_.Add(kPut, value));
    staged_bytes_ += prefix_.size() + key.size() + value.size();
  }

  void Delete(absl::string_view key) override { Set(key, kAbsent); }

  size_t staged_bytes() const override { return staged_bytes_; }

  const std::string& projection() const { return projection_; }
  uint32_t generation() const { return generation_; }
  bool has_changes() const { return staged_bytes_ > 0 || !runs_.empty(); }
  bool flushed() const { return flushed_; }
  void set_flushed() { flushed_ = true; }
  // "<projection>-<generation>-": every build file of the generation.
  std::string FilePrefix() const {
    return absl::StrCat(projection_, "-", generation_, "-");
  }
  std::string NextFile(const std::string& dir, absl::string_view kind) {
    return absl::StrCat(dir, "/", FilePrefix(), id_, "-", next_file_++, "-",
                        kind, ".sst");
  }

  // Writes the changes since the last commit or spill to a new run.
  absl::Status WriteRun(const std::string& path) {
    const std::vector<Change> changes = Dirty();
    auto run = std::make_unique<Run>(path, changes.size());
    // The run is read back (lookups, the merge): its pages stay cached.
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), RunOptions(),
                                  /*column_family=*/nullptr,
                                  /*invalidate_page_cache=*/false);
    RETURN_IF_ERROR(FromRocks(writer.Open(path), "cannot create a build run"));
    for (const auto& [k, marked] : changes) {
      // Written as held: the mark, then the value.
      RETURN_IF_ERROR(FromRocks(writer.Put(Slice(k), Slice(marked)),
                                "cannot write a build run"));
      run->bloom.Add(k);
    }
    RETURN_IF_ERROR(FromRocks(writer.Finish(), "cannot write a build run"));
    run->reader = std::make_unique<rocksdb::SstFileReader>(RunOptions());
    RETURN_IF_ERROR(
        FromRocks(run->reader->Open(path), "cannot open a build run"));
    run->lookup.reset(run->reader->NewIterator(rocksdb::ReadOptions()));
    runs_.push_back(std::move(run));
    return absl::OkStatus();
  }

  // Writes the generation's changes (every run's and those staged since,
  // the newest of each key) in key order to files named by `next_file`.
  absl::Status WriteState(const rocksdb::Options& options,
                          const std::function<std::string()>& next_file,
                          std::vector<std::string>* files) {
    std::vector<std::unique_ptr<rocksdb::Iterator>> its;
    rocksdb::ReadOptions read;
    read.readahead_size = 4 << 20;
    read.fill_cache = false;
    for (const auto& run : runs_) {
      its.emplace_back(run->reader->NewIterator(read));
      its.back()->SeekToFirst();
    }
    const std::vector<Change> staged = Dirty();
    size_t next_staged = 0;
    // (key, source): the smallest key first, the newest source (the staged
    // changes, then the last run) first among equal keys.
    const size_t staged_source = its.size();
    auto key_of = [&](size_t source) -> absl::string_view {
      return source == staged_source ? staged[next_staged].first
                                     : View(its[source]->key());
    };
    auto later = [&](size_t a, size_t b) {
      const int c = key_of(a).compare(key_of(b));
      return c != 0 ? c > 0 : a < b;
    };
    std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heap(
        later);
    for (size_t i = 0; i < its.size(); ++i) {
      if (its[i]->Valid()) heap.push(i);
    }
    if (!staged.empty()) heap.push(staged_source);
    std::unique_ptr<rocksdb::SstFileWriter> writer;
    std::string key = prefix_;
    std::string last;
    bool any = false;
    while (!heap.empty()) {
      const size_t source = heap.top();
      heap.pop();
      const absl::string_view k = key_of(source);
      if (!any || k != last) {
        any = true;
        last.assign(k.data(), k.size());
        const absl::string_view marked = source == staged_source
                                             ? staged[next_staged].second
                                             : View(its[source]->value());
        if (marked.empty()) return absl::DataLossError("a build run is bad");
        std::optional<absl::string_view> value;
        if (marked[0] == kPut) value = marked.substr(1);
        if (writer == nullptr) {
          // The generation serves queries from these files as soon as it
          // takes over: their pages stay cached (SstFileWriter would drop
          // them), so that the first queries after a rebuild do not all go
          // to the disk.
          writer = std::make_unique<rocksdb::SstFileWriter>(
              rocksdb::EnvOptions(), options, /*column_family=*/nullptr,
              /*invalidate_page_cache=*/false);
          files->push_back(next_file());
          RETURN_IF_ERROR(FromRocks(writer->Open(files->back()),
                                    "cannot create a projection build file"));
        }
        key.resize(prefix_.size());
        key.append(k.data(), k.size());
        RETURN_IF_ERROR(FromRocks(value.has_value()
                                      ? writer->Put(Slice(key), Slice(*value))
                                      : writer->Delete(Slice(key)),
                                  "cannot write a projection build file"));
        if (writer->FileSize() >= kStateFileBytes) {
          RETURN_IF_ERROR(FromRocks(writer->Finish(),
                                    "cannot write a projection build file"));
          writer = nullptr;
        }
      }
      if (source == staged_source) {
        if (++next_staged < staged.size()) heap.push(source);
      } else {
        its[source]->Next();
        if (its[source]->Valid()) {
          heap.push(source);
        } else {
          RETURN_IF_ERROR(
              FromRocks(its[source]->status(), "cannot read a build run"));
        }
      }
    }
    if (writer != nullptr) {
      RETURN_IF_ERROR(
          FromRocks(writer->Finish(), "cannot write a projection build file"));
    }
    return absl::OkStatus();
  }

  // After a successful commit (`committed`) or spill: what was written is
  // now the store's state, or a run's. Keeps what was read (the likely next
  // reads), up to the cache's size.
  void Written(bool committed) {
    if (committed) runs_.clear();
    staged_bytes_ = 0;
    fresh_.clear();
    if (cached_bytes_ > cache_bytes_) {
      entries_.clear();
      arena_.Clear();
      cached_bytes_ = 0;
      return;
    }
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.read) {
        it->second.dirty = false;
        ++it;
      } else {
        cached_bytes_ -= Size(it->first, it->second);
        entries_.erase(it++);
      }
    }
    // Most of the arena now holds what was dropped: move what is kept.
    if (arena_.bytes() > 2 * cached_bytes_ + ByteArena::kBlockBytes) Compact();
  }

 private:
  struct Entry {
    // The value marked, in arena_: kPut then the value, or kAbsent.
    absl::string_view marked = kAbsent;
    bool dirty = false;  // changed since the last commit
    bool read = false;   // read since it was cached
  };
  // A changed key and its marked value.
  using Change = std::pair<absl::string_view, absl::string_view>;

  static size_t Size(absl::string_view key, const Entry& e) {
    return key.size() + e.marked.size() - 1;
  }

  // Copies the entries into a fresh arena; the old one's views go, its
  // blocks to be reused by the next writes.
  void Compact() {
    ByteArena fresh;
    fresh.TakeSpares(arena_);
    absl::flat_hash_map<absl::string_view, Entry> kept;
    kept.reserve(entries_.size());
    for (const auto& [k, e] : entries_) {
      Entry copy = e;
      if (e.marked.data() != kAbsent.data()) copy.marked = fresh.Add(e.marked);
      kept.emplace(fresh.Add(k), copy);
    }
    entries_.swap(kept);
    arena_.Swap(fresh);
    fresh.Clear();
    arena_.TakeSpares(fresh);
  }

  // The changes since the last commit or spill, in key order.
  std::vector<Change> Dirty() const {
    // Sorted by each key's first 16 bytes held inline (most comparisons end
    // there, without reaching into the arena), then by the whole key.
    struct Sortable {
      uint64_t head[2];
      Change change;
    };
    std::vector<Sortable> sortable;
    for (const auto& [k, e] : entries_) {
      if (e.dirty) {
        sortable.push_back({{Head(k, 0), Head(k, 8)}, {k, e.marked}});
      }
    }
    for (const Change& c : fresh_) {
      sortable.push_back({{Head(c.first, 0), Head(c.first, 8)}, c});
    }
    std::sort(sortable.begin(), sortable.end(),
              [](const Sortable& a, const Sortable& b) {
                if (a.head[0] != b.head[0]) return a.head[0] < b.head[0];
                if (a.head[1] != b.head[1]) return a.head[1] < b.head[1];
                return a.change.first < b.change.first;
              });
    std::vector<Change> changes;
    changes.reserve(sortable.size());
    for (const Sortable& s : sortable) changes.push_back(s.change);
    return changes;
  }

  // Bytes [from, from + 8) of `key` (zeros past its end) as a big-endian
  // number: numeric order is the bytes' order.
  static uint64_t Head(absl::string_view key, size_t from) {
    uint64_t head = 0;
    for (size_t i = from; i < from + 8; ++i) {
      head = (head << 8) |
             (i < key.size() ? static_cast<unsigned char>(key[i]) : 0u);
    }
    return head;
  }

  // A key not in memory: the newest run that has it, else the store.
  absl::StatusOr<std::optional<std::string>> Lookup(absl::string_view key) {
    for (auto run = runs_.rbegin(); run != runs_.rend(); ++run) {
      if (!(*run)->bloom.MayContain(key)) continue;
      rocksdb::Iterator* it = (*run)->lookup.get();
      it->Seek(Slice(key));
      RETURN_IF_ERROR(FromRocks(it->status(), "cannot read a build run"));
      if (!it->Valid() || View(it->key()) != key) continue;
      absl::string_view marked = View(it->value());
      if (marked.empty()) return absl::DataLossError("a build run is bad");
      if (marked[0] == kDeleted) return std::optional<std::string>();
      return std::optional<std::string>(std::string(marked.substr(1)));
    }
    absl::ReaderMutexLock lock(db_.mu);
    if (*db_.closed) return Closed();
    std::string bytes;
    rocksdb::Status s = db_.db->Get(rocksdb::ReadOptions(), db_.projections,
                                    Slice(absl::StrCat(prefix_, key)), &bytes);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "cannot read projection state");
    return std::optional<std::string>(std::move(bytes));
  }

  // `marked` is in arena_ (or kAbsent).
  void Set(absl::string_view key, absl::string_view marked) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      it = entries_.emplace(arena_.Add(key), Entry()).first;
    } else {
      cached_bytes_ -= Size(key, it->second);
    }
    Entry& e = it->second;
    e.marked = marked;
    e.dirty = true;
    const size_t size = Size(key, e);
    cached_bytes_ += size;
    staged_bytes_ += prefix_.size() + size;
  }

  const OpenDb db_;
  const std::string projection_;
  const uint32_t generation_;
  const std::string prefix_;
  const size_t cache_bytes_;
  const uint64_t id_;
  uint64_t next_file_ = 0;
  // Keys and marked values live in arena_.
  ByteArena arena_;
  absl::flat_hash_map<absl::string_view, Entry> entries_;
  // PutNew's keys and marked values (in arena_), since the last commit or
  // spill.
  std::vector<Change> fresh_;
  std::vector<std::unique_ptr<Run>> runs_;
  size_t cached_bytes_ = 0;
  size_t staged_bytes_ = 0;
  bool flushed_ = false;
};

// The directory of build files, created if missing; needs db.mu.
absl::StatusOr<std::string> BuildDir(const OpenDb& db) {
  const std::string dir = db.db->GetName() + "/projection-build";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", dir, ": ", ec.message()));
  }
  return dir;
}

}  // namespace

std::unique_ptr<ProjectionBatch> NewRocksDbBuildBatch(const OpenDb& db,
                                                      std::string projection,
                                                      uint32_t generation,
                                                      size_t cache_bytes) {
  auto batch = std::make_unique<RocksDbBuildBatch>(db, std::move(projection),
                                                   generation, cache_bytes);
  // Files a process that died left of this generation's build.
  absl::ReaderMutexLock lock(db.mu);
  if (!*db.closed && IsProjectionName(batch->projection())) {
    std::error_code ec;
    const std::string prefix = batch->FilePrefix();
    for (const auto& f : std::filesystem::directory_iterator(
             db.db->GetName() + "/projection-build", ec)) {
      if (absl::StartsWith(f.path().filename().string(), prefix)) {
        std::filesystem::remove(f.path(), ec);
      }
    }
  }
  return batch;
}

void RemoveOrphanBuildFiles(const OpenDb& db) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* cleaned = new absl::flat_hash_set<std::string>();
  absl::ReaderMutexLock db_lock(db.mu);
  if (*db.closed) return;
  const std::string dir = db.db->GetName() + "/projection-build";
  absl::MutexLock lock(&mu);
  if (!cleaned->insert(dir).second) return;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
    std::filesystem::remove(f.path(), ec);
  }
}

ProjectionBatch* AsBuildBatch(ProjectionBatch& batch) {
  return dynamic_cast<RocksDbBuildBatch*>(&batch);
}

absl::Status SpillBuildBatch(const OpenDb& db, ProjectionBatch& batch) {
  auto& build = static_cast<RocksDbBuildBatch&>(batch);
  if (build.staged_bytes() == 0) return absl::OkStatus();
  std::string path;
  {
    absl::ReaderMutexLock lock(db.mu);
    if (*db.closed) return Closed();
    ASSIGN_OR_RETURN(std::string dir, BuildDir(db));
    path = build.NextFile(dir, "run");
  }
  RETURN_IF_ERROR(build.WriteRun(path));
  build.Written(/*committed=*/false);
  return absl::OkStatus();
}

// The changes go to the store as SST files, ingested with the checkpoint's
// in one atomic ingestion: no memtable, no WAL, no flush.
absl::Status CommitBuildBatch(const OpenDb& db, ProjectionBatch& batch,
                              const std::string& checkpoint_value) {
  auto& build = static_cast<RocksDbBuildBatch&>(batch);
  if (!IsProjectionName(build.projection())) {
    return absl::InvalidArgumentError(
        absl::StrCat("projection name '", build.projection(),
                     "': 1 to 32 characters of [a-z0-9_]"));
  }
  absl::ReaderMutexLock lock(db.mu);
  if (*db.closed) return Closed();
  ASSIGN_OR_RETURN(const std::string dir, BuildDir(db));
  if (!build.flushed()) {
    // Range tombstones over the generation (DropGeneration's) may still be
    // in a memtable: flush them first, once per batch, so that the files
    // are ordered after them without relying on the ingestion's memtable
    // overlap check.
    rocksdb::FlushOptions flush;
    flush.wait = true;
    RETURN_IF_ERROR(
        FromRocks(db.db->Flush(flush, {db.projections, db.checkpoints}),
                  "cannot flush projection state"));
    build.set_flushed();
  }
  std::vector<std::string> files;
  auto remove_files = [&files] {
    for (const std::string& f : files) std::remove(f.c_str());
  };
  std::vector<rocksdb::IngestExternalFileArg> args;
  if (build.has_changes()) {
    rocksdb::Options options = db.db->GetOptions(db.projections);
    options.compression = rocksdb::kNoCompression;
    std::vector<std::string> state;
    absl::Status s = build.WriteState(
        options, [&] { return build.NextFile(dir, "state"); }, &state);
    files = state;
    if (!s.ok()) {
      remove_files();
      return s;
    }
    if (!state.empty()) {
      args.emplace_back();
      args.back().column_family = db.projections;
      args.back().external_files = std::move(state);
    }
  }
  {
    rocksdb::Options options = db.db->GetOptions(db.checkpoints);
    files.push_back(build.NextFile(dir, "checkpoint"));
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options);
    rocksdb::Status s = writer.Open(files.back());
    if (s.ok()) {
      s = writer.Put(Slice(ProjectionCheckpointKey(build.projection(),
                                                   build.generation())),
                     Slice(checkpoint_value));
    }
    if (s.ok()) s = writer.Finish();
    if (!s.ok()) {
      remove_files();
      return FromRocks(s, "cannot write a projection build file");
    }
    args.emplace_back();
    args.back().column_family = db.checkpoints;
    args.back().external_files = {files.back()};
  }
  for (rocksdb::IngestExternalFileArg& arg : args) {
    arg.options.move_files = true;
  }
  absl::Status s = FromRocks(db.db->IngestExternalFiles(args),
                             "cannot ingest projection state");
  remove_files();
  if (s.ok()) build.Written(/*committed=*/true);
  return s;
}

}  // namespace ycr::storage::internal
