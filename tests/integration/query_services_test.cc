// The query services through a real server: read-your-writes with
// min_position, deadlines listed per organisation and moved by time and
// commands, audit trails streamed, consent in force, projection status and
// rebuild, and who may read what.

#include "tests/integration/domain_flows_fixture.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::testing {
namespace {

using grpc::StatusCode;

class QueryServicesTest : public DomainFlowsTest {
 protected:
  QueryServicesTest() {
    deadlines_ = v1::Deadlines::NewStub(channel_);
    audit_ = v1::Audit::NewStub(channel_);
    admin_ = v1::Projections::NewStub(channel_);
  }
  ~QueryServicesTest() override {
    deadlines_.reset();
    audit_.reset();
    admin_.reset();
  }

  grpc::Status Overdue(absl::Time as_of, const std::string& organisation,
                       uint64_t min_position, v1::ListDeadlinesResponse* out,
                       const std::string& role = "school") {
    v1::ListOverdueRequest request;
    *request.mutable_as_of() = At(as_of);
    request.set_organisation(organisation);
    request.set_min_position(min_position);
    grpc::ClientContext context;
    AsCaller(&context, organisation.empty() ? kSchool : organisation, "u-1",
             role);
    return deadlines_->ListOverdue(&context, request, out);
  }

  // The whole trail of `subject_id`, read as `organisation` / `role`.
  grpc::Status Trail(const std::string& subject_id, uint64_t min_position,
                     std::vector<v1::AuditEntry>* out,
                     const std::string& organisation = kSchool,
                     const std::string& role = "school",
                     uint32_t page_size = 2) {
    v1::AuditTrailRequest request;
    request.set_subject_id(subject_id);
    request.set_min_position(min_position);
    request.set_page_size(page_size);
    grpc::ClientContext context;
    AsCaller(&context, organisation, "u-1", role);
    auto reader = audit_->Trail(&context, request);
    v1::AuditEntry entry;
    while (reader->Read(&entry)) out->push_back(entry);
    return reader->Finish();
  }

  std::unique_ptr<v1::Deadlines::Stub> deadlines_;
  std::unique_ptr<v1::Audit::Stub> audit_;
  std::unique_ptr<v1::Projections::Stub> admin_;
};

TEST_F(QueryServicesTest, CorrespondenceBecomesOverdueAndClearsWhenAnswered) {
  ASSERT_NO_FATAL_FAILURE(MakeInForce("a-1", Terms(10)));
  v1::CommandResponse received;
  ASSERT_TRUE(Ok(
      Correspond(Receive("m-1", "a-1", kSchool, kStart), kService, &received)));
  // Read-your-writes: the listing waits for the receipt's position.
  v1::ListDeadlinesResponse due;
  ASSERT_TRUE(
      Ok(Overdue(kStart + 10 * kDay, kService, received.position(), &due)));
  ASSERT_EQ(due.items_size(), 1);
  EXPECT_EQ(due.items(0).kind(), v1::DeadlineItem::CORRESPONDENCE_ANSWER);
  EXPECT_EQ(due.items(0).id(), "m-1");
  EXPECT_EQ(due.items(0).owed_to(), kSchool);
  // Not yet overdue a second earlier; the school owes nothing of it.
  due.Clear();
  ASSERT_TRUE(Ok(Overdue(kStart + 10 * kDay - absl::Seconds(1), kService,
                         received.position(), &due)));
  EXPECT_EQ(due.items_size(), 0);

  clock_.Advance(kDay);
  v1::CommandResponse answered;
  ASSERT_TRUE(Ok(Correspond(Answer("m-1"), kService, &answered)));
  due.Clear();
  ASSERT_TRUE(
      Ok(Overdue(kStart + 100 * kDay, kService, answered.position(), &due)));
  for (const v1::DeadlineItem& item : due.items()) {
    EXPECT_NE(item.kind(), v1::DeadlineItem::CORRESPONDENCE_ANSWER);
  }
}

TEST_F(QueryServicesTest, ListingIsForOwnOrganisationUnlessAuditorOrScheduler) {
  v1::ListDeadlinesResponse out;
  v1::ListOverdueRequest request;
  *request.mutable_as_of() = At(kStart);
  request.set_organisation(kService);
  {
    grpc::ClientContext context;
    AsCaller(&context, kSchool, "u-1", "school");
    EXPECT_EQ(deadlines_->ListOverdue(&context, request, &out).error_code(),
              StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    AsCaller(&context, "council-1", "sched", "scheduler");
    EXPECT_TRUE(Ok(deadlines_->ListOverdue(&context, request, &out)));
  }
  // No organisation named: a school or service gets its own, only.
  ASSERT_NO_FATAL_FAILURE(MakeInForce("a-1", Terms(10)));
  v1::CommandResponse received;
  ASSERT_TRUE(Ok(
      Correspond(Receive("m-1", "a-1", kSchool, kStart), kService, &received)));
  v1::ListOverdueRequest own;
  *own.mutable_as_of() = At(kStart + 30 * kDay);
  own.set_min_position(received.position());
  for (const std::string& caller : {kSchool, kService}) {
    v1::ListDeadlinesResponse mine;
    grpc::ClientContext context;
    AsCaller(&context, caller, "u-1", caller == kSchool ? "school" : "service");
    ASSERT_TRUE(Ok(deadlines_->ListOverdue(&context, own, &mine))) << caller;
    bool has_letter = false;
    for (const v1::DeadlineItem& item : mine.items()) {
      EXPECT_EQ(item.owed_by(), caller);
      has_letter = has_letter || item.id() == "m-1";
    }
    EXPECT_EQ(has_letter, caller == kService) << caller;
  }
  // Oversized page.
  request.set_page_size(5000);
  {
    grpc::ClientContext context;
    AsCaller(&context, kService, "u-1", "service");
    EXPECT_TRUE(Is(deadlines_->ListOverdue(&context, request, &out),
                   StatusCode::INVALID_ARGUMENT, "page_size"));
  }
}

TEST_F(QueryServicesTest, WaitingForAPositionNotYetWrittenTimesOut) {
  v1::ListOverdueRequest request;
  *request.mutable_as_of() = At(kStart);
  request.set_organisation(kSchool);
  request.set_min_position(Head() + 1000);
  v1::ListDeadlinesResponse out;
  grpc::ClientContext context;
  AsCaller(&context);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(200));
  EXPECT_EQ(deadlines_->ListOverdue(&context, request, &out).error_code(),
            StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(QueryServicesTest, AuditTrailStreamsTheSubjectsHistoryInLogOrder) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  ASSERT_TRUE(Ok(Grant(Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
                               {v1::DATA_CATEGORY_IDENTITY}, kStart),
                       kSchool)));
  v1::CommandResponse shared;
  v1::RecordDisclosureRequest share;
  *share.mutable_disclosure() =
      Disclosure("s-1", kSchool, kService, v1::PURPOSE_REFERRAL,
                 {v1::DATA_CATEGORY_IDENTITY}, "c-1");
  ASSERT_TRUE(Ok(Disclose(share, kSchool, &shared)));

  std::vector<v1::AuditEntry> trail;
  ASSERT_TRUE(Ok(Trail("s-1", shared.position(), &trail)));
  ASSERT_EQ(trail.size(), 3u);  // Record, consent, disclosure.
  for (size_t i = 1; i < trail.size(); ++i) {
    EXPECT_LT(trail[i - 1].event().position(), trail[i].event().position());
  }
  EXPECT_EQ(trail[2].event().position(), shared.position());
  EXPECT_EQ(trail[2].disclosure().consent().consent_id(), "c-1");
  EXPECT_EQ(trail[2].disclosure().consent().consent_version(), 1u);
  EXPECT_EQ(trail[2].event().hash().size(), 32u);

  // Another school may not read it; an auditor may.
  std::vector<v1::AuditEntry> other;
  EXPECT_EQ(Trail("s-1", 0, &other, "school-999").error_code(),
            StatusCode::PERMISSION_DENIED);
  std::vector<v1::AuditEntry> audited;
  ASSERT_TRUE(Ok(Trail("s-1", 0, &audited, "auditor-1", "auditor", 1)));
  EXPECT_EQ(audited.size(), 3u);

  // Was that disclosure covered when it was made?
  v1::ConsentInForceRequest request;
  request.set_subject_id("s-1");
  request.mutable_recipient()->set_organisation(kService);
  request.set_purpose(v1::PURPOSE_REFERRAL);
  request.set_category(v1::DATA_CATEGORY_IDENTITY);
  *request.mutable_at() = trail[2].event().recorded_at();
  v1::ConsentInForceResponse covered;
  grpc::ClientContext context;
  AsCaller(&context);
  ASSERT_TRUE(Ok(audit_->ConsentInForce(&context, request, &covered)));
  EXPECT_TRUE(covered.covered());
  EXPECT_EQ(covered.consent_id(), "c-1");
}

TEST_F(QueryServicesTest, ProjectionsReportStatusAndRebuildForAdmins) {
  ASSERT_NO_FATAL_FAILURE(MakeInForce("a-1", Terms(10)));
  v1::RebuildProjectionRequest rebuild;
  rebuild.set_name("deadlines");
  v1::RebuildProjectionResponse started;
  {
    grpc::ClientContext context;
    AsCaller(&context, kSchool, "u-1", "school");
    EXPECT_EQ(admin_->Rebuild(&context, rebuild, &started).error_code(),
              StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    AsCaller(&context, "ops", "ops-1", "admin");
    ASSERT_TRUE(Ok(admin_->Rebuild(&context, rebuild, &started)));
    EXPECT_EQ(started.building_generation(), 2u);
  }
  ASSERT_TRUE(server_.server()
                  .projections()
                  .AwaitRebuilt("deadlines", absl::Now() + absl::Seconds(10))
                  .ok());
  v1::ProjectionStatusResponse status;
  grpc::ClientContext context;
  AsCaller(&context, "ops", "ops-1", "admin");
  ASSERT_TRUE(Ok(admin_->Status(&context, {}, &status)));
  bool seen = false;
  for (const auto& p : status.projections()) {
    if (p.name() != "deadlines") continue;
    seen = true;
    EXPECT_EQ(p.generation(), 2u);
    EXPECT_EQ(p.building_generation(), 0u);
    EXPECT_EQ(p.applied_position(), p.log_head());
  }
  EXPECT_TRUE(seen);
  // The review owed is still there after the rebuild.
  v1::ListDeadlinesResponse due;
  ASSERT_TRUE(Ok(Overdue(kStart + 1000 * kDay, kSchool, Head(), &due)));
  ASSERT_EQ(due.items_size(), 1);
  EXPECT_EQ(due.items(0).kind(), v1::DeadlineItem::AGREEMENT_REVIEW);
}

// Without as_of, overdue means overdue now, by the server's (injected)
// clock: as time passes, what was due becomes overdue.
TEST_F(QueryServicesTest, OverdueFollowsTheServersClock) {
  // An agreement that allows acknowledging with a timeline (a letter keeps
  // the terms in force when it was received).
  ASSERT_NO_FATAL_FAILURE(MakeInForce("a-1", Terms(10, true)));
  v1::CommandResponse received;
  ASSERT_TRUE(Ok(
      Correspond(Receive("m-1", "a-1", kSchool, kStart), kService, &received)));
  auto overdue_now = [&] {
    v1::ListOverdueRequest request;
    request.set_organisation(kService);
    request.set_min_position(received.position());
    v1::ListDeadlinesResponse out;
    grpc::ClientContext context;
    AsCaller(&context, kService, "u-1", "service");
    EXPECT_TRUE(Ok(deadlines_->ListOverdue(&context, request, &out)));
    return out.items_size();
  };
  EXPECT_EQ(overdue_now(), 0);
  clock_.Advance(10 * kDay);
  EXPECT_EQ(overdue_now(), 1);
  // Acknowledged with a promised date: not overdue until then.
  v1::CommandResponse acknowledged;
  clock_.Set(kStart + 9 * kDay);
  ASSERT_TRUE(Ok(Correspond(Acknowledge("m-1", kStart + 20 * kDay), kService,
                            &acknowledged)));
  received = acknowledged;
  clock_.Set(kStart + 15 * kDay);
  EXPECT_EQ(overdue_now(), 0);
  clock_.Set(kStart + 21 * kDay);
  EXPECT_EQ(overdue_now(), 1);
}

// The scheduler flags a missed deadline once (a retry, or a second
// scheduler, replays); the flag shows on the item and goes with it.
TEST_F(QueryServicesTest, AMissedDeadlineIsFlaggedOnceAndClearsWhenDone) {
  ASSERT_NO_FATAL_FAILURE(MakeInForce("a-1", Terms(10)));
  v1::CommandResponse received;
  ASSERT_TRUE(Ok(
      Correspond(Receive("m-1", "a-1", kSchool, kStart), kService, &received)));
  v1::FlagOverdueRequest flag;
  flag.set_request_id(NewUuid());
  flag.set_min_position(received.position());
  flag.mutable_flag()->set_kind(v1::DeadlineItem::CORRESPONDENCE_ANSWER);
  flag.mutable_flag()->set_id("m-1");
  *flag.mutable_flag()->mutable_due_at() = At(kStart + 10 * kDay);
  auto send = [&](const std::string& role, v1::CommandResponse* out) {
    grpc::ClientContext context;
    AsCaller(&context, "council-1", "scheduler-1", role);
    return deadlines_->FlagOverdue(&context, flag, out);
  };
  v1::CommandResponse flagged;
  // Only the scheduler flags; not before the deadline has passed.
  EXPECT_EQ(send("school", &flagged).error_code(),
            StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Is(send("scheduler", &flagged), StatusCode::FAILED_PRECONDITION,
                 "not passed"));
  clock_.Advance(11 * kDay);
  ASSERT_TRUE(Ok(send("scheduler", &flagged)));
  EXPECT_FALSE(flagged.replayed());
  v1::CommandResponse again;
  ASSERT_TRUE(Ok(send("scheduler", &again)));
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.position(), flagged.position());
  EXPECT_EQ(Events("overdue-1-m-1").size(), 1u);

  v1::ListDeadlinesResponse due;
  ASSERT_TRUE(
      Ok(Overdue(kStart + 11 * kDay, kService, flagged.position(), &due)));
  ASSERT_EQ(due.items_size(), 1);
  EXPECT_TRUE(due.items(0).has_flagged_at());
  EXPECT_EQ(TimeOf(due.items(0).flagged_at()), clock_.Now());
  // The wrong due date (moved, or never owed) is refused.
  flag.set_request_id(NewUuid());
  *flag.mutable_flag()->mutable_due_at() = At(kStart + 9 * kDay);
  EXPECT_TRUE(Is(send("scheduler", &flagged), StatusCode::FAILED_PRECONDITION,
                 "moved"));

  v1::CommandResponse answered;
  ASSERT_TRUE(Ok(Correspond(Answer("m-1"), kService, &answered)));
  due.Clear();
  ASSERT_TRUE(
      Ok(Overdue(kStart + 100 * kDay, kService, answered.position(), &due)));
  for (const v1::DeadlineItem& item : due.items()) {
    EXPECT_NE(item.id(), "m-1");
  }
}

}  // namespace
}  // namespace ycr::testing
