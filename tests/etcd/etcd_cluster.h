#pragma once

// Real etcd members on 127.0.0.1 for the replication tests: 1 or 3 members
// with their data in a temporary folder, on free ports, each a child process
// that dies with the test (PR_SET_PDEATHSIG). Ready means every member
// answers a linearizable read (a bounded poll). Members can be killed with
// SIGKILL, paused with SIGSTOP, resumed and restarted on their data.

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "replication/etcd_client.h"

namespace ycr::testing {

// The etcd binary on PATH (or $YCR_ETCD_BINARY); nullopt when there is none.
std::optional<std::string> FindEtcd();

class EtcdCluster {
 public:
  struct Options {
    int members = 3;
    // How long starting (or restarting) may take before it fails.
    absl::Duration start_timeout = absl::Seconds(30);
    // A deploy/dev-ca.sh directory: the members serve their client port
    // over TLS with its server.crt and ask for client certificates signed
    // by its ca.crt (etcd --client-cert-auth); `client` names the client
    // certificate the cluster's own calls use (clients/<client>.crt).
    // Empty: plain text.
    std::string tls_dir{};
    std::string client = "ycr-cluster/ycr-node";
  };

  // Starts the members and waits until all are ready. Ports are picked free
  // by the kernel and may be taken by someone else before etcd binds them:
  // a member that exits while starting makes the whole start retry on new
  // ports (3 tries).
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(
      const std::string& etcd, Options options);
  // Kills every member and removes the data.
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int size() const { return static_cast<int>(members_.size()); }
  // host:port of member `i`'s client API, and of every member.
  std::string ClientEndpoint(int i) const;
  std::vector<std::string> ClientEndpoints() const;

  // SIGKILL, reaped.
  absl::Status Kill(int i);
  // SIGSTOP and SIGCONT.
  absl::Status Pause(int i);
  absl::Status Resume(int i);
  // Starts a killed member again on its data and ports; waits until it
  // answers.
  absl::Status Restart(int i);
  // Waits until member `i` answers a linearizable read (it has a leader
  // that a majority follows).
  absl::Status WaitReady(int i, absl::Duration timeout);
  // The member that is etcd's Raft leader now, as the running members see
  // it (a bounded poll while they elect one).
  absl::StatusOr<int> Leader(absl::Duration timeout);
  // The member's log file (etcd's own output), for failure messages.
  std::string LogPath(int i) const;
  // TLS for a client of the members (empty when they speak plain text).
  const replication::EtcdTls& client_tls() const { return client_tls_; }

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::string data_dir;
    pid_t pid = -1;
  };
  EtcdCluster(std::string etcd, Options options, std::string root)
      : etcd_(std::move(etcd)), options_(options), root_(std::move(root)) {}
  absl::Status StartAll();
  absl::Status Spawn(int i);
  void KillAll();

  std::string etcd_;
  Options options_;
  std::string root_;
  std::string token_;
  std::vector<Member> members_;
  replication::EtcdTls client_tls_;
};

}  // namespace ycr::testing
