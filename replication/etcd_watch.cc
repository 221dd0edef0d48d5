#include "replication/etcd_watch.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace ycr::replication {

absl::StatusOr<std::unique_ptr<EtcdWatch>> EtcdWatch::Start(
    etcdserverpb::Watch::Stub* stub, etcdserverpb::WatchCreateRequest create,
    absl::Duration timeout) {
  std::unique_ptr<EtcdWatch> watch(new EtcdWatch());
  watch->stream_ = stub->Watch(&watch->context_);
  watch->reader_ =
      std::thread([w = watch.get(), create = std::move(create)]() mutable {
        w->ReadLoop(std::move(create));
      });
  absl::MutexLock lock(&watch->mu_);
  auto settled = [w = watch.get()]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
    return w->created_ || w->ended_.has_value();
  };
  if (!watch->mu_.AwaitWithTimeout(absl::Condition(&settled), timeout)) {
    return absl::UnavailableError(absl::StrCat(
        "etcd Watch: not confirmed within ", absl::FormatDuration(timeout)));
  }
  if (!watch->created_) return *watch->ended_;
  return watch;
}

EtcdWatch::~EtcdWatch() {
  context_.TryCancel();
  if (reader_.joinable()) reader_.join();
}

void EtcdWatch::ReadLoop(etcdserverpb::WatchCreateRequest create) {
  etcdserverpb::WatchRequest request;
  *request.mutable_create_request() = std::move(create);
  absl::Status end;
  if (stream_->Write(request)) {
    etcdserverpb::WatchResponse response;
    while (stream_->Read(&response)) {
      absl::MutexLock lock(&mu_);
      if (response.created()) created_ = true;
      for (const mvccpb::Event& e : response.events()) {
        events_.push_back(
            WatchEvent{e.type() == mvccpb::Event::DELETE, FromProto(e.kv())});
      }
      if (response.compact_revision() > 0) {
        compact_revision_ = response.compact_revision();
        end = absl::OutOfRangeError(
            absl::StrCat("etcd Watch: the revisions asked for were compacted "
                         "(compacted to ",
                         response.compact_revision(), ")"));
        break;
      }
      if (response.canceled()) {
        end = absl::UnavailableError(absl::StrCat(
            "etcd Watch: cancelled by etcd: ", response.cancel_reason()));
        break;
      }
    }
  }
  context_.TryCancel();
  const grpc::Status finished = stream_->Finish();
  if (end.ok()) {
    end = FromEtcd(finished.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                "stream closed")
                                 : finished,
                   "Watch");
  }
  absl::MutexLock lock(&mu_);
  ended_ = std::move(end);
}

absl::StatusOr<std::vector<WatchEvent>> EtcdWatch::Next(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !events_.empty() || ended_.has_value();
  };
  if (!mu_.AwaitWithDeadline(absl::Condition(&ready), deadline)) {
    return absl::DeadlineExceededError("etcd Watch: no event by the deadline");
  }
  if (events_.empty()) return *ended_;
  std::vector<WatchEvent> out(std::make_move_iterator(events_.begin()),
                              std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

int64_t EtcdWatch::compact_revision() const {
  absl::MutexLock lock(&mu_);
  return compact_revision_;
}

}  // namespace ycr::replication
