// The command engine of domain_commands.h: one attempt of a command (its
// reads, the streams it depends on, the subject it needs), replay of a
// retried request, Execute (load, decide, append with its conditions, retry
// on a conflict) and loading the views the services show. The commands
// themselves are by area: consent_commands.cc, subject_commands.cc,
// care_commands.cc, erasure_commands.cc; command_events.cc settles a
// command's event.

#include "services/domain_commands.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/error_details.h"
#include "common/ids.h"
#include "common/proto_bytes.h"
#include "common/status_macros.h"
#include "domain/field_checks.h"
#include "domain/refusals.h"
#include "domain/sharing_rules.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "services/domain_commands_internal.h"
#include "services/security/access_policy.h"
#include "storage/record_codec.h"

namespace ycr::services {
namespace {

using internal::ApplyConsent;
using internal::ApplyReferral;
using internal::ConsentIdOf;
using internal::NoView;
using internal::OverdueView;
using internal::SameCommand;
using internal::SettlePersonal;
using internal::VersionConflict;

// Folds every event of `stream` with `apply`; a missing stream folds to the
// empty view.
template <typename View, typename ApplyFn>
absl::StatusOr<View> Fold(storage::EventLog& log, const std::string& stream,
                          ApplyFn apply) {
  View view;
  storage::ReadStreamOptions options;
  options.from_version = 1;
  for (;;) {
    absl::StatusOr<storage::StreamSlice> slice =
        log.ReadStream(stream, options);
    if (absl::IsNotFound(slice.status())) return view;
    RETURN_IF_ERROR(slice.status());
    for (const v1::RecordedEvent& e : slice->events) {
      RETURN_IF_ERROR(apply(e, &view));
    }
    if (slice->next_version == 0) return view;
    options.from_version = slice->next_version;
  }
}

}  // namespace

namespace internal {

// ABORTED VERSION_CONFLICT for the caller's expected version of `stream`,
// which is at `current` (the gRPC layer sends both as trailing metadata, as
// for a conflict the log finds).
absl::Status VersionConflict(const std::string& stream, uint64_t current,
                             absl::string_view message) {
  absl::Status status = absl::AbortedError(message);
  status.SetPayload(storage::kConflictStreamPayload, absl::Cord(stream));
  status.SetPayload(storage::kConflictVersionPayload,
                    absl::Cord(absl::StrCat(current)));
  return WithReason(std::move(status), reason::kVersionConflict);
}

absl::Status ApplyConsent(const v1::RecordedEvent& e,
                          domain::ConsentView* view) {
  if (e.payload().has_consent_granted() || e.payload().has_consent_refused()) {
    view->recorded_by = e.actor().organisation();
  }
  return domain::ApplyConsentEvent(e.payload(), e.stream_version(), view);
}

absl::Status ApplyReferral(const v1::RecordedEvent& e,
                           domain::ReferralView* view) {
  return domain::ApplyReferralEvent(e.payload(), e.stream_version(), view);
}

const std::string& ConsentIdOf(const v1::EventPayload& event) {
  switch (event.kind_case()) {
    case v1::EventPayload::kConsentGranted:
      return event.consent_granted().consent_id();
    case v1::EventPayload::kConsentRefused:
      return event.consent_refused().consent_id();
    case v1::EventPayload::kConsentVaried:
      return event.consent_varied().consent_id();
    case v1::EventPayload::kConsentWithdrawn:
      return event.consent_withdrawn().consent_id();
    default: {
      static const std::string* kNone = new std::string();
      return *kNone;
    }
  }
}

}  // namespace internal

std::string SubjectServiceKey(const std::string& subject_id,
                              const std::string& service) {
  return absl::StrCat(
      "subject-service/",
      absl::BytesToHexString(storage::Sha256(subject_id, "/" + service)));
}

// CommandAttempt

void CommandCaches::Forget(absl::string_view stream) {
  consents.Forget(stream);
  agreements.Forget(stream);
  referrals.Forget(stream);
  areas.Forget(stream);
  concerns.Forget(stream);
}

template <typename View, typename ApplyFn>
absl::StatusOr<View> CommandAttempt::Current(
    const std::string& stream, ViewCache<View> CommandCaches::*cache,
    ApplyFn apply) {
  // The command's own stream is covered by its expected version, which may
  // be ANY (a journal): never from the cache.
  const bool kept = caches_ != nullptr && stream != own_stream_;
  if (kept && !fresh_) {
    if (std::optional<View> view = (caches_->*cache).Get(stream)) {
      used_cache_ = true;
      return *std::move(view);
    }
  }
  ASSIGN_OR_RETURN(View view, Fold<View>(*log_, stream, apply));
  if (kept) (caches_->*cache).Put(stream, view);
  return view;
}

absl::StatusOr<domain::ConsentView> CommandAttempt::DependOnConsent(
    const std::string& id) {
  const std::string stream = "consent-" + id;
  ASSIGN_OR_RETURN(domain::ConsentView view,
                   Current(stream, &CommandCaches::consents, ApplyConsent));
  Depend(stream, view.version);
  return view;
}

absl::StatusOr<domain::AgreementView> CommandAttempt::DependOnAgreement(
    const std::string& id) {
  const std::string stream = "agreement-" + id;
  ASSIGN_OR_RETURN(
      domain::AgreementView view,
      Current(stream, &CommandCaches::agreements, domain::ApplyAgreementEvent));
  Depend(stream, view.version);
  return view;
}

absl::StatusOr<domain::ReferralView> CommandAttempt::DependOnReferral(
    const std::string& id) {
  const std::string stream = "referral-" + id;
  ASSIGN_OR_RETURN(domain::ReferralView view,
                   Current(stream, &CommandCaches::referrals, ApplyReferral));
  Depend(stream, view.version);
  return view;
}

absl::StatusOr<domain::AreaView> CommandAttempt::DependOnArea(
    const std::string& organisation) {
  const std::string stream = "area-" + organisation;
  ASSIGN_OR_RETURN(domain::AreaView view, Current(stream, &CommandCaches::areas,
                                                  domain::ApplyAreaEvent));
  Depend(stream, view.version);
  return view;
}

void CommandAttempt::Depend(const std::string& stream, uint64_t version) {
  if (stream == own_stream_) return;
  conditions_.push_back({stream, storage::ExpectedVersion::Exact(version)});
}

absl::Status CommandAttempt::RequireSubject(const std::string& subject_id,
                                            const v1::Actor& caller,
                                            const std::string& holder_partner) {
  RETURN_IF_ERROR(domain::ValidId(subject_id, "subject_id"));
  ASSIGN_OR_RETURN(std::optional<std::string> record,
                   log_->GetRecord(SubjectRecordKey(subject_id)));
  if (!record.has_value()) {
    return absl::NotFoundError(absl::StrCat(
        "subject ", subject_id,
        " does not exist (create its record with Subjects.PutRecord)"));
  }
  v1::SubjectRecord skeleton;
  if (!skeleton.ParseFromString(*record)) {
    return absl::DataLossError(
        absl::StrCat("subject ", subject_id, ": its record does not parse"));
  }
  // Only to an organisation entitled to act on the subject: that the
  // subject was erased is not another organisation's to learn.
  const absl::Status erased =
      skeleton.erased()
          ? domain::SubjectErased(
                subject_id,
                absl::StrCat("erasure rule: subject ", subject_id,
                             " was erased; nothing more is recorded about "
                             "them"))
          : absl::OkStatus();
  if (skeleton.holder() == caller.organisation()) return erased;
  // A school records only about its own pupils: those whose record it
  // holds.
  if (caller.role() == kSchoolRole) {
    // Which school holds the record is not said (README, "Who sees what").
    return absl::PermissionDeniedError(absl::StrCat(
        "school rule: a school records only about its own pupils; subject ",
        subject_id,
        "'s record is held by another organisation, the caller "
        "acts for ",
        caller.organisation()));
  }
  // A service records only about young carers referred to it (or whose
  // record it holds itself): one of the referrals the mark lists must not
  // have been entered in error (and may not be, until the append).
  if (caller.role() == kServiceRole &&
      (holder_partner.empty() || skeleton.holder() != holder_partner)) {
    ASSIGN_OR_RETURN(
        std::optional<std::string> referred,
        log_->GetRecord(SubjectServiceKey(subject_id, caller.organisation())));
    if (referred.has_value()) {
      for (absl::string_view id : absl::StrSplit(*referred, ',')) {
        const std::string stream = absl::StrCat("referral-", id);
        ASSIGN_OR_RETURN(
            domain::ReferralView referral,
            Current(stream, &CommandCaches::referrals, ApplyReferral));
        if (referral.state != v1::REFERRAL_STATE_ENTERED_IN_ERROR) {
          Depend(stream, referral.version);
          return erased;
        }
      }
    }
    const std::string why =
        referred.has_value()
            ? absl::StrCat("every referral of subject ", subject_id, " to ",
                           caller.organisation(), " was entered in error")
            : absl::StrCat("no referral of subject ", subject_id,
                           " was sent to ", caller.organisation());
    return absl::PermissionDeniedError(
        absl::StrCat("service rule: a service records only about young "
                     "carers referred to it; ",
                     why));
  }
  return erased;
}

absl::Status CommandAttempt::CheckConcern(const std::string& concern_id,
                                          const std::string& subject_id,
                                          const v1::Actor& caller,
                                          absl::string_view field) {
  if (concern_id.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(domain::ValidId(concern_id, field));
  // Concern ids are the caller's organisation's own: another
  // organisation's concern under the same id is another stream, and answers
  // as a missing one (its existence is confidential: README, "Who sees
  // what").
  const std::string stream =
      domain::ConcernStream(caller.organisation(), concern_id);
  ASSIGN_OR_RETURN(domain::ConcernView concern,
                   Current(stream, &CommandCaches::concerns,
                           domain::ApplySafeguardingEvent));
  // (FAILED_PRECONDITION REFERENCE_NOT_FOUND: the command cites it; the
  // same details either way.)
  if (concern.version == 0 ||
      concern.raised.organisation() != caller.organisation()) {
    return domain::ReferenceNotFound(
        "CONCERN", "concern_id", concern_id,
        absl::StrCat(field, ": no concern ", concern_id,
                     " raised by the caller's organisation"));
  }
  if (concern.raised.subject_id() != subject_id) {
    return domain::InvalidState(
        "CONCERN", domain::Cited("concern_id", concern_id),
        absl::StrCat("safeguarding rule: concern ", concern_id,
                     " is not about ", subject_id));
  }
  Depend(stream, concern.version);
  return absl::OkStatus();
}

absl::Status CommandAttempt::MarkChildProtection(
    const std::string& subject_id, const std::string& organisation) {
  const std::string key = domain::SubjectChildProtectionKey(subject_id);
  ASSIGN_OR_RETURN(std::optional<std::string> holders, log_->GetRecord(key));
  DependOnRecord(key, holders);
  std::string marked = domain::AddChildProtectionHolder(holders, organisation);
  // Already marked (every later disclosure of the same concern): the
  // condition alone keeps the append ordered with an erasure.
  if (holders != marked) records_.push_back({key, std::move(marked)});
  return absl::OkStatus();
}

absl::Status CommandAttempt::CoverDisclosure(v1::DisclosureRecorded* d,
                                             const v1::Actor& caller) {
  if (d->has_safeguarding()) {
    return CheckConcern(d->safeguarding().concern_id(), d->subject_id(), caller,
                        "safeguarding.concern_id");
  }
  if (!d->has_consent()) return absl::OkStatus();
  RETURN_IF_ERROR(
      domain::ValidId(d->consent().consent_id(), "consent.consent_id"));
  ASSIGN_OR_RETURN(domain::ConsentView consent,
                   DependOnConsent(d->consent().consent_id()));
  if (consent.version == 0 || consent.subject_id != d->subject_id()) {
    // Cited, not addressed: FAILED_PRECONDITION (a NOT_FOUND would read as
    // "no such referral" on a referral call). A consent about another child
    // answers as one that does not exist: its decision and version are not
    // the caller's to learn.
    return domain::ReferenceNotFound(
        "CONSENT", "consent_id", d->consent().consent_id(),
        absl::StrCat("consent.consent_id: no consent ",
                     d->consent().consent_id(), " about subject ",
                     d->subject_id()));
  }
  domain::ProposedDisclosure proposed;
  proposed.subject_id = d->subject_id();
  proposed.to = d->to();
  proposed.purpose = d->purpose();
  for (int c : d->categories()) {
    proposed.categories.push_back(static_cast<v1::DataCategory>(c));
  }
  proposed.at = now_;
  RETURN_IF_ERROR(domain::CheckConsentCovers(consent, proposed));
  // The version that covered it; the append requires it still current.
  d->mutable_consent()->set_consent_version(consent.version);
  return absl::OkStatus();
}

// The engine

std::string CommandEventId(absl::string_view organisation,
                           absl::string_view request_id) {
  return NameUuid(absl::StrCat("ycr-request", std::string(1, '\0'),
                               organisation, std::string(1, '\0'),
                               absl::AsciiStrToLower(request_id)));
}

absl::StatusOr<std::optional<storage::AppendResult>> DomainCommands::Replay(
    const storage::AppendRequest& request, const std::string& request_id) {
  const v1::ProposedEvent& asked = request.events.front();
  ASSIGN_OR_RETURN(std::optional<uint64_t> position,
                   log_->LookupEventId(asked.event_id()));
  if (!position.has_value()) return std::optional<storage::AppendResult>();
  ASSIGN_OR_RETURN(storage::LogSlice slice,
                   log_->ReadAll(*position, 1, storage::LogFilter()));
  if (slice.events.empty() || slice.events[0].position() != *position) {
    return absl::DataLossError(
        absl::StrCat("event at position ", *position, " is missing"));
  }
  v1::RecordedEvent stored = std::move(slice.events[0]);
  RETURN_IF_ERROR(log_->RevealPersonal(&stored));
  // The event id is the caller's organisation's, so whoever sent it first
  // is of that organisation: a colleague's retry is the same request.
  if (stored.stream() != request.stream ||
      !SameCommand(stored.payload(), asked.payload()) ||
      stored.actor().organisation() != request.actor.organisation()) {
    return WithReason(
        absl::AlreadyExistsError(absl::StrCat(
            "request_id ", request_id,
            " was already used by the caller's organisation for a different "
            "command; send a new request id for a new command")),
        reason::kRequestIdReused);
  }
  return std::optional<storage::AppendResult>(storage::AppendResult{
      *position, *position, stored.stream_version(), true});
}

template <typename View>
absl::StatusOr<storage::AppendResult> DomainCommands::Execute(
    const v1::Actor& caller, const std::string& request_id,
    const Target& target, v1::EventPayload event, Apply<View> apply,
    Decide<View> decide) {
  const std::string id_field = target.kind == "sharing" ? "subject_id"
                               : target.kind == "safeguarding"
                                   ? "concern_id"
                                   : target.kind + "_id";
  RETURN_IF_ERROR(domain::ValidId(target.id, id_field));
  if (!IsUuid(request_id)) {
    return absl::InvalidArgumentError("request_id: must be a UUID");
  }
  // The command as asked: Replay compares with it, and each attempt's append
  // is made from it.
  storage::AppendRequest asked;
  asked.stream = target.stream.empty()
                     ? absl::StrCat(target.kind, "-", target.id)
                     : target.stream;
  asked.actor = caller;
  v1::ProposedEvent& proposed = asked.events.emplace_back();
  proposed.set_event_id(CommandEventId(caller.organisation(), request_id));
  *proposed.mutable_payload() = std::move(event);
  ASSIGN_OR_RETURN(auto replayed, Replay(asked, request_id));
  if (replayed.has_value()) return *replayed;
  const std::string& stream = asked.stream;
  const v1::EventPayload& asked_event = proposed.payload();

  // Views of other streams come from the caches until a refusal made on
  // them sends the command to decide again on fresh ones (view_cache.h).
  bool fresh = false;
  for (int attempt_no = 0;; ++attempt_no) {
    View view;
    uint64_t version = 0;
    if (!target.journal) {
      ASSIGN_OR_RETURN(view, Fold<View>(*log_, stream, apply));
      version = view.version;
      if (target.expected_version.has_value() &&
          *target.expected_version != version) {
        // The case's rules answer a caller who may not act on it before its
        // version would: a stale version must not tell a stranger how many
        // steps another organisation's case has had.
        CommandAttempt scratch(log_, clock_->Now(), stream);
        v1::EventPayload tried = asked_event;
        if (absl::Status refused = decide(view, scratch, &tried);
            absl::IsPermissionDenied(refused)) {
          return refused;
        }
        return VersionConflict(
            stream, version,
            absl::StrCat(target.kind, " ", target.id, " is at version ",
                         version, ", expected ", *target.expected_version,
                         "; read it again and retry"));
      }
      if (version == 0 && !target.creates) {
        return absl::NotFoundError(
            absl::StrCat(target.kind, " ", target.id, " does not exist"));
      }
    }
    CommandAttempt attempt(log_, clock_->Now(), stream, &caches_, fresh);
    v1::EventPayload decided = asked_event;
    absl::Status decision = decide(view, attempt, &decided);
    if (decision.ok()) {
      decision = SettlePersonal(attempt.personal_subject(), &decided);
    }
    if (!decision.ok()) {
      if (!attempt.used_cache()) return decision;
      fresh = true;
      continue;
    }
    if (const size_t bytes = decided.ByteSizeLong(); bytes > kMaxEventBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "request: the event would be ", bytes, " bytes, more than ",
          kMaxEventBytes, "; shorten the free text"));
    }
    storage::AppendRequest request;
    request.stream = stream;
    request.actor = caller;
    v1::ProposedEvent& own = request.events.emplace_back();
    own.set_event_id(proposed.event_id());
    *own.mutable_payload() = std::move(decided);
    // Events the decision adds after its own (an erasure's kept records),
    // with ids derived from the command's, so a retry makes the same ones.
    for (v1::EventPayload& extra : attempt.extra_events()) {
      v1::ProposedEvent& added = request.events.emplace_back();
      added.set_event_id(NameUuid(
          absl::StrCat(proposed.event_id(), "/", request.events.size() - 1)));
      *added.mutable_payload() = std::move(extra);
    }
    request.expected = target.journal
                           ? storage::ExpectedVersion::Any()
                           : storage::ExpectedVersion::Exact(version);
    request.conditions = std::move(attempt.conditions());
    request.record_conditions = std::move(attempt.record_conditions());
    request.records = std::move(attempt.records());
    request.erase_subjects = std::move(attempt.erase_subjects());
    request.erase_retaining = std::move(attempt.erase_retaining());
    absl::StatusOr<storage::AppendResult> result =
        log_->Append(std::move(request));
    if (absl::IsAlreadyExists(result.status())) {
      // The same request, sent again while its first copy was in flight,
      // landed first (decided at another instant): a retry, if it matches.
      ASSIGN_OR_RETURN(auto again, Replay(asked, request_id));
      if (again.has_value()) return *again;
      return result;
    }
    const auto conflict =
        result.status().GetPayload(storage::kConflictStreamPayload);
    // A stream read that moved is read afresh from now on.
    if (absl::IsAborted(result.status()) && conflict.has_value()) {
      caches_.Forget(std::string(*conflict));
    }
    if (!absl::IsAborted(result.status()) || attempt_no + 1 == kMaxAttempts) {
      return result;
    }
    // The caller's expected version speaks for its own stream only: another
    // stream read moving is decided again.
    if (target.expected_version.has_value() &&
        (!conflict.has_value() || std::string(*conflict) == stream)) {
      return result;
    }
  }
}

absl::StatusOr<storage::AppendResult> DomainCommands::OnSubject(
    const v1::Actor& caller, const std::string& request_id,
    const std::string& subject_id, v1::EventPayload event,
    Decide<domain::SubjectView> decide) {
  Target target{"subject", subject_id, false, false, std::nullopt};
  return Execute<domain::SubjectView>(caller, request_id, target,
                                      std::move(event),
                                      domain::ApplySubjectEvent, decide);
}

// Loads

absl::StatusOr<domain::ConsentView> DomainCommands::LoadConsent(
    const std::string& consent_id) {
  return Fold<domain::ConsentView>(*log_, "consent-" + consent_id,
                                   ApplyConsent);
}

absl::StatusOr<domain::ReferralView> DomainCommands::LoadReferral(
    const std::string& referral_id) {
  return Fold<domain::ReferralView>(*log_, "referral-" + referral_id,
                                    ApplyReferral);
}

absl::StatusOr<domain::InterventionView> DomainCommands::LoadIntervention(
    const std::string& id) {
  return Fold<domain::InterventionView>(*log_, "intervention-" + id,
                                        domain::ApplyInterventionEvent);
}

absl::StatusOr<domain::AgreementView> DomainCommands::LoadAgreement(
    const std::string& id) {
  return Fold<domain::AgreementView>(*log_, "agreement-" + id,
                                     domain::ApplyAgreementEvent);
}

absl::StatusOr<domain::CorrespondenceView> DomainCommands::LoadCorrespondence(
    const std::string& id) {
  return Fold<domain::CorrespondenceView>(*log_, "correspondence-" + id,
                                          domain::ApplyCorrespondenceEvent);
}

absl::StatusOr<domain::ConcernView> DomainCommands::LoadConcern(
    const std::string& raised_by, const std::string& id) {
  return Fold<domain::ConcernView>(*log_, domain::ConcernStream(raised_by, id),
                                   domain::ApplySafeguardingEvent);
}

absl::StatusOr<std::optional<v1::SubjectRecord>>
DomainCommands::LoadSubjectRecord(const std::string& subject_id) {
  ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                   log_->GetRecord(SubjectRecordKey(subject_id)));
  if (!bytes.has_value()) return std::optional<v1::SubjectRecord>();
  v1::SubjectRecord record;
  if (!record.ParseFromString(*bytes)) {
    return absl::DataLossError(
        absl::StrCat("the record of subject ", subject_id, " is malformed"));
  }
  if (record.erased()) return std::optional<v1::SubjectRecord>(record);
  // The personal fields, opened from their sealed record (a record written
  // before they were kept apart has them in place, and no sealed part).
  ASSIGN_OR_RETURN(std::optional<std::string> personal,
                   log_->GetRecord(domain::SubjectPersonalKey(subject_id)));
  if (personal.has_value() && !record.MergeFromString(*personal)) {
    return absl::DataLossError(
        absl::StrCat("the personal part of the record of subject ", subject_id,
                     " is malformed"));
  }
  return std::optional<v1::SubjectRecord>(std::move(record));
}

absl::StatusOr<domain::AreaView> DomainCommands::LoadArea(
    const std::string& organisation) {
  return Fold<domain::AreaView>(*log_, "area-" + organisation,
                                domain::ApplyAreaEvent);
}

// Every view the commands of the other files (consent_commands.cc,
// subject_commands.cc, care_commands.cc, erasure_commands.cc) execute with.
template absl::StatusOr<storage::AppendResult>
DomainCommands::Execute<domain::ConsentView>(
    const v1::Actor& caller, const std::string& request_id,
    const Target& target, v1::EventPayload event,
    Apply<domain::ConsentView> apply, Decide<domain::ConsentView> decide);
template absl::StatusOr<storage::AppendResult>
DomainCommands::Execute<domain::ReferralView>(
    const v1::Actor& caller, const std::string& request_id,
    const Target& target, v1::EventPayload event,
    Apply<domain::ReferralView> apply, Decide<domain::ReferralView> decide);
template absl::StatusOr<storage::AppendResult>
DomainCommands::Execute<domain::SubjectView>(
    const v1::Actor& caller, const std::string& request_id,
    const Target& target, v1::EventPayload event,
    Apply<domain::SubjectView> apply, Decide<domain::SubjectView> decide);
template absl::StatusOr<storage::AppendResult>
DomainCommands::Execute<domain::InterventionView>(
    const v1::Actor& caller, const std::string& request_id,
    const Target& target, v1::EventPayload event,
    Apply<domain::InterventionView> apply,
    Decide<domain::InterventionView> decide);
template absl::StatusOr<storage::AppendResult>
DomainCommands::Execute<domain::AgreementView>(
    const v1::Actor& caller, const std::string& request_id,
    const Target& target, v1::EventPayload event,
    Apply<domain::AgreementView> apply, Decide<domain::AgreementView> decide);
template absl::StatusOr<storage::AppendResult>
DomainCommands::Execute<domain::CorrespondenceView>(
    const v1::Actor& caller, const std::string& request_id,
    const Target& target, v1::EventPayload event,
    Apply<domain::CorrespondenceView> apply,
    Decide<domain::CorrespondenceView> decide);
template absl::StatusOr<storage::AppendResult>
DomainCommands::Execute<domain::ConcernView>(
    const v1::Actor& caller, const std::string& request_id,
    const Target& target, v1::EventPayload event,
    Apply<domain::ConcernView> apply, Decide<domain::ConcernView> decide);
template absl::StatusOr<storage::AppendResult>
DomainCommands::Execute<domain::AreaView>(const v1::Actor& caller,
                                          const std::string& request_id,
                                          const Target& target,
                                          v1::EventPayload event,
                                          Apply<domain::AreaView> apply,
                                          Decide<domain::AreaView> decide);
template absl::StatusOr<storage::AppendResult>
DomainCommands::Execute<internal::NoView>(const v1::Actor& caller,
                                          const std::string& request_id,
                                          const Target& target,
                                          v1::EventPayload event,
                                          Apply<internal::NoView> apply,
                                          Decide<internal::NoView> decide);
template absl::StatusOr<storage::AppendResult>
DomainCommands::Execute<internal::OverdueView>(
    const v1::Actor& caller, const std::string& request_id,
    const Target& target, v1::EventPayload event,
    Apply<internal::OverdueView> apply, Decide<internal::OverdueView> decide);

}  // namespace ycr::services
