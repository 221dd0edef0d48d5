#include "clients/scheduler/scheduler.h"

#include <initializer_list>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "common/wire_names.h"

namespace ycr::services {
namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

// Logs `event` with the fields that name `item`, then `extra`.
void LogItem(Logger* log, absl::string_view event, const v1::DeadlineItem& item,
             std::initializer_list<LogField> extra = {}) {
  std::vector<LogField> fields = {
      {"kind", v1::DeadlineItem::Kind_Name(item.kind())},
      {"id", item.id()},
      {"due", absl::FormatTime(absl::RFC3339_sec, FromProtoTime(item.due_at()),
                               absl::UTCTimeZone())},
      {"owed_by", item.owed_by()},
      {"owed_to", item.owed_to()}};
  fields.insert(fields.end(), extra.begin(), extra.end());
  log->Log(LogLevel::kInfo, event, fields);
}

}  // namespace

std::string FlagRequestId(const v1::DeadlineItem& item, bool escalated) {
  return NameUuid(absl::StrCat(
      "ycr-overdue", std::string(1, '\0'), item.kind(), std::string(1, '\0'),
      item.id(), std::string(1, '\0'), item.due_at().seconds(), ".",
      item.due_at().nanos(), std::string(1, '\0'), escalated ? "1" : "0"));
}

Scheduler::Scheduler(std::shared_ptr<grpc::Channel> channel,
                     SchedulerOptions options, Logger* log)
    : stub_(v1::Deadlines::NewStub(channel)),
      log_stub_(v1::EventStore::NewStub(channel)),
      options_(std::move(options)),
      log_(log),
      command_channel_(std::move(channel)) {}

void Scheduler::Count(const char* outcome) const {
  if (options_.metrics == nullptr) return;
  options_.metrics
      ->GetCounter("ycr_scheduler_items_total",
                   "Overdue items handled by the scheduler, by outcome.",
                   {{"outcome", outcome}})
      ->Increment();
}

void Scheduler::Prepare(grpc::ClientContext* context) const {
  if (options_.identity_metadata) {
    context->AddMetadata(kOrganisationMetadata, options_.organisation);
    context->AddMetadata(kUserMetadata, options_.user);
    context->AddMetadata(kRoleMetadata, "scheduler");
  }
  context->set_deadline(
      absl::ToChronoTime(absl::Now() + options_.call_timeout));
}

grpc::Status Scheduler::Flag(const v1::FlagOverdueRequest& flag,
                             v1::CommandResponse* done) {
  clients::Redial redial;
  if (options_.redial) {
    // The leader's channel is kept for the next flags.
    redial = [this](const std::string& address) {
      command_channel_ = options_.redial(address);
      return command_channel_;
    };
  }
  return clients::FollowLeaderOnce<grpc::Status>(
      command_channel_, redial,
      [this, &flag, done](const std::shared_ptr<grpc::Channel>& channel,
                          std::string* leader) {
        grpc::ClientContext context;
        Prepare(&context);
        const grpc::Status s =
            v1::Deadlines::NewStub(channel)->FlagOverdue(&context, flag, done);
        *leader = clients::LeaderNamedBy(s);
        return s;
      },
      [this](const std::string& leader) {
        log_->Log(LogLevel::kInfo, "scheduler.following_leader",
                  {{"leader", leader}});
      });
}

absl::StatusOr<PassResult> Scheduler::RunOnce() {
  PassResult result;
  // Everything recorded before the pass starts is seen (read-your-writes).
  v1::HeadResponse head;
  {
    grpc::ClientContext context;
    Prepare(&context);
    grpc::Status s = log_stub_->Head(&context, v1::HeadRequest(), &head);
    if (!s.ok()) return FromGrpc(s);
  }
  std::string token;
  do {
    v1::ListOverdueRequest list;
    list.set_min_position(head.position());
    list.set_page_size(1000);
    list.set_page_token(token);
    v1::ListDeadlinesResponse page;
    grpc::ClientContext context;
    Prepare(&context);
    grpc::Status listed = stub_->ListOverdue(&context, list, &page);
    if (!listed.ok()) return FromGrpc(listed);
    const absl::Time now = FromProtoTime(page.as_of());
    for (const v1::DeadlineItem& item : page.items()) {
      ++result.overdue;
      bool escalate = false;
      if (item.has_flagged_at()) {
        escalate =
            options_.escalate_after > absl::ZeroDuration() &&
            !item.escalated() &&
            FromProtoTime(item.flagged_at()) + options_.escalate_after <= now;
        if (!escalate) continue;
      }
      if (options_.dry_run) {
        LogItem(log_,
                escalate ? "scheduler.would_escalate" : "scheduler.would_flag",
                item);
        continue;
      }
      v1::FlagOverdueRequest flag;
      flag.set_request_id(FlagRequestId(item, escalate));
      auto* f = flag.mutable_flag();
      f->set_kind(item.kind());
      f->set_id(item.id());
      *f->mutable_due_at() = item.due_at();
      f->set_escalated(escalate);
      v1::CommandResponse done;
      grpc::Status s = Flag(flag, &done);
      if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
        // Answered or moved since it was listed, or flagged meanwhile by
        // another scheduler.
        ++result.skipped;
        Count("skipped");
        LogItem(log_, "scheduler.skipped", item,
                {{"reason", s.error_message()}});
        continue;
      }
      if (!s.ok()) {
        // This item only: the others are still flagged (it is tried again
        // next pass, under the same request id).
        ++result.failed;
        Count("failed");
        log_->Log(LogLevel::kWarning, "scheduler.flag_failed",
                  {{"kind", v1::DeadlineItem::Kind_Name(item.kind())},
                   {"id", item.id()},
                   {"error", FromGrpc(s).ToString()}});
        continue;
      }
      if (done.replayed()) {
        ++result.replayed;
        Count("replayed");
      } else if (escalate) {
        ++result.escalated;
        Count("escalated");
      } else {
        ++result.flagged;
        Count("flagged");
      }
      LogItem(log_,
              done.replayed()
                  ? (escalate ? "scheduler.already_escalated"
                              : "scheduler.already_flagged")
                  : (escalate ? "scheduler.escalated" : "scheduler.flagged"),
              item, {{"position", absl::StrCat(done.position())}});
    }
    token = page.next_page_token();
  } while (!token.empty());
  return result;
}

void LogPass(Logger* log, const PassResult& pass, absl::Duration took) {
  log->Log(LogLevel::kInfo, "scheduler.pass",
           {{"overdue", absl::StrCat(pass.overdue)},
            {"flagged", absl::StrCat(pass.flagged)},
            {"escalated", absl::StrCat(pass.escalated)},
            {"already_flagged", absl::StrCat(pass.replayed)},
            {"skipped", absl::StrCat(pass.skipped)},
            {"failed", absl::StrCat(pass.failed)},
            {"took", absl::FormatDuration(took)}});
}

void Scheduler::Run(const std::atomic<bool>* stop) {
  absl::Duration backoff = absl::Seconds(1);
  while (!stop->load()) {
    absl::Duration wait = options_.interval;
    const absl::Time started = absl::Now();
    absl::StatusOr<PassResult> pass = RunOnce();
    if (pass.ok()) {
      backoff = absl::Seconds(1);
      LogPass(log_, *pass, absl::Now() - started);
    } else {
      log_->Log(LogLevel::kWarning, "scheduler.pass_failed",
                {{"error", pass.status().ToString()},
                 {"retry_in", absl::FormatDuration(backoff)}});
      wait = backoff;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    // Sleep in short steps so that a stop is seen promptly.
    const absl::Time until = absl::Now() + wait;
    while (!stop->load() && absl::Now() < until) {
      absl::SleepFor(std::min(absl::Milliseconds(200), until - absl::Now()));
    }
  }
}

}  // namespace ycr::services
