#include "common/command_line.h"

#include <cstdlib>
#include <iostream>

#include "absl/flags/internal/program_name.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"

namespace ycr {

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
