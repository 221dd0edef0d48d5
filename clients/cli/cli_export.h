#pragma once

// `ycr audit export`: a subject's audit trail (Audit.Trail) written as JSON
// lines, CSV (RFC 4180) or one self-contained HTML page.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "clients/cli/cli_generic.h"

namespace ycr::cli {

// The help text of `ycr audit export`.
std::string ExportHelp();

// Runs `ycr audit export`. `words` are the positional arguments (from
// "audit"); `options` the "name=value" options the command line gave
// (--subject, --format, --output). Writes the export to `out` (or the
// --output file) and problems to `err`. Returns the exit code: 0 ok, 1 the
// server refused or failed, 2 bad usage.
int Export(const std::vector<std::string>& words,
           const std::vector<std::string>& options, Channels& channels,
           const CallSettings& settings, std::ostream& out, std::ostream& err);

}  // namespace ycr::cli
