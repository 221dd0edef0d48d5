#include "common/command_line.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <list>
#include <string>

#include "absl/flags/internal/program_name.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"

namespace ycr {

std::string NormaliseFlagSpelling(const std::string& arg) {
  if (arg.size() < 3 || arg[0] != '-') return arg;
  const size_t dashes = arg[1] == '-' ? 2 : 1;
  const size_t eq = arg.find('=');
  std::string name = arg.substr(
      dashes, eq == std::string::npos ? std::string::npos : eq - dashes);
  if (name.find('-') == std::string::npos) return arg;
  std::replace(name.begin(), name.end(), '-', '_');
  // "--no-dry-run" -> "--nodry_run" for a boolean flag.
  std::string lookup = name;
  if (absl::FindCommandLineFlag(lookup) == nullptr &&
      absl::StartsWith(lookup, "no_")) {
    lookup = lookup.substr(3);
    if (absl::FindCommandLineFlag(lookup) == nullptr) return arg;
    name = "no" + lookup;
  } else if (absl::FindCommandLineFlag(lookup) == nullptr) {
    return arg;
  }
  return arg.substr(0, dashes) + name +
         (eq == std::string::npos ? "" : arg.substr(eq));
}

std::vector<char*> InitCommandLine(int argc, char** argv, const char* usage) {
  // Debian's abseil is built with mutex deadlock detection on; its
  // bookkeeping costs 5-8% CPU per RPC (measured with ycr-bench).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, YCR_SOURCE_DIR);
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  // A build through ccache with CCACHE_BASEDIR compiles our files under
  // relative names ("../../services/x.cc"): those are ours too, abseil's own
  // ("./absl/...") excepted.
  config.normalize_filename = [](absl::string_view file) {
    if (absl::StartsWith(file, "/")) return std::string(file);
    absl::string_view rest = file;
    while (absl::ConsumePrefix(&rest, "./") ||
           absl::ConsumePrefix(&rest, "../")) {
    }
    if (absl::StartsWith(rest, "absl/")) return std::string(file);
    return absl::StrCat(YCR_SOURCE_DIR, rest);
  };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(usage);
  // Named before --help is printed (ParseCommandLine would name it later).
  if (argc > 0) absl::flags_internal::SetProgramInvocationName(argv[0]);
  // --dry-run for --dry_run. The rewritten spellings live as long as the
  // process (abseil keeps pointers into argv).
  static std::list<std::string>* spelled = new std::list<std::string>();
  for (int i = 1; i < argc; ++i) {
    if (absl::string_view(argv[i]) == "--") break;
    const std::string normal = NormaliseFlagSpelling(argv[i]);
    if (normal != argv[i]) {
      spelled->push_back(normal);
      argv[i] = spelled->back().data();
    }
  }
  // abseil exits 1 after --help; a user asking for help has not failed.
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      // Our flags live in project files; abseil's own under "absl/".
      absl::flags_internal::FlagsHelp(
          std::cout, YCR_SOURCE_DIR,
          absl::flags_internal::HelpFormat::kHumanReadable, usage);
      std::exit(0);
    }
  }
  return absl::ParseCommandLine(argc, argv);
}

}  // namespace ycr
