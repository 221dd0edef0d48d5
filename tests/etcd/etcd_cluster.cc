#include "tests/etcd/etcd_cluster.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "replication/etcd_client.h"

namespace ycr::testing {
namespace {

// A port the kernel had free a moment ago.
absl::StatusOr<int> FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool ok =
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  if (!ok) return absl::InternalError("no free port on 127.0.0.1");
  return ntohs(addr.sin_port);
}

std::string Url(int port, bool tls = false) {
  return absl::StrCat(tls ? "https" : "http", "://127.0.0.1:", port);
}

}  // namespace

std::optional<std::string> FindEtcd() {
  if (const char* given = std::getenv("YCR_ETCD_BINARY");
      given != nullptr && *given != '\0') {
    if (access(given, X_OK) == 0) return std::string(given);
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path == nullptr ? "/usr/bin:/bin" : path, ':')) {
    const std::string candidate = absl::StrCat(dir, "/etcd");
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(
    const std::string& etcd, Options options) {
  if (options.members < 1) {
    return absl::InvalidArgumentError("members: at least 1");
  }
  std::string root =
      (std::filesystem::temp_directory_path() /
       absl::StrCat("ycr-etcd-", getpid(), "-", std::random_device{}()))
          .string();
  std::unique_ptr<EtcdCluster> cluster(
      new EtcdCluster(etcd, options, std::move(root)));
  if (!options.tls_dir.empty()) {
    const std::string stem =
        absl::StrCat(options.tls_dir, "/clients/", options.client);
    replication::EtcdTls& tls = cluster->client_tls_;
    ASSIGN_OR_RETURN(tls.ca_pem, ReadFile(options.tls_dir + "/ca.crt"));
    ASSIGN_OR_RETURN(tls.cert_pem, ReadFile(stem + ".crt"));
    ASSIGN_OR_RETURN(tls.key_pem, ReadFile(stem + ".key"));
  }
  absl::Status started;
  for (int attempt = 0; attempt < 3; ++attempt) {
    started = cluster->StartAll();
    if (started.ok()) return cluster;
    cluster->KillAll();
  }
  return started;
}

absl::Status EtcdCluster::StartAll() {
  std::filesystem::remove_all(root_);
  std::filesystem::create_directories(root_);
  token_ = absl::StrCat("ycr-test-", std::random_device{}());
  members_.assign(options_.members, Member{});
  for (int i = 0; i < options_.members; ++i) {
    Member& m = members_[i];
    m.name = absl::StrCat("m", i);
    ASSIGN_OR_RETURN(m.client_port, FreePort());
    ASSIGN_OR_RETURN(m.peer_port, FreePort());
    m.data_dir = absl::StrCat(root_, "/", m.name);
  }
  for (int i = 0; i < size(); ++i) RETURN_IF_ERROR(Spawn(i));
  const absl::Time deadline = absl::Now() + options_.start_timeout;
  for (int i = 0; i < size(); ++i) {
    RETURN_IF_ERROR(WaitReady(i, deadline - absl::Now()));
  }
  return absl::OkStatus();
}

absl::Status EtcdCluster::Spawn(int i) {
  Member& m = members_[i];
  const bool tls = !options_.tls_dir.empty();
  std::vector<std::string> peers;
  for (const Member& p : members_) {
    peers.push_back(absl::StrCat(p.name, "=", Url(p.peer_port)));
  }
  std::vector<std::string> args = {
      etcd_,
      "--name=" + m.name,
      "--data-dir=" + m.data_dir,
      "--listen-client-urls=" + Url(m.client_port, tls),
      "--advertise-client-urls=" + Url(m.client_port, tls),
      "--listen-peer-urls=" + Url(m.peer_port),
      "--initial-advertise-peer-urls=" + Url(m.peer_port),
      "--initial-cluster=" + absl::StrJoin(peers, ","),
      "--initial-cluster-state=new",
      "--initial-cluster-token=" + token_,
      "--logger=zap",
      "--log-outputs=stderr"};
  if (tls) {
    const std::string& dir = options_.tls_dir;
    args.insert(args.end(),
                {"--cert-file=" + dir + "/server.crt",
                 "--key-file=" + dir + "/server.key", "--client-cert-auth",
                 "--trusted-ca-file=" + dir + "/ca.crt"});
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = LogPath(i);
  const int log_fd =
      open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return absl::InternalError("cannot open " + log);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log_fd);
  if (pid < 0) return absl::InternalError("fork failed");
  m.pid = pid;
  return absl::OkStatus();
}

absl::Status EtcdCluster::WaitReady(int i, absl::Duration timeout) {
  replication::EtcdClientOptions options;
  options.endpoints = {ClientEndpoint(i)};
  options.call_timeout = absl::Milliseconds(500);
  options.tls = client_tls_;
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last;
  while (true) {
    int status = 0;
    if (members_[i].pid > 0 && waitpid(members_[i].pid, &status, WNOHANG) > 0) {
      members_[i].pid = -1;
      return absl::UnavailableError(absl::StrCat(
          "etcd member ", i, " exited while starting; see ", LogPath(i)));
    }
    // A new client each time: etcd accepts connections before it serves
    // them, and a connection made then waits long for etcd's first frame.
    ASSIGN_OR_RETURN(std::unique_ptr<replication::EtcdClient> client,
                     replication::EtcdClient::Create(options));
    last = client->CurrentRevision().status();
    if (last.ok()) return absl::OkStatus();
    if (absl::Now() >= deadline) break;
    // A bounded poll: etcd has no readiness signal of its own to wait on.
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "etcd member ", i, " not ready within ", absl::FormatDuration(timeout),
      ": ", last.message(), "; see ", LogPath(i)));
}

EtcdCluster::~EtcdCluster() {
  KillAll();
  std::error_code ignored;
  std::filesystem::remove_all(root_, ignored);
}

void EtcdCluster::KillAll() {
  for (int i = 0; i < size(); ++i) Kill(i).IgnoreError();
}

std::string EtcdCluster::ClientEndpoint(int i) const {
  return absl::StrCat("127.0.0.1:", members_[i].client_port);
}

std::vector<std::string> EtcdCluster::ClientEndpoints() const {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i) out.push_back(ClientEndpoint(i));
  return out;
}

std::string EtcdCluster::LogPath(int i) const {
  return absl::StrCat(root_, "/m", i, ".log");
}

absl::Status EtcdCluster::Kill(int i) {
  Member& m = members_[i];
  if (m.pid <= 0) return absl::FailedPreconditionError("member not running");
  kill(m.pid, SIGCONT);  // A paused member dies as well.
  kill(m.pid, SIGKILL);
  waitpid(m.pid, nullptr, 0);
  m.pid = -1;
  return absl::OkStatus();
}

namespace {

// Whether every thread of `pid` is stopped (state T or t in its stat).
bool AllThreadsStopped(pid_t pid) {
  std::error_code ec;
  bool any = false;
  for (const auto& task : std::filesystem::directory_iterator(
           absl::StrCat("/proc/", pid, "/task"), ec)) {
    absl::StatusOr<std::string> read =
        ycr::ReadFile((task.path() / "stat").string());
    if (!read.ok()) continue;  // The thread exited.
    const std::string& stat = *read;
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
    const char state = stat[paren + 2];
    if (state != 'T' && state != 't') return false;
    any = true;
  }
  return any && !ec;
}

}  // namespace

absl::Status EtcdCluster::Pause(int i) {
  if (members_[i].pid <= 0 || kill(members_[i].pid, SIGSTOP) != 0) {
    return absl::FailedPreconditionError("member not running");
  }
  // SIGSTOP takes effect asynchronously: until every thread has stopped, a
  // request sent after Pause returned could still be answered.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!AllThreadsStopped(members_[i].pid)) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError("the member did not stop");
    }
    std::this_thread::yield();
  }
  return absl::OkStatus();
}

absl::Status EtcdCluster::Resume(int i) {
  if (members_[i].pid <= 0 || kill(members_[i].pid, SIGCONT) != 0) {
    return absl::FailedPreconditionError("member not running");
  }
  return absl::OkStatus();
}

absl::StatusOr<int> EtcdCluster::Leader(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    std::vector<uint64_t> ids(size(), 0);
    uint64_t leader = 0;
    for (int i = 0; i < size(); ++i) {
      if (members_[i].pid <= 0) continue;
      auto client = replication::EtcdClient::Create(
          {.endpoints = {ClientEndpoint(i)},
           .call_timeout = absl::Milliseconds(500),
           .tls = client_tls_});
      if (!client.ok()) return client.status();
      auto status = (*client)->MemberStatus();
      if (!status.ok()) continue;
      ids[i] = status->header().member_id();
      if (status->leader() != 0) leader = status->leader();
    }
    for (int i = 0; i < size(); ++i) {
      if (leader != 0 && ids[i] == leader) return i;
    }
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError("no etcd leader among the members");
}

absl::Status EtcdCluster::Restart(int i) {
  if (members_[i].pid > 0) {
    return absl::FailedPreconditionError("member still running");
  }
  RETURN_IF_ERROR(Spawn(i));
  return WaitReady(i, options_.start_timeout);
}

}  // namespace ycr::testing
