// The access log: every read of a subject's personal data leaves one entry,
// written in batches (flushed here by hand or by the flush clock), and
// auditors list them per subject and per reader. A real server on
// 127.0.0.1:0 over a temporary store.

#include "services/security/access_log.h"

#include <algorithm>

#include "common/error_details.h"
#include "common/proto_time.h"
#include "domain/refusals.h"
#include "gtest/gtest.h"
#include "tests/integration/test_server.h"
#include "ycr/v1/access_log_service.grpc.pb.h"
#include "ycr/v1/queries_service.grpc.pb.h"
#include "ycr/v1/subject_service.grpc.pb.h"

namespace ycr::testing {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'780'000'000);

class AccessLogTest : public ::testing::Test {
 protected:
  AccessLogTest() { Start(); }

  // (Re)starts the server over dir_ with options_.
  void Start() {
    server_.reset();
    services::ServerOptions options;
    options.clock = &clock_;
    options.access_log = access_options_;
    options.access_log.flush_clock = &flush_clock_;
    server_ = std::make_unique<TestServer>(dir_.path(), std::move(options));
    channel_ = grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->server().port()),
        grpc::InsecureChannelCredentials());
    subjects_ = v1::Subjects::NewStub(channel_);
    audit_ = v1::Audit::NewStub(channel_);
    access_ = v1::AccessLog::NewStub(channel_);
  }

  services::AccessRecorder& recorder() {
    return *server_->server().access_recorder();
  }

  void PutRecord(const std::string& subject,
                 const std::string& holder = "school-100001") {
    v1::PutSubjectRecordRequest put;
    put.set_request_id(NewUuid());
    put.mutable_record()->set_subject_id(subject);
    put.mutable_record()->set_given_name("Given");
    put.mutable_record()->set_family_name("Family");
    put.mutable_record()->set_date_of_birth("2012-03-04");
    grpc::ClientContext context;
    AsCaller(&context, holder);
    v1::CommandResponse response;
    grpc::Status status = subjects_->PutRecord(&context, put, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  grpc::Status GetRecord(const std::string& subject,
                         const std::string& organisation = "school-100001",
                         const std::string& user = "dsl-1",
                         const std::string& purpose = "",
                         const std::string& role = "") {
    v1::GetSubjectRecordRequest request;
    request.set_subject_id(subject);
    grpc::ClientContext context;
    AsCaller(&context, organisation, user, role);
    if (!purpose.empty()) {
      context.AddMetadata(services::kPurposeMetadata, purpose);
    }
    v1::SubjectRecord response;
    return subjects_->GetRecord(&context, request, &response);
  }

  // Every entry of `subject`, as an auditor, page by page.
  std::vector<v1::AccessLogEntry> BySubject(const std::string& subject,
                                            uint32_t page_size = 0,
                                            int* pages = nullptr) {
    std::vector<v1::AccessLogEntry> all;
    v1::ListAccessBySubjectRequest request;
    request.set_subject_id(subject);
    request.set_page_size(page_size);
    int count = 0;
    do {
      grpc::ClientContext context;
      AsCaller(&context, "auditor-1", "auditor-a");
      v1::AccessLogPage page;
      grpc::Status status = access_->ListBySubject(&context, request, &page);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      ++count;
      all.insert(all.end(), page.entries().begin(), page.entries().end());
      request.set_page_token(page.next_page_token());
    } while (!request.page_token().empty());
    if (pages != nullptr) *pages = count;
    return all;
  }

  std::vector<v1::AccessLogEntry> ByReader(const std::string& organisation,
                                           const std::string& user,
                                           uint32_t page_size = 0) {
    std::vector<v1::AccessLogEntry> all;
    v1::ListAccessByReaderRequest request;
    request.set_reader_organisation(organisation);
    request.set_reader_user(user);
    request.set_page_size(page_size);
    do {
      grpc::ClientContext context;
      AsCaller(&context, "auditor-1", "auditor-a");
      v1::AccessLogPage page;
      grpc::Status status = access_->ListByReader(&context, request, &page);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      all.insert(all.end(), page.entries().begin(), page.entries().end());
      request.set_page_token(page.next_page_token());
    } while (!request.page_token().empty());
    return all;
  }

  uint64_t Written() {
    return server_->server()
        .metrics()
        .GetCounter("ycr_access_log_entries_written_total", "")
        ->value();
  }

  TempDir dir_;
  ManualClock clock_{kStart};
  ManualClock flush_clock_{kStart};
  services::AccessLogOptions access_options_ = [] {
    services::AccessLogOptions options;
    options.background = false;  // flushed by hand: Tick() and Flush()
    return options;
  }();
  std::unique_ptr<TestServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Subjects::Stub> subjects_;
  std::unique_ptr<v1::Audit::Stub> audit_;
  std::unique_ptr<v1::AccessLog::Stub> access_;
};

TEST_F(AccessLogTest, GetRecordWritesOneEntryWithTheReadersFields) {
  PutRecord("s-1");
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(GetRecord("s-1", "school-100001", "dsl-1", "review").ok());
  ASSERT_TRUE(recorder().Flush().ok());

  std::vector<v1::AccessLogEntry> entries = BySubject("s-1");
  ASSERT_EQ(entries.size(), 1u);
  const v1::AccessLogEntry& e = entries[0];
  EXPECT_EQ(FromProtoTime(e.at()), kStart + absl::Minutes(5));
  EXPECT_EQ(e.organisation(), "school-100001");
  EXPECT_EQ(e.user(), "dsl-1");
  EXPECT_EQ(e.role(), "school");
  EXPECT_EQ(e.subject_id(), "s-1");
  EXPECT_EQ(e.method(), "/ycr.v1.Subjects/GetRecord");
  EXPECT_EQ(e.view(), "subject_record");
  EXPECT_EQ(e.purpose(), "review");
  EXPECT_EQ(e.outcome(), "OK");
  EXPECT_EQ(Written(), 1u);
}

TEST_F(AccessLogTest, ReadRefusedByTheHolderRuleIsLoggedAsAnAttempt) {
  PutRecord("s-1");
  // Another school: the handler found the record and refused it.
  EXPECT_EQ(GetRecord("s-1", "school-200002", "clerk-9").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The policy table refuses an auditor before any record is looked up.
  EXPECT_EQ(GetRecord("s-1", "auditor-1", "auditor-a").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(recorder().Flush().ok());
  std::vector<v1::AccessLogEntry> entries = BySubject("s-1");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].organisation(), "school-200002");
  EXPECT_EQ(entries[0].outcome(), "PERMISSION_DENIED");
}

TEST_F(AccessLogTest, ReadsWithoutPersonalDataWriteNothing) {
  PutRecord("s-1");  // a command
  {
    grpc::ClientContext context;
    AsCaller(&context, "ops", "admin-1");
    v1::HeadResponse head;
    ASSERT_TRUE(server_->stub().Head(&context, {}, &head).ok());
  }
  {
    auto caseloads = v1::Caseloads::NewStub(channel_);
    grpc::ClientContext context;
    AsCaller(&context);
    v1::CaseloadCountsRequest request;
    request.set_organisation("school-100001");
    v1::CaseloadCounts counts;
    ASSERT_TRUE(caseloads->Counts(&context, request, &counts).ok());
  }
  BySubject("s-1");  // reading the access log is not logged either
  EXPECT_EQ(recorder().queued(), 0u);
  ASSERT_TRUE(recorder().Flush().ok());
  EXPECT_EQ(Written(), 0u);
}

TEST_F(AccessLogTest, TrailIsOneEntryPerCallWhateverItsPages) {
  PutRecord("s-1");
  PutRecord("s-1");  // a second revision: two trail entries
  v1::AuditTrailRequest request;
  request.set_subject_id("s-1");
  request.set_page_size(1);
  // Both revisions in the trail before it is read (read-your-writes).
  request.set_min_position(server_->server().log().GetHead().position);
  grpc::ClientContext context;
  AsCaller(&context, "auditor-1", "auditor-a");
  context.AddMetadata(services::kPurposeMetadata, "complaint");
  auto reader = audit_->Trail(&context, request);
  v1::AuditEntry entry;
  int read = 0;
  while (reader->Read(&entry)) ++read;
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_GE(read, 2);
  ASSERT_TRUE(recorder().Flush().ok());
  std::vector<v1::AccessLogEntry> entries = BySubject("s-1");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].view(), "audit_trail");
  EXPECT_EQ(entries[0].role(), "auditor");
  EXPECT_EQ(entries[0].purpose(), "complaint");
}

TEST_F(AccessLogTest, RawReadLogsEachSubjectWhosePersonalPartItReturns) {
  v1::AppendRequest append = AppendOne("ops-notes-1", "a");
  append.mutable_events(0)
      ->mutable_payload()
      ->mutable_personal()
      ->set_subject_id("s-7");
  *append.add_events() = NoteEvent("b");  // no personal part
  append.mutable_events(1)
      ->mutable_payload()
      ->mutable_personal()
      ->set_subject_id("s-8");
  *append.add_events() = NoteEvent("c");
  append.mutable_events(2)
      ->mutable_payload()
      ->mutable_personal()
      ->set_subject_id("s-7");
  *append.add_events() = NoteEvent("d");
  {
    grpc::ClientContext context;
    AsCaller(&context, "ops", "admin-1");
    v1::AppendResponse response;
    ASSERT_TRUE(server_->stub().Append(&context, append, &response).ok());
  }
  grpc::ClientContext context;
  AsCaller(&context, "auditor-1", "auditor-a");
  v1::ReadAllRequest request;
  request.set_from_position(1);
  v1::ReadAllResponse response;
  ASSERT_TRUE(server_->stub().ReadAll(&context, request, &response).ok());
  ASSERT_EQ(response.events_size(), 4);
  ASSERT_TRUE(recorder().Flush().ok());
  ASSERT_EQ(BySubject("s-7").size(), 1u);
  ASSERT_EQ(BySubject("s-8").size(), 1u);
  EXPECT_EQ(BySubject("s-7")[0].view(), "raw_events");
  EXPECT_EQ(Written(), 2u);
}

TEST_F(AccessLogTest, PerSubjectAndPerReaderListingsAreInTimeOrderAndPage) {
  PutRecord("s-1");
  PutRecord("s-2");
  // Five reads, a minute apart, by two users of the school.
  const std::vector<std::pair<std::string, std::string>> reads = {
      {"s-1", "dsl-1"},
      {"s-2", "dsl-1"},
      {"s-1", "dsl-2"},
      {"s-1", "dsl-1"},
      {"s-2", "dsl-2"}};
  for (const auto& [subject, user] : reads) {
    clock_.Advance(absl::Minutes(1));
    ASSERT_TRUE(GetRecord(subject, "school-100001", user).ok());
  }
  ASSERT_TRUE(recorder().Flush().ok());

  int pages = 0;
  std::vector<v1::AccessLogEntry> s1 = BySubject("s-1", 2, &pages);
  ASSERT_EQ(s1.size(), 3u);
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(s1[0].user(), "dsl-1");
  EXPECT_EQ(s1[1].user(), "dsl-2");
  EXPECT_EQ(s1[2].user(), "dsl-1");
  for (size_t i = 1; i < s1.size(); ++i) {
    EXPECT_LT(FromProtoTime(s1[i - 1].at()), FromProtoTime(s1[i].at()));
  }

  std::vector<v1::AccessLogEntry> dsl1 = ByReader("school-100001", "dsl-1", 1);
  ASSERT_EQ(dsl1.size(), 3u);
  EXPECT_EQ(dsl1[0].subject_id(), "s-1");
  EXPECT_EQ(dsl1[1].subject_id(), "s-2");
  EXPECT_EQ(dsl1[2].subject_id(), "s-1");
  EXPECT_EQ(FromProtoTime(dsl1[2].at()), kStart + absl::Minutes(4));
  EXPECT_EQ(ByReader("school-100001", "dsl-2").size(), 2u);
  EXPECT_TRUE(ByReader("school-100001", "dsl").empty());

  // A time range: [minute 2, minute 4) holds reads 2 and 3.
  v1::ListAccessByReaderRequest ranged;
  ranged.set_reader_organisation("school-100001");
  ranged.set_reader_user("dsl-1");
  *ranged.mutable_range()->mutable_from() =
      ToProtoTime(kStart + absl::Minutes(2));
  *ranged.mutable_range()->mutable_to() =
      ToProtoTime(kStart + absl::Minutes(4));
  grpc::ClientContext context;
  AsCaller(&context, "auditor-1", "auditor-a");
  v1::AccessLogPage page;
  ASSERT_TRUE(access_->ListByReader(&context, ranged, &page).ok());
  ASSERT_EQ(page.entries_size(), 1);
  EXPECT_EQ(page.entries(0).subject_id(), "s-2");
}

TEST_F(AccessLogTest, OnlyAuditorsMayListIt) {
  for (const char* org : {"school-100001", "service-7", "la-1", "ops"}) {
    grpc::ClientContext context;
    AsCaller(&context, org, "someone");
    v1::ListAccessBySubjectRequest request;
    request.set_subject_id("s-1");
    v1::AccessLogPage page;
    EXPECT_EQ(access_->ListBySubject(&context, request, &page).error_code(),
              grpc::StatusCode::PERMISSION_DENIED)
        << org;
  }
}

TEST_F(AccessLogTest, MalformedPurposeIsRefused) {
  PutRecord("s-1");
  grpc::Status status =
      GetRecord("s-1", "school-100001", "dsl-1",
                std::string(services::kMaxPurposeBytes + 1, 'x'));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("x-ycr-purpose"), std::string::npos);
  EXPECT_EQ(recorder().queued(), 0u);
}

// The purpose is a code (issue 14): free text, which the access log would
// keep in plain for auditors, is refused naming the metadata key and the
// codes, and nothing is read or logged.
TEST_F(AccessLogTest, FreeTextPurposeIsRefused) {
  PutRecord("s-1");
  for (const std::string& text :
       {std::string("annual review of mother, who has a terminal diagnosis"),
        std::string("complaint 42"), std::string("Review"),
        std::string("review ")}) {
    grpc::Status status = GetRecord("s-1", "school-100001", "dsl-1", text);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << text;
    EXPECT_NE(status.error_message().find(
                  "x-ycr-purpose: must be one of case-work, review, "
                  "safeguarding, subject-access, audit, complaint, legal, "
                  "data-quality"),
              std::string::npos)
        << status.error_message();
    int code = 0;
    std::string message;
    ErrorDetails details;
    ASSERT_TRUE(
        ParseRpcStatus(status.error_details(), &code, &message, &details));
    EXPECT_EQ(details.reason, reason::kFieldInvalid);
    ASSERT_EQ(details.field_violations.size(), 1u);
    EXPECT_EQ(details.field_violations[0].field, "x-ycr-purpose");
  }
  EXPECT_EQ(recorder().queued(), 0u);
  for (const std::string& code : domain::AccessPurposeCodes()) {
    EXPECT_TRUE(GetRecord("s-1", "school-100001", "dsl-1", code).ok()) << code;
  }
}

TEST_F(AccessLogTest, FlushedEntriesSurviveARestart) {
  PutRecord("s-1");
  ASSERT_TRUE(GetRecord("s-1").ok());
  ASSERT_TRUE(recorder().Flush().ok());
  clock_.Advance(absl::Seconds(1));
  // Queued, not flushed: the graceful shutdown writes it.
  ASSERT_TRUE(GetRecord("s-1", "school-100001", "dsl-2").ok());
  ASSERT_EQ(recorder().queued(), 1u);
  Start();
  std::vector<v1::AccessLogEntry> entries = BySubject("s-1");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].user(), "dsl-1");
  EXPECT_EQ(entries[1].user(), "dsl-2");
  // Sequence numbers go on after a restart: a read at the same instant as
  // before is a new entry, not an overwrite.
  clock_.Set(kStart);
  ASSERT_TRUE(GetRecord("s-1").ok());
  ASSERT_TRUE(recorder().Flush().ok());
  entries = BySubject("s-1");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_LT(entries[0].sequence(), entries[1].sequence());
  EXPECT_NE(entries[0].sequence(), entries[2].sequence());
}

TEST_F(AccessLogTest, TickFlushesOnceTheIntervalHasPassed) {
  PutRecord("s-1");
  ASSERT_TRUE(GetRecord("s-1").ok());
  flush_clock_.Advance(absl::Milliseconds(999));
  ASSERT_TRUE(recorder().Tick().ok());
  EXPECT_EQ(recorder().queued(), 1u);
  EXPECT_TRUE(BySubject("s-1").empty());
  flush_clock_.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(recorder().Tick().ok());
  EXPECT_EQ(recorder().queued(), 0u);
  EXPECT_EQ(BySubject("s-1").size(), 1u);
}

TEST_F(AccessLogTest, BackgroundWriterFlushesWhenTheFlushClockSaysItIsDue) {
  access_options_.background = true;
  Start();
  PutRecord("s-1");
  ASSERT_TRUE(GetRecord("s-1").ok());
  // The flush clock has not moved: the writer polls but holds the entry.
  EXPECT_FALSE(recorder().AwaitWritten(1, absl::Milliseconds(600)));
  flush_clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(recorder().AwaitWritten(1, absl::Seconds(30)));
  EXPECT_EQ(BySubject("s-1").size(), 1u);
}

TEST_F(AccessLogTest, TickFlushesAtOnceWhenEnoughEntriesWait) {
  access_options_.flush_entries = 2;
  Start();
  PutRecord("s-1");
  ASSERT_TRUE(GetRecord("s-1").ok());
  ASSERT_TRUE(recorder().Tick().ok());
  EXPECT_EQ(recorder().queued(), 1u);
  ASSERT_TRUE(GetRecord("s-1").ok());
  ASSERT_TRUE(recorder().Tick().ok());
  EXPECT_EQ(recorder().queued(), 0u);
  EXPECT_EQ(BySubject("s-1").size(), 2u);
}

TEST_F(AccessLogTest, AFullQueueRefusesTheReadAndCountsIt) {
  access_options_.capacity = 2;
  Start();
  PutRecord("s-1");
  ASSERT_TRUE(GetRecord("s-1").ok());
  ASSERT_TRUE(GetRecord("s-1").ok());
  grpc::Status refused = GetRecord("s-1");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server_->server()
                .metrics()
                .GetCounter("ycr_access_log_refused_total", "")
                ->value(),
            1u);
  ASSERT_TRUE(recorder().Flush().ok());
  EXPECT_TRUE(GetRecord("s-1").ok());
  ASSERT_TRUE(recorder().Flush().ok());
  EXPECT_EQ(BySubject("s-1").size(), 3u);
}

TEST(AccessLogViewsTest, EveryViewHasAPolicyRow) {
  for (const services::PersonalDataView& view : services::PersonalDataViews()) {
    const auto& table = services::PolicyTable();
    EXPECT_TRUE(std::any_of(table.begin(), table.end(),
                            [&](const services::PolicyRow& row) {
                              return row.method == view.method;
                            }))
        << view.method;
  }
}

}  // namespace
}  // namespace ycr::testing
