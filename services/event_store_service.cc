#include "services/event_store_service.h"

#include <deque>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "services/grpc_status.h"
#include "services/raw_log.h"
#include "services/run_query.h"
#include "services/security/caller_identity.h"
#include "services/valid_request.h"

namespace ycr::services {
namespace {

// OK when `stream` is "<kRawStreamPrefix><name>"; else INVALID_ARGUMENT
// naming `field`.
absl::Status CheckRawStream(absl::string_view stream, absl::string_view field) {
  if (stream.size() > sizeof(kRawStreamPrefix) - 1 &&
      absl::StartsWith(stream, kRawStreamPrefix)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": raw appends touch only streams named \"", kRawStreamPrefix,
      "<name>\"; the domain's streams are written only by its commands"));
}

// Domain events only through commands. Every domain view is folded from
// typed events on the domain's streams and trusts them, so an event the raw
// path wrote would be believed: a consent_granted that no one gave would be
// cited by a disclosure, a second referral_submitted would move a
// referral's trail to another child, an opaque event on consent-<id> would
// stop its fold, a subject_erased would claim an erasure that destroyed no
// key. So raw appends are held to an allow-list rather than kept off a list
// of the domain's names: only opaque payloads, only on streams (and
// conditions, which would tell the caller a domain stream's version) in the
// reserved namespace kRawStreamPrefix. A new domain stream or event kind is
// then out of the raw path's reach without anyone updating this check.
// INVALID_ARGUMENT names the first offending field; nothing is written.
absl::Status CheckRawAppend(const v1::AppendRequest& request) {
  RETURN_IF_ERROR(CheckRawStream(request.stream(), "stream"));
  for (int i = 0; i < request.conditions_size(); ++i) {
    RETURN_IF_ERROR(CheckRawStream(request.conditions(i).stream(),
                                   absl::StrCat("conditions[", i, "].stream")));
  }
  for (int i = 0; i < request.events_size(); ++i) {
    const v1::EventPayload& payload = request.events(i).payload();
    // No payload at all is storage::ValidateAppend's to name.
    if (payload.kind_case() == v1::EventPayload::kOpaque ||
        payload.kind_case() == v1::EventPayload::KIND_NOT_SET) {
      continue;
    }
    const google::protobuf::FieldDescriptor* kind =
        payload.GetDescriptor()->FindFieldByNumber(payload.kind_case());
    return absl::InvalidArgumentError(absl::StrCat(
        "events[", i, "].payload.", kind->name(),
        ": a domain event, written only by its domain command; the raw log "
        "takes opaque payloads only"));
  }
  return absl::OkStatus();
}

absl::StatusOr<storage::ExpectedVersion> FromProto(
    const v1::ExpectedVersion& expected, absl::string_view field) {
  using Kind = storage::ExpectedVersion::Kind;
  switch (expected.kind()) {
    case v1::ExpectedVersion::ANY:
      return storage::ExpectedVersion{Kind::kAny, 0};
    case v1::ExpectedVersion::NO_STREAM:
      return storage::ExpectedVersion{Kind::kNoStream, 0};
    case v1::ExpectedVersion::EXISTS:
      return storage::ExpectedVersion{Kind::kExists, 0};
    case v1::ExpectedVersion::EXACT:
      return storage::ExpectedVersion{Kind::kExact, expected.version()};
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".kind: ", expected.kind(),
          " is not an expected-version kind; use ANY, NO_STREAM, EXISTS or "
          "EXACT"));
  }
}

absl::StatusOr<storage::AppendRequest> FromProto(
    const v1::AppendRequest& request, v1::Actor actor) {
  storage::AppendRequest out;
  out.stream = request.stream();
  absl::StatusOr<storage::ExpectedVersion> expected =
      FromProto(request.expected(), "expected");
  if (!expected.ok()) return expected.status();
  out.expected = *expected;
  for (int i = 0; i < request.conditions_size(); ++i) {
    const v1::StreamCondition& c = request.conditions(i);
    absl::StatusOr<storage::ExpectedVersion> e =
        FromProto(c.expected(), absl::StrCat("conditions[", i, "].expected"));
    if (!e.ok()) return e.status();
    out.conditions.push_back({c.stream(), *e});
  }
  out.events.assign(request.events().begin(), request.events().end());
  out.actor = std::move(actor);
  return out;
}

absl::StatusOr<storage::LogFilter> FromProto(
    const v1::ReadAllFilter& filter, const EventStoreServiceOptions& options) {
  if (filter.stream_prefix().size() > options.max_stream_prefix_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter.stream_prefix: more than ",
                     options.max_stream_prefix_bytes, " bytes"));
  }
  if (static_cast<size_t>(filter.event_types_size()) >
      options.max_filter_types) {
    return absl::InvalidArgumentError(absl::StrCat(
        "filter.event_types: more than ", options.max_filter_types, " types"));
  }
  storage::LogFilter out;
  out.stream_prefix = filter.stream_prefix();
  out.event_types.assign(filter.event_types().begin(),
                         filter.event_types().end());
  return out;
}

// Finishes `reactor` at once with `status`.
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status, context));
  return reactor;
}

// Names, to `read`, each subject whose personal part is in `events`.
void SeePersonal(
    const google::protobuf::RepeatedPtrField<v1::RecordedEvent>& events,
    ReadAccess* read) {
  for (const v1::RecordedEvent& event : events) {
    if (event.payload().has_personal()) {
      read->Saw(event.payload().personal().subject_id());
    }
  }
}

// A raw read's events, moved into `out`: their personal parts opened, and
// each subject shown named to `read`, only when this node is `current`
// (ReadAccess::AwaitCurrent OK). A node that cannot tell it holds every
// write acknowledged before the call (etcd without a majority, a follower
// behind) still serves the history, its personal parts left sealed: the
// log's skeletons stay after an erasure anyway; only opening them waits.
absl::Status ShowEvents(
    storage::EventLog& log, const absl::Status& current,
    std::vector<v1::RecordedEvent>* events,
    google::protobuf::RepeatedPtrField<v1::RecordedEvent>* out,
    ReadAccess* read) {
  if (current.ok()) RETURN_IF_ERROR(storage::RevealAll(log, *events));
  for (v1::RecordedEvent& event : *events) *out->Add() = std::move(event);
  SeePersonal(*out, read);
  return absl::OkStatus();
}

}  // namespace

// One Subscribe call. Exactly one party at a time "drives" the call (reads,
// writes, or finishes it); `phase_` says which, under `mu_`. The reactor's
// methods are never called with `mu_` held. Late callbacks (a head watch, a
// posted read) hold a shared_ptr to this object and find phase_ == kFinished
// once the call is over.
class EventStoreService::Subscription
    : public std::enable_shared_from_this<Subscription> {
 public:
  class Reactor;

  Subscription(EventStoreService* service, storage::LogFilter filter,
               uint64_t from_position)
      : service_(service),
        filter_(std::move(filter)),
        next_position_(from_position == 0 ? 1 : from_position) {}

  // Before Start(): who reads, for the access log, and the caller's stream
  // slot, held until the subscription is gone.
  void SetReader(v1::Actor caller, ReadAccess read, StreamQuota::Lease slot) {
    {
      absl::MutexLock lock(&mu_);
      cancel_ = read.cancel_signal();
    }
    caller_ = std::move(caller);
    read_ = std::move(read);
    slot_ = std::move(slot);
  }
  void Start(Reactor* reactor);
  // Ends the call with `status` as soon as the driver allows.
  void Stop(const grpc::Status& status);
  void OnWriteDone(bool ok);
  void OnDone();

 private:
  enum class Phase { kReading, kWriting, kWaiting, kFinished };

  // Waits (off the readers' threads) until this node holds every write
  // acknowledged before now, then Pumps: each batch is opened only once
  // current, so nothing erased after the subscription began is opened from
  // a node that has not applied the erasure yet.
  void AwaitCurrentThenPump();
  void Pump();
  void OnHeadAdvanced(uint64_t generation);
  void WriteNext();
  // Requires the caller to be the driver; finishes the call.
  void FinishCall(const grpc::Status& status);
  // Under mu_: if a stop was requested, takes the call to kFinished and
  // returns the status to finish with.
  std::optional<grpc::Status> TakeStop() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  EventStoreService* const service_;
  const storage::LogFilter filter_;

  // Touched only by the driver.
  v1::Actor caller_;
  std::optional<ReadAccess> read_;
  StreamQuota::Lease slot_;
  uint64_t next_position_;
  bool caught_up_sent_ = false;
  // ReadAccess::AwaitCurrent's answer, waited for before each batch
  // (AwaitCurrentThenPump): nothing erased or changed before the batch is
  // read is revealed.
  absl::Status current_;
  bool waited_once_ = false;
  std::deque<v1::SubscribeResponse> pending_;
  v1::SubscribeResponse writing_;

  absl::Mutex mu_;
  Reactor* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kReading;
  std::optional<grpc::Status> stop_ ABSL_GUARDED_BY(mu_);
  uint64_t watch_id_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t watch_generation_ ABSL_GUARDED_BY(mu_) = 0;
  // Ends the wait for this node to be current (ReadAccess::Cancel) when
  // the call stops.
  std::shared_ptr<storage::CancelSignal> cancel_ ABSL_GUARDED_BY(mu_);
};

class EventStoreService::Subscription::Reactor
    : public grpc::ServerWriteReactor<v1::SubscribeResponse> {
 public:
  explicit Reactor(std::shared_ptr<Subscription> subscription)
      : subscription_(std::move(subscription)) {}

  void OnWriteDone(bool ok) override { subscription_->OnWriteDone(ok); }
  void OnCancel() override {
    subscription_->Stop(
        grpc::Status(grpc::StatusCode::CANCELLED, "subscription cancelled"));
  }
  void OnDone() override {
    subscription_->OnDone();
    delete this;
  }

 private:
  std::shared_ptr<Subscription> subscription_;
};

void EventStoreService::Subscription::Start(Reactor* reactor) {
  {
    absl::MutexLock lock(&mu_);
    reactor_ = reactor;
  }
  AwaitCurrentThenPump();
}

void EventStoreService::Subscription::AwaitCurrentThenPump() {
  // As every read of personal data (run_query.h), first, holding none of
  // the readers' threads while it waits (AfterCurrent); again before every
  // batch, by a deadline of its own (the call may last for hours).
  auto wait = [self = shared_from_this()] {
    if (!self->read_.has_value()) {
      self->current_ = absl::OkStatus();
    } else if (!self->waited_once_) {
      self->waited_once_ = true;
      self->current_ = self->read_->AwaitCurrent().status();
    } else {
      self->current_ = self->read_->AwaitCurrentAgain().status();
    }
    self->service_->readers_->Post([self] { self->Pump(); });
  };
  if (read_.has_value()) {
    read_->RunWaiting(std::move(wait));
  } else {
    wait();
  }
}

std::optional<grpc::Status> EventStoreService::Subscription::TakeStop() {
  if (!stop_.has_value()) return std::nullopt;
  phase_ = Phase::kFinished;
  return stop_;
}

void EventStoreService::Subscription::Stop(const grpc::Status& status) {
  std::optional<grpc::Status> finish;
  std::shared_ptr<storage::CancelSignal> cancel;
  {
    absl::MutexLock lock(&mu_);
    if (phase_ == Phase::kFinished || stop_.has_value()) return;
    stop_ = status;
    cancel = cancel_;
    // Idle on a watch: cancelling it makes us the driver.
    if (phase_ == Phase::kWaiting && service_->log_->CancelWatch(watch_id_)) {
      finish = TakeStop();
    }
  }
  // Still waiting to be current: the wait ends now, and Pump finishes.
  if (cancel != nullptr) cancel->Cancel();
  if (finish.has_value()) FinishCall(*finish);
}

void EventStoreService::Subscription::Pump() {
  std::optional<grpc::Status> stop;
  {
    absl::MutexLock lock(&mu_);
    stop = TakeStop();
  }
  if (stop.has_value()) {
    FinishCall(*stop);
    return;
  }
  if (!current_.ok()) {
    {
      absl::MutexLock lock(&mu_);
      phase_ = Phase::kFinished;
    }
    FinishCall(ToGrpcStatus(current_));
    return;
  }
  absl::StatusOr<storage::LogSlice> slice = service_->log_->ReadAll(
      next_position_, service_->options_.subscribe_batch, filter_);
  if (slice.ok()) {
    if (absl::Status s = storage::RevealAll(*service_->log_, slice->events);
        !s.ok()) {
      slice = s;
    }
  }
  if (!slice.ok()) {
    {
      absl::MutexLock lock(&mu_);
      phase_ = Phase::kFinished;
    }
    FinishCall(ToGrpcStatus(slice.status()));
    return;
  }
  next_position_ = slice->next_position;
  for (v1::RecordedEvent& event : slice->events) {
    if (read_.has_value() && event.payload().has_personal()) {
      read_->Saw(event.payload().personal().subject_id());
    }
    *pending_.emplace_back().mutable_event() = std::move(event);
  }
  if (read_.has_value()) {
    // This batch's subjects are logged before it is sent.
    if (absl::Status logged = read_->Commit(caller_, absl::OkStatus());
        !logged.ok()) {
      {
        absl::MutexLock lock(&mu_);
        phase_ = Phase::kFinished;
      }
      FinishCall(ToGrpcStatus(logged));
      return;
    }
  }
  if (pending_.empty() && !slice->reached_end) {
    // A filtered scan stopped early: read on, without hogging the pool.
    AwaitCurrentThenPump();
    return;
  }
  if (pending_.empty() && !caught_up_sent_) {
    caught_up_sent_ = true;
    pending_.emplace_back().mutable_caught_up()->set_head_position(
        service_->log_->GetHead().position);
  }
  if (!pending_.empty()) {
    {
      absl::MutexLock lock(&mu_);
      phase_ = Phase::kWriting;
    }
    WriteNext();
    return;
  }
  // Caught up: wait for the head to reach next_position_.
  std::optional<grpc::Status> finish;
  {
    absl::MutexLock lock(&mu_);
    finish = TakeStop();
    if (!finish.has_value()) {
      phase_ = Phase::kWaiting;
      uint64_t generation = ++watch_generation_;
      std::weak_ptr<Subscription> weak = weak_from_this();
      WorkQueue* readers = service_->readers_;
      // The callback only posts: it may run inline, under mu_.
      watch_id_ = service_->log_->WatchHead(
          next_position_, [weak, readers, generation] {
            readers->Post([weak, generation] {
              if (auto self = weak.lock()) self->OnHeadAdvanced(generation);
            });
          });
    }
  }
  if (finish.has_value()) FinishCall(*finish);
}

void EventStoreService::Subscription::OnHeadAdvanced(uint64_t generation) {
  {
    absl::MutexLock lock(&mu_);
    if (phase_ != Phase::kWaiting || generation != watch_generation_) return;
    phase_ = Phase::kReading;
    watch_id_ = 0;
  }
  AwaitCurrentThenPump();
}

void EventStoreService::Subscription::WriteNext() {
  writing_ = std::move(pending_.front());
  pending_.pop_front();
  Reactor* reactor;
  {
    absl::MutexLock lock(&mu_);
    reactor = reactor_;
  }
  reactor->StartWrite(&writing_);
}

void EventStoreService::Subscription::OnWriteDone(bool ok) {
  std::optional<grpc::Status> finish;
  {
    absl::MutexLock lock(&mu_);
    if (!ok) {
      phase_ = Phase::kFinished;
      finish = grpc::Status(grpc::StatusCode::CANCELLED,
                            "the subscriber stopped reading");
    } else {
      finish = TakeStop();
      if (!finish.has_value() && pending_.empty()) phase_ = Phase::kReading;
    }
  }
  if (finish.has_value()) {
    FinishCall(*finish);
  } else if (!pending_.empty()) {
    WriteNext();
  } else {
    AwaitCurrentThenPump();
  }
}

void EventStoreService::Subscription::FinishCall(const grpc::Status& status) {
  Reactor* reactor;
  {
    absl::MutexLock lock(&mu_);
    reactor = reactor_;
  }
  reactor->Finish(status);
}

void EventStoreService::Subscription::OnDone() {
  {
    absl::MutexLock lock(&mu_);
    phase_ = Phase::kFinished;
    reactor_ = nullptr;
  }
  service_->Forget(shared_from_this());
}

// --- EventStoreService ---

EventStoreService::EventStoreService(storage::EventLog* log, WorkQueue* readers,
                                     EventStoreServiceOptions options,
                                     AccessRecorder* access,
                                     StreamQuota* streams)
    : log_(log),
      readers_(readers),
      options_(options),
      access_(access),
      streams_(streams) {}

EventStoreService::~EventStoreService() = default;

void EventStoreService::BeginShutdown() {
  std::vector<std::shared_ptr<Subscription>> open;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    open.assign(subscriptions_.begin(), subscriptions_.end());
  }
  for (const auto& subscription : open) {
    subscription->Stop(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                    "the server is shutting down"));
  }
}

void EventStoreService::Forget(
    const std::shared_ptr<Subscription>& subscription) {
  absl::MutexLock lock(&mu_);
  subscriptions_.erase(subscription);
}

grpc::ServerUnaryReactor* EventStoreService::Append(
    grpc::CallbackServerContext* context, const v1::AppendRequest* request,
    v1::AppendResponse* response) {
  absl::StatusOr<v1::Actor> caller = ResolveValidCaller(*context, *request);
  if (!caller.ok()) return FinishNow(context, caller.status());
  if (absl::Status raw = CheckRawAppend(*request); !raw.ok()) {
    return FinishNow(context, raw);
  }
  absl::StatusOr<storage::AppendRequest> append =
      FromProto(*request, *std::move(caller));
  if (!append.ok()) return FinishNow(context, append.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  log_->AppendAsync(*std::move(append),
                    [reactor, context,
                     response](absl::StatusOr<storage::AppendResult> result) {
                      if (result.ok()) {
                        response->set_first_position(result->first_position);
                        response->set_last_position(result->last_position);
                        response->set_stream_version(result->stream_version);
                        response->set_replayed(result->replayed);
                      }
                      reactor->Finish(ToGrpcStatus(result.status(), context));
                    });
  return reactor;
}

grpc::ServerUnaryReactor* EventStoreService::ReadStream(
    grpc::CallbackServerContext* context, const v1::ReadStreamRequest* request,
    v1::ReadStreamResponse* response) {
  absl::StatusOr<v1::Actor> caller = ResolveValidCaller(*context, *request);
  if (!caller.ok()) return FinishNow(context, caller.status());
  absl::StatusOr<ReadAccess> read = ReadAccess::Begin(access_, *context);
  if (!read.ok()) return FinishNow(context, read.status());
  // Its wait ends when the call is cancelled.
  grpc::ServerUnaryReactor* reactor = new CancellableReactor(*read);
  // As every read of personal data (run_query.h): nothing erased or
  // changed before the call is revealed.
  AfterCurrent(
      *std::move(read), readers_,
      [this, reactor, request, response, caller = *caller](
          ReadAccess read, absl::Status current) mutable {
        storage::ReadStreamOptions options;
        options.from_version = request->from_version();
        options.backwards = request->backwards();
        options.limit = request->limit();
        absl::StatusOr<storage::StreamSlice> slice =
            log_->ReadStream(request->stream(), options);
        if (slice.ok()) {
          if (absl::Status s = ShowEvents(*log_, current, &slice->events,
                                          response->mutable_events(), &read);
              !s.ok()) {
            slice = s;
          }
        }
        if (slice.ok()) {
          response->set_stream_version(slice->stream_version);
          response->set_next_version(slice->next_version);
        }
        reactor->Finish(ToGrpcStatus(read.Commit(caller, slice.status())));
      });
  return reactor;
}

grpc::ServerUnaryReactor* EventStoreService::ReadAll(
    grpc::CallbackServerContext* context, const v1::ReadAllRequest* request,
    v1::ReadAllResponse* response) {
  absl::StatusOr<v1::Actor> caller = ResolveValidCaller(*context, *request);
  if (!caller.ok()) return FinishNow(context, caller.status());
  absl::StatusOr<ReadAccess> read = ReadAccess::Begin(access_, *context);
  if (!read.ok()) return FinishNow(context, read.status());
  absl::StatusOr<storage::LogFilter> filter =
      FromProto(request->filter(), options_);
  if (!filter.ok()) return FinishNow(context, filter.status());
  grpc::ServerUnaryReactor* reactor = new CancellableReactor(*read);
  // As ReadStream's.
  AfterCurrent(
      *std::move(read), readers_,
      [this, reactor, request, response, filter = *std::move(filter),
       caller = *caller](ReadAccess read, absl::Status current) mutable {
        absl::StatusOr<storage::LogSlice> slice =
            log_->ReadAll(request->from_position(), request->limit(), filter);
        if (slice.ok()) {
          if (absl::Status s = ShowEvents(*log_, current, &slice->events,
                                          response->mutable_events(), &read);
              !s.ok()) {
            slice = s;
          }
        }
        if (slice.ok()) {
          response->set_next_position(slice->next_position);
          response->set_head_position(log_->GetHead().position);
        }
        reactor->Finish(ToGrpcStatus(read.Commit(caller, slice.status())));
      });
  return reactor;
}

grpc::ServerWriteReactor<v1::SubscribeResponse>* EventStoreService::Subscribe(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) {
  absl::StatusOr<v1::Actor> caller = ResolveValidCaller(*context, *request);
  absl::Status status = caller.status();
  std::optional<ReadAccess> read;
  StreamQuota::Lease slot;
  if (status.ok() && streams_ != nullptr) {
    absl::StatusOr<StreamQuota::Lease> acquired = streams_->Acquire(*caller);
    status = acquired.status();
    if (acquired.ok()) slot = *std::move(acquired);
  }
  if (status.ok()) {
    absl::StatusOr<ReadAccess> begun = ReadAccess::Begin(access_, *context);
    status = begun.status();
    if (begun.ok()) read = *std::move(begun);
  }
  absl::StatusOr<storage::LogFilter> filter;
  if (status.ok()) {
    filter = FromProto(request->filter(), options_);
    status = filter.status();
  }
  if (status.ok()) {
    const uint64_t head = log_->GetHead().position;
    if (request->from_position() > head + 1) {
      status = absl::OutOfRangeError(absl::StrCat(
          "from_position: ", request->from_position(), " is past the log head ",
          head, "; subscribe from at most ", head + 1));
    }
  }
  auto subscription = std::make_shared<Subscription>(
      this, status.ok() ? *std::move(filter) : storage::LogFilter(),
      request->from_position());
  auto* reactor = new Subscription::Reactor(subscription);
  if (status.ok()) {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      status = absl::UnavailableError("the server is shutting down");
    } else {
      subscriptions_.insert(subscription);
    }
  }
  if (!status.ok()) {
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }
  subscription->SetReader(*std::move(caller), *std::move(read),
                          std::move(slot));
  subscription->Start(reactor);
  return reactor;
}

grpc::ServerUnaryReactor* EventStoreService::Head(
    grpc::CallbackServerContext* context, const v1::HeadRequest* request,
    v1::HeadResponse* response) {
  if (absl::Status s = ResolveValidCaller(*context, *request).status();
      !s.ok()) {
    return FinishNow(context, s);
  }
  storage::Head head = log_->GetHead();
  response->set_position(head.position);
  response->set_hash(std::move(head.hash));
  return FinishNow(context, absl::OkStatus());
}

}  // namespace ycr::services
