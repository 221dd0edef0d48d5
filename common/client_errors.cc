#include "common/client_errors.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/not_leader.h"

namespace ycr {
namespace {

// A ':' after a letter, digit or ']' and before 2-5 digits that end the
// token: host:port, [::1]:port.
bool HasHostPort(absl::string_view m) {
  for (size_t i = 1; i < m.size(); ++i) {
    if (m[i] != ':') continue;
    const char before = m[i - 1];
    if (!absl::ascii_isalnum(before) && before != ']') continue;
    size_t digits = 0;
    while (i + 1 + digits < m.size() &&
           absl::ascii_isdigit(m[i + 1 + digits])) {
      ++digits;
    }
    const size_t end = i + 1 + digits;
    const bool token_ends = end == m.size() || !absl::ascii_isalnum(m[end]);
    if (digits >= 2 && digits <= 5 && token_ends) return true;
  }
  return false;
}

}  // namespace

bool NamesInfrastructure(absl::string_view message) {
  const std::string lower = absl::AsciiStrToLower(message);
  for (absl::string_view word : {"etcd", "ipv4:", "ipv6:", "dns:", "unix:"}) {
    if (absl::StrContains(lower, word)) return true;
  }
  return HasHostPort(message);
}

absl::Status ForClients(const absl::Status& status, absl::string_view fixed,
                        Logger* log, absl::string_view event) {
  if (status.ok()) return status;
  std::string leader;
  const bool not_leader = IsNotLeader(status, &leader);
  // A refusal's reason (logged where it arose) is not the client's.
  if (not_leader) return NotLeaderRefusal(leader);
  if (!NamesInfrastructure(status.message())) return status;
  if (log != nullptr) {
    log->Log(LogLevel::kWarning, event,
             {{"code", absl::StatusCodeToString(status.code())},
              {"error", std::string(status.message())}});
  }
  absl::Status out(status.code(), fixed);
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) {
        out.SetPayload(url, payload);
      });
  return out;
}

}  // namespace ycr
