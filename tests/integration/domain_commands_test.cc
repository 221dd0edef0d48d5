// Domain commands on a real RocksDB log: consent enforcement at the moment of
// sharing, atomic check-and-append, idempotent retries, and concurrency.

#include "services/domain_commands.h"

#include <functional>
#include <thread>
#include <utility>

#include "absl/strings/str_replace.h"
#include "absl/synchronization/notification.h"
#include "common/error_details.h"
#include "domain/field_checks.h"
#include "domain/safeguarding_rules.h"
#include "domain/sharing_rules.h"
#include "gtest/gtest.h"
#include "storage/rocksdb_event_log.h"
#include "tests/integration/test_server.h"

namespace ycr::services {
namespace {

using testing::TempDir;

const absl::Time kNow = absl::FromUnixSeconds(1'780'000'000);

google::protobuf::Timestamp At(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

v1::Actor As(const std::string& organisation) {
  v1::Actor actor;
  actor.set_organisation(organisation);
  actor.set_user("user-1");
  actor.set_role("dsl");
  return actor;
}

v1::EventPayload Grant(const std::string& consent_id,
                       const std::string& subject_id) {
  v1::EventPayload p;
  auto* g = p.mutable_consent_granted();
  g->set_consent_id(consent_id);
  g->set_subject_id(subject_id);
  g->mutable_given_by()->mutable_parent()->set_person_ref("parent-1");
  auto* t = g->mutable_terms();
  t->add_purposes(v1::PURPOSE_REFERRAL);
  t->add_recipients()->set_organisation("service-7");
  t->add_categories(v1::DATA_CATEGORY_IDENTITY);
  t->add_categories(v1::DATA_CATEGORY_CARING_SITUATION);
  *t->mutable_valid_from() = At(kNow - absl::Hours(1));
  *t->mutable_valid_until() = At(kNow + absl::Hours(24 * 365));
  return p;
}

v1::EventPayload Withdraw(const std::string& consent_id, absl::Time at) {
  v1::EventPayload p;
  p.mutable_consent_withdrawn()->set_consent_id(consent_id);
  *p.mutable_consent_withdrawn()->mutable_effective_at() = At(at);
  return p;
}

v1::DisclosureRecorded Share(const std::string& consent_id,
                             const std::string& subject_id) {
  v1::DisclosureRecorded d;
  d.set_disclosure_id(NewUuid());
  d.set_subject_id(subject_id);
  d.mutable_from()->set_organisation("school-100001");
  d.mutable_to()->set_organisation("service-7");
  d.add_categories(v1::DATA_CATEGORY_IDENTITY);
  d.set_purpose(v1::PURPOSE_REFERRAL);
  if (!consent_id.empty()) d.mutable_consent()->set_consent_id(consent_id);
  return d;
}

// School 100001 refers subject s-1 to service 7 as referral r-1, under
// consent c-ref (granted in SetUp).
v1::EventPayload SubmitReferral() {
  v1::EventPayload p;
  auto* s = p.mutable_referral_submitted();
  s->set_referral_id("r-1");
  s->set_subject_id("s-1");
  s->set_school("school-100001");
  s->set_service("service-7");
  *s->mutable_disclosure() = Share("c-ref", "s-1");
  return p;
}

v1::SubjectRecord Record(const std::string& subject_id) {
  v1::SubjectRecord r;
  r.set_subject_id(subject_id);
  r.set_given_name("Given");
  r.set_family_name("Family");
  r.set_date_of_birth("2012-03-04");
  return r;
}

// Agreement a-1 between school 100001 and service 7, response time `days`.
v1::EventPayload DraftAgreement(uint32_t days) {
  v1::EventPayload p;
  auto* d = p.mutable_agreement_drafted();
  d->set_agreement_id("a-1");
  auto* t = d->mutable_terms();
  for (auto [party, org] : {std::pair{t->mutable_school(), "school-100001"},
                            std::pair{t->mutable_service(), "service-7"}}) {
    party->set_organisation(org);
    party->set_name(std::string("Name of ") + org);
    party->set_address("1 High Street");
    party->add_responsibilities("answer correspondence");
    party->mutable_lead_contact()->set_name("Lead");
  }
  t->set_response_time_days(days);
  t->set_review_cadence_months(12);
  t->set_closing_period_days(30);
  return p;
}

v1::EventPayload AmendResponseTime(uint32_t days) {
  v1::EventPayload p;
  auto* a = p.mutable_agreement_amended();
  *a->mutable_terms() = DraftAgreement(days).agreement_drafted().terms();
  return p;
}

v1::EventPayload Receive(const std::string& id, absl::Time at) {
  v1::EventPayload p;
  auto* r = p.mutable_correspondence_received();
  r->set_correspondence_id(id);
  r->set_agreement_id("a-1");
  r->set_channel(v1::CHANNEL_EMAIL);
  r->set_from("school-100001");
  r->set_topic_code(v1::CORRESPONDENCE_TOPIC_SUPPORT);
  *r->mutable_received_at() = At(at);
  return p;
}

// The real log, with a hook that runs once just before the next append
// reaches it: injects a write between a command's decision and its append.
class InterleavingLog : public storage::EventLog {
 public:
  explicit InterleavingLog(storage::EventLog* log) : log_(log) {}

  void BeforeNextAppend(std::function<void()> hook) { hook_ = std::move(hook); }

  void AppendAsync(storage::AppendRequest request,
                   storage::AppendCallback done) override {
    if (hook_) std::exchange(hook_, nullptr)();
    log_->AppendAsync(std::move(request), std::move(done));
  }
  absl::StatusOr<storage::StreamSlice> ReadStream(
      absl::string_view stream,
      const storage::ReadStreamOptions& options) override {
    return log_->ReadStream(stream, options);
  }
  absl::StatusOr<storage::LogSlice> ReadAll(
      uint64_t from, uint32_t limit,
      const storage::LogFilter& filter) override {
    return log_->ReadAll(from, limit, filter);
  }
  absl::StatusOr<std::optional<uint64_t>> LookupEventId(
      absl::string_view id) override {
    return log_->LookupEventId(id);
  }
  absl::StatusOr<std::optional<std::string>> GetRecord(
      absl::string_view key) override {
    return log_->GetRecord(key);
  }
  absl::Status RevealPersonal(v1::RecordedEvent* event) override {
    return log_->RevealPersonal(event);
  }
  storage::Head GetHead() override { return log_->GetHead(); }
  uint64_t WatchHead(uint64_t position, storage::WatchCallback ready) override {
    return log_->WatchHead(position, std::move(ready));
  }
  bool CancelWatch(uint64_t id) override { return log_->CancelWatch(id); }
  absl::Status VerifyChain(uint64_t from, uint64_t to) override {
    return log_->VerifyChain(from, to);
  }
  void Close() override { log_->Close(); }

 private:
  storage::EventLog* const log_;
  std::function<void()> hook_;
};

class DomainCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::RocksDbEventLogOptions options;
    options.path = dir_.path();
    options.sync = false;
    options.clock = &clock_;
    auto log = storage::RocksDbEventLog::Open(options);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    commands_ = std::make_unique<DomainCommands>(log_.get(), &clock_);
    AddSubject("s-1");
    ASSERT_TRUE(
        commands_->RecordConsent(school_, NewUuid(), Grant("c-ref", "s-1"))
            .ok());
  }

  void AddSubject(const std::string& subject_id) {
    auto put =
        commands_->PutSubjectRecord(school_, NewUuid(), Record(subject_id));
    ASSERT_TRUE(put.ok()) << put.status();
  }

  // Grants consent `consent_id` about s-1 and records a disclosure under it
  // (which leaves the consent's view in the commands' cache).
  void GrantAndDisclose(const std::string& consent_id) {
    ASSERT_TRUE(
        commands_->RecordConsent(school_, NewUuid(), Grant(consent_id, "s-1"))
            .ok());
    auto shared = commands_->RecordDisclosure(school_, NewUuid(),
                                              Share(consent_id, "s-1"));
    ASSERT_TRUE(shared.ok()) << shared.status();
  }

  std::vector<v1::RecordedEvent> Stream(const std::string& stream) {
    auto slice = log_->ReadStream(stream, {});
    if (!slice.ok()) return {};
    // As readers see them: the personal part opened.
    EXPECT_TRUE(storage::RevealAll(*log_, slice->events).ok());
    return slice->events;
  }

  TempDir dir_;
  ManualClock clock_{kNow};
  std::unique_ptr<storage::RocksDbEventLog> log_;
  std::unique_ptr<DomainCommands> commands_;
  const v1::Actor school_ = As("school-100001");
};

TEST_F(DomainCommandsTest, CoveredDisclosureRecordsTheConsentVersion) {
  ASSERT_TRUE(
      commands_->RecordConsent(school_, NewUuid(), Grant("c-1", "s-1")).ok());
  auto result =
      commands_->RecordDisclosure(school_, NewUuid(), Share("c-1", "s-1"));
  ASSERT_TRUE(result.ok()) << result.status();
  auto events = Stream("sharing-s-1");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(
      events[0].payload().disclosure_recorded().consent().consent_version(),
      1u);
  EXPECT_EQ(events[0].actor().organisation(), "school-100001");
}

// Commands keep the views of the streams they depend on (view_cache.h). A
// consent withdrawn after a disclosure cached it is read again: the next
// disclosure's append conflicts on the cached version, the command forgets
// it and is refused on the fresh view (not ABORTED after every attempt).
TEST_F(DomainCommandsTest, ACachedConsentWithdrawnSinceIsReadAgain) {
  GrantAndDisclose("c-1");
  ASSERT_TRUE(
      commands_->RecordConsent(school_, NewUuid(), Withdraw("c-1", kNow)).ok());
  auto result =
      commands_->RecordDisclosure(school_, NewUuid(), Share("c-1", "s-1"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition)
      << result.status();
  EXPECT_NE(result.status().message().find("withdrawn"), std::string::npos);
  EXPECT_EQ(Stream("sharing-s-1").size(), 1u);
}

// A refusal has no append to catch a stale view: a disclosure refused on a
// cached consent is decided again on a fresh one, so a variation that now
// covers it counts, and the disclosure records the version that covered it.
TEST_F(DomainCommandsTest, ARefusalOnACachedConsentIsDecidedAgainFresh) {
  GrantAndDisclose("c-1");
  v1::EventPayload vary;
  vary.mutable_consent_varied()->set_consent_id("c-1");
  *vary.mutable_consent_varied()->mutable_terms() =
      Grant("c-1", "s-1").consent_granted().terms();
  vary.mutable_consent_varied()->mutable_terms()->add_categories(
      v1::DATA_CATEGORY_ATTENDANCE);
  ASSERT_TRUE(commands_->RecordConsent(school_, NewUuid(), vary).ok());
  v1::DisclosureRecorded attendance = Share("c-1", "s-1");
  attendance.add_categories(v1::DATA_CATEGORY_ATTENDANCE);
  auto result = commands_->RecordDisclosure(school_, NewUuid(), attendance);
  ASSERT_TRUE(result.ok()) << result.status();
  const auto events = Stream("sharing-s-1");
  ASSERT_EQ(events.size(), 2u);
  const v1::DisclosureRecorded& covered =
      events.back().payload().disclosure_recorded();
  EXPECT_EQ(covered.consent().consent_version(), 2u);
}

TEST_F(DomainCommandsTest, DisclosureAfterWithdrawalIsRefusedAndNotWritten) {
  ASSERT_TRUE(
      commands_->RecordConsent(school_, NewUuid(), Grant("c-1", "s-1")).ok());
  ASSERT_TRUE(
      commands_->RecordConsent(school_, NewUuid(), Withdraw("c-1", kNow)).ok());
  auto result =
      commands_->RecordDisclosure(school_, NewUuid(), Share("c-1", "s-1"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("withdrawn"), std::string::npos);
  EXPECT_TRUE(Stream("sharing-s-1").empty());
}

// A withdrawal scheduled ahead does not lock the consent: it may still be
// varied, and a withdrawal now (no effective_at) supersedes it, so sharing
// stops at once instead of at the scheduled date.
TEST_F(DomainCommandsTest, WithdrawingNowSupersedesAScheduledWithdrawal) {
  ASSERT_TRUE(
      commands_->RecordConsent(school_, NewUuid(), Grant("c-1", "s-1")).ok());
  ASSERT_TRUE(commands_
                  ->RecordConsent(school_, NewUuid(),
                                  Withdraw("c-1", kNow + absl::Hours(24 * 30)))
                  .ok());
  v1::EventPayload vary;
  vary.mutable_consent_varied()->set_consent_id("c-1");
  *vary.mutable_consent_varied()->mutable_terms() =
      Grant("c-1", "s-1").consent_granted().terms();
  auto varied = commands_->RecordConsent(school_, NewUuid(), vary);
  ASSERT_TRUE(varied.ok()) << varied.status();
  ASSERT_TRUE(
      commands_->RecordDisclosure(school_, NewUuid(), Share("c-1", "s-1"))
          .ok());

  clock_.Advance(absl::Minutes(5));
  v1::EventPayload now;
  now.mutable_consent_withdrawn()->set_consent_id("c-1");
  auto withdrawn = commands_->RecordConsent(school_, NewUuid(), now);
  ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  auto result =
      commands_->RecordDisclosure(school_, NewUuid(), Share("c-1", "s-1"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("withdrawn"), std::string::npos);
  EXPECT_EQ(Stream("sharing-s-1").size(), 1u);
  auto view = commands_->LoadConsent("c-1");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->withdrawn_at, clock_.Now());
}

TEST_F(DomainCommandsTest, AWithdrawalFarAheadIsRefusedNamingTheField) {
  ASSERT_TRUE(
      commands_->RecordConsent(school_, NewUuid(), Grant("c-1", "s-1")).ok());
  const absl::Time year_9999 =
      absl::FromCivil(absl::CivilSecond(9999, 6, 1), absl::UTCTimeZone());
  auto result =
      commands_->RecordConsent(school_, NewUuid(), Withdraw("c-1", year_9999));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("effective_at"), std::string::npos)
      << result.status();
  EXPECT_EQ(Stream("consent-c-1").size(), 1u);
}

TEST_F(DomainCommandsTest, DisclosureBeforeConsentIsValidIsRefused) {
  ASSERT_TRUE(
      commands_->RecordConsent(school_, NewUuid(), Grant("c-1", "s-1")).ok());
  clock_.Set(kNow - absl::Hours(2));
  auto result =
      commands_->RecordDisclosure(school_, NewUuid(), Share("c-1", "s-1"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(DomainCommandsTest, DisclosureNeedsConsentOrACompleteSafeguardingBasis) {
  auto result =
      commands_->RecordDisclosure(school_, NewUuid(), Share("", "s-1"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("neither"), std::string::npos);

  v1::DisclosureRecorded d = Share("", "s-1");
  d.set_purpose(v1::PURPOSE_SAFEGUARDING);
  auto* basis = d.mutable_safeguarding();
  basis->set_lawful_basis("dpa2018-sch1-para18");
  basis->set_decision_maker("dsl-1");
  basis->set_family_told(false);
  v1::PersonalData personal;
  personal.set_not_told_reason("telling them would increase the risk");
  result = commands_->RecordDisclosure(school_, NewUuid(), d, personal);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("risk_statement"),
            std::string::npos);

  personal.set_risk_statement("at risk of significant harm");
  result = commands_->RecordDisclosure(school_, NewUuid(), d, personal);
  EXPECT_TRUE(result.ok()) << result.status();
  auto events =
      Stream(domain::ConfidentialSharingStream("s-1", school_.organisation()));
  ASSERT_EQ(events.size(), 1u);
  // The risk statement is in the personal part, stamped with its subject.
  EXPECT_EQ(events[0].payload().personal().risk_statement(),
            "at risk of significant harm");
  EXPECT_EQ(events[0].payload().personal().subject_id(), "s-1");

  // Without consent, only to protect a child: not for a referral.
  d.set_purpose(v1::PURPOSE_REFERRAL);
  result = commands_->RecordDisclosure(school_, NewUuid(), d, personal);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      Stream(domain::ConfidentialSharingStream("s-1", school_.organisation()))
          .size(),
      1u);
}

TEST_F(DomainCommandsTest, CallerCannotShareForAnotherOrganisation) {
  ASSERT_TRUE(
      commands_->RecordConsent(school_, NewUuid(), Grant("c-1", "s-1")).ok());
  auto result = commands_->RecordDisclosure(As("school-999"), NewUuid(),
                                            Share("c-1", "s-1"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(DomainCommandsTest, RetriedCommandReturnsTheOriginalPosition) {
  ASSERT_TRUE(
      commands_->RecordConsent(school_, NewUuid(), Grant("c-1", "s-1")).ok());
  const std::string request = NewUuid();
  v1::DisclosureRecorded share = Share("c-1", "s-1");
  auto first = commands_->RecordDisclosure(school_, request, share);
  ASSERT_TRUE(first.ok()) << first.status();
  // The consent moves on; the retry is still answered as the original.
  v1::EventPayload vary;
  vary.mutable_consent_varied()->set_consent_id("c-1");
  *vary.mutable_consent_varied()->mutable_terms() =
      Grant("c-1", "s-1").consent_granted().terms();
  ASSERT_TRUE(commands_->RecordConsent(school_, NewUuid(), vary).ok());
  auto again = commands_->RecordDisclosure(school_, request, share);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->first_position, first->first_position);
  EXPECT_EQ(Stream("sharing-s-1").size(), 1u);

  share.set_purpose(v1::PURPOSE_NEEDS_ASSESSMENT);
  EXPECT_EQ(
      commands_->RecordDisclosure(school_, request, share).status().code(),
      absl::StatusCode::kAlreadyExists);

  // A replayed referral transition is answered even though the state has
  // moved past it.
  v1::EventPayload submit = SubmitReferral();
  const std::string submit_request = NewUuid();
  auto submitted =
      commands_->RecordReferral(school_, submit_request, "r-1", submit);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  auto resubmitted =
      commands_->RecordReferral(school_, submit_request, "r-1", submit);
  ASSERT_TRUE(resubmitted.ok()) << resubmitted.status();
  EXPECT_TRUE(resubmitted->replayed);
}

TEST_F(DomainCommandsTest, StaleReferralTransitionIsAborted) {
  v1::EventPayload submit = SubmitReferral();
  ASSERT_TRUE(
      commands_->RecordReferral(school_, NewUuid(), "r-1", submit).ok());
  const v1::Actor service = As("service-7");
  v1::EventPayload receive;
  receive.mutable_referral_received();
  v1::EventPayload accept;
  accept.mutable_referral_accepted();
  // Both saw version 1; the second to arrive loses.
  ASSERT_TRUE(
      commands_->RecordReferral(service, NewUuid(), "r-1", receive, 1).ok());
  auto stale = commands_->RecordReferral(service, NewUuid(), "r-1", accept, 1);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  auto view = commands_->LoadReferral("r-1");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->state, v1::REFERRAL_STATE_RECEIVED);
  EXPECT_EQ(view->version, 2u);
}

TEST_F(DomainCommandsTest, ConcurrentTransitionsOfOneReferralHaveOneWinner) {
  v1::EventPayload submit = SubmitReferral();
  ASSERT_TRUE(
      commands_->RecordReferral(school_, NewUuid(), "r-1", submit).ok());
  v1::EventPayload accept;
  accept.mutable_referral_accepted();
  v1::EventPayload decline;
  decline.mutable_referral_declined();
  decline.mutable_personal()->set_reason("not eligible");
  absl::Status a, d;
  std::thread t1([&] {
    a = commands_->RecordReferral(As("service-7"), NewUuid(), "r-1", accept)
            .status();
  });
  std::thread t2([&] {
    d = commands_->RecordReferral(As("service-7"), NewUuid(), "r-1", decline)
            .status();
  });
  t1.join();
  t2.join();
  EXPECT_NE(a.ok(), d.ok()) << a << " / " << d;
  const absl::Status& loser = a.ok() ? d : a;
  EXPECT_EQ(loser.code(), absl::StatusCode::kFailedPrecondition) << loser;
  EXPECT_EQ(Stream("referral-r-1").size(), 2u);
}

// A withdrawal racing a share, 200 times: the share either lands before the
// withdrawal in the log (covered by the grant, version 1) or is refused and
// absent. Never a disclosure after the withdrawal.
TEST_F(DomainCommandsTest, WithdrawalRacingAShareAlwaysMatchesTheLogOrder) {
  int shared = 0, refused = 0;
  for (int round = 0; round < 200; ++round) {
    const std::string consent = "c-" + std::to_string(round);
    const std::string subject = "s-" + std::to_string(round);
    AddSubject(subject);
    ASSERT_TRUE(
        commands_->RecordConsent(school_, NewUuid(), Grant(consent, subject))
            .ok());
    absl::StatusOr<storage::AppendResult> share_result, withdraw_result;
    std::thread sharer([&] {
      share_result = commands_->RecordDisclosure(school_, NewUuid(),
                                                 Share(consent, subject));
    });
    std::thread withdrawer([&] {
      withdraw_result =
          commands_->RecordConsent(school_, NewUuid(), Withdraw(consent, kNow));
    });
    sharer.join();
    withdrawer.join();
    ASSERT_TRUE(withdraw_result.ok()) << withdraw_result.status();
    auto disclosures = Stream("sharing-" + subject);
    if (share_result.ok()) {
      ++shared;
      ASSERT_EQ(disclosures.size(), 1u);
      EXPECT_LT(disclosures[0].position(), withdraw_result->first_position);
      EXPECT_EQ(disclosures[0]
                    .payload()
                    .disclosure_recorded()
                    .consent()
                    .consent_version(),
                1u);
    } else {
      ++refused;
      EXPECT_EQ(share_result.status().code(),
                absl::StatusCode::kFailedPrecondition)
          << share_result.status();
      EXPECT_TRUE(disclosures.empty());
    }
  }
  EXPECT_EQ(shared + refused, 200);
  RecordProperty("shared", shared);
  RecordProperty("refused", refused);
  ASSERT_TRUE(log_->VerifyChain(1, 0).ok());
}

// Correspondence received at the instant the agreement is being amended,
// 100 times: the recorded agreement version (and the due date computed from
// it) is always the agreement's version at the event's place in the log.
// Without the condition on the agreement stream, a receipt decided on the
// old terms could land after the amendment.
TEST_F(DomainCommandsTest, CorrespondenceRacingAnAmendmentUsesTheTermsInForce) {
  const v1::Actor service = As("service-7");
  ASSERT_TRUE(
      commands_->RecordAgreement(school_, NewUuid(), "a-1", DraftAgreement(14))
          .ok());
  v1::EventPayload sign;
  sign.mutable_agreement_signed();
  ASSERT_TRUE(commands_->RecordAgreement(school_, NewUuid(), "a-1", sign).ok());
  ASSERT_TRUE(commands_->RecordAgreement(service, NewUuid(), "a-1", sign).ok());
  clock_.Advance(absl::Hours(1));
  for (int round = 0; round < 100; ++round) {
    const uint32_t days = round % 2 == 0 ? 10 : 20;
    const std::string id = "m-" + std::to_string(round);
    absl::StatusOr<storage::AppendResult> amended, received;
    std::thread amender([&] {
      amended = commands_->RecordAgreement(school_, NewUuid(), "a-1",
                                           AmendResponseTime(days));
    });
    std::thread receiver([&] {
      received = commands_->RecordCorrespondence(service, NewUuid(), id,
                                                 Receive(id, clock_.Now()));
    });
    amender.join();
    receiver.join();
    ASSERT_TRUE(amended.ok()) << amended.status();
    ASSERT_TRUE(received.ok()) << received.status();
    const auto events = Stream("correspondence-" + id);
    ASSERT_EQ(events.size(), 1u);
    const auto& r = events[0].payload().correspondence_received();
    // The agreement's version just before the receipt, from the log.
    uint64_t agreement_version = 0;
    uint32_t response_days = 0;
    for (const auto& e : Stream("agreement-a-1")) {
      if (e.position() > events[0].position()) break;
      agreement_version = e.stream_version();
      if (e.payload().has_agreement_drafted()) {
        response_days =
            e.payload().agreement_drafted().terms().response_time_days();
      }
      if (e.payload().has_agreement_amended()) {
        response_days =
            e.payload().agreement_amended().terms().response_time_days();
      }
    }
    EXPECT_EQ(r.agreement_version(), agreement_version) << "round " << round;
    EXPECT_EQ(
        r.due_at().seconds(),
        absl::ToUnixSeconds(clock_.Now() + absl::Hours(24) * response_days))
        << "round " << round;
  }
}

TEST_F(DomainCommandsTest, PersonalDataBelongsToTheEventsSubjectOnly) {
  // Stamped with the subject it is about.
  v1::DisclosureRecorded share = Share("c-ref", "s-1");
  v1::PersonalData notes;
  notes.set_notes("shared at the parents' request");
  ASSERT_TRUE(
      commands_->RecordDisclosure(school_, NewUuid(), share, notes).ok());
  auto events = Stream("sharing-s-1");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload().personal().subject_id(), "s-1");
  EXPECT_EQ(events[0].payload().personal().notes(), notes.notes());

  // Claimed for another subject.
  v1::PersonalData other = notes;
  other.set_subject_id("s-2");
  auto wrong = commands_->RecordDisclosure(school_, NewUuid(), share, other);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("personal.subject_id"),
            std::string::npos);

  // On an event about no young carer (an agreement).
  v1::EventPayload draft = DraftAgreement(14);
  draft.mutable_personal()->set_notes("the head teacher's views");
  auto refused = commands_->RecordAgreement(school_, NewUuid(), "a-1", draft);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("personal"), std::string::npos);
  EXPECT_TRUE(Stream("agreement-a-1").empty());

  // Too long.
  v1::PersonalData long_notes;
  long_notes.set_notes(std::string(domain::kMaxTextBytes + 1, 'x'));
  EXPECT_EQ(commands_->RecordDisclosure(school_, NewUuid(), share, long_notes)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Stream("sharing-s-1").size(), 1u);

  // Each text within its limit, but the event too large in all.
  v1::PersonalData bulky;
  for (std::string* text :
       {bulky.mutable_notes(), bulky.mutable_facts(),
        bulky.mutable_childs_words(), bulky.mutable_risk_statement()}) {
    *text = std::string(domain::kMaxTextBytes, 'x');
  }
  auto too_big = commands_->RecordDisclosure(school_, NewUuid(), share, bulky);
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_big.status().message().find("request: the event would be"),
            std::string::npos)
      << too_big.status();
  EXPECT_EQ(Stream("sharing-s-1").size(), 1u);
}

TEST_F(DomainCommandsTest, NothingIsRecordedAboutASubjectWithoutARecord) {
  EXPECT_EQ(commands_->RecordConsent(school_, NewUuid(), Grant("c-9", "s-9"))
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(Stream("consent-c-9").empty());
  v1::DisclosureRecorded share = Share("", "s-9");
  share.set_purpose(v1::PURPOSE_SAFEGUARDING);
  auto* basis = share.mutable_safeguarding();
  basis->set_lawful_basis("dpa2018-sch1-para18");
  basis->set_decision_maker("dsl-1");
  basis->set_family_told(true);
  v1::PersonalData personal;
  personal.set_risk_statement("risk of significant harm");
  EXPECT_EQ(commands_->RecordDisclosure(school_, NewUuid(), share, personal)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(
      Stream(domain::ConfidentialSharingStream("s-9", school_.organisation()))
          .empty());
}

TEST_F(DomainCommandsTest, SubjectRecordAndItsEventAreWrittenTogether) {
  v1::SubjectRecord record = Record("s-5");
  record.set_given_name("Ada");
  ASSERT_TRUE(commands_->PutSubjectRecord(school_, NewUuid(), record).ok());
  auto stored = commands_->LoadSubjectRecord("s-5");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->given_name(), "Ada");
  EXPECT_EQ((*stored)->holder(), "school-100001");
  EXPECT_EQ((*stored)->revision(), 1u);
  auto events = Stream("subject-s-5");
  ASSERT_EQ(events.size(), 1u);
  // The event says what changed, never the data.
  EXPECT_EQ(events[0].SerializeAsString().find("Ada"), std::string::npos);
  EXPECT_EQ(events[0].payload().subject_record_changed().changed_size(), 5);

  // A stale revision is refused, and neither record nor event changes.
  record.set_given_name("Grace");
  auto stale = commands_->PutSubjectRecord(school_, NewUuid(), record, 0);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ((*commands_->LoadSubjectRecord("s-5"))->given_name(), "Ada");
  ASSERT_TRUE(commands_->PutSubjectRecord(school_, NewUuid(), record, 1).ok());
  EXPECT_EQ((*commands_->LoadSubjectRecord("s-5"))->given_name(), "Grace");
  events = Stream("subject-s-5");
  ASSERT_EQ(events.size(), 2u);
  ASSERT_EQ(events[1].payload().subject_record_changed().changed_size(), 1);
  EXPECT_EQ(events[1].payload().subject_record_changed().changed(0),
            "given_name");
}

TEST_F(DomainCommandsTest, RetriesMatchDespiteWhatTheServerFilledIn) {
  // An empty personal part is dropped; the retry still matches.
  v1::DisclosureRecorded share = Share("c-ref", "s-1");
  v1::PersonalData empty;
  empty.set_subject_id("s-1");
  const std::string id = NewUuid();
  auto first = commands_->RecordDisclosure(school_, id, share, empty);
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = commands_->RecordDisclosure(school_, id, share, empty);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->last_position, first->last_position);

  // Stamped personal data (subject id filled by the server).
  v1::PersonalData notes;
  notes.set_notes("asked by the young person");
  const std::string id2 = NewUuid();
  ASSERT_TRUE(commands_->RecordDisclosure(school_, id2, share, notes).ok());
  auto again2 = commands_->RecordDisclosure(school_, id2, share, notes);
  ASSERT_TRUE(again2.ok()) << again2.status();
  EXPECT_TRUE(again2->replayed);

  // The same id with other notes is another command.
  notes.set_notes("something else");
  EXPECT_EQ(
      commands_->RecordDisclosure(school_, id2, share, notes).status().code(),
      absl::StatusCode::kAlreadyExists);
}

// A retry sent while its first copy is still in flight: both pass the
// replay check, the first lands, and the second (decided at another instant,
// so with another effective_at) must still come back as that first one.
TEST_F(DomainCommandsTest, OverlappingRetryIsReplayedNotRefused) {
  InterleavingLog log(log_.get());
  DomainCommands interleaved(&log, &clock_);
  ASSERT_TRUE(
      commands_->RecordConsent(school_, NewUuid(), Grant("c-1", "s-1")).ok());
  v1::EventPayload withdraw;
  withdraw.mutable_consent_withdrawn()->set_consent_id("c-1");
  const std::string id = NewUuid();
  absl::StatusOr<storage::AppendResult> first;
  log.BeforeNextAppend([&] {
    clock_.Advance(absl::Seconds(1));
    first = commands_->RecordConsent(school_, id, withdraw);
  });
  auto second = interleaved.RecordConsent(school_, id, withdraw);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->replayed);
  EXPECT_EQ(second->last_position, first->last_position);
  EXPECT_EQ(Stream("consent-c-1").size(), 2u);
}

// A caller's expected version speaks for its own stream: a consent varied
// (still covering) between a transfer's decision and its append is decided
// again, not ABORTED.
// A concern raised between an erasure's decision and its append: the
// erasure read "no child-protection record", so it is decided again, and
// refused, rather than erase the new concern's facts.
TEST_F(DomainCommandsTest, AConcernRaisedWhileAnErasureIsDecidedStopsIt) {
  AddSubject("s-2");
  InterleavingLog log(log_.get());
  DomainCommands interleaved(&log, &clock_);
  v1::EventPayload raise;
  raise.mutable_concern_raised()->set_concern_id("g-1");
  raise.mutable_concern_raised()->set_subject_id("s-2");
  raise.mutable_personal()->set_facts("bruise on arm");
  absl::StatusOr<storage::AppendResult> raised;
  log.BeforeNextAppend([&] {
    raised = commands_->RecordSafeguarding(school_, NewUuid(), "g-1", raise);
  });
  auto erased = interleaved.EraseSubject(school_, NewUuid(), "s-2", "sar-1",
                                         v1::ERASURE_GROUND_UNSPECIFIED);
  ASSERT_TRUE(raised.ok()) << raised.status();
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_FALSE(erased->erased);
  EXPECT_EQ(erased->refused_on, v1::ERASURE_GROUND_LEGAL_OBLIGATION);
  std::vector<v1::RecordedEvent> concern =
      Stream(domain::ConcernStream(school_.organisation(), "g-1"));
  ASSERT_EQ(concern.size(), 1u);
  EXPECT_EQ(concern[0].payload().personal().facts(), "bruise on arm");
}

// A concern another organisation raises while the holder's erasure is
// decided: the erasure decides again and keeps that organisation's record
// (its key), and answers the holder as for any other child.
TEST_F(DomainCommandsTest,
       AServicesConcernRaisedWhileAnErasureIsDecidedIsKept) {
  const v1::Actor service = As("service-7");
  ASSERT_TRUE(
      commands_->RecordReferral(school_, NewUuid(), "r-1", SubmitReferral())
          .ok());
  InterleavingLog log(log_.get());
  DomainCommands interleaved(&log, &clock_);
  v1::EventPayload raise;
  raise.mutable_concern_raised()->set_concern_id("g-s");
  raise.mutable_concern_raised()->set_subject_id("s-1");
  raise.mutable_personal()->set_facts("told us at the club");
  absl::StatusOr<storage::AppendResult> raised;
  log.BeforeNextAppend([&] {
    raised = commands_->RecordSafeguarding(service, NewUuid(), "g-s", raise);
  });
  auto erased = interleaved.EraseSubject(school_, NewUuid(), "s-1", "sar-1",
                                         v1::ERASURE_GROUND_UNSPECIFIED);
  ASSERT_TRUE(raised.ok()) << raised.status();
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_TRUE(erased->erased);
  std::vector<v1::RecordedEvent> concern =
      Stream(domain::ConcernStream("service-7", "g-s"));
  ASSERT_EQ(concern.size(), 1u);
  EXPECT_EQ(concern[0].payload().personal().facts(), "told us at the club");
  for (const v1::RecordedEvent& e : Stream("referral-r-1")) {
    if (e.payload().has_personal()) {
      EXPECT_TRUE(e.payload().personal().erased()) << e.DebugString();
    }
  }
}

// The same for a disclosure on a safeguarding basis, which is a
// child-protection record in the sharing journal.
TEST_F(DomainCommandsTest,
       ASafeguardingDisclosureWhileAnErasureIsDecidedStopsIt) {
  InterleavingLog log(log_.get());
  DomainCommands interleaved(&log, &clock_);
  v1::DisclosureRecorded d = Share("", "s-1");
  d.set_purpose(v1::PURPOSE_SAFEGUARDING);
  auto* basis = d.mutable_safeguarding();
  basis->set_lawful_basis("dpa2018-sch1-para18");
  basis->set_decision_maker("dsl-1");
  basis->set_family_told(true);
  v1::PersonalData personal;
  personal.set_risk_statement("risk of significant harm");
  absl::StatusOr<storage::AppendResult> shared;
  log.BeforeNextAppend([&] {
    shared = commands_->RecordDisclosure(school_, NewUuid(), d, personal);
  });
  auto erased = interleaved.EraseSubject(school_, NewUuid(), "s-1", "sar-1",
                                         v1::ERASURE_GROUND_UNSPECIFIED);
  ASSERT_TRUE(shared.ok()) << shared.status();
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_FALSE(erased->erased);
  EXPECT_EQ(erased->refused_on, v1::ERASURE_GROUND_LEGAL_OBLIGATION);
}

// Many erasures racing new concerns, each pair at once: never both with
// the concern's facts erased.
TEST_F(DomainCommandsTest, ErasuresRacingConcernsNeverEraseAnAcknowledgedOne) {
  constexpr int kPairs = 200;
  int both = 0;
  int raised_first = 0;
  int erased_first = 0;
  for (int i = 0; i < kPairs; ++i) {
    const std::string subject = absl::StrCat("race-", i);
    const std::string concern = absl::StrCat("g-race-", i);
    AddSubject(subject);
    v1::EventPayload raise;
    raise.mutable_concern_raised()->set_concern_id(concern);
    raise.mutable_concern_raised()->set_subject_id(subject);
    raise.mutable_personal()->set_facts("seen at the gate");
    absl::Notification go;
    absl::StatusOr<storage::AppendResult> raised;
    absl::StatusOr<DomainCommands::ErasureOutcome> erased;
    std::thread a([&] {
      go.WaitForNotification();
      raised =
          commands_->RecordSafeguarding(school_, NewUuid(), concern, raise);
    });
    std::thread b([&] {
      go.WaitForNotification();
      erased = commands_->EraseSubject(school_, NewUuid(), subject, "sar-1",
                                       v1::ERASURE_GROUND_UNSPECIFIED);
    });
    go.Notify();
    a.join();
    b.join();
    ASSERT_TRUE(erased.ok()) << i << ": " << erased.status();
    if (raised.ok() && erased->erased) ++both;
    if (raised.ok() && !erased->erased) ++raised_first;
    if (!raised.ok() && erased->erased) ++erased_first;
  }
  EXPECT_EQ(both, 0);
  EXPECT_EQ(raised_first + erased_first, kPairs);
}

// Two referrals of one young carer to one service, the second decided
// before the first lands: the service's mark lists both.
TEST_F(DomainCommandsTest, ConcurrentReferralsToOneServiceAreBothMarked) {
  InterleavingLog log(log_.get());
  DomainCommands interleaved(&log, &clock_);
  v1::EventPayload first = SubmitReferral();
  first.mutable_referral_submitted()->set_referral_id("r-a");
  v1::EventPayload second = SubmitReferral();
  second.mutable_referral_submitted()->set_referral_id("r-b");
  absl::StatusOr<storage::AppendResult> a;
  log.BeforeNextAppend(
      [&] { a = commands_->RecordReferral(school_, NewUuid(), "r-a", first); });
  auto b = interleaved.RecordReferral(school_, NewUuid(), "r-b", second);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  auto mark = log_->GetRecord(SubjectServiceKey("s-1", "service-7"));
  ASSERT_TRUE(mark.ok()) << mark.status();
  EXPECT_EQ(mark->value_or(""), "r-a,r-b");
}

TEST_F(DomainCommandsTest, ExpectedVersionIgnoresMovesOfOtherStreams) {
  const v1::Actor service = As("service-7");
  ASSERT_TRUE(
      commands_->RecordReferral(school_, NewUuid(), "r-1", SubmitReferral())
          .ok());
  v1::EventPayload grant = Grant("c-move", "s-1");
  grant.mutable_consent_granted()
      ->mutable_terms()
      ->add_recipients()
      ->set_organisation("school-200002");
  grant.mutable_consent_granted()->mutable_terms()->add_purposes(
      v1::PURPOSE_SUPPORT_IN_SCHOOL);
  ASSERT_TRUE(commands_->RecordConsent(school_, NewUuid(), grant).ok());
  v1::EventPayload transfer;
  transfer.mutable_referral_transferred()->set_to_school("school-200002");
  v1::DisclosureRecorded d = Share("c-move", "s-1");
  d.mutable_to()->set_organisation("school-200002");
  d.set_purpose(v1::PURPOSE_SUPPORT_IN_SCHOOL);
  *transfer.mutable_referral_transferred()->mutable_disclosure() = d;

  InterleavingLog log(log_.get());
  DomainCommands interleaved(&log, &clock_);
  log.BeforeNextAppend([&] {
    v1::EventPayload vary;
    vary.mutable_consent_varied()->set_consent_id("c-move");
    *vary.mutable_consent_varied()->mutable_terms() =
        grant.consent_granted().terms();
    vary.mutable_personal()->set_reason("same terms, re-signed");
    ASSERT_TRUE(commands_->RecordConsent(school_, NewUuid(), vary).ok());
  });
  auto moved = interleaved.RecordReferral(school_, NewUuid(), "r-1", transfer,
                                          /*expected_version=*/1);
  ASSERT_TRUE(moved.ok()) << moved.status();
  auto events = Stream("referral-r-1");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1]
                .payload()
                .referral_transferred()
                .disclosure()
                .consent()
                .consent_version(),
            2u);
  // Its own stream moving is still ABORTED.
  v1::EventPayload accept;
  accept.mutable_referral_accepted();
  EXPECT_EQ(commands_->RecordReferral(service, NewUuid(), "r-1", accept, 1)
                .status()
                .code(),
            absl::StatusCode::kAborted);
}

// A safeguarding decision that names a concern must name one the caller's
// organisation raised about the same young carer.
TEST_F(DomainCommandsTest, SafeguardingDecisionsNameTheirOwnConcern) {
  AddSubject("s-2");
  v1::EventPayload raise;
  raise.mutable_concern_raised()->set_concern_id("g-1");
  raise.mutable_concern_raised()->set_subject_id("s-1");
  raise.mutable_personal()->set_facts("bruise on arm");
  ASSERT_TRUE(
      commands_->RecordSafeguarding(school_, NewUuid(), "g-1", raise).ok());

  v1::DisclosureRecorded d = Share("", "s-1");
  d.set_purpose(v1::PURPOSE_SAFEGUARDING);
  auto* basis = d.mutable_safeguarding();
  basis->set_lawful_basis("dpa2018-sch1-para18");
  basis->set_decision_maker("dsl-1");
  basis->set_family_told(true);
  v1::PersonalData personal;
  personal.set_risk_statement("risk of significant harm");
  basis->set_concern_id("g-missing");
  // A cited concern that does not exist: FAILED_PRECONDITION
  // REFERENCE_NOT_FOUND (NOT_FOUND is for what the call addresses).
  const absl::Status missing =
      commands_->RecordDisclosure(school_, NewUuid(), d, personal).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kFailedPrecondition) << missing;
  EXPECT_EQ(DetailsOf(missing).reason, reason::kReferenceNotFound);
  v1::DisclosureRecorded other_child = d;
  other_child.set_subject_id("s-2");
  other_child.mutable_safeguarding()->set_concern_id("g-1");
  EXPECT_EQ(
      commands_->RecordDisclosure(school_, NewUuid(), other_child, personal)
          .status()
          .code(),
      absl::StatusCode::kFailedPrecondition);
  v1::DisclosureRecorded other_org = d;
  other_org.mutable_from()->set_organisation("service-7");
  other_org.mutable_to()->set_organisation("la-1");
  other_org.mutable_safeguarding()->set_concern_id("g-1");
  // Another organisation's concern answers as one that does not exist: its
  // existence is confidential to its raiser (same code, message with the id
  // in place, details).
  const absl::Status hidden =
      commands_
          ->RecordDisclosure(As("service-7"), NewUuid(), other_org, personal)
          .status();
  EXPECT_EQ(hidden.code(), absl::StatusCode::kFailedPrecondition) << hidden;
  other_org.mutable_safeguarding()->set_concern_id("g-missing");
  other_org.set_disclosure_id(NewUuid());
  const absl::Status never =
      commands_
          ->RecordDisclosure(As("service-7"), NewUuid(), other_org, personal)
          .status();
  EXPECT_EQ(never.code(), hidden.code());
  EXPECT_EQ(absl::StrReplaceAll(never.message(), {{"g-missing", "g-1"}}),
            hidden.message());
  EXPECT_EQ(DescribeDetails(DetailsOf(never)),
            absl::StrReplaceAll(DescribeDetails(DetailsOf(hidden)),
                                {{"g-1", "g-missing"}}));
  EXPECT_TRUE(
      Stream(domain::ConfidentialSharingStream("s-1", school_.organisation()))
          .empty());
  EXPECT_TRUE(
      Stream(domain::ConfidentialSharingStream("s-2", school_.organisation()))
          .empty());
  d.mutable_safeguarding()->set_concern_id("g-1");
  EXPECT_TRUE(
      commands_->RecordDisclosure(school_, NewUuid(), d, personal).ok());

  v1::SharingDeclined declined;
  declined.set_subject_id("s-2");
  declined.mutable_to()->set_organisation("la-1");
  declined.set_decision_maker("dsl-1");
  declined.set_concern_id("g-1");
  v1::PersonalData why;
  why.set_reason("not proportionate");
  EXPECT_EQ(
      commands_->RecordDecisionNotToShare(school_, NewUuid(), declined, why)
          .status()
          .code(),
      absl::StatusCode::kFailedPrecondition);
  declined.set_subject_id("s-1");
  EXPECT_TRUE(
      commands_->RecordDecisionNotToShare(school_, NewUuid(), declined, why)
          .ok());
  EXPECT_EQ(
      Stream(domain::ConfidentialSharingStream("s-1", school_.organisation()))
          .size(),
      2u);
}

}  // namespace
}  // namespace ycr::services
