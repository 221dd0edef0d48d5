// ycr-bench --mode=tree. The tree's cost per appended event, taken apart:
//
//   leaf hash     tlog::RecordHash over the record's canonical bytes
//   frontier      LogTree::Append: the node hashes the record completes
//                 (one on average) and the in-memory frontier
//   batch puts    the tree's keys in the WriteBatch (two on average)
//   write         RocksDB's write of those keys: the same batches of
//                 records written with and without the tree's keys, into a
//                 fresh store with the log's two column families (WAL on,
//                 not synced, so the fsync, which is shared per batch and
//                 the same with or without the tree, does not drown it)
//
// The records are built as the writer builds them (record_codec's
// EncodeRecord over a RecordedEvent with an opaque payload of
// --payload_bytes random bytes), so the leaf is of a realistic size.

#include "tests/bench/tree_bench.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/ids.h"
#include "common/tlog.h"
#include "storage/key_format.h"
#include "storage/log_tree.h"
#include "storage/record_codec.h"
#include "ycr/v1/event.pb.h"

namespace ycr::bench {
namespace {

using Clock = std::chrono::steady_clock;

double NanosPer(Clock::time_point start, int events) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start)
             .count() /
         events;
}

// Stored values (hash[32] || canonical bytes) of `n` chained records.
std::vector<std::string> MakeRecords(int n, int payload_bytes) {
  std::mt19937_64 random(42);
  std::vector<std::string> values;
  values.reserve(n);
  std::string prev = storage::GenesisHash();
  for (int i = 0; i < n; ++i) {
    v1::RecordedEvent record;
    record.set_position(i + 1);
    record.set_stream(absl::StrFormat("ops-bench-%d", i % 64));
    record.set_stream_version(i / 64 + 1);
    record.set_event_id(NewUuid());
    record.set_event_type("bench.note");
    std::string data(payload_bytes, '\0');
    for (char& c : data) c = static_cast<char>(random());
    record.mutable_payload()->mutable_opaque()->set_type("bench.note");
    record.mutable_payload()->mutable_opaque()->set_data(data);
    record.mutable_recorded_at()->set_seconds(1800000000 + i);
    record.mutable_actor()->set_organisation("ops");
    record.mutable_actor()->set_user("ycr-admin");
    record.mutable_actor()->set_role("admin");
    record.set_prev_hash(prev);
    values.push_back(storage::EncodeRecord(&record));
    prev = record.hash();
  }
  return values;
}

absl::string_view Leaf(const std::string& value) {
  return absl::string_view(value).substr(storage::kHashBytes);
}

rocksdb::Slice HashSlice(const tlog::Hash& h) {
  return rocksdb::Slice(reinterpret_cast<const char*>(h.data()), h.size());
}

// Writes every record in batches of `batch_events`, with the tree's keys
// or without; nanoseconds per event of building and writing the batches.
double WriteAll(const std::vector<std::string>& values, int batch_events,
                bool with_tree, const std::string& dir) {
  std::filesystem::remove_all(dir);
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, {}},
      {storage::kLogColumnFamily, {}},
      {storage::kTreeColumnFamily, {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(db_options, dir, families, &handles, &raw).ok()) {
    return -1;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  storage::LogTree tree;
  std::vector<tlog::Hash> stored;
  const int n = static_cast<int>(values.size());
  const Clock::time_point start = Clock::now();
  for (int at = 0; at < n; at += batch_events) {
    rocksdb::WriteBatch batch;
    for (int i = at; i < std::min(n, at + batch_events); ++i) {
      batch.Put(handles[1], storage::LogKey(i + 1), values[i]);
      if (!with_tree) continue;
      const int64_t first = tree.next_index();
      tree.Append(tlog::RecordHash(Leaf(values[i])), &stored);
      for (size_t h = 0; h < stored.size(); ++h) {
        batch.Put(handles[2],
                  storage::TreeHashKey(first + static_cast<int64_t>(h)),
                  HashSlice(stored[h]));
      }
    }
    if (!db->Write(rocksdb::WriteOptions(), &batch).ok()) return -1;
  }
  const double ns = NanosPer(start, n);
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    db->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  db->Close().PermitUncheckedError();
  return ns;
}

}  // namespace

int RunTreeBench(const TreeBenchOptions& options) {
  const int n = options.events;
  if (n < 1 || options.batch_events < 1 || options.payload_bytes < 0) {
    std::fprintf(stderr,
                 "ycr-bench: --tree_events and --tree_batch must be positive, "
                 "--payload_bytes not negative\n");
    return 2;
  }
  const std::vector<std::string> values = MakeRecords(n, options.payload_bytes);
  size_t leaf_bytes = 0;
  for (const std::string& v : values) leaf_bytes += Leaf(v).size();

  // Each in-memory phase twice, keeping the faster: the machine is shared.
  std::vector<tlog::Hash> leaves(n);
  double leaf_ns = 1e18, frontier_ns = 1e18, puts_ns = 1e18;
  size_t hashes = 0;
  for (int round = 0; round < 2; ++round) {
    Clock::time_point start = Clock::now();
    for (int i = 0; i < n; ++i) leaves[i] = tlog::RecordHash(Leaf(values[i]));
    leaf_ns = std::min(leaf_ns, NanosPer(start, n));

    storage::LogTree tree;
    std::vector<tlog::Hash> stored;
    hashes = 0;
    start = Clock::now();
    for (int i = 0; i < n; ++i) {
      tree.Append(leaves[i], &stored);
      hashes += stored.size();
    }
    frontier_ns = std::min(frontier_ns, NanosPer(start, n));

    storage::LogTree batch_tree;
    start = Clock::now();
    for (int at = 0; at < n; at += options.batch_events) {
      rocksdb::WriteBatch batch;
      for (int i = at; i < std::min(n, at + options.batch_events); ++i) {
        const int64_t first = batch_tree.next_index();
        batch_tree.Append(leaves[i], &stored);
        for (size_t h = 0; h < stored.size(); ++h) {
          batch.Put(storage::TreeHashKey(first + static_cast<int64_t>(h)),
                    HashSlice(stored[h]));
        }
      }
    }
    puts_ns = std::min(puts_ns, NanosPer(start, n));
  }

  const std::string dir =
      (std::filesystem::temp_directory_path() / ("ycr-tree-bench-" + NewUuid()))
          .string();
  // Twice each, alternating, keeping the faster: the machine is shared.
  double without = 1e18, with = 1e18;
  for (int round = 0; round < 2; ++round) {
    without =
        std::min(without, WriteAll(values, options.batch_events, false, dir));
    with = std::min(with, WriteAll(values, options.batch_events, true, dir));
  }
  std::filesystem::remove_all(dir);
  if (without < 0 || with < 0) {
    std::fprintf(stderr, "ycr-bench: the RocksDB store under %s failed\n",
                 dir.c_str());
    return 1;
  }
  const double total_ns = with - without;
  if (options.json) {
    std::printf(
        "{\"mode\":\"tree\",\"events\":%d,\"batch_events\":%d,"
        "\"leaf_bytes\":%.0f,\"stored_hashes_per_event\":%.3f,"
        "\"leaf_hash_ns\":%.0f,\"frontier_ns\":%.0f,"
        "\"frontier_and_batch_puts_ns\":%.0f,"
        "\"write_without_tree_ns\":%.0f,\"write_with_tree_ns\":%.0f,"
        "\"tree_per_event_ns\":%.0f}\n",
        n, options.batch_events, static_cast<double>(leaf_bytes) / n,
        static_cast<double>(hashes) / n, leaf_ns, frontier_ns, puts_ns, without,
        with, total_ns);
    return 0;
  }
  std::printf(
      "tree: %d events of %.0f leaf bytes, %d per batch, %.3f stored hashes "
      "per event\n"
      "  leaf hash (SHA-256 of the record)      %8.0f ns/event\n"
      "  frontier (node hashes, in memory)      %8.0f ns/event\n"
      "  frontier + its keys into a WriteBatch  %8.0f ns/event\n"
      "  RocksDB write, records only            %8.0f ns/event (no tree)\n"
      "  RocksDB write, records + tree          %8.0f ns/event (all of the "
      "tree's work included)\n"
      "  the tree's cost per appended event     %8.0f ns/event (the "
      "difference of the two writes)\n",
      n, static_cast<double>(leaf_bytes) / n, options.batch_events,
      static_cast<double>(hashes) / n, leaf_ns, frontier_ns, puts_ns, without,
      with, total_ns);
  return 0;
}

}  // namespace ycr::bench
