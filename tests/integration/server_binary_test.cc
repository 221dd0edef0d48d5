// The ycr-server binary as an operator runs it: --help, start on port 0,
// serve, SIGTERM drains and closes the store so that it reopens whole.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "storage/rocksdb_event_log.h"
#include "tests/integration/dev_ca.h"
#include "tests/integration/http_get.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_server.h"

namespace ycr::testing {
namespace {

using Child = ChildProcess;

// Starts `args`; a server that listens is plain text (--insecure) unless
// `args` say otherwise (--tls_... or --insecure already there) or
// `plain_text` is false.
Child Spawn(std::vector<std::string> args, bool plain_text = true) {
  bool listens = false, chosen = false;
  for (const std::string& a : args) {
    listens = listens || a.rfind("--listen", 0) == 0;
    chosen = chosen || a.rfind("--tls_", 0) == 0 || a == "--insecure";
  }
  if (plain_text && listens && !chosen) args.push_back("--insecure");
  return SpawnWithStdout(std::move(args));
}

std::string ReadLine(FILE* f) {
  char buf[1024];
  if (fgets(buf, sizeof(buf), f) == nullptr) return "";
  return buf;
}

// The first line containing `needle` (the lines before it are skipped), or
// "" at the end of the output.
std::string ReadUntil(FILE* f, const std::string& needle) {
  for (std::string line = ReadLine(f); !line.empty(); line = ReadLine(f)) {
    if (line.find(needle) != std::string::npos) return line;
  }
  return "";
}

std::string ReadAll(FILE* f) {
  std::string all;
  for (std::string line = ReadLine(f); !line.empty(); line = ReadLine(f)) {
    all += line;
  }
  return all;
}

// The gRPC port from the server's "server.listening" log line.
int ListeningPort(const std::string& line) {
  const size_t at = line.find("addr=127.0.0.1:");
  EXPECT_NE(at, std::string::npos) << line;
  return at == std::string::npos ? 0 : std::stoi(line.substr(at + 15));
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
  // Listed as a flag, not only named in the usage line.
  EXPECT_NE(text.find("--shutdown_grace_seconds"), std::string::npos) << text;
  EXPECT_NE(text.find("--metrics_listen"), std::string::npos) << text;
  EXPECT_NE(text.find("--tls_crl"), std::string::npos) << text;
  EXPECT_NE(text.find("--tlog_key"), std::string::npos) << text;
  EXPECT_NE(text.find("--tlog_listen"), std::string::npos) << text;
  EXPECT_NE(text.find("ycr-server keygen"), std::string::npos) << text;
}

TEST(ServerBinaryTest, SigtermDrainsAndClosesTheStoreCleanly) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  Child child =
      Spawn({YCR_SERVER_BINARY, "--listen=127.0.0.1:0", "--data_dir=" + data});
  // The first line says where it listens; reading it is the readiness wait.
  std::string line = ReadUntil(child.out, "server.listening");
  ASSERT_NE(line.find(" INFO server.listening "), std::string::npos) << line;
  int port = ListeningPort(line);

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
          stub->Append(&context, AppendOne("ops-notes-1", "x"), &response)
              .ok());
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

TEST(ServerBinaryTest, SigtermFlipsHealthFirstAndSecondSignalEndsTheDelay) {
  TempDir dir;
  Child child = Spawn({YCR_SERVER_BINARY, "--listen=127.0.0.1:0",
                       "--data_dir=" + dir.path() + "/data",
                       "--drain_delay_seconds=600"});
  std::string line = ReadUntil(child.out, "server.listening");
  ASSERT_NE(line.find(" INFO server.listening "), std::string::npos) << line;
  int port = ListeningPort(line);
  {
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                       grpc::InsecureChannelCredentials());
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext watch_context;
    auto watch =
        health->Watch(&watch_context, grpc::health::v1::HealthCheckRequest());
    grpc::health::v1::HealthCheckResponse seen;
    ASSERT_TRUE(watch->Read(&seen));
    EXPECT_EQ(seen.status(), grpc::health::v1::HealthCheckResponse::SERVING);

    ASSERT_EQ(kill(child.pid, SIGTERM), 0);
    ASSERT_TRUE(watch->Read(&seen));
    EXPECT_EQ(seen.status(),
              grpc::health::v1::HealthCheckResponse::NOT_SERVING);
    EXPECT_NE(ReadLine(child.out).find("server.draining"), std::string::npos);
    watch_context.TryCancel();
    watch->Finish().IgnoreError();

    // Within the drain delay, calls are still served.
    auto stub = v1::EventStore::NewStub(channel);
    grpc::ClientContext context;
    AsCaller(&context, "ops");
    v1::AppendResponse response;
    EXPECT_TRUE(
        stub->Append(&context, AppendOne("ops-notes-1", "x"), &response).ok());
  }
  // The second signal cuts the 600 s delay short.
  ASSERT_EQ(kill(child.pid, SIGTERM), 0);
  std::string rest = ReadAll(child.out);
  fclose(child.out);
  EXPECT_EQ(Wait(child.pid), 0);
  EXPECT_NE(rest.find("stopped"), std::string::npos) << rest;
}

TEST(ServerBinaryTest, MetricsEndpointOnPortZeroWritesItsPortFile) {
  TempDir dir;
  const std::string port_file = dir.path() + "/metrics.port";
  Child child = Spawn({YCR_SERVER_BINARY, "--listen=127.0.0.1:0",
                       "--data_dir=" + dir.path() + "/data",
                       "--metrics_listen=127.0.0.1:0",
                       "--metrics_port_file=" + port_file});
  std::string line = ReadUntil(child.out, "server.listening");
  ASSERT_NE(line.find("/metrics"), std::string::npos) << line;
  int port = 0;
  std::ifstream(port_file) >> port;
  ASSERT_GT(port, 0);
  HttpReply reply =
      Get("http://127.0.0.1:" + std::to_string(port) + "/metrics");
  EXPECT_EQ(reply.code, 200);
  EXPECT_TRUE(HasLine(reply.body, "ycr_log_head_position 0")) << reply.body;
  ASSERT_EQ(kill(child.pid, SIGTERM), 0);
  ReadAll(child.out);
  fclose(child.out);
  EXPECT_EQ(Wait(child.pid), 0);
}

TEST(ServerBinaryTest, JsonLogsAreOneObjectPerLineAtTheChosenLevel) {
  TempDir dir;
  Child child =
      Spawn({YCR_SERVER_BINARY, "--listen=127.0.0.1:0",
             "--data_dir=" + dir.path() + "/data", "--log_format=json"});
  std::string line = ReadUntil(child.out, "server.listening");
  EXPECT_EQ(line.rfind("{\"time\":\"", 0), 0u) << line;
  EXPECT_NE(line.find("\"level\":\"INFO\",\"event\":\"server.listening\""),
            std::string::npos)
      << line;
  EXPECT_EQ(line.substr(line.size() - 2), "}\n") << line;
  ASSERT_EQ(kill(child.pid, SIGTERM), 0);
  std::string rest = ReadAll(child.out);
  fclose(child.out);
  EXPECT_EQ(Wait(child.pid), 0);
  EXPECT_NE(rest.find("\"event\":\"server.stopped\""), std::string::npos)
      << rest;

  // At --log_level=warning only warnings and errors remain: here the
  // testing clock's warning (logged once the stop signals are blocked).
  Child quiet = Spawn({YCR_SERVER_BINARY, "--listen=127.0.0.1:0",
                       "--data_dir=" + dir.path() + "/data",
                       "--log_level=warning", "--testing_time_control"});
  line = ReadUntil(quiet.out, "server.testing_time_control");
  EXPECT_NE(line.find(" WARNING server.testing_time_control "),
            std::string::npos)
      << line;
  ASSERT_EQ(kill(quiet.pid, SIGTERM), 0);
  EXPECT_EQ(ReadAll(quiet.out), "");
  fclose(quiet.out);
  EXPECT_EQ(Wait(quiet.pid), 0);
}

TEST(ServerBinaryTest, UnknownCommandIsRefused) {
  Child child = Spawn({YCR_SERVER_BINARY, "frobnicate"});
  fclose(child.out);
  EXPECT_EQ(Wait(child.pid), 2);
}

TEST(ServerBinaryTest, UnknownLogLevelIsRefused) {
  Child child = Spawn({YCR_SERVER_BINARY, "--log_level=loud"});
  fclose(child.out);
  EXPECT_EQ(Wait(child.pid), 2);
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

TEST(ServerBinaryTest, WithoutCertificatesOrInsecureItRefusesToStart) {
  TempDir dir;
  Child child = Spawn({YCR_SERVER_BINARY, "--listen=127.0.0.1:0",
                       "--data_dir=" + dir.path() + "/data"},
                      /*plain_text=*/false);
  const std::string out = ReadAll(child.out);
  fclose(child.out);
  EXPECT_EQ(Wait(child.pid), 2);
  EXPECT_NE(out.find("--tls_cert is required for mutual TLS"),
            std::string::npos)
      << out;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data"));
}

TEST(ServerBinaryTest, InsecureIsRefusedOffLoopbackAndLoudOnIt) {
  TempDir dir;
  Child everywhere = Spawn({YCR_SERVER_BINARY, "--listen=0.0.0.0:0",
                            "--insecure", "--data_dir=" + dir.path() + "/a"});
  std::string out = ReadAll(everywhere.out);
  fclose(everywhere.out);
  EXPECT_EQ(Wait(everywhere.pid), 1);
  EXPECT_NE(out.find("only on a loopback address"), std::string::npos) << out;

  Child local = Spawn({YCR_SERVER_BINARY, "--listen=127.0.0.1:0", "--insecure",
                       "--data_dir=" + dir.path() + "/b"});
  // The warning comes before the line that says it listens.
  std::string lines = ReadLine(local.out);
  lines += ReadUntil(local.out, "server.listening");
  kill(local.pid, SIGTERM);
  ReadAll(local.out);
  fclose(local.out);
  EXPECT_EQ(Wait(local.pid), 0);
  EXPECT_NE(lines.find("WARNING server.insecure"), std::string::npos) << lines;
  EXPECT_NE(lines.find("PLAIN TEXT, NO TLS"), std::string::npos) << lines;
  EXPECT_NE(lines.find(" tls=OFF"), std::string::npos) << lines;
}

TEST(ServerBinaryTest, AnAddressWithoutAPortIsRefusedNamingTheFlag) {
  TempDir dir;
  for (const auto& [flag, bad] :
       std::vector<std::pair<std::string, std::string>>{
           {"--listen", "127.0.0.1"},
           {"--listen", "localhost:"},
           {"--listen", "::1"},
           {"--metrics_listen", "127.0.0.1"},
           {"--metrics_listen", "[::1]"}}) {
    std::vector<std::string> args = {YCR_SERVER_BINARY,
                                     "--data_dir=" + dir.path() + "/data"};
    if (flag == "--listen") {
      args.push_back("--listen=" + bad);
    } else {
      args.push_back("--listen=127.0.0.1:0");
      args.push_back("--metrics_listen=" + bad);
    }
    Child child = Spawn(args);
    const std::string out = ReadAll(child.out);
    fclose(child.out);
    EXPECT_EQ(Wait(child.pid), 2) << flag << "=" << bad << ": " << out;
    EXPECT_NE(out.find("server.bad_flag"), std::string::npos) << out;
    EXPECT_NE(out.find("error=\"" + flag + ": "), std::string::npos) << out;
    EXPECT_NE(out.find(bad), std::string::npos) << out;
    EXPECT_NE(out.find("no port"), std::string::npos) << out;
    // Refused before anything is opened.
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data")) << out;
  }
}

// Like --insecure: whoever reaches the Testing service moves every deadline.
TEST(ServerBinaryTest, TestingTimeControlIsRefusedOffLoopback) {
  TempDir dir;
  const std::string ca = dir.path() + "/tls";
  RunDevCa(ca);
  std::vector<std::string> args = {YCR_SERVER_BINARY, "--listen=0.0.0.0:0",
                                   "--data_dir=" + dir.path() + "/data",
                                   "--testing_time_control"};
  for (const std::string& flag : ServerTlsFlags(ca)) args.push_back(flag);
  Child child = Spawn(args);
  const std::string out = ReadAll(child.out);
  fclose(child.out);
  EXPECT_EQ(Wait(child.pid), 2) << out;
  EXPECT_NE(out.find("flag=testing_time_control"), std::string::npos) << out;
  EXPECT_NE(out.find("unless --listen is a loopback address"),
            std::string::npos)
      << out;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data"));

  // The same with mutual TLS on loopback starts.
  args[1] = "--listen=127.0.0.1:0";
  Child local = Spawn(args);
  const std::string line = ReadUntil(local.out, "server.listening");
  EXPECT_NE(line.find(" tls=mutual"), std::string::npos) << line;
  ASSERT_EQ(kill(local.pid, SIGTERM), 0);
  ReadAll(local.out);
  fclose(local.out);
  EXPECT_EQ(Wait(local.pid), 0);
}

TEST(ServerBinaryTest, TlsCrlIsReadAtStartAndOnlyWithMutualTls) {
  TempDir dir;
  const std::string ca = dir.path() + "/tls";
  RunDevCa(ca);
  auto run = [&](std::vector<std::string> extra, bool tls) {
    std::vector<std::string> args = {YCR_SERVER_BINARY, "--listen=127.0.0.1:0",
                                     "--data_dir=" + dir.path() + "/data"};
    if (tls) {
      for (const std::string& flag : ServerTlsFlags(ca)) args.push_back(flag);
    }
    for (std::string& flag : extra) args.push_back(std::move(flag));
    return Spawn(args);
  };
  Child missing = run({"--tls_crl=" + dir.path() + "/none.pem"}, true);
  std::string out = ReadAll(missing.out);
  fclose(missing.out);
  EXPECT_EQ(Wait(missing.pid), 2) << out;
  EXPECT_NE(out.find("flag=tls_crl"), std::string::npos) << out;
  EXPECT_NE(out.find("none.pem"), std::string::npos) << out;

  Child plain = run({"--insecure", "--tls_crl=" + ca + "/crl.pem"}, false);
  out = ReadAll(plain.out);
  fclose(plain.out);
  EXPECT_EQ(Wait(plain.pid), 2) << out;
  EXPECT_NE(out.find("flag=tls_crl"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data"));

  Child good = run({"--tls_crl=" + ca + "/crl.pem"}, true);
  const std::string line = ReadUntil(good.out, "server.listening");
  EXPECT_NE(line.find(" crl=" + ca + "/crl.pem"), std::string::npos) << line;
  ASSERT_EQ(kill(good.pid, SIGTERM), 0);
  ReadAll(good.out);
  fclose(good.out);
  EXPECT_EQ(Wait(good.pid), 0);
}

TEST(ServerBinaryTest, InsecureAndCertificatesTogetherAreRefused) {
  TempDir dir;
  Child child =
      Spawn({YCR_SERVER_BINARY, "--listen=127.0.0.1:0", "--insecure",
             "--tls_cert=/nonexistent", "--data_dir=" + dir.path() + "/data"});
  const std::string out = ReadAll(child.out);
  fclose(child.out);
  EXPECT_EQ(Wait(child.pid), 2);
  EXPECT_NE(out.find("either --insecure or the TLS files"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace ycr::testing
