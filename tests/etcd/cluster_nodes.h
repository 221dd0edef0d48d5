#pragma once

// 3 ycr-server processes (ycr-server --replication) on a suite's etcd
// cluster of 3 members on loopback, and what the tests of such a cluster
// share: raw appends with their own event ids, reading a node's whole log.

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/tlog_checkpointer.h"
#include "tests/etcd/etcd_suite.h"
#include "tests/etcd/free_port.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_server.h"
#include "tests/unit/test_util.h"

namespace ycr::testing {

constexpr int kNodes = 3;

struct Attempt {
  v1::AppendRequest request;
  bool acknowledged = false;
  uint64_t first_position = 0;
};

inline grpc::Status Append(const std::string& address,
                           const v1::AppendRequest& request,
                           v1::AppendResponse* response,
                           absl::Duration deadline = absl::Seconds(10)) {
  auto stub = v1::EventStore::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  AsCaller(&context, "ops", "writer", "admin");
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  return stub->Append(&context, request, response);
}

inline v1::AppendRequest NewAppend(const std::string& stream, int events) {
  v1::AppendRequest request;
  request.set_stream(stream);
  request.mutable_expected()->set_kind(v1::ExpectedVersion::ANY);
  for (int i = 0; i < events; ++i) *request.add_events() = NoteEvent("load");
  return request;
}

// Every event of the node at `address`.
inline std::vector<v1::RecordedEvent> ReadEverything(
    const std::string& address) {
  auto stub = v1::EventStore::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  std::vector<v1::RecordedEvent> events;
  uint64_t from = 1;
  while (true) {
    grpc::ClientContext context;
    AsCaller(&context, "failover-auditor", "reader", "auditor");
    v1::ReadAllRequest request;
    request.set_from_position(from);
    request.set_limit(1000);
    v1::ReadAllResponse response;
    grpc::Status status = stub->ReadAll(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) return events;
    for (const auto& e : response.events()) events.push_back(e);
    if (response.events().empty()) return events;
    from = response.next_position();
  }
}

// SERVING (true) or not, for grpc.health.v1 `service` on the node at
// `address`.
inline bool Serving(const std::string& address, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  return status.ok() &&
         response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

// 3 ycr-server processes on this suite's etcd cluster, and helpers.
class ClusterTest : public EtcdSuite<3> {
 protected:
  // Starts nodes 0..count-1, each with `extra` flags and its own data
  // directory under root_ (node<i>).
  void StartNodes(int count = kNodes,
                  const std::vector<std::string>& extra = {}) {
    for (int i = 0; i < count; ++i) {
      StartNode(i, absl::StrCat(root_.path(), "/node", i), extra);
    }
  }

  // Starts node `i` (its address in addresses_[i], its process in
  // nodes_[i]) on `data_dir`; on the address it had, when `keep_address`
  // (a restart).
  void StartNode(int i, const std::string& data_dir,
                 const std::vector<std::string>& extra = {},
                 bool keep_address = false) {
    const std::string kek = root_.path() + "/cluster.kek";
    if (!std::filesystem::exists(kek)) {
      ASSERT_TRUE(WritePrivateFile(kek, std::string(64, 'a') + "\n").ok());
    }
    // One signer for the cluster (every node the same --tlog_key).
    const std::string tlog_key = root_.path() + "/cluster-tlog.key";
    if (!std::filesystem::exists(tlog_key)) {
      ASSERT_TRUE(
          services::WriteNewSignerKey(tlog_key, "localhost/ycr/test-cluster")
              .ok());
    }
    if (addresses_.size() <= static_cast<size_t>(i)) {
      addresses_.resize(i + 1);
      nodes_.resize(i + 1);
    }
    const std::string address =
        keep_address ? addresses_[i] : absl::StrCat("127.0.0.1:", FreePort());
    addresses_[i] = address;
    std::vector<std::string> flags = {"--listen=" + address,
                                      "--advertise=" + address,
                                      absl::StrCat("--node_id=node", i),
                                      "--replication=" + EtcdFlag(),
                                      "--replication_insecure",
                                      "--cluster_kek=" + kek,
                                      "--tlog_key=" + tlog_key,
                                      "--replication_lease_seconds=3"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    nodes_[i] =
        std::make_unique<ServerProcess>(YCR_SERVER_BINARY, data_dir, flags);
    ASSERT_GT(nodes_[i]->port(), 0);
  }

  std::string EtcdFlag() const {
    return absl::StrCat("etcd://",
                        absl::StrJoin(cluster_->ClientEndpoints(), ","));
  }

  // The node that takes `request` first, trying every node but `skip`
  // until `within` has passed; -1 if none did.
  int TakesWrites(const v1::AppendRequest& request, absl::Duration within,
                  int skip = -1) {
    const absl::Time deadline = absl::Now() + within;
    while (absl::Now() < deadline) {
      for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
        if (i == skip || nodes_[i] == nullptr || nodes_[i]->pid() < 0) {
          continue;
        }
        v1::AppendResponse response;
        if (Append(addresses_[i], request, &response, absl::Seconds(2)).ok()) {
          return i;
        }
      }
    }
    return -1;
  }

  test::TempDir root_;
  std::vector<std::string> addresses_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
};

// How many times each event id is in `events`.
inline std::map<std::string, int> IdCounts(
    const std::vector<v1::RecordedEvent>& events) {
  std::map<std::string, int> counts;
  for (const auto& e : events) ++counts[e.event_id()];
  return counts;
}

}  // namespace ycr::testing
