#include "services/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "projections/audit_trail.h"
#include "projections/caseloads.h"
#include "projections/deadlines.h"
#include "services/grpc_status.h"
#include "services/security/access_policy.h"
#include "services/tlog_http.h"
#include "services/tlog_identity.h"

namespace ycr::services {
namespace {

// The label of calls to any method the server does not serve.
constexpr char kUnknownMethod[] = "unknown";

// Threads on which reads of personal data wait for the node to be current
// (at least the readers': a wait is one shared etcd read on a healthy
// node).
constexpr int kWaitingThreads = 4;

// Every method a call may be counted under by name: each RPC of ycr.v1 (the
// policy table has one row per RPC) and the gRPC services the server adds
// (health, reflection). Anything else a client names is "unknown": the
// method of a call is the client's text, and a label per made-up name
// would let any caller grow the metrics without bound.
absl::flat_hash_set<std::string> KnownMethods() {
  absl::flat_hash_set<std::string> known = {
      "/grpc.health.v1.Health/Check",
      "/grpc.health.v1.Health/Watch",
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
  };
  for (const PolicyRow& row : PolicyTable()) known.insert(row.method);
  return known;
}

// Counts every call the server answers by method and status code
// (ycr_grpc_server_handled_total), errors included.
class CallCounter : public grpc::experimental::Interceptor {
 public:
  CallCounter(std::string method, MetricRegistry* metrics)
      : method_(std::move(method)), metrics_(metrics) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_
          ->GetCounter(
              "ycr_grpc_server_handled_total",
              "Calls answered, by full method name and gRPC status code.",
              {{"method", method_},
               {"code", StatusCodeName(methods->GetSendStatus().error_code())}})
          ->Increment();
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  MetricRegistry* const metrics_;
};

class CallCounterFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallCounterFactory(MetricRegistry* metrics)
      : metrics_(metrics), known_(KnownMethods()) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const char* method = info->method();
    return new CallCounter(
        method != nullptr && known_.contains(method) ? method : kUnknownMethod,
        metrics_);
  }

 private:
  MetricRegistry* const metrics_;
  const absl::flat_hash_set<std::string> known_;
};

}  // namespace

std::vector<std::unique_ptr<projections::Projection>> ServerProjections(
    storage::EventLog* log) {
  std::vector<std::unique_ptr<projections::Projection>> all;
  all.push_back(std::make_unique<projections::DeadlinesProjection>(log));
  all.push_back(std::make_unique<projections::AuditTrailProjection>());
  all.push_back(std::make_unique<projections::CaseloadsProjection>());
  return all;
}

void Server::AddGauges() {
  metrics_->AddGaugeFamily(
      "ycr_log_writes_stopped",
      "1 while a failed write (disk full, I/O error) stops appends; reads go "
      "on. The writer resumes by itself once the store can write.",
      [this] {
        return std::vector<GaugeSample>{
            {{}, log_->WriteState().ok() ? 0.0 : 1.0}};
      });
  metrics_->AddGaugeFamily(
      "ycr_log_head_position", "Position of the last event in the log.",
      [this] {
        return std::vector<GaugeSample>{
            {{}, static_cast<double>(log_->GetHead().position)}};
      });
  // Rebuild progress: one sample per projection being rebuilt.
  auto rebuilding = [this](auto value) {
    std::vector<GaugeSample> samples;
    for (const projections::ProjectionStatus& s : projections_->Status()) {
      if (s.building_generation == 0) continue;
      samples.push_back({{{"projection", s.name}}, value(s.building_progress)});
    }
    return samples;
  };
  metrics_->AddGaugeFamily(
      "ycr_projection_rebuild_applied_events",
      "Events a projection's rebuild has applied (only while it runs).",
      [rebuilding] {
        return rebuilding([](const projections::BuildProgress& p) {
          return static_cast<double>(p.applied);
        });
      });
  metrics_->AddGaugeFamily(
      "ycr_projection_rebuild_total_events",
      "Events a projection's rebuild must apply: the log head at its last "
      "commit (only while it runs).",
      [rebuilding] {
        return rebuilding([](const projections::BuildProgress& p) {
          return static_cast<double>(p.head);
        });
      });
  metrics_->AddGaugeFamily(
      "ycr_projection_rebuild_events_per_second",
      "A projection rebuild's rate since it began (only while it runs).",
      [rebuilding] {
        return rebuilding([](const projections::BuildProgress& p) {
          return p.events_per_second;
        });
      });
  metrics_->AddGaugeFamily(
      "ycr_projection_rebuild_eta_seconds",
      "Seconds until a projection's rebuild catches up, at its rate so far "
      "(+Inf until it has one; only while it runs).",
      [rebuilding] {
        return rebuilding([](const projections::BuildProgress& p) {
          return p.eta == absl::InfiniteDuration()
                     ? std::numeric_limits<double>::infinity()
                     : absl::ToDoubleSeconds(p.eta);
        });
      });
  metrics_->AddGaugeFamily(
      "ycr_projection_lag_events",
      "Events in the log that a projection has not applied yet (log head "
      "minus its checkpoint).",
      [this] {
        // The head first: a projection cannot be ahead of it, so the lag
        // read this way is never negative.
        const uint64_t head = log_->GetHead().position;
        std::vector<GaugeSample> samples;
        for (const projections::ProjectionStatus& s : projections_->Status()) {
          samples.push_back(
              {{{"projection", s.name}},
               static_cast<double>(head > s.applied ? head - s.applied : 0)});
        }
        return samples;
      });
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options) {
  // Checked before anything is opened.
  RETURN_IF_ERROR(CheckListenAddress("listen", options.listen));
  if (!options.metrics_listen.empty()) {
    RETURN_IF_ERROR(
        CheckListenAddress("metrics_listen", options.metrics_listen));
  }
  if (!options.tlog_listen.empty()) {
    RETURN_IF_ERROR(CheckListenAddress("tlog_listen", options.tlog_listen));
  }
  // Whoever reaches the Testing service moves every deadline: only callers
  // on this machine.
  if (options.testing_clock != nullptr && !IsLoopbackAddress(options.listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "testing time control is allowed only on a loopback address, not on ",
        options.listen));
  }
  if (options.security.logger == nullptr) {
    options.security.logger = options.log.logger;
  }
  ASSIGN_OR_RETURN(ListeningSecurity security,
                   PrepareSecurity(options.listen, options.security));
  std::unique_ptr<Server> server(new Server());
  server->metrics_ = std::make_unique<MetricRegistry>();
  options.log.metrics = server->metrics_.get();
  if (options.testing_clock != nullptr) options.clock = options.testing_clock;
  // One clock for the rules and the log's recorded_at.
  if (options.log.clock == nullptr) options.log.clock = options.clock;
  Server* raw = server.get();
  options.log.on_write_state =
      [raw, chained = options.log.on_write_state](const absl::Status& state) {
        raw->OnWriteState(state);
        if (chained) chained(state);
      };
  const std::string data_dir = options.log.path;
  if (options.open_cluster_log) {
    ASSIGN_OR_RETURN(server->owned_log_,
                     options.open_cluster_log(options.log, &server->log_,
                                              &server->cluster_));
    server->append_log_ = server->owned_log_.get();
  } else {
    ASSIGN_OR_RETURN(std::unique_ptr<storage::RocksDbEventLog> store,
                     storage::RocksDbEventLog::Open(options.log));
    server->log_ = store.get();
    server->append_log_ = store.get();
    server->owned_log_ = std::move(store);
  }
  server->projection_store_ = server->log_->NewProjectionStore();
  // The log's signer key and origin, as the store remembers them.
  TlogIdentityOptions tlog;
  tlog.origin = options.tlog_origin;
  tlog.key_file = options.tlog_key_file;
  tlog.data_dir = data_dir;
  tlog.key_rotated = options.tlog_key_rotated;
  absl::StatusOr<TlogIdentity> identity =
      LoadTlogIdentity(tlog, *server->projection_store_, *server->log_);
  if (!identity.ok()) {
    server->append_log_->Close();
    return identity.status();
  }
  server->made_signer_key_ = identity->made_key;
  const std::string verifier_key = note::VerifierKey(identity->signer);
  if (!identity->rotated_from.empty() && options.log.logger != nullptr) {
    options.log.logger->Log(LogLevel::kWarning, "tlog.key_rotated",
                            {{"from", identity->rotated_from},
                             {"to", verifier_key},
                             {"flag", "--tlog_key_rotated"}});
  }
  server->projections_ = std::make_unique<projections::ProjectionHost>(
      server->log_, server->projection_store_.get(), options.projections);
  for (auto& projection : ServerProjections(server->log_)) {
    server->projections_->Add(std::move(projection));
  }
  // Rebuilds are timed by the wall clock, whatever clock the rules use.
  server->projections_->SetProgressLog(options.log.logger, &SystemClock(),
                                       absl::Seconds(10));
  if (absl::Status s = server->projections_->Start(); !s.ok()) {
    server->projections_->Stop();
    server->append_log_->Close();
    return s;
  }
  server->readers_ = std::make_unique<WorkQueue>(options.reader_threads);
  absl::StatusOr<std::unique_ptr<storage::AccessLogStore>> access_store =
      server->log_->NewAccessLogStore();
  if (!access_store.ok()) {
    server->projections_->Stop();
    server->append_log_->Close();
    return access_store.status();
  }
  if (server->cluster_ != nullptr) {
    // A cluster's access log: every node's reads, on every node.
    access_store = server->cluster_->ClusterAccessLog(*std::move(access_store));
    if (!access_store.ok()) {
      server->projections_->Stop();
      server->append_log_->Close();
      return access_store.status();
    }
  }
  server->access_log_store_ = *std::move(access_store);
  if (server->cluster_ != nullptr && !options.access_log.enabled) {
    // Personal reads wait for the cluster's newest writes through it.
    server->projections_->Stop();
    server->append_log_->Close();
    return absl::InvalidArgumentError(
        "access_log.enabled: a cluster node logs every read of personal data");
  }
  if (options.access_log.enabled) {
    AccessLogOptions access_options = options.access_log;
    if (access_options.logger == nullptr) {
      access_options.logger = options.log.logger;
    }
    // The cluster's log on a cluster node (a follower asks etcd).
    access_options.await_current =
        [log = server->append_log_](const storage::AwaitCurrentOptions& wait) {
          return log->AwaitCurrent(wait);
        };
    // A cluster node's waits on threads of their own: a caller sending many
    // reads to a node that cannot be current (held back, etcd slow or gone)
    // holds at most these, never the readers that serve every other read.
    // A single node's wait is its head, at once: it runs where the call
    // arrived, with no thread hop.
    if (server->cluster_ != nullptr) {
      server->waiting_ = std::make_unique<WorkQueue>(
          std::max(kWaitingThreads, options.reader_threads));
      access_options.run_waiting = [waiting = server->waiting_.get()](
                                       absl::AnyInvocable<void() &&> wait) {
        waiting->Post(std::move(wait));
      };
    }
    server->access_recorder_ = std::make_unique<AccessRecorder>(
        server->access_log_store_.get(),
        options.clock != nullptr ? options.clock : &SystemClock(),
        access_options, server->metrics_.get());
  }
  AccessRecorder* const access = server->access_recorder_.get();
  server->access_log_service_ = std::make_unique<AccessLogService>(
      server->access_log_store_.get(), server->readers_.get());
  server->caseloads_ = std::make_unique<CaseloadService>(
      server->projections_.get(), server->readers_.get(), access);
  server->streams_ =
      std::make_unique<StreamQuota>(options.max_streams_per_caller);
  server->commands_ = std::make_unique<DomainCommands>(
      server->append_log_,
      options.clock != nullptr ? options.clock : &SystemClock());
  server->audit_ = std::make_unique<AuditService>(
      server->projections_.get(), server->log_, server->readers_.get(), access,
      server->streams_.get(),
      [commands = server->commands_.get()](const std::string& subject_id) {
        return commands->LoadSubjectRecord(subject_id);
      });
  // The cluster's log on a cluster node (AtLeast waits for its head).
  server->checkpointer_ = std::make_unique<Checkpointer>(
      server->append_log_, std::move(identity->signer),
      std::move(identity->last),
      [store = server->projection_store_.get(),
       verifier_key](const SignedTreeHead& head) {
        return SaveLastCheckpoint(*store, verifier_key, head);
      });
  server->audit_->SetCheckpointer(server->checkpointer_.get());
  // The first checkpoint, before anyone can ask for one.
  if (absl::Status s = server->checkpointer_->Tick().status(); !s.ok()) {
    server->Shutdown(absl::ZeroDuration());
    return s;
  }
  server->projection_admin_ = std::make_unique<ProjectionAdminService>(
      server->projections_.get(), server->log_, server->readers_.get());
  server->admin_ = std::make_unique<AdminService>(
      server->log_, server->readers_.get(), options.backup_dir,
      server->cluster_, options.log.logger);
  server->event_store_ = std::make_unique<EventStoreService>(
      server->append_log_, server->readers_.get(), options.event_store, access,
      server->streams_.get());

  server->command_pool_ = std::make_unique<WorkQueue>(options.command_threads);
  server->deadlines_ = std::make_unique<DeadlineService>(
      server->projections_.get(), server->readers_.get(),
      options.clock != nullptr ? options.clock : &SystemClock(),
      server->commands_.get(), server->command_pool_.get(),
      server->metrics_.get());
  server->consents_ = std::make_unique<ConsentService>(
      server->commands_.get(), server->command_pool_.get(), access);
  server->sharing_ = std::make_unique<SharingService>(
      server->commands_.get(), server->command_pool_.get());
  server->referrals_ = std::make_unique<ReferralService>(
      server->commands_.get(), server->command_pool_.get(), access);
  server->subjects_ = std::make_unique<SubjectService>(
      server->commands_.get(), server->command_pool_.get(), access);
  server->interventions_ = std::make_unique<InterventionService>(
      server->commands_.get(), server->command_pool_.get(), access);
  server->agreements_ = std::make_unique<AgreementService>(
      server->commands_.get(), server->command_pool_.get());
  server->areas_ = std::make_unique<AreaService>(server->commands_.get(),
                                                 server->command_pool_.get());
  server->correspondence_ = std::make_unique<CorrespondenceService>(
      server->commands_.get(), server->command_pool_.get(), access);
  server->safeguarding_ = std::make_unique<SafeguardingService>(
      server->commands_.get(), server->command_pool_.get(), access);

  // grpc.health.v1 (for load balancers and probes) and server reflection
  // (for grpcurl and the like). Both are process-wide switches read by every
  // ServerBuilder built afterwards.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, security.credentials,
                           &server->port_);
  builder.RegisterService(server->event_store_.get());
  builder.RegisterService(server->consents_.get());
  builder.RegisterService(server->sharing_.get());
  builder.RegisterService(server->referrals_.get());
  builder.RegisterService(server->subjects_.get());
  builder.RegisterService(server->interventions_.get());
  builder.RegisterService(server->agreements_.get());
  builder.RegisterService(server->areas_.get());
  builder.RegisterService(server->correspondence_.get());
  builder.RegisterService(server->safeguarding_.get());
  builder.RegisterService(server->deadlines_.get());
  builder.RegisterService(server->caseloads_.get());
  builder.RegisterService(server->audit_.get());
  builder.RegisterService(server->projection_admin_.get());
  builder.RegisterService(server->admin_.get());
  builder.RegisterService(server->access_log_service_.get());
  if (options.testing_clock != nullptr) {
    server->testing_ = std::make_unique<TestingService>(options.testing_clock);
    builder.RegisterService(server->testing_.get());
  }
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  // The caller's identity (caller_identity.h) and the called method's name,
  // for the policy table (access_policy.h).
  interceptors.push_back(
      std::make_unique<CallerInterceptorFactory>(security.identities));
  interceptors.push_back(
      std::make_unique<CallCounterFactory>(server->metrics_.get()));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server->grpc_server_ = builder.BuildAndStart();
  if (server->grpc_server_ == nullptr || server->port_ == 0) {
    server->projections_->Stop();
    server->append_log_->Close();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen,
                     " (address in use or malformed?)"));
  }
  server->AddGauges();
  if (server->cluster_ != nullptr) {
    // Kept until health is ready (OnWriteState below applies it).
    server->cluster_->SetRoleListener(
        [raw](storage::ClusterRole role) { raw->OnRole(role); });
  }
  {
    absl::MutexLock lock(&server->health_mu_);
    server->health_ready_ = true;
  }
  server->OnWriteState(server->log_->WriteState());
  if (!options.metrics_listen.empty()) {
    // A cluster's node says its role on /healthz (Kubernetes' probes
    // cannot present a client certificate to the gRPC port).
    HttpHandler role_health = nullptr;
    if (server->cluster_ != nullptr) {
      role_health = [raw](const std::string& path) {
        return raw->RoleHealth(path);
      };
    }
    auto http = MetricsHttpServer::Start(
        options.metrics_listen, server->metrics_.get(), &server->serving_,
        std::move(role_health), options.http_limits);
    if (!http.ok()) {
      server->Shutdown(absl::ZeroDuration());
      return http.status();
    }
    server->metrics_http_ = *std::move(http);
  }
  // Then one a second while the log grows.
  if (options.checkpoint_interval > absl::ZeroDuration()) {
    Logger* logger = options.log.logger;
    server->checkpointer_->Start(
        options.checkpoint_interval, [logger](const absl::Status& error) {
          if (logger == nullptr) return;
          logger->Log(LogLevel::kError, "tlog.checkpoint_failed",
                      {{"error", error.ToString()}});
        });
  }
  if (!options.tlog_listen.empty()) {
    auto http = MetricsHttpServer::Start(
        options.tlog_listen, nullptr, &server->serving_,
        TlogHttpHandler(server->checkpointer_.get(), server->log_),
        options.http_limits);
    if (!http.ok()) {
      server->Shutdown(absl::ZeroDuration());
      return http.status();
    }
    server->tlog_http_ = *std::move(http);
  }
  return server;
}

Server::~Server() { Shutdown(absl::Seconds(1)); }

void Server::OnWriteState(const absl::Status& state) {
  absl::MutexLock lock(&health_mu_);
  writes_ok_ = state.ok();
  ApplyHealth();
}

void Server::OnRole(storage::ClusterRole role) {
  absl::MutexLock lock(&health_mu_);
  role_ = role;
  ApplyHealth();
}

std::optional<HttpReply> Server::RoleHealth(const std::string& path) {
  if (path != "/healthz" && path != "/healthz/leader") return std::nullopt;
  storage::ClusterRole role;
  {
    absl::MutexLock lock(&health_mu_);
    role = role_;
  }
  // Reads need a node that is ready; /healthz/leader, the one that leads.
  const bool serving =
      serving_.load() &&
      (path == "/healthz" ? role != storage::ClusterRole::kNotReady
                          : role == storage::ClusterRole::kLeader);
  HttpReply reply;
  reply.code = serving ? 200 : 503;
  reply.body = absl::StrCat(serving ? "SERVING " : "NOT_SERVING ",
                            storage::ClusterRoleName(role), "\n");
  return reply;
}

void Server::ApplyHealth() {
  if (!health_ready_ || draining_) return;
  auto* health = grpc_server_->GetHealthCheckService();
  if (health == nullptr) return;
  const bool leads = role_ == storage::ClusterRole::kLeader;
  health->SetServingStatus("", role_ != storage::ClusterRole::kNotReady);
  health->SetServingStatus(kLeaderHealthService, leads);
  health->SetServingStatus(kWritesHealthService, writes_ok_ && leads);
}

void Server::BeginDrain() {
  serving_.store(false);
  if (grpc_server_ == nullptr) return;
  absl::MutexLock lock(&health_mu_);
  draining_ = true;
  // Every service, and the whole server (""), is NOT_SERVING from now on.
  if (auto* health = grpc_server_->GetHealthCheckService(); health != nullptr) {
    health->SetServingStatus(false);
  }
}

void Server::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (grpc_server_ != nullptr) {
    BeginDrain();
    if (cluster_ != nullptr) cluster_->SetRoleListener(nullptr);
    event_store_->BeginShutdown();
    grpc_server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    grpc_server_->Wait();
  }
  // Served through the drain; stopped before what its gauges read closes.
  metrics_http_.reset();
  tlog_http_.reset();
  if (checkpointer_ != nullptr) checkpointer_->Stop();
  if (command_pool_ != nullptr) command_pool_->Stop();
  // Every call has finished: whatever they logged is queued; written before
  // the store closes.
  // Every call has finished, so no read waits; before the readers, to
  // which a wait hands its read.
  if (waiting_ != nullptr) waiting_->Stop();
  if (access_recorder_ != nullptr) access_recorder_->Stop();
  if (projections_ != nullptr) projections_->Stop();
  if (append_log_ != nullptr) append_log_->Close();
  if (readers_ != nullptr) readers_->Stop();
}

}  // namespace ycr::services
