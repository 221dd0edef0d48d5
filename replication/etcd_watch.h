#pragma once

// A watch on a range of etcd keys from a revision: one gRPC stream read by
// its own thread, its events handed over in revision order by Next().

#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "replication/etcd_client.h"

namespace ycr::replication {

struct WatchEvent {
  bool deleted = false;  // A delete (kv holds the key and its revision).
  KeyValue kv;
};

class EtcdWatch {
 public:
  // Opens the stream and waits up to `timeout` for etcd to confirm the watch
  // (UNAVAILABLE if it does not). A start revision already compacted is
  // reported by the first Next(), as OUT_OF_RANGE.
  static absl::StatusOr<std::unique_ptr<EtcdWatch>> Start(
      etcdserverpb::Watch::Stub* stub, etcdserverpb::WatchCreateRequest create,
      absl::Duration timeout);
  // Cancels the stream and waits for its thread.
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  // The next events (at least one) in revision order, waiting until
  // `deadline`. DEADLINE_EXCEEDED when none came by then (the watch goes on);
  // OUT_OF_RANGE when etcd compacted the revisions asked for (see
  // compact_revision(): a reader must restart from a snapshot); UNAVAILABLE
  // when the stream broke (a new watch from the last revision seen + 1
  // continues it). Events received before the end are delivered first.
  absl::StatusOr<std::vector<WatchEvent>> Next(absl::Time deadline);

  // The revision etcd had compacted to when it refused the watch; 0 if not.
  int64_t compact_revision() const;

 private:
  EtcdWatch() = default;
  void ReadLoop(etcdserverpb::WatchCreateRequest create);

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest,
                                           etcdserverpb::WatchResponse>>
      stream_;
  mutable absl::Mutex mu_;
  bool created_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<WatchEvent> events_ ABSL_GUARDED_BY(mu_);
  // Set when the stream has ended, for good.
  std::optional<absl::Status> ended_ ABSL_GUARDED_BY(mu_);
  int64_t compact_revision_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread reader_;
};

}  // namespace ycr::replication
