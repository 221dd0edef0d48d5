// Erasure and legal holds: DomainCommands::EraseSubject, PlaceLegalHold and
// LiftLegalHold (declared in domain_commands.h), on the subject stream.

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "domain/erasure_rules.h"
#include "domain/field_checks.h"
#include "domain/retention_rules.h"
#include "services/domain_commands.h"
#include "services/security/access_policy.h"

namespace ycr::services {
namespace {

// What an erasure decides on. Everything read is a condition of the
// append: a concern raised, or a safeguarding disclosure recorded, while
// the erasure is decided makes it decide again, so an erasure and a new
// child-protection record are never both acknowledged with the record's
// facts erased (the new record's organisation is then kept, or the erasure
// refused if it is the holder's).
absl::StatusOr<domain::ErasureFacts> LoadErasureFacts(
    storage::EventLog& log, CommandAttempt& attempt,
    const domain::SubjectView& view, const v1::SubjectRecord* record,
    const std::string& subject) {
  domain::ErasureFacts facts;
  for (const auto& [id, organisation] : view.holds) facts.holds.push_back(id);
  const std::string key = domain::SubjectChildProtectionKey(subject);
  ASSIGN_OR_RETURN(std::optional<std::string> concerns, log.GetRecord(key));
  attempt.DependOnRecord(key, concerns);
  // Every concern and safeguarding disclosure marks its organisation there
  // (CommandAttempt::MarkChildProtection), in the write that records it.
  facts.child_protection_by = domain::ChildProtectionHolders(concerns);
  absl::CivilDay dob;
  if (record != nullptr &&
      absl::ParseCivilTime(record->date_of_birth(), &dob)) {
    facts.date_of_birth = dob;
  }
  return facts;
}

}  // namespace

absl::StatusOr<DomainCommands::ErasureOutcome> DomainCommands::EraseSubject(
    const v1::Actor& caller, const std::string& request_id,
    const std::string& subject_id, const std::string& request_ref,
    v1::ErasureGround refuse_on) {
  v1::EventPayload event;
  if (refuse_on == v1::ERASURE_GROUND_UNSPECIFIED) {
    event.mutable_subject_erased()->set_subject_id(subject_id);
    event.mutable_subject_erased()->set_request_ref(request_ref);
  } else {
    event.mutable_erasure_refused()->set_subject_id(subject_id);
    event.mutable_erasure_refused()->set_request_ref(request_ref);
    event.mutable_erasure_refused()->set_ground(refuse_on);
  }
  Target target{"subject", subject_id, false, false, std::nullopt};
  ASSIGN_OR_RETURN(
      storage::AppendResult append,
      Execute<domain::SubjectView>(
          caller, request_id, target, std::move(event),
          domain::ApplySubjectEvent,
          [&](const domain::SubjectView& view, CommandAttempt& attempt,
              v1::EventPayload* e) -> absl::Status {
            ASSIGN_OR_RETURN(std::optional<v1::SubjectRecord> record,
                             LoadSubjectRecord(subject_id));
            const v1::SubjectRecord* current =
                record.has_value() ? &*record : nullptr;
            ASSIGN_OR_RETURN(
                domain::ErasureFacts facts,
                LoadErasureFacts(*log_, attempt, view, current, subject_id));
            RETURN_IF_ERROR(domain::DecideErasure(current, view, facts, caller,
                                                  attempt.now(), e,
                                                  &attempt.erase_retaining()));
            if (!e->has_subject_erased()) return absl::OkStatus();
            // The skeleton stays (holder, revision: the audit trail's
            // access rule needs the holder); the personal fields, the salt
            // of the request digests and the key go.
            v1::SubjectRecord skeleton =
                domain::SplitSubjectRecord(*current).skeleton;
            skeleton.set_erased(true);
            skeleton.set_revision(view.version + 1);
            *skeleton.mutable_updated_at() = ToProtoTime(attempt.now());
            auto& records = attempt.records();
            records.push_back({domain::SubjectRecordKey(subject_id),
                               skeleton.SerializeAsString()});
            records.push_back(
                {domain::SubjectPersonalKey(subject_id), "", "", true});
            records.push_back(
                {domain::SubjectSaltKey(subject_id), "", "", true});
            attempt.erase_subjects().push_back(subject_id);
            // One record of the review date whatever was kept, so the log's
            // head tells the holder nothing (it counted the keepers when
            // each had its own). The date is sealed under the kept-reviews
            // key, kept with the keepers' keys; with none kept, the erasure
            // destroys it in this same write (the date derives from the
            // date of birth, and must go with the records).
            const absl::CivilDay review =
                domain::KeptReviewDay(facts.date_of_birth, attempt.now());
            attempt.extra_events().push_back(domain::KeptEvent(
                subject_id, attempt.erase_retaining(), review));
            if (!attempt.erase_retaining().empty()) {
              attempt.erase_retaining().push_back(storage::kKeptReviewsOwner);
            }
            return absl::OkStatus();
          }));
  // What was decided (also for a retry): the recorded event says.
  ASSIGN_OR_RETURN(storage::LogSlice slice,
                   log_->ReadAll(append.first_position, 1, {}));
  ErasureOutcome outcome{append, false, v1::ERASURE_GROUND_UNSPECIFIED};
  if (!slice.events.empty()) {
    // The answer names the erasure's own event, never the kept-reviews
    // record after it (written by every erasure, but auditors' alone).
    outcome.append.last_position = outcome.append.first_position;
    outcome.append.stream_version = slice.events[0].stream_version();
    const v1::EventPayload& p = slice.events[0].payload();
    outcome.erased = p.has_subject_erased();
    outcome.refused_on = p.erasure_refused().ground();
  }
  return outcome;
}

absl::StatusOr<storage::AppendResult> DomainCommands::PlaceLegalHold(
    const v1::Actor& caller, const std::string& request_id,
    v1::LegalHoldPlaced hold, v1::PersonalData personal) {
  const std::string subject = hold.subject_id();
  RETURN_IF_ERROR(domain::ValidId(subject, "hold.subject_id"));
  v1::EventPayload event;
  *event.mutable_legal_hold_placed() = std::move(hold);
  *event.mutable_personal() = std::move(personal);
  return OnSubject(
      caller, request_id, subject, std::move(event),
      [&](const domain::SubjectView& view, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<v1::SubjectRecord> record,
                         LoadSubjectRecord(subject));
        // A local authority's hold depends on the holder's area (which may
        // not move until the hold is recorded).
        std::string holder_area;
        if (record.has_value() && caller.role() == kLocalAuthorityRole) {
          ASSIGN_OR_RETURN(domain::AreaView area,
                           attempt.DependOnArea(record->holder()));
          holder_area = area.local_authority;
        }
        attempt.set_personal_subject(subject);
        return domain::DecidePlaceHold(record.has_value() ? &*record : nullptr,
                                       holder_area, view, caller, e);
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::LiftLegalHold(
    const v1::Actor& caller, const std::string& request_id,
    const std::string& subject_id, const std::string& hold_id) {
  RETURN_IF_ERROR(domain::ValidId(subject_id, "subject_id"));
  v1::EventPayload event;
  event.mutable_legal_hold_lifted()->set_subject_id(subject_id);
  event.mutable_legal_hold_lifted()->set_hold_id(hold_id);
  return OnSubject(caller, request_id, subject_id, std::move(event),
                   [&](const domain::SubjectView& view, CommandAttempt&,
                       v1::EventPayload* e) -> absl::Status {
                     return domain::DecideLiftHold(view, caller, *e);
                   });
}

}  // namespace ycr::services
