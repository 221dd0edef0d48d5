// The review of child-protection records kept past an erasure:
// DomainCommands::ReviewRetention, ReviewDue and ListRetentionReviews
// (declared in domain_commands.h; rules in domain/retention_rules.h).

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "domain/field_checks.h"
#include "domain/retention_rules.h"
#include "services/domain_commands.h"
#include "services/security/access_policy.h"

namespace ycr::services {
namespace {

// The kept records' events: the erasure's and the reviews'.
storage::LogFilter RetentionEvents() {
  storage::LogFilter filter;
  filter.stream_prefix = "subject-";
  filter.event_types = {"child_protection_kept", "child_protection_reviewed"};
  return filter;
}

}  // namespace

absl::StatusOr<std::optional<absl::Time>> DomainCommands::ReviewDue(
    const domain::KeptRecord& kept) {
  if (kept.next_review.has_value()) return *kept.next_review;
  ASSIGN_OR_RETURN(storage::LogSlice slice,
                   log_->ReadAll(kept.kept_position, 1, {}));
  if (slice.events.empty() ||
      slice.events[0].position() != kept.kept_position) {
    return absl::DataLossError(absl::StrCat("the kept record at position ",
                                            kept.kept_position, " is missing"));
  }
  RETURN_IF_ERROR(log_->RevealPersonal(&slice.events[0]));
  // Destroyed since the view was read (a review that raced this one).
  if (slice.events[0].payload().personal().erased()) return std::nullopt;
  std::optional<absl::Time> due =
      domain::ParseKeptReviewNote(slice.events[0].payload().personal().notes());
  if (!due.has_value()) {
    return absl::DataLossError(absl::StrCat("the kept record at position ",
                                            kept.kept_position,
                                            " holds no review date"));
  }
  return *due;
}

absl::StatusOr<storage::AppendResult> DomainCommands::ReviewRetention(
    const v1::Actor& caller, const std::string& request_id,
    v1::ChildProtectionReviewed review) {
  const std::string subject = review.subject_id();
  RETURN_IF_ERROR(domain::ValidId(subject, "subject_id"));
  review.set_organisation(caller.organisation());
  v1::EventPayload event;
  *event.mutable_child_protection_reviewed() = std::move(review);
  ASSIGN_OR_RETURN(
      storage::AppendResult result,
      OnSubject(
          caller, request_id, subject, std::move(event),
          [&](const domain::SubjectView& view, CommandAttempt& attempt,
              v1::EventPayload* e) -> absl::Status {
            const v1::ChildProtectionReviewed& r =
                e->child_protection_reviewed();
            RETURN_IF_ERROR(domain::ValidateRetentionReview(r, attempt.now()));
            ASSIGN_OR_RETURN(const domain::KeptRecord* kept,
                             domain::CallersKeptRecord(view, caller, subject));
            ASSIGN_OR_RETURN(std::optional<absl::Time> due, ReviewDue(*kept));
            if (!due.has_value()) {
              // As for any organisation that keeps nothing.
              return domain::CallersKeptRecord(domain::SubjectView(), caller,
                                               subject)
                  .status();
            }
            RETURN_IF_ERROR(
                domain::RequireReviewDue(subject, *due, attempt.now()));
            if (r.decision() != v1::RETENTION_DECISION_DESTROY) {
              return absl::OkStatus();
            }
            // Destroys the caller's key alone: every other organisation's kept
            // key is named as kept (those the erasure kept, and any other that
            // ever marked a child-protection record, to be sure).
            const std::string key = domain::SubjectChildProtectionKey(subject);
            ASSIGN_OR_RETURN(std::optional<std::string> marks,
                             log_->GetRecord(key));
            attempt.DependOnRecord(key, marks);
            std::vector<std::string> others;
            for (const std::string& org :
                 domain::ChildProtectionHolders(marks)) {
              if (org != caller.organisation()) others.push_back(org);
            }
            // The mark goes too, so the store no longer says that the caller
            // held such a record.
            if (marks.has_value()) {
              attempt.records().push_back(
                  others.empty()
                      ? storage::RecordWrite(key, "", "", true)
                      : storage::RecordWrite(key, absl::StrJoin(others, "\n")));
            }
            bool others_keep = false;
            for (const auto& [org, unused] : view.kept) {
              if (org == caller.organisation()) continue;
              others_keep = true;
              if (std::find(others.begin(), others.end(), org) ==
                  others.end()) {
                others.push_back(org);
              }
            }
            // The review date goes with the last keeper's records.
            if (others_keep) others.push_back(storage::kKeptReviewsOwner);
            attempt.erase_subjects().push_back(subject);
            attempt.erase_retaining() = std::move(others);
            return absl::OkStatus();
          }));
  // The subject's stream holds every keeping organisation's records and
  // reviews: its version would count the others' (that another
  // organisation kept a child-protection record), so the answer names
  // none. Nothing takes an expected version of that stream.
  result.stream_version = 0;
  return result;
}

absl::StatusOr<v1::RetentionReviewsResponse>
DomainCommands::ListRetentionReviews(const v1::Actor& caller, absl::Time as_of,
                                     uint32_t limit) {
  struct Kept {
    domain::KeptRecord record;
    bool destroyed = false;
  };
  // (subject, organisation) -> its kept record, from the log to its head.
  std::map<std::pair<std::string, std::string>, Kept> kept;
  const bool everyone = caller.role() == kAuditorRole;
  const storage::LogFilter filter = RetentionEvents();
  uint64_t from = 1;
  while (true) {
    ASSIGN_OR_RETURN(storage::LogSlice slice, log_->ReadAll(from, 0, filter));
    for (const v1::RecordedEvent& event : slice.events) {
      const v1::EventPayload& p = event.payload();
      if (p.has_child_protection_kept()) {
        const v1::ChildProtectionKept& k = p.child_protection_kept();
        for (const std::string& org : domain::KeepersOf(k)) {
          if (!everyone && org != caller.organisation()) continue;
          Kept& entry = kept[{k.subject_id(), org}];
          entry.record.kept_position = event.position();
          entry.record.kept_at = FromProtoTime(event.recorded_at());
        }
      } else if (p.has_child_protection_reviewed()) {
        const v1::ChildProtectionReviewed& r = p.child_protection_reviewed();
        auto it = kept.find({r.subject_id(), r.organisation()});
        if (it == kept.end()) continue;
        if (r.decision() == v1::RETENTION_DECISION_DESTROY) {
          it->second.destroyed = true;
        } else {
          it->second.record.next_review = FromProtoTime(r.next_review_at());
          it->second.record.keep_reason = r.keep_reason();
        }
      }
    }
    if (slice.reached_end) break;
    from = slice.next_position;
  }
  std::vector<v1::RetentionReview> due;
  for (const auto& [id, entry] : kept) {
    if (entry.destroyed) continue;
    ASSIGN_OR_RETURN(std::optional<absl::Time> when, ReviewDue(entry.record));
    if (!when.has_value() || *when > as_of) continue;
    v1::RetentionReview& review = due.emplace_back();
    review.set_subject_id(id.first);
    review.set_organisation(id.second);
    *review.mutable_review_due() = ToProtoTime(*when);
    *review.mutable_kept_since() = ToProtoTime(entry.record.kept_at);
    review.set_keep_reason(entry.record.keep_reason);
  }
  std::sort(due.begin(), due.end(),
            [](const v1::RetentionReview& a, const v1::RetentionReview& b) {
              return std::make_tuple(FromProtoTime(a.review_due()),
                                     a.subject_id(), a.organisation()) <
                     std::make_tuple(FromProtoTime(b.review_due()),
                                     b.subject_id(), b.organisation());
            });
  v1::RetentionReviewsResponse response;
  for (v1::RetentionReview& review : due) {
    if (response.reviews_size() == static_cast<int>(limit)) {
      response.set_truncated(true);
      break;
    }
    *response.add_reviews() = std::move(review);
  }
  return response;
}

}  // namespace ycr::services
