#pragma once

// A RocksDB FileSystem for tests that can be switched, at any moment, to fail
// writes as a full or failing disk would. Debian's librocksdb-dev does not
// ship RocksDB's own fault-injection filesystem, so this is a small one:
//
//   kNone:       everything passes through to the default filesystem.
//   kFailSyncs:  appends reach the file, but Sync/Fsync fail (the data may
//                or may not be on disk: the outcome of a synced write is
//                unknown).
//   kFailWrites: creating files, appending, syncing, renaming fail.
//
// The error is IOStatus::NoSpace() or IOStatus::IOError(), as chosen. Reads
// always pass. Thread-safe: the mode may change while RocksDB runs.

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <memory>
#include <string>

namespace ycr::test {

class FaultFileSystem : public rocksdb::FileSystemWrapper {
 public:
  enum class Mode { kNone, kFailSyncs, kFailWrites };

  FaultFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

  const char* Name() const override { return "ycr-test-fault-fs"; }

  // Fails from now on as `mode` says, with NoSpace when `no_space`, else
  // IOError.
  void Fail(Mode mode, bool no_space = true) {
    no_space_.store(no_space);
    mode_.store(mode);
  }
  // Passes everything through again (space has returned).
  void Heal() { mode_.store(Mode::kNone); }
  // Write or sync calls refused so far.
  int refused() const { return refused_.load(); }

  // Returns the injected error for an operation of `kind`, or OK.
  rocksdb::IOStatus Check(Mode kind) {
    Mode mode = mode_.load();
    if (mode == Mode::kNone) return rocksdb::IOStatus::OK();
    if (mode == Mode::kFailSyncs && kind == Mode::kFailWrites) {
      return rocksdb::IOStatus::OK();
    }
    ++refused_;
    return no_space_.load() ? rocksdb::IOStatus::NoSpace("injected: disk full")
                            : rocksdb::IOStatus::IOError("injected: I/O error");
  }

  rocksdb::IOStatus NewWritableFile(
      const std::string& name, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = Check(Mode::kFailWrites); !s.ok()) return s;
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, &file, dbg);
    if (s.ok()) result->reset(new File(std::move(file), this));
    return s;
  }

  rocksdb::IOStatus ReopenWritableFile(
      const std::string& name, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = Check(Mode::kFailWrites); !s.ok()) return s;
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s =
        target()->ReopenWritableFile(name, options, &file, dbg);
    if (s.ok()) result->reset(new File(std::move(file), this));
    return s;
  }

  rocksdb::IOStatus ReuseWritableFile(
      const std::string& name, const std::string& old_name,
      const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = Check(Mode::kFailWrites); !s.ok()) return s;
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s =
        target()->ReuseWritableFile(name, old_name, options, &file, dbg);
    if (s.ok()) result->reset(new File(std::move(file), this));
    return s;
  }

  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = Check(Mode::kFailWrites); !s.ok()) return s;
    return target()->RenameFile(from, to, options, dbg);
  }

 private:
  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> file, FaultFileSystem* fs)
        : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs) {}

    rocksdb::IOStatus Append(const rocksdb::Slice& data,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
      if (rocksdb::IOStatus s = fs_->Check(Mode::kFailWrites); !s.ok()) {
        return s;
      }
      return target()->Append(data, options, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data,
                             const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
      if (rocksdb::IOStatus s = fs_->Check(Mode::kFailWrites); !s.ok()) {
        return s;
      }
      return target()->Append(data, options, info, dbg);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data,
                                       uint64_t offset,
                                       const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* dbg) override {
      if (rocksdb::IOStatus s = fs_->Check(Mode::kFailWrites); !s.ok()) {
        return s;
      }
      return target()->PositionedAppend(data, offset, options, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
      if (rocksdb::IOStatus s = fs_->Check(Mode::kFailSyncs); !s.ok()) {
        return s;
      }
      return target()->Sync(options, dbg);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
      if (rocksdb::IOStatus s = fs_->Check(Mode::kFailSyncs); !s.ok()) {
        return s;
      }
      return target()->Fsync(options, dbg);
    }
    rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes,
                                const rocksdb::IOOptions& options,
                                rocksdb::IODebugContext* dbg) override {
      if (rocksdb::IOStatus s = fs_->Check(Mode::kFailSyncs); !s.ok()) {
        return s;
      }
      return target()->RangeSync(offset, nbytes, options, dbg);
    }

   private:
    FaultFileSystem* const fs_;
  };

  std::atomic<Mode> mode_{Mode::kNone};
  std::atomic<bool> no_space_{true};
  std::atomic<int> refused_{0};
};

}  // namespace ycr::test
