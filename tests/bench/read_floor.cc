#include "tests/bench/read_floor.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/key_format.h"
#include "storage/record_codec.h"
#include "ycr/v1/event.pb.h"

namespace ycr::bench {
namespace {

absl::Status Rocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(what, ": ", s.ToString()));
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

}  // namespace

absl::StatusOr<ReadFloor> MeasureReadFloor(const std::string& path) {
  rocksdb::DBOptions db_options;
  std::vector<std::string> names;
  if (absl::Status s =
          Rocks(rocksdb::DB::ListColumnFamilies(db_options, path, &names),
                "cannot list the column families of " + path);
      !s.ok()) {
    return s;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  size_t log_index = names.size();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == storage::kLogColumnFamily) log_index = i;
    families.emplace_back(names[i], rocksdb::ColumnFamilyOptions());
  }
  if (log_index == names.size()) {
    return absl::NotFoundError(path + " has no log column family");
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (absl::Status s = Rocks(rocksdb::DB::OpenForReadOnly(
                                 db_options, path, families, &handles, &raw),
                             "cannot open " + path + " read only");
      !s.ok()) {
    return s;
  }
  std::unique_ptr<rocksdb::DB> db(raw);

  rocksdb::ReadOptions options;
  options.fill_cache = false;
  options.readahead_size = 8 << 20;
  ReadFloor floor;
  absl::Status status;
  v1::RecordedEvent record;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ThreadCpuSeconds();
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(options, handles[log_index]));
    const std::string first = storage::LogKey(1);
    uint64_t expected = 1;
    for (it->Seek(first); it->Valid(); it->Next()) {
      const rocksdb::Slice value = it->value();
      status = storage::DecodeRecord({value.data(), value.size()}, &record);
      if (!status.ok()) break;
      if (record.position() != expected) {
        status = absl::DataLossError(
            absl::StrCat("log record at position ", expected, " is missing"));
        break;
      }
      ++expected;
      floor.bytes += value.size();
    }
    if (status.ok()) status = Rocks(it->status(), "cannot read the log");
    floor.events = expected - 1;
  }
  floor.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  floor.cpu_seconds = ThreadCpuSeconds() - cpu_start;
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  if (!status.ok()) return status;
  return floor;
}

}  // namespace ycr::bench
