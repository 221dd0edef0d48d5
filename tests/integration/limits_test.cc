// Limits against hostile or careless callers, through a real server: streams
// per caller, the largest request, field lengths and page sizes. An
// over-limit request is refused with a status naming the limit, nothing is
// written, and the server goes on serving.

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/domain_flows_fixture.h"
#include "tests/integration/test_server.h"
#include "ycr/v1/event_store.grpc.pb.h"
#include "ycr/v1/queries_service.grpc.pb.h"
#include "ycr/v1/subject_service.grpc.pb.h"

namespace ycr::testing {
namespace {

using grpc::StatusCode;

class LimitsTest : public ::testing::Test {
 protected:
  static services::ServerOptions Options() {
    services::ServerOptions options;
    options.max_streams_per_caller = 2;
    options.max_receive_message_bytes = 64 << 10;
    return options;
  }

  std::shared_ptr<grpc::Channel> Channel() {
    return grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_.server().port()),
        grpc::InsecureChannelCredentials());
  }

  // An open subscription of `user` (an auditor), past its first message.
  struct Open {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader;
  };
  std::unique_ptr<Open> Subscribe(const std::string& user,
                                  grpc::Status* refused) {
    auto open = std::make_unique<Open>();
    AsCaller(&open->context, "auditor-county", user);
    open->reader = stub_->Subscribe(&open->context, v1::SubscribeRequest());
    v1::SubscribeResponse first;
    if (open->reader->Read(&first)) return open;
    *refused = open->reader->Finish();
    return nullptr;
  }

  static void Close(std::unique_ptr<Open> open) {
    open->context.TryCancel();
    v1::SubscribeResponse ignored;
    while (open->reader->Read(&ignored)) {
    }
    (void)open->reader->Finish();
  }

  grpc::Status PutRecord(const v1::SubjectRecord& record) {
    grpc::ClientContext context;
    AsCaller(&context, "school-1");
    v1::PutSubjectRecordRequest request;
    request.set_request_id(NewUuid());
    *request.mutable_record() = record;
    v1::CommandResponse response;
    return v1::Subjects::NewStub(Channel())->PutRecord(&context, request,
                                                       &response);
  }

  uint64_t Head() { return server_.server().log().GetHead().position; }

  TempDir dir_;
  TestServer server_{dir_.path(), Options()};
  std::unique_ptr<v1::EventStore::Stub> stub_ =
      v1::EventStore::NewStub(Channel());
};

TEST_F(LimitsTest, ACallersOpenStreamsAreCapped) {
  grpc::Status refused;
  auto first = Subscribe("auditor-1", &refused);
  auto second = Subscribe("auditor-1", &refused);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(Subscribe("auditor-1", &refused), nullptr);
  EXPECT_EQ(refused.error_code(), StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("at most 2 streams"),
            std::string::npos)
      << refused.error_message();

  // The cap counts every kind of stream, per caller.
  grpc::ClientContext trail_context;
  AsCaller(&trail_context, "auditor-county", "auditor-1");
  v1::AuditTrailRequest trail;
  trail.set_subject_id("s-1");
  auto reader = v1::Audit::NewStub(Channel())->Trail(&trail_context, trail);
  v1::AuditEntry entry;
  EXPECT_FALSE(reader->Read(&entry));
  EXPECT_EQ(reader->Finish().error_code(), StatusCode::RESOURCE_EXHAUSTED);

  // Another caller is not affected.
  auto other = Subscribe("auditor-2", &refused);
  EXPECT_NE(other, nullptr) << refused.error_message();

  // A closed stream gives its slot back (once the server has seen it end).
  Close(std::move(first));
  std::unique_ptr<Open> again;
  for (absl::Time give_up = absl::Now() + absl::Seconds(20);
       again == nullptr && absl::Now() < give_up;) {
    again = Subscribe("auditor-1", &refused);
  }
  EXPECT_NE(again, nullptr) << refused.error_message();
  Close(std::move(second));
  Close(std::move(again));
  Close(std::move(other));
}

TEST_F(LimitsTest, AnOversizedRequestIsRefusedAndNothingIsWritten) {
  v1::SubjectRecord record = Record("s-1");
  record.set_given_name(std::string(100 << 10, 'x'));
  EXPECT_EQ(PutRecord(record).error_code(), StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Head(), 0u);
  EXPECT_TRUE(PutRecord(Record("s-1")).ok());
  EXPECT_EQ(Head(), 1u);
}

TEST_F(LimitsTest, AnOverlongFieldIsInvalidArgumentNamingIt) {
  v1::SubjectRecord record = Record("s-1");
  record.set_given_name(std::string(17 << 10, 'x'));
  grpc::Status status = PutRecord(record);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("record.given_name: at most"),
            std::string::npos)
      << status.error_message();
  record = Record(std::string(200, 's'));
  status = PutRecord(record);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("subject_id"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(Head(), 0u);
}

TEST_F(LimitsTest, APageOverTheMaximumIsInvalidArgument) {
  grpc::ClientContext context;
  AsCaller(&context, "auditor-county", "auditor-1");
  v1::ListDueRequest request;
  request.mutable_by()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  request.set_page_size(5000);
  v1::ListDeadlinesResponse response;
  grpc::Status status =
      v1::Deadlines::NewStub(Channel())->ListDue(&context, request, &response);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("page_size: at most 1000"),
            std::string::npos)
      << status.error_message();
}

}  // namespace
}  // namespace ycr::testing
