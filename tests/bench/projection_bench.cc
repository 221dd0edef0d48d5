// ycr-projection-bench: measures the read models against large logs, in
// process, with no gRPC.
//
//   rebuild  builds every projection of the server from position 1 to the
//            head of an --events log of mixed domain events (all runners
//            concurrently, as the host runs them), then each one alone;
//            beside it, measured in the same run, the read+parse floor
//            (read_floor.h: the fastest loop over the same log) and the
//            ratio, in events/s and in CPU per event.
//   trail    reads whole audit trails of random subjects (ReadSubjectTrail)
//            out of an --events log whose audit_trail projection is built.
//   overdue  ListDue(as_of) -- the ListOverdue query -- over a deadlines
//            projection holding --open_deadlines open items of which --due
//            are due at as_of.
//
// Logs are loaded straight into RocksDbEventLog (AppendAsync, WAL sync off),
// not through the domain commands, which would take hours for millions of
// events. Payloads are realistic domain events with realistic sizes. A
// generated store is kept under --data_dir with a shape file and reused by a
// later run asking for the same shape.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "domain/subject_rules.h"
#include "projections/audit_trail.h"
#include "projections/deadlines.h"
#include "projections/host.h"
#include "storage/rocksdb_event_log.h"
#include "tests/bench/machine_load.h"
#include "tests/bench/read_floor.h"
#include "ycr/v1/event.pb.h"
#include "ycr/v1/subject.pb.h"

#if __has_include("projections/caseloads.h")
#include "projections/caseloads.h"
#define YCR_BENCH_HAS_CASELOADS 1
#endif

ABSL_FLAG(std::string, data_dir, "",
          "Directory for the generated stores (a subdirectory per log shape, "
          "with a .shape file). A store of the same shape found there is "
          "reused; another is replaced. Empty: a temporary directory removed "
          "at exit.");
ABSL_FLAG(int64_t, events, 1000000,
          "rebuild/trail: events in the mixed domain log.");
ABSL_FLAG(int64_t, subjects, 0,
          "rebuild/trail: young carers in the mixed log (0: events/30, so "
          "10 to 50 events each).");
ABSL_FLAG(int64_t, open_deadlines, 1000000,
          "overdue: open correspondence answers in the deadlines log.");
ABSL_FLAG(int64_t, due, 100,
          "overdue: how many of --open_deadlines are due at the query time.");
ABSL_FLAG(int64_t, agreements, 10000,
          "overdue: agreements the correspondence is spread over (at most "
          "open_deadlines/100).");
ABSL_FLAG(std::string, mode, "all", "rebuild, trail, overdue or all.");
ABSL_FLAG(int, samples, 2000, "trail/overdue: timed queries.");
ABSL_FLAG(int, warmup_samples, 100,
          "trail/overdue: untimed queries before the timed ones.");
ABSL_FLAG(int, page_size, 1000,
          "trail/overdue: limit per ReadSubjectTrail/ListDue call (the "
          "service's maximum page size is 1000).");
ABSL_FLAG(int, batch_events, 1000, "rebuild: RunnerOptions::batch_events.");
ABSL_FLAG(int64_t, build_min_events, 10000,
          "RunnerOptions::build_min_events (0: never catch up in build "
          "batches, as before they existed).");
ABSL_FLAG(int, build_batch_mb, 64, "RunnerOptions::build_batch_bytes, MiB.");
ABSL_FLAG(int, build_cache_mb, 256, "RunnerOptions::build_cache_bytes, MiB.");
ABSL_FLAG(bool, compact_after_build, false,
          "RunnerOptions::compact_after_build.");
ABSL_FLAG(bool, share_reads, true,
          "RunnerOptions::share_reads: runners catching up read the log "
          "through one shared reader (false: each reads it itself).");
ABSL_FLAG(bool, fresh, false,
          "rebuild/trail: first drop every generation of the projections "
          "and compact their state away, so that the concurrent build is the "
          "first build, from empty state, on a settled store.");
ABSL_FLAG(bool, solo, true,
          "rebuild: after the concurrent build, rebuild each projection "
          "alone (Rebuild + AwaitRebuilt) for its own events/s.");
ABSL_FLAG(int, block_cache_mb, 64,
          "RocksDB block cache (the server's default is 64 MiB).");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the generated logs and the samples.");
ABSL_FLAG(uint64_t, sample_seed, 0,
          "trail: seed of the queries' random subjects (0: --seed). "
          "Another value queries other subjects of the same store, so that a "
          "run does not find the previous run's blocks in the cache.");
ABSL_FLAG(bool, settle, false,
          "trail: compact the audit trail's generation before the queries "
          "(the store as it is once background compaction has caught up).");
ABSL_FLAG(bool, compact_during, false,
          "trail: while the timed queries run, compact the audit trail's "
          "generation, then the whole store, again and again (a forced "
          "compaction competing with the queries for the cores, the disk and "
          "the block cache); the queries that began while RocksDB was "
          "compacting are reported apart.");
ABSL_FLAG(bool, json, false, "Also print one JSON line with the results.");

namespace {

namespace v1 = ycr::v1;
using ycr::ToProtoTime;
using SteadyClock = std::chrono::steady_clock;

// CPU time of the calling thread, in microseconds: with wall time, it tells
// a slow query from one that was waiting for a core (2 shared cores).
double ThreadCpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

// CPU time of the whole process (every thread: runners, reader, RocksDB's
// background compactions), in seconds.
double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

double SecondsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

[[noreturn]] void Die(const std::string& what, const absl::Status& s) {
  std::cerr << "ycr-projection-bench: " << what << ": " << s << std::endl;
  std::exit(1);
}

// ---------------------------------------------------------------- payloads

constexpr const char* kWords[] = {
    "school",    "attendance", "support",    "mother",      "father",
    "sibling",   "caring",     "evening",    "homework",    "tired",
    "session",   "worker",     "group",      "respite",     "club",
    "progress",  "wellbeing",  "medical",    "appointment", "transport",
    "meals",     "shopping",   "medication", "anxiety",     "friends",
    "teacher",   "pastoral",   "lead",       "weekly",      "review",
    "agreed",    "plan",       "needs",      "young",       "carer",
    "family",    "assessment", "goals",      "improved",    "confidence",
    "lunchtime", "mentoring",  "referral",   "outcome",     "term",
    "holiday",   "activity",   "break",      "visit",       "home"};

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}
  uint64_t U(uint64_t lo, uint64_t hi) {  // inclusive
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }
  bool P(double p) { return std::uniform_real_distribution<>(0, 1)(rng_) < p; }
  std::string Text(int lo_words, int hi_words) {
    const int n = static_cast<int>(U(lo_words, hi_words));
    std::string out;
    for (int i = 0; i < n; ++i) {
      if (i > 0) out += ' ';
      out += kWords[U(0, std::size(kWords) - 1)];
    }
    return out;
  }
  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

v1::Recipient Rcp(const std::string& org, const std::string& role) {
  v1::Recipient r;
  r.set_organisation(org);
  r.set_role(role);
  return r;
}

// One planned event of a stream.
struct Planned {
  std::string stream;
  v1::EventPayload payload;
  std::string org;  // The actor's organisation.
  absl::Time occurred;
  std::vector<ycr::storage::RecordWrite> records;
};

std::string SchoolId(uint64_t i) {
  return absl::StrFormat("urn-%06d", 100000 + i);
}
std::string ServiceId(uint64_t i) { return absl::StrFormat("ycs-%04d", i); }
std::string SubjectId(uint64_t i) { return absl::StrFormat("subj-%08d", i); }

v1::AgreementTerms Terms(Gen& g, const std::string& school,
                         const std::string& service, uint32_t response_days) {
  v1::AgreementTerms t;
  auto party = [&](v1::Party* p, const std::string& org, const char* kind) {
    p->set_organisation(org);
    p->set_name(absl::StrCat(kind, " ", org));
    p->set_address(absl::StrCat(g.U(1, 200), " ", g.Text(2, 3), " road"));
    p->add_responsibilities(g.Text(6, 12));
    p->add_responsibilities(g.Text(6, 12));
    auto* c = p->mutable_lead_contact();
    c->set_name(g.Text(2, 2));
    c->set_role("lead");
    c->set_phone("01632 960000");
    c->set_email(absl::StrCat("lead@", org, ".example"));
  };
  party(t.mutable_school(), school, "School");
  party(t.mutable_service(), service, "Young carers service");
  t.set_funding_note(g.Text(5, 10));
  t.set_response_time_days(response_days);
  t.set_review_cadence_months(12);
  t.set_closing_period_days(30);
  return t;
}

// The three events that put an agreement in force.
std::vector<Planned> AgreementPlan(Gen& g, const std::string& id,
                                   const std::string& school,
                                   const std::string& service,
                                   uint32_t response_days, absl::Time t0) {
  std::vector<Planned> out(3);
  const std::string stream = "agreement-" + id;
  for (Planned& p : out) {
    p.stream = stream;
    p.occurred = t0;
  }
  auto* d = out[0].payload.mutable_agreement_drafted();
  d->set_agreement_id(id);
  *d->mutable_terms() = Terms(g, school, service, response_days);
  out[0].org = school;
  out[1].payload.mutable_agreement_signed()->set_party(school);
  out[1].org = school;
  out[2].payload.mutable_agreement_signed()->set_party(service);
  out[2].org = service;
  return out;
}

// A young carer's history, in order: record, identification, consent,
// referral to registration, an intervention with sessions, disclosures,
// correspondence and the odd safeguarding concern, then the end of the
// intervention. Truncated to `budget` events.
std::vector<Planned> SubjectPlan(Gen& g, uint64_t i, size_t budget,
                                 const std::string& school,
                                 const std::string& service, absl::Time t0) {
  std::vector<Planned> out;
  const std::string s = SubjectId(i);
  const std::string idx = absl::StrFormat("%08d", i);
  absl::Time t = t0 - absl::Hours(24 * 365) +
                 absl::Seconds(static_cast<int64_t>(g.U(0, 86400 * 30)));
  auto add = [&](std::string stream, const std::string& org) -> Planned& {
    Planned& p = out.emplace_back();
    p.stream = std::move(stream);
    p.org = org;
    t += absl::Seconds(static_cast<int64_t>(g.U(3600, 86400 * 7)));
    p.occurred = t;
    return p;
  };
  auto personal = [&](Planned& p) -> v1::PersonalData* {
    v1::PersonalData* d = p.payload.mutable_personal();
    d->set_subject_id(s);
    return d;
  };
  const std::string consent_id = "con-" + idx;
  const std::string referral_id = "ref-" + idx;
  const std::string intervention_id = "int-" + idx;
  const std::string sharing = "sharing-" + s;
  auto disclosure = [&](v1::DisclosureRecorded* d, const std::string& from,
                        const std::string& to, v1::Purpose purpose) {
    d->set_disclosure_id(ycr::NewUuid());
    d->set_subject_id(s);
    *d->mutable_from() = Rcp(from, "lead");
    *d->mutable_to() = Rcp(to, "");
    d->add_categories(v1::DATA_CATEGORY_IDENTITY);
    d->add_categories(v1::DATA_CATEGORY_CARING_SITUATION);
    if (g.P(0.5)) d->add_categories(v1::DATA_CATEGORY_WELLBEING);
    d->set_purpose(purpose);
    d->mutable_consent()->set_consent_id(consent_id);
    d->mutable_consent()->set_consent_version(1);
  };

  {  // The record (in the record store) and its event.
    Planned& p = add("subject-" + s, school);
    auto* c = p.payload.mutable_subject_record_changed();
    c->set_subject_id(s);
    c->set_holder(school);
    for (const char* part :
         {"given_name", "family_name", "date_of_birth", "related"}) {
      c->add_changed(part);
    }
    c->set_request_digest(std::string(32, '\x5a'));
    v1::SubjectRecord record;
    record.set_subject_id(s);
    record.set_given_name(g.Text(1, 1));
    record.set_family_name(g.Text(1, 1));
    record.set_date_of_birth(absl::StrFormat("%04d-%02d-%02d", 2008 + g.U(0, 9),
                                             g.U(1, 12), g.U(1, 28)));
    auto* rel = record.add_related();
    rel->set_person_ref("p1");
    rel->set_name(g.Text(2, 2));
    rel->set_relationship("mother");
    rel->set_parental_responsibility(true);
    rel->set_cared_for(true);
    record.set_holder(school);
    record.set_revision(1);
    // As Subjects.PutRecord stores it: the skeleton, and the personal
    // fields sealed under the subject's key.
    ycr::domain::SplitRecord split = ycr::domain::SplitSubjectRecord(record);
    p.records.push_back(
        {ycr::domain::SubjectRecordKey(s), split.skeleton.SerializeAsString()});
    p.records.push_back({ycr::domain::SubjectPersonalKey(s),
                         split.personal.SerializeAsString(), s});
  }
  {
    Planned& p = add("subject-" + s, school);
    auto* y = p.payload.mutable_young_carer_identified();
    y->set_subject_id(s);
    y->set_school(school);
    y->set_census_code(v1::CENSUS_CODE_IDENTIFIED_BY_SCHOOL);
    y->set_cares_for_ref("p1");
  }
  {
    Planned& p = add("consent-" + consent_id, school);
    auto* c = p.payload.mutable_consent_granted();
    c->set_consent_id(consent_id);
    c->set_subject_id(s);
    c->mutable_given_by()->mutable_parent()->set_person_ref("p1");
    c->mutable_given_by()->mutable_parent()->set_relationship("mother");
    auto* terms = c->mutable_terms();
    terms->add_purposes(v1::PURPOSE_REFERRAL);
    terms->add_purposes(v1::PURPOSE_NEEDS_ASSESSMENT);
    terms->add_purposes(v1::PURPOSE_SUPPORT_IN_SCHOOL);
    *terms->add_recipients() = Rcp(service, "");
    *terms->add_recipients() = Rcp(school, "pastoral");
    terms->add_categories(v1::DATA_CATEGORY_IDENTITY);
    terms->add_categories(v1::DATA_CATEGORY_CARING_SITUATION);
    terms->add_categories(v1::DATA_CATEGORY_WELLBEING);
    *terms->mutable_valid_from() = ToProtoTime(t);
    *terms->mutable_valid_until() = ToProtoTime(t + absl::Hours(24 * 365));
    personal(p)->set_verification("signed form");
  }
  {
    Planned& p = add("referral-" + referral_id, school);
    auto* r = p.payload.mutable_referral_submitted();
    r->set_referral_id(referral_id);
    r->set_subject_id(s);
    r->set_school(school);
    r->set_service(service);
    disclosure(r->mutable_disclosure(), school, service, v1::PURPOSE_REFERRAL);
    personal(p)->set_notes(g.Text(20, 40));
  }
  add("referral-" + referral_id, service).payload.mutable_referral_received();
  add("referral-" + referral_id, service).payload.mutable_referral_accepted();
  {
    Planned& p = add("referral-" + referral_id, service);
    *p.payload.mutable_assessment_scheduled()->mutable_scheduled_for() =
        ToProtoTime(t + absl::Hours(24 * 10));
  }
  {
    Planned& p = add("referral-" + referral_id, service);
    p.payload.mutable_assessment_completed();
    auto* d = personal(p);
    for (int k = 0; k < 3; ++k) d->add_needs(g.Text(8, 16));
    d->add_recommendations_in_school(g.Text(10, 20));
    d->add_recommendations_outside_school(g.Text(10, 20));
  }
  add("referral-" + referral_id, service).payload.mutable_referral_registered();
  {
    Planned& p = add("intervention-" + intervention_id, service);
    auto* plan = p.payload.mutable_intervention_planned();
    plan->set_intervention_id(intervention_id);
    plan->set_service(service);
    plan->set_school(school);
    plan->set_subject_id(s);
    plan->set_referral_id(referral_id);
    plan->set_type(v1::INTERVENTION_TYPE_ONE_TO_ONE);
    *plan->mutable_starts_at() = ToProtoTime(t + absl::Hours(24 * 7));
    *plan->mutable_ends_at() = ToProtoTime(t + absl::Hours(24 * 180));
    personal(p)->set_notes(g.Text(5, 10));
    plan->set_worker(absl::StrCat("worker-", g.U(1, 40)));
  }
  // Fillers until two events are left for the end.
  int correspondence = 0, concerns = 0;
  std::optional<std::string> open_correspondence;
  while (out.size() + 2 < budget) {
    if (open_correspondence.has_value() && g.P(0.5)) {
      add(*open_correspondence, service)
          .payload.mutable_correspondence_answered();
      open_correspondence.reset();
      continue;
    }
    const double r = std::uniform_real_distribution<>(0, 1)(g.rng());
    if (r < 0.55) {
      Planned& p = add("intervention-" + intervention_id, service);
      auto* d = p.payload.mutable_session_delivered();
      *d->mutable_delivered_at() = ToProtoTime(p.occurred);
      d->set_duration_minutes(static_cast<uint32_t>(g.U(30, 90)));
      d->set_attended(g.P(0.9));
      personal(p)->set_notes(g.Text(15, 40));
    } else if (r < 0.83) {
      Planned& p = add(sharing, service);
      disclosure(p.payload.mutable_disclosure_recorded(), service, school,
                 v1::PURPOSE_SUPPORT_IN_SCHOOL);
    } else if (r < 0.92 && !open_correspondence.has_value()) {
      const std::string id = absl::StrCat("cor-", idx, "-", ++correspondence);
      Planned& p = add("correspondence-" + id, service);
      auto* c = p.payload.mutable_correspondence_received();
      c->set_correspondence_id(id);
      c->set_agreement_id("agr-" + school);
      c->set_channel(v1::CHANNEL_EMAIL);
      c->set_from(school);
      c->set_topic_code(v1::CORRESPONDENCE_TOPIC_SUPPORT);
      *c->mutable_received_at() = ToProtoTime(p.occurred);
      c->set_subject_id(s);
      c->set_to(service);
      c->set_agreement_version(3);
      *c->mutable_due_at() = ToProtoTime(p.occurred + absl::Hours(24 * 14));
      open_correspondence = p.stream;
    } else if (r < 0.96) {
      Planned& p = add("consent-" + consent_id, school);
      auto* v = p.payload.mutable_consent_varied();
      v->set_consent_id(consent_id);
      *v->mutable_terms() =
          out[2].payload.consent_granted().terms();  // same shape
      *v->mutable_terms()->mutable_valid_until() =
          ToProtoTime(p.occurred + absl::Hours(24 * 365));
      personal(p)->set_reason(g.Text(4, 10));
    } else if (out.size() + 5 < budget) {
      const std::string id = absl::StrCat("sg-", idx, "-", ++concerns);
      Planned& p = add("safeguarding-" + id, school);
      auto* c = p.payload.mutable_concern_raised();
      c->set_concern_id(id);
      c->set_subject_id(s);
      c->set_organisation(school);
      *c->mutable_observed_at() = ToProtoTime(p.occurred);
      personal(p)->set_facts(g.Text(30, 60));
      personal(p)->set_childs_words(g.Text(10, 25));
      Planned& n = add("safeguarding-" + id, school);
      n.payload.mutable_dsl_notified()->set_dsl("dsl-1");
      *n.payload.mutable_dsl_notified()->mutable_notified_at() =
          ToProtoTime(n.occurred);
      Planned& e = add("safeguarding-" + id, school);
      e.payload.mutable_concern_closed();
      personal(e)->set_outcome(g.Text(5, 12));
    }
  }
  {
    Planned& p = add("intervention-" + intervention_id, service);
    p.payload.mutable_intervention_ended();
    personal(p)->set_reason(g.Text(4, 10));
  }
  {
    Planned& p = add("intervention-" + intervention_id, service);
    auto* o = p.payload.mutable_outcomes_recorded();
    o->set_attendance(v1::OUTCOME_CHANGE_IMPROVED);
    o->set_attainment(v1::OUTCOME_CHANGE_NO_CHANGE);
    o->set_wellbeing(v1::OUTCOME_CHANGE_IMPROVED);
    disclosure(o->mutable_report(), service, school,
               v1::PURPOSE_IMPACT_REPORTING);
    personal(p)->set_notes(g.Text(20, 50));
  }
  if (out.size() > budget) out.resize(budget);
  return out;
}

// ---------------------------------------------------------------- loading

// Feeds appends to the log with AppendAsync, keeping at most kMaxInFlight
// outstanding (the writer's queue is bounded; past it appends are refused).
class Loader {
 public:
  explicit Loader(ycr::storage::EventLog* log) : log_(log) {}

  // `events` are of one stream, in order.
  void Append(std::vector<Planned>::iterator begin,
              std::vector<Planned>::iterator end) {
    ycr::storage::AppendRequest request;
    request.stream = begin->stream;
    request.expected = ycr::storage::ExpectedVersion::Any();
    request.actor.set_organisation(begin->org);
    request.actor.set_user("bench-user");
    request.actor.set_role("lead");
    for (auto it = begin; it != end; ++it) {
      v1::ProposedEvent& e = request.events.emplace_back();
      e.set_event_id(ycr::NewUuid());
      *e.mutable_payload() = std::move(it->payload);
      *e.mutable_occurred_at() = ToProtoTime(it->occurred);
      payload_bytes_ += e.payload().ByteSizeLong();
      for (auto& r : it->records) request.records.push_back(std::move(r));
    }
    const size_t n = request.events.size();
    {
      absl::MutexLock lock(&mu_);
      auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return in_flight_ < kMaxInFlight || !error_.ok();
      };
      mu_.Await(absl::Condition(&room));
      if (!error_.ok()) Die("append", error_);
      ++in_flight_;
    }
    events_ += n;
    ++appends_;
    log_->AppendAsync(std::move(request),
                      [this](absl::StatusOr<ycr::storage::AppendResult> r) {
                        absl::MutexLock lock(&mu_);
                        --in_flight_;
                        if (!r.ok() && error_.ok()) error_ = r.status();
                      });
  }

  void Finish() {
    absl::MutexLock lock(&mu_);
    auto idle = [this]()
                    ABSL_SHARED_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
    mu_.Await(absl::Condition(&idle));
    if (!error_.ok()) Die("append", error_);
  }

  uint64_t events() const { return events_; }
  uint64_t appends() const { return appends_; }
  uint64_t payload_bytes() const { return payload_bytes_; }

 private:
  static constexpr int kMaxInFlight = 4096;
  ycr::storage::EventLog* const log_;
  uint64_t events_ = 0, appends_ = 0, payload_bytes_ = 0;
  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

class Progress {
 public:
  explicit Progress(std::string what) : what_(std::move(what)) {}
  void Tick(uint64_t done, uint64_t total, bool force = false) {
    const auto now = SteadyClock::now();
    if (!force && now < next_) return;
    next_ = now + std::chrono::seconds(2);
    const double s = std::chrono::duration<double>(now - start_).count();
    std::cerr << absl::StrFormat("[%s] %6.1fs %d/%d (%.0f/s)", what_, s, done,
                                 total, s > 0 ? done / s : 0.0)
              << std::endl;
  }
  double seconds() const { return SecondsSince(start_); }

 private:
  std::string what_;
  SteadyClock::time_point start_ = SteadyClock::now();
  SteadyClock::time_point next_ = start_ + std::chrono::seconds(2);
};

struct GenerationReport {
  bool generated = false;
  double seconds = 0;
  uint64_t events = 0;
  uint64_t appends = 0;
  double mean_payload_bytes = 0;
};

// The mixed log: agreements (one per school), then young carers' histories
// interleaved as they happen -- 1000 subjects active at a time, each step
// one burst (1-3 consecutive events of one stream) of a random active one.
GenerationReport GenerateMixed(ycr::storage::EventLog* log, uint64_t events,
                               uint64_t subjects, uint64_t seed,
                               absl::Time t0) {
  Gen g(seed);
  Loader loader(log);
  Progress progress("generate mixed");
  const uint64_t schools = std::max<uint64_t>(4, subjects / 150);
  const uint64_t services = std::max<uint64_t>(2, schools / 20);
  for (uint64_t i = 0; i < schools && loader.events() + 3 <= events; ++i) {
    std::vector<Planned> plan =
        AgreementPlan(g, "agr-" + SchoolId(i), SchoolId(i),
                      ServiceId(i % services), 20, t0 - absl::Hours(24 * 400));
    loader.Append(plan.begin(), plan.end());
  }
  // Budgets: 1/3 to 5/3 of the mean each, adjusted to sum to the rest.
  const uint64_t rest = events - loader.events();
  std::vector<uint32_t> budget(subjects);
  const double mean = static_cast<double>(rest) / subjects;
  int64_t sum = 0;
  for (auto& b : budget) {
    b = static_cast<uint32_t>(
        g.U(std::max<uint64_t>(1, std::llround(mean / 3)),
            std::max<uint64_t>(1, std::llround(mean * 5 / 3))));
    sum += b;
  }
  for (size_t i = 0; sum != static_cast<int64_t>(rest);
       i = (i + 1) % subjects) {
    if (sum < static_cast<int64_t>(rest)) {
      ++budget[i];
      ++sum;
    } else if (budget[i] > 1) {
      --budget[i];
      --sum;
    }
  }
  struct Active {
    std::vector<Planned> plan;
    size_t next = 0;
  };
  const size_t window = std::min<uint64_t>(1000, subjects);
  std::vector<Active> active(window);
  uint64_t next_subject = 0;
  auto start_subject = [&](Active& a) {
    const uint64_t i = next_subject++;
    const uint64_t school = g.U(0, schools - 1);
    a.plan = SubjectPlan(g, i, budget[i], SchoolId(school),
                         ServiceId(school % services), t0);
    a.next = 0;
  };
  for (auto& a : active) start_subject(a);
  size_t live = window;
  while (live > 0) {
    const size_t k = g.U(0, live - 1);
    Active& a = active[k];
    size_t end = a.next + 1;
    const size_t burst = g.U(1, 3);
    while (end < a.plan.size() && end - a.next < burst &&
           a.plan[end].stream == a.plan[a.next].stream &&
           a.plan[end].records.empty()) {
      ++end;
    }
    loader.Append(a.plan.begin() + a.next, a.plan.begin() + end);
    a.next = end;
    if (a.next == a.plan.size()) {
      if (next_subject < subjects) {
        start_subject(a);
      } else {
        std::swap(active[k], active[live - 1]);
        --live;
      }
    }
    progress.Tick(loader.events(), events);
  }
  loader.Finish();
  progress.Tick(loader.events(), events, true);
  GenerationReport r;
  r.generated = true;
  r.seconds = progress.seconds();
  r.events = loader.events();
  r.appends = loader.appends();
  r.mean_payload_bytes =
      r.events ? static_cast<double>(loader.payload_bytes()) / r.events : 0;
  return r;
}

// The deadlines log: `agreements` agreements in force (response times 10 to
// 60 days), then `open` correspondence received under them and not answered.
// `due` of them were received long enough before t0 to be overdue at t0; the
// rest are due between t0 + 1 h and t0 + 60 days.
GenerationReport GenerateDeadlines(ycr::storage::EventLog* log, uint64_t open,
                                   uint64_t due, uint64_t agreements,
                                   uint64_t seed, absl::Time t0) {
  Gen g(seed);
  Loader loader(log);
  Progress progress("generate deadlines");
  const uint64_t services = std::max<uint64_t>(1, agreements / 100);
  std::vector<uint32_t> days(agreements);
  for (uint64_t a = 0; a < agreements; ++a) {
    days[a] = static_cast<uint32_t>(10 + a % 51);
    std::vector<Planned> plan = AgreementPlan(
        g, "agr-" + SchoolId(a), SchoolId(a), ServiceId(a % services), days[a],
        t0 - absl::Hours(24 * 400));
    loader.Append(plan.begin(), plan.end());
  }
  // Which items are overdue: one in each of `due` equal slices of the log.
  const uint64_t slice = open / due;
  std::vector<Planned> one(1);
  for (uint64_t i = 0; i < open; ++i) {
    const uint64_t a = g.U(0, agreements - 1);
    const bool overdue = i / slice < due && i % slice == slice / 2;
    absl::Time received;
    if (overdue) {
      received = t0 - absl::Hours(24 * (days[a] + 1 + g.U(0, 30)));
    } else {
      received = t0 - absl::Seconds(static_cast<int64_t>(
                          g.U(0, uint64_t{days[a]} * 86400 - 3600)));
    }
    Planned& p = one[0];
    p = Planned();
    const std::string id = absl::StrFormat("cor-%09d", i);
    p.stream = "correspondence-" + id;
    p.org = ServiceId(a % services);
    p.occurred = received;
    auto* c = p.payload.mutable_correspondence_received();
    c->set_correspondence_id(id);
    c->set_agreement_id("agr-" + SchoolId(a));
    c->set_channel(v1::CHANNEL_EMAIL);
    c->set_from(SchoolId(a));
    c->set_topic_code(v1::CORRESPONDENCE_TOPIC_SUPPORT);
    *c->mutable_received_at() = ToProtoTime(received);
    c->set_subject_id(SubjectId(g.U(0, open / 3)));
    c->set_to(ServiceId(a % services));
    c->set_agreement_version(3);
    *c->mutable_due_at() = ToProtoTime(received + absl::Hours(24 * days[a]));
    auto* personal = p.payload.mutable_personal();
    personal->set_subject_id(c->subject_id());
    personal->set_notes(g.Text(10, 30));
    loader.Append(one.begin(), one.end());
    progress.Tick(i + 1, open);
  }
  loader.Finish();
  progress.Tick(open, open, true);
  GenerationReport r;
  r.generated = true;
  r.seconds = progress.seconds();
  r.events = loader.events();
  r.appends = loader.appends();
  r.mean_payload_bytes =
      r.events ? static_cast<double>(loader.payload_bytes()) / r.events : 0;
  return r;
}

// ---------------------------------------------------------------- stores

class TempDir {
 public:
  TempDir() = default;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  bool Create() {
    char pattern[] = "/tmp/ycr-projection-bench.XXXXXX";
    if (mkdtemp(pattern) == nullptr) return false;
    path_ = pattern;
    return true;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A log (with its projection store) opened for the benchmark.
struct Store {
  std::string path;
  std::unique_ptr<ycr::storage::RocksDbEventLog> log;
  std::unique_ptr<ycr::storage::ProjectionStore> projections;
  absl::Time t0;  // The generation's reference time.
  uint64_t subjects = 0;
  GenerationReport generation;

  ~Store() {
    projections.reset();
    if (log != nullptr) log->Close();
  }
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Opens the store `name` under `dir` if its shape file says `shape`, else
// (re)creates it with `generate`. The shape file is written last, so an
// interrupted generation is never reused.
std::unique_ptr<Store> OpenOrGenerate(
    const std::string& dir, const std::string& name, const std::string& shape,
    uint64_t expected_events, uint64_t subjects, size_t block_cache_bytes,
    const std::function<GenerationReport(ycr::storage::EventLog*, absl::Time)>&
        generate) {
  auto store = std::make_unique<Store>();
  store->path = dir + "/" + name;
  store->subjects = subjects;
  const std::string shape_path = store->path + ".shape";
  const std::string stored = ReadFile(shape_path);
  const bool reuse = stored.rfind(shape + "\n", 0) == 0 &&
                     std::filesystem::exists(store->path);
  if (!reuse) {
    std::error_code ec;
    std::filesystem::remove(shape_path, ec);
    if (std::filesystem::exists(store->path)) {
      std::cerr << "removing " << store->path << " (another shape)"
                << std::endl;
      std::filesystem::remove_all(store->path, ec);
    }
  }
  ycr::storage::RocksDbEventLogOptions options;
  options.path = store->path;
  options.sync = false;
  options.block_cache_bytes = block_cache_bytes;
  auto log = ycr::storage::RocksDbEventLog::Open(options);
  if (!log.ok()) Die(absl::StrCat("open ", store->path), log.status());
  store->log = *std::move(log);
  if (reuse) {
    const std::string t0_line = stored.substr(shape.size() + 1);
    store->t0 = absl::FromUnixMicros(std::strtoll(
        t0_line.c_str() + std::string("t0_unix_micros=").size(), nullptr, 10));
    const uint64_t head = store->log->GetHead().position;
    if (head != expected_events) {
      Die(store->path, absl::DataLossError(absl::StrCat(
                           "head is ", head, ", expected ", expected_events)));
    }
    std::cerr << "reusing " << store->path << " (" << shape << ", " << head
              << " events)" << std::endl;
  } else {
    store->t0 = absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
    std::cerr << "generating " << store->path << " (" << shape << ")"
              << std::endl;
    store->generation = generate(store->log.get(), store->t0);
    const uint64_t head = store->log->GetHead().position;
    if (head != expected_events) {
      Die(store->path, absl::InternalError(absl::StrCat("generated ", head,
                                                        " events, "
                                                        "expected ",
                                                        expected_events)));
    }
    std::ofstream out(shape_path);
    out << shape << "\nt0_unix_micros=" << absl::ToUnixMicros(store->t0)
        << "\n";
    if (!out) Die(shape_path, absl::UnavailableError("cannot write"));
    std::cerr << absl::StrFormat(
                     "generated %d events in %d appends in %.1f s (%.0f "
                     "events/s), mean payload %.0f bytes",
                     store->generation.events, store->generation.appends,
                     store->generation.seconds,
                     store->generation.events / store->generation.seconds,
                     store->generation.mean_payload_bytes)
              << std::endl;
  }
  store->projections = store->log->NewProjectionStore();
  return store;
}

// ---------------------------------------------------------------- builds

std::vector<std::unique_ptr<ycr::projections::Projection>> MakeProjections(
    ycr::storage::EventLog* log, const std::vector<std::string>& names) {
  std::vector<std::unique_ptr<ycr::projections::Projection>> out;
  for (const std::string& name : names) {
    if (name == "audit_trail") {
      out.push_back(std::make_unique<ycr::projections::AuditTrailProjection>());
    } else if (name == "deadlines") {
      out.push_back(
          std::make_unique<ycr::projections::DeadlinesProjection>(log));
#ifdef YCR_BENCH_HAS_CASELOADS
    } else if (name == "caseloads") {
      out.push_back(std::make_unique<ycr::projections::CaseloadsProjection>());
#endif
    }
  }
  return out;
}

std::vector<std::string> AllProjectionNames() {
  std::vector<std::string> names = {"audit_trail", "deadlines"};
#ifdef YCR_BENCH_HAS_CASELOADS
  names.push_back("caseloads");
#endif
  return names;
}

struct BuildResult {
  std::string how;  // "initial build" or "Rebuild"
  double wall_seconds = 0;
  double cpu_seconds = 0;  // The process's, from the start to the last one.
  // Cores every other process on the machine used meanwhile.
  double other_cores = 0;
  std::map<std::string, double> seconds;  // Each one's finish time.
};

// Waits (polling Status every 2 ms) until each of `names` has an active
// generation at `head` and no rebuild running; returns each one's time.
BuildResult WaitBuilt(ycr::projections::ProjectionHost& host,
                      const std::vector<std::string>& names, uint64_t head,
                      SteadyClock::time_point start, double cpu_start,
                      double busy_start, const std::string& what) {
  BuildResult r;
  Progress progress(what);
  while (r.seconds.size() < names.size()) {
    uint64_t slowest = head;
    for (const ycr::projections::ProjectionStatus& s : host.Status()) {
      if (std::find(names.begin(), names.end(), s.name) == names.end() ||
          r.seconds.count(s.name)) {
        continue;
      }
      if (!s.error.ok()) Die("projection " + s.name, s.error);
      const uint64_t at =
          s.building_generation != 0 ? s.building_applied : s.applied;
      slowest = std::min(slowest, at);
      if (s.building_generation == 0 && s.applied >= head) {
        r.seconds[s.name] = SecondsSince(start);
      }
    }
    progress.Tick(slowest, head);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  r.wall_seconds = SecondsSince(start);
  r.cpu_seconds = ProcessCpuSeconds() - cpu_start;
  if (busy_start > 0) {
    r.other_cores = std::max(
        0.0, (ycr::bench::MachineBusySeconds() - busy_start - r.cpu_seconds) /
                 r.wall_seconds);
  }
  return r;
}

struct Host {
  std::unique_ptr<ycr::projections::ProjectionHost> host;
  std::vector<std::string> names;
};

// Drops every generation of `name` up to `active` and compacts them away,
// so that the next build starts from empty state on a settled store.
void ForgetState(Store& store, const std::string& name, uint32_t active) {
  const auto start = SteadyClock::now();
  ycr::storage::ProjectionStore& p = *store.projections;
  absl::Status s = p.DropOtherGenerations(name, active);
  if (s.ok()) s = p.DropGeneration(name, active);
  for (uint32_t g = 0; s.ok() && g <= active + 1; ++g) {
    s = p.CompactGeneration(name, g);
  }
  if (!s.ok()) Die("forgetting " + name, s);
  std::cerr << absl::StrFormat(
                   "dropped and compacted the state of %s in %.1f s", name,
                   SecondsSince(start))
            << std::endl;
}

// Starts a host with `names` on `store`. If every one of them is new to the
// store, the start is the rebuild from position 1 and *initial says how long
// it took; otherwise the start catches up (untimed) and *initial is empty.
Host StartHost(Store& store, const std::vector<std::string>& names,
               uint32_t batch_events, std::optional<BuildResult>* initial) {
  Host h;
  h.names = names;
  ycr::projections::RunnerOptions options;
  options.batch_events = batch_events;
  options.build_min_events =
      static_cast<uint64_t>(absl::GetFlag(FLAGS_build_min_events));
  options.build_batch_bytes =
      static_cast<size_t>(absl::GetFlag(FLAGS_build_batch_mb)) << 20;
  options.build_cache_bytes =
      static_cast<size_t>(absl::GetFlag(FLAGS_build_cache_mb)) << 20;
  options.compact_after_build = absl::GetFlag(FLAGS_compact_after_build);
  options.share_reads = absl::GetFlag(FLAGS_share_reads);
  h.host = std::make_unique<ycr::projections::ProjectionHost>(
      store.log.get(), store.projections.get(), options);
  bool all_new = true;
  for (const std::string& name : names) {
    auto active = store.projections->ActiveGeneration(name);
    if (!active.ok()) Die("ActiveGeneration", active.status());
    if (active->has_value() && absl::GetFlag(FLAGS_fresh)) {
      ForgetState(store, name, **active);
    } else if (active->has_value()) {
      all_new = false;
    }
  }
  for (auto& p : MakeProjections(store.log.get(), names)) {
    h.host->Add(std::move(p));
  }
  const uint64_t head = store.log->GetHead().position;
  const auto start = SteadyClock::now();
  const double cpu_start = ProcessCpuSeconds();
  const double busy_start = ycr::bench::MachineBusySeconds();
  if (absl::Status s = h.host->Start(); !s.ok()) Die("host start", s);
  BuildResult r = WaitBuilt(*h.host, names, head, start, cpu_start, busy_start,
                            all_new ? "initial build" : "catch up");
  r.how = "initial build (Start on empty projection state)";
  if (all_new) {
    *initial = std::move(r);
  } else {
    initial->reset();
    std::cerr << absl::StrFormat("caught up to %d in %.1f s", head,
                                 r.wall_seconds)
              << std::endl;
  }
  return h;
}

BuildResult RebuildAll(Host& h, uint64_t head,
                       const std::vector<std::string>& names) {
  const auto start = SteadyClock::now();
  const double cpu_start = ProcessCpuSeconds();
  const double busy_start = ycr::bench::MachineBusySeconds();
  for (const std::string& name : names) {
    if (absl::Status s = h.host->Rebuild(name); !s.ok()) Die("Rebuild", s);
  }
  BuildResult r =
      WaitBuilt(*h.host, names, head, start, cpu_start, busy_start,
                names.size() == 1 ? "rebuild " + names[0] : "rebuild all");
  r.how = "Rebuild + AwaitRebuilt";
  return r;
}

// The fastest read+parse loop over the log at `path` (read_floor.h).
ycr::bench::ReadFloor MeasureFloor(const std::string& path) {
  absl::StatusOr<ycr::bench::ReadFloor> floor =
      ycr::bench::MeasureReadFloor(path);
  if (!floor.ok()) Die("read floor", floor.status());
  std::cout << absl::StrFormat(
      "\nread+parse floor (one thread, one iterator with readahead, values "
      "parsed in place into one reused message): %d events (%.0f MB) in "
      "%.2f s (%.2f s of CPU), %.0f events/s\n",
      floor->events, floor->bytes / 1e6, floor->seconds, floor->cpu_seconds,
      floor->events_per_second());
  return *floor;
}

// ---------------------------------------------------------------- queries

struct Latency {
  std::vector<double> us;
  double p(double q) const {
    if (us.empty()) return 0;
    size_t rank = static_cast<size_t>(std::ceil(q * us.size()));
    rank = std::clamp<size_t>(rank, 1, us.size());
    return us[rank - 1] / 1000.0;  // ms
  }
  double max() const { return us.empty() ? 0 : us.back() / 1000.0; }
  double mean() const {
    double s = 0;
    for (double v : us) s += v;
    return us.empty() ? 0 : s / us.size() / 1000.0;
  }
};

struct TrailResult {
  Latency latency;
  Latency cpu;  // The querying thread's CPU time per query.
  // The queries that began while RocksDB was running a compaction.
  Latency during_compaction;
  Latency cpu_during_compaction;
  int compactions_started = 0;
  double mean_entries = 0;
  uint64_t min_entries = 0, max_entries = 0;
};

TrailResult RunTrail(Host& h, Store& store, int samples, int warmup,
                     size_t page_size, uint64_t seed) {
  auto lease = h.host->Await(ycr::projections::kAuditTrailName, 0,
                             absl::InfiniteFuture());
  if (!lease.ok()) Die("Await audit_trail", lease.status());
  const uint32_t generation = (*lease)->generation();
  if (absl::GetFlag(FLAGS_settle)) {
    const auto start = SteadyClock::now();
    absl::Status s = store.projections->CompactGeneration(
        ycr::projections::kAuditTrailName, generation);
    if (!s.ok()) Die("CompactGeneration", s);
    std::cerr << absl::StrFormat("settled (compacted) in %.1f s",
                                 SecondsSince(start))
              << std::endl;
  }
  std::mt19937_64 rng(seed ^ 0x7a11);
  std::uniform_int_distribution<uint64_t> pick(0, store.subjects - 1);
  TrailResult r;
  uint64_t entries_total = 0;
  r.min_entries = ~uint64_t{0};
  std::vector<v1::AuditEntry> page;
  Progress progress("trail");
  std::atomic<bool> stop_compacting{false};
  std::thread compactor;
  for (int i = 0; i < warmup + samples; ++i) {
    if (i == warmup && absl::GetFlag(FLAGS_compact_during)) {
      compactor = std::thread([&] {
        while (!stop_compacting.load()) {
          ++r.compactions_started;
          absl::Status s = store.projections->CompactGeneration(
              ycr::projections::kAuditTrailName, generation);
          if (s.ok() && !stop_compacting.load()) {
            ++r.compactions_started;
            s = store.log->CompactStore(&stop_compacting);
          }
          if (!s.ok()) Die("compaction during the queries", s);
        }
      });
    }
    const bool compacting = i >= warmup && store.log->RunningCompactions() > 0;
    const std::string subject = SubjectId(pick(rng));
    const double cpu0 = ThreadCpuMicros();
    const auto start = SteadyClock::now();
    uint64_t after = 0, entries = 0;
    do {
      uint64_t next = 0;
      absl::Status s = ycr::projections::ReadSubjectTrail(
          *store.projections, generation, subject, after, page_size, &page,
          &next);
      if (!s.ok()) Die("ReadSubjectTrail", s);
      entries += page.size();
      after = next;
    } while (after != 0);
    const double us =
        std::chrono::duration<double, std::micro>(SteadyClock::now() - start)
            .count();
    if (entries == 0) {
      Die("ReadSubjectTrail",
          absl::InternalError(absl::StrCat("empty trail for ", subject)));
    }
    const double cpu_us = ThreadCpuMicros() - cpu0;
    if (i < warmup) continue;
    r.latency.us.push_back(us);
    r.cpu.us.push_back(cpu_us);
    if (compacting) {
      r.during_compaction.us.push_back(us);
      r.cpu_during_compaction.us.push_back(cpu_us);
    }
    entries_total += entries;
    r.min_entries = std::min(r.min_entries, entries);
    r.max_entries = std::max(r.max_entries, entries);
    progress.Tick(i + 1 - warmup, samples);
  }
  stop_compacting = true;
  if (compactor.joinable()) compactor.join();
  std::sort(r.latency.us.begin(), r.latency.us.end());
  std::sort(r.cpu.us.begin(), r.cpu.us.end());
  std::sort(r.during_compaction.us.begin(), r.during_compaction.us.end());
  std::sort(r.cpu_during_compaction.us.begin(),
            r.cpu_during_compaction.us.end());
  r.mean_entries = samples ? static_cast<double>(entries_total) / samples : 0;
  return r;
}

struct OverdueResult {
  Latency latency;
  Latency cpu;
  uint64_t items = 0;
};

OverdueResult RunOverdue(Host& h, Store& store, int samples, int warmup,
                         size_t page_size, uint64_t expected) {
  auto lease = h.host->Await("deadlines", 0, absl::InfiniteFuture());
  if (!lease.ok()) Die("Await deadlines", lease.status());
  const uint32_t generation = (*lease)->generation();
  OverdueResult r;
  std::vector<v1::DeadlineItem> items;
  Progress progress("overdue");
  for (int i = 0; i < warmup + samples; ++i) {
    items.clear();
    std::string token;
    uint64_t n = 0;
    const double cpu0 = ThreadCpuMicros();
    const auto start = SteadyClock::now();
    do {
      absl::Status s =
          ycr::projections::ListDue(*store.projections, generation, store.t0,
                                    "", token, page_size, &items, &token);
      if (!s.ok()) Die("ListDue", s);
      n += items.size();
      items.clear();
    } while (!token.empty());
    const double us =
        std::chrono::duration<double, std::micro>(SteadyClock::now() - start)
            .count();
    if (n != expected) {
      Die("ListDue", absl::InternalError(absl::StrCat(
                         "listed ", n, " due items, expected ", expected)));
    }
    const double cpu_us = ThreadCpuMicros() - cpu0;
    r.items = n;
    if (i < warmup) continue;
    r.latency.us.push_back(us);
    r.cpu.us.push_back(cpu_us);
    progress.Tick(i + 1 - warmup, samples);
  }
  std::sort(r.latency.us.begin(), r.latency.us.end());
  std::sort(r.cpu.us.begin(), r.cpu.us.end());
  return r;
}

std::string Json(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

int main(int argc, char** argv) {
  ycr::InitCommandLine(
      argc, argv,
      "Measures the projections in process: rebuild of all projections from "
      "a mixed log, whole audit trails of random subjects, and ListDue "
      "(ListOverdue) over a large deadlines projection.\n"
      "Usage: ycr-projection-bench [--mode=all|rebuild|trail|overdue] "
      "[--events=1000000] [--open_deadlines=1000000] [--data_dir=DIR] "
      "[flags]\n"
      "Logs are generated (WAL sync off) or reused from --data_dir. "
      "Progress goes to stderr, the table to stdout.");

  const std::string mode = absl::GetFlag(FLAGS_mode);
  const bool do_rebuild = mode == "rebuild" || mode == "all";
  const bool do_trail = mode == "trail" || mode == "all";
  const bool do_overdue = mode == "overdue" || mode == "all";
  if (!do_rebuild && !do_trail && !do_overdue) {
    std::cerr << "ycr-projection-bench: --mode must be all, rebuild, trail or "
                 "overdue\n";
    return 2;
  }
  const int64_t events = absl::GetFlag(FLAGS_events);
  int64_t subjects = absl::GetFlag(FLAGS_subjects);
  if (subjects <= 0) subjects = std::max<int64_t>(1, events / 30);
  const int64_t open = absl::GetFlag(FLAGS_open_deadlines);
  const int64_t due = absl::GetFlag(FLAGS_due);
  const int64_t agreements = std::clamp<int64_t>(
      absl::GetFlag(FLAGS_agreements), 1, std::max<int64_t>(1, open / 100));
  const int samples = absl::GetFlag(FLAGS_samples);
  const int warmup = absl::GetFlag(FLAGS_warmup_samples);
  const int page_size = absl::GetFlag(FLAGS_page_size);
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  const size_t cache = size_t(absl::GetFlag(FLAGS_block_cache_mb)) << 20;
  if ((do_rebuild || do_trail) && (events < 1000 || subjects * 2 > events)) {
    std::cerr << "ycr-projection-bench: need --events >= 1000 and at least 2 "
                 "events per subject\n";
    return 2;
  }
  if (do_overdue && (due < 1 || open < due * 2)) {
    std::cerr << "ycr-projection-bench: need 1 <= --due <= open_deadlines/2\n";
    return 2;
  }
  if (samples < 1 || warmup < 0 || page_size < 1) {
    std::cerr << "ycr-projection-bench: need --samples >= 1, "
                 "--warmup_samples >= 0, --page_size >= 1\n";
    return 2;
  }

  TempDir temp;
  std::string dir = absl::GetFlag(FLAGS_data_dir);
  if (dir.empty()) {
    if (!temp.Create()) {
      std::perror("ycr-projection-bench: mkdtemp");
      return 2;
    }
    dir = temp.path();
  } else {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
  }

  std::string json = absl::StrCat("{\"mode\":", Json(mode));
  std::cout << absl::StrFormat(
      "ycr-projection-bench: %d cores online, data %s, block "
      "cache %d MiB, projections:",
      std::thread::hardware_concurrency(), dir,
      absl::GetFlag(FLAGS_block_cache_mb));
  for (const auto& n : AllProjectionNames()) std::cout << " " << n;
  std::cout << "\n" << std::endl;

  if (do_rebuild || do_trail) {
    const std::string shape = absl::StrFormat(
        "mixed v1 events=%d subjects=%d seed=%d", events, subjects, seed);
    auto store = OpenOrGenerate(
        dir, absl::StrCat("mixed-", events), shape, events, subjects, cache,
        [&](ycr::storage::EventLog* log, absl::Time t0) {
          return GenerateMixed(log, events, subjects, seed, t0);
        });
    const uint64_t head = store->log->GetHead().position;
    std::cout << absl::StrFormat("mixed log: %d events, %d subjects, %s\n",
                                 head, subjects, store->path);
    if (store->generation.generated) {
      std::cout << absl::StrFormat(
          "  generated in %.1f s (%.0f events/s, %d appends, mean payload "
          "%.0f bytes)\n",
          store->generation.seconds,
          store->generation.events / store->generation.seconds,
          store->generation.appends, store->generation.mean_payload_bytes);
    }
    absl::StrAppend(&json, ",\"mixed_log\":{\"events\":", head,
                    ",\"subjects\":", subjects, "}");
    const std::vector<std::string> names =
        do_rebuild
            ? AllProjectionNames()
            : std::vector<std::string>{ycr::projections::kAuditTrailName};
    std::optional<BuildResult> initial;
    Host h =
        StartHost(*store, names, absl::GetFlag(FLAGS_batch_events), &initial);
    if (do_rebuild) {
      // The floors under any build, measured here so that the build is
      // compared with them in one run on one (shared, noisy) machine: the
      // fastest read+parse loop (read_floor.h), and ycr's own read loop
      // (EventLog::ForEach), each applying nothing.
      const ycr::bench::ReadFloor floor = MeasureFloor(store->path);
      double foreach_rate = 0;
      {
        const auto start = SteadyClock::now();
        uint64_t seen = 0, next = 0;
        absl::Status s = store->log->ForEach(
            1, 0,
            [&](const v1::RecordedEvent&) {
              ++seen;
              return absl::OkStatus();
            },
            &next);
        if (!s.ok()) Die("ForEach", s);
        const double secs = SecondsSince(start);
        foreach_rate = seen / secs;
        std::cout << absl::StrFormat(
            "ycr's read loop (EventLog::ForEach, no projection): %d events "
            "in %.2f s, %.0f events/s (%.2fx the floor)\n",
            seen, secs, foreach_rate, foreach_rate / floor.events_per_second());
        absl::StrAppend(&json, ",\"read_floor\":",
                        absl::StrFormat("%.1f", floor.events_per_second()),
                        ",\"foreach\":", absl::StrFormat("%.1f", foreach_rate));
      }
      // The concurrent build: the initial build if the state was empty,
      // else a Rebuild of every projection at once.
      BuildResult all =
          initial.has_value() ? *initial : RebuildAll(h, head, names);
      std::cout << absl::StrFormat(
          "\nrebuild of all projections from position 1 to %d (%s; runners "
          "concurrent, one thread each):\n",
          head, all.how);
      std::cout << absl::StrFormat("  %-22s %9s %12s\n", "projection",
                                   "seconds", "events/s");
      absl::StrAppend(&json, ",\"rebuild\":{\"how\":", Json(all.how),
                      ",\"concurrent\":{");
      for (const auto& [name, s] : all.seconds) {
        std::cout << absl::StrFormat("  %-22s %9.2f %12.0f\n", name, s,
                                     head / s);
        absl::StrAppend(&json, Json(name), ":",
                        absl::StrFormat("%.1f", head / s), ",");
      }
      std::cout << absl::StrFormat("  %-22s %9.2f %12.0f   <- wall time\n",
                                   "ALL (together)", all.wall_seconds,
                                   head / all.wall_seconds);
      absl::StrAppend(&json, "\"all\":",
                      absl::StrFormat("%.1f", head / all.wall_seconds), "}");
      if (absl::GetFlag(FLAGS_solo)) {
        std::cout << "each alone (Rebuild + AwaitRebuilt, nothing else "
                     "running):\n";
        absl::StrAppend(&json, ",\"solo\":{");
        bool first = true;
        for (const std::string& name : names) {
          BuildResult one = RebuildAll(h, head, {name});
          std::cout << absl::StrFormat("  %-22s %9.2f %12.0f\n", name,
                                       one.wall_seconds,
                                       head / one.wall_seconds);
          absl::StrAppend(&json, first ? "" : ",", Json(name), ":",
                          absl::StrFormat("%.1f", head / one.wall_seconds));
          first = false;
        }
        absl::StrAppend(&json, "}");
      }
      absl::StrAppend(&json, "}");
      const double ratio = head / all.wall_seconds / floor.events_per_second();
      // On a shared machine CPU time is the steadier measure: the floor's
      // CPU per event against the whole process's CPU per event while it
      // built (runners, the shared reader, compactions started meanwhile).
      const double floor_cpu_us = floor.cpu_seconds * 1e6 / floor.events;
      const double build_cpu_us = all.cpu_seconds * 1e6 / head;
      absl::StrAppend(
          &json, ",\"ratio_to_floor\":", absl::StrFormat("%.3f", ratio),
          ",\"cpu_us_per_event\":{\"floor\":",
          absl::StrFormat("%.3f", floor_cpu_us),
          ",\"rebuild\":", absl::StrFormat("%.3f", build_cpu_us), "}",
          ",\"other_cores\":", absl::StrFormat("%.2f", all.other_cores));
      std::cout << absl::StrFormat(
          "all together: %.0f events/s = %.2fx the read+parse floor of this "
          "run (%.0f events/s)\n"
          "CPU per event: floor %.2f us (one thread), rebuild %.2f us (the "
          "process, %.1f s of CPU in %.1f s: %.2f cores; other_cores %.2f: "
          "every other process on the machine meanwhile)\n",
          head / all.wall_seconds, ratio, floor.events_per_second(),
          floor_cpu_us, build_cpu_us, all.cpu_seconds, all.wall_seconds,
          all.cpu_seconds / all.wall_seconds, all.other_cores);
      std::cout << "target: >= 1,000,000 events/s for all projections "
                   "together: "
                << (head / all.wall_seconds >= 1e6 ? "MET" : "NOT MET")
                << "; >= 0.6x the floor: " << (ratio >= 0.6 ? "MET" : "NOT MET")
                << std::endl;
    }
    if (do_trail) {
      const uint64_t sample_seed = absl::GetFlag(FLAGS_sample_seed);
      TrailResult t = RunTrail(h, *store, samples, warmup, page_size,
                               sample_seed != 0 ? sample_seed : seed);
      std::cout << absl::StrFormat(
          "\naudit trail of one subject (ReadSubjectTrail, whole trail, "
          "page size %d), %d random subjects of %d, log of %d events:\n"
          "  entries per trail: mean %.1f, min %d, max %d\n"
          "  wall: p50 %.3f ms  p99 %.3f ms  max %.3f ms  mean %.3f ms\n"
          "  cpu:  p50 %.3f ms  p99 %.3f ms  max %.3f ms  (the query "
          "thread's CPU time)\n",
          page_size, samples, subjects, head, t.mean_entries, t.min_entries,
          t.max_entries, t.latency.p(0.5), t.latency.p(0.99), t.latency.max(),
          t.latency.mean(), t.cpu.p(0.5), t.cpu.p(0.99), t.cpu.max());
      if (absl::GetFlag(FLAGS_compact_during)) {
        std::cout << absl::StrFormat(
            "  while RocksDB compacted (%d of %d queries; %d forced "
            "compactions started):\n"
            "  wall: p50 %.3f ms  p99 %.3f ms  max %.3f ms\n"
            "  cpu:  p50 %.3f ms  p99 %.3f ms\n",
            t.during_compaction.us.size(), samples, t.compactions_started,
            t.during_compaction.p(0.5), t.during_compaction.p(0.99),
            t.during_compaction.max(), t.cpu_during_compaction.p(0.5),
            t.cpu_during_compaction.p(0.99));
      }
      std::cout << "target: p99 < 2 ms"
                << (head < 10000000 ? " (on a 10,000,000-event log; this log "
                                      "is smaller)"
                                    : "")
                << ": " << (t.latency.p(0.99) < 2 ? "MET" : "NOT MET")
                << std::endl;
      absl::StrAppend(
          &json, ",\"trail\":",
          absl::StrFormat("{\"samples\":%d,\"mean_entries\":%.1f,\"p50_ms\":"
                          "%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
                          "\"cpu_p50_ms\":%.3f,\"cpu_p99_ms\":%.3f}",
                          samples, t.mean_entries, t.latency.p(0.5),
                          t.latency.p(0.99), t.latency.max(), t.cpu.p(0.5),
                          t.cpu.p(0.99)));
      if (absl::GetFlag(FLAGS_compact_during)) {
        json.pop_back();  // The trail object's closing brace.
        absl::StrAppend(
            &json,
            absl::StrFormat(
                ",\"during_compaction\":{\"queries\":%d,"
                "\"compactions_started\":%d,\"p50_ms\":%.3f,"
                "\"p99_ms\":%.3f,\"max_ms\":%.3f,"
                "\"cpu_p99_ms\":%.3f}}",
                t.during_compaction.us.size(), t.compactions_started,
                t.during_compaction.p(0.5), t.during_compaction.p(0.99),
                t.during_compaction.max(), t.cpu_during_compaction.p(0.99)));
      }
    }
    h.host->Stop();
  }

  if (do_overdue) {
    const std::string shape =
        absl::StrFormat("deadlines v1 open=%d due=%d agreements=%d seed=%d",
                        open, due, agreements, seed);
    const uint64_t log_events = open + 3 * agreements;
    auto store = OpenOrGenerate(
        dir, absl::StrCat("deadlines-", open), shape, log_events, 0, cache,
        [&](ycr::storage::EventLog* log, absl::Time t0) {
          return GenerateDeadlines(log, open, due, agreements, seed, t0);
        });
    std::cout << absl::StrFormat(
        "\ndeadlines log: %d events (%d agreements, %d correspondence "
        "received, none answered), %s\n",
        log_events, agreements, open, store->path);
    std::optional<BuildResult> initial;
    Host h = StartHost(*store, {"deadlines"}, absl::GetFlag(FLAGS_batch_events),
                       &initial);
    if (initial.has_value()) {
      std::cout << absl::StrFormat(
          "  deadlines projection built in %.1f s (%.0f events/s)\n",
          initial->wall_seconds, log_events / initial->wall_seconds);
    }
    OverdueResult o = RunOverdue(h, *store, samples, warmup, page_size, due);
    std::cout << absl::StrFormat(
        "ListDue(as_of = generation time, everyone's, page size %d) with %d "
        "open items, %d due: %d samples\n"
        "  wall: p50 %.3f ms  p99 %.3f ms  max %.3f ms  mean %.3f ms\n"
        "  cpu:  p50 %.3f ms  p99 %.3f ms  max %.3f ms  (the query thread's "
        "CPU time)\n",
        page_size, open + agreements, o.items, samples, o.latency.p(0.5),
        o.latency.p(0.99), o.latency.max(), o.latency.mean(), o.cpu.p(0.5),
        o.cpu.p(0.99), o.cpu.max());
    std::cout << "target: < 1 ms (taken as p99): "
              << (o.latency.p(0.99) < 1 ? "MET" : "NOT MET") << std::endl;
    absl::StrAppend(
        &json, ",\"overdue\":",
        absl::StrFormat("{\"open\":%d,\"due\":%d,\"samples\":%d,\"p50_ms\":"
                        "%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
                        "\"cpu_p50_ms\":%.3f,\"cpu_p99_ms\":%.3f}",
                        open, o.items, samples, o.latency.p(0.5),
                        o.latency.p(0.99), o.latency.max(), o.cpu.p(0.5),
                        o.cpu.p(0.99)));
    h.host->Stop();
  }

  json += "}";
  if (absl::GetFlag(FLAGS_json)) std::cout << json << std::endl;
  return 0;
}
