// The visibility rule (domain/visibility.h) over its whole matrix:
// every event kind of EventPayload (enumerated from the descriptor, so a new
// kind without a row here fails) times every reader relation, against a
// table written here independently of the code's.

#include "domain/visibility.h"

#include <map>
#include <string>

#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace ycr::domain {
namespace {

using K = v1::EventPayload;

// The family of each event kind, by its field name in EventPayload.
const std::map<std::string, EventClass>& ExpectedClasses() {
  static const auto* classes = new std::map<std::string, EventClass>{
      {"opaque", EventClass::kOpaque},
      {"consent_granted", EventClass::kCase},
      {"consent_refused", EventClass::kCase},
      {"consent_varied", EventClass::kCase},
      {"consent_withdrawn", EventClass::kCase},
      {"disclosure_recorded", EventClass::kReported},
      {"sharing_declined", EventClass::kConfidential},
      {"referral_submitted", EventClass::kCase},
      {"referral_received", EventClass::kCase},
      {"referral_accepted", EventClass::kCase},
      {"referral_declined", EventClass::kCase},
      {"assessment_scheduled", EventClass::kCase},
      {"assessment_completed", EventClass::kCase},
      {"referral_registered", EventClass::kCase},
      {"referral_held", EventClass::kCase},
      {"referral_resumed", EventClass::kCase},
      {"referral_closed", EventClass::kCase},
      {"referral_withdrawn", EventClass::kCase},
      {"referral_cancelled", EventClass::kCase},
      {"referral_entered_in_error", EventClass::kCase},
      {"referral_transferred", EventClass::kCase},
      {"subject_record_changed", EventClass::kCase},
      {"young_carer_identified", EventClass::kCase},
      {"intervention_planned", EventClass::kCase},
      {"session_delivered", EventClass::kCase},
      {"intervention_ended", EventClass::kCase},
      {"outcomes_recorded", EventClass::kReported},
      {"agreement_drafted", EventClass::kOrganisational},
      {"agreement_signed", EventClass::kOrganisational},
      {"agreement_amended", EventClass::kOrganisational},
      {"agreement_reviewed", EventClass::kOrganisational},
      {"agreement_notice_given", EventClass::kOrganisational},
      {"agreement_terminated", EventClass::kOrganisational},
      {"correspondence_received", EventClass::kCase},
      {"correspondence_acknowledged", EventClass::kCase},
      {"correspondence_answered", EventClass::kCase},
      {"concern_raised", EventClass::kConfidential},
      {"dsl_notified", EventClass::kConfidential},
      {"social_care_referral_made", EventClass::kConfidential},
      {"concern_closed", EventClass::kConfidential},
      {"overdue_flagged", EventClass::kOrganisational},
      {"subject_erased", EventClass::kCase},
      {"erasure_refused", EventClass::kCase},
      {"legal_hold_placed", EventClass::kCase},
      {"legal_hold_lifted", EventClass::kCase},
      {"area_assigned", EventClass::kOrganisational},
      {"child_protection_kept", EventClass::kRetention},
      {"child_protection_reviewed", EventClass::kRetention},
  };
  return *classes;
}

// One row per family; the columns are the relations in this order, one
// letter each: N none, S skeleton, C codes, F full.
const std::vector<Relation> kRelations = {
    Relation::kAuditor,     Relation::kRecorder, Relation::kAddressee,
    Relation::kParty,       Relation::kHolder,   Relation::kAreaAuthority,
    Relation::kDataSubject, Relation::kStranger};
const std::map<EventClass, std::string>& ExpectedRows() {
  static const auto* rows = new std::map<EventClass, std::string>{
      //                          Aud Rec Adr Par Hol LA  DS  Str
      {EventClass::kCase, /*   */ "F"
                                  "F"
                                  "F"
                                  "C"
                                  "C"
                                  "C"
                                  "F"
                                  "N"},
      {EventClass::kReported, /**/ "F"
                                   "F"
                                   "F"
                                   "S"
                                   "S"
                                   "S"
                                   "F"
                                   "N"},
      {EventClass::kConfidential,
       "F"
       "F"
       "F"
       "C"
       "N"
       "N"
       "N"
       "N"},
      {EventClass::kOrganisational,
       "F"
       "F"
       "F"
       "F"
       "N"
       "C"
       "N"
       "N"},
      {EventClass::kOpaque, /* */ "F"
                                  "F"
                                  "N"
                                  "N"
                                  "N"
                                  "N"
                                  "N"
                                  "N"},
      // Kept child-protection records: their keeping organisation (the
      // addressee) and auditors; not the erasing holder that recorded one.
      {EventClass::kRetention, /**/ "F"
                                    "N"
                                    "F"
                                    "N"
                                    "N"
                                    "N"
                                    "N"
                                    "N"},
      {EventClass::kUnclassified,
       "F"
       "N"
       "N"
       "N"
       "N"
       "N"
       "N"
       "N"},
  };
  return *rows;
}

Visibility Letter(char c) {
  switch (c) {
    case 'S':
      return Visibility::kSkeleton;
    case 'C':
      return Visibility::kCodes;
    case 'F':
      return Visibility::kFull;
    default:
      return Visibility::kNone;
  }
}

const google::protobuf::OneofDescriptor* Kinds() {
  return K::descriptor()->FindOneofByName("kind");
}

TEST(VisibilityTest, EveryEventKindHasARowAndIsClassified) {
  const auto* kinds = Kinds();
  ASSERT_NE(kinds, nullptr);
  for (int i = 0; i < kinds->field_count(); ++i) {
    const auto* field = kinds->field(i);
    auto it = ExpectedClasses().find(field->name());
    ASSERT_NE(it, ExpectedClasses().end())
        << "event kind " << field->name()
        << " has no row here: decide who sees it (README, Who sees what)";
    EXPECT_EQ(ClassOf(static_cast<K::KindCase>(field->number())), it->second)
        << field->name();
    EXPECT_NE(it->second, EventClass::kUnclassified) << field->name();
  }
  // And no row for a kind that no longer exists.
  EXPECT_EQ(static_cast<int>(ExpectedClasses().size()), kinds->field_count());
}

TEST(VisibilityTest, EveryRelationHasAColumn) {
  ASSERT_EQ(static_cast<int>(kRelations.size()), kRelationCount)
      << "a new reader relation needs its column in every row";
  for (const auto& [cls, row] : ExpectedRows()) {
    EXPECT_EQ(row.size(), kRelations.size()) << static_cast<int>(cls);
  }
}

TEST(VisibilityTest, EveryKindForEveryRelationMatchesTheTable) {
  const auto* kinds = Kinds();
  for (int i = 0; i < kinds->field_count(); ++i) {
    const auto* field = kinds->field(i);
    const auto kind = static_cast<K::KindCase>(field->number());
    const std::string& row =
        ExpectedRows().at(ExpectedClasses().at(field->name()));
    for (size_t r = 0; r < kRelations.size(); ++r) {
      EXPECT_EQ(VisibilityFor(kind, kRelations[r]), Letter(row[r]))
          << field->name() << " for relation " << r;
    }
  }
  // Not set at all: auditors only.
  EXPECT_EQ(VisibilityFor(K::KIND_NOT_SET, Relation::kRecorder),
            Visibility::kNone);
}

TEST(VisibilityTest, TheMostGenerousRelationWinsAndNoneShowsNothing) {
  EXPECT_EQ(VisibilityFor(K::kOutcomesRecorded,
                          {Relation::kParty, Relation::kAddressee}),
            Visibility::kFull);
  EXPECT_EQ(VisibilityFor(K::kOutcomesRecorded, {Relation::kParty}),
            Visibility::kSkeleton);
  EXPECT_EQ(VisibilityFor(K::kConcernRaised, {Relation::kHolder}),
            Visibility::kNone);
  EXPECT_EQ(VisibilityFor(K::kConcernRaised, std::vector<Relation>{}),
            Visibility::kNone);
}

// A payload of `kind`, its message empty.
K Payload(K::KindCase kind) {
  K payload;
  payload.GetReflection()->MutableMessage(
      &payload, K::descriptor()->FindFieldByNumber(kind));
  return payload;
}

TEST(VisibilityTest, APackNeverShowsItsCompilerMoreThanItMayRead) {
  // The holder compiles: another organisation's concern stays out, its
  // consent shows as codes, the holder's own records in full.
  EXPECT_EQ(PackVisibility(Payload(K::kConcernRaised), {Relation::kHolder}),
            Visibility::kNone);
  EXPECT_EQ(PackVisibility(Payload(K::kConsentWithdrawn),
                           {Relation::kHolder, Relation::kParty}),
            Visibility::kCodes);
  // Child-protection records are in no pack, even the compiler's own or an
  // auditor's (the serious-harm review is a person's).
  EXPECT_EQ(PackVisibility(Payload(K::kConcernRaised),
                           {Relation::kHolder, Relation::kRecorder}),
            Visibility::kNone);
  EXPECT_EQ(PackVisibility(Payload(K::kSharingDeclined),
                           {Relation::kHolder, Relation::kRecorder}),
            Visibility::kNone);
  // An auditor compiles: everything else about the child, nothing about
  // organisations.
  EXPECT_EQ(PackVisibility(Payload(K::kConcernRaised), {Relation::kAuditor}),
            Visibility::kNone);
  EXPECT_EQ(PackVisibility(Payload(K::kConsentWithdrawn), {Relation::kAuditor}),
            Visibility::kFull);
  EXPECT_EQ(PackVisibility(Payload(K::kAgreementSigned), {Relation::kAuditor}),
            Visibility::kNone);
}

TEST(VisibilityTest, AKeptRecordIsForItsKeeperAndAuditorsOnly) {
  for (K::KindCase kind :
       {K::kChildProtectionKept, K::kChildProtectionReviewed}) {
    K event = Payload(kind);
    if (kind == K::kChildProtectionKept) {
      event.mutable_child_protection_kept()->set_organisation("service-1");
    } else {
      event.mutable_child_protection_reviewed()->set_organisation("service-1");
    }
    EXPECT_EQ(AddresseesOf(event), std::vector<std::string>{"service-1"});
    EXPECT_TRUE(OrganisationsNamedBy(event).empty());
    // The erasing holder recorded the kept record: it sees nothing of it.
    EXPECT_EQ(
        VisibilityFor(event, {Relation::kRecorder, Relation::kHolder,
                              Relation::kParty, Relation::kAreaAuthority}),
        Visibility::kNone);
    EXPECT_EQ(PackVisibility(event, {Relation::kAuditor}), Visibility::kNone);
    EXPECT_EQ(VisibilityFor(event, {Relation::kAddressee}), Visibility::kFull);
    if (kind == K::kChildProtectionKept) {
      // The one record an erasure writes now names every keeper: it has no
      // addressee (one keeper must not learn of another); auditors only.
      K shared = Payload(kind);
      shared.mutable_child_protection_kept()->add_keepers("service-1");
      shared.mutable_child_protection_kept()->add_keepers("service-2");
      EXPECT_TRUE(AddresseesOf(shared).empty());
      EXPECT_TRUE(OrganisationsNamedBy(shared).empty());
      EXPECT_EQ(VisibilityFor(shared, {Relation::kAuditor}), Visibility::kFull);
    }
    EXPECT_EQ(VisibilityFor(event, {Relation::kAuditor}), Visibility::kFull);
  }
}

TEST(VisibilityTest, ADisclosureForSafeguardingIsConfidential) {
  K disclosure = Payload(K::kDisclosureRecorded);
  EXPECT_EQ(ClassOf(disclosure), EventClass::kReported);
  EXPECT_EQ(VisibilityFor(disclosure, {Relation::kHolder}),
            Visibility::kSkeleton);
  disclosure.mutable_disclosure_recorded()->mutable_safeguarding();
  EXPECT_EQ(ClassOf(disclosure), EventClass::kConfidential);
  EXPECT_EQ(VisibilityFor(disclosure, {Relation::kHolder}), Visibility::kNone);
  EXPECT_EQ(VisibilityFor(disclosure, {Relation::kAreaAuthority}),
            Visibility::kNone);
  EXPECT_EQ(VisibilityFor(disclosure, {Relation::kAddressee}),
            Visibility::kFull);
}

TEST(VisibilityTest, ADecisionNotToShareNamesNoPartyButItsMaker) {
  K p;
  p.mutable_sharing_declined()->set_organisation("service-7");
  p.mutable_sharing_declined()->mutable_to()->set_organisation("school-1");
  EXPECT_EQ(OrganisationsNamedBy(p), std::vector<std::string>{"service-7"});
  EXPECT_TRUE(AddresseesOf(p).empty());
}

TEST(VisibilityTest, AddresseesAreThoseTheContentIsDisclosedTo) {
  K outcomes;
  outcomes.mutable_outcomes_recorded()->set_wellbeing(
      v1::OUTCOME_CHANGE_IMPROVED);
  EXPECT_TRUE(AddresseesOf(outcomes).empty()) << "no report: no addressee";
  outcomes.mutable_outcomes_recorded()
      ->mutable_report()
      ->mutable_to()
      ->set_organisation("school-1");
  EXPECT_EQ(AddresseesOf(outcomes), std::vector<std::string>{"school-1"});

  K referral;
  referral.mutable_referral_submitted()->set_school("school-1");
  referral.mutable_referral_submitted()->set_service("service-7");
  EXPECT_EQ(AddresseesOf(referral), std::vector<std::string>{"service-7"});
}

v1::AuditEntry FullEntry() {
  v1::AuditEntry entry;
  v1::RecordedEvent* e = entry.mutable_event();
  e->set_position(7);
  e->set_stream("intervention-i-1");
  e->set_event_type("intervention_planned");
  e->set_hash("h");
  e->set_salt("random-bytes");
  e->mutable_actor()->set_organisation("service-7");
  e->mutable_actor()->set_user("worker-name");
  e->mutable_actor()->set_role("service");
  auto* plan = e->mutable_payload()->mutable_intervention_planned();
  plan->set_worker("worker-3");
  plan->set_school("school-1");
  e->mutable_payload()->mutable_personal()->set_notes("private notes");
  e->mutable_payload()->mutable_encrypted_personal()->set_ciphertext("x");
  entry.set_subject_id("s-1");
  return entry;
}

TEST(VisibilityTest, CodesKeepThePayloadButNoPersonalPartOrStaffNames) {
  v1::AuditEntry entry = FullEntry();
  Redact(Visibility::kCodes, &entry);
  EXPECT_EQ(entry.shown(), v1::AuditEntry::SHOWN_CODES);
  const v1::RecordedEvent& e = entry.event();
  EXPECT_EQ(e.payload().intervention_planned().school(), "school-1");
  EXPECT_EQ(e.payload().intervention_planned().worker(), "");
  EXPECT_FALSE(e.payload().has_personal());
  EXPECT_FALSE(e.payload().has_encrypted_personal());
  EXPECT_EQ(e.actor().user(), "");
  EXPECT_EQ(e.actor().organisation(), "service-7");
  EXPECT_EQ(e.hash(), "h");
  EXPECT_EQ(e.salt(), "") << "with the salt, the hash tests guesses";
}

TEST(VisibilityTest, ASkeletonKeepsKindTimesPartiesAndHashesOnly) {
  v1::AuditEntry entry = FullEntry();
  entry.mutable_disclosure()->mutable_from()->set_organisation("service-7");
  entry.mutable_disclosure()->mutable_to()->set_organisation("school-1");
  entry.mutable_disclosure()->add_categories(v1::DATA_CATEGORY_WELLBEING);
  Redact(Visibility::kSkeleton, &entry);
  EXPECT_EQ(entry.shown(), v1::AuditEntry::SHOWN_SKELETON);
  const v1::RecordedEvent& e = entry.event();
  EXPECT_EQ(e.payload().kind_case(), K::KIND_NOT_SET);
  EXPECT_FALSE(e.payload().has_personal());
  EXPECT_EQ(e.event_type(), "intervention_planned");
  EXPECT_EQ(e.position(), 7u);
  EXPECT_EQ(e.hash(), "h");
  EXPECT_EQ(e.actor().user(), "");
  EXPECT_EQ(e.salt(), "");
  EXPECT_EQ(entry.disclosure().to().organisation(), "school-1");
  EXPECT_EQ(entry.disclosure().categories_size(), 0);
}

TEST(VisibilityTest, FullShowsEverything) {
  v1::AuditEntry entry = FullEntry();
  Redact(Visibility::kFull, &entry);
  EXPECT_EQ(entry.shown(), v1::AuditEntry::SHOWN_FULL);
  EXPECT_EQ(entry.event().payload().personal().notes(), "private notes");
  EXPECT_EQ(entry.event().actor().user(), "worker-name");
  EXPECT_EQ(entry.event().salt(), "random-bytes");
}

TEST(VisibilityTest, APackRedactsOtherOrganisationsStaffAndThirdParties) {
  v1::AuditEntry entry = FullEntry();
  RedactForDataSubject("service-7", &entry);
  EXPECT_EQ(entry.event().actor().user(), "worker-name") << "own staff";
  EXPECT_EQ(entry.event().salt(), "random-bytes");
  RedactForDataSubject("school-1", &entry);
  EXPECT_EQ(entry.event().actor().user(), "");
  EXPECT_EQ(entry.event().salt(), "");
  EXPECT_EQ(entry.event().payload().intervention_planned().worker(), "");

  v1::SubjectRecord record;
  record.set_given_name("Child");
  auto* parent = record.add_related();
  parent->set_name("Parent Person");
  parent->set_relationship("mother");
  parent->add_contacts()->set_value("07700 900000");
  RedactForDataSubject(&record);
  EXPECT_EQ(record.given_name(), "Child");
  EXPECT_EQ(record.related(0).name(), "");
  EXPECT_EQ(record.related(0).contacts_size(), 0);
  EXPECT_EQ(record.related(0).relationship(), "mother");
}

// Any event that carries a disclosure on a safeguarding basis (a transfer
// to another school may go without consent) is confidential, and its codes
// name none of the decision makers.
TEST(VisibilityTest, AnEventCarryingASafeguardingDisclosureIsConfidential) {
  for (K::KindCase kind : {K::kReferralTransferred, K::kReferralSubmitted,
                           K::kOutcomesRecorded, K::kDisclosureRecorded}) {
    K p = Payload(kind);
    v1::DisclosureRecorded* d =
        kind == K::kReferralTransferred
            ? p.mutable_referral_transferred()->mutable_disclosure()
        : kind == K::kReferralSubmitted
            ? p.mutable_referral_submitted()->mutable_disclosure()
        : kind == K::kOutcomesRecorded
            ? p.mutable_outcomes_recorded()->mutable_report()
            : p.mutable_disclosure_recorded();
    EXPECT_NE(ClassOf(p), EventClass::kConfidential) << kind;
    d->mutable_safeguarding()->set_decision_maker("dm-1");
    EXPECT_EQ(ClassOf(p), EventClass::kConfidential) << kind;
    EXPECT_EQ(VisibilityFor(p, {Relation::kAreaAuthority}), Visibility::kNone)
        << kind;
    EXPECT_EQ(PackVisibility(p, {Relation::kRecorder}), Visibility::kNone)
        << kind;
    v1::AuditEntry entry;
    *entry.mutable_event()->mutable_payload() = p;
    Redact(Visibility::kCodes, &entry);
    EXPECT_EQ(entry.DebugString().find("dm-1"), std::string::npos) << kind;
  }
}

}  // namespace
}  // namespace ycr::domain
