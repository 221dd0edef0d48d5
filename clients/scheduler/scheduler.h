#pragma once

// The scheduler: lists what is overdue and records one flag per missed
// deadline, only through the gRPC API (with a deadline on every call).
//
// Exactly once: the request id of a flag is derived from the deadline (kind,
// id, due date, and whether it is the escalation), so a retry, a restart or
// a second scheduler running at once replays the same command instead of
// flagging again. A deadline that moved (a promised date) is a new deadline.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/follow_leader.h"
#include "common/log.h"
#include "common/metrics.h"
#include "ycr/v1/event_store.grpc.pb.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::services {

struct SchedulerOptions {
  // The scheduler's identity (role is always "scheduler"), sent as metadata
  // when `identity_metadata` (to a server started with --insecure; over
  // mutual TLS it is the client certificate's).
  std::string organisation = "scheduler";
  std::string user = "ycr-scheduler";
  bool identity_metadata = true;
  // Print what would be flagged; flag nothing.
  bool dry_run = false;
  // Flag again, as escalated, once a flag is this old (0: never).
  absl::Duration escalate_after = absl::ZeroDuration();
  // Deadline of each call.
  absl::Duration call_timeout = absl::Seconds(10);
  // Between passes, when running continuously.
  absl::Duration interval = absl::Seconds(60);
  // Longest wait between retries after a failed pass (doubling from 1 s).
  absl::Duration max_backoff = absl::Seconds(60);
  // A channel to another node with the scheduler's own security: a flag a
  // cluster's follower refuses with NOT_LEADER is sent once more to the
  // leader it names (clients/follow_leader.h), and later flags go straight
  // there. Null: not followed (the flag fails, and is tried next pass).
  clients::Redial redial;
  // Where to count items by outcome (ycr_scheduler_items_total{outcome});
  // null: not counted. Must outlive the scheduler.
  MetricRegistry* metrics = nullptr;
};

struct PassResult {
  int overdue = 0;
  int flagged = 0;
  int escalated = 0;
  // Flagged before (by this or another scheduler): nothing written.
  int replayed = 0;
  // Done or moved between listing and flagging, or flagged meanwhile by
  // another scheduler.
  int skipped = 0;
  // The flag call failed (logged, counted); the pass went on to the next.
  int failed = 0;
};

// The request id of a flag: a UUID (version 5 layout) from SHA-256 of the
// deadline's kind, id, due date and escalation.
std::string FlagRequestId(const v1::DeadlineItem& item, bool escalated);

// One "scheduler.pass" event with the pass's counts.
void LogPass(Logger* log, const PassResult& pass, absl::Duration took);

class Scheduler {
 public:
  // Logs one event per action to `log`, which must outlive it.
  Scheduler(std::shared_ptr<grpc::Channel> channel, SchedulerOptions options,
            Logger* log);

  // One pass: every overdue item now (by the server's clock, as of the log's
  // head when the pass starts), flagged if it is not yet, escalated if due.
  // Each item on its own: one whose flag fails is logged
  // ("scheduler.flag_failed") and counted (PassResult::failed) and the pass
  // goes on. Only failing to read the head or list the items fails the pass
  // (nothing is flagged twice by trying again).
  absl::StatusOr<PassResult> RunOnce();

  // Passes every `interval` until `stop` is set; a failed pass is retried
  // after a backoff (1 s doubling to max_backoff). Never throws or exits.
  void Run(const std::atomic<bool>* stop);

 private:
  void Prepare(grpc::ClientContext* context) const;
  void Count(const char* outcome) const;
  // FlagOverdue on the node that takes commands, following NOT_LEADER.
  grpc::Status Flag(const v1::FlagOverdueRequest& flag,
                    v1::CommandResponse* done);

  std::unique_ptr<v1::Deadlines::Stub> stub_;
  std::unique_ptr<v1::EventStore::Stub> log_stub_;
  const SchedulerOptions options_;
  Logger* const log_;
  // Where flags go: the server given, or the leader it last named.
  std::shared_ptr<grpc::Channel> command_channel_;
};

}  // namespace ycr::services
