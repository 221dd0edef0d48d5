// The policy table, tested exhaustively against a real server: every RPC of
// ycr.v1 has a row (and every row an RPC); every RPC called as every role,
// and as a role no one has, is let through or refused exactly as its row
// says; every RPC without an identity is UNAUTHENTICATED.
//
// The requests are empty: the gate runs before any rule, so a role the row
// allows gets whatever the rules say of an empty request (usually
// INVALID_ARGUMENT), never the gate's PERMISSION_DENIED.

#include "services/security/access_policy.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "tests/integration/every_rpc.h"
#include "tests/integration/test_server.h"
#include "ycr/v1/event_store.pb.h"

namespace ycr::testing {
namespace {

using google::protobuf::MethodDescriptor;

// Calls `path` with an empty request as `role` (no identity when empty).
grpc::Status CallEmpty(const std::shared_ptr<grpc::Channel>& channel,
                       const std::string& path, const std::string& role) {
  return CallRaw(channel, path, "", "org-1", "u-1", role);
}

bool IsGateRefusal(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::PERMISSION_DENIED &&
         absl::StrContains(status.error_message(), "may not call");
}

TEST(AccessPolicyTest, EveryRpcHasExactlyOneRowAndEveryRowAnRpc) {
  std::set<std::string> rpcs;
  for (const MethodDescriptor* m : AllMethods()) rpcs.insert(Path(m));
  EXPECT_GE(rpcs.size(), 38u);
  std::set<std::string> rows;
  for (const services::PolicyRow& row : services::PolicyTable()) {
    EXPECT_TRUE(rows.insert(row.method).second) << "two rows: " << row.method;
    EXPECT_TRUE(rpcs.count(row.method)) << "a row for no RPC: " << row.method;
    EXPECT_FALSE(row.roles.empty()) << row.method;
    for (const std::string& role : row.roles) {
      const auto& roles = services::AllRoles();
      EXPECT_NE(std::find(roles.begin(), roles.end(), role), roles.end())
          << row.method << ": unknown role " << role;
    }
  }
  for (const std::string& rpc : rpcs) {
    EXPECT_TRUE(rows.count(rpc)) << "an RPC without a policy row: " << rpc;
  }
}

TEST(AccessPolicyTest, EveryRpcAsEveryRoleIsLetThroughExactlyAsItsRowSays) {
  TempDir dir;
  ManualClock clock(absl::FromUnixSeconds(1'780'000'000));
  services::ServerOptions options;
  options.testing_clock = &clock;  // Serves ycr.v1.Testing too.
  TestServer server(dir.path(), std::move(options));
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(server.server().port()),
                          grpc::InsecureChannelCredentials());
  std::vector<std::string> roles = services::AllRoles();
  roles.push_back("intruder");  // A role no row names.
  int calls = 0;
  for (const MethodDescriptor* m : AllMethods()) {
    const std::string path = Path(m);
    const services::PolicyRow* row = nullptr;
    for (const auto& r : services::PolicyTable()) {
      if (r.method == path) row = &r;
    }
    ASSERT_NE(row, nullptr) << path;
    for (const std::string& role : roles) {
      const bool allowed = std::find(row->roles.begin(), row->roles.end(),
                                     role) != row->roles.end();
      const grpc::Status status = CallEmpty(channel, path, role);
      ++calls;
      if (allowed) {
        EXPECT_FALSE(IsGateRefusal(status))
            << role << " calling " << path << ": " << status.error_message();
        EXPECT_NE(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
            << role << " calling " << path;
      } else {
        EXPECT_TRUE(IsGateRefusal(status))
            << role << " calling " << path << " got " << status.error_code()
            << ": " << status.error_message();
      }
    }
    const grpc::Status anonymous = CallEmpty(channel, path, "");
    EXPECT_EQ(anonymous.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << path << ": " << anonymous.error_message();
  }
  RecordProperty("calls", calls);
}

// A client cannot name the method itself: what it sends under the
// interceptor's key is replaced by the method actually called.
TEST(AccessPolicyTest, AClientCannotClaimAnotherMethod) {
  TempDir dir;
  TestServer server(dir.path());
  grpc::ClientContext context;
  AsCaller(&context, "org-1", "u-1", "school");
  context.AddMetadata(services::kMethodMetadata, "/ycr.v1.EventStore/Head");
  v1::AppendRequest request = AppendOne("ops-notes-1", "hello");
  v1::AppendResponse response;
  const grpc::Status status =
      server.stub().Append(&context, request, &response);
  EXPECT_TRUE(IsGateRefusal(status)) << status.error_message();
}

}  // namespace
}  // namespace ycr::testing
