#include "services/domain_commands.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/error_details.h"
#include "common/ids.h"
#include "common/proto_bytes.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "domain/field_checks.h"
#include "domain/refusals.h"
#include "domain/sharing_rules.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "services/security/access_policy.h"
#include "storage/record_codec.h"

namespace ycr::services {

std::string SubjectServiceKey(const std::string& subject_id,
                              const std::string& service) {
  return absl::StrCat(
      "subject-service/",
      absl::BytesToHexString(storage::Sha256(subject_id, "/" + service)));
}

namespace {

// Referrals of one young carer to one service listed in its mark.
constexpr size_t kMaxMarkedReferrals = 64;

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

// A journal stream is not folded.
struct NoView {
  uint64_t version = 0;
};

// The flags recorded on one deadline's stream.
struct OverdueView {
  uint64_t version = 0;
  std::vector<v1::OverdueFlagged> flags;
};

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

// The text fields of PersonalData: every field but subject_id and erased,
// so a field added to it is covered without a change here.
bool IsTextField(const google::protobuf::FieldDescriptor* f) {
  return f->number() != v1::PersonalData::kSubjectIdFieldNumber &&
         f->number() != v1::PersonalData::kErasedFieldNumber;
}

// True when `p` holds any text about the person.
bool HasText(const v1::PersonalData& p) {
  std::vector<const google::protobuf::FieldDescriptor*> set;
  p.GetReflection()->ListFields(p, &set);
  return std::any_of(set.begin(), set.end(), IsTextField);
}

// Clears, in `p`, what the server decides rather than the caller: always
// for fields only the server sets, and for fields the caller may set when
// `asked` (the caller's command) left them unset. Applied to both the stored
// event and the command, a retry compares equal to its original.
void ClearDecided(v1::EventPayload* p, const v1::EventPayload& asked) {
  auto clear_consent_version = [](v1::DisclosureRecorded* d) {
    if (d->has_consent()) d->mutable_consent()->clear_consent_version();
  };
  p->clear_encrypted_personal();  // The stored form of `personal`.
  if (p->has_personal()) {
    if (!HasText(p->personal())) {
      p->clear_personal();  // Nothing personal: the command drops it.
    } else if (asked.personal().subject_id().empty()) {
      p->mutable_personal()->clear_subject_id();
    }
  }
  switch (p->kind_case()) {
    case v1::EventPayload::kConsentWithdrawn:
      if (!asked.consent_withdrawn().has_effective_at()) {
        p->mutable_consent_withdrawn()->clear_effective_at();
      }
      break;
    case v1::EventPayload::kDisclosureRecorded:
      clear_consent_version(p->mutable_disclosure_recorded());
      break;
    case v1::EventPayload::kSharingDeclined:
      if (asked.sharing_declined().organisation().empty()) {
        p->mutable_sharing_declined()->clear_organisation();
      }
      break;
    case v1::EventPayload::kReferralSubmitted:
      clear_consent_version(
          p->mutable_referral_submitted()->mutable_disclosure());
      break;
    case v1::EventPayload::kReferralTransferred:
      clear_consent_version(
          p->mutable_referral_transferred()->mutable_disclosure());
      break;
    case v1::EventPayload::kSubjectRecordChanged:
      // Made by the server from the record (PutSubjectRecord compares the
      // record itself through request_digest); the subject id identifies it.
      p->mutable_subject_record_changed()->clear_holder();
      p->mutable_subject_record_changed()->clear_changed();
      p->mutable_subject_record_changed()->clear_request_digest();
      break;
    case v1::EventPayload::kYoungCarerIdentified:
      if (asked.young_carer_identified().school().empty()) {
        p->mutable_young_carer_identified()->clear_school();
      }
      break;
    case v1::EventPayload::kInterventionPlanned:
      if (asked.intervention_planned().service().empty()) {
        p->mutable_intervention_planned()->clear_service();
      }
      break;
    case v1::EventPayload::kOutcomesRecorded:
      if (p->outcomes_recorded().has_report()) {
        clear_consent_version(p->mutable_outcomes_recorded()->mutable_report());
      }
      break;
    case v1::EventPayload::kAgreementSigned:
      if (asked.agreement_signed().party().empty()) {
        p->mutable_agreement_signed()->clear_party();
      }
      break;
    case v1::EventPayload::kAgreementReviewed:
      if (!asked.agreement_reviewed().has_reviewed_at()) {
        p->mutable_agreement_reviewed()->clear_reviewed_at();
      }
      break;
    case v1::EventPayload::kAgreementNoticeGiven:
      if (asked.agreement_notice_given().party().empty()) {
        p->mutable_agreement_notice_given()->clear_party();
      }
      p->mutable_agreement_notice_given()->clear_closing_period_ends_at();
      break;
    case v1::EventPayload::kCorrespondenceReceived: {
      auto* e = p->mutable_correspondence_received();
      if (asked.correspondence_received().to().empty()) e->clear_to();
      e->clear_agreement_version();
      e->clear_due_at();
      break;
    }
    case v1::EventPayload::kCorrespondenceAnswered:
      if (!asked.correspondence_answered().has_answered_at()) {
        p->mutable_correspondence_answered()->clear_answered_at();
      }
      break;
    case v1::EventPayload::kOverdueFlagged:
      // Server-decided: when, and who owes it to whom (from the deadline).
      p->mutable_overdue_flagged()->clear_flagged_at();
      p->mutable_overdue_flagged()->clear_owed_by();
      p->mutable_overdue_flagged()->clear_owed_to();
      break;
    case v1::EventPayload::kSubjectErased:
      p->mutable_subject_erased()->clear_holder();
      break;
    case v1::EventPayload::kErasureRefused:
      if (asked.has_subject_erased()) {
        // The server refused what was asked as an erasure.
        v1::SubjectErased as_asked;
        as_asked.set_subject_id(p->erasure_refused().subject_id());
        as_asked.set_request_ref(p->erasure_refused().request_ref());
        *p->mutable_subject_erased() = std::move(as_asked);
      } else {
        p->mutable_erasure_refused()->clear_hold_ids();
      }
      break;
    case v1::EventPayload::kLegalHoldPlaced:
      if (asked.legal_hold_placed().organisation().empty()) {
        p->mutable_legal_hold_placed()->clear_organisation();
      }
      break;
    case v1::EventPayload::kConcernRaised:
      if (asked.concern_raised().organisation().empty()) {
        p->mutable_concern_raised()->clear_organisation();
      }
      break;
    case v1::EventPayload::kDslNotified:
      if (!asked.dsl_notified().has_notified_at()) {
        p->mutable_dsl_notified()->clear_notified_at();
      }
      break;
    case v1::EventPayload::kSocialCareReferralMade: {
      auto* d = p->mutable_social_care_referral_made()->mutable_disclosure();
      clear_consent_version(d);
      const auto& asked_d = asked.social_care_referral_made().disclosure();
      if (d->has_safeguarding() &&
          asked_d.safeguarding().concern_id().empty()) {
        d->mutable_safeguarding()->clear_concern_id();
      }
      break;
    }
    default:
      break;
  }
}

// True when `stored` records the command `asked`.
bool SameCommand(v1::EventPayload stored, v1::EventPayload asked) {
  if (stored.personal().erased()) {
    // Erased since: what the text was can no longer be compared.
    stored.clear_personal();
    asked.clear_personal();
  }
  ClearDecided(&stored, asked);
  v1::EventPayload asked_cleared = asked;
  ClearDecided(&asked_cleared, asked);
  return DeterministicBytes(stored) == DeterministicBytes(asked_cleared);
}

// Checks and completes the event's personal part: it belongs to `subject`
// (refused when the event concerns no young carer), within size limits.
absl::Status SettlePersonal(const std::string& subject,
                            v1::EventPayload* event) {
  if (!event->has_personal()) return absl::OkStatus();
  v1::PersonalData* p = event->mutable_personal();
  if (!HasText(*p)) {
    event->clear_personal();
    return absl::OkStatus();
  }
  if (subject.empty()) {
    return absl::InvalidArgumentError(
        "personal: this event concerns no young carer, so it cannot carry "
        "personal data");
  }
  if (!p->subject_id().empty() && p->subject_id() != subject) {
    return absl::InvalidArgumentError(
        absl::StrCat("personal.subject_id: must be ", subject,
                     ", the young carer the event concerns"));
  }
  // Every text field, single or repeated, within the size limits.
  const google::protobuf::Reflection* r = p->GetReflection();
  const google::protobuf::Descriptor* d = p->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (!IsTextField(f) ||
        f->type() != google::protobuf::FieldDescriptor::TYPE_STRING) {
      continue;
    }
    const std::string field = absl::StrCat("personal.", f->name());
    if (!f->is_repeated()) {
      RETURN_IF_ERROR(domain::OptionalText(r->GetString(*p, f), field));
      continue;
    }
    if (r->FieldSize(*p, f) > 50) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": at most 50"));
    }
    for (int j = 0; j < r->FieldSize(*p, f); ++j) {
      RETURN_IF_ERROR(domain::RequiredText(r->GetRepeatedString(*p, f, j),
                                           absl::StrCat(field, "[]")));
    }
  }
  p->set_subject_id(subject);
  return absl::OkStatus();
}

}  // namespace

namespace {

// SHA-256(salt || the record as the caller sent it, without what the server
// sets).
std::string RecordDigest(const std::string& salt, v1::SubjectRecord record) {
  record.clear_holder();
  record.clear_revision();
  record.clear_updated_at();
  return storage::Sha256(salt, DeterministicBytes(record));
}

}  // namespace

// ---------------------------------------------------------------------------
// CommandAttempt

absl::StatusOr<domain::ConsentView> CommandAttempt::DependOnConsent(
    const std::string& id) {
  const std::string stream = "consent-" + id;
  ASSIGN_OR_RETURN(domain::ConsentView view,
                   Fold<domain::ConsentView>(*log_, stream, ApplyConsent));
  Depend(stream, view.version);
  return view;
}

absl::StatusOr<domain::AgreementView> CommandAttempt::DependOnAgreement(
    const std::string& id) {
  const std::string stream = "agreement-" + id;
  ASSIGN_OR_RETURN(
      domain::AgreementView view,
      Fold<domain::AgreementView>(*log_, stream, domain::ApplyAgreementEvent));
  Depend(stream, view.version);
  return view;
}

absl::StatusOr<domain::ReferralView> CommandAttempt::DependOnReferral(
    const std::string& id) {
  const std::string stream = "referral-" + id;
  ASSIGN_OR_RETURN(domain::ReferralView view,
                   Fold<domain::ReferralView>(*log_, stream, ApplyReferral));
  Depend(stream, view.version);
  return view;
}

absl::StatusOr<domain::AreaView> CommandAttempt::DependOnArea(
    const std::string& organisation) {
  const std::string stream = "area-" + organisation;
  ASSIGN_OR_RETURN(
      domain::AreaView view,
      Fold<domain::AreaView>(*log_, stream, domain::ApplyAreaEvent));
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
            Fold<domain::ReferralView>(*log_, stream, ApplyReferral));
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
  ASSIGN_OR_RETURN(
      domain::ConcernView concern,
      Fold<domain::ConcernView>(*log_, stream, domain::ApplySafeguardingEvent));
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
  records_.push_back(
      {key, domain::AddChildProtectionHolder(holders, organisation)});
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
  if (consent.version == 0) {
    // Cited, not addressed: FAILED_PRECONDITION (a NOT_FOUND would read as
    // "no such referral" on a referral call).
    return domain::ReferenceNotFound(
        "CONSENT", "consent_id", d->consent().consent_id(),
        absl::StrCat("consent.consent_id: consent ", d->consent().consent_id(),
                     " does not exist"));
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

// ---------------------------------------------------------------------------
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
  storage::AppendRequest request;
  request.stream = target.stream.empty()
                       ? absl::StrCat(target.kind, "-", target.id)
                       : target.stream;
  request.actor = caller;
  v1::ProposedEvent& proposed = request.events.emplace_back();
  if (!IsUuid(request_id)) {
    return absl::InvalidArgumentError("request_id: must be a UUID");
  }
  proposed.set_event_id(CommandEventId(caller.organisation(), request_id));
  *proposed.mutable_payload() = event;
  ASSIGN_OR_RETURN(auto replayed, Replay(request, request_id));
  if (replayed.has_value()) return *replayed;
  const storage::AppendRequest asked = request;

  for (int attempt_no = 0;; ++attempt_no) {
    View view;
    uint64_t version = 0;
    if (!target.journal) {
      ASSIGN_OR_RETURN(view, Fold<View>(*log_, request.stream, apply));
      version = view.version;
      if (target.expected_version.has_value() &&
          *target.expected_version != version) {
        return VersionConflict(
            request.stream, version,
            absl::StrCat(target.kind, " ", target.id, " is at version ",
                         version, ", expected ", *target.expected_version,
                         "; read it again and retry"));
      }
      if (version == 0 && !target.creates) {
        return absl::NotFoundError(
            absl::StrCat(target.kind, " ", target.id, " does not exist"));
      }
    }
    CommandAttempt attempt(log_, clock_->Now(), request.stream);
    v1::EventPayload decided = event;
    RETURN_IF_ERROR(decide(view, attempt, &decided));
    RETURN_IF_ERROR(SettlePersonal(attempt.personal_subject(), &decided));
    if (const size_t bytes = decided.ByteSizeLong(); bytes > kMaxEventBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "request: the event would be ", bytes, " bytes, more than ",
          kMaxEventBytes, "; shorten the free text"));
    }
    *request.events.front().mutable_payload() = std::move(decided);
    request.expected = target.journal
                           ? storage::ExpectedVersion::Any()
                           : storage::ExpectedVersion::Exact(version);
    request.conditions = std::move(attempt.conditions());
    request.record_conditions = std::move(attempt.record_conditions());
    request.records = std::move(attempt.records());
    request.erase_subjects = std::move(attempt.erase_subjects());
    request.erase_retaining = std::move(attempt.erase_retaining());
    absl::StatusOr<storage::AppendResult> result = log_->Append(request);
    if (absl::IsAlreadyExists(result.status())) {
      // The same request, sent again while its first copy was in flight,
      // landed first (decided at another instant): a retry, if it matches.
      ASSIGN_OR_RETURN(auto again, Replay(asked, request_id));
      if (again.has_value()) return *again;
      return result;
    }
    if (!absl::IsAborted(result.status()) || attempt_no + 1 == kMaxAttempts) {
      return result;
    }
    // The caller's expected version speaks for its own stream only: another
    // stream read moving is decided again.
    const auto conflict =
        result.status().GetPayload(storage::kConflictStreamPayload);
    if (target.expected_version.has_value() &&
        (!conflict.has_value() || std::string(*conflict) == request.stream)) {
      return result;
    }
  }
}

// ---------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------
// Commands

absl::StatusOr<storage::AppendResult> DomainCommands::RecordConsent(
    const v1::Actor& caller, const std::string& request_id,
    v1::EventPayload event) {
  const std::string consent_id = ConsentIdOf(event);
  if (consent_id.empty()) {
    return absl::InvalidArgumentError(
        "consent_id: is required (and the payload must be a consent event)");
  }
  const bool creates =
      event.has_consent_granted() || event.has_consent_refused();
  // A withdrawal without effective_at takes effect when it is recorded.
  const bool effective_now = event.has_consent_withdrawn() &&
                             !event.consent_withdrawn().has_effective_at();
  Target target{"consent", consent_id, creates, false, std::nullopt};
  return Execute<domain::ConsentView>(
      caller, request_id, target, std::move(event), ApplyConsent,
      [&](const domain::ConsentView& view, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        // Tenancy: a consent is varied or withdrawn by the organisation
        // that recorded it, never by another.
        if (!creates) {
          RETURN_IF_ERROR(
              domain::ActsFor(caller.organisation(), view.recorded_by,
                              "the organisation that recorded the consent",
                              "vary or withdraw it"));
        }
        if (effective_now) {
          *e->mutable_consent_withdrawn()->mutable_effective_at() =
              ToProtoTime(attempt.now());
        }
        RETURN_IF_ERROR(domain::CheckConsentCommand(view, *e, attempt.now()));
        std::string subject = view.subject_id;
        if (e->has_consent_granted())
          subject = e->consent_granted().subject_id();
        if (e->has_consent_refused())
          subject = e->consent_refused().subject_id();
        if (creates) RETURN_IF_ERROR(attempt.RequireSubject(subject, caller));
        attempt.set_personal_subject(subject);
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordReferral(
    const v1::Actor& caller, const std::string& request_id,
    const std::string& referral_id, v1::EventPayload event,
    std::optional<uint64_t> expected_version) {
  if (event.has_referral_submitted() &&
      event.referral_submitted().referral_id() != referral_id) {
    return absl::InvalidArgumentError(
        "submit.referral_id: differs from referral_id");
  }
  Target target{"referral", referral_id, event.has_referral_submitted(), false,
                expected_version};
  return Execute<domain::ReferralView>(
      caller, request_id, target, std::move(event), ApplyReferral,
      [&](const domain::ReferralView& view, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        RETURN_IF_ERROR(domain::CheckReferralTransition(view, *e, caller));
        std::string subject = view.subject_id;
        if (e->has_referral_submitted()) {
          subject = e->referral_submitted().subject_id();
          RETURN_IF_ERROR(domain::ValidId(subject, "submit.subject_id"));
        }
        RETURN_IF_ERROR(domain::ValidateReferralDisclosure(view, *e, caller));
        if (e->has_referral_submitted()) {
          RETURN_IF_ERROR(attempt.RequireSubject(subject, caller));
          RETURN_IF_ERROR(attempt.CoverDisclosure(
              e->mutable_referral_submitted()->mutable_disclosure(), caller));
          // The service now has a part in the young carer: the mark lists
          // the referrals of the young carer to it (up to
          // kMaxMarkedReferrals; any one not in error will do).
          const std::string key =
              SubjectServiceKey(subject, e->referral_submitted().service());
          ASSIGN_OR_RETURN(std::optional<std::string> earlier,
                           log_->GetRecord(key));
          // Read-modify-write: a concurrent submission for the same young
          // carer and service changes it, and this one is decided again
          // rather than losing the other's referral.
          attempt.DependOnRecord(key, earlier);
          std::vector<std::string> ids;
          if (earlier.has_value()) ids = absl::StrSplit(*earlier, ',');
          if (ids.size() < kMaxMarkedReferrals) {
            ids.push_back(referral_id);
            attempt.records().push_back({key, absl::StrJoin(ids, ",")});
          }
        }
        if (e->has_referral_transferred()) {
          RETURN_IF_ERROR(attempt.CoverDisclosure(
              e->mutable_referral_transferred()->mutable_disclosure(), caller));
        }
        attempt.set_personal_subject(subject);
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordDisclosure(
    const v1::Actor& caller, const std::string& request_id,
    v1::DisclosureRecorded disclosure, v1::PersonalData personal) {
  RETURN_IF_ERROR(domain::ValidateDisclosure(disclosure, personal, caller));
  v1::EventPayload event;
  // A safeguarding disclosure is confidential: the recorder's own journal.
  Target target{"sharing",
                disclosure.subject_id(),
                true,
                true,
                std::nullopt,
                disclosure.has_safeguarding()
                    ? domain::ConfidentialSharingStream(disclosure.subject_id(),
                                                        caller.organisation())
                    : domain::SharingStream(disclosure.subject_id())};
  *event.mutable_disclosure_recorded() = std::move(disclosure);
  *event.mutable_personal() = std::move(personal);
  return Execute<NoView>(
      caller, request_id, target, std::move(event),
      [](const v1::RecordedEvent&, NoView*) { return absl::OkStatus(); },
      [&](const NoView&, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        auto* d = e->mutable_disclosure_recorded();
        RETURN_IF_ERROR(attempt.RequireSubject(d->subject_id(), caller));
        RETURN_IF_ERROR(attempt.CoverDisclosure(d, caller));
        if (d->has_safeguarding()) {
          RETURN_IF_ERROR(attempt.MarkChildProtection(d->subject_id(),
                                                      caller.organisation()));
        }
        attempt.set_personal_subject(d->subject_id());
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordDecisionNotToShare(
    const v1::Actor& caller, const std::string& request_id,
    v1::SharingDeclined decision, v1::PersonalData personal) {
  RETURN_IF_ERROR(domain::ValidateSharingDeclined(decision, personal));
  if (!decision.organisation().empty() &&
      decision.organisation() != caller.organisation()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "decision.organisation: a caller records only its own organisation's "
        "decisions; the caller acts for ",
        caller.organisation()));
  }
  v1::EventPayload event;
  // Confidential: the decider's own journal.
  Target target{"sharing",
                decision.subject_id(),
                true,
                true,
                std::nullopt,
                domain::ConfidentialSharingStream(decision.subject_id(),
                                                  caller.organisation())};
  *event.mutable_sharing_declined() = std::move(decision);
  *event.mutable_personal() = std::move(personal);
  return Execute<NoView>(
      caller, request_id, target, std::move(event),
      [](const v1::RecordedEvent&, NoView*) { return absl::OkStatus(); },
      [&](const NoView&, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        auto* d = e->mutable_sharing_declined();
        RETURN_IF_ERROR(attempt.RequireSubject(d->subject_id(), caller));
        RETURN_IF_ERROR(attempt.CheckConcern(d->concern_id(), d->subject_id(),
                                             caller, "decision.concern_id"));
        d->set_organisation(caller.organisation());
        attempt.set_personal_subject(d->subject_id());
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::PutSubjectRecord(
    const v1::Actor& caller, const std::string& request_id,
    v1::SubjectRecord record, std::optional<uint64_t> expected_revision) {
  // A reused request id: the record must be the one first sent with it.
  if (IsUuid(request_id)) {
    ASSIGN_OR_RETURN(
        std::optional<uint64_t> position,
        log_->LookupEventId(CommandEventId(caller.organisation(), request_id)));
    if (position.has_value()) {
      ASSIGN_OR_RETURN(storage::LogSlice slice,
                       log_->ReadAll(*position, 1, storage::LogFilter()));
      ASSIGN_OR_RETURN(std::optional<std::string> salt,
                       log_->GetRecord(SubjectSaltKey(record.subject_id())));
      if (!slice.events.empty() &&
          slice.events[0].payload().has_subject_record_changed() &&
          salt.has_value() &&
          slice.events[0].payload().subject_record_changed().request_digest() !=
              RecordDigest(*salt, record)) {
        return WithReason(
            absl::AlreadyExistsError(absl::StrCat(
                "request_id ", request_id,
                " was already used by the caller's organisation for a "
                "different record; send a new request id for a new command")),
            reason::kRequestIdReused);
      }
    }
  }
  v1::EventPayload event;
  event.mutable_subject_record_changed()->set_subject_id(record.subject_id());
  Target target{"subject", record.subject_id(), true, false, std::nullopt};
  return Execute<domain::SubjectView>(
      caller, request_id, target, std::move(event), domain::ApplySubjectEvent,
      [&](const domain::SubjectView& view, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        RETURN_IF_ERROR(domain::ValidateSubjectRecord(record, attempt.now()));
        ASSIGN_OR_RETURN(std::optional<v1::SubjectRecord> current,
                         LoadSubjectRecord(record.subject_id()));
        const v1::SubjectRecord* before =
            current.has_value() ? &*current : nullptr;
        RETURN_IF_ERROR(domain::CheckSubjectRecordPut(before, caller));
        if (view.erased) {
          return domain::SubjectErased(
              record.subject_id(),
              absl::StrCat("erasure rule: subject ", record.subject_id(),
                           " was erased; its record cannot be written again"));
        }
        const uint64_t revision = before != nullptr ? before->revision() : 0;
        if (expected_revision.has_value() && *expected_revision != revision) {
          return WithReason(
              absl::AbortedError(absl::StrCat(
                  "subject ", record.subject_id(), " record is at revision ",
                  revision, ", expected ", *expected_revision,
                  "; read it again and retry")),
              reason::kVersionConflict);
        }
        v1::SubjectRecord stored = record;
        stored.set_holder(before != nullptr ? before->holder()
                                            : caller.organisation());
        // The subject stream's version once this event is appended.
        stored.set_revision(view.version + 1);
        *stored.mutable_updated_at() = ToProtoTime(attempt.now());
        ASSIGN_OR_RETURN(std::optional<std::string> salt,
                         log_->GetRecord(SubjectSaltKey(record.subject_id())));
        if (!salt.has_value()) {
          salt = RandomBytes(32);
          attempt.records().push_back(
              {SubjectSaltKey(record.subject_id()), *salt});
        }
        auto* changed = e->mutable_subject_record_changed();
        changed->set_request_digest(RecordDigest(*salt, record));
        changed->set_holder(stored.holder());
        for (std::string& part : domain::ChangedParts(before, record)) {
          changed->add_changed(std::move(part));
        }
        // The skeleton in plain, the personal fields sealed under the
        // subject's key.
        domain::SplitRecord split = domain::SplitSubjectRecord(stored);
        attempt.records().push_back({SubjectRecordKey(record.subject_id()),
                                     split.skeleton.SerializeAsString()});
        attempt.records().push_back(
            {domain::SubjectPersonalKey(record.subject_id()),
             split.personal.SerializeAsString(), record.subject_id()});
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::IdentifyYoungCarer(
    const v1::Actor& caller, const std::string& request_id,
    v1::EventPayload event) {
  const std::string subject = event.young_carer_identified().subject_id();
  RETURN_IF_ERROR(domain::ValidId(subject, "identification.subject_id"));
  Target target{"subject", subject, true, false, std::nullopt};
  return Execute<domain::SubjectView>(
      caller, request_id, target, std::move(event), domain::ApplySubjectEvent,
      [&](const domain::SubjectView&, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<v1::SubjectRecord> record,
                         LoadSubjectRecord(subject));
        absl::Status s = domain::DecideIdentification(
            record.has_value() ? &*record : nullptr, caller, e);
        if (absl::IsNotFound(s)) {
          return absl::NotFoundError(absl::StrCat(
              "subject ", subject,
              " does not exist (create its record with Subjects.PutRecord)"));
        }
        RETURN_IF_ERROR(s);
        attempt.set_personal_subject(subject);
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordIntervention(
    const v1::Actor& caller, const std::string& request_id,
    const std::string& intervention_id, v1::EventPayload event,
    std::optional<uint64_t> expected_version) {
  if (event.has_intervention_planned() &&
      event.intervention_planned().intervention_id() != intervention_id) {
    return absl::InvalidArgumentError(
        "plan.intervention_id: differs from intervention_id");
  }
  Target target{"intervention", intervention_id,
                event.has_intervention_planned(), false, expected_version};
  return Execute<domain::InterventionView>(
      caller, request_id, target, std::move(event),
      domain::ApplyInterventionEvent,
      [&](const domain::InterventionView& view, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        RETURN_IF_ERROR(
            domain::DecideInterventionCommand(view, caller, attempt.now(), e));
        std::string subject = view.plan.subject_id();
        if (e->has_intervention_planned()) {
          const auto& plan = e->intervention_planned();
          subject = plan.subject_id();
          if (!subject.empty())
            RETURN_IF_ERROR(attempt.RequireSubject(subject, caller));
          if (!plan.referral_id().empty()) {
            ASSIGN_OR_RETURN(domain::ReferralView referral,
                             attempt.DependOnReferral(plan.referral_id()));
            if (referral.version == 0) {
              return domain::ReferenceNotFound(
                  "REFERRAL", "referral_id", plan.referral_id(),
                  absl::StrCat("plan.referral_id: referral ",
                               plan.referral_id(), " does not exist"));
            }
            const std::string cited =
                domain::Cited("referral_id", plan.referral_id());
            if (referral.service != plan.service() ||
                referral.subject_id != plan.subject_id()) {
              return domain::InvalidState(
                  "REFERRAL", cited,
                  absl::StrCat(
                      "intervention rule: referral ", plan.referral_id(),
                      " is not this service's referral of this young carer"));
            }
            if (referral.school != plan.school()) {
              return domain::InvalidState(
                  "REFERRAL", cited,
                  absl::StrCat(
                      "intervention rule: plan.school must be the referral's "
                      "school, ",
                      referral.school));
            }
          } else if (!subject.empty()) {
            // The young carer's own school (the record's holder), unless
            // the service holds the record itself.
            ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                             log_->GetRecord(SubjectRecordKey(subject)));
            v1::SubjectRecord skeleton;
            if (bytes.has_value() && skeleton.ParseFromString(*bytes) &&
                skeleton.holder() != caller.organisation() &&
                skeleton.holder() != plan.school()) {
              return domain::InvalidState(
                  "SUBJECT", domain::Cited("subject_id", subject),
                  absl::StrCat("intervention rule: plan.school must be the "
                               "young carer's "
                               "school, ",
                               skeleton.holder(), " (the record's holder)"));
            }
          }
        }
        if (e->has_outcomes_recorded() && e->outcomes_recorded().has_report()) {
          RETURN_IF_ERROR(attempt.CoverDisclosure(
              e->mutable_outcomes_recorded()->mutable_report(), caller));
        }
        attempt.set_personal_subject(subject);
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordAgreement(
    const v1::Actor& caller, const std::string& request_id,
    const std::string& agreement_id, v1::EventPayload event,
    std::optional<uint64_t> expected_version) {
  if (event.has_agreement_drafted() &&
      event.agreement_drafted().agreement_id() != agreement_id) {
    return absl::InvalidArgumentError(
        "draft.agreement_id: differs from agreement_id");
  }
  Target target{"agreement", agreement_id, event.has_agreement_drafted(), false,
                expected_version};
  return Execute<domain::AgreementView>(
      caller, request_id, target, std::move(event), domain::ApplyAgreementEvent,
      [&](const domain::AgreementView& view, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        // Agreements are about organisations: no personal data.
        return domain::DecideAgreementCommand(view, caller, attempt.now(), e);
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordCorrespondence(
    const v1::Actor& caller, const std::string& request_id,
    const std::string& correspondence_id, v1::EventPayload event,
    std::optional<uint64_t> expected_version) {
  if (event.has_correspondence_received() &&
      event.correspondence_received().correspondence_id() !=
          correspondence_id) {
    return absl::InvalidArgumentError(
        "receive.correspondence_id: differs from correspondence_id");
  }
  Target target{"correspondence", correspondence_id,
                event.has_correspondence_received(), false, expected_version};
  return Execute<domain::CorrespondenceView>(
      caller, request_id, target, std::move(event),
      domain::ApplyCorrespondenceEvent,
      [&](const domain::CorrespondenceView& view, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        const v1::CorrespondenceReceived& received =
            e->has_correspondence_received() ? e->correspondence_received()
                                             : view.received;
        domain::AgreementView agreement;
        if (domain::ValidId(received.agreement_id(), "").ok()) {
          ASSIGN_OR_RETURN(agreement,
                           attempt.DependOnAgreement(received.agreement_id()));
        }
        const std::string subject = received.subject_id();
        RETURN_IF_ERROR(domain::DecideCorrespondenceCommand(
            view, agreement, caller, attempt.now(), e));
        if (e->has_correspondence_received() && !subject.empty()) {
          // A service records letters about the pupils of the school it
          // has the agreement with (the letter is that school's to send),
          // besides those referred to it.
          RETURN_IF_ERROR(attempt.RequireSubject(
              subject, caller, agreement.terms.school().organisation()));
        }
        attempt.set_personal_subject(subject);
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordSafeguarding(
    const v1::Actor& caller, const std::string& request_id,
    const std::string& concern_id, v1::EventPayload event,
    std::optional<uint64_t> expected_version) {
  if (event.has_concern_raised() &&
      event.concern_raised().concern_id() != concern_id) {
    return absl::InvalidArgumentError(
        "raise.concern_id: differs from concern_id");
  }
  // The caller's organisation's own concern stream: another organisation's
  // concern under the same id is never read, so a version check or a raise
  // answers as for an id never raised.
  Target target{"safeguarding",
                concern_id,
                event.has_concern_raised(),
                false,
                expected_version,
                domain::ConcernStream(caller.organisation(), concern_id)};
  return Execute<domain::ConcernView>(
      caller, request_id, target, std::move(event),
      domain::ApplySafeguardingEvent,
      [&](const domain::ConcernView& view, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        RETURN_IF_ERROR(
            domain::DecideSafeguardingCommand(view, caller, attempt.now(), e));
        std::string subject = view.raised.subject_id();
        if (e->has_concern_raised()) {
          subject = e->concern_raised().subject_id();
          RETURN_IF_ERROR(attempt.RequireSubject(subject, caller));
          RETURN_IF_ERROR(
              attempt.MarkChildProtection(subject, caller.organisation()));
        }
        if (e->has_social_care_referral_made()) {
          RETURN_IF_ERROR(attempt.CoverDisclosure(
              e->mutable_social_care_referral_made()->mutable_disclosure(),
              caller));
        }
        attempt.set_personal_subject(subject);
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::AssignArea(
    const v1::Actor& caller, const std::string& request_id,
    v1::AreaAssigned assignment) {
  RETURN_IF_ERROR(
      domain::ValidId(assignment.organisation(), "assignment.organisation"));
  v1::EventPayload event;
  Target target{"area", assignment.organisation(), true, false, std::nullopt};
  *event.mutable_area_assigned() = std::move(assignment);
  return Execute<domain::AreaView>(
      caller, request_id, target, std::move(event), domain::ApplyAreaEvent,
      [](const domain::AreaView& view, CommandAttempt& attempt,
         v1::EventPayload* e) -> absl::Status {
        const v1::AreaAssigned& a = e->area_assigned();
        RETURN_IF_ERROR(domain::DecideAreaAssignment(view, a));
        const std::string key = domain::AreaKey(a.organisation());
        if (a.local_authority().empty()) {
          attempt.records().push_back({key, "", "", /*remove=*/true});
        } else {
          attempt.records().push_back({key, a.local_authority()});
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordOverdueFlag(
    const v1::Actor& caller, const std::string& request_id,
    v1::OverdueFlagged flag) {
  RETURN_IF_ERROR(domain::ValidId(flag.id(), "flag.id"));
  v1::EventPayload event;
  // Folded, not a journal: each deadline (due date, and whether escalated)
  // is flagged once whoever flags it, so two schedulers of different
  // organisations racing (whose request ids differ) still flag it once; the
  // second is decided again after the first and told it is flagged.
  Target target{"overdue", absl::StrCat(flag.kind(), "-", flag.id()), true,
                false, std::nullopt};
  *event.mutable_overdue_flagged() = std::move(flag);
  return Execute<OverdueView>(
      caller, request_id, target, std::move(event),
      [](const v1::RecordedEvent& e, OverdueView* view) {
        view->version = e.stream_version();
        if (e.payload().has_overdue_flagged()) {
          view->flags.push_back(e.payload().overdue_flagged());
        }
        return absl::OkStatus();
      },
      [](const OverdueView& view, CommandAttempt& attempt,
         v1::EventPayload* e) -> absl::Status {
        v1::OverdueFlagged* f = e->mutable_overdue_flagged();
        for (const v1::OverdueFlagged& done : view.flags) {
          if (done.due_at().seconds() == f->due_at().seconds() &&
              done.due_at().nanos() == f->due_at().nanos() &&
              done.escalated() == f->escalated()) {
            return domain::InvalidState(
                "DEADLINE", domain::Cited("flag.id", f->id()),
                absl::StrCat("overdue rule: that deadline is already ",
                             f->escalated() ? "escalated" : "flagged"));
          }
        }
        *f->mutable_flagged_at() = ToProtoTime(attempt.now());
        return absl::OkStatus();
      });
}

}  // namespace ycr::services

namespace ycr::services {

// Erasure commands (erasure_commands.cc) run on the subject stream.
template absl::StatusOr<storage::AppendResult>
DomainCommands::Execute<domain::SubjectView>(
    const v1::Actor& caller, const std::string& request_id,
    const Target& target, v1::EventPayload event,
    Apply<domain::SubjectView> apply, Decide<domain::SubjectView> decide);

}  // namespace ycr::services
