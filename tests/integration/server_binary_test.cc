// The ycr-server binary as an operator runs it: --help, start on port 0,
// serve, SIGTERM drains and closes the store so that it reopens whole.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/rocksdb_event_log.h"
#include "tests/integration/test_server.h"

extern char** environ;

namespace ycr::testing {
namespace {

struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;  // The child's stdout.
};

Child Spawn(std::vector<std::string> args) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  Child child;
  EXPECT_EQ(
      posix_spawn(&child.pid, argv[0], &actions, nullptr, argv.data(), environ),
      0);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  child.out = fdopen(fds[0], "r");
  return child;
}

std::string ReadLine(FILE* f) {
  char buf[1024];
  if (fgets(buf, sizeof(buf), f) == nullptr) return "";
  return buf;
}

std::string ReadAll(FILE* f) {
  std::string all;
  for (std::string line = ReadLine(f); !line.empty(); line = ReadLine(f)) {
    all += line;
  }
  return all;
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

TEST(ServerBinaryTest, HelpListsFlagsAndExitsZero) {
  Child child = Spawn({YCR_SERVER_BINARY, "--help"});
  std::string text = ReadAll(child.out);
  fclose(child.out);
  EXPECT_EQ(Wait(child.pid), 0);
  EXPECT_NE(text.find("--listen"), std::string::npos) << text;
  EXPECT_NE(text.find("--data_dir"), std::string::npos) << text;
}

TEST(ServerBinaryTest, SigtermDrainsAndClosesTheStoreCleanly) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  Child child =
      Spawn({YCR_SERVER_BINARY, "--listen=127.0.0.1:0", "--data_dir=" + data});
  // The first line says where it listens; reading it is the readiness wait.
  std::string line = ReadLine(child.out);
  ASSERT_NE(line.find("listening on 127.0.0.1:"), std::string::npos) << line;
  int port = std::stoi(line.substr(line.find("127.0.0.1:") + 10));

  {
    // Closed before SIGTERM: an idle connection whose client does not poll
    // holds gRPC's shutdown for seconds, which is not what this tests.
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                       grpc::InsecureChannelCredentials());
    auto stub = v1::EventStore::NewStub(channel);
    for (int i = 0; i < 5; ++i) {
      grpc::ClientContext context;
      AsCaller(&context, "ops");
      v1::AppendResponse response;
      ASSERT_TRUE(
          stub->Append(&context, AppendOne("pupil-1", "x"), &response).ok());
    }
  }
  ASSERT_EQ(kill(child.pid, SIGTERM), 0);
  std::string rest = ReadAll(child.out);
  fclose(child.out);
  EXPECT_EQ(Wait(child.pid), 0);
  EXPECT_NE(rest.find("stopped"), std::string::npos) << rest;

  // Closed cleanly: the store reopens (its lock released) with every event.
  storage::RocksDbEventLogOptions options;
  options.path = data;
  auto log = storage::RocksDbEventLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->GetHead().position, 5u);
  EXPECT_TRUE((*log)->VerifyChain(1, 0).ok());
}

TEST(ServerBinaryTest, NonsenseLimitIsRefusedBeforeStarting) {
  TempDir dir;
  Child child = Spawn({YCR_SERVER_BINARY, "--listen=127.0.0.1:0",
                       "--data_dir=" + dir.path(), "--max_read_limit=0"});
  fclose(child.out);
  EXPECT_EQ(Wait(child.pid), 2);
}

TEST(ServerBinaryTest, UnusableDataDirectoryFailsWithMessage) {
  Child child = Spawn({YCR_SERVER_BINARY, "--listen=127.0.0.1:0",
                       "--data_dir=/proc/ycr-cannot-exist"});
  fclose(child.out);
  EXPECT_EQ(Wait(child.pid), 1);
}

}  // namespace
}  // namespace ycr::testing
