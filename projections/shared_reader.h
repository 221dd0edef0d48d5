#pragma once

// SharedLogReader: reads and decodes the log once for every projection
// runner catching up at the same time (the rebuild of several projections,
// the first build of all of them), on a thread of its own, ahead of them.
//
// The log is cut into chunks of `chunk_events` positions. A chunk that lies
// wholly at or below the head is decoded once, by the reader's thread, into
// an arena, and kept (up to `max_chunks`, the lowest positions dropped
// first) for every runner that asks for it; the thread decodes up to
// `readahead_chunks` beyond the furthest chunk asked for, so that decoding
// runs on one core while the runners apply on the other. The part of the
// log past the last whole chunk (the tail near the head) is read by the
// caller through EventLog::ForEach, as before.
//
// Events are immutable once decoded and handed out as const references that
// live as long as the ForEach call; nothing decoded is kept past
// `max_chunks` chunks, and nothing of it is plaintext a log read would not
// give (personal parts stay sealed).

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/event_log.h"
#include "ycr/v1/event.pb.h"

namespace ycr::projections {

struct SharedReaderOptions {
  // Positions per chunk (each chunk is one read of the log). Default: 8192.
  uint32_t chunk_events = 8192;
  // Decoded chunks kept at most (more only while a caller waits for one).
  // Default: 12.
  uint32_t max_chunks = 12;
  // Chunks decoded ahead of the furthest one asked for. Default: 3.
  uint32_t readahead_chunks = 3;
  // Once no ForEach has run for this long, the decoded chunks are freed.
  // Default: 2 s.
  absl::Duration idle_drop = absl::Seconds(2);
};

class SharedLogReader {
 public:
  // `log` must outlive the reader.
  explicit SharedLogReader(storage::EventLog* log,
                           SharedReaderOptions options = {});
  // Stops the thread; every ForEach must have returned.
  ~SharedLogReader();

  SharedLogReader(const SharedLogReader&) = delete;
  SharedLogReader& operator=(const SharedLogReader&) = delete;

  // As EventLog::ForEach(from, 0, visit, next_position): the events from
  // `from` (0 = 1) in log order to the end of the log as the read finds
  // it, until `visit` returns an error, which is returned. Thread-safe.
  absl::Status ForEach(
      uint64_t from,
      absl::FunctionRef<absl::Status(const v1::RecordedEvent&)> visit,
      uint64_t* next_position);

  // Chunks decoded so far (for tests: each whole chunk is decoded once while
  // it stays within max_chunks).
  uint64_t chunks_decoded() const;
  // Decoded chunks held now; waits until none is (freed once idle).
  size_t chunks_held() const;
  bool AwaitNoChunks(absl::Duration timeout) const;

 private:
  struct Chunk;
  // The decoded chunk `index`, once ready; null if it is not wholly in the
  // log yet (or the reader is stopping). Moves the caller's `cursor` (the
  // chunk it is on, in active_) there.
  std::shared_ptr<const Chunk> Acquire(uint64_t index,
                                       std::optional<uint64_t>* cursor);
  // The caller is done: its cursor leaves active_.
  void Leave(const std::optional<uint64_t>& cursor);
  void Run();
  // The next chunk for the thread to decode: one a caller waits for, or one
  // to read ahead; nullopt if none.
  std::optional<uint64_t> FindWork() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Marks chunk `index` taken by the thread (adding it if new).
  std::shared_ptr<Chunk> Claim(uint64_t index,
                               std::vector<std::shared_ptr<Chunk>>* dropped)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Decode(Chunk& chunk);
  // Drops ready chunks, lowest first, until there is room for one more;
  // with `only_passed`, only chunks below every caller's. They go to
  // `dropped`, to be freed outside the lock.
  void Evict(bool only_passed, std::vector<std::shared_ptr<Chunk>>* dropped)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops every ready chunk (to `dropped`).
  void DropReady(std::vector<std::shared_ptr<Chunk>>* dropped)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The number of whole chunks in the log now.
  uint64_t WholeChunks() const;

  storage::EventLog* const log_;
  const SharedReaderOptions options_;

  mutable absl::Mutex mu_;
  std::map<uint64_t, std::shared_ptr<Chunk>> chunks_ ABSL_GUARDED_BY(mu_);
  // The furthest chunk asked for (+1; 0: none).
  uint64_t furthest_ ABSL_GUARDED_BY(mu_) = 0;
  // The chunk each ForEach in progress is on.
  std::multiset<uint64_t> active_ ABSL_GUARDED_BY(mu_);
  uint64_t decoded_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace ycr::projections
