// A full disk seen through the real gRPC server: appends get
// RESOURCE_EXHAUSTED and are not acknowledged, reads go on, the write path's
// health (kWritesHealthService) says NOT_SERVING, and once space returns the
// client's retry with the same event id lands once, without a restart.

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/server.h"
#include "tests/integration/test_server.h"
#include "tests/unit/fault_fs.h"

namespace ycr::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using test::FaultFileSystem;

void AsOperator(grpc::ClientContext* context) {
  AsCaller(context, "ops", "operator-1", services::kAdminRole);
}

class DiskFaultTest : public ::testing::Test {
 protected:
  services::ServerOptions Options() {
    services::ServerOptions options;
    options.log.file_system = fs_;
    // Resuming is driven by the client's appends here.
    options.log.resume_interval = absl::Hours(1);
    return options;
  }

  grpc::Status Append(const v1::AppendRequest& request,
                      v1::AppendResponse* response) {
    grpc::ClientContext context;
    AsOperator(&context);
    return server_.stub().Append(&context, request, response);
  }

  // The health of `service` ("" for the server), or the call's error.
  absl::StatusOr<HealthCheckResponse::ServingStatus> CheckHealth(
      const std::string& service) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::Status status = health_->Check(&context, request, &response);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          status.error_message());
    }
    return response.status();
  }

  std::shared_ptr<FaultFileSystem> fs_ = std::make_shared<FaultFileSystem>();
  TempDir dir_;
  TestServer server_{dir_.path(), Options()};
  std::unique_ptr<Health::Stub> health_ = Health::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server_.server().port()),
      grpc::InsecureChannelCredentials()));
};

TEST_F(DiskFaultTest, FullDiskRefusesAppendsKeepsReadsAndRecovers) {
  v1::AppendResponse response;
  ASSERT_TRUE(Append(AppendOne("ops-notes-1", "first"), &response).ok());
  EXPECT_EQ(CheckHealth(services::kWritesHealthService).value(),
            HealthCheckResponse::SERVING);
  // A single node leads itself (ycr.v1.leader, for a cluster's load
  // balancer), full disk or not.
  EXPECT_EQ(CheckHealth(services::kLeaderHealthService).value(),
            HealthCheckResponse::SERVING);

  fs_->Fail(FaultFileSystem::Mode::kFailWrites, /*no_space=*/true);
  const v1::AppendRequest second = AppendOne("ops-notes-1", "second");
  grpc::Status refused = Append(second, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << refused.error_message();
  EXPECT_NE(refused.error_message().find("same event ids"), std::string::npos)
      << refused.error_message();
  EXPECT_FALSE(server_.server().WriteState().ok());

  // The write path is NOT_SERVING; the server, and reads, go on.
  EXPECT_EQ(CheckHealth(services::kWritesHealthService).value(),
            HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(CheckHealth("").value(), HealthCheckResponse::SERVING);
  EXPECT_EQ(CheckHealth(services::kLeaderHealthService).value(),
            HealthCheckResponse::SERVING);
  {
    grpc::ClientContext context;
    AsCaller(&context, "auditor-1", "reader-1", services::kAuditorRole);
    v1::ReadStreamRequest read;
    read.set_stream("ops-notes-1");
    v1::ReadStreamResponse events;
    grpc::Status status = server_.stub().ReadStream(&context, read, &events);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(events.events_size(), 1);
  }

  // Space returns: the retry lands once and the write path serves again.
  fs_->Heal();
  grpc::Status retried = Append(second, &response);
  ASSERT_TRUE(retried.ok()) << retried.error_message();
  EXPECT_EQ(response.first_position(), 2u);
  ASSERT_TRUE(Append(second, &response).ok());
  EXPECT_EQ(response.first_position(), 2u);
  EXPECT_EQ(CheckHealth(services::kWritesHealthService).value(),
            HealthCheckResponse::SERVING);
  EXPECT_TRUE(server_.server().log().VerifyChain(1, 0).ok());
  EXPECT_EQ(server_.server().log().GetHead().position, 2u);
}

}  // namespace
}  // namespace ycr::testing
