#pragma once

// `ycr demo`: seeds a server with a small county (schools, a young carers'
// service, children's social care) by running a script of API calls, so
// that a newcomer sees every view with data in it. The script is JSON lines
// (deploy/demo/county.jsonl, compiled in; `--file` runs another): each line
// says who calls ("as": organisation/user/role), what ("call": a `ycr`
// command such as "referrals submit") and the request ("data", protobuf
// JSON). "@now", "@now+14d", "@now-2h", "@now-1m" in a string stand for a
// time counted from the moment the line runs.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/cli/cli_generic.h"

namespace ycr::cli {

// The county script compiled into the binary.
extern const char kCountyScript[];

std::string DemoHelp();

// `text` with each "@now[+-N(d|h|m)]" string replaced by that time (RFC 3339)
// counted from `now`. INVALID_ARGUMENT for a malformed token.
absl::StatusOr<std::string> ExpandTimes(const std::string& text,
                                        absl::Time now);

// ycr demo [--file F] [--verbose]: `options` are the flags as
// "name=value" (or "name"). Returns the exit code: 0 seeded (or already
// seeded), 1 a call failed (the line and the gRPC status are printed), 2
// bad usage or a malformed script.
int Demo(const std::vector<std::string>& words,
         const std::vector<std::string>& options, Channels& channels,
         const CallSettings& settings, std::ostream& out, std::ostream& err);

}  // namespace ycr::cli
