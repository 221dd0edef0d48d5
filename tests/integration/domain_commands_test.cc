// Domain commands on a real RocksDB log: consent enforcement at the moment of
// sharing, atomic check-and-append, idempotent retries, and concurrency.

#include "services/domain_commands.h"

#include <thread>

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

  std::vector<v1::RecordedEvent> Stream(const std::string& stream) {
    auto slice = log_->ReadStream(stream, {});
    if (!slice.ok()) return {};
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
  auto* basis = d.mutable_safeguarding();
  basis->set_lawful_basis("DPA 2018 Sch.1 para 18");
  basis->set_decision_maker("dsl-1");
  basis->set_family_told(false);
  basis->set_not_told_reason("telling them would increase the risk");
  result = commands_->RecordDisclosure(school_, NewUuid(), d);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("risk_statement"),
            std::string::npos);

  basis->set_risk_statement("at risk of significant harm");
  result = commands_->RecordDisclosure(school_, NewUuid(), d);
  EXPECT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(Stream("sharing-s-1").size(), 1u);
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
  decline.mutable_referral_declined()->set_eligibility_reason("not eligible");
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

}  // namespace
}  // namespace ycr::services
