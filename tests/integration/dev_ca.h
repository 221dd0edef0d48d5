#pragma once

// Certificates for the tests of mutual TLS, made by the project's own
// deploy/dev-ca.sh (so the script is tested too). YCR_DEV_CA_SCRIPT is its
// path, set by CMake.

#include <cstdlib>
#include <string>
#include <vector>

#include "common/files.h"
#include "gtest/gtest.h"
#include "tests/integration/command_runner.h"

namespace ycr::testing {

// Runs `deploy/dev-ca.sh dir args...`; fails the test if it fails.
inline void RunDevCa(const std::string& dir,
                     const std::vector<std::string>& args = {}) {
  std::vector<std::string> command = {"bash", YCR_DEV_CA_SCRIPT, dir};
  command.insert(command.end(), args.begin(), args.end());
  Outcome run = RunArgs(command, dir + ".err");
  ASSERT_EQ(run.code, 0) << run.out << run.err;
}

// One more caller, O=organisation, OU=role, CN=user.
inline void AddIdentity(const std::string& dir, const std::string& organisation,
                        const std::string& user, const std::string& role) {
  RunDevCa(dir, {"client", organisation, user, role});
}

// The file's text, or "" (and a test failure).
inline std::string Pem(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

// ycr-server's flags for the server certificate of `dir`.
inline std::vector<std::string> ServerTlsFlags(const std::string& dir) {
  return {"--tls_cert=" + dir + "/server.crt",
          "--tls_key=" + dir + "/server.key",
          "--tls_client_ca=" + dir + "/ca.crt"};
}

// The ycr CLI's (and ycr-scheduler's) flags to call as
// organisation/user from `dir`.
inline std::vector<std::string> ClientTlsFlags(const std::string& dir,
                                               const std::string& organisation,
                                               const std::string& user) {
  const std::string stem = dir + "/clients/" + organisation + "/" + user;
  return {"--tls_ca=" + dir + "/ca.crt", "--tls_cert=" + stem + ".crt",
          "--tls_key=" + stem + ".key"};
}

}  // namespace ycr::testing
