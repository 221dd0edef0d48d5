#include "domain/retention_rules.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "domain/erasure_rules.h"
#include "domain/refusals.h"

namespace ycr::domain {

absl::CivilDay KeptReviewDay(const std::optional<absl::CivilDay>& date_of_birth,
                             absl::Time erased_at) {
  const absl::CivilDay from =
      date_of_birth.has_value()
          ? *date_of_birth
          : absl::ToCivilDay(erased_at, absl::UTCTimeZone());
  // 29 February + 25 years normalises to 1 March.
  return absl::CivilDay(from.year() + kChildProtectionRetentionYears,
                        from.month(), from.day());
}

std::string KeptReviewNote(absl::CivilDay day) {
  return absl::FormatCivilTime(day);
}

std::optional<absl::Time> ParseKeptReviewNote(const std::string& note) {
  absl::CivilDay day;
  if (note.size() != 10 || !absl::ParseCivilTime(note, &day)) {
    return std::nullopt;
  }
  return absl::FromCivil(day, absl::UTCTimeZone());
}

v1::EventPayload KeptEvent(const std::string& subject_id,
                           std::vector<std::string> keepers,
                           absl::CivilDay review) {
  std::sort(keepers.begin(), keepers.end());
  keepers.erase(std::unique(keepers.begin(), keepers.end()), keepers.end());
  v1::EventPayload event;
  event.mutable_child_protection_kept()->set_subject_id(subject_id);
  for (std::string& org : keepers) {
    event.mutable_child_protection_kept()->add_keepers(std::move(org));
  }
  event.mutable_personal()->set_subject_id(subject_id);
  event.mutable_personal()->set_notes(KeptReviewNote(review));
  return event;
}

std::vector<std::string> KeepersOf(const v1::ChildProtectionKept& kept) {
  std::vector<std::string> out(kept.keepers().begin(), kept.keepers().end());
  if (!kept.organisation().empty()) out.push_back(kept.organisation());
  return out;
}

absl::Status ValidateRetentionReview(const v1::ChildProtectionReviewed& review,
                                     absl::Time now) {
  if (!v1::RetentionDecision_IsValid(review.decision()) ||
      review.decision() == v1::RETENTION_DECISION_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "decision: must be RETENTION_DECISION_DESTROY or "
        "RETENTION_DECISION_KEEP");
  }
  if (!v1::RetentionKeepReason_IsValid(review.keep_reason())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "keep_reason: ", review.keep_reason(), " is not a known reason"));
  }
  if (review.decision() == v1::RETENTION_DECISION_DESTROY) {
    if (review.has_next_review_at() ||
        review.keep_reason() != v1::RETENTION_KEEP_REASON_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          "next_review_at: a DESTROY sets no next review and no keep_reason");
    }
    return absl::OkStatus();
  }
  if (review.keep_reason() == v1::RETENTION_KEEP_REASON_UNSPECIFIED) {
    return FieldRequired("keep_reason", " (why the records are kept)");
  }
  if (!review.has_next_review_at()) {
    return FieldRequired("next_review_at", " (when to review again)");
  }
  const absl::Time next = FromProtoTime(review.next_review_at());
  const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  const absl::Time latest = absl::FromCivil(
      absl::CivilDay(today.year() + kMaxKeepYears, today.month(), today.day()),
      absl::UTCTimeZone());
  if (next <= now || next > latest) {
    return absl::InvalidArgumentError(
        absl::StrCat("next_review_at: must be after now and at most ",
                     kMaxKeepYears, " years ahead"));
  }
  return absl::OkStatus();
}

absl::StatusOr<const KeptRecord*> CallersKeptRecord(
    const SubjectView& view, const v1::Actor& caller,
    const std::string& subject) {
  auto it = view.kept.find(caller.organisation());
  if (it == view.kept.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "retention rule: ", caller.organisation(),
        " keeps no child-protection record about subject ", subject,
        " past an erasure; only the organisation that keeps one reviews it"));
  }
  return &it->second;
}

absl::Status RequireReviewDue(const std::string& subject, absl::Time due,
                              absl::Time now) {
  if (now >= due) return absl::OkStatus();
  return InvalidState(
      "RETENTION_REVIEW", Cited("subject_id", subject),
      absl::StrCat("retention rule: the kept child-protection records about "
                   "subject ",
                   subject, " are kept until their review on ",
                   absl::FormatTime("%Y-%m-%d", due, absl::UTCTimeZone()),
                   "; no decision is taken before it is due"));
}

}  // namespace ycr::domain
