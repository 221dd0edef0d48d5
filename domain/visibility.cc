#include "domain/visibility.h"

#include <algorithm>

#include "common/carried_disclosure.h"

namespace ycr::domain {
namespace {

using K = v1::EventPayload;
using V = Visibility;

// Rows: EventClass; columns: Relation (auditor, recorder, addressee, party,
// holder, area authority, data subject, stranger).
constexpr V kTable[][kRelationCount] = {
    // kUnclassified
    {V::kFull, V::kNone, V::kNone, V::kNone, V::kNone, V::kNone, V::kNone,
     V::kNone},
    // kCase
    {V::kFull, V::kFull, V::kFull, V::kCodes, V::kCodes, V::kCodes, V::kFull,
     V::kNone},
    // kReported
    {V::kFull, V::kFull, V::kFull, V::kSkeleton, V::kSkeleton, V::kSkeleton,
     V::kFull, V::kNone},
    // kConfidential (a subject access pack leaves it out: the serious-harm
    // exemption is a person's judgement, made on the auditor's trail)
    {V::kFull, V::kFull, V::kFull, V::kCodes, V::kNone, V::kNone, V::kNone,
     V::kNone},
    // kOrganisational
    {V::kFull, V::kFull, V::kFull, V::kFull, V::kNone, V::kCodes, V::kNone,
     V::kNone},
    // kOpaque
    {V::kFull, V::kFull, V::kNone, V::kNone, V::kNone, V::kNone, V::kNone,
     V::kNone},
    // kRetention (the recorder of a child_protection_kept is the erasing
    // holder, which must not learn of the kept records)
    {V::kFull, V::kNone, V::kFull, V::kNone, V::kNone, V::kNone, V::kNone,
     V::kNone},
};

void AddOrg(const std::string& organisation, std::vector<std::string>* out) {
  if (organisation.empty()) return;
  if (std::find(out->begin(), out->end(), organisation) == out->end()) {
    out->push_back(organisation);
  }
}

void AddDisclosure(const v1::DisclosureRecorded& d,
                   std::vector<std::string>* out) {
  AddOrg(d.from().organisation(), out);
  AddOrg(d.to().organisation(), out);
}

void AddTerms(const v1::ConsentTerms& terms, std::vector<std::string>* out) {
  for (const v1::Recipient& r : terms.recipients()) {
    AddOrg(r.organisation(), out);
  }
}

// Staff identities in a payload (who decided, delivered, assessed): shown
// with the content only.
void ClearStaffNames(v1::EventPayload* p) {
  if (const v1::DisclosureRecorded* d = CarriedDisclosure(*p);
      d != nullptr && d->has_safeguarding()) {
    // `d` is part of `*p`, which is not const.
    const_cast<v1::DisclosureRecorded*>(d)
        ->mutable_safeguarding()
        ->clear_decision_maker();
  }
  switch (p->kind_case()) {
    case K::kConsentGranted:
      if (p->consent_granted().given_by().has_young_person()) {
        p->mutable_consent_granted()
            ->mutable_given_by()
            ->mutable_young_person()
            ->clear_assessed_by_user();
      }
      break;
    case K::kConsentRefused:
      if (p->consent_refused().given_by().has_young_person()) {
        p->mutable_consent_refused()
            ->mutable_given_by()
            ->mutable_young_person()
            ->clear_assessed_by_user();
      }
      break;
    case K::kSharingDeclined:
      p->mutable_sharing_declined()->clear_decision_maker();
      break;
    case K::kInterventionPlanned:
      p->mutable_intervention_planned()->clear_worker();
      break;
    case K::kDslNotified:
      p->mutable_dsl_notified()->clear_dsl();
      break;
    default:
      break;
  }
}

// Clears who assessed a young person's competence to decide on a consent
// when it is staff of an organisation other than `organisation`; true when
// it did.
bool ClearOtherAssessor(const std::string& organisation, v1::EventPayload* p) {
  v1::ConsentGiver* giver = nullptr;
  if (p->has_consent_granted()) {
    giver = p->mutable_consent_granted()->mutable_given_by();
  } else if (p->has_consent_refused()) {
    giver = p->mutable_consent_refused()->mutable_given_by();
  }
  if (giver == nullptr || !giver->has_young_person() ||
      giver->young_person().assessed_by_organisation() == organisation ||
      giver->young_person().assessed_by_user().empty()) {
    return false;
  }
  giver->mutable_young_person()->clear_assessed_by_user();
  return true;
}

}  // namespace

EventClass ClassOf(v1::EventPayload::KindCase kind) {
  switch (kind) {
    case K::kConsentGranted:
    case K::kConsentRefused:
    case K::kConsentVaried:
    case K::kConsentWithdrawn:
    case K::kReferralSubmitted:
    case K::kReferralReceived:
    case K::kReferralAccepted:
    case K::kReferralDeclined:
    case K::kAssessmentScheduled:
    case K::kAssessmentCompleted:
    case K::kReferralRegistered:
    case K::kReferralHeld:
    case K::kReferralResumed:
    case K::kReferralClosed:
    case K::kReferralWithdrawn:
    case K::kReferralCancelled:
    case K::kReferralEnteredInError:
    case K::kReferralTransferred:
    case K::kSubjectRecordChanged:
    case K::kYoungCarerIdentified:
    case K::kInterventionPlanned:
    case K::kSessionDelivered:
    case K::kInterventionEnded:
    case K::kCorrespondenceReceived:
    case K::kCorrespondenceAcknowledged:
    case K::kCorrespondenceAnswered:
    case K::kSubjectErased:
    case K::kErasureRefused:
    case K::kLegalHoldPlaced:
    case K::kLegalHoldLifted:
      return EventClass::kCase;
    case K::kDisclosureRecorded:
    case K::kOutcomesRecorded:
      return EventClass::kReported;
    case K::kSharingDeclined:
    case K::kConcernRaised:
    case K::kDslNotified:
    case K::kSocialCareReferralMade:
    case K::kConcernClosed:
      return EventClass::kConfidential;
    case K::kAgreementDrafted:
    case K::kAgreementSigned:
    case K::kAgreementAmended:
    case K::kAgreementReviewed:
    case K::kAgreementNoticeGiven:
    case K::kAgreementTerminated:
    case K::kOverdueFlagged:
    case K::kAreaAssigned:
      return EventClass::kOrganisational;
    case K::kOpaque:
      return EventClass::kOpaque;
    case K::kChildProtectionKept:
    case K::kChildProtectionReviewed:
      return EventClass::kRetention;
    case K::KIND_NOT_SET:
      break;
  }
  return EventClass::kUnclassified;
}

Visibility VisibilityFor(v1::EventPayload::KindCase kind, Relation relation) {
  return kTable[static_cast<int>(ClassOf(kind))][static_cast<int>(relation)];
}

EventClass ClassOf(const v1::EventPayload& payload) {
  // Whatever event records or carries it (a transfer to another school may
  // go on a safeguarding basis): confidential like the concern it serves.
  const v1::DisclosureRecorded* d = CarriedDisclosure(payload);
  if (d != nullptr && d->has_safeguarding()) return EventClass::kConfidential;
  return ClassOf(payload.kind_case());
}

Visibility VisibilityFor(const v1::EventPayload& payload,
                         const std::vector<Relation>& relations) {
  const int row = static_cast<int>(ClassOf(payload));
  Visibility best = Visibility::kNone;
  for (Relation r : relations) {
    best = std::max(best, kTable[row][static_cast<int>(r)]);
  }
  return best;
}

Visibility VisibilityFor(v1::EventPayload::KindCase kind,
                         const std::vector<Relation>& relations) {
  Visibility best = Visibility::kNone;
  for (Relation r : relations) best = std::max(best, VisibilityFor(kind, r));
  return best;
}

Visibility PackVisibility(const v1::EventPayload& payload,
                          const std::vector<Relation>& compiler) {
  return std::min(VisibilityFor(payload, {Relation::kDataSubject}),
                  VisibilityFor(payload, compiler));
}

std::vector<std::string> OrganisationsNamedBy(const v1::EventPayload& p) {
  std::vector<std::string> out;
  switch (p.kind_case()) {
    case K::kConsentGranted:
      AddTerms(p.consent_granted().terms(), &out);
      AddOrg(p.consent_granted()
                 .given_by()
                 .young_person()
                 .assessed_by_organisation(),
             &out);
      break;
    case K::kConsentRefused:
      AddTerms(p.consent_refused().terms(), &out);
      AddOrg(p.consent_refused()
                 .given_by()
                 .young_person()
                 .assessed_by_organisation(),
             &out);
      break;
    case K::kConsentVaried:
      AddTerms(p.consent_varied().terms(), &out);
      break;
    case K::kDisclosureRecorded:
      AddDisclosure(p.disclosure_recorded(), &out);
      break;
    case K::kSharingDeclined:
      // Not `to`: the organisation data was NOT shared with is no party.
      AddOrg(p.sharing_declined().organisation(), &out);
      break;
    case K::kReferralSubmitted:
      AddOrg(p.referral_submitted().school(), &out);
      AddOrg(p.referral_submitted().service(), &out);
      AddDisclosure(p.referral_submitted().disclosure(), &out);
      break;
    case K::kReferralTransferred:
      AddOrg(p.referral_transferred().to_school(), &out);
      AddDisclosure(p.referral_transferred().disclosure(), &out);
      break;
    case K::kSubjectRecordChanged:
      AddOrg(p.subject_record_changed().holder(), &out);
      break;
    case K::kYoungCarerIdentified:
      AddOrg(p.young_carer_identified().school(), &out);
      break;
    case K::kInterventionPlanned:
      AddOrg(p.intervention_planned().service(), &out);
      AddOrg(p.intervention_planned().school(), &out);
      break;
    case K::kOutcomesRecorded:
      AddDisclosure(p.outcomes_recorded().report(), &out);
      break;
    case K::kCorrespondenceReceived:
      AddOrg(p.correspondence_received().from(), &out);
      AddOrg(p.correspondence_received().to(), &out);
      break;
    case K::kConcernRaised:
      AddOrg(p.concern_raised().organisation(), &out);
      break;
    case K::kSocialCareReferralMade:
      AddDisclosure(p.social_care_referral_made().disclosure(), &out);
      break;
    case K::kAgreementDrafted:
      AddOrg(p.agreement_drafted().terms().school().organisation(), &out);
      AddOrg(p.agreement_drafted().terms().service().organisation(), &out);
      break;
    case K::kAgreementAmended:
      AddOrg(p.agreement_amended().terms().school().organisation(), &out);
      AddOrg(p.agreement_amended().terms().service().organisation(), &out);
      break;
    case K::kAgreementSigned:
      AddOrg(p.agreement_signed().party(), &out);
      break;
    case K::kAgreementNoticeGiven:
      AddOrg(p.agreement_notice_given().party(), &out);
      break;
    case K::kOverdueFlagged:
      AddOrg(p.overdue_flagged().owed_by(), &out);
      AddOrg(p.overdue_flagged().owed_to(), &out);
      break;
    case K::kSubjectErased:
      AddOrg(p.subject_erased().holder(), &out);
      break;
    case K::kLegalHoldPlaced:
      AddOrg(p.legal_hold_placed().organisation(), &out);
      break;
    case K::kAreaAssigned:
      AddOrg(p.area_assigned().organisation(), &out);
      AddOrg(p.area_assigned().local_authority(), &out);
      break;
    default:
      break;
  }
  return out;
}

std::vector<std::string> AddresseesOf(const v1::EventPayload& p) {
  std::vector<std::string> out;
  switch (p.kind_case()) {
    case K::kDisclosureRecorded:
      AddOrg(p.disclosure_recorded().to().organisation(), &out);
      break;
    case K::kReferralSubmitted:
      AddOrg(p.referral_submitted().service(), &out);
      AddOrg(p.referral_submitted().disclosure().to().organisation(), &out);
      break;
    case K::kReferralTransferred:
      AddOrg(p.referral_transferred().to_school(), &out);
      AddOrg(p.referral_transferred().disclosure().to().organisation(), &out);
      break;
    case K::kOutcomesRecorded:
      if (p.outcomes_recorded().has_report()) {
        AddOrg(p.outcomes_recorded().report().to().organisation(), &out);
      }
      break;
    case K::kSocialCareReferralMade:
      AddOrg(p.social_care_referral_made().disclosure().to().organisation(),
             &out);
      break;
    case K::kChildProtectionKept:
      // Only a store's older form names one keeper, its addressee. The
      // form every erasure writes now names all its keepers: it has no
      // addressee (one keeper must not learn of another), auditors only.
      AddOrg(p.child_protection_kept().organisation(), &out);
      break;
    case K::kChildProtectionReviewed:
      AddOrg(p.child_protection_reviewed().organisation(), &out);
      break;
    default:
      break;
  }
  return out;
}

void Redact(Visibility level, v1::AuditEntry* entry) {
  switch (level) {
    case Visibility::kNone:
      return;
    case Visibility::kFull:
      entry->set_shown(v1::AuditEntry::SHOWN_FULL);
      return;
    case Visibility::kCodes: {
      entry->set_shown(v1::AuditEntry::SHOWN_CODES);
      v1::RecordedEvent* event = entry->mutable_event();
      event->clear_salt();
      event->mutable_actor()->clear_user();
      v1::EventPayload* payload = event->mutable_payload();
      payload->clear_personal();
      payload->clear_encrypted_personal();
      ClearStaffNames(payload);
      if (entry->has_disclosure() && entry->disclosure().has_safeguarding()) {
        entry->mutable_disclosure()
            ->mutable_safeguarding()
            ->clear_decision_maker();
      }
      return;
    }
    case Visibility::kSkeleton: {
      entry->set_shown(v1::AuditEntry::SHOWN_SKELETON);
      v1::RecordedEvent* event = entry->mutable_event();
      event->clear_salt();
      event->mutable_actor()->clear_user();
      event->clear_payload();
      if (entry->has_disclosure()) {
        v1::DisclosureRecorded parties;
        *parties.mutable_from() = entry->disclosure().from();
        *parties.mutable_to() = entry->disclosure().to();
        parties.set_subject_id(entry->disclosure().subject_id());
        *entry->mutable_disclosure() = std::move(parties);
      }
      return;
    }
  }
}

void RedactForDataSubject(const std::string& compiler_organisation,
                          v1::AuditEntry* entry) {
  v1::RecordedEvent* event = entry->mutable_event();
  if (event->actor().organisation() == compiler_organisation) {
    // The compiler's own record may still name another organisation's
    // staff: who assessed a young person's competence to consent. With it
    // hidden, the record's random bytes go too (no hash tests a guess).
    if (ClearOtherAssessor(compiler_organisation, event->mutable_payload())) {
      event->clear_salt();
    }
    return;
  }
  event->clear_salt();
  event->mutable_actor()->clear_user();
  ClearStaffNames(event->mutable_payload());
  if (entry->has_disclosure() && entry->disclosure().has_safeguarding()) {
    entry->mutable_disclosure()->mutable_safeguarding()->clear_decision_maker();
  }
}

void RedactForDataSubject(v1::SubjectRecord* record) {
  for (v1::RelatedPerson& person : *record->mutable_related()) {
    person.clear_name();
    person.clear_contacts();
  }
}

}  // namespace ycr::domain
