// ycr.v1.Audit (query_services.h): a subject's trail, an organisation's
// disclosures (both streamed a page at a time), the consent in force, and
// subject access packs.

#include <algorithm>
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
#include "services/query_services.h"
#include "services/run_query.h"
#include "services/security/area_access.h"
#include "services/security/caller_identity.h"
#include "services/valid_request.h"
#include "services/visibility.h"

namespace ycr::services {
namespace {

// Streams pages of entries: on `pool`, `check()` returns the position to
// wait for (or the call's error); once projection `projection` of `host` has
// applied it (a wait holding no thread, until `deadline`),
// `fetch(generation, &page, &more)` runs on `pool` for each page of the
// generation given; its entries are written one by one; the call ends (OK)
// after the page with more == false, or with an error. Deletes itself when
// done.
class PagedStream : public grpc::ServerWriteReactor<v1::AuditEntry> {
 public:
  using Check = std::function<absl::StatusOr<uint64_t>(uint64_t current)>;
  using Fetch = std::function<absl::Status(
      uint32_t generation, std::vector<v1::AuditEntry>* page, bool* more)>;

  // `read` (the call's, outliving it) is waited for first, holding none of
  // the pool's threads (AfterCurrent in run_query.h): `check` is given the
  // position ReadAccess::AwaitCurrent returned (a `min_position` past it is
  // refused there, OUT_OF_RANGE).
  PagedStream(WorkQueue* pool, projections::ProjectionHost* host,
              std::string projection, absl::Time deadline,
              uint64_t min_position, const ReadAccess* read, Check check,
              Fetch fetch)
      : pool_(pool),
        host_(host),
        projection_(std::move(projection)),
        deadline_(deadline),
        read_(read),
        check_(std::move(check)),
        fetch_(std::move(fetch)) {
    read->RunWaiting([this, read, min_position] {
      absl::StatusOr<uint64_t> current = read->AwaitCurrent(min_position);
      pool_->Post([this, current = std::move(current)] { Checked(current); });
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    WriteNext();
  }

  void OnCancel() override {
    // A wait for this node to be current ends (CANCELLED, finishing the
    // call); a wait for the projection is dropped here.
    read_->Cancel();
    if (wait_.Cancel()) {
      Finish(
          grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled"));
    }
  }

  void OnDone() override { delete this; }

 private:
  void Checked(const absl::StatusOr<uint64_t>& current) {
    absl::StatusOr<uint64_t> position =
        current.ok() ? check_(*current) : current.status();
    if (!position.ok()) {
      Finish(ToGrpcStatus(position.status()));
      return;
    }
    wait_.Begin(
        projection_, *position, deadline_,
        [this](ProjectionWait::Result lease) { Reached(std::move(lease)); },
        [this] {
          Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                              "the call was cancelled"));
        });
  }

  void Reached(projections::ProjectionHost::AwaitResult lease) {
    if (!lease.ok()) {
      Finish(ToGrpcStatus(lease.status()));
      return;
    }
    generation_ = (*lease)->generation();
    Fetched();
  }

  void FetchPage() {
    pool_->Post([this] { Fetched(); });
  }

  // On the pool.
  void Fetched() {
    page_.clear();
    next_ = 0;
    absl::Status s = fetch_(generation_, &page_, &more_);
    if (!s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    WriteNext();
  }

  void WriteNext() {
    if (next_ < page_.size()) {
      StartWrite(&page_[next_++]);
      return;
    }
    if (more_) {
      FetchPage();
      return;
    }
    Finish(grpc::Status::OK);
  }

  WorkQueue* const pool_;
  projections::ProjectionHost* const host_;
  const std::string projection_;
  const absl::Time deadline_;
  // The call's, in the state `check_` and `fetch_` share.
  const ReadAccess* const read_;
  const Check check_;
  const Fetch fetch_;
  uint32_t generation_ = 0;
  std::vector<v1::AuditEntry> page_;
  size_t next_ = 0;
  bool more_ = false;
  ProjectionWait wait_{pool_, host_};
};

grpc::ServerWriteReactor<v1::AuditEntry>* Refuse(const absl::Status& status) {
  class Refused : public grpc::ServerWriteReactor<v1::AuditEntry> {
   public:
    explicit Refused(const grpc::Status& status) { Finish(status); }
    void OnDone() override { delete this; }
  };
  return new Refused(ToGrpcStatus(status));
}

// A stream slot for `caller` (no limit without a quota).
absl::StatusOr<StreamQuota::Lease> Slot(StreamQuota* streams,
                                        const v1::Actor& caller) {
  if (streams == nullptr) return StreamQuota::Lease();
  return streams->Acquire(caller);
}

// Audit data about a subject is for the record's holder, the local
// authority of the holder's area, and auditors.
absl::Status MayAudit(storage::EventLog& log, const v1::Actor& caller,
                      const std::string& subject_id) {
  if (caller.role() == kAuditorRole) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                   log.GetRecord(domain::SubjectRecordKey(subject_id)));
  v1::SubjectRecord record;
  if (bytes.has_value() && record.ParseFromString(*bytes)) {
    if (record.holder() == caller.organisation()) return absl::OkStatus();
    ASSIGN_OR_RETURN(bool covered, CoversArea(log, caller, record.holder()));
    if (covered) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      "a subject's audit trail is for its record's holder, the local "
      "authority of the holder's area, and auditors");
}

}  // namespace

grpc::ServerWriteReactor<v1::AuditEntry>* AuditService::Trail(
    grpc::CallbackServerContext* context,
    const v1::AuditTrailRequest* request) {
  absl::StatusOr<v1::Actor> caller = ResolveValidCaller(*context, *request);
  if (!caller.ok()) return Refuse(caller.status());
  absl::StatusOr<size_t> limit = PageSize(request->page_size());
  if (!limit.ok()) return Refuse(limit.status());
  if (absl::Status s = domain::ValidId(request->subject_id(), "subject_id");
      !s.ok()) {
    return Refuse(s);
  }
  absl::StatusOr<StreamQuota::Lease> slot = Slot(streams_, *caller);
  if (!slot.ok()) return Refuse(slot.status());
  absl::StatusOr<ReadAccess> read = ReadAccess::Begin(access_, *context);
  if (!read.ok()) return Refuse(read.status());
  const absl::Time deadline = QueryDeadline(*context);
  struct State {
    uint64_t after = 0;
    std::optional<ReadAccess> read;
    StreamQuota::Lease slot;
    std::optional<ReaderView> view;
  };
  auto state = std::make_shared<State>();
  state->after = request->after_position();
  state->read = *std::move(read);
  state->slot = *std::move(slot);
  const ReadAccess* const reader = &*state->read;
  return new PagedStream(
      pool_, host_, "audit_trail", deadline, request->min_position(), reader,
      [this, request, caller = *caller,
       state](uint64_t current) -> absl::StatusOr<uint64_t> {
        // As every read of personal data (run_query.h): this node holds
        // everything acknowledged before the call (`current`), and the
        // trail is read at that position at least (nothing erased or
        // changed before it is shown; who may read is decided on it).
        // One entry per call, before the first page is shown.
        state->read->Saw(request->subject_id());
        RETURN_IF_ERROR(state->read->Commit(
            caller, MayAudit(*log_, caller, request->subject_id())));
        return std::max(request->min_position(), current);
      },
      [this, request, caller = *caller, limit = *limit, state](
          uint32_t generation, std::vector<v1::AuditEntry>* page,
          bool* more) -> absl::Status {
        uint64_t next = 0;
        RETURN_IF_ERROR(projections::ReadSubjectTrail(
            host_->store(), generation, request->subject_id(), state->after,
            limit, page, &next));
        if (!state->view.has_value()) state->view.emplace(*log_, caller);
        RETURN_IF_ERROR(state->view->Show(page));
        state->after = next;
        *more = next != 0;
        return absl::OkStatus();
      });
}

grpc::ServerWriteReactor<v1::AuditEntry>* AuditService::OrganisationDisclosures(
    grpc::CallbackServerContext* context,
    const v1::OrganisationDisclosuresRequest* request) {
  absl::StatusOr<v1::Actor> caller = ResolveValidCaller(*context, *request);
  if (!caller.ok()) return Refuse(caller.status());
  absl::StatusOr<size_t> limit = PageSize(request->page_size());
  if (!limit.ok()) return Refuse(limit.status());
  if (absl::Status s = domain::ValidId(request->organisation(), "organisation");
      !s.ok()) {
    return Refuse(s);
  }
  const absl::Time from = request->has_from() ? FromProtoTime(request->from())
                                              : absl::InfinitePast();
  const absl::Time to =
      request->has_to() ? FromProtoTime(request->to()) : absl::InfiniteFuture();
  const absl::Time deadline = QueryDeadline(*context);
  absl::StatusOr<StreamQuota::Lease> slot = Slot(streams_, *caller);
  if (!slot.ok()) return Refuse(slot.status());
  absl::StatusOr<ReadAccess> read = ReadAccess::Begin(access_, *context);
  if (!read.ok()) return Refuse(read.status());
  struct State {
    projections::DisclosureCursor cursor;
    std::optional<ReadAccess> read;
    StreamQuota::Lease slot;
    std::optional<ReaderView> view;
  };
  auto state = std::make_shared<State>();
  state->read = *std::move(read);
  state->slot = *std::move(slot);
  const ReadAccess* const reader = &*state->read;
  return new PagedStream(
      pool_, host_, "audit_trail", deadline, request->min_position(), reader,
      [this, request, caller = *caller,
       state](uint64_t current) -> absl::StatusOr<uint64_t> {
        // As Trail's: this node holds everything acknowledged before the
        // call; who may read (an area's authority) is decided on it.
        if (caller.role() != kAuditorRole &&
            caller.organisation() != request->organisation()) {
          ASSIGN_OR_RETURN(bool covered,
                           CoversArea(*log_, caller, request->organisation()));
          if (!covered) {
            return absl::PermissionDeniedError(
                "an organisation's disclosures are for itself, the local "
                "authority of its area, and auditors");
          }
        }
        return std::max(request->min_position(), current);
      },
      [this, request, caller = *caller, limit = *limit, from, to, state](
          uint32_t generation, std::vector<v1::AuditEntry>* page,
          bool* more) -> absl::Status {
        projections::DisclosureCursor next;
        RETURN_IF_ERROR(projections::ReadOrganisationDisclosures(
            host_->store(), generation, request->organisation(), from, to,
            state->cursor, limit, page, &next));
        if (!state->view.has_value()) state->view.emplace(*log_, caller);
        RETURN_IF_ERROR(state->view->Show(page));
        state->cursor = next;
        *more = !next.done();
        // Every subject on the page, before the page is shown.
        for (const v1::AuditEntry& entry : *page) {
          state->read->Saw(entry.subject_id());
        }
        return state->read->Commit(caller, absl::OkStatus());
      });
}

grpc::ServerUnaryReactor* AuditService::ConsentInForce(
    grpc::CallbackServerContext* context,
    const v1::ConsentInForceRequest* request,
    v1::ConsentInForceResponse* response) {
  const absl::Time deadline = QueryDeadline(*context);
  return RunPersonalProjectionQuery(
      context, *request, pool_, access_, host_, "audit_trail", deadline,
      request->min_position(),
      [this, request](const v1::Actor& caller,
                      ReadAccess* read) -> absl::StatusOr<uint64_t> {
        RETURN_IF_ERROR(domain::ValidId(request->subject_id(), "subject_id"));
        read->Saw(request->subject_id());
        RETURN_IF_ERROR(MayAudit(*log_, caller, request->subject_id()));
        return request->min_position();
      },
      [this, request, response](
          const v1::Actor& caller, ReadAccess*,
          const projections::GenerationLease& lease) -> absl::Status {
        // Only the consents the caller may see (a holder that had left the
        // case does not see those given after: "Who sees what").
        ReaderView view(*log_, caller);
        auto shown = [&view](const v1::AuditEntry& e) -> absl::StatusOr<bool> {
          ASSIGN_OR_RETURN(domain::Visibility level,
                           view.LevelOf(e.event(), e.subject_id()));
          return level != domain::Visibility::kNone;
        };
        ASSIGN_OR_RETURN(*response, projections::ConsentInForce(
                                        host_->store(), lease.generation(),
                                        *request, shown));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditService::SubjectAccessPack(
    grpc::CallbackServerContext* context,
    const v1::SubjectAccessPackRequest* request,
    v1::SubjectAccessPack* response) {
  // A pack bigger than this is refused rather than built in memory.
  constexpr size_t kMaxEntries = 50000;
  const absl::Time deadline = QueryDeadline(*context);
  return RunPersonalProjectionQuery(
      context, *request, pool_, access_, host_, "audit_trail", deadline,
      request->min_position(),
      [this, request, response](const v1::Actor& caller,
                                ReadAccess* read) -> absl::StatusOr<uint64_t> {
        const std::string& subject = request->subject_id();
        RETURN_IF_ERROR(domain::ValidId(subject, "subject_id"));
        read->Saw(subject);
        RETURN_IF_ERROR(MayAudit(*log_, caller, subject));
        // Everything recorded before the pack was asked for is in it.
        const uint64_t as_of =
            std::max(request->min_position(), log_->GetHead().position);
        response->set_as_of_position(as_of);
        return as_of;
      },
      [this, request, response](
          const v1::Actor& caller, ReadAccess*,
          const projections::GenerationLease& lease) -> absl::Status {
        const std::string& subject = request->subject_id();
        response->set_subject_id(subject);
        const absl::Time now = absl::Now();
        response->mutable_compiled_at()->set_seconds(absl::ToUnixSeconds(now));
        if (records_ != nullptr) {
          ASSIGN_OR_RETURN(std::optional<v1::SubjectRecord> record,
                           records_(subject));
          if (record.has_value()) {
            *response->mutable_record() = *record;
            domain::RedactForDataSubject(response->mutable_record());
          }
        }
        ReaderView view(*log_, caller);
        const auto too_many = [](const char* what) {
          return absl::ResourceExhaustedError(absl::StrCat(
              "the pack would hold more than ", kMaxEntries, " ", what,
              "; read them in pages with Audit.Trail and AccessLog"));
        };
        uint64_t after = 0;
        do {
          std::vector<v1::AuditEntry> page;
          uint64_t next = 0;
          RETURN_IF_ERROR(projections::ReadSubjectTrail(
              host_->store(), lease.generation(), subject, after, kMaxPageSize,
              &page, &next));
          RETURN_IF_ERROR(view.ShowInPack(&page));
          for (v1::AuditEntry& entry : page) {
            *response->add_trail() = std::move(entry);
          }
          if (static_cast<size_t>(response->trail_size()) > kMaxEntries) {
            return too_many("trail entries");
          }
          after = next;
        } while (after != 0);
        // No access log: it names other organisations' staff, and stays
        // for auditors (AccessLog.ListBySubject).
        return AddReceipts(response);
      });
}

}  // namespace ycr::services
