#pragma once

// The deadlines projection: everything owed by a date, indexed by due time,
// so that listing what is due by T costs what is due, not what is open.
//
// What it tracks (DeadlineItem.Kind):
//   CORRESPONDENCE_ANSWER     the due date decided at receipt (received_at +
//                             the response time of the agreement's terms in
//                             force then; an amendment leaves it), or the
//                             promised date once acknowledged; gone once
//                             answered. Owed by the receiver.
//   REFERRAL_ACKNOWLEDGEMENT  submitted + the response time of the agreement
//                             in force between school and service (14 days
//                             without one); gone once received or decided.
//   REFERRAL_DECISION         received + that response time; gone once
//                             accepted or declined (or the referral ends).
//   CONSENT_EXPIRY            a granted (or varied) consent's valid_until;
//                             gone once withdrawn. Owed by who recorded it.
//   AGREEMENT_REVIEW          last review (or coming into force) + cadence,
//                             while in force. Owed by both parties.
//   CLOSING_PERIOD_END        when notice was given: the end of the closing
//                             period; gone once terminated. Both parties.
//   RETENTION_REVIEW          the subject record's date of birth + 25 years
//                             (read from the record store). Its holder.
//
// State keys (u64 big-endian; times are microseconds since the epoch plus
// 2^63, so that byte order is time order):
//   'd' due kind(u8) id                 -> DeadlineItem   (the due index)
//   'o' organisation 0x00 due kind id   -> DeadlineItem   (per owing party)
//   'i' kind(u8) id                     -> due(u64) and the item's
//                                          organisations (to move or drop it)
//   'a' agreement_id                    -> DeadlineAgreementState
//   'c' correspondence_id               -> DeadlineCorrespondenceState
//   'p' school 0x00 service             -> agreement_id in force between them
//   'r' referral_id                     -> DeadlineReferralState
// Ids never contain 0x00 (the domain's ids are [A-Za-z0-9._:-]).
//
// An overdue_flagged event marks the item it names (same kind, id and due
// date) as flagged (and escalated); an item that moved or went is left
// alone.

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "projections/projection.h"
#include "storage/event_log.h"
#include "ycr/v1/read_models.pb.h"

namespace ycr::projections {

class DeadlinesProjection : public Projection {
 public:
  // 2: overdue flags. 3: dates of birth from the sealed personal record;
  // erasure drops the retention review. 4: an amendment no longer re-dates
  // answers to letters received before it (DeadlineAgreementState's
  // open_correspondence is no longer kept).
  static constexpr uint32_t kCodeVersion = 5;

  // `log` (for subject records' dates of birth) must outlive it.
  explicit DeadlinesProjection(storage::EventLog* log) : log_(log) {}

  const std::string& name() const override;
  uint32_t code_version() const override { return kCodeVersion; }
  absl::Status Apply(const v1::RecordedEvent& event,
                     storage::ProjectionBatch& batch) override;

 private:
  storage::EventLog* const log_;
};

// The item of `kind` about `id`, if one is owed.
absl::StatusOr<std::optional<v1::DeadlineItem>> FindItem(
    storage::ProjectionStore& store, uint32_t generation,
    v1::DeadlineItem::Kind kind, const std::string& id);

// Items due at or before `by`, earliest first, at most `limit`, owed by
// `organisation` (empty: by anyone), from `page_token` (empty: the start).
// `next_page_token` is empty when there is no more.
absl::Status ListDue(storage::ProjectionStore& store, uint32_t generation,
                     absl::Time by, const std::string& organisation,
                     const std::string& page_token, size_t limit,
                     std::vector<v1::DeadlineItem>* out,
                     std::string* next_page_token);

}  // namespace ycr::projections
