#pragma once

// Command-line set-up shared by every ycr binary, so that `--help` lists the
// binary's own flags (abseil's default filter matches none of ours).

#include <string>
#include <vector>

namespace ycr {

// "--dry-run=x" -> "--dry_run=x" (and "--no-dry-run" -> "--nodry_run") when
// the underscored name is a defined flag; any other argument unchanged.
std::string NormaliseFlagSpelling(const std::string& arg);

// Sets the usage text, parses flags (exits on --help or a bad flag) and
// returns the positional arguments, argv[0] first. Flag names may be spelled
// with hyphens for underscores.
std::vector<char*> InitCommandLine(int argc, char** argv, const char* usage);

}  // namespace ycr
