#pragma once

// Subjects: the subject record (who a pupil is, kept in the record store,
// not the log) and the events of a subject's stream (record changed, young
// carer identified).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ycr/v1/event.pb.h"

namespace ycr::domain {

// Record-store keys of a subject's record, and of the salt of the digests
// that tie a Subjects.PutRecord request id to its record.
std::string SubjectRecordKey(const std::string& subject_id);
std::string SubjectSaltKey(const std::string& subject_id);
// The record's personal fields (names, date of birth, contacts, related
// people), stored sealed under the subject's key apart from the skeleton at
// SubjectRecordKey (id, holder, revision, updated_at, erased), so erasure
// removes them and leaves the skeleton.
std::string SubjectPersonalKey(const std::string& subject_id);
// Marks a subject as having child-protection records (concerns raised about
// them); the value names the organisations that raised them
// (ChildProtectionHolders).
std::string SubjectChildProtectionKey(const std::string& subject_id);
// The organisations a SubjectChildProtectionKey value names (sorted; none
// for nullopt).
std::vector<std::string> ChildProtectionHolders(
    const std::optional<std::string>& value);
// `value` with `organisation` added (one id a line, sorted, once).
std::string AddChildProtectionHolder(const std::optional<std::string>& value,
                                     const std::string& organisation);

// Largest subject record, serialised.
inline constexpr size_t kMaxRecordBytes = 32 * 1024;

// An organisation's child-protection records an erasure kept (named by its
// child_protection_kept), while not destroyed at a review.
struct KeptRecord {
  // The child_protection_kept event, whose sealed part holds the first
  // review date (shared by every keeper of the erasure); when it was
  // recorded.
  uint64_t kept_position = 0;
  absl::Time kept_at;
  // The review date the last KEEP decision set (nullopt: none yet, the
  // sealed date applies), and why.
  std::optional<absl::Time> next_review;
  v1::RetentionKeepReason keep_reason = v1::RETENTION_KEEP_REASON_UNSPECIFIED;
};

struct SubjectView {
  // The record's holder ("" before the record exists).
  std::string holder;
  // The latest census code recorded, and by which school.
  v1::CensusCode census_code = v1::CENSUS_CODE_UNSPECIFIED;
  std::string identified_by;
  // Legal holds in force: hold id -> the organisation that placed it.
  std::map<std::string, std::string> holds;
  // SubjectErased was recorded.
  bool erased = false;
  // Kept child-protection records, by keeping organisation.
  std::map<std::string, KeptRecord> kept;
  uint64_t version = 0;
};

// The record split for storage: the skeleton (what survives erasure) and
// the personal fields (sealed under the subject's key).
struct SplitRecord {
  v1::SubjectRecord skeleton;
  v1::SubjectRecord personal;
};
SplitRecord SplitSubjectRecord(const v1::SubjectRecord& record);

// INVALID_ARGUMENT naming the field: subject_id an id; given and family
// name; date_of_birth a real YYYY-MM-DD date, not after `now`; contacts with
// a kind and a value; related people with unique person_refs and names; at
// most kMaxRecordBytes in all.
absl::Status ValidateSubjectRecord(const v1::SubjectRecord& record,
                                   absl::Time now);

// The parts ("given_name", "family_name", "date_of_birth", "contacts",
// "related") that differ between `before` (nullptr: no record) and `after`.
std::vector<std::string> ChangedParts(const v1::SubjectRecord* before,
                                      const v1::SubjectRecord& after);

// Only the holder replaces a record: PERMISSION_DENIED otherwise.
absl::Status CheckSubjectRecordPut(const v1::SubjectRecord* current,
                                   const v1::Actor& caller);

// A school identifies a pupil (a census code). NOT_FOUND without a record
// (`record` nullptr); PERMISSION_DENIED when `school` is not the caller's
// organisation (filled in when empty); INVALID_ARGUMENT for a missing code
// or a cares_for_ref that names no related person of the record.
absl::Status DecideIdentification(const v1::SubjectRecord* record,
                                  const v1::Actor& caller,
                                  v1::EventPayload* event);

absl::Status ApplySubjectEvent(const v1::RecordedEvent& event,
                               SubjectView* view);

}  // namespace ycr::domain
