#pragma once

// Command-line set-up shared by every ycr binary, so that `--help` lists the
// binary's own flags (abseil's default filter matches none of ours).

#include <string>
#include <vector>

namespace ycr {

// Sets the usage text, parses flags (exits on --help or a bad flag) and
// returns the positional arguments, argv[0] first.
std::vector<char*> InitCommandLine(int argc, char** argv, const char* usage);

}  // namespace ycr
