// The deadlines projection over a real log and store: what is owed, by when,
// by whom; moved by acknowledgements, amendments (not of answers to letters
// received before) and reviews; gone once done;
// listed by due time, per organisation and in pages; equal to a rebuild.

#include "projections/deadlines.h"

#include <map>
#include <optional>

#include "common/clock.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "domain/subject_rules.h"
#include "gtest/gtest.h"
#include "projections/host.h"
#include "storage/rocksdb_event_log.h"
#include "tests/unit/test_util.h"

namespace ycr::projections {
namespace {

using Item = v1::DeadlineItem;

constexpr char kSchool[] = "school-100001";
constexpr char kService[] = "service-7";
const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);
constexpr absl::Duration kDay = absl::Hours(24);

class DeadlinesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::RocksDbEventLogOptions options;
    options.path = dir_.path() + "/store";
    options.clock = &clock_;
    options.sync = false;
    auto log = storage::RocksDbEventLog::Open(options);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    store_ = log_->NewProjectionStore();
    StartHost();
  }

  void TearDown() override {
    host_->Stop();
    log_->Close();
  }

  void StartHost() {
    host_ = std::make_unique<ProjectionHost>(log_.get(), store_.get());
    host_->Add(std::make_unique<DeadlinesProjection>(log_.get()));
    ASSERT_TRUE(host_->Start().ok());
  }

  // Appends `payload` to `stream` as `organisation`, at the clock's time.
  uint64_t Append(const std::string& stream, v1::EventPayload payload,
                  const std::string& organisation = kSchool,
                  std::vector<storage::RecordWrite> records = {}) {
    storage::AppendRequest request;
    request.stream = stream;
    request.actor.set_organisation(organisation);
    request.actor.set_user("u");
    request.actor.set_role("r");
    v1::ProposedEvent& e = request.events.emplace_back();
    e.set_event_id(NewUuid());
    *e.mutable_payload() = std::move(payload);
    request.records = std::move(records);
    auto result = log_->Append(std::move(request));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->last_position : 0;
  }

  // Everything due by `by` (owed by `organisation`, or anyone), after the
  // projection has applied the log.
  std::vector<Item> Due(absl::Time by, const std::string& organisation = "") {
    auto lease = host_->Await("deadlines", log_->GetHead().position,
                              absl::Now() + absl::Seconds(10));
    EXPECT_TRUE(lease.ok()) << lease.status();
    if (!lease.ok()) return {};
    std::vector<Item> items;
    std::string token;
    absl::Status s = ListDue(*store_, (*lease)->generation(), by, organisation,
                             "", 1000, &items, &token);
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_TRUE(token.empty());
    return items;
  }

  // The one item of `kind` due by `by`, or an item with KIND_UNSPECIFIED.
  Item Find(Item::Kind kind, const std::string& id,
            absl::Time by = absl::InfiniteFuture()) {
    for (const Item& item : Due(by)) {
      if (item.kind() == kind && item.id() == id) return item;
    }
    return Item();
  }

  static v1::AgreementTerms Terms(uint32_t response_days) {
    v1::AgreementTerms t;
    t.mutable_school()->set_organisation(kSchool);
    t.mutable_service()->set_organisation(kService);
    t.set_response_time_days(response_days);
    t.set_acknowledgement_allowed(true);
    t.set_review_cadence_months(6);
    t.set_closing_period_days(30);
    return t;
  }

  // Agreement a-1 in force from now.
  void AgreementInForce(uint32_t response_days) {
    v1::EventPayload draft;
    draft.mutable_agreement_drafted()->set_agreement_id("a-1");
    *draft.mutable_agreement_drafted()->mutable_terms() = Terms(response_days);
    Append("agreement-a-1", draft);
    v1::EventPayload sign;
    sign.mutable_agreement_signed()->set_party(kSchool);
    Append("agreement-a-1", sign);
    sign.mutable_agreement_signed()->set_party(kService);
    Append("agreement-a-1", sign, kService);
  }

  // Received by the service, due (as the server decides at receipt) after
  // `response_days`; unset: no due date in the event.
  void Receive(const std::string& id, absl::Time received_at,
               std::optional<uint32_t> response_days = 14) {
    v1::EventPayload p;
    auto* r = p.mutable_correspondence_received();
    r->set_correspondence_id(id);
    r->set_agreement_id("a-1");
    r->set_channel(v1::CHANNEL_EMAIL);
    r->set_from(kSchool);
    r->set_to(kService);
    r->set_topic_code(v1::CORRESPONDENCE_TOPIC_SUPPORT);
    *r->mutable_received_at() = ToProtoTime(received_at);
    if (response_days.has_value()) {
      *r->mutable_due_at() = ToProtoTime(received_at + *response_days * kDay);
    }
    Append("correspondence-" + id, p, kService);
  }

  ManualClock clock_{kT0};
  test::TempDir dir_;
  std::unique_ptr<storage::RocksDbEventLog> log_;
  std::unique_ptr<storage::ProjectionStore> store_;
  std::unique_ptr<ProjectionHost> host_;
};

TEST_F(DeadlinesTest, CorrespondenceIsDueByTheResponseTimeAndGoesWhenAnswered) {
  AgreementInForce(10);
  Receive("m-1", kT0, 10);
  Item item = Find(Item::CORRESPONDENCE_ANSWER, "m-1");
  ASSERT_EQ(item.kind(), Item::CORRESPONDENCE_ANSWER);
  EXPECT_EQ(FromProtoTime(item.due_at()), kT0 + 10 * kDay);
  EXPECT_EQ(item.owed_by(), kService);
  EXPECT_EQ(item.owed_to(), kSchool);
  EXPECT_EQ(FromProtoTime(item.since()), kT0);
  EXPECT_EQ(item.source_positions_size(), 1);
  // Not due a second before; due at the time; overdue after.
  EXPECT_EQ(Find(Item::CORRESPONDENCE_ANSWER, "m-1",
                 kT0 + 10 * kDay - absl::Seconds(1))
                .kind(),
            Item::KIND_UNSPECIFIED);
  EXPECT_EQ(Find(Item::CORRESPONDENCE_ANSWER, "m-1", kT0 + 10 * kDay).kind(),
            Item::CORRESPONDENCE_ANSWER);

  v1::EventPayload answer;
  *answer.mutable_correspondence_answered()->mutable_answered_at() =
      ToProtoTime(kT0 + kDay);
  Append("correspondence-m-1", answer, kService);
  EXPECT_EQ(Find(Item::CORRESPONDENCE_ANSWER, "m-1").kind(),
            Item::KIND_UNSPECIFIED);
}

TEST_F(DeadlinesTest, AcknowledgementMovesTheAnswerAndAnAmendmentDoesNot) {
  AgreementInForce(14);
  Receive("m-1", kT0);
  Receive("m-2", kT0);
  v1::EventPayload ack;
  *ack.mutable_correspondence_acknowledged()->mutable_promised_by() =
      ToProtoTime(kT0 + 30 * kDay);
  Append("correspondence-m-2", ack, kService);
  // The response time shortens from 14 days to 7: letters received before
  // keep their due dates (none becomes overdue at once).
  clock_.Advance(kDay);
  v1::EventPayload amend;
  *amend.mutable_agreement_amended()->mutable_terms() = Terms(7);
  Append("agreement-a-1", amend);
  // One received after the amendment is due by the amended terms.
  Receive("m-3", kT0 + 2 * kDay, 7);

  Item m1 = Find(Item::CORRESPONDENCE_ANSWER, "m-1");
  EXPECT_EQ(FromProtoTime(m1.due_at()), kT0 + 14 * kDay);
  EXPECT_EQ(m1.source_positions_size(), 1);
  EXPECT_EQ(Find(Item::CORRESPONDENCE_ANSWER, "m-1", kT0 + 7 * kDay).kind(),
            Item::KIND_UNSPECIFIED);
  // The acknowledged one is due at its promised date, whatever the terms.
  Item m2 = Find(Item::CORRESPONDENCE_ANSWER, "m-2");
  EXPECT_EQ(FromProtoTime(m2.due_at()), kT0 + 30 * kDay);
  EXPECT_EQ(m2.source_positions_size(), 2);
  Item m3 = Find(Item::CORRESPONDENCE_ANSWER, "m-3");
  EXPECT_EQ(FromProtoTime(m3.due_at()), kT0 + 9 * kDay);
}

TEST_F(DeadlinesTest, ALetterWithoutADueDateIsDueByTheAgreementThen) {
  AgreementInForce(10);
  Receive("m-1", kT0, std::nullopt);
  v1::EventPayload amend;
  *amend.mutable_agreement_amended()->mutable_terms() = Terms(3);
  Append("agreement-a-1", amend);
  EXPECT_EQ(FromProtoTime(Find(Item::CORRESPONDENCE_ANSWER, "m-1").due_at()),
            kT0 + 10 * kDay);
}

TEST_F(DeadlinesTest, ReferralIsOwedAnAcknowledgementThenADecision) {
  AgreementInForce(5);
  v1::EventPayload submit;
  submit.mutable_referral_submitted()->set_referral_id("r-1");
  submit.mutable_referral_submitted()->set_subject_id("s-1");
  submit.mutable_referral_submitted()->set_school(kSchool);
  submit.mutable_referral_submitted()->set_service(kService);
  Append("referral-r-1", submit);
  Item ack = Find(Item::REFERRAL_ACKNOWLEDGEMENT, "r-1");
  EXPECT_EQ(FromProtoTime(ack.due_at()), kT0 + 5 * kDay);
  EXPECT_EQ(ack.owed_by(), kService);
  EXPECT_EQ(ack.subject_id(), "s-1");

  clock_.Advance(kDay);
  v1::EventPayload receive;
  receive.mutable_referral_received();
  Append("referral-r-1", receive, kService);
  EXPECT_EQ(Find(Item::REFERRAL_ACKNOWLEDGEMENT, "r-1").kind(),
            Item::KIND_UNSPECIFIED);
  Item decision = Find(Item::REFERRAL_DECISION, "r-1");
  EXPECT_EQ(FromProtoTime(decision.due_at()), kT0 + 6 * kDay);

  v1::EventPayload accept;
  accept.mutable_referral_accepted();
  Append("referral-r-1", accept, kService);
  EXPECT_TRUE(Due(absl::InfiniteFuture(), kService).size() == 1);  // Review.
  EXPECT_EQ(Find(Item::REFERRAL_DECISION, "r-1").kind(),
            Item::KIND_UNSPECIFIED);
}

// A referral that moves to another school: what the service owes is owed to
// the new school (an overdue flag must not name the school the child left).
TEST_F(DeadlinesTest, AMovedReferralIsOwedToTheNewSchool) {
  AgreementInForce(5);
  v1::EventPayload submit;
  submit.mutable_referral_submitted()->set_referral_id("r-1");
  submit.mutable_referral_submitted()->set_subject_id("s-1");
  submit.mutable_referral_submitted()->set_school(kSchool);
  submit.mutable_referral_submitted()->set_service(kService);
  Append("referral-r-1", submit);
  v1::EventPayload receive;
  receive.mutable_referral_received();
  Append("referral-r-1", receive, kService);
  ASSERT_EQ(Find(Item::REFERRAL_DECISION, "r-1").owed_to(), kSchool);
  v1::EventPayload move;
  move.mutable_referral_transferred()->set_to_school("school-new");
  const uint64_t moved = Append("referral-r-1", move);
  const Item decision = Find(Item::REFERRAL_DECISION, "r-1");
  EXPECT_EQ(decision.owed_to(), "school-new");
  EXPECT_EQ(decision.owed_by(), kService);
  // Still due when it was.
  EXPECT_EQ(FromProtoTime(decision.due_at()), kT0 + 5 * kDay);
  EXPECT_EQ(decision.source_positions(decision.source_positions_size() - 1),
            moved);
}

TEST_F(DeadlinesTest, ReferralWithoutAnAgreementGetsFourteenDays) {
  v1::EventPayload submit;
  submit.mutable_referral_submitted()->set_referral_id("r-1");
  submit.mutable_referral_submitted()->set_school(kSchool);
  submit.mutable_referral_submitted()->set_service("service-9");
  Append("referral-r-1", submit);
  EXPECT_EQ(FromProtoTime(Find(Item::REFERRAL_ACKNOWLEDGEMENT, "r-1").due_at()),
            kT0 + 14 * kDay);
}

TEST_F(DeadlinesTest, ConsentExpiryMovesWhenVariedAndGoesWhenWithdrawn) {
  v1::EventPayload grant;
  auto* g = grant.mutable_consent_granted();
  g->set_consent_id("c-1");
  g->set_subject_id("s-1");
  *g->mutable_terms()->mutable_valid_until() = ToProtoTime(kT0 + 365 * kDay);
  Append("consent-c-1", grant);
  Item expiry = Find(Item::CONSENT_EXPIRY, "c-1");
  EXPECT_EQ(FromProtoTime(expiry.due_at()), kT0 + 365 * kDay);
  EXPECT_EQ(expiry.owed_by(), kSchool);

  v1::EventPayload vary;
  vary.mutable_consent_varied()->set_consent_id("c-1");
  *vary.mutable_consent_varied()->mutable_terms()->mutable_valid_until() =
      ToProtoTime(kT0 + 100 * kDay);
  Append("consent-c-1", vary);
  EXPECT_EQ(FromProtoTime(Find(Item::CONSENT_EXPIRY, "c-1").due_at()),
            kT0 + 100 * kDay);

  v1::EventPayload withdraw;
  withdraw.mutable_consent_withdrawn()->set_consent_id("c-1");
  Append("consent-c-1", withdraw);
  EXPECT_EQ(Find(Item::CONSENT_EXPIRY, "c-1").kind(), Item::KIND_UNSPECIFIED);
}

TEST_F(DeadlinesTest, AgreementReviewsThenClosingPeriod) {
  AgreementInForce(14);
  Item review = Find(Item::AGREEMENT_REVIEW, "a-1");
  // Six months after coming into force (2026-05-28 + 6 months).
  const absl::CivilDay in_force = absl::ToCivilDay(kT0, absl::UTCTimeZone());
  EXPECT_EQ(
      absl::ToCivilDay(FromProtoTime(review.due_at()), absl::UTCTimeZone()),
      absl::CivilDay(in_force.year(), in_force.month() + 6, in_force.day()));
  // Both parties owe it.
  EXPECT_EQ(Due(absl::InfiniteFuture(), kSchool).size(), 1u);
  EXPECT_EQ(Due(absl::InfiniteFuture(), kService).size(), 1u);

  v1::EventPayload reviewed;
  *reviewed.mutable_agreement_reviewed()->mutable_reviewed_at() =
      ToProtoTime(kT0 + 60 * kDay);
  reviewed.mutable_agreement_reviewed()->set_review_outcome(
      v1::REVIEW_OUTCOME_CONTINUE);
  Append("agreement-a-1", reviewed);
  const absl::CivilDay after_review =
      absl::ToCivilDay(kT0 + 60 * kDay, absl::UTCTimeZone());
  EXPECT_EQ(absl::ToCivilDay(
                FromProtoTime(Find(Item::AGREEMENT_REVIEW, "a-1").due_at()),
                absl::UTCTimeZone()),
            absl::CivilDay(after_review.year(), after_review.month() + 6,
                           after_review.day()));

  v1::EventPayload notice;
  notice.mutable_agreement_notice_given()->set_party(kSchool);
  *notice.mutable_agreement_notice_given()->mutable_closing_period_ends_at() =
      ToProtoTime(kT0 + 90 * kDay);
  Append("agreement-a-1", notice);
  EXPECT_EQ(Find(Item::AGREEMENT_REVIEW, "a-1").kind(), Item::KIND_UNSPECIFIED);
  EXPECT_EQ(FromProtoTime(Find(Item::CLOSING_PERIOD_END, "a-1").due_at()),
            kT0 + 90 * kDay);

  v1::EventPayload terminate;
  terminate.mutable_agreement_terminated();
  Append("agreement-a-1", terminate);
  EXPECT_TRUE(Due(absl::InfiniteFuture()).empty());
}

TEST_F(DeadlinesTest, RecordsComeDueForReviewAtDateOfBirthPlus25Years) {
  v1::SubjectRecord record;
  record.set_subject_id("s-1");
  record.set_date_of_birth("2012-03-04");
  record.set_holder(kSchool);
  v1::EventPayload changed;
  changed.mutable_subject_record_changed()->set_subject_id("s-1");
  changed.mutable_subject_record_changed()->set_holder(kSchool);
  // The date of birth is in the record's sealed personal part.
  Append(
      "subject-s-1", changed, kSchool,
      {{domain::SubjectPersonalKey("s-1"), record.SerializeAsString(), "s-1"}});
  Item item = Find(Item::RETENTION_REVIEW, "s-1");
  EXPECT_EQ(FromProtoTime(item.due_at()),
            absl::FromCivil(absl::CivilDay(2037, 3, 4), absl::UTCTimeZone()));
  EXPECT_EQ(item.owed_by(), kSchool);
}

TEST_F(DeadlinesTest, AnErasedSubjectHasNoReviewLeft) {
  v1::SubjectRecord record;
  record.set_date_of_birth("2012-03-04");
  v1::EventPayload changed;
  changed.mutable_subject_record_changed()->set_subject_id("s-1");
  changed.mutable_subject_record_changed()->set_holder(kSchool);
  Append(
      "subject-s-1", changed, kSchool,
      {{domain::SubjectPersonalKey("s-1"), record.SerializeAsString(), "s-1"}});
  ASSERT_EQ(Due(absl::InfiniteFuture()).size(), 1u);
  v1::EventPayload erased;
  erased.mutable_subject_erased()->set_subject_id("s-1");
  erased.mutable_subject_erased()->set_holder(kSchool);
  Append("subject-s-1", erased, kSchool,
         {{domain::SubjectPersonalKey("s-1"), "", "", true}});
  EXPECT_TRUE(Due(absl::InfiniteFuture()).empty());
}

TEST_F(DeadlinesTest, ListsAreInDueOrderPerOrganisationAndPaged) {
  AgreementInForce(14);
  for (int i = 0; i < 7; ++i) {
    Receive("m-" + std::to_string(i), kT0 - absl::Hours(i));
  }
  std::vector<Item> all = Due(absl::InfiniteFuture());
  ASSERT_EQ(all.size(), 8u);  // Seven answers and the review.
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_LE(FromProtoTime(all[i - 1].due_at()),
              FromProtoTime(all[i].due_at()));
  }
  // The school owes only the review.
  std::vector<Item> school = Due(absl::InfiniteFuture(), kSchool);
  ASSERT_EQ(school.size(), 1u);
  EXPECT_EQ(school[0].kind(), Item::AGREEMENT_REVIEW);

  // Pages of 3 return the service's eight items once each, in order.
  auto lease = host_->Await("deadlines", 0, absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(lease.ok());
  std::vector<Item> paged;
  std::string token;
  int pages = 0;
  do {
    std::vector<Item> page;
    ASSERT_TRUE(ListDue(*store_, (*lease)->generation(), absl::InfiniteFuture(),
                        kService, token, 3, &page, &token)
                    .ok());
    EXPECT_LE(page.size(), 3u);
    paged.insert(paged.end(), page.begin(), page.end());
    ++pages;
  } while (!token.empty() && pages < 10);
  ASSERT_EQ(paged.size(), 8u);
  for (size_t i = 0; i < paged.size(); ++i) {
    EXPECT_EQ(paged[i].SerializeAsString(), all[i].SerializeAsString());
  }
  // A token from another organisation's list is refused.
  std::vector<Item> page;
  std::string next;
  std::string service_token;
  ASSERT_TRUE(ListDue(*store_, (*lease)->generation(), absl::InfiniteFuture(),
                      kService, "", 1, &page, &service_token)
                  .ok());
  EXPECT_EQ(ListDue(*store_, (*lease)->generation(), absl::InfiniteFuture(),
                    kSchool, service_token, 1, &page, &next)
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DeadlinesTest, LiveStateEqualsARebuildByteForByte) {
  AgreementInForce(10);
  for (int i = 0; i < 20; ++i) {
    const std::string id = "m-" + std::to_string(i);
    Receive(id, kT0 + absl::Minutes(i), 10);
    if (i % 3 == 0) {
      v1::EventPayload ack;
      *ack.mutable_correspondence_acknowledged()->mutable_promised_by() =
          ToProtoTime(kT0 + 20 * kDay);
      Append("correspondence-" + id, ack, kService);
    }
    if (i % 4 == 0) {
      v1::EventPayload answer;
      *answer.mutable_correspondence_answered()->mutable_answered_at() =
          ToProtoTime(kT0 + absl::Hours(1));
      Append("correspondence-" + id, answer, kService);
    }
  }
  v1::EventPayload amend;
  *amend.mutable_agreement_amended()->mutable_terms() = Terms(3);
  Append("agreement-a-1", amend);

  auto live = host_->Await("deadlines", log_->GetHead().position,
                           absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(live.ok());
  std::map<std::string, std::string> before;
  ASSERT_TRUE(store_
                  ->Scan("deadlines", (*live)->generation(), "", "",
                         [&](absl::string_view k, absl::string_view v) {
                           before[std::string(k)] = std::string(v);
                           return true;
                         })
                  .ok());
  ASSERT_TRUE(host_->Rebuild("deadlines").ok());
  ASSERT_TRUE(
      host_->AwaitRebuilt("deadlines", absl::Now() + absl::Seconds(10)).ok());
  auto rebuilt = host_->Await("deadlines", log_->GetHead().position,
                              absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(rebuilt.ok());
  const uint32_t generation = (*rebuilt)->generation();
  ASSERT_NE(generation, (*live)->generation());
  std::map<std::string, std::string> after;
  ASSERT_TRUE(store_
                  ->Scan("deadlines", generation, "", "",
                         [&](absl::string_view k, absl::string_view v) {
                           after[std::string(k)] = std::string(v);
                           return true;
                         })
                  .ok());
  EXPECT_FALSE(before.empty());
  EXPECT_TRUE(before == after);
}

}  // namespace
}  // namespace ycr::projections
