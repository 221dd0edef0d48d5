#pragma once

// ycr.v1.EventStore on gRPC's callback API. No reaction blocks: appends are
// finished by the log's writer thread; reads run on a WorkQueue.

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "services/security/access_log.h"
#include "services/stream_quota.h"
#include "services/work_queue.h"
#include "storage/event_log.h"
#include "ycr/v1/event_store.grpc.pb.h"

namespace ycr::services {

struct EventStoreServiceOptions {
  // Events a Subscribe reads from the log at a time. Default: 256.
  uint32_t subscribe_batch = 256;
  // Bytes of a filter's stream prefix. Default: 200.
  size_t max_stream_prefix_bytes = 200;
  // Event types in one filter. Default: 32.
  size_t max_filter_types = 32;
};

class EventStoreService final : public v1::EventStore::CallbackService {
 public:
  // `log`, `readers` and `access` (may be null: no access log; it records
  // raw reads of events' personal parts) must outlive the service.
  // Thread-safe.
  // `streams` (not owned; null: no limit) caps each caller's open
  // subscriptions.
  EventStoreService(storage::EventLog* log, WorkQueue* readers,
                    EventStoreServiceOptions options = {},
                    AccessRecorder* access = nullptr,
                    StreamQuota* streams = nullptr);
  ~EventStoreService() override;

  // Ends every open Subscribe with UNAVAILABLE and refuses new ones, so that
  // grpc::Server::Shutdown need not wait for its deadline. Call before it.
  void BeginShutdown();

  grpc::ServerUnaryReactor* Append(grpc::CallbackServerContext* context,
                                   const v1::AppendRequest* request,
                                   v1::AppendResponse* response) override;
  grpc::ServerUnaryReactor* ReadStream(
      grpc::CallbackServerContext* context,
      const v1::ReadStreamRequest* request,
      v1::ReadStreamResponse* response) override;
  grpc::ServerUnaryReactor* ReadAll(grpc::CallbackServerContext* context,
                                    const v1::ReadAllRequest* request,
                                    v1::ReadAllResponse* response) override;
  grpc::ServerWriteReactor<v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* context,
      const v1::SubscribeRequest* request) override;
  grpc::ServerUnaryReactor* Head(grpc::CallbackServerContext* context,
                                 const v1::HeadRequest* request,
                                 v1::HeadResponse* response) override;

  // The state of one Subscribe call; outlives its reactor so that late
  // callbacks find it (see event_store_service.cc).
  class Subscription;

 private:
  void Forget(const std::shared_ptr<Subscription>& subscription);

  storage::EventLog* const log_;
  WorkQueue* const readers_;
  const EventStoreServiceOptions options_;
  AccessRecorder* const access_;
  StreamQuota* const streams_;

  absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<std::shared_ptr<Subscription>> subscriptions_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace ycr::services
