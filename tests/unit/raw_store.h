#pragma once

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <memory>
#include <string>
#include <vector>

#include "storage/key_format.h"

namespace ycr::storage {

// The raw RocksDB store under a log, opened with all of its column families,
// for tests that tamper with it.
class RawStore {
 public:
  static constexpr int kDefault = 0;
  static constexpr int kLog = 1;
  static constexpr int kSubjectKeys = 9;
  static constexpr int kTree = 10;

  explicit RawStore(const std::string& path) {
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& name :
         {rocksdb::kDefaultColumnFamilyName, std::string(kLogColumnFamily),
          std::string(kStreamsColumnFamily), std::string(kEventIdsColumnFamily),
          std::string(kProjectionsColumnFamily),
          std::string(kCheckpointsColumnFamily),
          std::string(kRecordsColumnFamily),
          std::string(kAccessBySubjectColumnFamily),
          std::string(kAccessByReaderColumnFamily),
          std::string(kSubjectKeysColumnFamily),
          std::string(kTreeColumnFamily)}) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    rocksdb::DB* db = nullptr;
    status_ =
        rocksdb::DB::Open(rocksdb::DBOptions(), path, families, &handles_, &db);
    db_.reset(db);
  }
  ~RawStore() {
    if (db_ == nullptr) return;
    for (rocksdb::ColumnFamilyHandle* handle : handles_) {
      db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    }
    db_->Close().PermitUncheckedError();
  }

  const rocksdb::Status& status() const { return status_; }
  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(int index) { return handles_[index]; }
  // Synced writes into column family `index`.
  rocksdb::Status Put(int index, const std::string& key,
                      const std::string& value) {
    rocksdb::WriteOptions options;
    options.sync = true;
    return db_->Put(options, handles_[index], key, value);
  }
  // Flushes and compacts every column family to its last level, so that
  // nothing deleted or overwritten survives in the store's files.
  rocksdb::Status CompactAll() {
    rocksdb::CompactRangeOptions options;
    options.bottommost_level_compaction =
        rocksdb::BottommostLevelCompaction::kForce;
    for (rocksdb::ColumnFamilyHandle* handle : handles_) {
      rocksdb::Status s = db_->Flush(rocksdb::FlushOptions(), handle);
      if (s.ok()) s = db_->CompactRange(options, handle, nullptr, nullptr);
      if (!s.ok()) return s;
    }
    return rocksdb::Status::OK();
  }
  rocksdb::Status Delete(int index, const std::string& key) {
    rocksdb::WriteOptions options;
    options.sync = true;
    return db_->Delete(options, handles_[index], key);
  }

 private:
  rocksdb::Status status_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> db_;
};

// The stored data key of `subject` (its 32 bytes), read from a closed
// store's files; "" when there is none.
inline std::string StoredSubjectKey(const std::string& path,
                                    const std::string& subject) {
  RawStore raw(path);
  if (!raw.status().ok()) return "";
  std::string value;
  rocksdb::Status s =
      raw.db()->Get(rocksdb::ReadOptions(), raw.cf(RawStore::kSubjectKeys),
                    SubjectKeyKey(subject), &value);
  return s.ok() && value.size() > 4 ? value.substr(4) : "";
}

}  // namespace ycr::storage
