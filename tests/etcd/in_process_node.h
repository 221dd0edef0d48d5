#pragma once

// A ycr server in the test's own process as a node of a cluster: its
// ServerOptions::open_cluster_log, opening a ReplicatedEventLog with the
// given options (the store's options and a cluster key filled in).

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "replication/replicated_event_log.h"
#include "services/server.h"
#include "storage/replicated_commit.h"
#include "tests/integration/test_server.h"

namespace ycr::testing {

// One node: its data, its server, its log (set when the log opens) and a
// channel to it.
struct InProcessNode {
  TempDir dir;
  std::unique_ptr<services::Server> server;
  replication::ReplicatedEventLog* log = nullptr;
  std::shared_ptr<grpc::Channel> channel;
};

// `base` without its store; `*opened` (must outlive the server) is set to
// the log once it is open. The cluster key: kClusterKekBytes of `kek_byte`.
inline auto OpenInProcessClusterLog(replication::ReplicatedEventLogOptions base,
                                    replication::ReplicatedEventLog** opened,
                                    char kek_byte) {
  return [base = std::move(base), opened, kek_byte](
             storage::RocksDbEventLogOptions store,
             storage::RocksDbEventLog** local,
             storage::ClusterNode** cluster_node)
             -> absl::StatusOr<std::unique_ptr<storage::EventLog>> {
    replication::ReplicatedEventLogOptions cluster = base;
    cluster.log = std::move(store);
    cluster.log.cluster_kek = std::string(storage::kClusterKekBytes, kek_byte);
    auto log = replication::ReplicatedEventLog::Open(std::move(cluster));
    if (!log.ok()) return log.status();
    *opened = log->get();
    *local = &(*log)->local();
    *cluster_node = log->get();
    return std::unique_ptr<storage::EventLog>(std::move(*log));
  };
}

// Starts `node`'s server with `options` (plain text) and opens a channel
// to it.
inline absl::Status StartInProcessNode(services::ServerOptions options,
                                       InProcessNode* node) {
  absl::StatusOr<std::unique_ptr<services::Server>> server =
      services::Server::Start(std::move(options));
  if (!server.ok()) return server.status();
  node->server = *std::move(server);
  node->channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", node->server->port()),
                          grpc::InsecureChannelCredentials());
  return absl::OkStatus();
}

// The index in `logs` of the one that leads, polled until `within` has
// passed; -1 when none did.
inline int AwaitLeader(
    const std::vector<replication::ReplicatedEventLog*>& logs,
    absl::Duration within) {
  const absl::Time deadline = absl::Now() + within;
  do {
    for (size_t i = 0; i < logs.size(); ++i) {
      if (logs[i]->leading()) return static_cast<int>(i);
    }
    absl::SleepFor(absl::Milliseconds(20));  // A poll with a deadline.
  } while (absl::Now() < deadline);
  return -1;
}

}  // namespace ycr::testing
