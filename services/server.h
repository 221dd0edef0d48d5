#pragma once

// Assembles a running ycr server: the event log, the reader pool, the gRPC
// services. Used by ycr-server's main and by integration tests, so both run
// the same wiring.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics.h"
#include "common/metrics_http.h"
#include "services/access_log_service.h"
#include "services/admin_service.h"
#include "services/caseload_service.h"
#include "services/domain_commands.h"
#include "services/domain_services.h"
#include "services/event_store_service.h"
#include "services/query_services.h"
#include "services/security/access_log.h"
#include "services/security/server_security.h"
#include "services/stream_quota.h"
#include "services/testing_service.h"
#include "services/tlog_checkpointer.h"
#include "services/work_queue.h"
#include "storage/cluster_node.h"
#include "storage/rocksdb_event_log.h"

namespace ycr::services {

// The grpc.health.v1 service name of the write path. It answers NOT_SERVING
// while the log's writes are stopped by a failed write (a full disk), and
// SERVING once they resume; the server ("") and every gRPC service stay
// SERVING meanwhile, because reads, queries and subscriptions keep working.
// A probe that must only send writes checks this name.
inline constexpr char kWritesHealthService[] = "ycr.v1.writes";

// The grpc.health.v1 service name a load balancer asks to find the node that
// takes commands. A single node always answers SERVING; in replicated mode
// (--replication) only the leader does, and kWritesHealthService follows it
// (writes possible: the store's disk, and leading). A node that is not
// ready (catching up after a restore, or stopped applying for good)
// answers NOT_SERVING for the server ("") too: its reads may be stale.
inline constexpr char kLeaderHealthService[] = "ycr.v1.leader";

struct ServerOptions {
  // host:port, the port required (CheckListenAddress); port 0 picks a free
  // one. Default: 127.0.0.1:7070.
  std::string listen = "127.0.0.1:7070";
  // Mutual TLS (the default) or, on loopback only, plain text.
  ServerSecurity security;
  storage::RocksDbEventLogOptions log;
  EventStoreServiceOptions event_store;
  // Threads serving reads and subscriptions. Default: 2.
  int reader_threads = 2;
  // Threads running domain commands (each waits for its append, so this
  // bounds how many commands share one WAL sync). Default: 8; ycr-server's
  // --command_threads: 64 (ycr-bench --mode=domain: 3-5k commands/s with
  // 64 against 1.3-2.1k with 8, README "Benchmark").
  int command_threads = 8;
  // Source of "now" for domain rules. Not owned. Default: SystemClock().
  Clock* clock = nullptr;
  // End-to-end tests only: a clock the ycr.v1.Testing service moves. When
  // set, it is the clock, and that service is served; only on a loopback
  // `listen` address. Not owned.
  ManualClock* testing_clock = nullptr;
  // How projections read and commit.
  projections::RunnerOptions projections;
  // Server streams (Subscribe, Audit.Trail, Audit.OrganisationDisclosures)
  // one caller (organisation and user) may hold open at once; more are
  // RESOURCE_EXHAUSTED. 0: no limit. Default: 16.
  int max_streams_per_caller = 16;
  // Largest request a client may send. Default: 8 MiB.
  int max_receive_message_bytes = 8 << 20;
  // Where ycr.v1.Admin.Backup writes copies of the store (best on the same
  // filesystem as the store). Default: "" (backups off).
  std::string backup_dir;
  // host:port of the Prometheus endpoint (GET /metrics); port 0 picks a free
  // one. Default: "" (no endpoint; metrics are still kept).
  std::string metrics_listen;
  // Connection bounds of both HTTP listeners (metrics and tlog).
  HttpLimits http_limits;
  // The access log of reads of personal data (services/security/access_log.h).
  AccessLogOptions access_log;
  // Signed checkpoints of the log's tree (README "Proving the audit
  // trail"). The origin, which is also the signer key's name. Default: ""
  // (the store's own, tlog_identity.h).
  std::string tlog_origin;
  // The signer key's file (ycr-server keygen). Empty: the data directory's
  // tlog-signer.key, made on first start (the server logs its verifier
  // key). A key named otherwise than tlog_origin is refused, and so is a
  // key other than the one that signed the store's last checkpoint unless
  // tlog_key_rotated.
  std::string tlog_key_file;
  bool tlog_key_rotated = false;
  // A new checkpoint this often while the log grows. Zero: none but on
  // demand (Checkpointer::Tick, Audit.Checkpoint with min_tree_size), for
  // tests. Default: 1 s.
  absl::Duration checkpoint_interval = absl::Seconds(1);
  // host:port of the tlog-tiles read API (tlog_http.h); port 0 picks a free
  // one. Default: "" (off; Audit.Checkpoint and the proofs still answer).
  std::string tlog_listen;
  // Replicated mode (issue 17; ycr-server --replication): opens the log in
  // place of a single node's store. Given the store's options, returns the
  // cluster's log (where commands append; it answers UNAVAILABLE naming the
  // leader on a node that does not lead) and sets *local to the node's own
  // store, which the returned log owns (reads, projections, the access log
  // and backups use it), and *node to what the node tells of its role
  // (health) and holds for backups, also owned by the returned log.
  // Default: none (a single node).
  std::function<absl::StatusOr<std::unique_ptr<storage::EventLog>>(
      storage::RocksDbEventLogOptions options, storage::RocksDbEventLog** local,
      storage::ClusterNode** node)>
      open_cluster_log;
};

// Every projection the server runs, in the order it adds them. `log` must
// outlive them.
std::vector<std::unique_ptr<projections::Projection>> ServerProjections(
    storage::EventLog* log);

class Server {
 public:
  // Opens the log and starts serving. INVALID_ARGUMENT, before anything is
  // opened, for an address without a port (`listen`, `metrics_listen`), a
  // testing clock on an address other than loopback, or unusable security
  // settings (server_security.h); errors from the log's Open, or
  // UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options);

  // Shuts down if still running.
  ~Server();

  // The bound port (useful with port 0).
  int port() const { return port_; }
  // The metrics endpoint's bound port; 0 when it is off.
  int metrics_port() const {
    return metrics_http_ != nullptr ? metrics_http_->port() : 0;
  }
  // The tlog HTTP listener's bound port; 0 when it is off.
  int tlog_port() const {
    return tlog_http_ != nullptr ? tlog_http_->port() : 0;
  }
  // Signs and keeps the log's checkpoints.
  Checkpointer& checkpointer() { return *checkpointer_; }
  // True when this start made the data directory's signer key.
  bool made_signer_key() const { return made_signer_key_; }
  // Every metric of this server: the log's writer, calls by method and code,
  // overdue flags, the log head and each projection's lag.
  MetricRegistry& metrics() { return *metrics_; }
  storage::EventLog& log() { return *log_; }
  projections::ProjectionHost& projections() { return *projections_; }
  // The access log's recorder (tests flush it by hand); null when
  // options.access_log.enabled is false.
  AccessRecorder* access_recorder() { return access_recorder_.get(); }

  // grpc.health.v1 answers NOT_SERVING from now on, for the server ("") and
  // every service, while calls are still served: load balancers and probes
  // stop sending new work before Shutdown() refuses it. Idempotent.
  void BeginDrain();

  // OK while the log accepts appends; otherwise why writes are stopped.
  absl::Status WriteState() { return log_->WriteState(); }

  // Drains (as BeginDrain), ends subscriptions, lets in-flight calls finish
  // (up to `grace`, then cancels them); new calls are refused. Then closes
  // the log. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(10));

 private:
  Server() = default;
  void AddGauges();
  // The log's writes stopped (error) or resumed (OK): sets the write path's
  // health (kWritesHealthService), unless draining.
  void OnWriteState(const absl::Status& state);
  // The node's role in a cluster changed (health, as kLeaderHealthService
  // says).
  void OnRole(storage::ClusterRole role);
  // A cluster node's /healthz ("SERVING leader|follower", 503 "NOT_SERVING
  // not_ready" while it catches up or once it stopped applying) and
  // /healthz/leader (200 on the leader only); nullopt for other paths.
  std::optional<HttpReply> RoleHealth(const std::string& path);
  // Sets the health services from the write state and role.
  void ApplyHealth() ABSL_EXCLUSIVE_LOCKS_REQUIRED(health_mu_);

  // Declared first: destroyed last, after everything that records into it.
  std::unique_ptr<MetricRegistry> metrics_;
  // The cluster's log in replicated mode (it owns the node's store), or
  // the node's own store on a single node; log_ is that store, append_log_
  // where appends go (the cluster's log, or the store).
  std::unique_ptr<storage::EventLog> owned_log_;
  storage::RocksDbEventLog* log_ = nullptr;
  storage::EventLog* append_log_ = nullptr;
  // Replicated mode: the node's role and backup holds (owned by owned_log_).
  storage::ClusterNode* cluster_ = nullptr;
  std::unique_ptr<storage::ProjectionStore> projection_store_;
  std::unique_ptr<storage::AccessLogStore> access_log_store_;
  std::unique_ptr<AccessRecorder> access_recorder_;
  std::unique_ptr<AccessLogService> access_log_service_;
  std::unique_ptr<projections::ProjectionHost> projections_;
  std::unique_ptr<DeadlineService> deadlines_;
  std::unique_ptr<CaseloadService> caseloads_;
  std::unique_ptr<AuditService> audit_;
  std::unique_ptr<ProjectionAdminService> projection_admin_;
  std::unique_ptr<WorkQueue> readers_;
  // Where reads of personal data wait for this node to be current
  // (AccessLogOptions::run_waiting), apart from readers_.
  std::unique_ptr<WorkQueue> waiting_;
  std::unique_ptr<StreamQuota> streams_;
  std::unique_ptr<EventStoreService> event_store_;
  std::unique_ptr<WorkQueue> command_pool_;
  std::unique_ptr<DomainCommands> commands_;
  std::unique_ptr<ConsentService> consents_;
  std::unique_ptr<SharingService> sharing_;
  std::unique_ptr<ReferralService> referrals_;
  std::unique_ptr<SubjectService> subjects_;
  std::unique_ptr<InterventionService> interventions_;
  std::unique_ptr<AgreementService> agreements_;
  std::unique_ptr<AreaService> areas_;
  std::unique_ptr<CorrespondenceService> correspondence_;
  std::unique_ptr<SafeguardingService> safeguarding_;
  std::unique_ptr<TestingService> testing_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  std::unique_ptr<Checkpointer> checkpointer_;
  std::unique_ptr<MetricsHttpServer> tlog_http_;
  bool made_signer_key_ = false;
  int port_ = 0;
  bool shut_down_ = false;
  // False from BeginDrain on (the metrics endpoint's /healthz).
  std::atomic<bool> serving_{true};
  // Orders health changes from the log's writer thread against the start
  // and the drain.
  absl::Mutex health_mu_;
  bool health_ready_ ABSL_GUARDED_BY(health_mu_) = false;
  bool draining_ ABSL_GUARDED_BY(health_mu_) = false;
  bool writes_ok_ ABSL_GUARDED_BY(health_mu_) = true;
  storage::ClusterRole role_ ABSL_GUARDED_BY(health_mu_) =
      storage::ClusterRole::kLeader;
};

}  // namespace ycr::services
