#pragma once

// Shared by the files of the command engine (domain_commands.h): the views of
// commands that fold no stream of their own, and the helpers more than one
// area's commands use. Internal to services.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/domain_commands.h"

namespace ycr::services {
namespace internal {

// ABORTED VERSION_CONFLICT for the caller's expected version of `stream`,
// which is at `current` (the gRPC layer sends both as trailing metadata, as
// for a conflict the log finds).
absl::Status VersionConflict(const std::string& stream, uint64_t current,
                             absl::string_view message);

absl::Status ApplyConsent(const v1::RecordedEvent& e,
                          domain::ConsentView* view);

absl::Status ApplyReferral(const v1::RecordedEvent& e,
                           domain::ReferralView* view);

const std::string& ConsentIdOf(const v1::EventPayload& event);

// True when `stored` records the command `asked`.
bool SameCommand(v1::EventPayload stored, v1::EventPayload asked);

// Checks and completes the event's personal part: it belongs to `subject`
// (refused when the event concerns no young carer), within size limits.
absl::Status SettlePersonal(const std::string& subject,
                            v1::EventPayload* event);

// A journal stream is not folded.
struct NoView {
  uint64_t version = 0;
};

// The flags recorded on one deadline's stream.
struct OverdueView {
  uint64_t version = 0;
  std::vector<v1::OverdueFlagged> flags;
};

}  // namespace internal
}  // namespace ycr::services
