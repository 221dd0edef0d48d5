// The scheduler against a real server: one flag per missed deadline however
// many schedulers run and however often, dry runs write nothing, escalation
// after the grace period, a moved deadline flagged anew, an unreachable
// server reported, and the binary's --help and --once.

#include "clients/scheduler/scheduler.h"

#include <cstdio>
#include <sstream>
#include <thread>

#include "tests/integration/domain_flows_fixture.h"

namespace ycr::testing {
namespace {

// Runs `command` in a shell; its output (both streams) and exit code.
std::string RunBinary(const std::string& command, int* exit_code);

class SchedulerTest : public DomainFlowsTest {
 protected:
  services::SchedulerOptions Options() {
    services::SchedulerOptions options;
    options.call_timeout = absl::Seconds(10);
    return options;
  }

  absl::StatusOr<services::PassResult> Pass(services::SchedulerOptions options,
                                            std::ostream* log = nullptr) {
    std::ostringstream sink;
    Logger logger(log != nullptr ? log : &sink, LogFormat::kText,
                  LogLevel::kInfo);
    services::Scheduler scheduler(channel_, options, &logger);
    return scheduler.RunOnce();
  }

  // Two letters received at kStart under a 10-day agreement.
  void TwoLetters() {
    ASSERT_NO_FATAL_FAILURE(MakeInForce("a-1", Terms(10, true)));
    ASSERT_TRUE(
        Ok(Correspond(Receive("m-1", "a-1", kSchool, kStart), kService)));
    ASSERT_TRUE(
        Ok(Correspond(Receive("m-2", "a-1", kSchool, kStart), kService)));
  }

  size_t Flags(const std::string& id) {
    return Events(absl::StrCat("overdue-",
                               v1::DeadlineItem::CORRESPONDENCE_ANSWER, "-",
                               id))
        .size();
  }
};

TEST_F(SchedulerTest, TwoSchedulersAtOnceFlagEachMissedDeadlineOnce) {
  ASSERT_NO_FATAL_FAILURE(TwoLetters());
  clock_.Advance(11 * kDay);
  absl::StatusOr<services::PassResult> a, b;
  std::thread first([&] { a = Pass(Options()); });
  std::thread second([&] { b = Pass(Options()); });
  first.join();
  second.join();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(Flags("m-1"), 1u);
  EXPECT_EQ(Flags("m-2"), 1u);
  // Each deadline was flagged by one scheduler; the other replayed it or
  // saw it flagged already.
  EXPECT_EQ(a->flagged + b->flagged, 2);

  // A restart flags nothing more.
  auto again = Pass(Options());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->flagged, 0);
  EXPECT_EQ(Flags("m-1"), 1u);
}

// Schedulers of different organisations send different request ids (they
// are each organisation's own), yet each deadline is flagged once: the flag
// is a rule of the deadline's stream, not only of the request id.
TEST_F(SchedulerTest, SchedulersOfTwoOrganisationsFlagEachDeadlineOnce) {
  ASSERT_NO_FATAL_FAILURE(TwoLetters());
  clock_.Advance(11 * kDay);
  services::SchedulerOptions north = Options();
  north.organisation = "scheduler-north";
  services::SchedulerOptions south = Options();
  south.organisation = "scheduler-south";
  absl::StatusOr<services::PassResult> a, b;
  std::thread first([&] { a = Pass(north); });
  std::thread second([&] { b = Pass(south); });
  first.join();
  second.join();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->failed + b->failed, 0);
  EXPECT_EQ(Flags("m-1"), 1u);
  EXPECT_EQ(Flags("m-2"), 1u);
  EXPECT_EQ(a->flagged + b->flagged, 2);
}

// One item whose flag fails (here its request id was spent on another
// command) is logged and counted, and the pass flags the others.
TEST_F(SchedulerTest, APoisonedItemSortingFirstDoesNotStopThePass) {
  ASSERT_NO_FATAL_FAILURE(TwoLetters());
  ASSERT_TRUE(Ok(Correspond(Receive("m-3", "a-1", kSchool, kStart), kService)));
  clock_.Advance(11 * kDay);
  auto stub = v1::Deadlines::NewStub(channel_);
  v1::ListOverdueRequest list;
  list.set_min_position(Head());
  v1::ListDeadlinesResponse page;
  {
    grpc::ClientContext context;
    AsCaller(&context, "scheduler", "ycr-scheduler", "scheduler");
    ASSERT_TRUE(Ok(stub->ListOverdue(&context, list, &page)));
  }
  ASSERT_EQ(page.items_size(), 3);
  // The first item's flag request id, spent flagging the second item.
  const v1::DeadlineItem poisoned = page.items(0);
  const v1::DeadlineItem spent_on = page.items(1);
  v1::FlagOverdueRequest flag;
  flag.set_request_id(services::FlagRequestId(poisoned, false));
  flag.mutable_flag()->set_kind(spent_on.kind());
  flag.mutable_flag()->set_id(spent_on.id());
  *flag.mutable_flag()->mutable_due_at() = spent_on.due_at();
  {
    grpc::ClientContext context;
    AsCaller(&context, "scheduler", "ycr-scheduler", "scheduler");
    v1::CommandResponse done;
    ASSERT_TRUE(Ok(stub->FlagOverdue(&context, flag, &done)));
  }
  MetricRegistry metrics;
  services::SchedulerOptions options = Options();
  options.metrics = &metrics;
  std::ostringstream log;
  absl::StatusOr<services::PassResult> pass = Pass(options, &log);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(pass->failed, 1);
  EXPECT_EQ(pass->flagged, 1);
  EXPECT_EQ(Flags(poisoned.id()), 0u);
  EXPECT_EQ(Flags(page.items(2).id()), 1u);
  EXPECT_NE(log.str().find("scheduler.flag_failed"), std::string::npos)
      << log.str();
  EXPECT_NE(log.str().find(poisoned.id()), std::string::npos) << log.str();
  const std::string rendered = metrics.Render();
  EXPECT_NE(rendered.find("ycr_scheduler_items_total{outcome=\"failed\"} 1"),
            std::string::npos)
      << rendered;
  EXPECT_NE(rendered.find("ycr_scheduler_items_total{outcome=\"flagged\"} 1"),
            std::string::npos)
      << rendered;
  // The binary's --once says so in its exit code (3), after the pass.
  int code = -1;
  const std::string out = RunBinary(
      absl::StrCat(
          YCR_SCHEDULER_BINARY,
          " --once --insecure --server=127.0.0.1:", server_.server().port()),
      &code);
  EXPECT_EQ(code, 3) << out;
  EXPECT_NE(out.find(" failed=1"), std::string::npos) << out;
}

TEST_F(SchedulerTest, DryRunWritesNothing) {
  ASSERT_NO_FATAL_FAILURE(TwoLetters());
  clock_.Advance(11 * kDay);
  const uint64_t head = Head();
  services::SchedulerOptions options = Options();
  options.dry_run = true;
  std::ostringstream log;
  auto pass = Pass(options, &log);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(pass->overdue, 2);
  EXPECT_EQ(pass->flagged, 0);
  EXPECT_EQ(Head(), head);
  EXPECT_NE(
      log.str().find(
          " INFO scheduler.would_flag kind=CORRESPONDENCE_ANSWER id=m-1 "),
      std::string::npos)
      << log.str();
}

TEST_F(SchedulerTest, NothingIsFlaggedBeforeItIsDue) {
  ASSERT_NO_FATAL_FAILURE(TwoLetters());
  clock_.Advance(9 * kDay);
  auto pass = Pass(Options());
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(pass->overdue, 0);
  EXPECT_EQ(Flags("m-1"), 0u);
}

TEST_F(SchedulerTest, EscalatesOnceAfterTheGracePeriod) {
  ASSERT_NO_FATAL_FAILURE(TwoLetters());
  clock_.Advance(11 * kDay);
  services::SchedulerOptions options = Options();
  options.escalate_after = absl::Hours(24);
  ASSERT_EQ(Pass(options)->flagged, 2);
  clock_.Advance(absl::Hours(23));
  EXPECT_EQ(Pass(options)->escalated, 0);
  clock_.Advance(absl::Hours(2));
  EXPECT_EQ(Pass(options)->escalated, 2);
  EXPECT_EQ(Pass(options)->escalated, 0);
  EXPECT_EQ(Flags("m-1"), 2u);  // The flag and its escalation.
}

TEST_F(SchedulerTest, AMovedDeadlineIsANewDeadline) {
  ASSERT_NO_FATAL_FAILURE(TwoLetters());
  // Acknowledged within time, promising day 20.
  clock_.Advance(5 * kDay);
  ASSERT_TRUE(Ok(Correspond(Acknowledge("m-1", kStart + 20 * kDay), kService)));
  clock_.Advance(6 * kDay);  // Day 11: m-2 missed, m-1 not yet.
  ASSERT_EQ(Pass(Options())->flagged, 1);
  EXPECT_EQ(Flags("m-1"), 0u);
  clock_.Advance(10 * kDay);  // Day 21: m-1's promise missed.
  ASSERT_EQ(Pass(Options())->flagged, 1);
  EXPECT_EQ(Flags("m-1"), 1u);
  // Answered: no longer overdue, nothing more to flag.
  ASSERT_TRUE(Ok(Correspond(Answer("m-1"), kService)));
  ASSERT_TRUE(Ok(Correspond(Answer("m-2"), kService)));
  auto pass = Pass(Options());
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->overdue, 0);
}

TEST_F(SchedulerTest, AnUnreachableServerFailsThePassWithoutCrashing) {
  services::SchedulerOptions options = Options();
  options.call_timeout = absl::Milliseconds(300);
  std::ostringstream out;
  Logger log(&out, LogFormat::kText, LogLevel::kInfo);
  services::Scheduler scheduler(
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()),
      options, &log);
  absl::StatusOr<services::PassResult> pass = scheduler.RunOnce();
  EXPECT_FALSE(pass.ok());
  EXPECT_TRUE(absl::IsUnavailable(pass.status()) ||
              absl::IsDeadlineExceeded(pass.status()))
      << pass.status();
}

TEST(SchedulerRequestIdTest, IsAStableUuidOfTheDeadline) {
  v1::DeadlineItem item;
  item.set_kind(v1::DeadlineItem::CORRESPONDENCE_ANSWER);
  item.set_id("m-1");
  item.mutable_due_at()->set_seconds(1'780'000'000);
  const std::string id = services::FlagRequestId(item, false);
  EXPECT_TRUE(IsUuid(id)) << id;
  EXPECT_EQ(id, services::FlagRequestId(item, false));
  EXPECT_NE(id, services::FlagRequestId(item, true));
  item.mutable_due_at()->set_seconds(1'780'000'001);
  EXPECT_NE(id, services::FlagRequestId(item, false));
}

std::string RunBinary(const std::string& command, int* exit_code) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    out.append(buffer, n);
  *exit_code = WEXITSTATUS(pclose(pipe));
  return out;
}

TEST_F(SchedulerTest, TheBinaryHelpsAndRunsOnce) {
  int code = -1;
  std::string help =
      RunBinary(std::string(YCR_SCHEDULER_BINARY) + " --help", &code);
  EXPECT_EQ(code, 0) << help;
  EXPECT_NE(help.find("--once"), std::string::npos) << help;
  EXPECT_NE(help.find("--log_format"), std::string::npos) << help;

  ASSERT_NO_FATAL_FAILURE(TwoLetters());
  clock_.Advance(11 * kDay);
  const std::string once = absl::StrCat(
      YCR_SCHEDULER_BINARY,
      " --once --insecure --server=127.0.0.1:", server_.server().port());
  std::string out = RunBinary(once, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find(" flagged=2 "), std::string::npos) << out;
  out = RunBinary(once, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find(" flagged=0 "), std::string::npos) << out;
  EXPECT_EQ(Flags("m-1"), 1u);
  // The server counts the flags the scheduler recorded.
  const std::string metrics = server_.server().metrics().Render();
  EXPECT_NE(metrics.find("ycr_overdue_flags_total{result=\"recorded\"} 2\n"),
            std::string::npos)
      << metrics;

  out = RunBinary(std::string(YCR_SCHEDULER_BINARY) +
                      " --once --insecure --server=127.0.0.1:1 "
                      "--call_timeout_seconds=1",
                  &code);
  EXPECT_EQ(code, 1) << out;
}

}  // namespace
}  // namespace ycr::testing
