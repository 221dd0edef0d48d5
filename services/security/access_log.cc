#include "services/security/access_log.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "common/wire_names.h"
#include "domain/refusals.h"
#include "services/security/access_policy.h"

namespace ycr::services {

// What counts as a read of a subject's personal data, and what one entry
// means for each view:
//   Subjects/GetRecord        the subject record (who the pupil is).
//   Consents/Get, Referrals/Get, Interventions/Get, Correspondence/Get,
//   Safeguarding/Get          one record that names its subject: an entry
//                             for that subject (none for a whole-school
//                             intervention or correspondence without one).
//   Audit/Trail               a subject's history: one entry per call (not
//                             per page).
//   Audit/ConsentInForce      what a subject consented to.
//   Audit/OrganisationDisclosures, Caseloads/ListReferrals
//                             lists: one entry per subject on each page.
//   EventStore/ReadStream, ReadAll, Subscribe
//                             raw events: one entry per subject whose
//                             personal part (EventPayload.personal) is in
//                             the response (per page, per Subscribe batch).
// An entry is written for every subject the handler reached, whatever the
// outcome: a read refused after the subject was found (another
// organisation's record: PERMISSION_DENIED) is logged as an attempt with
// that outcome. A call refused before any subject is looked up (no
// identity, a role the policy table refuses, a malformed request) touches
// no one's data and is not logged; ycr_grpc_server_handled_total counts it.
// Not counted: Agreements/Get (between organisations), Caseloads/Counts
// (numbers), Deadlines/* (what an organisation owes, by id; the scheduler
// polls them), Head, Status, GetTime, commands (they return positions), and
// AccessLog/* itself (personal data of readers, not of subjects: auditors
// only).
const std::vector<PersonalDataView>& PersonalDataViews() {
  static const auto* views = new std::vector<PersonalDataView>{
      {"/ycr.v1.Subjects/GetRecord", "subject_record"},
      {"/ycr.v1.Subjects/RetentionReviews", "retention_review"},
      {"/ycr.v1.Consents/Get", "consent"},
      {"/ycr.v1.Referrals/Get", "referral"},
      {"/ycr.v1.Interventions/Get", "intervention"},
      {"/ycr.v1.Correspondence/Get", "correspondence"},
      {"/ycr.v1.Safeguarding/Get", "concern"},
      {"/ycr.v1.Audit/Trail", "audit_trail"},
      {"/ycr.v1.Audit/ConsentInForce", "consent_in_force"},
      {"/ycr.v1.Audit/SubjectAccessPack", "subject_access_pack"},
      {"/ycr.v1.Audit/OrganisationDisclosures", "disclosures"},
      {"/ycr.v1.Caseloads/ListReferrals", "caseload"},
      {"/ycr.v1.EventStore/ReadStream", "raw_events"},
      {"/ycr.v1.EventStore/ReadAll", "raw_events"},
      {"/ycr.v1.EventStore/Subscribe", "raw_events"},
  };
  return *views;
}

absl::string_view PersonalViewName(absl::string_view method) {
  for (const PersonalDataView& v : PersonalDataViews()) {
    if (v.method == method) return v.view;
  }
  return "";
}

// --- AccessRecorder ---

namespace {

// How often the background writer asks whether a flush is due.
absl::Duration PollInterval(absl::Duration flush_interval) {
  return std::max(flush_interval / 4, absl::Milliseconds(1));
}

}  // namespace

AccessRecorder::AccessRecorder(storage::AccessLogStore* store, Clock* clock,
                               AccessLogOptions options,
                               MetricRegistry* metrics)
    : store_(store),
      clock_(clock != nullptr ? clock : &SystemClock()),
      options_(options),
      flush_clock_(options_.flush_clock != nullptr ? options_.flush_clock
                                                   : &SystemClock()),
      // The writer looks every poll interval: it flushes an entry one poll
      // early so that none waits longer than flush_interval.
      due_after_(options_.background
                     ? std::max(options_.flush_interval -
                                    PollInterval(options_.flush_interval),
                                absl::ZeroDuration())
                     : options_.flush_interval) {
  if (metrics != nullptr) {
    written_ = metrics->GetCounter(
        "ycr_access_log_entries_written_total",
        "Access log entries (reads of a subject's personal data) written "
        "durably.");
    refused_ = metrics->GetCounter(
        "ycr_access_log_refused_total",
        "Reads refused with UNAVAILABLE because the access log queue was "
        "full (or the server stopping).");
    write_errors_ = metrics->GetCounter(
        "ycr_access_log_write_errors_total",
        "Access log flushes that failed (their entries stay queued).");
    flush_seconds_ =
        metrics->GetHistogram("ycr_access_log_flush_seconds",
                              "Time to write one access log batch (synced).",
                              ExponentialBuckets(0.0001, 2, 16));
    metrics->AddGaugeFamily(
        "ycr_access_log_queue_depth",
        "Access log entries waiting to be written.", [this] {
          return std::vector<GaugeSample>{{{}, static_cast<double>(queued())}};
        });
  }
  if (options_.background) writer_ = std::thread([this] { WriterLoop(); });
}

AccessRecorder::~AccessRecorder() { Stop(); }

absl::Status AccessRecorder::Record(const v1::Actor& caller,
                                    absl::string_view method,
                                    absl::string_view purpose,
                                    const std::vector<std::string>& subjects,
                                    absl::StatusCode outcome) {
  if (subjects.empty()) return absl::OkStatus();
  const google::protobuf::Timestamp at = ToProtoTime(clock_->Now());
  const absl::string_view view = PersonalViewName(method);
  const std::string outcome_name = StatusCodeName(static_cast<int>(outcome));
  absl::MutexLock lock(&mu_);
  if (!stopping_ && !failing_.ok()) {
    if (refused_ != nullptr) refused_->Increment();
    // The cause (on a cluster node, etcd's own error) is in the server's
    // log (access_log.write_failed), not in the client's answer.
    return absl::UnavailableError(kAccessLogUnwritable);
  }
  if (stopping_ || queue_.size() + subjects.size() > options_.capacity) {
    if (refused_ != nullptr) refused_->Increment();
    return absl::UnavailableError(
        stopping_ ? "the access log is stopping: the server is shutting down"
                  : "the access log is full (every read of personal data is "
                    "logged before it is shown); retry shortly");
  }
  if (queue_.empty()) oldest_ = flush_clock_->Now();
  for (const std::string& subject : subjects) {
    v1::AccessLogEntry& entry = queue_.emplace_back();
    *entry.mutable_at() = at;
    entry.set_organisation(caller.organisation());
    entry.set_user(caller.user());
    entry.set_role(caller.role());
    entry.set_subject_id(subject);
    entry.set_method(std::string(method));
    entry.set_view(std::string(view));
    entry.set_purpose(std::string(purpose));
    entry.set_outcome(outcome_name);
  }
  return absl::OkStatus();
}

bool AccessRecorder::DueLocked() const {
  if (queue_.empty()) return false;
  return stopping_ || queue_.size() >= options_.flush_entries ||
         flush_clock_->Now() - oldest_ >= due_after_;
}

absl::Status AccessRecorder::Tick() { return FlushIf(true); }

absl::Status AccessRecorder::Flush() { return FlushIf(false); }

absl::Status AccessRecorder::FlushIf(bool only_when_due) {
  absl::MutexLock flush_lock(&flush_mu_);
  std::vector<v1::AccessLogEntry> batch;
  {
    absl::MutexLock lock(&mu_);
    if (only_when_due && !DueLocked()) return absl::OkStatus();
    batch.assign(std::make_move_iterator(queue_.begin()),
                 std::make_move_iterator(queue_.end()));
    queue_.clear();
  }
  if (batch.empty()) return absl::OkStatus();
  const absl::Time start = absl::Now();
  const size_t taken = batch.size();
  absl::Status written = store_->Write(&batch);
  if (flush_seconds_ != nullptr) {
    flush_seconds_->Observe(absl::ToDoubleSeconds(absl::Now() - start));
  }
  if (!written.ok()) {
    if (write_errors_ != nullptr) write_errors_->Increment();
    // Back to the front, in order: retried by the next flush; meanwhile the
    // queue fills and reads are refused rather than left unlogged.
    const size_t part = taken - batch.size();
    if (written_ != nullptr) written_->Increment(part);
    absl::MutexLock lock(&mu_);
    written_total_ += part;
    if (options_.logger != nullptr && failing_.ok()) {
      options_.logger->Log(
          LogLevel::kError, "access_log.write_failed",
          {{"error", std::string(written.message())},
           {"queued", absl::StrCat(queue_.size() + batch.size())}});
    }
    failing_ = written;
    // (A store that wrote a first part left only the rest in `batch`.)
    queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()),
                  std::make_move_iterator(batch.end()));
    oldest_ = flush_clock_->Now() - options_.flush_interval;
    return written;
  }
  if (written_ != nullptr) written_->Increment(batch.size());
  absl::MutexLock lock(&mu_);
  if (options_.logger != nullptr && !failing_.ok()) {
    options_.logger->Log(LogLevel::kInfo, "access_log.write_recovered", {});
  }
  failing_ = absl::OkStatus();
  written_total_ += batch.size();
  return absl::OkStatus();
}

void AccessRecorder::WriterLoop() {
  // Wakes a few times per interval to ask whether a flush is due (by the
  // flush clock), and at once when flush_entries are waiting.
  const absl::Duration poll = PollInterval(options_.flush_interval);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || queue_.size() >= options_.flush_entries;
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), poll);
      if (stopping_) return;
    }
    // A failed write is counted and retried on the next turn.
    Tick().IgnoreError();
  }
}

void AccessRecorder::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (writer_.joinable()) writer_.join();
  Flush().IgnoreError();
}

size_t AccessRecorder::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

bool AccessRecorder::AwaitWritten(uint64_t entries,
                                  absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto written = [this, entries]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return written_total_ >= entries;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&written), timeout);
}

// --- ReadAccess ---

absl::StatusOr<ReadAccess> ReadAccess::Begin(
    AccessRecorder* recorder, const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  std::string method;
  if (auto it = metadata.find(kMethodMetadata); it != metadata.end()) {
    method.assign(it->second.data(), it->second.size());
  }
  std::string purpose;
  if (auto it = metadata.find(kPurposeMetadata); it != metadata.end()) {
    purpose.assign(it->second.data(), it->second.size());
    // A code from a closed list (README, "Who sees what"): the entry is kept
    // for auditors in plain, so never free text about a person.
    RETURN_IF_ERROR(domain::CheckCode(purpose, kPurposeMetadata,
                                      domain::AccessPurposeCodes(),
                                      /*optional=*/true));
  }
  const absl::Time deadline = std::min(absl::FromChrono(context.deadline()),
                                       absl::Now() + kMaxCurrentWait);
  return ReadAccess(recorder, std::move(method), std::move(purpose), deadline);
}

absl::StatusOr<uint64_t> ReadAccess::AwaitCurrent(uint64_t min_position) const {
  if (recorder_ == nullptr) return 0;
  storage::AwaitCurrentOptions wait;
  wait.deadline = deadline_;
  wait.min_position = min_position;
  wait.cancel = cancel_.get();
  return recorder_->AwaitCurrent(wait);
}

absl::StatusOr<uint64_t> ReadAccess::AwaitCurrentAgain() const {
  if (recorder_ == nullptr) return 0;
  storage::AwaitCurrentOptions wait;
  wait.deadline = absl::Now() + kMaxCurrentWait;
  wait.cancel = cancel_.get();
  return recorder_->AwaitCurrent(wait);
}

void ReadAccess::RunWaiting(absl::AnyInvocable<void() &&> wait) const {
  if (recorder_ == nullptr) {
    std::move(wait)();
    return;
  }
  recorder_->RunWaiting(std::move(wait));
}

absl::StatusOr<uint64_t> AccessRecorder::AwaitCurrent(
    const storage::AwaitCurrentOptions& wait) const {
  if (!options_.await_current) return 0;
  // Queued for a waiting thread past the call's deadline, or after its
  // client went away: nothing to ask.
  if (wait.cancel != nullptr && wait.cancel->cancelled()) {
    return storage::WaitCancelled();
  }
  if (absl::Now() >= wait.deadline) {
    return absl::DeadlineExceededError(
        "the read's deadline passed before this node could tell whether it "
        "holds the newest writes, so it shows nothing; retry");
  }
  return options_.await_current(wait);
}

void AccessRecorder::RunWaiting(absl::AnyInvocable<void() &&> wait) const {
  if (options_.run_waiting) {
    options_.run_waiting(std::move(wait));
    return;
  }
  std::move(wait)();
}

void ReadAccess::Saw(const std::string& subject_id) {
  if (recorder_ == nullptr || subject_id.empty()) return;
  if (seen_set_.insert(subject_id).second) seen_.push_back(subject_id);
}

absl::Status ReadAccess::Commit(const v1::Actor& caller, absl::Status result) {
  if (recorder_ == nullptr || seen_.empty()) return result;
  absl::Status recorded =
      recorder_->Record(caller, method_, purpose_, seen_, result.code());
  seen_.clear();
  seen_set_.clear();
  if (!recorded.ok()) return recorded;
  return result;
}

}  // namespace ycr::services
