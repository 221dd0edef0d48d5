#pragma once

// Runs one of the project's binaries as a user would, and captures what it
// printed and its exit code (for the CLI and scheduler tests).

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ycr::testing {

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

// `arg` quoted for /bin/sh.
inline std::string ShellQuote(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

// Runs `args` (each passed as one argument), stdout into `out`, stderr into
// `err` (through the file `err_path`), and the exit code.
inline Outcome RunArgs(const std::vector<std::string>& args,
                       const std::string& err_path) {
  std::string command;
  for (const std::string& a : args) command += ShellQuote(a) + " ";
  command += "2>" + ShellQuote(err_path);
  Outcome run;
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  if (pipe == nullptr) return run;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) run.out.append(buf, n);
  const int status = pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  std::stringstream text;
  text << err.rdbuf();
  run.err = text.str();
  return run;
}

// The command line of `cli` (the ycr binary) calling the plain-text test
// server on 127.0.0.1:`port` as organisation/dsl-1/role, then `args`.
inline std::vector<std::string> CliAs(const std::string& cli, int port,
                                      const std::string& organisation,
                                      const std::string& role,
                                      const std::vector<std::string>& args) {
  std::vector<std::string> all = {cli,
                                  "--server=127.0.0.1:" + std::to_string(port),
                                  "--insecure",
                                  "--organisation=" + organisation,
                                  "--user=dsl-1",
                                  "--role=" + role,
                                  "--timeout_seconds=20"};
  all.insert(all.end(), args.begin(), args.end());
  return all;
}

}  // namespace ycr::testing
