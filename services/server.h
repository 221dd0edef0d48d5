#pragma once

// Assembles a running ycr server: the event log, the reader pool, the gRPC
// services. Used by ycr-server's main and by integration tests, so both run
// the same wiring.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/caseload_service.h"
#include "services/domain_commands.h"
#include "services/domain_services.h"
#include "services/event_store_service.h"
#include "services/query_services.h"
#include "services/testing_service.h"
#include "services/work_queue.h"
#include "storage/rocksdb_event_log.h"

namespace ycr::services {

struct ServerOptions {
  // host:port; port 0 picks a free one. Default: 127.0.0.1:7070.
  std::string listen = "127.0.0.1:7070";
  storage::RocksDbEventLogOptions log;
  EventStoreServiceOptions event_store;
  // Threads serving reads and subscriptions. Default: 2.
  int reader_threads = 2;
  // Threads running domain commands (each waits for its append). Default: 8.
  int command_threads = 8;
  // Source of "now" for domain rules. Not owned. Default: SystemClock().
  Clock* clock = nullptr;
  // End-to-end tests only: a clock the ycr.v1.Testing service moves. When
  // set, it is the clock, and that service is served. Not owned.
  ManualClock* testing_clock = nullptr;
  // How projections read and commit.
  projections::RunnerOptions projections;
  // Largest request a client may send. Default: 8 MiB.
  int max_receive_message_bytes = 8 << 20;
};

class Server {
 public:
  // Opens the log and starts serving. Errors from the log's Open, or
  // UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options);

  // Shuts down if still running.
  ~Server();

  // The bound port (useful with port 0).
  int port() const { return port_; }
  storage::EventLog& log() { return *log_; }
  projections::ProjectionHost& projections() { return *projections_; }

  // Ends subscriptions, lets in-flight calls finish (up to `grace`, then
  // cancels them), closes the log. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(10));

 private:
  Server() = default;

  std::unique_ptr<storage::RocksDbEventLog> log_;
  std::unique_ptr<storage::ProjectionStore> projection_store_;
  std::unique_ptr<projections::ProjectionHost> projections_;
  std::unique_ptr<DeadlineService> deadlines_;
  std::unique_ptr<CaseloadService> caseloads_;
  std::unique_ptr<AuditService> audit_;
  std::unique_ptr<ProjectionAdminService> projection_admin_;
  std::unique_ptr<WorkQueue> readers_;
  std::unique_ptr<EventStoreService> event_store_;
  std::unique_ptr<WorkQueue> command_pool_;
  std::unique_ptr<DomainCommands> commands_;
  std::unique_ptr<ConsentService> consents_;
  std::unique_ptr<SharingService> sharing_;
  std::unique_ptr<ReferralService> referrals_;
  std::unique_ptr<SubjectService> subjects_;
  std::unique_ptr<InterventionService> interventions_;
  std::unique_ptr<AgreementService> agreements_;
  std::unique_ptr<CorrespondenceService> correspondence_;
  std::unique_ptr<SafeguardingService> safeguarding_;
  std::unique_ptr<TestingService> testing_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace ycr::services
