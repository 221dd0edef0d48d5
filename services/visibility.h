#pragma once

// The read side of "who sees what": works out a reader's relations to the
// events it asks for (domain/visibility.h), from the log and the record
// store, and shows each event at the level the rule gives.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "domain/visibility.h"
#include "storage/event_log.h"
#include "ycr/v1/read_models.pb.h"

namespace ycr::services {

// One reader's view of the log, for one call. Caches what it reads (record
// holders, areas, the parties of each case stream), so a page of entries
// costs a few point reads; an event appended since the caches were filled
// (a paged call spans what is appended meanwhile) empties them first. Not
// thread-safe; `log` must outlive it.
class ReaderView {
 public:
  ReaderView(storage::EventLog& log, const v1::Actor& reader);

  // The reader's relations to `event`, an event about `subject_id` (empty:
  // about no subject).
  absl::StatusOr<std::vector<domain::Relation>> RelationsTo(
      const v1::RecordedEvent& event, const std::string& subject_id);

  // Whether the reader's organisation had left the case of `subject_id`
  // with `organisations` at log `position`: a referral of the subject to
  // one of them had moved from it to another school and not come back.
  // What that case records then is not for it, even as the record's holder
  // (README, "A case can leave an organisation").
  absl::StatusOr<bool> LeftTheCase(
      const std::string& subject_id,
      const std::vector<std::string>& organisations, uint64_t position);
  // The same for organisation `org` (the record's holder, for a local
  // authority that reads the case through it).
  absl::StatusOr<bool> LeftTheCase(
      const std::string& org, const std::string& subject_id,
      const std::vector<std::string>& organisations, uint64_t position);

  // The level the reader sees `event` at.
  absl::StatusOr<domain::Visibility> LevelOf(const v1::RecordedEvent& event,
                                             const std::string& subject_id);

  // Shows each entry of `page` (events as read from the log, sealed) at the
  // reader's level: drops those it may not see, opens the personal part of
  // those it sees in full, redacts the rest.
  absl::Status Show(std::vector<v1::AuditEntry>* page);

  // The same for a subject access pack compiled by the reader: each entry
  // at domain::PackVisibility, and other organisations' staff names
  // redacted.
  absl::Status ShowInPack(std::vector<v1::AuditEntry>* page);

 private:
  absl::Status ShowAt(bool pack, std::vector<v1::AuditEntry>* page);
  absl::StatusOr<std::optional<std::string>> HolderOf(
      const std::string& subject_id);
  absl::StatusOr<bool> InArea(const std::string& organisation);
  // The organisations party to a case stream, and the stretches of the log
  // in which one had left the case: a school after the referral moved to
  // another school and until it came back, a service after its referral
  // was entered in error. An intervention planned on a referral has the
  // referral's stretches. Events in such a stretch are not that
  // organisation's case.
  struct StreamParties {
    std::vector<std::string> parties;
    // Organisation -> (left after position, came back at position).
    std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> away;
    bool Away(const std::string& organisation, uint64_t position) const;
  };
  absl::StatusOr<const StreamParties*> PartiesOf(const std::string& stream);

  storage::EventLog& log_;
  const v1::Actor reader_;
  std::map<std::string, std::optional<std::string>> holders_;
  std::map<std::string, bool> areas_;
  std::map<std::string, StreamParties> parties_;
  // SubjectServiceKey -> the referral ids it marks.
  std::map<std::string, std::vector<std::string>> marks_;
  // The log's head when the caches above were last emptied: they hold
  // nothing older, so they answer for events up to it.
  uint64_t known_to_ = 0;
};

// True for the streams that hold one case each (a consent, a referral, an
// intervention, a letter, a concern, an agreement): every organisation
// named by one of its events is a party to all of them.
bool IsCaseStream(const std::string& stream);

}  // namespace ycr::services
