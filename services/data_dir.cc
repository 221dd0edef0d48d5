#include "services/data_dir.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/tlog.h"
#include "projections/projection.h"
#include "services/server.h"
#include "storage/rocksdb_event_log.h"

namespace ycr::services {
namespace {

namespace fs = std::filesystem;

absl::Status CheckProjections(storage::RocksDbEventLog& log, uint64_t head,
                              VerifyReport* report) {
  std::unique_ptr<storage::ProjectionStore> store = log.NewProjectionStore();
  for (const auto& projection : ServerProjections(&log)) {
    const std::string& name = projection->name();
    ASSIGN_OR_RETURN(std::optional<uint32_t> generation,
                     store->ActiveGeneration(name));
    if (!generation.has_value()) {
      report->lines.push_back(
          absl::StrCat("projection ", name, ": never ran (builds at start)"));
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<storage::ProjectionCheckpoint> checkpoint,
                     store->ReadCheckpoint(name, *generation));
    const uint64_t at = checkpoint.has_value() ? checkpoint->position : 0;
    if (at > head) {
      return absl::DataLossError(absl::StrCat(
          "projection ", name, " generation ", *generation,
          ": checkpoint at position ", at, " is past the log head ", head,
          " (the log lost events the projection applied)"));
    }
    std::string line = absl::StrCat("projection ", name, " generation ",
                                    *generation, ": checkpoint ", at, " of ",
                                    head, " (", head - at, " to catch up)");
    if (checkpoint.has_value() &&
        checkpoint->code_version != projection->code_version()) {
      absl::StrAppend(&line, "; code version ", checkpoint->code_version,
                      " stored, ", projection->code_version(),
                      " here: rebuilds at start");
    }
    report->lines.push_back(std::move(line));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<VerifyReport> VerifyDataDir(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    return absl::NotFoundError(absl::StrCat("no data directory at ", path));
  }
  storage::RocksDbEventLogOptions options;
  options.path = path;
  ASSIGN_OR_RETURN(std::unique_ptr<storage::RocksDbEventLog> log,
                   storage::RocksDbEventLog::Open(options));
  VerifyReport report;
  report.head = log->GetHead().position;
  absl::Status status = log->VerifyChain(1, report.head);
  if (status.ok()) {
    report.lines.push_back(
        absl::StrCat("hash chain: positions 1..", report.head, " verify"));
    absl::StatusOr<tlog::Hash> root = tlog::TreeHash(
        static_cast<int64_t>(report.head), storage::TreeHashReader(*log));
    status = root.status();
    if (status.ok()) {
      report.lines.push_back(
          absl::StrCat("Merkle tree: every stored hash of ", report.head,
                       " records verifies; root ", tlog::HashHex(*root)));
      status = CheckProjections(*log, report.head, &report);
    }
  }
  log->Close();
  if (!status.ok()) return status;
  return report;
}

absl::StatusOr<VerifyReport> RestoreDataDir(const std::string& from,
                                            const std::string& data_dir) {
  std::error_code ec;
  // RocksDB's CURRENT file names the manifest: without it, not a store.
  if (!fs::is_regular_file(fs::path(from) / "CURRENT", ec)) {
    return absl::NotFoundError(
        absl::StrCat("no backup at ", from, " (no CURRENT file)"));
  }
  if (fs::exists(data_dir, ec) && !fs::is_empty(data_dir, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("data directory ", data_dir,
                     " is not empty; restore into a new directory, then swap"));
  }
  fs::create_directories(data_dir, ec);
  fs::copy(from, data_dir, fs::copy_options::recursive, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot copy ", from, " to ",
                                               data_dir, ": ", ec.message()));
  }
  return VerifyDataDir(data_dir);
}

}  // namespace ycr::services
