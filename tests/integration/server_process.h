#pragma once

// A ycr-server binary running as a child process on 127.0.0.1:<port>, for
// the tests of the binaries (end to end, crash). It is ready once it has
// printed where it listens; it is stopped with SIGTERM (drain) or SIGKILL.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

extern char** environ;

namespace ycr::testing {

// A child process with its standard output on a pipe.
struct ChildProcess {
  pid_t pid = -1;
  FILE* out = nullptr;  // The child's stdout.
};

// Starts `args` (args[0] is the binary's path) with its stdout on a pipe.
inline ChildProcess SpawnWithStdout(std::vector<std::string> args) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ChildProcess child;
  EXPECT_EQ(
      posix_spawn(&child.pid, argv[0], &actions, nullptr, argv.data(), environ),
      0);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  child.out = fdopen(fds[0], "r");
  return child;
}

class ServerProcess {
 public:
  // Starts `binary --listen=127.0.0.1:0 --data_dir=data_dir extra...` and
  // waits for its "server.listening addr=127.0.0.1:PORT" log line. Plain
  // text (--insecure) unless `extra` gives TLS files (--tls_...).
  ServerProcess(const std::string& binary, const std::string& data_dir,
                const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {binary, "--listen=127.0.0.1:0",
                                     "--data_dir=" + data_dir};
    args.insert(args.end(), extra.begin(), extra.end());
    bool tls = false;
    for (const std::string& arg : extra)
      tls = tls || arg.rfind("--tls_", 0) == 0;
    if (!tls) args.push_back("--insecure");
    const ChildProcess child = SpawnWithStdout(std::move(args));
    pid_ = child.pid;
    out_ = child.out;
    // The "server.listening" line says where it listens: reading it is the
    // readiness wait (warnings, e.g. the testing clock's, come before it).
    char line[1024] = {0};
    constexpr char kListening[] = " server.listening addr=127.0.0.1:";
    while (port_ == 0 && fgets(line, sizeof(line), out_) != nullptr) {
      const std::string text = line;
      const size_t at = text.find(kListening);
      if (at != std::string::npos) {
        port_ = std::stoi(text.substr(at + sizeof(kListening) - 1));
      }
    }
    EXPECT_GT(port_, 0) << line;
    // From then on its output is read and dropped, so that a long-running
    // server never blocks on a full pipe when it logs.
    if (port_ > 0) {
      drain_ = std::thread([out = out_] {
        char buffer[4096];
        while (fgets(buffer, sizeof(buffer), out) != nullptr) {
        }
      });
    }
  }

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  ~ServerProcess() { Stop(SIGTERM); }

  // Sends `signal` and reaps the process; returns its wait status.
  int Stop(int signal) {
    int status = 0;
    if (pid_ > 0) {
      kill(pid_, signal);
      if (drain_.joinable()) {
        drain_.join();  // At the end of its output: it exited.
      } else {
        char buffer[4096];
        while (fgets(buffer, sizeof(buffer), out_) != nullptr) {
        }
      }
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    if (out_ != nullptr) {
      fclose(out_);
      out_ = nullptr;
    }
    return status;
  }

  int port() const { return port_; }
  // The process (e.g. to pause it with SIGSTOP); -1 once stopped.
  pid_t pid() const { return pid_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  int port_ = 0;
  std::thread drain_;
};

}  // namespace ycr::testing
