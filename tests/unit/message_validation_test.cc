// The validator derived from the contract (domain/message_
// validation.h): each rule, the paths it names (nested, repeated, map,
// oneof), and many violations in one status.

#include "domain/message_validation.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/error_details.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "ycr/v1/agreement.pb.h"
#include "ycr/v1/area.pb.h"
#include "ycr/v1/classification.pb.h"
#include "ycr/v1/consent.pb.h"
#include "ycr/v1/consent_service.pb.h"
#include "ycr/v1/correspondence.pb.h"
#include "ycr/v1/correspondence_service.pb.h"
#include "ycr/v1/event_store.pb.h"
#include "ycr/v1/intervention.pb.h"
#include "ycr/v1/queries_service.pb.h"
#include "ycr/v1/read_models.pb.h"
#include "ycr/v1/referral.pb.h"
#include "ycr/v1/safeguarding.pb.h"
#include "ycr/v1/safeguarding_service.pb.h"
#include "ycr/v1/sharing.pb.h"
#include "ycr/v1/sharing_service.pb.h"
#include "ycr/v1/subject.pb.h"
#include "ycr/v1/subject_service.pb.h"
#include "ycr/v1/testing_service.pb.h"

namespace ycr::domain {
namespace {

constexpr int64_t k2030 = 1893456000;  // 2030-01-01T00:00:00Z

v1::GrantConsentRequest ValidGrant() {
  v1::GrantConsentRequest r;
  r.set_request_id("8d8ac610-566d-4ef0-9c22-186b2a5ed793");
  v1::ConsentGranted* c = r.mutable_consent();
  c->set_consent_id("c-1");
  c->set_subject_id("s-1");
  c->mutable_given_by()->mutable_parent()->set_person_ref("p-1");
  c->mutable_given_by()->mutable_parent()->set_relationship("mother");
  v1::ConsentTerms* t = c->mutable_terms();
  t->add_purposes(v1::PURPOSE_REFERRAL);
  t->add_purposes(v1::PURPOSE_NEEDS_ASSESSMENT);
  t->add_categories(v1::DATA_CATEGORY_IDENTITY);
  t->add_recipients()->set_organisation("service-1");
  t->mutable_valid_from()->set_seconds(k2030);
  t->mutable_valid_until()->set_seconds(k2030 + 86400 * 365);
  r.mutable_personal()->set_verification("signed form\nseen by\tthe DSL\r\n");
  return r;
}

std::vector<MessageViolation> All(const google::protobuf::Message& m) {
  return FindViolations(m);
}

void ExpectOne(const google::protobuf::Message& m, const std::string& field,
               const std::string& reason) {
  std::vector<MessageViolation> v = All(m);
  ASSERT_EQ(v.size(), 1u) << m.DebugString();
  EXPECT_EQ(v[0].field, field);
  EXPECT_EQ(v[0].reason, reason);
  EXPECT_FALSE(v[0].description.empty());
}

TEST(MessageValidationTest, AValidRequestPasses) {
  EXPECT_TRUE(ValidateMessage(ValidGrant()).ok());
  EXPECT_TRUE(ValidateMessage(v1::GrantConsentRequest()).ok());
  EXPECT_TRUE(ValidateMessage(v1::HeadRequest()).ok());
}

TEST(MessageValidationTest, UnknownEnumValuesAreRefusedWherever) {
  v1::GrantConsentRequest r = ValidGrant();
  r.mutable_consent()->mutable_terms()->set_purposes(
      1, static_cast<v1::Purpose>(99));
  ExpectOne(r, "consent.terms.purposes[1]", reason::kUnknownEnumValue);

  v1::RecordDisclosureRequest d;
  d.mutable_disclosure()->set_purpose(static_cast<v1::Purpose>(99));
  ExpectOne(d, "disclosure.purpose", reason::kUnknownEnumValue);

  // In a oneof case.
  v1::CorrespondenceCommand c;
  c.mutable_receive()->set_channel(static_cast<v1::Channel>(77));
  ExpectOne(c, "receive.channel", reason::kUnknownEnumValue);

  v1::IdentifyYoungCarerRequest i;
  i.mutable_identification()->set_census_code(static_cast<v1::CensusCode>(9));
  ExpectOne(i, "identification.census_code", reason::kUnknownEnumValue);

  // Defined values, UNSPECIFIED included, are the rules' to judge.
  d.mutable_disclosure()->set_purpose(v1::PURPOSE_UNSPECIFIED);
  EXPECT_TRUE(All(d).empty());
}

TEST(MessageValidationTest, TimestampsNanosAndRange) {
  v1::GrantConsentRequest r = ValidGrant();
  r.mutable_consent()->mutable_terms()->mutable_valid_from()->set_nanos(-1);
  ExpectOne(r, "consent.terms.valid_from.nanos", reason::kTimeOutOfRange);

  r = ValidGrant();
  // After 9999 (and after the consent validity bound of 2100).
  r.mutable_consent()->mutable_terms()->mutable_valid_until()->set_seconds(
      253402300800 + 1);
  ExpectOne(r, "consent.terms.valid_until.seconds", reason::kTimeOutOfRange);

  v1::ListOverdueRequest overdue;
  // Year -300000.
  overdue.mutable_as_of()->set_seconds(-9'467'000'000'000);
  ExpectOne(overdue, "as_of.seconds", reason::kTimeOutOfRange);
  overdue.mutable_as_of()->set_seconds(kEarliestTime);
  EXPECT_TRUE(All(overdue).empty());
  overdue.mutable_as_of()->set_seconds(kEarliestTime - 1);
  ExpectOne(overdue, "as_of.seconds", reason::kTimeOutOfRange);
  overdue.mutable_as_of()->set_seconds(kLatestTime - 1);
  overdue.mutable_as_of()->set_nanos(999999999);
  EXPECT_TRUE(All(overdue).empty());
  overdue.mutable_as_of()->set_seconds(kLatestTime);
  overdue.mutable_as_of()->set_nanos(0);
  ExpectOne(overdue, "as_of.seconds", reason::kTimeOutOfRange);

  v1::ConsentInForceRequest in_force;
  in_force.mutable_at()->set_seconds(k2030);
  in_force.mutable_at()->set_nanos(1000000000);
  ExpectOne(in_force, "at.nanos", reason::kTimeOutOfRange);
}

TEST(MessageValidationTest, ConsentValidityHasItsOwnBoundsAndOrder) {
  v1::GrantConsentRequest r = ValidGrant();
  // 1950 is a time, but not a consent's start.
  r.mutable_consent()->mutable_terms()->mutable_valid_from()->set_seconds(
      -631152000);
  ExpectOne(r, "consent.terms.valid_from.seconds", reason::kTimeOutOfRange);

  r = ValidGrant();
  *r.mutable_consent()->mutable_terms()->mutable_valid_until() =
      r.consent().terms().valid_from();
  ExpectOne(r, "consent.terms.valid_until", reason::kTimeOutOfRange);
}

TEST(MessageValidationTest, DurationsInRangeWithConsistentSigns) {
  v1::AdvanceTimeRequest a;
  a.mutable_by()->set_seconds(60);
  EXPECT_TRUE(All(a).empty());
  a.mutable_by()->set_nanos(-1);
  ExpectOne(a, "by.nanos", reason::kTimeOutOfRange);
  a.mutable_by()->set_nanos(0);
  a.mutable_by()->set_seconds(int64_t{1} << 40);
  ExpectOne(a, "by.seconds", reason::kTimeOutOfRange);
}

TEST(MessageValidationTest, DatesOfBirth) {
  v1::PutSubjectRecordRequest r;
  r.mutable_record()->set_date_of_birth("2014-02-28");
  EXPECT_TRUE(All(r).empty());
  r.mutable_record()->set_date_of_birth("1899-12-31");
  ExpectOne(r, "record.date_of_birth", reason::kTimeOutOfRange);
  r.mutable_record()->set_date_of_birth("2014-02-30");
  ExpectOne(r, "record.date_of_birth", reason::kFieldInvalid);
  r.mutable_record()->set_date_of_birth("-300000-01-01");
  ExpectOne(r, "record.date_of_birth", reason::kFieldInvalid);
}

TEST(MessageValidationTest, IdsHoldNoControlCharacters) {
  v1::GrantConsentRequest r = ValidGrant();
  r.mutable_consent()->set_subject_id(std::string("s-1\0s-2", 7));
  ExpectOne(r, "consent.subject_id", reason::kFieldInvalid);

  r = ValidGrant();
  r.mutable_consent()->mutable_given_by()->mutable_parent()->set_person_ref(
      "p\n1");
  ExpectOne(r, "consent.given_by.parent.person_ref", reason::kFieldInvalid);

  // DEL and C1 controls too.
  r = ValidGrant();
  r.mutable_consent()->set_consent_id("c\x7f");
  ExpectOne(r, "consent.consent_id", reason::kFieldInvalid);
  r.mutable_consent()->set_consent_id("c\xc2\x85");  // U+0085
  ExpectOne(r, "consent.consent_id", reason::kFieldInvalid);
  // An identifier is a token: no spaces, no other letters than ASCII.
  r.mutable_consent()->set_consent_id("c-\xc3\xa9");
  ExpectOne(r, "consent.consent_id", reason::kFieldInvalid);
  r.mutable_consent()->set_consent_id("j.khan@school-1:urn/100+1_a");
  EXPECT_TRUE(All(r).empty());
}

// Every identifier field of the contract refuses words: a worker, an
// assessor, a decision maker, a DSL or a social-care reference named in
// text ("Tom's mother") would sit unsealed in the log and outlive the
// child's erasure. Only the fields that name a person as written (the
// subject record's, sealed; agreement contacts, staff) take spaces.
TEST(MessageValidationTest, EveryIdentifierFieldRefusesWords) {
  const std::set<std::string> names_a_person = {
      "ycr.v1.SubjectRecord.given_name",
      "ycr.v1.SubjectRecord.family_name",
      "ycr.v1.SubjectRecord.date_of_birth",
      "ycr.v1.RelatedPerson.name",
      "ycr.v1.ContactDetail.value",
      "ycr.v1.Contact.name",
      "ycr.v1.Contact.phone",
      "ycr.v1.Contact.email"};
  // The files whose messages a caller writes (requests and the events they
  // carry), and one of the read side's.
  const std::vector<const google::protobuf::FileDescriptor*> files = {
      v1::ConsentGranted::descriptor()->file(),
      v1::CorrespondenceReceived::descriptor()->file(),
      v1::InterventionPlanned::descriptor()->file(),
      v1::DslNotified::descriptor()->file(),
      v1::SharingDeclined::descriptor()->file(),
      v1::SubjectRecord::descriptor()->file(),
      v1::AgreementSigned::descriptor()->file(),
      v1::ReferralSubmitted::descriptor()->file(),
      v1::AreaAssigned::descriptor()->file(),
      v1::EraseSubjectRequest::descriptor()->file(),
      v1::GetConcernRequest::descriptor()->file(),
      v1::GrantConsentRequest::descriptor()->file()};
  const google::protobuf::DescriptorPool* pool = files[0]->pool();
  google::protobuf::DynamicMessageFactory factory(pool);
  int checked = 0;
  for (const google::protobuf::FileDescriptor* f : files) {
    for (int m = 0; m < f->message_type_count(); ++m) {
      const google::protobuf::Descriptor* d = f->message_type(m);
      for (int i = 0; i < d->field_count(); ++i) {
        const google::protobuf::FieldDescriptor* field = d->field(i);
        if (field->type() != google::protobuf::FieldDescriptor::TYPE_STRING ||
            field->is_map() ||
            field->options().GetExtension(v1::classification) !=
                v1::FIELD_CLASS_IDENTIFIER) {
          continue;
        }
        std::unique_ptr<google::protobuf::Message> message(
            factory.GetPrototype(d)->New());
        const google::protobuf::Reflection* r = message->GetReflection();
        const std::string words = "Tom's mother has MS";
        if (field->is_repeated()) {
          r->AddString(message.get(), field, words);
        } else {
          r->SetString(message.get(), field, words);
        }
        const std::vector<MessageViolation> v = All(*message);
        if (field->full_name() == "ycr.v1.SubjectRecord.date_of_birth") {
          continue;  // A date, checked as one (DatesOfBirth).
        }
        if (names_a_person.count(field->full_name()) > 0) {
          EXPECT_TRUE(v.empty()) << field->full_name();
          continue;
        }
        ++checked;
        ASSERT_EQ(v.size(), 1u) << field->full_name() << " took words";
        EXPECT_EQ(v[0].reason, reason::kFieldInvalid) << field->full_name();
        EXPECT_TRUE(absl::StrContains(v[0].description, "identifier"))
            << v[0].description;
      }
    }
  }
  // Among them the staff fields that took text before.
  EXPECT_GT(checked, 40);
}

TEST(MessageValidationTest, FreeTextKeepsLineBreaksButNoOtherControls) {
  v1::GrantConsentRequest r = ValidGrant();
  r.mutable_personal()->set_notes("line one\nline two\ttab\r\n");
  EXPECT_TRUE(All(r).empty());
  r.mutable_personal()->set_notes(std::string("a\0b", 3));
  ExpectOne(r, "personal.notes", reason::kFieldInvalid);
  r.mutable_personal()->set_notes("bell\a");
  ExpectOne(r, "personal.notes", reason::kFieldInvalid);
}

TEST(MessageValidationTest, InvalidUtf8IsRefused) {
  v1::GrantConsentRequest r = ValidGrant();
  for (const std::string& bad :
       {std::string("\xff"), std::string("\xc0\xaf"),  // overlong '/'
        std::string("\xed\xa0\x80"),                   // a surrogate
        std::string("\xe2\x82"),                       // truncated
        std::string("\xf4\x90\x80\x80")}) {            // past U+10FFFF
    r.mutable_personal()->set_notes("ok " + bad);
    ExpectOne(r, "personal.notes", reason::kFieldInvalid);
  }
  r.mutable_personal()->set_notes("\xf0\x9f\x98\x80 \xe2\x82\xac");
  EXPECT_TRUE(All(r).empty());
}

TEST(MessageValidationTest, LengthsByClass) {
  v1::GrantConsentRequest r = ValidGrant();
  r.mutable_consent()->set_subject_id(std::string(kMaxCodeBytes, 'a'));
  EXPECT_TRUE(All(r).empty());
  r.mutable_consent()->set_subject_id(std::string(kMaxCodeBytes + 1, 'a'));
  ExpectOne(r, "consent.subject_id", reason::kTooLong);

  r = ValidGrant();
  r.mutable_personal()->set_notes(std::string(kMaxFreeTextBytes, 'x'));
  EXPECT_TRUE(All(r).empty());
  r.mutable_personal()->set_notes(std::string(kMaxFreeTextBytes + 1, 'x'));
  ExpectOne(r, "personal.notes", reason::kTooLong);

  // Operational bytes: any octets, long.
  v1::AppendRequest a;
  a.set_stream(std::string(300, 's'));  // Streams: up to 4096.
  auto* e = a.add_events();
  e->mutable_payload()->mutable_opaque()->set_type("test.note");
  e->mutable_payload()->mutable_opaque()->set_data(std::string(100000, '\0') +
                                                   "\xff");
  EXPECT_TRUE(All(a).empty());
  a.set_stream(std::string(4097, 's'));
  ExpectOne(a, "stream", reason::kTooLong);
}

TEST(MessageValidationTest, RepeatedFieldsAreBoundedInCount) {
  v1::GrantConsentRequest r = ValidGrant();
  auto* purposes = r.mutable_consent()->mutable_terms()->mutable_purposes();
  purposes->Clear();
  for (size_t i = 0; i < kMaxRepeated; ++i) purposes->Add(v1::PURPOSE_REFERRAL);
  EXPECT_TRUE(All(r).empty());
  purposes->Add(v1::PURPOSE_REFERRAL);
  ExpectOne(r, "consent.terms.purposes", reason::kTooLong);
}

TEST(MessageValidationTest, MapKeysTakeTheMapFieldsClass) {
  v1::CaseloadCounts counts;
  (*counts.mutable_by_state())["registered"] = 3;
  (*counts.mutable_by_worker())["worker-1"] = 2;
  EXPECT_TRUE(All(counts).empty());
  (*counts.mutable_by_worker())[std::string("w\0x", 3)] = 1;
  ExpectOne(counts, "by_worker[\"w\\x00x\"]", reason::kFieldInvalid);
}

TEST(MessageValidationTest, UnknownFieldsAreRefusedAtAnyDepth) {
  v1::GrantConsentRequest r = ValidGrant();
  r.GetReflection()->MutableUnknownFields(&r)->AddVarint(9999, 1);
  ExpectOne(r, "9999", reason::kUnknownField);

  r = ValidGrant();
  v1::ConsentTerms* terms = r.mutable_consent()->mutable_terms();
  terms->GetReflection()->MutableUnknownFields(terms)->AddLengthDelimited(42,
                                                                          "x");
  ExpectOne(r, "consent.terms.42", reason::kUnknownField);

  // In a message reached through a repeated field, and in a Timestamp.
  r = ValidGrant();
  v1::Recipient* to =
      r.mutable_consent()->mutable_terms()->mutable_recipients(0);
  to->GetReflection()->MutableUnknownFields(to)->AddFixed32(7, 1);
  auto* from = r.mutable_consent()->mutable_terms()->mutable_valid_from();
  from->GetReflection()->MutableUnknownFields(from)->AddVarint(3, 1);
  std::vector<MessageViolation> v = All(r);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].field, "consent.terms.recipients[0].7");
  EXPECT_EQ(v[1].field, "consent.terms.valid_from.3");

  // From the wire, as a newer client would send it.
  v1::GrantConsentRequest newer = ValidGrant();
  std::string bytes = newer.SerializeAsString();
  bytes += std::string("\xb8\x3e\x01", 3);  // field 999, varint 1
  v1::GrantConsentRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  ExpectOne(parsed, "999", reason::kUnknownField);
}

TEST(MessageValidationTest, EveryViolationIsCollectedUpToTheCap) {
  v1::GrantConsentRequest r = ValidGrant();
  r.mutable_consent()->set_subject_id(std::string("a\0", 2));
  r.mutable_consent()->mutable_terms()->set_purposes(
      0, static_cast<v1::Purpose>(99));
  r.mutable_consent()->mutable_terms()->mutable_valid_from()->set_nanos(-1);
  r.GetReflection()->MutableUnknownFields(&r)->AddVarint(9999, 1);
  std::vector<MessageViolation> v = All(r);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].field, "consent.subject_id");
  EXPECT_EQ(v[1].field, "consent.terms.purposes[0]");
  EXPECT_EQ(v[2].field, "consent.terms.valid_from.nanos");
  EXPECT_EQ(v[3].field, "9999");

  const absl::Status status = ValidateMessage(r);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  const ErrorDetails details = DetailsOf(status);
  EXPECT_EQ(details.reason, reason::kFieldInvalid);  // The first's.
  ASSERT_EQ(details.field_violations.size(), 4u);
  EXPECT_EQ(details.field_violations[1].field, "consent.terms.purposes[0]");
  EXPECT_EQ(details.field_violations[1].description,
            "99 is not a value of ycr.v1.Purpose");
  EXPECT_EQ(details.field_violations[1].reason, reason::kUnknownEnumValue);
  EXPECT_EQ(details.field_violations[0].reason, reason::kFieldInvalid);
  EXPECT_TRUE(absl::StartsWith(status.message(), "consent.subject_id: "))
      << status.message();

  // Many: capped.
  v1::GrantConsentRequest many = ValidGrant();
  auto* purposes = many.mutable_consent()->mutable_terms()->mutable_purposes();
  for (int i = 0; i < 100; ++i) purposes->Add(static_cast<v1::Purpose>(50 + i));
  EXPECT_EQ(All(many).size(), kMaxViolations);
  EXPECT_EQ(DetailsOf(ValidateMessage(many)).field_violations.size(),
            kMaxViolations);
}

}  // namespace
}  // namespace ycr::domain
