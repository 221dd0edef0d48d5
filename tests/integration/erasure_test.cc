// Erasure through the real server: personal data sealed on disk, read back
// in plain, erased by destroying the subject's key (reads then say erased,
// the audit skeleton and the hash chain stay), refusals with their ground,
// and legal holds.

#include <rocksdb/db.h>

#include "absl/strings/match.h"
#include "domain/safeguarding_rules.h"
#include "services/data_dir.h"
#include "storage/rocksdb_event_log.h"
#include "tests/integration/domain_flows_fixture.h"
#include "tests/unit/raw_store.h"
#include "tests/unit/test_util.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::testing {
namespace {

using test::FilesContain;

constexpr char kNotes[] = "NOTES-looks-after-gran-4417";
constexpr char kGiven[] = "Zephyrine-5531";
constexpr char kCouncil[] = "la-council";

// What an audit entry says without the personal part.
std::string Skeleton(v1::AuditEntry entry) {
  entry.mutable_event()->mutable_payload()->clear_personal();
  return entry.SerializeAsString();
}

class ErasureTest : public DomainFlowsTest {
 protected:
  // pupil-e: a record, an identification with notes, a consent and a
  // disclosure under it. The school is in the council's area.
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PutInArea(kSchool, kCouncil));
    v1::PutSubjectRecordRequest put;
    *put.mutable_record() = Record("pupil-e", kGiven);
    ASSERT_TRUE(Ok(Put(put, kSchool)));
    v1::IdentifyYoungCarerRequest identify;
    identify.mutable_identification()->set_subject_id("pupil-e");
    identify.mutable_identification()->set_census_code(
        v1::CENSUS_CODE_IDENTIFIED_BY_SCHOOL);
    identify.mutable_personal()->set_notes(kNotes);
    ASSERT_TRUE(Ok(Identify(identify, kSchool)));
    ASSERT_TRUE(
        Ok(Grant(Consent("c-e", "pupil-e", kService, {v1::PURPOSE_REFERRAL},
                         {v1::DATA_CATEGORY_IDENTITY}, kStart),
                 kSchool)));
    v1::RecordDisclosureRequest disclose;
    *disclose.mutable_disclosure() =
        Disclosure("pupil-e", kSchool, kService, v1::PURPOSE_REFERRAL,
                   {v1::DATA_CATEGORY_IDENTITY}, "c-e");
    disclose.mutable_personal()->set_notes("shared the referral form");
    ASSERT_TRUE(Ok(Disclose(disclose, kSchool)));
  }

  grpc::Status Erase(
      const std::string& subject, const std::string& org,
      v1::EraseSubjectResponse* out,
      v1::ErasureGround refuse_on = v1::ERASURE_GROUND_UNSPECIFIED) {
    v1::EraseSubjectRequest r;
    r.set_request_id(NewUuid());
    r.set_subject_id(subject);
    r.set_request_ref("erasure-request-1");
    r.set_refuse_on(refuse_on);
    grpc::ClientContext context;
    AsCaller(&context, org);
    return subjects_->Erase(&context, r, out);
  }

  grpc::Status PlaceHold(const std::string& hold_id, const std::string& org) {
    v1::PlaceLegalHoldRequest r;
    r.mutable_hold()->set_subject_id("pupil-e");
    r.mutable_hold()->set_hold_id(hold_id);
    r.mutable_personal()->set_reason("serious case review");
    return Send(subjects_.get(), &v1::Subjects::Stub::PlaceLegalHold, r, org,
                nullptr);
  }

  grpc::Status LiftHold(const std::string& hold_id, const std::string& org) {
    v1::LiftLegalHoldRequest r;
    r.set_subject_id("pupil-e");
    r.set_hold_id(hold_id);
    return Send(subjects_.get(), &v1::Subjects::Stub::LiftLegalHold, r, org,
                nullptr);
  }

  std::vector<v1::AuditEntry> Trail() {
    auto audit = v1::Audit::NewStub(channel_);
    v1::AuditTrailRequest request;
    request.set_subject_id("pupil-e");
    request.set_min_position(Head());
    grpc::ClientContext context;
    AsCaller(&context, kSchool);
    auto reader = audit->Trail(&context, request);
    std::vector<v1::AuditEntry> entries;
    v1::AuditEntry entry;
    while (reader->Read(&entry)) entries.push_back(entry);
    EXPECT_TRUE(Ok(reader->Finish()));
    return entries;
  }

  // Everything a read path gives about pupil-e, as text: the whole log as
  // an auditor reads it, the audit trail as the holder and as an auditor,
  // the holder's subject access pack, and the consent as the holder reads
  // it.
  std::string EveryRead() {
    std::string out;
    v1::ReadAllRequest all;
    all.set_from_position(1);
    v1::ReadAllResponse events;
    {
      grpc::ClientContext context;
      AsCaller(&context, "auditor-1");
      EXPECT_TRUE(Ok(server_.stub().ReadAll(&context, all, &events)));
    }
    out += events.DebugString();
    auto audit = v1::Audit::NewStub(channel_);
    for (const std::string& reader : {kSchool, std::string("auditor-1")}) {
      v1::AuditTrailRequest request;
      request.set_subject_id("pupil-e");
      request.set_min_position(Head());
      grpc::ClientContext context;
      AsCaller(&context, reader);
      auto stream = audit->Trail(&context, request);
      v1::AuditEntry entry;
      while (stream->Read(&entry)) out += entry.DebugString();
      EXPECT_TRUE(Ok(stream->Finish())) << reader;
    }
    {
      v1::SubjectAccessPackRequest request;
      request.set_subject_id("pupil-e");
      request.set_min_position(Head());
      v1::SubjectAccessPack pack;
      grpc::ClientContext context;
      AsCaller(&context, kSchool);
      EXPECT_TRUE(Ok(audit->SubjectAccessPack(&context, request, &pack)));
      out += pack.DebugString();
    }
    {
      v1::GetConsentRequest request;
      request.set_consent_id("c-e");
      v1::Consent consent;
      grpc::ClientContext context;
      AsCaller(&context, kSchool);
      EXPECT_TRUE(Ok(consents_->Get(&context, request, &consent)));
      out += consent.DebugString();
    }
    return out;
  }

  // Compacts every column family of the (closed) store at dir_ to its last
  // level, so that nothing deleted or overwritten survives in its files.
  void CompactEverything() {
    storage::RawStore raw(dir_.path());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    const rocksdb::Status compacted = raw.CompactAll();
    ASSERT_TRUE(compacted.ok()) << compacted.ToString();
  }

  // The identification event of pupil-e, as the raw read serves it.
  v1::RecordedEvent Identification() {
    for (const v1::RecordedEvent& e : Events("subject-pupil-e")) {
      if (e.payload().has_young_carer_identified()) return e;
    }
    ADD_FAILURE() << "no identification event";
    return {};
  }
};

TEST_F(ErasureTest, PersonalDataReadsInPlainAndIsSealedOnDisk) {
  v1::RecordedEvent e = Identification();
  EXPECT_EQ(e.payload().personal().notes(), kNotes);
  EXPECT_TRUE(e.payload().has_encrypted_personal());
  v1::SubjectRecord record;
  ASSERT_TRUE(Ok(GetRecord("pupil-e", &record)));
  EXPECT_EQ(record.given_name(), kGiven);
  EXPECT_EQ(record.related(0).name(), "Parent Person");
  std::vector<v1::AuditEntry> trail = Trail();
  ASSERT_FALSE(trail.empty());
  bool notes_in_trail = false;
  for (const v1::AuditEntry& entry : trail) {
    notes_in_trail |= entry.event().payload().personal().notes() == kNotes;
  }
  EXPECT_TRUE(notes_in_trail);
  server_.server().Shutdown();
  EXPECT_FALSE(FilesContain(dir_.path(), kNotes));
  EXPECT_FALSE(FilesContain(dir_.path(), kGiven));
  EXPECT_FALSE(FilesContain(dir_.path(), "Parent Person"));
}

TEST_F(ErasureTest, ErasedDataReadsAsErasedAndTheAuditSkeletonStays) {
  const v1::RecordedEvent before = Identification();
  const std::vector<v1::AuditEntry> trail_before = Trail();
  v1::EraseSubjectResponse erased;
  ASSERT_TRUE(Ok(Erase("pupil-e", kSchool, &erased)));
  EXPECT_TRUE(erased.erased());

  // Raw read: same stored event and hash, the personal part marked erased.
  v1::RecordedEvent after = Identification();
  EXPECT_EQ(after.hash(), before.hash());
  EXPECT_TRUE(after.payload().personal().erased());
  EXPECT_TRUE(after.payload().personal().notes().empty());
  EXPECT_EQ(after.payload().young_carer_identified().SerializeAsString(),
            before.payload().young_carer_identified().SerializeAsString());
  // The erasure's event, then the one kept-reviews record every erasure
  // writes (keeping nothing here: no keeper, its date already erased).
  std::vector<v1::RecordedEvent> stream = Events("subject-pupil-e");
  ASSERT_GE(stream.size(), 2u);
  const v1::RecordedEvent& erasure = stream[stream.size() - 2];
  ASSERT_TRUE(erasure.payload().has_subject_erased());
  EXPECT_EQ(erasure.payload().subject_erased().holder(), kSchool);
  EXPECT_EQ(erasure.payload().subject_erased().request_ref(),
            "erasure-request-1");
  EXPECT_EQ(erasure.actor().organisation(), kSchool);
  ASSERT_TRUE(stream.back().payload().has_child_protection_kept());
  EXPECT_EQ(stream.back().payload().child_protection_kept().keepers_size(), 0);
  EXPECT_TRUE(stream.back().payload().personal().erased());

  // The record: skeleton and the marker.
  v1::SubjectRecord record;
  ASSERT_TRUE(Ok(GetRecord("pupil-e", &record)));
  EXPECT_TRUE(record.erased());
  EXPECT_TRUE(record.given_name().empty());
  EXPECT_TRUE(record.date_of_birth().empty());
  EXPECT_EQ(record.related_size(), 0);
  EXPECT_EQ(record.holder(), kSchool);

  // The audit trail: every entry as before but for the personal part, plus
  // the erasure; the disclosure's who/what/whom/basis unchanged.
  std::vector<v1::AuditEntry> trail_after = Trail();
  ASSERT_EQ(trail_after.size(), trail_before.size() + 1);
  for (size_t i = 0; i < trail_before.size(); ++i) {
    EXPECT_EQ(Skeleton(trail_after[i]), Skeleton(trail_before[i])) << i;
    if (trail_before[i].event().payload().has_personal()) {
      EXPECT_TRUE(trail_after[i].event().payload().personal().erased()) << i;
    }
  }
  EXPECT_TRUE(trail_after.back().event().payload().has_subject_erased());

  // A rebuild of the audit trail after erasure serves the same trail.
  ASSERT_TRUE(server_.server().projections().Rebuild("audit_trail").ok());
  ASSERT_TRUE(server_.server()
                  .projections()
                  .AwaitRebuilt("audit_trail", absl::Now() + absl::Seconds(20))
                  .ok());
  std::vector<v1::AuditEntry> rebuilt = Trail();
  ASSERT_EQ(rebuilt.size(), trail_after.size());
  for (size_t i = 0; i < rebuilt.size(); ++i) {
    EXPECT_EQ(rebuilt[i].SerializeAsString(),
              trail_after[i].SerializeAsString());
  }

  // Nothing more about an erased subject, and the record is not recreated.
  v1::PutSubjectRecordRequest put;
  *put.mutable_record() = Record("pupil-e");
  EXPECT_TRUE(Is(Put(put, kSchool), StatusCode::FAILED_PRECONDITION, "erased"));
  EXPECT_TRUE(Is(Erase("pupil-e", kSchool, &erased),
                 StatusCode::FAILED_PRECONDITION, "erased"));
  v1::IdentifyYoungCarerRequest identify;
  identify.mutable_identification()->set_subject_id("pupil-e");
  identify.mutable_identification()->set_census_code(
      v1::CENSUS_CODE_NOT_DECLARED);
  EXPECT_TRUE(Is(Identify(identify, kSchool), StatusCode::FAILED_PRECONDITION,
                 "erased"));
  v1::RecordDisclosureRequest disclose;
  *disclose.mutable_disclosure() =
      Disclosure("pupil-e", kSchool, kService, v1::PURPOSE_REFERRAL,
                 {v1::DATA_CATEGORY_IDENTITY}, "c-e");
  EXPECT_TRUE(Is(Disclose(disclose, kSchool), StatusCode::FAILED_PRECONDITION,
                 "erased"));

  // `ycr-server verify` passes; reopened, the key is still gone.
  server_.server().Shutdown();
  absl::StatusOr<services::VerifyReport> verified =
      services::VerifyDataDir(dir_.path());
  EXPECT_TRUE(verified.ok()) << verified.status();
  storage::RocksDbEventLogOptions options;
  options.path = dir_.path();
  auto log = storage::RocksDbEventLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();
  absl::StatusOr<storage::LogSlice> slice =
      (*log)->ReadAll(before.position(), 1, {});
  ASSERT_TRUE(slice.ok());
  v1::RecordedEvent reopened = slice->events.at(0);
  ASSERT_TRUE((*log)->RevealPersonal(&reopened).ok());
  EXPECT_TRUE(reopened.payload().personal().erased());
  EXPECT_TRUE((*log)->VerifyChain(1, 0).ok());
  (*log)->Close();
}

// A withdrawal reason naming a parent's illness is free text about a
// person: it travels only in the sealed personal part, so after
// Subjects.Erase no read returns it and, the store compacted, no file under
// the data directory holds it (issue 14 item 3: it used to be a plain field
// of ConsentWithdrawn, still served by the raw read and found in an .sst).
TEST_F(ErasureTest, AWithdrawalReasonIsInNoReadAndNoFileAfterErasure) {
  const std::string kDiagnosis = "WITHDRAWN-mother-MS-relapse-7731";
  v1::WithdrawConsentRequest withdraw;
  withdraw.mutable_withdrawal()->set_consent_id("c-e");
  withdraw.mutable_personal()->set_reason(kDiagnosis);
  ASSERT_TRUE(Ok(Send(consents_.get(), &v1::Consents::Stub::Withdraw, withdraw,
                      kSchool, nullptr)));
  // Sealed in the personal part: opened for those who may read it, never
  // in the event's codes.
  std::vector<v1::RecordedEvent> consent = Events("consent-c-e");
  ASSERT_TRUE(consent.back().payload().has_consent_withdrawn());
  EXPECT_EQ(consent.back().payload().personal().reason(), kDiagnosis);
  EXPECT_TRUE(consent.back().payload().has_encrypted_personal());
  EXPECT_FALSE(absl::StrContains(
      consent.back().payload().consent_withdrawn().DebugString(), kDiagnosis));
  ASSERT_TRUE(absl::StrContains(EveryRead(), kDiagnosis));

  v1::EraseSubjectResponse erased;
  ASSERT_TRUE(Ok(Erase("pupil-e", kSchool, &erased)));
  ASSERT_TRUE(erased.erased());
  EXPECT_FALSE(absl::StrContains(EveryRead(), kDiagnosis));
  EXPECT_TRUE(Events("consent-c-e").back().payload().personal().erased());

  server_.server().Shutdown();
  ASSERT_NO_FATAL_FAILURE(CompactEverything());
  EXPECT_FALSE(FilesContain(dir_.path(), kDiagnosis));
  // The chain still verifies.
  absl::StatusOr<services::VerifyReport> verified =
      services::VerifyDataDir(dir_.path());
  EXPECT_TRUE(verified.ok()) << verified.status();
}

TEST_F(ErasureTest, OnlyTheHolderErases) {
  v1::EraseSubjectResponse out;
  EXPECT_TRUE(Is(Erase("pupil-e", kService, &out),
                 StatusCode::PERMISSION_DENIED, "holder"));
  EXPECT_TRUE(
      Is(Erase("pupil-e", kCouncil, &out), StatusCode::PERMISSION_DENIED));
}

TEST_F(ErasureTest, AHoldRefusesErasureWithItsGroundUntilLifted) {
  ASSERT_TRUE(Ok(PlaceHold("hold-1", kCouncil)));
  v1::EraseSubjectResponse refused;
  ASSERT_TRUE(Ok(Erase("pupil-e", kSchool, &refused)));
  EXPECT_FALSE(refused.erased());
  EXPECT_EQ(refused.refused_on(), v1::ERASURE_GROUND_LEGAL_HOLD);
  const v1::RecordedEvent last = Events("subject-pupil-e").back();
  ASSERT_TRUE(last.payload().has_erasure_refused());
  EXPECT_EQ(last.payload().erasure_refused().ground(),
            v1::ERASURE_GROUND_LEGAL_HOLD);
  ASSERT_EQ(last.payload().erasure_refused().hold_ids_size(), 1);
  EXPECT_EQ(last.payload().erasure_refused().hold_ids(0), "hold-1");
  EXPECT_EQ(Identification().payload().personal().notes(), kNotes);

  EXPECT_TRUE(Is(LiftHold("hold-1", kSchool), StatusCode::PERMISSION_DENIED));
  EXPECT_TRUE(Is(PlaceHold("hold-2", kService), StatusCode::PERMISSION_DENIED));
  ASSERT_TRUE(Ok(LiftHold("hold-1", kCouncil)));
  v1::EraseSubjectResponse erased;
  ASSERT_TRUE(Ok(Erase("pupil-e", kSchool, &erased)));
  EXPECT_TRUE(erased.erased());
}

TEST_F(ErasureTest, AChildProtectionRecordIsKeptUntilBirthPlus25Years) {
  ASSERT_TRUE(
      Ok(Safeguard(Raise("concern-e", "pupil-e", "what was seen"), kSchool)));
  v1::EraseSubjectResponse out;
  ASSERT_TRUE(Ok(Erase("pupil-e", kSchool, &out)));
  EXPECT_FALSE(out.erased());
  EXPECT_EQ(out.refused_on(), v1::ERASURE_GROUND_LEGAL_OBLIGATION);
  // Born 2012-03-04: kept until 2037-03-04.
  clock_.Set(absl::FromCivil(absl::CivilDay(2037, 3, 4), absl::UTCTimeZone()));
  ASSERT_TRUE(Ok(Erase("pupil-e", kSchool, &out)));
  EXPECT_TRUE(out.erased());
  const std::vector<v1::RecordedEvent> concern =
      Events(domain::ConcernStream(kSchool, "concern-e"));
  ASSERT_FALSE(concern.empty());
  for (const v1::RecordedEvent& e : concern) {
    if (e.payload().has_concern_raised()) {
      EXPECT_TRUE(e.payload().personal().erased());
    }
  }
}

TEST_F(ErasureTest, TheHolderRefusesOnItsOwnGround) {
  v1::EraseSubjectResponse out;
  ASSERT_TRUE(
      Ok(Erase("pupil-e", kSchool, &out, v1::ERASURE_GROUND_PUBLIC_TASK)));
  EXPECT_FALSE(out.erased());
  EXPECT_EQ(out.refused_on(), v1::ERASURE_GROUND_PUBLIC_TASK);
  EXPECT_EQ(
      Events("subject-pupil-e").back().payload().erasure_refused().ground(),
      v1::ERASURE_GROUND_PUBLIC_TASK);
  EXPECT_EQ(Identification().payload().personal().notes(), kNotes);
}

}  // namespace
}  // namespace ycr::testing
