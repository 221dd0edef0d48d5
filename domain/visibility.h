#pragma once

// Who sees what: the one rule every read path applies to the events it
// shows (README, "Who sees what").
//
// Reading content another organisation recorded is itself a disclosure, so
// a reader is shown an event's content only where the recording
// organisation disclosed it to the reader (a recorded disclosure, an
// outcome report, the referral itself) or the reader's role is entitled
// (an auditor; the recording organisation's own staff). Organisations with a
// part in a child's case see the codes of what the others recorded about
// it (states, dates, categories), and those entitled to know *that*
// something happened see its skeleton, so the audit stays whole.
// Safeguarding records and decisions not to share are seen by no one but
// their recorder, the organisation a concern was referred to, and auditors.
//
// Plain functions of the event and the reader's relations to it: no gRPC,
// no storage. The services work out the relations (services/visibility.h).

#include <string>
#include <vector>

#include "ycr/v1/event.pb.h"
#include "ycr/v1/read_models.pb.h"
#include "ycr/v1/subject.pb.h"

namespace ycr::domain {

// How much of one event a reader is shown, least first.
enum class Visibility {
  // Nothing: the event is left out, as if it did not exist.
  kNone = 0,
  // Its kind, times, position, stream, hashes and the organisations and
  // roles involved; no payload, no staff names.
  kSkeleton = 1,
  // And the payload's codes, ids and dates; no personal part, no staff
  // names.
  kCodes = 2,
  // Everything, the personal part opened (or marked erased).
  kFull = 3,
};

// A reader's relations to one event; several may hold at once, and the most
// generous level among them applies.
enum class Relation {
  // Role auditor: replays the whole history.
  kAuditor = 0,
  // The reader's organisation recorded the event.
  kRecorder = 1,
  // The event discloses its content to the reader's organisation: a
  // disclosure to it, a referral to the service (or a transfer to the new
  // school), an outcome report to the school, a referral of a concern.
  kAddressee = 2,
  // The reader's organisation is a party to the case the event belongs to:
  // named by the consent, referral, intervention, letter or agreement
  // (OrganisationsNamedBy over the stream's events). Of a concern, only
  // who raised it and whom it was referred to; of a decision not to share,
  // only who made it.
  kParty = 3,
  // The reader's organisation holds the subject's record.
  kHolder = 4,
  // The reader is the local authority of the area of the recording
  // organisation or of the subject's holder.
  kAreaAuthority = 5,
  // A subject access pack: what the child is entitled to about themselves
  // (combined with what its compiler may see: PackVisibility).
  kDataSubject = 6,
  // None of the above.
  kStranger = 7,
};
inline constexpr int kRelationCount = 8;

// The families of event kinds the rule treats alike.
enum class EventClass {
  // A kind this rule does not know: shown to auditors only.
  kUnclassified = 0,
  // The case of a child: consents, referrals, interventions, letters,
  // identification, record changes, erasure and holds.
  kCase = 1,
  // A record of what was shared (a disclosure, an outcome report): its
  // codes are themselves the shared content.
  kReported = 2,
  // Safeguarding concerns and decisions not to share.
  kConfidential = 3,
  // About organisations, not a child: agreements, overdue flags, areas.
  kOrganisational = 4,
  // Raw payloads of operators and tools.
  kOpaque = 5,
  // Child-protection records kept past an erasure, and their reviews: for
  // the keeping organisation (their addressee) and auditors only; not for
  // the holder whose erasure recorded that they were kept, nor for anyone
  // the keeping organisation's own records would be shown to.
  kRetention = 6,
};

EventClass ClassOf(v1::EventPayload::KindCase kind);

// The family of one event: as ClassOf(kind), except that an event that
// records or carries a disclosure made for safeguarding (a safeguarding
// basis, or naming a concern; a transfer to another school may carry one)
// is confidential like the concern it belongs to.
EventClass ClassOf(const v1::EventPayload& payload);

// The level of one event for `relations` (by ClassOf(payload)).
Visibility VisibilityFor(const v1::EventPayload& payload,
                         const std::vector<Relation>& relations);

// The level of one relation alone.
Visibility VisibilityFor(v1::EventPayload::KindCase kind, Relation relation);

// The most generous level over `relations` (kNone for none).
Visibility VisibilityFor(v1::EventPayload::KindCase kind,
                         const std::vector<Relation>& relations);

// What a subject access pack compiled by a reader with `compiler` relations
// shows: the data subject's level, capped by the compiler's own (a pack
// never shows its compiler what it could not read itself).
Visibility PackVisibility(const v1::EventPayload& payload,
                          const std::vector<Relation>& compiler);

// Organisations the payload names as parties (recipients, school and
// service, a letter's sender and addressee, an agreement's parties, the
// recipient of a disclosure it carries). Never empty strings.
std::vector<std::string> OrganisationsNamedBy(const v1::EventPayload& payload);

// Organisations to which the payload discloses its content (see
// Relation::kAddressee).
std::vector<std::string> AddresseesOf(const v1::EventPayload& payload);

// Reduces `entry` to what `level` shows (kNone leaves it unchanged: the
// caller drops it) and sets entry->shown. The personal part must already
// be revealed or absent; below kFull it is removed with its sealed form.
void Redact(Visibility level, v1::AuditEntry* entry);

// What a subject access pack leaves out of an entry it shows (DOMAIN.md,
// data rights): the staff names of organisations other than
// `compiler_organisation` (who recorded, decided, delivered, assessed),
// also where the compiler's own record names them (a competence assessed
// by another organisation's worker), and then the record's salt.
void RedactForDataSubject(const std::string& compiler_organisation,
                          v1::AuditEntry* entry);

// What a subject access pack leaves out of the subject's record: third
// parties' names and contact details (relationships and flags stay).
void RedactForDataSubject(v1::SubjectRecord* record);

}  // namespace ycr::domain
