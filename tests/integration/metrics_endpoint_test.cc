// The metrics endpoint as Prometheus scrapes it: real HTTP (libcurl) against
// a real server on 127.0.0.1:0, after real appends.

#include <arpa/inet.h>
#include <grpcpp/generic/generic_stub.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/http_get.h"
#include "tests/integration/test_server.h"

namespace ycr::testing {
namespace {

class MetricsEndpointTest : public ::testing::Test {
 protected:
  MetricsEndpointTest() : server_(dir_.path(), WithMetrics()) {}

  static services::ServerOptions WithMetrics() {
    services::ServerOptions options;
    options.metrics_listen = "127.0.0.1:0";
    return options;
  }

  grpc::Status Append(const v1::AppendRequest& request) {
    grpc::ClientContext context;
    AsCaller(&context, "ops");
    v1::AppendResponse response;
    return server_.stub().Append(&context, request, &response);
  }

  std::string Url(const std::string& path) {
    return "http://127.0.0.1:" +
           std::to_string(server_.server().metrics_port()) + path;
  }

  TempDir dir_;
  TestServer server_;
};

TEST_F(MetricsEndpointTest, ScrapeCountsAppendsLatencyHeadLagAndCodes) {
  ASSERT_GT(server_.server().metrics_port(), 0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Append(AppendOne("ops-notes-1", "note")).ok());
  }
  // Stale expected version: refused by the writer, answered ABORTED.
  EXPECT_EQ(
      Append(AppendOne("ops-notes-1", "late", v1::ExpectedVersion::EXACT, 1))
          .error_code(),
      grpc::StatusCode::ABORTED);
  // Every projection has applied the head, so each lag is exactly 0.
  for (const char* name : {"audit_trail", "caseloads", "deadlines"}) {
    ASSERT_TRUE(server_.server()
                    .projections()
                    .Await(name, 3, absl::Now() + absl::Seconds(10))
                    .ok())
        << name;
  }

  HttpReply reply = Get(Url("/metrics"));
  ASSERT_EQ(reply.code, 200);
  EXPECT_EQ(reply.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const std::string& body = reply.body;
  for (const std::string line : {
           "# TYPE ycr_log_appends_total counter",
           "ycr_log_appends_total{outcome=\"ok\"} 3",
           "ycr_log_appends_total{outcome=\"error\"} 1",
           "ycr_log_events_appended_total 3",
           "# TYPE ycr_log_append_seconds histogram",
           "ycr_log_append_seconds_count 4",
           "ycr_log_append_seconds_bucket{le=\"+Inf\"} 4",
           "ycr_log_head_position 3",
           "# TYPE ycr_projection_lag_events gauge",
           "ycr_projection_lag_events{projection=\"audit_trail\"} 0",
           "ycr_projection_lag_events{projection=\"caseloads\"} 0",
           "ycr_projection_lag_events{projection=\"deadlines\"} 0",
           "ycr_grpc_server_handled_total{method=\"/ycr.v1.EventStore/"
           "Append\",code=\"OK\"} 3",
           "ycr_grpc_server_handled_total{method=\"/ycr.v1.EventStore/"
           "Append\",code=\"ABORTED\"} 1",
           "ycr_overdue_flags_total{result=\"recorded\"} 0",
           // Rebuild progress: the families, without samples while no
           // rebuild runs (ProjectionHostTest checks the values).
           "# TYPE ycr_projection_rebuild_applied_events gauge",
           "# TYPE ycr_projection_rebuild_total_events gauge",
           "# TYPE ycr_projection_rebuild_events_per_second gauge",
           "# TYPE ycr_projection_rebuild_eta_seconds gauge",
       }) {
    EXPECT_TRUE(HasLine(body, line)) << "missing: " << line << "\n" << body;
  }
  // Group commits: at least one, and never more than the appends.
  EXPECT_TRUE(absl::StrContains(body, "# TYPE ycr_log_commit_batch_appends"));
  EXPECT_TRUE(absl::StrContains(body, "ycr_log_sync_write_seconds_count "));
  EXPECT_FALSE(absl::StrContains(body, "ycr_projection_rebuild_eta_seconds{"));
}

// A call through the generic stub to any method name, with an empty
// request; its status.
grpc::Status CallByName(const std::shared_ptr<grpc::Channel>& channel,
                        const std::string& method) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  AsCaller(&context, "ops");
  // An empty message (every field absent).
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  return status;
}

// The method label is the server's, not the caller's: names it does not
// serve are counted together, so made-up names cannot grow the metrics.
TEST_F(MetricsEndpointTest, UnknownMethodsShareOneLabel) {
  auto channel = grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server_.server().port()),
      grpc::InsecureChannelCredentials());
  // Known: counted by name (a ycr RPC, and gRPC's health service).
  ASSERT_TRUE(CallByName(channel, "/ycr.v1.EventStore/Head").ok());
  ASSERT_TRUE(CallByName(channel, "/grpc.health.v1.Health/Check").ok());
  ASSERT_EQ(CallByName(channel, "/made.up.Service/Method-0").error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  const std::string before = Get(Url("/metrics")).body;
  EXPECT_TRUE(HasLine(before,
                      "ycr_grpc_server_handled_total{method=\"unknown\","
                      "code=\"UNIMPLEMENTED\"} 1"))
      << before;

  // 399 more made-up names, some like real ones.
  for (int i = 1; i < 400; ++i) {
    const std::string method =
        i % 2 == 0 ? absl::StrCat("/made.up.Service/Method-", i)
                   : absl::StrCat("/ycr.v1.EventStore/Append", i);
    ASSERT_EQ(CallByName(channel, method).error_code(),
              grpc::StatusCode::UNIMPLEMENTED)
        << method;
  }
  const std::string after = Get(Url("/metrics")).body;
  for (const std::string line : {
           "ycr_grpc_server_handled_total{method=\"unknown\","
           "code=\"UNIMPLEMENTED\"} 400",
           "ycr_grpc_server_handled_total{method=\"/ycr.v1.EventStore/"
           "Head\",code=\"OK\"} 1",
           "ycr_grpc_server_handled_total{method=\"/grpc.health.v1.Health/"
           "Check\",code=\"OK\"} 1",
       }) {
    EXPECT_TRUE(HasLine(after, line)) << "missing: " << line << "\n" << after;
  }
  EXPECT_FALSE(absl::StrContains(after, "made.up")) << after;
  EXPECT_FALSE(absl::StrContains(after, "Append1")) << after;
  // The same lines as after one such call; only counts changed ("1" to
  // "400": two more digits, plus whatever the gauges and latencies moved).
  EXPECT_EQ(std::count(after.begin(), after.end(), '\n'),
            std::count(before.begin(), before.end(), '\n'));
  EXPECT_LT(after.size(), before.size() + 256);
}

// The probe for orchestrators that cannot present a client certificate.
TEST_F(MetricsEndpointTest, HealthzIsServingUntilTheDrainBegins) {
  HttpReply reply = Get(Url("/healthz"));
  EXPECT_EQ(reply.code, 200);
  EXPECT_EQ(reply.body, "SERVING\n");
  server_.server().BeginDrain();
  reply = Get(Url("/healthz"));
  EXPECT_EQ(reply.code, 503);
  EXPECT_EQ(reply.body, "NOT_SERVING\n");
}

TEST_F(MetricsEndpointTest, OtherPathsAreNotFound) {
  EXPECT_EQ(Get(Url("/")).code, 404);
  EXPECT_EQ(Get(Url("/metrics/x")).code, 404);
}

TEST(MetricsEndpointStartTest, MalformedAddressFailsTheStart) {
  TempDir dir;
  services::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.security.insecure = true;
  options.log.path = dir.path();
  options.metrics_listen = "no-port-here";
  auto server = services::Server::Start(std::move(options));
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument)
      << server.status();
}

// A TCP connection to 127.0.0.1:`port` from the loopback address `source`
// (127.0.0.1, 127.0.0.2: two clients to the listener), whose reads give up
// after 10 s. -1 when it cannot connect.
int ConnectFrom(const char* source, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Whether the server closed `fd` (a read meets end of file) before the
// socket's 10 s read timeout.
bool ClosedByServer(int fd) {
  char byte;
  return recv(fd, &byte, 1, 0) == 0;
}

// GET /healthz on `fd`: the whole answer, or "" when the server closed
// the connection without one.
std::string Healthz(int fd) {
  const std::string request = "GET /healthz HTTP/1.0\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return "";
  }
  std::string answer;
  char buffer[4096];
  for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) {
    answer.append(buffer, static_cast<size_t>(n));
  }
  return answer;
}

// Slowloris: one address opening every connection the listener allows and
// sending nothing. Its sockets beyond its own limit are closed at accept,
// and another address is still answered.
TEST(HttpLimitsTest, OneAddressHoldingIdleSocketsLeavesRoomForOthers) {
  MetricRegistry registry;
  HttpLimits limits;
  limits.connections = 4;
  limits.per_ip = 2;
  limits.timeout_seconds = 60;  // Longer than the test: no idle closes.
  auto http = MetricsHttpServer::Start("127.0.0.1:0", &registry, nullptr,
                                       nullptr, limits);
  ASSERT_TRUE(http.ok()) << http.status();
  const int port = (*http)->port();
  std::vector<int> held;
  for (unsigned i = 0; i < limits.connections; ++i) {
    const int fd = ConnectFrom("127.0.0.1", port);
    ASSERT_GE(fd, 0) << strerror(errno);
    held.push_back(fd);
  }
  // The listener accepts in order: the first two are kept, the rest closed.
  for (size_t i = limits.per_ip; i < held.size(); ++i) {
    EXPECT_TRUE(ClosedByServer(held[i])) << "connection " << i;
  }
  const int other = ConnectFrom("127.0.0.2", port);
  ASSERT_GE(other, 0) << "cannot bind 127.0.0.2: " << strerror(errno);
  const std::string answer = Healthz(other);
  EXPECT_TRUE(absl::StartsWith(answer, "HTTP/1.1 200") ||
              absl::StartsWith(answer, "HTTP/1.0 200"))
      << answer;
  close(other);
  // The kept ones were really accepted: they are answered too.
  EXPECT_NE(Healthz(held[0]).find(" 200 "), std::string::npos);
  for (int fd : held) close(fd);
}

TEST(HttpLimitsTest, AnIdleConnectionIsClosedAfterTheTimeout) {
  MetricRegistry registry;
  HttpLimits limits;
  limits.timeout_seconds = 1;
  auto http = MetricsHttpServer::Start("127.0.0.1:0", &registry, nullptr,
                                       nullptr, limits);
  ASSERT_TRUE(http.ok()) << http.status();
  const int fd = ConnectFrom("127.0.0.1", (*http)->port());
  ASSERT_GE(fd, 0) << strerror(errno);
  const absl::Time start = absl::Now();
  // Before the socket's own 10 s read timeout.
  EXPECT_TRUE(ClosedByServer(fd));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  close(fd);
}

TEST(HttpLimitsTest, LimitsThatMakeNoSenseAreRefused) {
  MetricRegistry registry;
  for (HttpLimits limits :
       {HttpLimits{0, 0, 5}, HttpLimits{4, 8, 5}, HttpLimits{64, 8, 0}}) {
    auto http = MetricsHttpServer::Start("127.0.0.1:0", &registry, nullptr,
                                         nullptr, limits);
    EXPECT_EQ(http.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(http.status().message(), "per_ip"))
        << http.status();
  }
}

}  // namespace
}  // namespace ycr::testing
