#pragma once

// The audit trail: per subject, every event about that subject in log order
// (consent changes, disclosures and decisions not to share, referral
// transitions, interventions, safeguarding concerns, record changes and
// correspondence), each kept as a v1::AuditEntry that carries the event as
// logged and the disclosure it records or carries. Beside it, an index of
// every disclosure by the organisations on either side, for time-range
// queries, and an index of each subject's consent events for ConsentInForce.
//
// Key grammar (the projection's own keys, under its generation's prefix):
//
//   key                                              value
//   kTrail   S(subject) P(position)                  AuditEntry
//   kConsent S(subject) P(position)                  AuditEntry (consent
//                                                    events only)
//   kOrg     S(organisation) T(recorded_at) P(position)
//                                                    AuditEntry (entries
//                                                    with a disclosure)
//   kStream  S(stream)                               subject id (raw bytes)
//
//   S(x) = x with every 0x00 written 0x00 0xFF, then the terminator 0x00 0x01.
//          No encoded string is a prefix of another, and the order of
//          encoded strings is the order of the strings, so S(x) followed by
//          anything is one contiguous range per x.
//   P(p) = p as unsigned 64-bit big-endian: bytewise order is log order.
//   T(t) = t.seconds XOR 2^63 as 64-bit big-endian, then t.nanos as 32-bit
//          big-endian: bytewise order is time order (negative seconds too).
//
// kStream maps an aggregate's stream ("consent-<id>", "referral-<id>",
// "intervention-<id>", "safeguarding-<org token>/<concern id>",
// "correspondence-<id>")
// to its subject. It is written by the event that creates the aggregate and
// names the subject (consent_granted/refused, referral_submitted, a planned
// intervention with a subject, concern_raised, correspondence_received with
// a subject); later events of the stream, which do not carry the subject,
// are attributed through it. Streams not in the map (whole-school
// interventions, correspondence about no subject, agreements) contribute
// nothing. Opaque payloads are never attributed.
//
// A disclosure is indexed under its from.organisation and its
// to.organisation (once when they are the same; not under an empty one).
//
// Values are deterministic serialisations, so a rebuild gives the same bytes
// as the live state.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "projections/projection.h"
#include "storage/projection_store.h"
#include "ycr/v1/queries_service.pb.h"
#include "ycr/v1/read_models.pb.h"

namespace ycr::projections {

inline constexpr char kAuditTrailName[] = "audit_trail";
inline constexpr uint32_t kAuditTrailCodeVersion = 1;

// First byte of every audit-trail key. New kinds take new values.
enum class AuditKey : char {
  kTrail = 't',
  kConsent = 'c',
  kOrg = 'o',
  kStream = 's',
};

// Key builders (exposed for tests and tools).
std::string AuditTrailKey(const std::string& subject_id, uint64_t position);
// The prefix of every trail key of `subject_id`.
std::string AuditTrailPrefix(const std::string& subject_id);
std::string AuditConsentPrefix(const std::string& subject_id);
std::string AuditOrgPrefix(const std::string& organisation);
std::string AuditStreamKey(const std::string& stream);

// The value stored for an entry: the deterministic bytes of an AuditEntry
// of `event`, `disclosure` (may be null) and `subject_id`, written without
// building the entry (exposed for tests).
std::string AuditEntryBytes(const v1::RecordedEvent& event,
                            const v1::DisclosureRecorded* disclosure,
                            const std::string& subject_id);

class AuditTrailProjection : public Projection {
 public:
  const std::string& name() const override;
  uint32_t code_version() const override { return kAuditTrailCodeVersion; }
  absl::Status Apply(const v1::RecordedEvent& event,
                     storage::ProjectionBatch& batch) override;
};

// The trail of `subject_id` in log order: at most `limit` (>= 1) entries
// with position > `after_position`. *next_after is the after_position of
// the next page, 0 when there is no more. Costs the entries read, never a
// scan of the log. INVALID_ARGUMENT for limit 0; DATA_LOSS for a value that
// does not parse.
absl::Status ReadSubjectTrail(storage::ProjectionStore& store,
                              uint32_t generation,
                              const std::string& subject_id,
                              uint64_t after_position, size_t limit,
                              std::vector<v1::AuditEntry>* out,
                              uint64_t* next_after);

// Where a page of ReadOrganisationDisclosures ended: the last entry
// returned. A default (position 0) cursor starts at `from`.
struct DisclosureCursor {
  absl::Time recorded_at = absl::InfinitePast();
  uint64_t position = 0;

  bool done() const { return position == 0; }
};

// Disclosures `organisation` made or received with recorded_at in [from,
// to), in (recorded_at, position) order: at most `limit` (>= 1) entries
// after `after` (default: from the start). *next is the cursor of the next
// page, done() when there is no more. The same errors as ReadSubjectTrail.
absl::Status ReadOrganisationDisclosures(
    storage::ProjectionStore& store, uint32_t generation,
    const std::string& organisation, absl::Time from, absl::Time to,
    const DisclosureCursor& after, size_t limit,
    std::vector<v1::AuditEntry>* out, DisclosureCursor* next);

// Whether a consent of request.subject_id covered sharing request.category
// with request.recipient for request.purpose at request.at, as the log stood
// then: each of the subject's consents is folded from its events recorded at
// or before `at` and checked with domain::CheckConsentCovers. Covered: the
// first consent (in log order) that covers it, at its version then. Not
// covered: one reason per consent, in log order ("no consent recorded" when
// there is none). INVALID_ARGUMENT without subject_id or at. With `shown`,
// each consent is folded only up to the first entry it answers false for
// (left out when that is its first: one its reader may not see).
using ShownFilter =
    std::function<absl::StatusOr<bool>(const v1::AuditEntry& entry)>;
absl::StatusOr<v1::ConsentInForceResponse> ConsentInForce(
    storage::ProjectionStore& store, uint32_t generation,
    const v1::ConsentInForceRequest& request,
    const ShownFilter& shown = nullptr);

}  // namespace ycr::projections
