#include "projections/shared_reader.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/arena.h"
#include "storage/record_codec.h"
#include "storage/rocksdb_event_log.h"

namespace ycr::projections {
namespace {

google::protobuf::ArenaOptions ChunkArena() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 64 << 10;
  options.max_block_size = 1 << 20;
  return options;
}

SharedReaderOptions Checked(SharedReaderOptions options) {
  options.chunk_events = std::max<uint32_t>(options.chunk_events, 1);
  options.max_chunks = std::max<uint32_t>(options.max_chunks, 2);
  return options;
}

}  // namespace

struct SharedLogReader::Chunk {
  explicit Chunk(uint64_t i) : index(i), arena(ChunkArena()) {}
  const uint64_t index;
  // Set under mu_ by the reader's thread once `events` and `status` are
  // final; read under mu_ before either is used.
  bool ready = false;
  // Taken by the reader's thread.
  bool claimed = false;
  absl::Status status;
  google::protobuf::Arena arena;
  std::vector<const v1::RecordedEvent*> events;
};

SharedLogReader::SharedLogReader(storage::EventLog* log,
                                 SharedReaderOptions options)
    : log_(log), options_(Checked(options)) {
  thread_ = std::thread([this] { Run(); });
}

SharedLogReader::~SharedLogReader() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

uint64_t SharedLogReader::chunks_decoded() const {
  absl::MutexLock lock(&mu_);
  return decoded_;
}

uint64_t SharedLogReader::WholeChunks() const {
  return log_->GetHead().position / options_.chunk_events;
}

void SharedLogReader::Evict(bool only_passed,
                            std::vector<std::shared_ptr<Chunk>>* dropped) {
  // The lowest positions go first: every runner moves forward. With
  // `only_passed`, only chunks below every caller's.
  for (auto it = chunks_.begin();
       it != chunks_.end() && chunks_.size() >= options_.max_chunks;) {
    if (only_passed && (active_.empty() || it->first >= *active_.begin())) {
      return;
    }
    if (it->second->ready) {
      dropped->push_back(std::move(it->second));
      it = chunks_.erase(it);
    } else {
      ++it;
    }
  }
}

void SharedLogReader::DropReady(std::vector<std::shared_ptr<Chunk>>* dropped) {
  for (auto it = chunks_.begin(); it != chunks_.end();) {
    if (it->second->ready) {
      dropped->push_back(std::move(it->second));
      it = chunks_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t SharedLogReader::chunks_held() const {
  absl::MutexLock lock(&mu_);
  return chunks_.size();
}

bool SharedLogReader::AwaitNoChunks(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto none = [this]()
                  ABSL_SHARED_LOCKS_REQUIRED(mu_) { return chunks_.empty(); };
  return mu_.AwaitWithTimeout(absl::Condition(&none), timeout);
}

std::shared_ptr<const SharedLogReader::Chunk> SharedLogReader::Acquire(
    uint64_t index, std::optional<uint64_t>* cursor) {
  if (index >= WholeChunks()) return nullptr;
  // Freed after the lock.
  std::vector<std::shared_ptr<Chunk>> dropped;
  absl::MutexLock lock(&mu_);
  if (cursor->has_value()) active_.erase(active_.find(**cursor));
  active_.insert(index);
  *cursor = index;
  furthest_ = std::max(furthest_, index + 1);
  auto it = chunks_.find(index);
  if (it == chunks_.end()) {
    Evict(false, &dropped);
    it = chunks_.emplace(index, std::make_shared<Chunk>(index)).first;
  }
  std::shared_ptr<Chunk> chunk = it->second;
  auto ready = [this, &chunk]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return chunk->ready || stop_;
  };
  mu_.Await(absl::Condition(&ready));
  if (!chunk->ready) return nullptr;
  return chunk;
}

void SharedLogReader::Leave(const std::optional<uint64_t>& cursor) {
  if (!cursor.has_value()) return;
  absl::MutexLock lock(&mu_);
  active_.erase(active_.find(*cursor));
}

absl::Status SharedLogReader::ForEach(
    uint64_t from,
    absl::FunctionRef<absl::Status(const v1::RecordedEvent&)> visit,
    uint64_t* next_position) {
  *next_position = std::max<uint64_t>(from, 1);
  const uint64_t n = options_.chunk_events;
  std::optional<uint64_t> cursor;
  for (;;) {
    const uint64_t index = (*next_position - 1) / n;
    std::shared_ptr<const Chunk> chunk = Acquire(index, &cursor);
    if (chunk == nullptr) break;
    absl::Status s = chunk->status;
    for (size_t i = (*next_position - 1) - index * n;
         s.ok() && i < chunk->events.size(); ++i) {
      s = visit(*chunk->events[i]);
      if (s.ok()) *next_position = chunk->events[i]->position() + 1;
    }
    if (!s.ok()) {
      Leave(cursor);
      return s;
    }
  }
  Leave(cursor);
  // The tail, past the last whole chunk.
  uint64_t next = *next_position;
  absl::Status s = log_->ForEach(*next_position, 0, visit, &next);
  *next_position = next;
  return s;
}

std::optional<uint64_t> SharedLogReader::FindWork() const {
  // First what a caller waits for, lowest first.
  for (const auto& [index, chunk] : chunks_) {
    if (!chunk->claimed) return index;
  }
  // Then ahead of the furthest caller, while there is room (or room to be
  // made from chunks every caller has passed).
  if (active_.empty()) return std::nullopt;
  const uint64_t whole = WholeChunks();
  for (uint64_t index = furthest_;
       index < furthest_ + options_.readahead_chunks && index < whole;
       ++index) {
    if (chunks_.count(index) > 0) continue;
    if (chunks_.size() < options_.max_chunks) return index;
    const auto& [lowest, chunk] = *chunks_.begin();
    if (chunk->ready && lowest < *active_.begin()) return index;
    return std::nullopt;
  }
  return std::nullopt;
}

std::shared_ptr<SharedLogReader::Chunk> SharedLogReader::Claim(
    uint64_t index, std::vector<std::shared_ptr<Chunk>>* dropped) {
  auto it = chunks_.find(index);
  if (it == chunks_.end()) {
    Evict(true, dropped);
    it = chunks_.emplace(index, std::make_shared<Chunk>(index)).first;
  }
  it->second->claimed = true;
  return it->second;
}

void SharedLogReader::Decode(Chunk& chunk) {
  const uint64_t n = options_.chunk_events;
  const uint64_t first = chunk.index * n + 1;
  chunk.events.reserve(n);
  uint64_t next = first;
  auto check = [&chunk](const v1::RecordedEvent* event,
                        uint64_t position) -> absl::Status {
    if (event->position() != position) {
      return absl::DataLossError(
          absl::StrCat("log record at position ", position, " is missing"));
    }
    chunk.events.push_back(event);
    return absl::OkStatus();
  };
  auto* rocks = dynamic_cast<storage::RocksDbEventLog*>(log_);
  if (rocks != nullptr) {
    // Parsed straight into the chunk's arena, once.
    chunk.status = rocks->ForEachStored(
        first, n,
        [&](uint64_t position, absl::string_view stored) -> absl::Status {
          auto* event =
              google::protobuf::Arena::CreateMessage<v1::RecordedEvent>(
                  &chunk.arena);
          RETURN_IF_ERROR(storage::DecodeRecord(stored, event));
          return check(event, position);
        },
        &next);
  } else {
    // Any other log (one replicated through etcd): copied from its reads.
    uint64_t position = first;
    chunk.status = log_->ForEach(
        first, n,
        [&](const v1::RecordedEvent& read) -> absl::Status {
          auto* event =
              google::protobuf::Arena::CreateMessage<v1::RecordedEvent>(
                  &chunk.arena);
          event->CopyFrom(read);
          return check(event, position++);
        },
        &next);
  }
  if (chunk.status.ok() && chunk.events.size() != n) {
    chunk.status = absl::DataLossError(absl::StrCat(
        "log positions ", first, " to ", first + n - 1,
        " are below the head but ", chunk.events.size(), " of them were read"));
  }
}

void SharedLogReader::Run() {
  for (;;) {
    std::shared_ptr<Chunk> chunk;
    std::vector<std::shared_ptr<Chunk>> dropped;
    {
      absl::MutexLock lock(&mu_);
      auto work = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stop_ || FindWork().has_value();
      };
      if (chunks_.empty()) {
        mu_.Await(absl::Condition(&work));
      } else if (!mu_.AwaitWithTimeout(absl::Condition(&work),
                                       options_.idle_drop)) {
        // Nobody has read for a while: let the chunks go.
        if (active_.empty()) DropReady(&dropped);
      }
      if (stop_) return;
      std::optional<uint64_t> index = FindWork();
      if (index.has_value()) chunk = Claim(*index, &dropped);
    }
    dropped.clear();  // Outside the lock.
    if (chunk == nullptr) continue;
    Decode(*chunk);
    absl::MutexLock lock(&mu_);
    chunk->ready = true;
    ++decoded_;
    // A failed chunk is not kept: the next caller tries again.
    if (!chunk->status.ok()) {
      auto it = chunks_.find(chunk->index);
      if (it != chunks_.end() && it->second == chunk) chunks_.erase(it);
    }
  }
}

}  // namespace ycr::projections
