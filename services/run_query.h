#pragma once

// The shape every unary read takes: resolve the caller once and validate
// the request (services/valid_request.h), then run the query on a worker
// pool (queries may wait and read storage) and finish the
// call with its status.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "projections/host.h"
#include "services/grpc_status.h"
#include "services/security/access_log.h"
#include "services/security/caller_identity.h"
#include "services/valid_request.h"
#include "services/work_queue.h"

namespace ycr::services {

// `query(const v1::Actor& caller)` returns absl::Status and fills the
// response it captured.
template <typename Query>
grpc::ServerUnaryReactor* RunQuery(grpc::CallbackServerContext* context,
                                   const google::protobuf::Message& request,
                                   WorkQueue* pool, Query query) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<v1::Actor> caller = ResolveValidCaller(*context, request);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  pool->Post([reactor, caller = *std::move(caller),
              query = std::move(query)]() mutable {
    reactor->Finish(ToGrpcStatus(query(caller)));
  });
  return reactor;
}

// Runs `then(read, status)` on `pool` once `read`'s ReadAccess::AwaitCurrent
// has answered (its error as `status`, or OK). The wait runs where the
// access recorder runs waits (AccessRecorder::RunWaiting), never on
// `pool`: reads waiting for this node to catch up (a follower held back,
// etcd slow or gone), however many a caller sends, hold none of `pool`'s
// threads, which serve every other read.
template <typename Then>
void AfterCurrent(ReadAccess read, WorkQueue* pool, Then then) {
  struct Waiting {
    ReadAccess read;
    Then then;
  };
  auto waiting =
      std::make_shared<Waiting>(Waiting{std::move(read), std::move(then)});
  const ReadAccess* const reader = &waiting->read;
  reader->RunWaiting([waiting, pool]() mutable {
    absl::Status current = waiting->read.AwaitCurrent().status();
    pool->Post(
        [waiting = std::move(waiting), current = std::move(current)]() mutable {
          waiting->then(std::move(waiting->read), std::move(current));
        });
  });
}

// A unary call's reactor that ends its read's wait (ReadAccess::Cancel)
// when the call is cancelled (its client gone), so that the wait frees its
// thread at once rather than at the call's deadline.
class CancellableReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit CancellableReactor(const ReadAccess& read)
      : cancel_(read.cancel_signal()) {}
  void OnCancel() override { cancel_->Cancel(); }
  void OnDone() override { delete this; }

 private:
  const std::shared_ptr<storage::CancelSignal> cancel_;
};

// As RunQuery, for a read of subjects' personal data (a view of
// PersonalDataViews()): `query(const v1::Actor& caller, ReadAccess* read)`
// calls read->Saw(subject) for each subject it reaches; the call finishes
// only after their access log entries are queued, and with UNAVAILABLE
// (without the data) when the access log refuses them. The query runs only
// once this node holds every append acknowledged before it began
// (ReadAccess::AwaitCurrent: on a cluster node, nothing erased on the
// leader before the read is shown). `access` may be null (no access log).
template <typename Query>
grpc::ServerUnaryReactor* RunPersonalQuery(
    grpc::CallbackServerContext* context,
    const google::protobuf::Message& request, WorkQueue* pool,
    AccessRecorder* access, Query query) {
  grpc::ServerUnaryReactor* reactor = nullptr;
  absl::StatusOr<v1::Actor> caller = ResolveValidCaller(*context, request);
  if (!caller.ok()) {
    reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  absl::StatusOr<ReadAccess> read = ReadAccess::Begin(access, *context);
  if (!read.ok()) {
    reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(read.status()));
    return reactor;
  }
  reactor = new CancellableReactor(*read);
  AfterCurrent(
      *std::move(read), pool,
      [reactor, caller = *std::move(caller), query = std::move(query)](
          ReadAccess read, absl::Status current) mutable {
        absl::Status result =
            current.ok() ? query(caller, &read) : std::move(current);
        reactor->Finish(ToGrpcStatus(read.Commit(caller, std::move(result))));
      });
  return reactor;
}

// The wait for a projection's position that the query reactors share:
// ProjectionHost::AwaitAsync, its result handed to `pool`, and cancellable
// by the call. Exactly one of `reached` and `cancelled` runs.
class ProjectionWait {
 public:
  using Result = projections::ProjectionHost::AwaitResult;

  ProjectionWait(WorkQueue* pool, projections::ProjectionHost* host)
      : pool_(pool), host_(host) {}

  // Waits (holding no thread) until `projection` has applied `position`, or
  // `deadline`; then `reached(result)` on the pool (at once on this thread
  // when already there). When the call was cancelled first, `cancelled()`
  // instead.
  void Begin(const std::string& projection, uint64_t position,
             absl::Time deadline, std::function<void(Result)> reached,
             std::function<void()> cancelled) {
    // The result can arrive on another thread before AwaitAsync returns, and
    // `reached` can end the call and free this object: until Begin has done
    // with `this`, an early result waits in `early`, and Begin posts it last.
    auto early = std::make_shared<EarlyResult>();
    WorkQueue* const pool = pool_;
    projections::ProjectionHost* const host = host_;
    uint64_t id = 0;
    std::optional<Result> now = host->AwaitAsync(
        projection, position, deadline,
        [pool, reached, early](Result result) {
          {
            absl::MutexLock lock(&early->mu);
            if (!early->begun) {
              early->result = std::move(result);
              return;
            }
          }
          pool->Post([reached, result = std::move(result)]() mutable {
            reached(std::move(result));
          });
        },
        &id);
    if (now.has_value()) {
      reached(*std::move(now));
      return;
    }
    bool was_cancelled;
    {
      absl::MutexLock lock(&mu_);
      wait_id_ = id;
      was_cancelled = cancelled_;
    }
    // From here on `this` may be gone (OnCancel can drop the wait and end
    // the call): only locals.
    if (was_cancelled && host->CancelAwait(id)) {
      cancelled();
      return;
    }
    std::optional<Result> arrived;
    {
      absl::MutexLock lock(&early->mu);
      early->begun = true;
      arrived = std::move(early->result);
    }
    if (arrived.has_value()) {
      pool->Post([reached, result = *std::move(arrived)]() mutable {
        reached(std::move(result));
      });
    }
  }

  // From the reactor's OnCancel: true when the wait was dropped (the
  // reactor then finishes the call as cancelled); false when it has not
  // begun (Begin will see it) or its result is on its way.
  bool Cancel() {
    uint64_t id;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      id = wait_id_;
    }
    return id != 0 && host_->CancelAwait(id);
  }

 private:
  // A result that came before Begin was done with `this`.
  struct EarlyResult {
    absl::Mutex mu;
    bool begun ABSL_GUARDED_BY(mu) = false;
    std::optional<Result> result ABSL_GUARDED_BY(mu);
  };

  WorkQueue* const pool_;
  projections::ProjectionHost* const host_;
  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t wait_id_ ABSL_GUARDED_BY(mu_) = 0;
};

// A read of a projection at the request's min_position, as a reactor: a
// check on `pool` (validation, who may read; it returns the position to
// wait for), then a wait holding no thread (ProjectionHost::AwaitAsync,
// until `deadline`), then the read on `pool`. A call cancelled while it
// waits stops waiting (CANCELLED). With `access`, the read is of personal
// data (as RunPersonalQuery): the call's status goes through
// ReadAccess::Commit.
//
// `check(const v1::Actor& caller, ReadAccess* read)` returns
// absl::StatusOr<uint64_t>; `read(const v1::Actor& caller, ReadAccess* read,
// const projections::GenerationLease& lease)` returns absl::Status. `read`
// is null without `access`.
template <typename Check, typename Read>
class ProjectionQuery final : public grpc::ServerUnaryReactor {
 public:
  ProjectionQuery(WorkQueue* pool, projections::ProjectionHost* host,
                  std::string projection, absl::Time deadline,
                  uint64_t min_position, v1::Actor caller,
                  std::optional<ReadAccess> access, Check check, Read read)
      : pool_(pool),
        host_(host),
        projection_(std::move(projection)),
        deadline_(deadline),
        min_position_(min_position),
        caller_(std::move(caller)),
        access_(std::move(access)),
        check_(std::move(check)),
        read_(std::move(read)) {}

  void Start() {
    if (!access_.has_value()) {
      pool_->Post([this] { Checked(0); });
      return;
    }
    // The wait for this node to be current holds none of the pool's
    // threads (AfterCurrent).
    access_->RunWaiting([this] {
      absl::StatusOr<uint64_t> current = access_->AwaitCurrent(min_position_);
      pool_->Post([this, current = std::move(current)] {
        if (!current.ok()) {
          Complete(current.status());
          return;
        }
        Checked(*current);
      });
    });
  }

  void OnCancel() override {
    // A wait for this node to be current ends (CANCELLED, completing the
    // call); a wait for the projection is dropped here.
    if (access_.has_value()) access_->Cancel();
    if (wait_.Cancel())
      Complete(absl::CancelledError("the call was cancelled"));
  }

  void OnDone() override { delete this; }

 private:
  ReadAccess* access() { return access_.has_value() ? &*access_ : nullptr; }

  // `current`: for a read of personal data, the position this node held
  // once current (ReadAccess::AwaitCurrent, waited for first). The check
  // (who may read) and the read see everything acknowledged before the
  // read began, the log this node reveals personal parts from and the
  // projection too (a consent withdrawn, a sharing ended, a record
  // erased): the projection is read at that position at least, whatever
  // the request's min_position.
  void Checked(uint64_t current) {
    absl::StatusOr<uint64_t> position = check_(caller_, access());
    if (position.ok()) position = std::max(*position, current);
    if (!position.ok()) {
      Complete(position.status());
      return;
    }
    wait_.Begin(
        projection_, *position, deadline_,
        [this](ProjectionWait::Result lease) { Reached(std::move(lease)); },
        [this] { Complete(absl::CancelledError("the call was cancelled")); });
  }

  void Reached(projections::ProjectionHost::AwaitResult lease) {
    if (!lease.ok()) {
      Complete(lease.status());
      return;
    }
    Complete(read_(caller_, access(), **lease));
  }

  void Complete(absl::Status status) {
    if (access_.has_value()) {
      status = access_->Commit(caller_, std::move(status));
    }
    Finish(ToGrpcStatus(status));
  }

  WorkQueue* const pool_;
  projections::ProjectionHost* const host_;
  const std::string projection_;
  const absl::Time deadline_;
  // The request's min_position, for the wait for this node to be current.
  const uint64_t min_position_;
  const v1::Actor caller_;
  std::optional<ReadAccess> access_;
  Check check_;
  Read read_;
  ProjectionWait wait_{pool_, host_};
};

// Runs a ProjectionQuery (see above) of `projection` for the call.
template <typename Check, typename Read>
grpc::ServerUnaryReactor* RunProjectionQuery(
    grpc::CallbackServerContext* context,
    const google::protobuf::Message& request, WorkQueue* pool,
    projections::ProjectionHost* host, std::string projection,
    absl::Time deadline, Check check, Read read) {
  absl::StatusOr<v1::Actor> caller = ResolveValidCaller(*context, request);
  if (!caller.ok()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  auto* reactor = new ProjectionQuery<Check, Read>(
      pool, host, std::move(projection), deadline, /*min_position=*/0,
      *std::move(caller), std::nullopt, std::move(check), std::move(read));
  reactor->Start();
  return reactor;
}

// As RunProjectionQuery, for a read of subjects' personal data (as
// RunPersonalQuery); `access` may be null (no access log). `min_position`
// is the request's: past the current head (ReadAccess::AwaitCurrent), the
// call is refused at once (OUT_OF_RANGE).
template <typename Check, typename Read>
grpc::ServerUnaryReactor* RunPersonalProjectionQuery(
    grpc::CallbackServerContext* context,
    const google::protobuf::Message& request, WorkQueue* pool,
    AccessRecorder* access, projections::ProjectionHost* host,
    std::string projection, absl::Time deadline, uint64_t min_position,
    Check check, Read read) {
  grpc::ServerUnaryReactor* refused = nullptr;
  absl::StatusOr<v1::Actor> caller = ResolveValidCaller(*context, request);
  if (!caller.ok()) {
    refused = context->DefaultReactor();
    refused->Finish(ToGrpcStatus(caller.status()));
    return refused;
  }
  absl::StatusOr<ReadAccess> read_access = ReadAccess::Begin(access, *context);
  if (!read_access.ok()) {
    refused = context->DefaultReactor();
    refused->Finish(ToGrpcStatus(read_access.status()));
    return refused;
  }
  auto* reactor = new ProjectionQuery<Check, Read>(
      pool, host, std::move(projection), deadline, min_position,
      *std::move(caller), *std::move(read_access), std::move(check),
      std::move(read));
  reactor->Start();
  return reactor;
}

}  // namespace ycr::services
