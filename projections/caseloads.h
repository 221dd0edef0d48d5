#pragma once

// The caseloads projection: per organisation, the counts a caseload report
// shows and the list of its open referrals.
//
// What it counts (CaseloadCounts):
//   Per service (the referral's or the intervention's service):
//     by_state    open referrals (not declined, closed, withdrawn, cancelled
//                 or entered in error) by state, keyed by the ReferralState
//                 enum name ("REFERRAL_STATE_SUBMITTED", ...).
//     by_worker   open interventions (planned, not ended) by worker.
//   Per school (the referral's current school; the identification's or the
//   intervention's school):
//     identified  distinct subjects whose latest identification by the school
//                 is census code P or S (a later N removes them).
//     referred    referrals submitted, once each.
//     accepted    referrals that reached accepted at any time.
//     supported   distinct subjects (young carers) who have a referral from
//                 the school that is registered now (registered, or on hold
//                 from registered), or at least one open intervention there:
//                 each child once. A registration that ends (closed,
//                 withdrawn) stops counting.
//     closed      referrals that ended in closed.
//   A transfer moves the referral's school counts and its list entry from
//   the old school to the new one. Entered in error retracts everything the
//   referral counted (it never happened).
//
// State keys (u64 big-endian; ids never contain 0x00):
//   'n' organisation 0x00 counter       -> count (u64); absent when 0.
//                                          counter: "identified", "referred",
//                                          "accepted", "supported", "closed",
//                                          "state/" ReferralState enum name,
//                                          "worker/" worker
//   'l' organisation 0x00 referral_id   -> CaseloadReferral (an open referral,
//                                          listed under its service and its
//                                          school; since = when it entered its
//                                          state; position = its last event)
//   'r' referral_id                     -> held_from(u8) flags(u8: 1 reached
//                                          accepted, 2 reached registered)
//                                          CaseloadReferral (every referral)
//   'v' intervention_id                 -> InterventionPlanned (service,
//                                          school, subject_id, worker) while
//                                          open
//   'g' school 0x00 subject_id          -> referrals (u64) of the subject
//                                          from the school registered now;
//                                          absent at 0
//   'w' school 0x00 subject_id          -> open interventions (u64) of the
//                                          subject at the school; absent at 0
//   'y' school 0x00 subject_id          -> census code (u8) while P or S

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "projections/projection.h"
#include "ycr/v1/read_models.pb.h"

namespace ycr::projections {

class CaseloadsProjection : public Projection {
 public:
  // 2: "supported" counts each young carer once (registered and in an open
  // intervention is one, not two). 3: a registration counts while it lasts
  // (closed or withdrawn, it no longer supports the child).
  static constexpr uint32_t kCodeVersion = 3;

  const std::string& name() const override;
  uint32_t code_version() const override { return kCodeVersion; }
  absl::Status Apply(const v1::RecordedEvent& event,
                     storage::ProjectionBatch& batch) override;
};

// The counts of `organisation` (a service's and a school's counts together;
// all zero for an organisation with none).
absl::StatusOr<v1::CaseloadCounts> Counts(storage::ProjectionStore& store,
                                          uint32_t generation,
                                          const std::string& organisation);

// The open referrals listed under `organisation`, by referral id, at most
// `limit`, from `page_token` (empty: the start). `next_page_token` is empty
// when there is no more. INVALID_ARGUMENT for a token of another listing.
absl::Status ListReferrals(storage::ProjectionStore& store, uint32_t generation,
                           const std::string& organisation,
                           const std::string& page_token, size_t limit,
                           std::vector<v1::CaseloadReferral>* out,
                           std::string* next_page_token);

}  // namespace ycr::projections
