// The query services of query_services.h but Audit: Deadlines (listing,
// and flagging what is overdue) and ProjectionAdmin; and what every query
// shares (its deadline, its page size). Audit is in audit_service.cc.

#include "services/query_services.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "domain/field_checks.h"
#include "domain/refusals.h"
#include "domain/subject_rules.h"
#include "projections/audit_trail.h"
#include "projections/deadlines.h"
#include "services/grpc_status.h"
#include "services/run_query.h"
#include "services/security/area_access.h"
#include "services/security/caller_identity.h"
#include "services/valid_request.h"
#include "services/visibility.h"

namespace ycr::services {
namespace {

constexpr size_t kDefaultPageSize = 100;

// What `caller` may list: its own organisation's deadlines, and a local
// authority those of its area's organisations; auditors and the scheduler
// anyone's (an empty `organisation`: everyone's).
absl::Status MayListFor(storage::EventLog& log, const v1::Actor& caller,
                        const std::string& organisation) {
  if (caller.role() == kAuditorRole || caller.role() == kSchedulerRole) {
    return absl::OkStatus();
  }
  if (organisation == caller.organisation()) return absl::OkStatus();
  ASSIGN_OR_RETURN(bool covered, CoversArea(log, caller, organisation));
  if (covered) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "organisation: a caller lists what its own organisation owes (",
      caller.organisation(),
      "), a local authority its area's; only auditors and the scheduler list "
      "others'"));
}

// The organisation listed: the one named; none named, everyone's ("") for
// those who may list everyone's, else the caller's own.
std::string ListedOrganisation(const v1::Actor& caller,
                               const std::string& organisation) {
  if (organisation.empty() && caller.role() != kAuditorRole &&
      caller.role() != kSchedulerRole) {
    return caller.organisation();
  }
  return organisation;
}

// Before the wait: the request, and whether `caller` may list it.
absl::Status CheckListDeadlines(storage::EventLog& log, const v1::Actor& caller,
                                bool has_by, const char* by_field,
                                const std::string& organisation,
                                uint32_t page_size) {
  if (!has_by) {
    return absl::InvalidArgumentError(absl::StrCat(by_field, ": is required"));
  }
  RETURN_IF_ERROR(
      MayListFor(log, caller, ListedOrganisation(caller, organisation)));
  return PageSize(page_size).status();
}

absl::Status ListDeadlines(projections::ProjectionHost& host,
                           const v1::Actor& caller, uint32_t generation,
                           const google::protobuf::Timestamp& by,
                           const std::string& organisation, uint32_t page_size,
                           const std::string& page_token,
                           v1::ListDeadlinesResponse* response) {
  ASSIGN_OR_RETURN(size_t limit, PageSize(page_size));
  std::vector<v1::DeadlineItem> items;
  std::string next;
  RETURN_IF_ERROR(projections::ListDue(host.store(), generation,
                                       FromProtoTime(by),
                                       ListedOrganisation(caller, organisation),
                                       page_token, limit, &items, &next));
  for (v1::DeadlineItem& item : items) {
    *response->add_items() = std::move(item);
  }
  response->set_next_page_token(next);
  *response->mutable_as_of() = by;
  return absl::OkStatus();
}

}  // namespace

absl::Time QueryDeadline(const grpc::CallbackServerContext& context) {
  const absl::Time call = absl::FromChrono(context.deadline());
  const absl::Time cap = absl::Now() + kDefaultQueryWait;
  return call < cap ? call : cap;
}

absl::StatusOr<size_t> PageSize(uint32_t page_size) {
  if (page_size == 0) return kDefaultPageSize;
  if (page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: at most ", kMaxPageSize));
  }
  return page_size;
}

grpc::ServerUnaryReactor* DeadlineService::ListDue(
    grpc::CallbackServerContext* context, const v1::ListDueRequest* request,
    v1::ListDeadlinesResponse* response) {
  const absl::Time deadline = QueryDeadline(*context);
  return RunProjectionQuery(
      context, *request, pool_, host_, "deadlines", deadline,
      [this, request](const v1::Actor& caller,
                      ReadAccess*) -> absl::StatusOr<uint64_t> {
        RETURN_IF_ERROR(
            CheckListDeadlines(host_->log(), caller, request->has_by(), "by",
                               request->organisation(), request->page_size()));
        return request->min_position();
      },
      [this, request, response](const v1::Actor& caller, ReadAccess*,
                                const projections::GenerationLease& lease) {
        return ListDeadlines(*host_, caller, lease.generation(), request->by(),
                             request->organisation(), request->page_size(),
                             request->page_token(), response);
      });
}

grpc::ServerUnaryReactor* DeadlineService::ListOverdue(
    grpc::CallbackServerContext* context, const v1::ListOverdueRequest* request,
    v1::ListDeadlinesResponse* response) {
  const absl::Time deadline = QueryDeadline(*context);
  const google::protobuf::Timestamp as_of =
      request->has_as_of() ? request->as_of() : ToProtoTime(clock_->Now());
  return RunProjectionQuery(
      context, *request, pool_, host_, "deadlines", deadline,
      [this, request](const v1::Actor& caller,
                      ReadAccess*) -> absl::StatusOr<uint64_t> {
        RETURN_IF_ERROR(CheckListDeadlines(host_->log(), caller, true, "as_of",
                                           request->organisation(),
                                           request->page_size()));
        return request->min_position();
      },
      [this, request, response, as_of](
          const v1::Actor& caller, ReadAccess*,
          const projections::GenerationLease& lease) {
        return ListDeadlines(*host_, caller, lease.generation(), as_of,
                             request->organisation(), request->page_size(),
                             request->page_token(), response);
      });
}

DeadlineService::DeadlineService(projections::ProjectionHost* host,
                                 WorkQueue* pool, Clock* clock,
                                 DomainCommands* commands,
                                 WorkQueue* command_pool,
                                 MetricRegistry* metrics)
    : host_(host),
      pool_(pool),
      clock_(clock),
      commands_(commands),
      command_pool_(command_pool) {
  if (metrics == nullptr) return;
  constexpr char kHelp[] =
      "Missed deadlines flagged through Deadlines.FlagOverdue (by the "
      "scheduler): recorded, or replayed (flagged before, nothing written).";
  flags_recorded_ = metrics->GetCounter("ycr_overdue_flags_total", kHelp,
                                        {{"result", "recorded"}});
  flags_replayed_ = metrics->GetCounter("ycr_overdue_flags_total", kHelp,
                                        {{"result", "replayed"}});
}

grpc::ServerUnaryReactor* DeadlineService::FlagOverdue(
    grpc::CallbackServerContext* context, const v1::FlagOverdueRequest* request,
    v1::CommandResponse* response) {
  const absl::Time deadline = QueryDeadline(*context);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<v1::Actor> caller = ResolveValidCaller(*context, *request);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  command_pool_->Post(
      [this, reactor, context, request, response, deadline, caller = *caller] {
        absl::StatusOr<storage::AppendResult> result =
            [&]() -> absl::StatusOr<storage::AppendResult> {
          if (caller.role() != kSchedulerRole) {
            return absl::PermissionDeniedError(
                "flagging a missed deadline is for role scheduler");
          }
          const v1::OverdueFlagged& flag = request->flag();
          if (!v1::DeadlineItem::Kind_IsValid(static_cast<int>(flag.kind())) ||
              flag.kind() == v1::DeadlineItem::KIND_UNSPECIFIED) {
            return absl::InvalidArgumentError("flag.kind: a DeadlineItem.Kind");
          }
          RETURN_IF_ERROR(domain::ValidId(flag.id(), "flag.id"));
          if (!flag.has_due_at()) {
            return absl::InvalidArgumentError("flag.due_at: is required");
          }
          ASSIGN_OR_RETURN(
              auto lease,
              host_->Await("deadlines", request->min_position(), deadline));
          ASSIGN_OR_RETURN(
              std::optional<v1::DeadlineItem> item,
              projections::FindItem(
                  host_->store(), lease->generation(),
                  static_cast<v1::DeadlineItem::Kind>(flag.kind()), flag.id()));
          const absl::Time due = FromProtoTime(flag.due_at());
          if (!item.has_value() || FromProtoTime(item->due_at()) != due) {
            return domain::InvalidState(
                "DEADLINE", domain::Cited("flag.id", flag.id()),
                "overdue rule: nothing of that kind is owed about that id by "
                "that date (done, or moved)");
          }
          if (due > clock_->Now()) {
            return domain::InvalidState(
                "DEADLINE", domain::Cited("flag.id", flag.id()),
                "overdue rule: the deadline has not passed");
          }
          v1::OverdueFlagged recorded = flag;
          recorded.set_owed_by(item->owed_by());
          recorded.set_owed_to(item->owed_to());
          return commands_->RecordOverdueFlag(caller, request->request_id(),
                                              recorded);
        }();
        if (result.ok()) {
          response->set_position(result->last_position);
          response->set_stream_version(result->stream_version);
          response->set_replayed(result->replayed);
          if (Counter* c = result->replayed ? flags_replayed_ : flags_recorded_;
              c != nullptr) {
            c->Increment();
          }
        }
        reactor->Finish(ToGrpcStatus(result.status(), context));
      });
  return reactor;
}

grpc::ServerUnaryReactor* ProjectionAdminService::Status(
    grpc::CallbackServerContext* context,
    const v1::ProjectionStatusRequest* request,
    v1::ProjectionStatusResponse* response) {
  return RunQuery(context, *request, pool_, [this, response](const v1::Actor&) {
    const uint64_t head = log_->GetHead().position;
    for (const projections::ProjectionStatus& s : host_->Status()) {
      auto* p = response->add_projections();
      p->set_name(s.name);
      p->set_code_version(s.code_version);
      p->set_generation(s.generation);
      p->set_applied_position(s.applied);
      p->set_log_head(head);
      p->set_building_generation(s.building_generation);
      p->set_building_applied_position(s.building_applied);
      if (!s.error.ok()) p->set_error(std::string(s.error.message()));
      if (!s.building_error.ok()) {
        p->set_error(absl::StrCat(p->error(), p->error().empty() ? "" : "; ",
                                  "rebuild: ", s.building_error.message()));
      }
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectionAdminService::Rebuild(
    grpc::CallbackServerContext* context,
    const v1::RebuildProjectionRequest* request,
    v1::RebuildProjectionResponse* response) {
  return RunQuery(
      context, *request, pool_,
      [this, request, response](const v1::Actor& caller) -> absl::Status {
        if (caller.role() != kAdminRole) {
          return absl::PermissionDeniedError(
              "rebuilding a projection is for role admin");
        }
        RETURN_IF_ERROR(host_->Rebuild(request->name()));
        for (const projections::ProjectionStatus& s : host_->Status()) {
          if (s.name == request->name()) {
            response->set_building_generation(s.building_generation);
          }
        }
        return absl::OkStatus();
      });
}

}  // namespace ycr::services
