// Subjects: what a subject record must hold, which parts a revision changes,
// that only the holder replaces it, and a school's identification of a young
// carer.

#include "domain/subject_rules.h"

#include <string>
#include <vector>

#include "common/error_details.h"
#include "common/proto_time.h"
#include "domain/refusals.h"
#include "gtest/gtest.h"
#include "tests/unit/domain_test_util.h"

namespace ycr::domain {
namespace {

using testing::As;
using testing::ExpectStatus;

using v1::EventPayload;

constexpr char kSchool[] = "school-100001";
constexpr char kOtherSchool[] = "school-100002";

// 2026-05-28T20:26:40Z.
const absl::Time kNow = absl::FromUnixSeconds(1'780'000'000);

v1::SubjectRecord Record() {
  v1::SubjectRecord r;
  r.set_subject_id("s-1");
  r.set_given_name("Sam");
  r.set_family_name("Carer");
  r.set_date_of_birth("2012-02-29");
  auto* c = r.add_contacts();
  c->set_kind("phone");
  c->set_value("01234 567890");
  auto* mum = r.add_related();
  mum->set_person_ref("p-1");
  mum->set_name("Alex Carer");
  mum->set_relationship("mother");
  mum->set_parental_responsibility(true);
  mum->set_cared_for(true);
  auto* mc = mum->add_contacts();
  mc->set_kind("email");
  mc->set_value("alex@example.org");
  auto* brother = r.add_related();
  brother->set_person_ref("p-2");
  brother->set_name("Jo Carer");
  r.set_holder(kSchool);
  return r;
}

EventPayload Identify(const std::string& school = "",
                      const std::string& cares_for = "") {
  EventPayload p;
  auto* e = p.mutable_young_carer_identified();
  e->set_subject_id("s-1");
  e->set_school(school);
  e->set_census_code(v1::CENSUS_CODE_IDENTIFIED_BY_SCHOOL);
  e->set_cares_for_ref(cares_for);
  return p;
}

// ---- ValidateSubjectRecord ----

TEST(SubjectRecordTest, ACompleteRecordPasses) {
  EXPECT_TRUE(ValidateSubjectRecord(Record(), kNow).ok());
  v1::SubjectRecord minimal;
  minimal.set_subject_id("s-1");
  minimal.set_given_name("Sam");
  minimal.set_family_name("Carer");
  minimal.set_date_of_birth("2012-09-01");
  EXPECT_TRUE(ValidateSubjectRecord(minimal, kNow).ok());
}

TEST(SubjectRecordTest, NamesAndIdAreRequired) {
  v1::SubjectRecord r = Record();
  r.clear_subject_id();
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.subject_id: is required");
  r = Record();
  r.set_subject_id("s 1");
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument, "record.subject_id: only");
  r = Record();
  r.set_given_name(" ");
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.given_name: is required");
  r = Record();
  r.clear_family_name();
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.family_name: is required");
  r = Record();
  r.set_family_name(std::string(16 * 1024 + 1, 'f'));
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.family_name: at most");
}

TEST(SubjectRecordTest, DateOfBirthIsARealYyyyMmDdDate) {
  for (const char* bad :
       {"", "2012-2-29", "2012-02-9", "12-02-29", "2012/02/28", "2012-02-30",
        "2011-02-29", "2012-13-01", "2012-00-10", "2012-04-31", "1899-12-31",
        "2012-02-28T00", "20120228", " 2012-02-2", "2012-02-2x", "abcd-ef-gh",
        "+012-02-28"}) {
    v1::SubjectRecord r = Record();
    r.set_date_of_birth(bad);
    ExpectStatus(ValidateSubjectRecord(r, kNow),
                 absl::StatusCode::kInvalidArgument,
                 "record.date_of_birth: a date, YYYY-MM-DD");
  }
  for (const char* good :
       {"2012-02-29", "2000-02-29", "1900-01-01", "2010-12-31", "2026-05-28"}) {
    v1::SubjectRecord r = Record();
    r.set_date_of_birth(good);
    EXPECT_TRUE(ValidateSubjectRecord(r, kNow).ok()) << good;
  }
}

TEST(SubjectRecordTest, DateOfBirthIsNotInTheFuture) {
  v1::SubjectRecord r = Record();
  r.set_date_of_birth("2026-05-29");
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.date_of_birth: cannot be in the future");
  // Midnight UTC of the day of birth is the boundary.
  EXPECT_TRUE(
      ValidateSubjectRecord(
          r, absl::FromCivil(absl::CivilDay(2026, 5, 29), absl::UTCTimeZone()))
          .ok());
}

TEST(SubjectRecordTest, ContactsNeedAKindAndAValue) {
  v1::SubjectRecord r = Record();
  r.mutable_contacts(0)->clear_kind();
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.contacts[0].kind: is required");
  r = Record();
  r.add_contacts()->set_kind("email");
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.contacts[1].value: is required");
  r = Record();
  r.mutable_related(0)->mutable_contacts(0)->set_value(" ");
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.related[0].contacts[0].value: is required");
}

TEST(SubjectRecordTest, AtMostTwentyContactsAndRelatedPeople) {
  v1::SubjectRecord r = Record();
  while (r.contacts_size() < 20) *r.add_contacts() = r.contacts(0);
  EXPECT_TRUE(ValidateSubjectRecord(r, kNow).ok());
  *r.add_contacts() = r.contacts(0);
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.contacts: at most 20");
  r = Record();
  auto* contacts = r.mutable_related(0)->mutable_contacts();
  while (contacts->size() < 21) *contacts->Add() = (*contacts)[0];
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.related[0].contacts: at most 20");
  r = Record();
  while (r.related_size() < 20) {
    auto* p = r.add_related();
    p->set_person_ref("p-" + std::to_string(r.related_size()));
    p->set_name("Someone");
  }
  EXPECT_TRUE(ValidateSubjectRecord(r, kNow).ok());
  auto* p = r.add_related();
  p->set_person_ref("p-21");
  p->set_name("Someone");
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.related: at most 20");
}

TEST(SubjectRecordTest, RelatedPeopleHaveUniqueRefsAndNames) {
  v1::SubjectRecord r = Record();
  r.mutable_related(1)->clear_person_ref();
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.related[1].person_ref: is required");
  r = Record();
  r.mutable_related(1)->set_person_ref("p 2");
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.related[1].person_ref: only");
  r = Record();
  r.mutable_related(1)->set_person_ref("p-1");
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.related[1].person_ref: p-1 appears twice");
  r = Record();
  r.mutable_related(0)->clear_name();
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.related[0].name: is required");
  r = Record();
  r.mutable_related(0)->set_relationship(std::string(16 * 1024 + 1, 'r'));
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.related[0].relationship: must be one of mother, father");
}

// A relationship is a code (issue 14): free text about the person, which
// would travel wherever relationships are shown, is refused, naming the
// field and listing the codes.
TEST(SubjectRecordTest, RelationshipIsACodeNotFreeText) {
  v1::SubjectRecord r = Record();
  r.mutable_related(0)->set_relationship(
      "mother, who has a terminal diagnosis");
  ExpectStatus(ValidateSubjectRecord(r, kNow),
               absl::StatusCode::kInvalidArgument,
               "record.related[0].relationship: must be one of mother, "
               "father, parent, step-parent, guardian, grandparent, sibling");
  r.mutable_related(0)->set_relationship("Mother");
  EXPECT_EQ(ValidateSubjectRecord(r, kNow).code(),
            absl::StatusCode::kInvalidArgument);
  for (const std::string& code : RelationshipCodes()) {
    r.mutable_related(0)->set_relationship(code);
    EXPECT_TRUE(ValidateSubjectRecord(r, kNow).ok()) << code;
  }
  // Optional: a related person need not have one.
  r.mutable_related(0)->clear_relationship();
  EXPECT_TRUE(ValidateSubjectRecord(r, kNow).ok());
}

// ---- ChangedParts ----

TEST(SubjectRecordTest, ANewRecordChangesEveryPart) {
  EXPECT_EQ(ChangedParts(nullptr, Record()),
            (std::vector<std::string>{"given_name", "family_name",
                                      "date_of_birth", "contacts", "related"}));
  v1::SubjectRecord empty;
  EXPECT_EQ(ChangedParts(nullptr, empty).size(), 5u);
}

TEST(SubjectRecordTest, AnUnchangedRecordChangesNothing) {
  const v1::SubjectRecord before = Record();
  v1::SubjectRecord after = Record();
  // Server-set fields are not parts.
  after.set_holder("school-100002");
  after.set_revision(7);
  *after.mutable_updated_at() = ToProtoTime(kNow);
  EXPECT_TRUE(ChangedParts(&before, after).empty());
}

TEST(SubjectRecordTest, EachChangedPartIsNamed) {
  const v1::SubjectRecord before = Record();
  struct Case {
    void (*change)(v1::SubjectRecord*);
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {[](v1::SubjectRecord* r) { r->set_given_name("Samuel"); },
       {"given_name"}},
      {[](v1::SubjectRecord* r) { r->set_family_name("Other"); },
       {"family_name"}},
      {[](v1::SubjectRecord* r) { r->set_date_of_birth("2012-03-01"); },
       {"date_of_birth"}},
      {[](v1::SubjectRecord* r) { r->mutable_contacts(0)->set_value("0"); },
       {"contacts"}},
      {[](v1::SubjectRecord* r) { r->clear_contacts(); }, {"contacts"}},
      {[](v1::SubjectRecord* r) { r->add_contacts()->set_kind("x"); },
       {"contacts"}},
      {[](v1::SubjectRecord* r) { r->mutable_related(1)->set_name("Joe"); },
       {"related"}},
      {[](v1::SubjectRecord* r) {
         r->mutable_related(0)->set_cared_for(false);
       },
       {"related"}},
      {[](v1::SubjectRecord* r) { r->mutable_related()->SwapElements(0, 1); },
       {"related"}},
      {[](v1::SubjectRecord* r) { r->mutable_related()->RemoveLast(); },
       {"related"}},
      {[](v1::SubjectRecord* r) {
         r->set_given_name("A");
         r->clear_related();
       },
       {"given_name", "related"}},
  };
  for (const Case& c : cases) {
    v1::SubjectRecord after = Record();
    c.change(&after);
    EXPECT_EQ(ChangedParts(&before, after), c.parts);
  }
}

TEST(SubjectRecordTest, EmptyRelatedBeforeAndAfterIsUnchanged) {
  v1::SubjectRecord before = Record();
  before.clear_related();
  v1::SubjectRecord after = before;
  EXPECT_TRUE(ChangedParts(&before, after).empty());
}

// ---- CheckSubjectRecordPut ----

TEST(SubjectRecordTest, AnyoneCreatesOnlyTheHolderReplaces) {
  EXPECT_TRUE(CheckSubjectRecordPut(nullptr, As(kOtherSchool)).ok());
  const v1::SubjectRecord current = Record();
  EXPECT_TRUE(CheckSubjectRecordPut(&current, As(kSchool)).ok());
  ExpectStatus(CheckSubjectRecordPut(&current, As(kOtherSchool)),
               absl::StatusCode::kPermissionDenied,
               "only the record's holder may change it; the "
               "caller acts for school-100002");
}

// ---- DecideIdentification ----

TEST(IdentificationTest, TheSchoolIsFilledInFromTheCaller) {
  const v1::SubjectRecord record = Record();
  EventPayload p = Identify();
  ASSERT_TRUE(DecideIdentification(&record, As(kSchool), &p).ok());
  EXPECT_EQ(p.young_carer_identified().school(), kSchool);
  p = Identify(kSchool);
  ASSERT_TRUE(DecideIdentification(&record, As(kSchool), &p).ok());
  EXPECT_EQ(p.young_carer_identified().school(), kSchool);
}

TEST(IdentificationTest, ASchoolIdentifiesOnlyItsOwnPupilsForItself) {
  // Only the record's holder identifies its pupil (tenancy: another school
  // would write into a pupil record it does not hold).
  const v1::SubjectRecord record = Record();
  EventPayload p = Identify();
  ExpectStatus(DecideIdentification(&record, As(kOtherSchool), &p),
               absl::StatusCode::kPermissionDenied,
               "only the record's holder may identify the "
               "pupil as a young carer; the caller acts for school-100002");
  p = Identify(kSchool);
  ExpectStatus(DecideIdentification(&record, As(kOtherSchool), &p),
               absl::StatusCode::kPermissionDenied,
               "only the school may identify its pupils");
}

// Identification is for the record's holder only: not a service the pupil
// is referred to, nor a local authority, whatever school they name.
TEST(IdentificationTest, OnlyTheHolderIdentifiesNotAServiceOrAnAuthority) {
  const v1::SubjectRecord record = Record();
  for (const char* organisation : {"service-7", "la-201"}) {
    EventPayload p = Identify();
    ExpectStatus(DecideIdentification(&record, As(organisation), &p),
                 absl::StatusCode::kPermissionDenied,
                 "only the record's holder may identify the "
                 "pupil as a young carer");
    p = Identify(kSchool);
    ExpectStatus(DecideIdentification(&record, As(organisation), &p),
                 absl::StatusCode::kPermissionDenied,
                 "only the school may identify its pupils");
  }
}

// That the subject was erased is the holder's to learn (SUBJECT_ERASED);
// another school is refused as it was before the erasure.
TEST(IdentificationTest, OnlyTheHolderIsToldTheSubjectWasErased) {
  v1::SubjectRecord record = Record();
  record.set_erased(true);
  EventPayload p = Identify();
  const absl::Status holder = DecideIdentification(&record, As(kSchool), &p);
  ExpectStatus(holder, absl::StatusCode::kFailedPrecondition, "erased");
  EXPECT_EQ(DetailsOf(holder).reason, reason::kSubjectErased);
  p = Identify();
  const absl::Status other =
      DecideIdentification(&record, As(kOtherSchool), &p);
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied) << other;
  EXPECT_EQ(other.message().find("erased"), absl::string_view::npos) << other;
  EXPECT_NE(DetailsOf(other).reason, reason::kSubjectErased);
}

TEST(IdentificationTest, EveryCensusCodeButUnspecified) {
  const v1::SubjectRecord record = Record();
  for (v1::CensusCode code :
       {v1::CENSUS_CODE_NOT_DECLARED, v1::CENSUS_CODE_IDENTIFIED_BY_PARENT,
        v1::CENSUS_CODE_IDENTIFIED_BY_SCHOOL}) {
    EventPayload p = Identify();
    p.mutable_young_carer_identified()->set_census_code(code);
    EXPECT_TRUE(DecideIdentification(&record, As(kSchool), &p).ok()) << code;
  }
  EventPayload p = Identify();
  p.mutable_young_carer_identified()->set_census_code(
      v1::CENSUS_CODE_UNSPECIFIED);
  ExpectStatus(DecideIdentification(&record, As(kSchool), &p),
               absl::StatusCode::kInvalidArgument,
               "identification.census_code: is required");
}

TEST(IdentificationTest, SubjectIdIsRequired) {
  const v1::SubjectRecord record = Record();
  EventPayload p = Identify();
  p.mutable_young_carer_identified()->clear_subject_id();
  ExpectStatus(DecideIdentification(&record, As(kSchool), &p),
               absl::StatusCode::kInvalidArgument,
               "identification.subject_id: is required");
}

TEST(IdentificationTest, NoRecordIsNotFound) {
  EventPayload p = Identify();
  ExpectStatus(DecideIdentification(nullptr, As(kSchool), &p),
               absl::StatusCode::kNotFound, "no such subject");
}

TEST(IdentificationTest, CaresForARelatedPerson) {
  const v1::SubjectRecord record = Record();
  for (const char* ref : {"p-1", "p-2"}) {
    EventPayload p = Identify("", ref);
    EXPECT_TRUE(DecideIdentification(&record, As(kSchool), &p).ok()) << ref;
  }
  EventPayload p = Identify("", "p-3");
  ExpectStatus(DecideIdentification(&record, As(kSchool), &p),
               absl::StatusCode::kInvalidArgument,
               "identification.cares_for_ref: p-3 is not a related person in "
               "the subject record");
}

// ---- Fold ----

TEST(SubjectViewTest, FoldTracksHolderAndLatestIdentification) {
  SubjectView view;
  v1::RecordedEvent recorded;
  auto* changed = recorded.mutable_payload()->mutable_subject_record_changed();
  changed->set_subject_id("s-1");
  changed->set_holder(kSchool);
  recorded.set_stream_version(1);
  ASSERT_TRUE(ApplySubjectEvent(recorded, &view).ok());
  EXPECT_EQ(view.holder, kSchool);
  EXPECT_EQ(view.census_code, v1::CENSUS_CODE_UNSPECIFIED);
  EXPECT_EQ(view.version, 1u);

  *recorded.mutable_payload() = Identify(kOtherSchool);
  recorded.set_stream_version(2);
  ASSERT_TRUE(ApplySubjectEvent(recorded, &view).ok());
  EXPECT_EQ(view.census_code, v1::CENSUS_CODE_IDENTIFIED_BY_SCHOOL);
  EXPECT_EQ(view.identified_by, kOtherSchool);
  EXPECT_EQ(view.holder, kSchool);
  EXPECT_EQ(view.version, 2u);

  recorded.mutable_payload()->mutable_concern_closed();
  recorded.set_stream_version(3);
  ExpectStatus(ApplySubjectEvent(recorded, &view),
               absl::StatusCode::kInvalidArgument,
               "payload: is not a subject event");
  EXPECT_EQ(view.version, 2u);
}

}  // namespace
}  // namespace ycr::domain
