#include "storage/rocksdb_event_log.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/ids.h"
#include "gtest/gtest.h"
#include "storage/event_log.h"
#include "storage/key_format.h"
#include "storage/log_follower.h"
#include "tests/unit/raw_store.h"
#include "tests/unit/test_util.h"

namespace ycr::storage {
namespace {

using ::ycr::test::OneEvent;
using ::ycr::test::OpaqueEvent;
using ::ycr::test::Request;
using ::ycr::test::StatusIs;
using ::ycr::test::TempDir;
using ::ycr::test::TestActor;

// A generous bound for waits that should finish at once; only reached when a
// test fails.
constexpr absl::Duration kFailureTimeout = absl::Seconds(10);

// 2023-11-14T22:13:20.123456789Z.
constexpr int64_t kStartNanos = int64_t{1700000000} * 1000000000 + 123456789;

class RocksDbEventLogTest : public ::testing::Test {
 protected:
  RocksDbEventLogOptions Options() {
    RocksDbEventLogOptions options;
    options.path = store_path_;
    options.clock = &clock_;
    options.sync = false;
    options.block_cache_bytes = 1 << 20;
    return options;
  }

  std::unique_ptr<RocksDbEventLog> OpenLog(RocksDbEventLogOptions options) {
    absl::StatusOr<std::unique_ptr<RocksDbEventLog>> log =
        RocksDbEventLog::Open(std::move(options));
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *std::move(log) : nullptr;
  }
  std::unique_ptr<RocksDbEventLog> OpenLog() { return OpenLog(Options()); }

  // Every event of the log, paging through ReadAll.
  static std::vector<v1::RecordedEvent> ReadEverything(EventLog& log) {
    return ::ycr::test::ReadWholeLog(log);
  }

  // Every event of `stream`, paging forwards through ReadStream.
  static std::vector<v1::RecordedEvent> ReadWholeStream(
      EventLog& log, absl::string_view stream) {
    std::vector<v1::RecordedEvent> out;
    ReadStreamOptions options;
    options.from_version = 1;
    for (;;) {
      absl::StatusOr<StreamSlice> slice = log.ReadStream(stream, options);
      EXPECT_TRUE(slice.ok()) << slice.status();
      if (!slice.ok()) return out;
      for (auto& e : slice->events) out.push_back(std::move(e));
      if (slice->next_version == 0) return out;
      EXPECT_GT(slice->next_version, options.from_version);
      options.from_version = slice->next_version;
    }
  }

  // AppendAsync, waiting for the callback at most kFailureTimeout
  // (DEADLINE_EXCEEDED if it does not come).
  static absl::Status AppendAsyncAndWait(EventLog& log, AppendRequest request) {
    struct Shared {
      absl::Notification done;
      absl::Status status;
    };
    auto shared = std::make_shared<Shared>();
    log.AppendAsync(std::move(request),
                    [shared](absl::StatusOr<AppendResult> result) {
                      shared->status = result.status();
                      shared->done.Notify();
                    });
    if (!shared->done.WaitForNotificationWithTimeout(kFailureTimeout)) {
      return absl::DeadlineExceededError("the append was never answered");
    }
    return shared->status;
  }

  static std::string Cord(const absl::Status& status, absl::string_view key) {
    auto payload = status.GetPayload(key);
    return payload.has_value() ? std::string(*payload) : "<no payload>";
  }

  ManualClock clock_{absl::FromUnixNanos(kStartNanos)};
  TempDir dir_;
  const std::string store_path_ = dir_.path() + "/store";
};

// --- Compaction on demand (maintenance; the benchmarks' "while compaction
// runs"). ---

TEST_F(RocksDbEventLogTest, CompactStoreKeepsTheLogAndStopsWhenCanceled) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(log->Append(OneEvent(absl::StrCat("s", i % 5))).ok());
  }
  const std::vector<v1::RecordedEvent> before = ReadEverything(*log);
  ASSERT_EQ(before.size(), 50u);
  ASSERT_TRUE(log->CompactStore().ok());
  const std::vector<v1::RecordedEvent> after = ReadEverything(*log);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].SerializeAsString(), before[i].SerializeAsString());
  }
  EXPECT_TRUE(log->VerifyChain(1, 50).ok());
  // Canceled before it starts: it returns at once, OK, and appends go on.
  std::atomic<bool> canceled{true};
  EXPECT_TRUE(log->CompactStore(&canceled).ok());
  EXPECT_TRUE(log->Append(OneEvent("s0")).ok());
  log->Close();
  EXPECT_TRUE(StatusIs(log->CompactStore(), absl::StatusCode::kUnavailable,
                       {"closed"}));
  EXPECT_EQ(log->RunningCompactions(), 0u);
}

// --- Expected versions. ---

TEST_F(RocksDbEventLogTest, AnyExpectedVersionAppendsToNewAndExistingStreams) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  for (uint64_t v = 1; v <= 3; ++v) {
    absl::StatusOr<AppendResult> r = log->Append(OneEvent("s"));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->stream_version, v);
    EXPECT_FALSE(r->replayed);
  }
}

TEST_F(RocksDbEventLogTest, NoStreamSucceedsOnNewStream) {
  auto log = OpenLog();
  absl::StatusOr<AppendResult> r =
      log->Append(OneEvent("s", ExpectedVersion::NoStream()));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stream_version, 1u);
}

TEST_F(RocksDbEventLogTest,
       NoStreamOnExistingStreamReturnsAbortedWithCurrentVersion) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(Request("case-7", ExpectedVersion::Any(),
                                  {OpaqueEvent("a"), OpaqueEvent("b")}))
                  .ok());
  absl::Status s =
      log->Append(OneEvent("case-7", ExpectedVersion::NoStream())).status();
  EXPECT_TRUE(StatusIs(s, absl::StatusCode::kAborted,
                       {"'case-7'", "version 2", "no stream"}));
  EXPECT_EQ(Cord(s, kConflictStreamPayload), "case-7");
  EXPECT_EQ(Cord(s, kConflictVersionPayload), "2");
  EXPECT_EQ(log->GetHead().position, 2u);
}

TEST_F(RocksDbEventLogTest, ExistsOnNewStreamReturnsAbortedWithVersionZero) {
  auto log = OpenLog();
  absl::Status s =
      log->Append(OneEvent("fresh", ExpectedVersion::Exists())).status();
  EXPECT_TRUE(
      StatusIs(s, absl::StatusCode::kAborted, {"'fresh'", "version 0"}));
  EXPECT_EQ(Cord(s, kConflictStreamPayload), "fresh");
  EXPECT_EQ(Cord(s, kConflictVersionPayload), "0");
  EXPECT_EQ(log->GetHead().position, 0u);
  EXPECT_TRUE(StatusIs(log->ReadStream("fresh", {}).status(),
                       absl::StatusCode::kNotFound));
}

TEST_F(RocksDbEventLogTest, ExistsOnExistingStreamSucceeds) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  absl::StatusOr<AppendResult> r =
      log->Append(OneEvent("s", ExpectedVersion::Exists()));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stream_version, 2u);
}

TEST_F(RocksDbEventLogTest, ExactVersionMatchingCurrentVersionSucceeds) {
  auto log = OpenLog();
  absl::StatusOr<AppendResult> r =
      log->Append(OneEvent("s", ExpectedVersion::Exact(0)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stream_version, 1u);
  r = log->Append(Request("s", ExpectedVersion::Exact(1),
                          {OpaqueEvent("a"), OpaqueEvent("b")}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stream_version, 3u);
  r = log->Append(OneEvent("s", ExpectedVersion::Exact(3)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stream_version, 4u);
}

TEST_F(RocksDbEventLogTest,
       ExactVersionConflictReturnsAbortedWithCurrentVersion) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(Request("case-1", ExpectedVersion::Any(),
                                  {OpaqueEvent("a"), OpaqueEvent("b"),
                                   OpaqueEvent("c")}))
                  .ok());
  for (uint64_t stale : {0u, 1u, 2u, 4u}) {
    absl::Status s =
        log->Append(OneEvent("case-1", ExpectedVersion::Exact(stale))).status();
    EXPECT_TRUE(
        StatusIs(s, absl::StatusCode::kAborted,
                 {"'case-1'", "version 3", absl::StrCat("exact ", stale)}));
    EXPECT_EQ(Cord(s, kConflictStreamPayload), "case-1");
    EXPECT_EQ(Cord(s, kConflictVersionPayload), "3");
  }
  EXPECT_EQ(log->GetHead().position, 3u);
  absl::StatusOr<StreamSlice> slice = log->ReadStream("case-1", {});
  ASSERT_TRUE(slice.ok()) << slice.status();
  EXPECT_EQ(slice->stream_version, 3u);
  EXPECT_EQ(slice->events.size(), 3u);
}

TEST_F(RocksDbEventLogTest, ExpectedVersionAllowsAndToStringFollowTheKinds) {
  EXPECT_TRUE(ExpectedVersion::Any().Allows(0));
  EXPECT_TRUE(ExpectedVersion::Any().Allows(9));
  EXPECT_TRUE(ExpectedVersion::NoStream().Allows(0));
  EXPECT_FALSE(ExpectedVersion::NoStream().Allows(1));
  EXPECT_FALSE(ExpectedVersion::Exists().Allows(0));
  EXPECT_TRUE(ExpectedVersion::Exists().Allows(1));
  EXPECT_TRUE(ExpectedVersion::Exact(0).Allows(0));
  EXPECT_TRUE(ExpectedVersion::Exact(5).Allows(5));
  EXPECT_FALSE(ExpectedVersion::Exact(5).Allows(4));
  EXPECT_EQ(ExpectedVersion::Any().ToString(), "any");
  EXPECT_EQ(ExpectedVersion::NoStream().ToString(), "no stream");
  EXPECT_EQ(ExpectedVersion::Exists().ToString(), "exists");
  EXPECT_EQ(ExpectedVersion::Exact(12).ToString(), "exact 12");
}

// --- Conditions on other streams. ---

TEST_F(RocksDbEventLogTest, ConditionOnOtherStreamAtExpectedVersionSucceeds) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(Request("B", ExpectedVersion::Any(),
                                  {OpaqueEvent("b1"), OpaqueEvent("b2")}))
                  .ok());
  AppendRequest request = OneEvent("A", ExpectedVersion::NoStream());
  request.conditions.push_back({"B", ExpectedVersion::Exact(2)});
  request.conditions.push_back({"C", ExpectedVersion::NoStream()});
  absl::StatusOr<AppendResult> r = log->Append(std::move(request));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->first_position, 3u);
  EXPECT_EQ(r->stream_version, 1u);
  // The condition's stream is only read, never written.
  absl::StatusOr<StreamSlice> b = log->ReadStream("B", {});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->stream_version, 2u);
}

TEST_F(RocksDbEventLogTest,
       ConditionOnMovedStreamReturnsAbortedNamingItAndWritesNothing) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(OneEvent("B")).ok());
  ASSERT_TRUE(log->Append(OneEvent("B")).ok());  // B moved from 1 to 2.
  const Head before = log->GetHead();

  AppendRequest request = Request("A", ExpectedVersion::Any(),
                                  {OpaqueEvent("a1"), OpaqueEvent("a2")});
  request.conditions.push_back({"B", ExpectedVersion::Exact(1)});
  absl::Status s = log->Append(std::move(request)).status();
  EXPECT_TRUE(StatusIs(s, absl::StatusCode::kAborted,
                       {"conditions[0]", "'B'", "version 2"}));
  EXPECT_EQ(Cord(s, kConflictStreamPayload), "B");
  EXPECT_EQ(Cord(s, kConflictVersionPayload), "2");

  const Head after = log->GetHead();
  EXPECT_EQ(after.position, before.position);
  EXPECT_EQ(after.hash, before.hash);
  EXPECT_TRUE(
      StatusIs(log->ReadStream("A", {}).status(), absl::StatusCode::kNotFound));
  EXPECT_EQ(ReadEverything(*log).size(), 2u);
}

TEST_F(RocksDbEventLogTest, ConditionsAreCheckedInOrderAndNameTheFailingOne) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(OneEvent("B")).ok());
  AppendRequest request = OneEvent("A");
  request.conditions.push_back({"B", ExpectedVersion::Exists()});
  request.conditions.push_back({"C", ExpectedVersion::Exists()});
  absl::Status s = log->Append(std::move(request)).status();
  EXPECT_TRUE(StatusIs(s, absl::StatusCode::kAborted,
                       {"conditions[1]", "'C'", "version 0"}));
  EXPECT_EQ(Cord(s, kConflictStreamPayload), "C");
  EXPECT_EQ(log->GetHead().position, 1u);
}

// --- Idempotency. ---

TEST_F(RocksDbEventLogTest, RetryWithSameIdsAndContentReturnsOriginalResult) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(OneEvent("other")).ok());
  const AppendRequest request = Request("s", ExpectedVersion::Any(),
                                        {OpaqueEvent("a"), OpaqueEvent("b")});
  absl::StatusOr<AppendResult> first = log->Append(request);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);
  const Head head = log->GetHead();

  absl::StatusOr<AppendResult> retry = log->Append(request);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed);
  EXPECT_EQ(retry->first_position, first->first_position);
  EXPECT_EQ(retry->last_position, first->last_position);
  EXPECT_EQ(retry->stream_version, first->stream_version);
  EXPECT_EQ(log->GetHead().position, head.position);
  EXPECT_EQ(log->GetHead().hash, head.hash);
  EXPECT_EQ(ReadEverything(*log).size(), 3u);
}

// --- The record store: records written with an append, atomically. ---

TEST_F(RocksDbEventLogTest, RecordIsWrittenWithItsAppendAndSurvivesReopen) {
  {
    auto log = OpenLog();
    AppendRequest request = OneEvent("subject-1");
    request.records = {{"subject/1", "first"}, {"other", "x"}};
    ASSERT_TRUE(log->Append(request).ok());
    auto record = log->GetRecord("subject/1");
    ASSERT_TRUE(record.ok()) << record.status();
    EXPECT_EQ(record->value_or("<none>"), "first");
    auto missing = log->GetRecord("subject/2");
    ASSERT_TRUE(missing.ok());
    EXPECT_FALSE(missing->has_value());
    log->Close();
  }
  auto log = OpenLog();
  auto record = log->GetRecord("other");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->value_or("<none>"), "x");
}

TEST_F(RocksDbEventLogTest, RecordIsNotWrittenWhenItsAppendFails) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(OneEvent("subject-1")).ok());
  AppendRequest conflicting = OneEvent("subject-1");
  conflicting.expected = ExpectedVersion::NoStream();
  conflicting.records = {{"subject/1", "must not appear"}};
  EXPECT_TRUE(absl::IsAborted(log->Append(conflicting).status()));
  AppendRequest failed_condition = OneEvent("subject-2");
  failed_condition.conditions = {{"consent-9", ExpectedVersion::Exists()}};
  failed_condition.records = {{"subject/2", "must not appear"}};
  EXPECT_TRUE(absl::IsAborted(log->Append(failed_condition).status()));
  for (const char* key : {"subject/1", "subject/2"}) {
    auto record = log->GetRecord(key);
    ASSERT_TRUE(record.ok()) << record.status();
    EXPECT_FALSE(record->has_value()) << key;
  }
}

TEST_F(RocksDbEventLogTest, RecordConditionsHoldOrTheAppendIsAborted) {
  auto log = OpenLog();
  // Absent as required: written.
  AppendRequest first = OneEvent("referral-1");
  first.record_conditions = {{"mark/1", std::nullopt}};
  first.records = {{"mark/1", "r-1"}};
  ASSERT_TRUE(log->Append(first).ok());
  // Decided on "absent" too, but the record exists now: aborted, naming
  // the record, and nothing of it written.
  AppendRequest stale = OneEvent("referral-2");
  stale.record_conditions = {{"mark/1", std::nullopt}};
  stale.records = {{"mark/1", "r-2"}};
  absl::Status conflict = log->Append(stale).status();
  EXPECT_TRUE(StatusIs(conflict, absl::StatusCode::kAborted,
                       {"record_conditions[0]", "mark/1"}));
  EXPECT_EQ(
      std::string(
          conflict.GetPayload(kConflictStreamPayload).value_or(absl::Cord())),
      "record:mark/1");
  EXPECT_EQ(log->GetHead().position, 1u);
  EXPECT_EQ(log->GetRecord("mark/1")->value_or(""), "r-1");
  // Decided on the current value: written.
  stale.record_conditions = {{"mark/1", std::string("r-1")}};
  stale.records = {{"mark/1", "r-1,r-2"}};
  ASSERT_TRUE(log->Append(stale).ok());
  EXPECT_EQ(log->GetRecord("mark/1")->value_or(""), "r-1,r-2");
  // A removed record is absent again.
  AppendRequest removal = OneEvent("referral-3");
  removal.records = {{"mark/1", "", "", true}};
  ASSERT_TRUE(log->Append(removal).ok());
  AppendRequest after = OneEvent("referral-4");
  after.record_conditions = {{"mark/1", std::string("r-1,r-2")}};
  EXPECT_TRUE(absl::IsAborted(log->Append(after).status()));
  after.record_conditions = {{"mark/1", std::nullopt}};
  EXPECT_TRUE(log->Append(after).ok());
}

// A read-modify-write counter kept in a record by many writers at once:
// appends in one group commit see the records of those before them, so no
// increment is lost.
TEST_F(RocksDbEventLogTest, RecordConditionsLoseNoConcurrentUpdate) {
  auto log = OpenLog();
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        for (;;) {
          absl::StatusOr<std::optional<std::string>> read =
              log->GetRecord("counter");
          if (!read.ok()) {
            ++failures;
            return;
          }
          const int value = read->has_value() ? std::stoi(**read) : 0;
          AppendRequest request = OneEvent(absl::StrCat("writer-", t));
          request.record_conditions = {{"counter", *read}};
          request.records = {{"counter", std::to_string(value + 1)}};
          absl::Status s = log->Append(request).status();
          if (s.ok()) break;
          if (!absl::IsAborted(s)) {
            ++failures;
            return;
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(log->GetRecord("counter")->value_or(""),
            std::to_string(kThreads * kEach));
}

TEST_F(RocksDbEventLogTest, ReplayedAppendDoesNotRewriteItsRecords) {
  auto log = OpenLog();
  AppendRequest request = OneEvent("subject-1");
  request.records = {{"subject/1", "original"}};
  ASSERT_TRUE(log->Append(request).ok());
  request.records = {{"subject/1", "changed on retry"}};
  auto retry = log->Append(request);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed);
  EXPECT_EQ(log->GetRecord("subject/1")->value_or(""), "original");
}

TEST_F(RocksDbEventLogTest, RecordsAreValidated) {
  auto log = OpenLog();
  AppendRequest empty_key = OneEvent("s");
  empty_key.records = {{"", "v"}};
  EXPECT_TRUE(StatusIs(log->Append(empty_key).status(),
                       absl::StatusCode::kInvalidArgument, {"records[0].key"}));
  // A plain record has room for a list of max_erase_retaining
  // organisations past the payload limit; a sealed one has the limit.
  const LogLimits limits;
  AppendRequest big = OneEvent("s");
  big.records = {{"k", std::string(limits.max_payload_bytes +
                                       limits.max_erase_retaining *
                                           (limits.max_stream_id_bytes + 3) +
                                       1,
                                   'x')}};
  EXPECT_TRUE(StatusIs(log->Append(big).status(),
                       absl::StatusCode::kInvalidArgument,
                       {"records[0].value"}));
  AppendRequest big_sealed = OneEvent("s");
  big_sealed.records = {
      {"k", std::string(limits.max_payload_bytes + 1, 'x'), "subject-1"}};
  EXPECT_TRUE(StatusIs(log->Append(big_sealed).status(),
                       absl::StatusCode::kInvalidArgument,
                       {"records[0].value"}));
  AppendRequest many = OneEvent("s");
  for (size_t i = 0; i <= LogLimits().max_conditions; ++i) {
    many.records.push_back({absl::StrCat("k", i), "v"});
  }
  EXPECT_TRUE(StatusIs(log->Append(many).status(),
                       absl::StatusCode::kInvalidArgument, {"records:"}));
  EXPECT_EQ(log->GetHead().position, 0u);
}

TEST_F(RocksDbEventLogTest, RetryWithStaleExactExpectedVersionIsReplayed) {
  auto log = OpenLog();
  const AppendRequest request = Request("s", ExpectedVersion::Exact(0),
                                        {OpaqueEvent("a"), OpaqueEvent("b")});
  absl::StatusOr<AppendResult> first = log->Append(request);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(log->Append(OneEvent("s")).ok());  // The stream moves on.
  const Head head = log->GetHead();

  absl::StatusOr<AppendResult> retry = log->Append(request);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed);
  EXPECT_EQ(retry->first_position, 1u);
  EXPECT_EQ(retry->last_position, 2u);
  EXPECT_EQ(retry->stream_version, 2u);
  EXPECT_EQ(log->GetHead().position, head.position);
  EXPECT_EQ(log->GetHead().hash, head.hash);
}

TEST_F(RocksDbEventLogTest, RetryWithUpperCaseEventIdIsReplayed) {
  auto log = OpenLog();
  AppendRequest request = OneEvent("s");
  request.events[0].set_event_id("abcdef01-2345-4789-abcd-ef0123456789");
  absl::StatusOr<AppendResult> first = log->Append(request);
  ASSERT_TRUE(first.ok()) << first.status();
  request.events[0].set_event_id("ABCDEF01-2345-4789-ABCD-EF0123456789");
  absl::StatusOr<AppendResult> retry = log->Append(request);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed);
  EXPECT_EQ(retry->first_position, first->first_position);
  std::vector<v1::RecordedEvent> all = ReadEverything(*log);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].event_id(), "abcdef01-2345-4789-abcd-ef0123456789");
}

TEST_F(RocksDbEventLogTest, SameEventIdWithDifferentPayloadIsAlreadyExists) {
  auto log = OpenLog();
  AppendRequest request = OneEvent("s", ExpectedVersion::Any(), "original");
  const std::string id = request.events[0].event_id();
  ASSERT_TRUE(log->Append(request).ok());
  const Head head = log->GetHead();

  request.events[0].mutable_payload()->mutable_opaque()->set_data("changed");
  EXPECT_TRUE(StatusIs(log->Append(request).status(),
                       absl::StatusCode::kAlreadyExists,
                       {"events[0].event_id", id}));
  EXPECT_EQ(log->GetHead().position, head.position);
  EXPECT_EQ(log->GetHead().hash, head.hash);
}

TEST_F(RocksDbEventLogTest, SameEventIdOnAnotherStreamIsAlreadyExists) {
  auto log = OpenLog();
  AppendRequest request = OneEvent("s");
  ASSERT_TRUE(log->Append(request).ok());
  request.stream = "t";
  EXPECT_TRUE(StatusIs(log->Append(request).status(),
                       absl::StatusCode::kAlreadyExists));
  EXPECT_TRUE(
      StatusIs(log->ReadStream("t", {}).status(), absl::StatusCode::kNotFound));
}

TEST_F(RocksDbEventLogTest, PartialOverlapOfOldAndNewIdsIsAlreadyExists) {
  auto log = OpenLog();
  AppendRequest original = OneEvent("s");
  ASSERT_TRUE(log->Append(original).ok());
  const Head head = log->GetHead();

  AppendRequest mixed = Request("s", ExpectedVersion::Any(),
                                {original.events[0], OpaqueEvent("new")});
  EXPECT_TRUE(StatusIs(log->Append(mixed).status(),
                       absl::StatusCode::kAlreadyExists, {"events[1]"}));
  // New first, old second: also refused.
  AppendRequest reversed = Request("s", ExpectedVersion::Any(),
                                   {OpaqueEvent("new"), original.events[0]});
  EXPECT_TRUE(StatusIs(log->Append(reversed).status(),
                       absl::StatusCode::kAlreadyExists, {"events[0]"}));

  EXPECT_EQ(log->GetHead().position, head.position);
  EXPECT_EQ(log->GetHead().hash, head.hash);
  EXPECT_EQ(ReadEverything(*log).size(), 1u);
  // The new ids were not recorded either: they can be appended now.
  EXPECT_TRUE(
      log->Append(Request("s", ExpectedVersion::Exact(1), {mixed.events[1]}))
          .ok());
}

TEST_F(RocksDbEventLogTest, DuplicateAppendsQueuedTogetherAreWrittenOnce) {
  auto log = OpenLog();
  const AppendRequest request = Request("s", ExpectedVersion::NoStream(),
                                        {OpaqueEvent("a"), OpaqueEvent("b")});
  constexpr int kCopies = 8;
  std::vector<std::optional<absl::StatusOr<AppendResult>>> results(kCopies);
  absl::Mutex mu;
  int remaining = kCopies;
  for (int i = 0; i < kCopies; ++i) {
    log->AppendAsync(request, [&, i](absl::StatusOr<AppendResult> r) {
      absl::MutexLock lock(&mu);
      results[i].emplace(std::move(r));
      --remaining;
    });
  }
  {
    absl::MutexLock lock(&mu);
    auto done = [&remaining] { return remaining == 0; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&done), kFailureTimeout));
  }
  int fresh = 0;
  for (auto& r : results) {
    ASSERT_TRUE(r->ok()) << r->status();
    EXPECT_EQ((*r)->first_position, 1u);
    EXPECT_EQ((*r)->last_position, 2u);
    EXPECT_EQ((*r)->stream_version, 2u);
    if (!(*r)->replayed) ++fresh;
  }
  EXPECT_EQ(fresh, 1);
  EXPECT_EQ(log->GetHead().position, 2u);
}

// --- Positions, versions, records, hash chain. ---

TEST_F(RocksDbEventLogTest, EmptyLogHasHeadZeroAndGenesisHash) {
  auto log = OpenLog();
  const Head head = log->GetHead();
  EXPECT_EQ(head.position, 0u);
  EXPECT_EQ(head.hash, std::string(32, '\0'));
  EXPECT_TRUE(log->VerifyChain(1, 0).ok());
  absl::StatusOr<LogSlice> all = log->ReadAll(0, 0, {});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->events.empty());
  EXPECT_TRUE(all->reached_end);
}

TEST_F(RocksDbEventLogTest, PositionsAndStreamVersionsStartAtOneAndAreGapless) {
  auto log = OpenLog();
  const std::vector<std::string> streams = {"a", "b", "a", "c", "b", "a"};
  std::map<std::string, uint64_t> versions;
  for (size_t i = 0; i < streams.size(); ++i) {
    absl::StatusOr<AppendResult> r = log->Append(OneEvent(streams[i]));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->first_position, i + 1);
    EXPECT_EQ(r->last_position, i + 1);
    EXPECT_EQ(r->stream_version, ++versions[streams[i]]);
  }
  std::vector<v1::RecordedEvent> all = ReadEverything(*log);
  ASSERT_EQ(all.size(), streams.size());
  std::map<std::string, uint64_t> seen;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].position(), i + 1);
    EXPECT_EQ(all[i].stream(), streams[i]);
    EXPECT_EQ(all[i].stream_version(), ++seen[streams[i]]);
  }
}

TEST_F(RocksDbEventLogTest, MultiEventAppendGetsContiguousPositions) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(OneEvent("x")).ok());
  AppendRequest request = Request(
      "s", ExpectedVersion::Any(),
      {OpaqueEvent("a"), OpaqueEvent("b"), OpaqueEvent("c"), OpaqueEvent("d")});
  std::vector<std::string> ids;
  for (const auto& e : request.events) ids.push_back(e.event_id());
  absl::StatusOr<AppendResult> r = log->Append(std::move(request));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->first_position, 2u);
  EXPECT_EQ(r->last_position, 5u);
  EXPECT_EQ(r->stream_version, 4u);
  std::vector<v1::RecordedEvent> stream = ReadWholeStream(*log, "s");
  ASSERT_EQ(stream.size(), 4u);
  for (size_t i = 0; i < stream.size(); ++i) {
    EXPECT_EQ(stream[i].position(), 2 + i);
    EXPECT_EQ(stream[i].stream_version(), 1 + i);
    EXPECT_EQ(stream[i].event_id(), ids[i]);
    EXPECT_EQ(stream[i].payload().opaque().data(), std::string(1, 'a' + i));
  }
}

TEST_F(RocksDbEventLogTest, RecordHoldsEnvelopeFieldsAndClockTime) {
  auto log = OpenLog();
  AppendRequest request = OneEvent("case-9", ExpectedVersion::Any(), "hello");
  request.events[0].mutable_payload()->mutable_opaque()->set_type(
      "case.opened");
  request.events[0].set_correlation_id("corr-1");
  request.events[0].set_causation_id("cause-1");
  request.events[0].mutable_occurred_at()->set_seconds(1600000000);
  request.events[0].mutable_occurred_at()->set_nanos(5);
  request.actor.set_user("someone-else");
  const std::string id = request.events[0].event_id();
  ASSERT_TRUE(log->Append(request).ok());

  clock_.Advance(absl::Milliseconds(1500));
  ASSERT_TRUE(log->Append(OneEvent("case-9")).ok());

  std::vector<v1::RecordedEvent> all = ReadEverything(*log);
  ASSERT_EQ(all.size(), 2u);
  const v1::RecordedEvent& e = all[0];
  EXPECT_EQ(e.stream(), "case-9");
  EXPECT_EQ(e.event_id(), id);
  EXPECT_EQ(e.event_type(), "case.opened");
  EXPECT_EQ(e.payload().opaque().data(), "hello");
  EXPECT_EQ(e.correlation_id(), "corr-1");
  EXPECT_EQ(e.causation_id(), "cause-1");
  EXPECT_EQ(e.occurred_at().seconds(), 1600000000);
  EXPECT_EQ(e.occurred_at().nanos(), 5);
  EXPECT_EQ(e.actor().organisation(), "org-1");
  EXPECT_EQ(e.actor().user(), "someone-else");
  EXPECT_EQ(e.actor().role(), "carer-support");
  EXPECT_EQ(e.recorded_at().seconds(), 1700000000);
  EXPECT_EQ(e.recorded_at().nanos(), 123456789);
  EXPECT_EQ(all[1].recorded_at().seconds(), 1700000001);
  EXPECT_EQ(all[1].recorded_at().nanos(), 623456789);
  EXPECT_FALSE(all[1].has_occurred_at());
  EXPECT_EQ(all[1].actor().user(), "user-1");
}

TEST_F(RocksDbEventLogTest, RecordedAtBeforeTheEpochIsNormalised) {
  clock_.Set(absl::FromUnixNanos(-1500000000));  // 1969-12-31T23:59:58.5Z
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  std::vector<v1::RecordedEvent> all = ReadEverything(*log);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].recorded_at().seconds(), -2);
  EXPECT_EQ(all[0].recorded_at().nanos(), 500000000);
}

TEST_F(RocksDbEventLogTest, HashChainLinksEveryRecordToTheOneBefore) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(OneEvent("a")).ok());
  ASSERT_TRUE(log->Append(Request("b", ExpectedVersion::Any(),
                                  {OpaqueEvent("1"), OpaqueEvent("2")}))
                  .ok());
  ASSERT_TRUE(log->Append(OneEvent("a")).ok());
  std::vector<v1::RecordedEvent> all = ReadEverything(*log);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].prev_hash(), std::string(32, '\0'));
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].hash().size(), 32u);
    EXPECT_NE(all[i].hash(), all[i].prev_hash());
    if (i > 0) {
      EXPECT_EQ(all[i].prev_hash(), all[i - 1].hash()) << i;
    }
  }
  const Head head = log->GetHead();
  EXPECT_EQ(head.position, 4u);
  EXPECT_EQ(head.hash, all.back().hash());
  EXPECT_TRUE(log->VerifyChain(1, 0).ok());
  EXPECT_TRUE(log->VerifyChain(2, 3).ok());
  EXPECT_TRUE(log->VerifyChain(4, 4).ok());
  // Beyond the head: the chain ends early.
  EXPECT_TRUE(
      StatusIs(log->VerifyChain(1, 5), absl::StatusCode::kDataLoss, {"5"}));
}

TEST_F(RocksDbEventLogTest, ReadStreamRecordsMatchReadAllRecords) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(OneEvent("a")).ok());
  ASSERT_TRUE(log->Append(OneEvent("b")).ok());
  std::vector<v1::RecordedEvent> all = ReadEverything(*log);
  std::vector<v1::RecordedEvent> b = ReadWholeStream(*log, "b");
  ASSERT_EQ(all.size(), 2u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].SerializeAsString(), all[1].SerializeAsString());
}

// ForEach visits the same events as ReadAll, in order, from any position,
// up to a limit, across the chunks it reads (4 MiB each), and stops at the
// first error `visit` returns.
TEST_F(RocksDbEventLogTest, ForEachVisitsWhatReadAllReads) {
  auto log = OpenLog();
  const std::string big(60 * 1024, 'x');
  for (int i = 0; i < 12; ++i) {
    std::vector<v1::ProposedEvent> events;
    for (int j = 0; j < 10; ++j) {
      events.push_back(OpaqueEvent(j % 3 == 0 ? big : "small"));
    }
    ASSERT_TRUE(log->Append(Request(absl::StrCat("s-", i % 4),
                                    ExpectedVersion::Any(), std::move(events)))
                    .ok());
  }
  const std::vector<v1::RecordedEvent> all = ReadEverything(*log);
  ASSERT_EQ(all.size(), 120u);
  for (uint64_t from : {uint64_t{0}, uint64_t{1}, uint64_t{57}}) {
    for (uint64_t limit : {uint64_t{0}, uint64_t{1}, uint64_t{50}}) {
      SCOPED_TRACE(absl::StrCat("from ", from, " limit ", limit));
      std::vector<std::string> seen;
      uint64_t next = 0;
      ASSERT_TRUE(log->ForEach(
                         from, limit,
                         [&](const v1::RecordedEvent& e) {
                           seen.push_back(e.SerializeAsString());
                           return absl::OkStatus();
                         },
                         &next)
                      .ok());
      const uint64_t first = std::max<uint64_t>(from, 1);
      const uint64_t count = limit == 0 ? 121 - first : limit;
      ASSERT_EQ(seen.size(), count);
      for (uint64_t i = 0; i < count; ++i) {
        EXPECT_EQ(seen[i], all[first - 1 + i].SerializeAsString()) << i;
      }
      EXPECT_EQ(next, first + count);
    }
  }
  // Past the head: nothing.
  uint64_t next = 0;
  int visits = 0;
  ASSERT_TRUE(log->ForEach(
                     121, 0,
                     [&](const v1::RecordedEvent&) {
                       ++visits;
                       return absl::OkStatus();
                     },
                     &next)
                  .ok());
  EXPECT_EQ(visits, 0);
  EXPECT_EQ(next, 121u);
  // An error from `visit` ends the read and is returned.
  absl::Status s = log->ForEach(
      1, 0,
      [&](const v1::RecordedEvent& e) {
        return e.position() == 30 ? absl::CancelledError("enough")
                                  : absl::OkStatus();
      },
      &next);
  EXPECT_TRUE(StatusIs(s, absl::StatusCode::kCancelled, {"enough"}));
  EXPECT_EQ(next, 30u);
}

// --- Concurrency. ---

TEST_F(RocksDbEventLogTest, ConcurrentAppendsStayGaplessPerLogAndPerStream) {
  constexpr int kThreads = 8;
  constexpr int kAppendsPerThread = 300;
  constexpr int kSharedStreams = 3;
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);

  // Per thread: events sent per stream.
  std::vector<std::map<std::string, uint64_t>> sent(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string own = absl::StrCat("thread-", t);
      uint64_t own_version = 0;
      for (int i = 0; i < kAppendsPerThread; ++i) {
        const bool shared = i % 2 == 1;
        const std::string stream =
            shared ? absl::StrCat("shared-", (i / 2 + t) % kSharedStreams)
                   : own;
        const int n = i % 7 == 0 ? 3 : 1;
        std::vector<v1::ProposedEvent> events;
        for (int k = 0; k < n; ++k) {
          events.push_back(OpaqueEvent(absl::StrCat(t, ":", i, ":", k)));
        }
        absl::StatusOr<AppendResult> r =
            log->Append(Request(stream,
                                shared ? ExpectedVersion::Any()
                                       : ExpectedVersion::Exact(own_version),
                                std::move(events)));
        if (!r.ok()) {
          ADD_FAILURE() << "thread " << t << " append " << i << ": "
                        << r.status();
          return;
        }
        EXPECT_EQ(r->last_position - r->first_position + 1,
                  static_cast<uint64_t>(n));
        if (!shared) {
          own_version += n;
          EXPECT_EQ(r->stream_version, own_version);
        }
        sent[t][stream] += n;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::map<std::string, uint64_t> expected_per_stream;
  uint64_t total = 0;
  for (const auto& per_thread : sent) {
    for (const auto& [stream, n] : per_thread) {
      expected_per_stream[stream] += n;
      total += n;
    }
  }
  ASSERT_GT(total, static_cast<uint64_t>(kThreads * kAppendsPerThread));

  std::vector<v1::RecordedEvent> all = ReadEverything(*log);
  ASSERT_EQ(all.size(), total);
  std::map<std::string, uint64_t> versions;
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i].position(), i + 1);
    ASSERT_EQ(all[i].stream_version(), ++versions[all[i].stream()])
        << "stream " << all[i].stream() << " at position " << i + 1;
  }
  EXPECT_EQ(versions, expected_per_stream);
  for (const auto& [stream, n] : expected_per_stream) {
    std::vector<v1::RecordedEvent> events = ReadWholeStream(*log, stream);
    ASSERT_EQ(events.size(), n) << stream;
    for (size_t v = 0; v < events.size(); ++v) {
      ASSERT_EQ(events[v].stream_version(), v + 1) << stream;
      ASSERT_EQ(events[v].stream(), stream);
    }
  }
  EXPECT_EQ(log->GetHead().position, total);
  EXPECT_TRUE(log->VerifyChain(1, 0).ok());
}

// --- Reopening. ---

TEST_F(RocksDbEventLogTest, ReopenKeepsEventsHeadAndStreamVersions) {
  Head head;
  std::vector<std::string> before;
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->Append(Request("s", ExpectedVersion::Any(),
                                    {OpaqueEvent("1"), OpaqueEvent("2")}))
                    .ok());
    ASSERT_TRUE(log->Append(OneEvent("t")).ok());
    ASSERT_TRUE(log->Append(OneEvent("s")).ok());
    head = log->GetHead();
    for (const auto& e : ReadEverything(*log)) {
      before.push_back(e.SerializeAsString());
    }
    log->Close();
  }
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  const Head reopened = log->GetHead();
  EXPECT_EQ(reopened.position, 4u);
  EXPECT_EQ(reopened.position, head.position);
  EXPECT_EQ(reopened.hash, head.hash);
  std::vector<std::string> after;
  for (const auto& e : ReadEverything(*log)) {
    after.push_back(e.SerializeAsString());
  }
  EXPECT_EQ(after, before);

  EXPECT_TRUE(
      StatusIs(log->Append(OneEvent("s", ExpectedVersion::Exact(2))).status(),
               absl::StatusCode::kAborted, {"'s'", "version 3"}));
  absl::StatusOr<AppendResult> r =
      log->Append(OneEvent("s", ExpectedVersion::Exact(3)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->first_position, 5u);
  EXPECT_EQ(r->stream_version, 4u);
  EXPECT_TRUE(
      StatusIs(log->Append(OneEvent("t", ExpectedVersion::NoStream())).status(),
               absl::StatusCode::kAborted, {"'t'", "version 1"}));
  std::vector<v1::RecordedEvent> all = ReadEverything(*log);
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[4].prev_hash(), head.hash);
  EXPECT_TRUE(log->VerifyChain(1, 0).ok());
}

TEST_F(RocksDbEventLogTest, IdempotentRetryAfterReopenIsReplayed) {
  const AppendRequest request = Request("s", ExpectedVersion::NoStream(),
                                        {OpaqueEvent("a"), OpaqueEvent("b")});
  AppendResult first;
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->Append(OneEvent("other")).ok());
    absl::StatusOr<AppendResult> r = log->Append(request);
    ASSERT_TRUE(r.ok()) << r.status();
    first = *r;
  }  // Destruction closes the log.
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  absl::StatusOr<AppendResult> retry = log->Append(request);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed);
  EXPECT_EQ(retry->first_position, first.first_position);
  EXPECT_EQ(retry->last_position, first.last_position);
  EXPECT_EQ(retry->stream_version, first.stream_version);
  EXPECT_EQ(log->GetHead().position, 3u);

  AppendRequest changed = request;
  changed.events[1].mutable_payload()->mutable_opaque()->set_data("B");
  EXPECT_TRUE(StatusIs(log->Append(changed).status(),
                       absl::StatusCode::kAlreadyExists, {"events[1]"}));
}

TEST_F(RocksDbEventLogTest, TinyStreamCacheKeepsVersionsCorrect) {
  constexpr int kStreams = 25;
  constexpr uint64_t kRounds = 3;
  RocksDbEventLogOptions options = Options();
  options.stream_cache_entries = 2;
  {
    auto log = OpenLog(options);
    for (uint64_t round = 0; round < kRounds; ++round) {
      for (int s = 0; s < kStreams; ++s) {
        absl::StatusOr<AppendResult> r = log->Append(
            OneEvent(absl::StrCat("s-", s), ExpectedVersion::Exact(round)));
        ASSERT_TRUE(r.ok()) << "round " << round << ": " << r.status();
        EXPECT_EQ(r->stream_version, round + 1);
      }
    }
    // A stale version is refused even for an evicted stream.
    EXPECT_TRUE(StatusIs(
        log->Append(OneEvent("s-0", ExpectedVersion::Exact(kRounds - 1)))
            .status(),
        absl::StatusCode::kAborted, {"version 3"}));
    EXPECT_TRUE(StatusIs(
        log->Append(OneEvent("s-1", ExpectedVersion::NoStream())).status(),
        absl::StatusCode::kAborted));
  }
  auto log = OpenLog(options);
  ASSERT_NE(log, nullptr);
  for (int s = kStreams - 1; s >= 0; --s) {
    absl::StatusOr<AppendResult> r = log->Append(
        OneEvent(absl::StrCat("s-", s), ExpectedVersion::Exact(kRounds)));
    ASSERT_TRUE(r.ok()) << "stream " << s << ": " << r.status();
    EXPECT_EQ(r->stream_version, kRounds + 1);
  }
  EXPECT_TRUE(StatusIs(
      log->Append(OneEvent("s-3", ExpectedVersion::Exact(kRounds))).status(),
      absl::StatusCode::kAborted, {"version 4"}));
  EXPECT_TRUE(log->VerifyChain(1, 0).ok());
}

TEST_F(RocksDbEventLogTest, StreamsSharingAPrefixKeepSeparateVersions) {
  auto log = OpenLog();
  const std::vector<std::string> streams = {"a", "a-b", "ab", "a.b", "a/b"};
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < streams.size(); ++i) {
      // Stream i gets i + 1 events per round.
      std::vector<v1::ProposedEvent> events;
      for (size_t k = 0; k <= i; ++k) events.push_back(OpaqueEvent("x"));
      absl::StatusOr<AppendResult> r = log->Append(
          Request(streams[i], ExpectedVersion::Exact(round * (i + 1)), events));
      ASSERT_TRUE(r.ok()) << streams[i] << ": " << r.status();
    }
  }
  for (size_t i = 0; i < streams.size(); ++i) {
    std::vector<v1::RecordedEvent> events = ReadWholeStream(*log, streams[i]);
    ASSERT_EQ(events.size(), 3 * (i + 1)) << streams[i];
    for (const auto& e : events) EXPECT_EQ(e.stream(), streams[i]);
  }
}

// --- Refusing to open. ---

TEST_F(RocksDbEventLogTest, StoreOfAnotherFormatVersionFailsToOpen) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  }
  {
    RawStore raw(store_path_);
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    ASSERT_TRUE(raw.db()
                    ->Put(write_options, raw.cf(RawStore::kDefault),
                          FormatVersionKey(), EncodeFormatVersion(99))
                    .ok());
  }
  absl::StatusOr<std::unique_ptr<RocksDbEventLog>> log =
      RocksDbEventLog::Open(Options());
  EXPECT_TRUE(
      StatusIs(log.status(), absl::StatusCode::kFailedPrecondition, {"99"}));
}

// Format 1 kept free text about people outside the sealed personal part:
// refused with what to do, never read or migrated.
TEST_F(RocksDbEventLogTest, StoreOfFormatVersionOneIsRefusedSayingWhatToDo) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  }
  {
    RawStore raw(store_path_);
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    ASSERT_TRUE(raw.db()
                    ->Put(write_options, raw.cf(RawStore::kDefault),
                          FormatVersionKey(), EncodeFormatVersion(1))
                    .ok());
  }
  absl::StatusOr<std::unique_ptr<RocksDbEventLog>> log =
      RocksDbEventLog::Open(Options());
  EXPECT_TRUE(StatusIs(
      log.status(), absl::StatusCode::kFailedPrecondition,
      {"format version 1", "reads format version 7", "free text about people",
       "sealed personal part", "does not migrate", "empty data directory"}));
}

TEST_F(RocksDbEventLogTest, StoreWithEventsButNoFormatVersionFailsToOpen) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  }
  {
    RawStore raw(store_path_);
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(raw.db()
                    ->Delete(rocksdb::WriteOptions(),
                             raw.cf(RawStore::kDefault), FormatVersionKey())
                    .ok());
  }
  EXPECT_TRUE(StatusIs(RocksDbEventLog::Open(Options()).status(),
                       absl::StatusCode::kFailedPrecondition));
}

TEST_F(RocksDbEventLogTest, CorruptedTailRecordFailsOpenWithDataLoss) {
  {
    auto log = OpenLog();
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(log->Append(OneEvent("s")).ok());
    ASSERT_TRUE(
        log->Append(OneEvent("s", ExpectedVersion::Any(), "corrupt-me")).ok());
  }
  {
    RawStore raw(store_path_);
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    std::string value;
    ASSERT_TRUE(raw.db()
                    ->Get(rocksdb::ReadOptions(), raw.cf(RawStore::kLog),
                          LogKey(5), &value)
                    .ok());
    const size_t at = value.find("corrupt-me");
    ASSERT_NE(at, std::string::npos);
    value.replace(at, 10, "CORRUPT-ME");  // Same length: still parses.
    ASSERT_TRUE(raw.db()
                    ->Put(rocksdb::WriteOptions(), raw.cf(RawStore::kLog),
                          LogKey(5), value)
                    .ok());
  }
  EXPECT_TRUE(StatusIs(RocksDbEventLog::Open(Options()).status(),
                       absl::StatusCode::kDataLoss, {"position 5"}));
}

TEST_F(RocksDbEventLogTest, CorruptedTailHashFailsOpenWithDataLoss) {
  {
    auto log = OpenLog();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  }
  {
    RawStore raw(store_path_);
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    std::string value;
    ASSERT_TRUE(raw.db()
                    ->Get(rocksdb::ReadOptions(), raw.cf(RawStore::kLog),
                          LogKey(3), &value)
                    .ok());
    value[0] = static_cast<char>(value[0] ^ 0x01);
    ASSERT_TRUE(raw.db()
                    ->Put(rocksdb::WriteOptions(), raw.cf(RawStore::kLog),
                          LogKey(3), value)
                    .ok());
  }
  EXPECT_TRUE(StatusIs(RocksDbEventLog::Open(Options()).status(),
                       absl::StatusCode::kDataLoss, {"position 3"}));
}

TEST_F(RocksDbEventLogTest, MissingRecordInsideTheVerifiedTailFailsOpen) {
  {
    auto log = OpenLog();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  }
  {
    RawStore raw(store_path_);
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(
        raw.db()
            ->Delete(rocksdb::WriteOptions(), raw.cf(RawStore::kLog), LogKey(3))
            .ok());
  }
  EXPECT_TRUE(StatusIs(RocksDbEventLog::Open(Options()).status(),
                       absl::StatusCode::kDataLoss, {"position 3"}));
}

// The record before the verified tail is the tail's link to the chain: when
// it is missing the chain does not verify, which is DATA_LOSS (the contract of
// Open and VerifyChain), not UNAVAILABLE.
TEST_F(RocksDbEventLogTest, MissingRecordJustBeforeTheVerifiedTailIsDataLoss) {
  {
    auto log = OpenLog();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  }
  {
    RawStore raw(store_path_);
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(
        raw.db()
            ->Delete(rocksdb::WriteOptions(), raw.cf(RawStore::kLog), LogKey(3))
            .ok());
  }
  RocksDbEventLogOptions options = Options();
  options.verify_tail_records = 2;  // Verifies 4..5, linking to 3.
  EXPECT_TRUE(StatusIs(RocksDbEventLog::Open(options).status(),
                       absl::StatusCode::kDataLoss, {"position 3"}));
}

TEST_F(RocksDbEventLogTest, VerifyChainReportsAMissingRecordAsDataLoss) {
  {
    auto log = OpenLog();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  }
  {
    RawStore raw(store_path_);
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(
        raw.db()
            ->Delete(rocksdb::WriteOptions(), raw.cf(RawStore::kLog), LogKey(3))
            .ok());
  }
  RocksDbEventLogOptions options = Options();
  options.verify_tail_records = 1;  // Verifies 5, linking to 4: opens.
  auto log = OpenLog(options);
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(StatusIs(log->VerifyChain(1, 0), absl::StatusCode::kDataLoss,
                       {"position 3"}));
  EXPECT_TRUE(log->VerifyChain(5, 5).ok());
  // From 4 the check needs the hash of 3, which is missing.
  EXPECT_TRUE(StatusIs(log->VerifyChain(4, 0), absl::StatusCode::kDataLoss,
                       {"position 3"}));
}

TEST_F(RocksDbEventLogTest, ReadOfAStreamWhoseLogRecordIsMissingIsDataLoss) {
  {
    auto log = OpenLog();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  }
  {
    RawStore raw(store_path_);
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(
        raw.db()
            ->Delete(rocksdb::WriteOptions(), raw.cf(RawStore::kLog), LogKey(2))
            .ok());
  }
  RocksDbEventLogOptions options = Options();
  options.verify_tail_records = 2;  // Verifies 4..5: opens.
  auto log = OpenLog(options);
  ASSERT_NE(log, nullptr);
  // The stream index still points at position 2.
  EXPECT_TRUE(StatusIs(log->ReadStream("s", {}).status(),
                       absl::StatusCode::kDataLoss, {"position 2"}));
}

// --- Bad input. ---

TEST_F(RocksDbEventLogTest, InvalidAppendsAreRefusedAndWriteNothing) {
  auto log = OpenLog();
  std::vector<AppendRequest> bad;
  bad.push_back(OneEvent(""));
  bad.push_back(OneEvent("bad stream"));
  bad.push_back(OneEvent(std::string("nul\0byte", 8)));
  bad.push_back(Request("s", ExpectedVersion::Any(), {}));
  {
    AppendRequest r = OneEvent("s");
    r.events[0].set_event_id("not-a-uuid");
    bad.push_back(std::move(r));
  }
  {
    AppendRequest r = OneEvent("s");
    r.events[0].clear_payload();
    bad.push_back(std::move(r));
  }
  {
    AppendRequest r = OneEvent("s");
    r.events[0].mutable_payload()->mutable_opaque()->set_type("opaque");
    bad.push_back(std::move(r));
  }
  {
    AppendRequest r = OneEvent("s");
    r.expected.kind = static_cast<ExpectedVersion::Kind>(99);
    bad.push_back(std::move(r));
  }
  {
    AppendRequest r = OneEvent("s");
    r.conditions.push_back({"s", ExpectedVersion::Any()});
    bad.push_back(std::move(r));
  }
  {
    AppendRequest r = OneEvent("s");
    r.events.push_back(r.events[0]);
    bad.push_back(std::move(r));
  }
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_TRUE(StatusIs(AppendAsyncAndWait(*log, std::move(bad[i])),
                         absl::StatusCode::kInvalidArgument))
        << "request " << i;
  }
  EXPECT_EQ(log->GetHead().position, 0u);
  absl::StatusOr<LogSlice> all = log->ReadAll(1, 0, {});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->events.empty());
}

TEST_F(RocksDbEventLogTest, ConfiguredLimitsApplyToAppends) {
  RocksDbEventLogOptions options = Options();
  options.limits.max_events_per_append = 2;
  auto log = OpenLog(options);
  EXPECT_TRUE(StatusIs(log->Append(Request("s", ExpectedVersion::Any(),
                                           {OpaqueEvent("1"), OpaqueEvent("2"),
                                            OpaqueEvent("3")}))
                           .status(),
                       absl::StatusCode::kInvalidArgument, {"events"}));
  EXPECT_EQ(log->GetHead().position, 0u);
}

// --- Reading. ---

class RocksDbEventLogReadTest : public RocksDbEventLogTest {
 protected:
  // Ten events on "s" (versions 1..10) interleaved with events on other
  // streams, so that positions and versions differ.
  void SetUp() override {
    log_ = OpenLog();
    ASSERT_NE(log_, nullptr);
    for (int v = 1; v <= 10; ++v) {
      ASSERT_TRUE(log_->Append(OneEvent("s", ExpectedVersion::Any(),
                                        absl::StrCat("s", v)))
                      .ok());
      ASSERT_TRUE(
          log_->Append(OneEvent(v % 2 ? "orders-1" : "orders-2",
                                ExpectedVersion::Any(), absl::StrCat("o", v)))
              .ok());
    }
  }

  static std::vector<uint64_t> Versions(const StreamSlice& slice) {
    std::vector<uint64_t> out;
    for (const auto& e : slice.events) out.push_back(e.stream_version());
    return out;
  }
  static std::vector<uint64_t> Positions(const LogSlice& slice) {
    std::vector<uint64_t> out;
    for (const auto& e : slice.events) out.push_back(e.position());
    return out;
  }

  StreamSlice Read(uint64_t from, bool backwards, uint32_t limit) {
    ReadStreamOptions options;
    options.from_version = from;
    options.backwards = backwards;
    options.limit = limit;
    absl::StatusOr<StreamSlice> slice = log_->ReadStream("s", options);
    EXPECT_TRUE(slice.ok()) << slice.status();
    return slice.ok() ? *std::move(slice) : StreamSlice();
  }

  std::unique_ptr<RocksDbEventLog> log_;
};

TEST_F(RocksDbEventLogReadTest, ReadStreamForwardsPagesWithNextVersion) {
  StreamSlice page = Read(0, false, 4);
  EXPECT_EQ(Versions(page), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(page.stream_version, 10u);
  EXPECT_EQ(page.next_version, 5u);
  EXPECT_EQ(page.events[0].payload().opaque().data(), "s1");
  EXPECT_EQ(page.events[0].position(), 1u);
  EXPECT_EQ(page.events[1].position(), 3u);

  page = Read(5, false, 4);
  EXPECT_EQ(Versions(page), (std::vector<uint64_t>{5, 6, 7, 8}));
  EXPECT_EQ(page.next_version, 9u);

  page = Read(9, false, 4);
  EXPECT_EQ(Versions(page), (std::vector<uint64_t>{9, 10}));
  EXPECT_EQ(page.next_version, 0u);

  page = Read(7, false, 4);  // Ends exactly at the last version.
  EXPECT_EQ(Versions(page), (std::vector<uint64_t>{7, 8, 9, 10}));
  EXPECT_EQ(page.next_version, 0u);

  page = Read(11, false, 4);
  EXPECT_TRUE(page.events.empty());
  EXPECT_EQ(page.stream_version, 10u);
  EXPECT_EQ(page.next_version, 0u);
}

TEST_F(RocksDbEventLogReadTest, ReadStreamBackwardsPagesWithNextVersion) {
  StreamSlice page = Read(0, true, 4);
  EXPECT_EQ(Versions(page), (std::vector<uint64_t>{10, 9, 8, 7}));
  EXPECT_EQ(page.stream_version, 10u);
  EXPECT_EQ(page.next_version, 6u);

  page = Read(6, true, 4);
  EXPECT_EQ(Versions(page), (std::vector<uint64_t>{6, 5, 4, 3}));
  EXPECT_EQ(page.next_version, 2u);

  page = Read(2, true, 4);
  EXPECT_EQ(Versions(page), (std::vector<uint64_t>{2, 1}));
  EXPECT_EQ(page.next_version, 0u);

  page = Read(100, true, 2);  // Past the end: from the last version.
  EXPECT_EQ(Versions(page), (std::vector<uint64_t>{10, 9}));
  EXPECT_EQ(page.next_version, 8u);
}

TEST_F(RocksDbEventLogReadTest, ReadStreamLimitZeroReadsUpToTheMaximum) {
  StreamSlice page = Read(0, false, 0);
  EXPECT_EQ(page.events.size(), 10u);
  EXPECT_EQ(page.next_version, 0u);
}

TEST_F(RocksDbEventLogReadTest, ReadStreamLimitIsClampedToMaxReadLimit) {
  log_->Close();
  log_.reset();
  RocksDbEventLogOptions options = Options();
  options.limits.max_read_limit = 3;
  log_ = OpenLog(options);
  ASSERT_NE(log_, nullptr);
  StreamSlice page = Read(0, false, 100);
  EXPECT_EQ(Versions(page), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(page.next_version, 4u);
  absl::StatusOr<LogSlice> all = log_->ReadAll(1, 0, {});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(Positions(*all), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_FALSE(all->reached_end);
}

TEST_F(RocksDbEventLogReadTest, ReadStreamOfMissingStreamIsNotFound) {
  EXPECT_TRUE(StatusIs(log_->ReadStream("missing", {}).status(),
                       absl::StatusCode::kNotFound, {"missing"}));
  // A stream whose id is a prefix of existing streams' ids.
  EXPECT_TRUE(StatusIs(log_->ReadStream("orders", {}).status(),
                       absl::StatusCode::kNotFound));
  EXPECT_TRUE(StatusIs(log_->ReadStream("bad id", {}).status(),
                       absl::StatusCode::kInvalidArgument));
}

TEST_F(RocksDbEventLogReadTest, ReadAllPagesWithLimitAndNextPosition) {
  absl::StatusOr<LogSlice> page = log_->ReadAll(0, 7, {});
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Positions(*page), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(page->next_position, 8u);
  EXPECT_FALSE(page->reached_end);

  page = log_->ReadAll(8, 7, {});
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->events.front().position(), 8u);
  EXPECT_EQ(page->next_position, 15u);

  page = log_->ReadAll(15, 7, {});
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Positions(*page), (std::vector<uint64_t>{15, 16, 17, 18, 19, 20}));
  EXPECT_EQ(page->next_position, 21u);
  EXPECT_TRUE(page->reached_end);

  page = log_->ReadAll(21, 7, {});
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->events.empty());
  EXPECT_EQ(page->next_position, 21u);
  EXPECT_TRUE(page->reached_end);
}

TEST_F(RocksDbEventLogReadTest, ReadAllFiltersByStreamPrefix) {
  LogFilter filter;
  filter.stream_prefix = "orders-";
  absl::StatusOr<LogSlice> page = log_->ReadAll(1, 0, filter);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->events.size(), 10u);
  for (size_t i = 0; i < page->events.size(); ++i) {
    EXPECT_EQ(page->events[i].position(), 2 * (i + 1));
  }
  EXPECT_TRUE(page->reached_end);

  // With a limit, next_position follows the last record examined.
  page = log_->ReadAll(1, 3, filter);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Positions(*page), (std::vector<uint64_t>{2, 4, 6}));
  EXPECT_EQ(page->next_position, 7u);
  EXPECT_FALSE(page->reached_end);
}

TEST_F(RocksDbEventLogReadTest, ReadAllFiltersByEventType) {
  ASSERT_TRUE(log_->Append(Request("s", ExpectedVersion::Any(),
                                   {OpaqueEvent("x", "test.special"),
                                    OpaqueEvent("y", "test.other"),
                                    OpaqueEvent("z", "test.special")}))
                  .ok());
  ASSERT_TRUE(log_->Append(Request("orders-1", ExpectedVersion::Any(),
                                   {OpaqueEvent("w", "test.special")}))
                  .ok());
  LogFilter filter;
  filter.event_types = {"test.special", "test.missing"};
  absl::StatusOr<LogSlice> page = log_->ReadAll(1, 0, filter);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Positions(*page), (std::vector<uint64_t>{21, 23, 24}));

  filter.stream_prefix = "s";
  page = log_->ReadAll(1, 0, filter);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Positions(*page), (std::vector<uint64_t>{21, 23}));
  EXPECT_EQ(page->next_position, 25u);
  EXPECT_TRUE(page->reached_end);
}

TEST_F(RocksDbEventLogReadTest, FilteredReadAllStopsAtTheScanLimitAndResumes) {
  log_->Close();
  log_.reset();
  RocksDbEventLogOptions options = Options();
  options.limits.max_read_scan = 4;
  log_ = OpenLog(options);
  ASSERT_NE(log_, nullptr);
  LogFilter filter;
  filter.event_types = {"test.never"};
  absl::StatusOr<LogSlice> page = log_->ReadAll(1, 0, filter);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->events.empty());
  EXPECT_EQ(page->next_position, 5u);
  EXPECT_FALSE(page->reached_end);

  // A follower keeps scanning past the limit.
  ASSERT_TRUE(log_->Append(Request("late", ExpectedVersion::Any(),
                                   {OpaqueEvent("x", "test.late")}))
                  .ok());
  LogFilter late;
  late.event_types = {"test.late"};
  LogFollower follower(log_.get(), 1, late);
  absl::StatusOr<std::vector<v1::RecordedEvent>> batch =
      follower.Next(kFailureTimeout);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ((*batch)[0].position(), 21u);
  EXPECT_EQ(follower.next_position(), 22u);
}

// --- Following and watching. ---

TEST_F(RocksDbEventLogTest, FollowerSeesEveryEventOnceWhileAppendsContinue) {
  constexpr size_t kEvents = 2000;
  constexpr size_t kBackfill = 500;
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);

  // The whole plan up front, so that each follower knows what it must see:
  // appends of 1..3 events, alternating between "sub-a" and "sub-b".
  std::vector<AppendRequest> plan;
  std::vector<std::string> sent_ids;
  std::vector<std::string> sent_a_ids;
  for (int i = 0; sent_ids.size() < kEvents; ++i) {
    const size_t n = std::min<size_t>(1 + i % 3, kEvents - sent_ids.size());
    const std::string stream = i % 2 == 0 ? "sub-a" : "sub-b";
    std::vector<v1::ProposedEvent> events;
    for (size_t k = 0; k < n; ++k) {
      events.push_back(OpaqueEvent(absl::StrCat(i, ":", k)));
      sent_ids.push_back(events.back().event_id());
      if (stream == "sub-a") sent_a_ids.push_back(sent_ids.back());
    }
    plan.push_back(Request(stream, ExpectedVersion::Any(), std::move(events)));
  }

  // Reads until it has `count` events (or fails).
  auto follow = [&log](LogFilter filter, size_t count,
                       std::vector<v1::RecordedEvent>* out) {
    LogFollower follower(log.get(), 0, std::move(filter), 64);
    while (out->size() < count) {
      absl::StatusOr<std::vector<v1::RecordedEvent>> batch =
          follower.Next(kFailureTimeout);
      if (!batch.ok()) {
        ADD_FAILURE() << "follower: " << batch.status();
        return;
      }
      if (batch->empty()) {
        ADD_FAILURE() << "follower timed out after " << out->size()
                      << " events";
        return;
      }
      for (auto& e : *batch) out->push_back(std::move(e));
    }
  };

  std::vector<v1::RecordedEvent> seen;
  std::vector<v1::RecordedEvent> seen_a;
  LogFilter only_a;
  only_a.stream_prefix = "sub-a";
  // The first kBackfill events exist before the followers start, so they
  // catch up from storage in full batches before following live appends.
  size_t next_request = 0;
  for (size_t backfilled = 0; backfilled < kBackfill; ++next_request) {
    backfilled += plan[next_request].events.size();
    ASSERT_TRUE(log->Append(plan[next_request]).ok());
  }
  std::thread follower_all(follow, LogFilter(), kEvents, &seen);
  std::thread follower_a(follow, only_a, sent_a_ids.size(), &seen_a);
  std::thread writer([&] {
    for (size_t i = next_request; i < plan.size(); ++i) {
      absl::StatusOr<AppendResult> r = log->Append(std::move(plan[i]));
      if (!r.ok()) {
        ADD_FAILURE() << "writer: " << r.status();
        return;
      }
    }
  });
  writer.join();
  follower_all.join();
  follower_a.join();

  ASSERT_EQ(seen.size(), kEvents);
  for (size_t i = 0; i < seen.size(); ++i) {
    ASSERT_EQ(seen[i].position(), i + 1);
    ASSERT_EQ(seen[i].event_id(), sent_ids[i]) << "position " << i + 1;
  }
  ASSERT_EQ(seen_a.size(), sent_a_ids.size());
  for (size_t i = 0; i < seen_a.size(); ++i) {
    ASSERT_EQ(seen_a[i].event_id(), sent_a_ids[i]);
    ASSERT_EQ(seen_a[i].stream(), "sub-a");
    if (i > 0) {
      ASSERT_GT(seen_a[i].position(), seen_a[i - 1].position());
    }
  }
}

TEST_F(RocksDbEventLogTest, FollowerFromAPositionStartsThereAndPagesInOrder) {
  auto log = OpenLog();
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(log->Append(OneEvent(i % 3 == 0 ? "x-1" : "y-1")).ok());
  }
  LogFollower follower(log.get(), 11, LogFilter(), /*batch_size=*/4);
  std::vector<uint64_t> positions;
  while (positions.size() < 20) {
    absl::StatusOr<std::vector<v1::RecordedEvent>> batch =
        follower.Next(kFailureTimeout);
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_FALSE(batch->empty()) << "timed out after " << positions.size();
    EXPECT_LE(batch->size(), 4u);
    for (const auto& e : *batch) positions.push_back(e.position());
  }
  for (size_t i = 0; i < positions.size(); ++i) {
    EXPECT_EQ(positions[i], 11 + i);
  }
  EXPECT_EQ(follower.next_position(), 31u);

  // Filtered: only the matching events, in order.
  LogFilter filter;
  filter.stream_prefix = "x-";
  LogFollower filtered(log.get(), 0, filter, 4);
  std::vector<uint64_t> x_positions;
  while (x_positions.size() < 10) {
    absl::StatusOr<std::vector<v1::RecordedEvent>> batch =
        filtered.Next(kFailureTimeout);
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_FALSE(batch->empty()) << "timed out after " << x_positions.size();
    for (const auto& e : *batch) x_positions.push_back(e.position());
  }
  for (size_t i = 0; i < x_positions.size(); ++i) {
    EXPECT_EQ(x_positions[i], 1 + 3 * i);
  }
}

TEST_F(RocksDbEventLogTest, CaughtUpFollowerReturnsEmptyBatchAfterTimeout) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  LogFollower follower(log.get(), 0, LogFilter());
  absl::StatusOr<std::vector<v1::RecordedEvent>> batch =
      follower.Next(kFailureTimeout);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 1u);
  batch = follower.Next(absl::Milliseconds(20));
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_TRUE(batch->empty());
  EXPECT_EQ(follower.next_position(), 2u);
  // The cancelled watch does not linger: the next append is seen.
  ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  batch = follower.Next(kFailureTimeout);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ((*batch)[0].position(), 2u);
}

TEST_F(RocksDbEventLogTest, FollowerReturnsUnavailableAfterClose) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  LogFollower follower(log.get(), 2, LogFilter());
  log->Close();
  EXPECT_TRUE(StatusIs(follower.Next(kFailureTimeout).status(),
                       absl::StatusCode::kUnavailable));
}

TEST_F(RocksDbEventLogTest, CloseWakesAWaitingFollowerWithUnavailable) {
  auto log = OpenLog();
  absl::Notification about_to_wait;
  absl::Status result;
  std::thread waiter([&] {
    LogFollower follower(log.get(), 0, LogFilter());
    about_to_wait.Notify();
    result = follower.Next(absl::Seconds(30)).status();
  });
  about_to_wait.WaitForNotification();
  const absl::Time start = absl::Now();
  log->Close();
  waiter.join();
  EXPECT_TRUE(StatusIs(result, absl::StatusCode::kUnavailable));
  // Woken by Close, not by its own 30 s timeout.
  EXPECT_LT(absl::Now() - start, kFailureTimeout);
}

TEST_F(RocksDbEventLogTest, WatchHeadFiresImmediatelyWhenHeadIsAlreadyPast) {
  auto log = OpenLog();
  bool fired_at_zero = false;
  EXPECT_EQ(log->WatchHead(0, [&] { fired_at_zero = true; }), 0u);
  EXPECT_TRUE(fired_at_zero);
  ASSERT_TRUE(log->Append(Request("s", ExpectedVersion::Any(),
                                  {OpaqueEvent("1"), OpaqueEvent("2"),
                                   OpaqueEvent("3")}))
                  .ok());
  for (uint64_t position : {1u, 3u}) {
    bool fired = false;
    EXPECT_EQ(log->WatchHead(position, [&] { fired = true; }), 0u);
    EXPECT_TRUE(fired) << position;
  }
}

TEST_F(RocksDbEventLogTest, WatchHeadFiresWhenTheHeadReachesThePosition) {
  auto log = OpenLog();
  absl::Notification fired;
  const uint64_t id = log->WatchHead(2, [&] { fired.Notify(); });
  EXPECT_NE(id, 0u);
  ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  EXPECT_FALSE(fired.HasBeenNotified());  // Head 1 < 2.
  ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  EXPECT_TRUE(fired.WaitForNotificationWithTimeout(kFailureTimeout));
  EXPECT_FALSE(log->CancelWatch(id));  // Already fired.
}

TEST_F(RocksDbEventLogTest, CancelWatchDropsAPendingWatch) {
  auto log = OpenLog();
  std::atomic<int> cancelled_fired{0};
  absl::Notification other_fired;
  const uint64_t id = log->WatchHead(1, [&] { ++cancelled_fired; });
  const uint64_t other = log->WatchHead(1, [&] { other_fired.Notify(); });
  ASSERT_NE(id, 0u);
  ASSERT_NE(other, 0u);
  EXPECT_NE(id, other);
  EXPECT_TRUE(log->CancelWatch(id));
  EXPECT_FALSE(log->CancelWatch(id));  // Only once.
  ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  EXPECT_TRUE(other_fired.WaitForNotificationWithTimeout(kFailureTimeout));
  log->Close();
  EXPECT_EQ(cancelled_fired.load(), 0);
}

TEST_F(RocksDbEventLogTest, CloseFiresPendingWatches) {
  auto log = OpenLog();
  absl::Notification fired;
  ASSERT_NE(log->WatchHead(5, [&] { fired.Notify(); }), 0u);
  log->Close();
  EXPECT_TRUE(fired.HasBeenNotified());
  // Watches after Close fire at once.
  bool late = false;
  EXPECT_EQ(log->WatchHead(100, [&] { late = true; }), 0u);
  EXPECT_TRUE(late);
}

// --- Durability and closing. ---

TEST_F(RocksDbEventLogTest, DefaultSyncedWritesSurviveReopen) {
  RocksDbEventLogOptions options;
  options.path = store_path_;
  options.clock = &clock_;
  ASSERT_TRUE(options.sync);  // The default.
  std::string id;
  {
    absl::StatusOr<std::unique_ptr<RocksDbEventLog>> log =
        RocksDbEventLog::Open(options);
    ASSERT_TRUE(log.ok()) << log.status();
    AppendRequest request = OneEvent("durable", ExpectedVersion::NoStream());
    id = request.events[0].event_id();
    ASSERT_TRUE((*log)->Append(std::move(request)).ok());
    (*log)->Close();
  }
  absl::StatusOr<std::unique_ptr<RocksDbEventLog>> log =
      RocksDbEventLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();
  absl::StatusOr<StreamSlice> slice = (*log)->ReadStream("durable", {});
  ASSERT_TRUE(slice.ok()) << slice.status();
  ASSERT_EQ(slice->events.size(), 1u);
  EXPECT_EQ(slice->events[0].event_id(), id);
  EXPECT_EQ((*log)->GetHead().position, 1u);
}

TEST_F(RocksDbEventLogTest, AppendsAndReadsAfterCloseAreUnavailable) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(OneEvent("s")).ok());
  log->Close();
  log->Close();  // Idempotent.
  // AppendAsyncAndWait rather than Append: a broken log that queues the
  // append would make Append block for ever.
  EXPECT_TRUE(StatusIs(AppendAsyncAndWait(*log, OneEvent("s")),
                       absl::StatusCode::kUnavailable, {"closed"}));
  EXPECT_TRUE(StatusIs(
      AppendAsyncAndWait(*log, OneEvent("t", ExpectedVersion::NoStream())),
      absl::StatusCode::kUnavailable));
  EXPECT_TRUE(StatusIs(log->ReadAll(1, 0, {}).status(),
                       absl::StatusCode::kUnavailable));
  EXPECT_TRUE(StatusIs(log->ReadStream("s", {}).status(),
                       absl::StatusCode::kUnavailable));
  EXPECT_TRUE(StatusIs(log->VerifyChain(1, 0), absl::StatusCode::kUnavailable));
  EXPECT_EQ(log->GetHead().position, 1u);
}

TEST_F(RocksDbEventLogTest, CloseFinishesQueuedAppends) {
  auto log = OpenLog();
  constexpr int kAppends = 50;
  std::atomic<int> ok{0};
  std::atomic<int> answered{0};
  for (int i = 0; i < kAppends; ++i) {
    log->AppendAsync(OneEvent("s"), [&](absl::StatusOr<AppendResult> r) {
      if (r.ok()) ++ok;
      ++answered;
    });
  }
  log->Close();
  // Every append queued before Close was answered, and written.
  EXPECT_EQ(answered.load(), kAppends);
  EXPECT_EQ(ok.load(), kAppends);
  EXPECT_EQ(log->GetHead().position, static_cast<uint64_t>(kAppends));
}

}  // namespace
}  // namespace ycr::storage
