// ycr.v1.Caseloads through a real server: a referral submitted and accepted
// through the API shows in the service's and the school's counts and lists
// (read-your-writes with min_position); a caller reads only its own
// organisation's caseload; requests are checked; queries waiting for a
// position past the head hold no reader thread.

#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"
#include "tests/integration/domain_flows_fixture.h"
#include "tests/integration/pending_call.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::testing {
namespace {

using grpc::StatusCode;

class CaseloadsServiceTest : public DomainFlowsTest {
 protected:
  CaseloadsServiceTest() { caseloads_ = v1::Caseloads::NewStub(channel_); }
  ~CaseloadsServiceTest() override { caseloads_.reset(); }

  grpc::Status Counts(const std::string& organisation, uint64_t min_position,
                      v1::CaseloadCounts* out, const std::string& caller = "",
                      const std::string& role = "school") {
    v1::CaseloadCountsRequest request;
    request.set_organisation(organisation);
    request.set_min_position(min_position);
    grpc::ClientContext context;
    AsCaller(&context, caller.empty() ? organisation : caller, "u-1", role);
    return caseloads_->Counts(&context, request, out);
  }

  grpc::Status List(const v1::ListCaseloadReferralsRequest& request,
                    v1::ListCaseloadReferralsResponse* out,
                    const std::string& caller = "",
                    const std::string& role = "school") {
    grpc::ClientContext context;
    AsCaller(&context, caller.empty() ? request.organisation() : caller, "u-1",
             role);
    return caseloads_->ListReferrals(&context, request, out);
  }

  // r-1 for s-1, submitted by the school (under consent c-1) and accepted by
  // the service; `accepted` is the acceptance's response.
  void SubmitAndAccept(v1::CommandResponse* accepted) {
    ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
    ASSERT_TRUE(Ok(Grant(Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
                                 {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
                         kSchool)));
    ASSERT_TRUE(Ok(Refer(Submit("r-1", "s-1", "c-1"), kSchool)));
    v1::ReferralTransitionRequest accept;
    accept.set_referral_id("r-1");
    accept.mutable_accept();
    ASSERT_TRUE(Ok(Refer(accept, kService, accepted)));
  }

  std::unique_ptr<v1::Caseloads::Stub> caseloads_;
};

TEST_F(CaseloadsServiceTest, AnAcceptedReferralShowsInBothCaseloads) {
  v1::CommandResponse accepted;
  ASSERT_NO_FATAL_FAILURE(SubmitAndAccept(&accepted));
  ASSERT_GT(accepted.position(), 0u);

  // Read-your-writes: the counts wait for the acceptance's position.
  v1::CaseloadCounts service;
  ASSERT_TRUE(Ok(Counts(kService, accepted.position(), &service)));
  ASSERT_EQ(service.by_state_size(), 1);
  EXPECT_EQ(service.by_state().at("REFERRAL_STATE_ACCEPTED"), 1u);
  v1::CaseloadCounts school;
  ASSERT_TRUE(Ok(Counts(kSchool, accepted.position(), &school)));
  EXPECT_EQ(school.referred(), 1u);
  EXPECT_EQ(school.accepted(), 1u);
  EXPECT_EQ(school.closed(), 0u);

  v1::ListCaseloadReferralsRequest request;
  request.set_organisation(kService);
  request.set_min_position(accepted.position());
  v1::ListCaseloadReferralsResponse listed;
  ASSERT_TRUE(Ok(List(request, &listed)));
  ASSERT_EQ(listed.referrals_size(), 1);
  const v1::CaseloadReferral& r = listed.referrals(0);
  EXPECT_EQ(r.referral_id(), "r-1");
  EXPECT_EQ(r.subject_id(), "s-1");
  EXPECT_EQ(r.school(), kSchool);
  EXPECT_EQ(r.service(), kService);
  EXPECT_EQ(r.state(), v1::REFERRAL_STATE_ACCEPTED);
  EXPECT_EQ(r.position(), accepted.position());
  EXPECT_TRUE(listed.next_page_token().empty());
  // The school lists it too.
  request.set_organisation(kSchool);
  v1::ListCaseloadReferralsResponse school_list;
  ASSERT_TRUE(Ok(List(request, &school_list)));
  ASSERT_EQ(school_list.referrals_size(), 1);
  EXPECT_EQ(school_list.referrals(0).SerializeAsString(),
            r.SerializeAsString());
}

TEST_F(CaseloadsServiceTest, ACallerReadsOnlyItsOwnOrganisationsCaseload) {
  v1::CommandResponse accepted;
  ASSERT_NO_FATAL_FAILURE(SubmitAndAccept(&accepted));
  v1::CaseloadCounts counts;
  EXPECT_TRUE(Is(Counts(kService, accepted.position(), &counts, kOtherSchool),
                 StatusCode::PERMISSION_DENIED, "organisation"));
  v1::ListCaseloadReferralsRequest request;
  request.set_organisation(kSchool);
  v1::ListCaseloadReferralsResponse listed;
  EXPECT_TRUE(Is(List(request, &listed, kService),
                 StatusCode::PERMISSION_DENIED, "organisation"));
  // Auditors read anyone's; the scheduler reads deadlines only.
  ASSERT_TRUE(Ok(
      Counts(kService, accepted.position(), &counts, "auditor-1", "auditor")));
  EXPECT_EQ(counts.by_state().at("REFERRAL_STATE_ACCEPTED"), 1u);
  ASSERT_TRUE(Ok(List(request, &listed, "auditor-1", "auditor")));
  EXPECT_EQ(listed.referrals_size(), 1);
  EXPECT_TRUE(Is(List(request, &listed, "council-1", "scheduler"),
                 StatusCode::PERMISSION_DENIED, "may not call"));
}

TEST_F(CaseloadsServiceTest, RequestsAreChecked) {
  v1::ListCaseloadReferralsRequest request;
  request.set_organisation(kService);
  request.set_page_size(5000);
  v1::ListCaseloadReferralsResponse listed;
  EXPECT_TRUE(
      Is(List(request, &listed), StatusCode::INVALID_ARGUMENT, "page_size"));

  request.set_page_size(10);
  request.set_page_token("not-a-token");
  EXPECT_TRUE(
      Is(List(request, &listed), StatusCode::INVALID_ARGUMENT, "page_token"));

  request.clear_page_token();
  request.clear_organisation();
  EXPECT_TRUE(Is(List(request, &listed, kService), StatusCode::INVALID_ARGUMENT,
                 "organisation"));
  v1::CaseloadCounts counts;
  EXPECT_TRUE(Is(Counts("", 0, &counts, kService, "auditor"),
                 StatusCode::INVALID_ARGUMENT, "organisation"));

  // A position not yet written: the call's deadline passes.
  v1::CaseloadCountsRequest ahead;
  ahead.set_organisation(kSchool);
  ahead.set_min_position(Head() + 1000);
  grpc::ClientContext context;
  AsCaller(&context);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(200));
  EXPECT_EQ(caseloads_->Counts(&context, ahead, &counts).error_code(),
            StatusCode::DEADLINE_EXCEEDED);
}

// Issue 15: queries waiting for a min_position past the head used to hold
// the reader threads (2 by default), so a cheap query queued behind them
// until they timed out. Now they wait holding none: with more waiting than
// the pool has threads, another query still answers while they wait, and
// the append that reaches their position releases them with its result.
TEST_F(CaseloadsServiceTest, QueriesWaitingPastTheHeadHoldNoReaderThread) {
  // The server's default pool (the fixture's options leave it).
  ASSERT_EQ(services::ServerOptions().reader_threads, 2);
  // Submitted, not yet accepted.
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
  ASSERT_TRUE(Ok(Grant(Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
                               {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
                       kSchool)));
  ASSERT_TRUE(Ok(Refer(Submit("r-1", "s-1", "c-1"), kSchool)));
  const uint64_t head = Head();

  // More waiting calls than reader threads, for the next position.
  using Waiting =
      test::PendingCall<v1::CaseloadCountsRequest, v1::CaseloadCounts>;
  constexpr int kWaiting = 3;
  std::vector<std::unique_ptr<Waiting>> waiting;
  for (int i = 0; i < kWaiting; ++i) {
    auto w = std::make_unique<Waiting>();
    w->request.set_organisation(kService);
    w->request.set_min_position(head + 1);
    AsCaller(&w->context, kService, "u-1", "school");
    Waiting* raw = w.get();
    caseloads_->async()->Counts(&raw->context, &raw->request, &raw->response,
                                [raw](grpc::Status status) {
                                  raw->status = std::move(status);
                                  raw->done.Notify();
                                });
    waiting.push_back(std::move(w));
  }
  // Waits in the projection host, polled (it offers no notification;
  // bounded).
  projections::ProjectionHost& host = server_.server().projections();
  const auto await_waiting = [&host](size_t n) {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (host.waiting() < n && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    return host.waiting();
  };
  // As many as the pool has threads: a pool whose threads block in the wait
  // is stalled from here until they time out (10 s).
  ASSERT_GE(await_waiting(2), 2u);

  // A cheap query answers now, while they still wait.
  v1::CaseloadCounts now;
  ASSERT_TRUE(Ok(Counts(kService, head, &now)));
  EXPECT_EQ(now.by_state().count("REFERRAL_STATE_ACCEPTED"), 0u);
  for (const auto& w : waiting) {
    EXPECT_FALSE(w->done.HasBeenNotified())
        << "a waiting call ended before the cheap one answered: "
        << w->status.error_code() << " " << w->status.error_message();
  }
  ASSERT_EQ(await_waiting(kWaiting), static_cast<size_t>(kWaiting));
  // So does a read of the other projections.
  v1::ListDeadlinesResponse due;
  {
    v1::ListDueRequest request;
    *request.mutable_by() = ToProtoTime(clock_.Now());
    request.set_min_position(head);
    grpc::ClientContext context;
    AsCaller(&context, kService);
    ASSERT_TRUE(
        Ok(v1::Deadlines::NewStub(channel_)->ListDue(&context, request, &due)));
  }
  EXPECT_EQ(host.waiting(), static_cast<size_t>(kWaiting));

  // The acceptance reaches their position: they answer with it.
  v1::ReferralTransitionRequest accept;
  accept.set_referral_id("r-1");
  accept.mutable_accept();
  v1::CommandResponse accepted;
  ASSERT_TRUE(Ok(Refer(accept, kService, &accepted)));
  ASSERT_EQ(accepted.position(), head + 1);
  for (const auto& w : waiting) {
    ASSERT_TRUE(w->done.WaitForNotificationWithTimeout(absl::Seconds(30)));
    ASSERT_TRUE(Ok(w->status));
    EXPECT_EQ(w->response.by_state().at("REFERRAL_STATE_ACCEPTED"), 1u);
  }
  EXPECT_EQ(host.waiting(), 0u);
}

// A call cancelled while it waits lets go of its waiter at once (not at its
// deadline); the others keep waiting. (Counts: a read of personal data, such
// as ListReferrals, is refused a position past the head at once, below.)
TEST_F(CaseloadsServiceTest, ACancelledWaitingQueryReleasesItsWaiter) {
  const uint64_t head = Head();
  struct Waiting {
    grpc::ClientContext context;
    v1::CaseloadCountsRequest request;
    v1::CaseloadCounts response;
    grpc::Status status;
    absl::Notification done;
    // Not left in flight, should the test stop early.
    ~Waiting() {
      context.TryCancel();
      done.WaitForNotification();
    }
  };
  std::vector<std::unique_ptr<Waiting>> waiting;
  for (int i = 0; i < 2; ++i) {
    auto w = std::make_unique<Waiting>();
    w->request.set_organisation(kSchool);
    w->request.set_min_position(head + 1000);
    AsCaller(&w->context, kSchool, "u-1", "school");
    Waiting* raw = w.get();
    caseloads_->async()->Counts(&raw->context, &raw->request, &raw->response,
                                [raw](grpc::Status status) {
                                  raw->status = std::move(status);
                                  raw->done.Notify();
                                });
    waiting.push_back(std::move(w));
  }
  projections::ProjectionHost& host = server_.server().projections();
  absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (host.waiting() < 2 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_EQ(host.waiting(), 2u);
  waiting[0]->context.TryCancel();
  ASSERT_TRUE(
      waiting[0]->done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_EQ(waiting[0]->status.error_code(), StatusCode::CANCELLED);
  // Let go at once, not at the end of its wait (10 s).
  give_up = absl::Now() + absl::Seconds(5);
  while (host.waiting() > 1 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(host.waiting(), 1u);
  EXPECT_FALSE(waiting[1]->done.HasBeenNotified());
  // The other lets go when cancelled too.
  waiting[1]->context.TryCancel();
  ASSERT_TRUE(
      waiting[1]->done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  give_up = absl::Now() + absl::Seconds(30);
  while (host.waiting() > 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(host.waiting(), 0u);
}

// A read of personal data (ListReferrals, through the read barrier) whose
// min_position is past the log's head, which holds every acknowledged
// append, is refused at once, OUT_OF_RANGE naming min_position and the head,
// not at its deadline (30 s here; the server's bound, 10 s). Without the
// fix it ended DEADLINE_EXCEEDED after 10 s. A position the log holds is
// read as before.
TEST_F(CaseloadsServiceTest, AMinPositionPastTheHeadIsRefusedAtOnce) {
  const uint64_t head = Head();
  v1::ListCaseloadReferralsRequest request;
  request.set_organisation(kSchool);
  request.set_min_position(1000000000000);
  v1::ListCaseloadReferralsResponse listed;
  grpc::ClientContext context;
  AsCaller(&context, kSchool, "u-1", "school");
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  const absl::Time began = absl::Now();
  const grpc::Status refused =
      caseloads_->ListReferrals(&context, request, &listed);
  EXPECT_LT(absl::Now() - began, absl::Seconds(5));
  EXPECT_TRUE(Is(refused, StatusCode::OUT_OF_RANGE, "min_position"));
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "1000000000000"))
      << refused.error_message();
  EXPECT_TRUE(absl::StrContains(refused.error_message(),
                                absl::StrCat("(position ", head, ")")))
      << refused.error_message();

  request.set_min_position(head);
  EXPECT_TRUE(Ok(List(request, &listed)));
}

}  // namespace
}  // namespace ycr::testing
