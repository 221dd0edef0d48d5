// What the command engine (domain_commands.cc) does to a command's event
// before it is decided: the personal part checked and settled for its
// subject, and what the server decides cleared, so that a retried request
// compares equal to the event it recorded (SameCommand).

#include "absl/strings/str_cat.h"
#include "common/proto_bytes.h"
#include "common/status_macros.h"
#include "domain/field_checks.h"
#include "domain/refusals.h"
#include "domain/sharing_rules.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "services/domain_commands.h"
#include "services/domain_commands_internal.h"
#include "services/security/access_policy.h"
#include "storage/record_codec.h"

namespace ycr::services {
namespace {

using internal::SameCommand;
using internal::SettlePersonal;

// The text fields of PersonalData: every field but subject_id and erased,
// so a field added to it is covered without a change here.
bool IsTextField(const google::protobuf::FieldDescriptor* f) {
  return f->number() != v1::PersonalData::kSubjectIdFieldNumber &&
         f->number() != v1::PersonalData::kErasedFieldNumber;
}

// True when `p` holds any text about the person.
// (Field by field, as ListFields would see them, without building its list.)
bool HasText(const v1::PersonalData& p) {
  const google::protobuf::Reflection* r = p.GetReflection();
  const google::protobuf::Descriptor* d = p.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (!IsTextField(f)) continue;
    if (f->is_repeated() ? r->FieldSize(p, f) > 0 : r->HasField(p, f)) {
      return true;
    }
  }
  return false;
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

}  // namespace

namespace internal {

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
    // The field's name is written out only for a refusal: each check runs
    // first unnamed, and again with the name when it refuses.
    const auto field = [f] { return absl::StrCat("personal.", f->name()); };
    std::string scratch;
    if (!f->is_repeated()) {
      const std::string& value = r->GetStringReference(*p, f, &scratch);
      if (!domain::OptionalText(value, {}).ok()) {
        return domain::OptionalText(value, field());
      }
      continue;
    }
    if (r->FieldSize(*p, f) > 50) {
      return absl::InvalidArgumentError(absl::StrCat(field(), ": at most 50"));
    }
    for (int j = 0; j < r->FieldSize(*p, f); ++j) {
      const std::string& value =
          r->GetRepeatedStringReference(*p, f, j, &scratch);
      if (!domain::RequiredText(value, {}).ok()) {
        return domain::RequiredText(value, absl::StrCat(field(), "[]"));
      }
    }
  }
  p->set_subject_id(subject);
  return absl::OkStatus();
}

}  // namespace internal

}  // namespace ycr::services
