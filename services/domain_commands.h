#pragma once

// Domain commands over the event log. Each command reads its stream, folds
// it, checks the domain rule (services/domain), and appends with the folded
// version as the expected version; a disclosure under consent also requires
// the consent stream to be still at the version it was checked against. A
// version conflict means another writer came first: the command reads again
// and decides again (up to kMaxAttempts), so every outcome matches the log
// order. The caller's request id is the event id, so a retried command
// returns the original position.
//
// Blocking: call from a worker thread, not a gRPC reaction.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "services/domain/consent_rules.h"
#include "services/domain/referral_rules.h"
#include "storage/event_log.h"

namespace ycr::services {

class DomainCommands {
 public:
  static constexpr int kMaxAttempts = 8;

  // `log` and `clock` must outlive this object. Thread-safe.
  DomainCommands(storage::EventLog* log, Clock* clock)
      : log_(log), clock_(clock) {}

  // Grant, refuse, vary or withdraw a consent (stream "consent-<id>").
  absl::StatusOr<storage::AppendResult> RecordConsent(
      const v1::Actor& caller, const std::string& request_id,
      v1::EventPayload event);

  // A referral transition (stream "referral-<referral_id>"). With
  // `expected_version` (the version the caller saw), a referral that has
  // moved since is ABORTED rather than decided again.
  absl::StatusOr<storage::AppendResult> RecordReferral(
      const v1::Actor& caller, const std::string& request_id,
      const std::string& referral_id, v1::EventPayload event,
      std::optional<uint64_t> expected_version = std::nullopt);

  // A disclosure (stream "sharing-<subject_id>"): covered by the consent it
  // names, at the consent's current version, now; or under a safeguarding
  // basis.
  absl::StatusOr<storage::AppendResult> RecordDisclosure(
      const v1::Actor& caller, const std::string& request_id,
      v1::DisclosureRecorded disclosure);

  // The consent's current state.
  absl::StatusOr<domain::ConsentView> LoadConsent(
      const std::string& consent_id);
  absl::StatusOr<domain::ReferralView> LoadReferral(
      const std::string& referral_id);

 private:
  // OK(nullopt) when `request_id` is new; otherwise the replayed (or
  // refused) append of `request`.
  absl::StatusOr<std::optional<storage::AppendResult>> Replay(
      const storage::AppendRequest& request);
  storage::AppendRequest Request(const v1::Actor& caller,
                                 const std::string& request_id,
                                 std::string stream, v1::EventPayload event);

  storage::EventLog* const log_;
  Clock* const clock_;
};

}  // namespace ycr::services
