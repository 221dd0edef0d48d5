// Personal data sealed by the RocksDB log under per-subject keys, and crypto
// erasure: what is on disk, what readers see, and the hash chain.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "gtest/gtest.h"
#include "storage/key_format.h"
#include "storage/rocksdb_event_log.h"
#include "tests/unit/raw_store.h"
#include "tests/unit/test_util.h"

namespace ycr::storage {
namespace {

using test::FilesContain;
using test::PersonalEvent;
using test::StatusIs;
using test::TempDir;

constexpr char kNotes[] = "PLAIN-NOTES-cares-for-dad-7731";
constexpr char kRecord[] = "PLAIN-RECORD-born-2012-0931";

std::unique_ptr<RocksDbEventLog> OpenLog(const std::string& path) {
  RocksDbEventLogOptions options;
  options.path = path;
  options.sync = false;
  absl::StatusOr<std::unique_ptr<RocksDbEventLog>> log =
      RocksDbEventLog::Open(options);
  EXPECT_TRUE(log.ok()) << log.status();
  return *std::move(log);
}

v1::RecordedEvent ReadOne(EventLog& log, uint64_t position) {
  absl::StatusOr<LogSlice> slice = log.ReadAll(position, 1, LogFilter());
  EXPECT_TRUE(slice.ok()) << slice.status();
  return slice->events.at(0);
}

class CryptoErasureTest : public ::testing::Test {
 protected:
  // Appends one event with personal notes about pupil-1 and a sealed record.
  void WriteSubject(EventLog& log) {
    AppendRequest request =
        test::Request("case-1", ExpectedVersion::Any(),
                      {PersonalEvent("pupil-1", kNotes, event_id_)});
    request.records.push_back({"rec/pupil-1", kRecord, "pupil-1"});
    absl::StatusOr<AppendResult> r = log.Append(request);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  absl::StatusOr<AppendResult> Erase(EventLog& log) {
    AppendRequest request = test::OneEvent("subject-pupil-1");
    request.erase_subjects.push_back("pupil-1");
    request.records.push_back({"rec/pupil-1", "", "", true});
    return log.Append(request);
  }

  TempDir dir_;
  const std::string event_id_ = NewUuid();
};

TEST_F(CryptoErasureTest, PersonalPartIsStoredSealedAndReadersOpenIt) {
  auto log = OpenLog(dir_.path());
  WriteSubject(*log);
  v1::RecordedEvent stored = ReadOne(*log, 1);
  EXPECT_FALSE(stored.payload().has_personal());
  ASSERT_TRUE(stored.payload().has_encrypted_personal());
  EXPECT_EQ(stored.SerializeAsString().find(kNotes), std::string::npos);

  v1::RecordedEvent revealed = stored;
  ASSERT_TRUE(log->RevealPersonal(&revealed).ok());
  EXPECT_EQ(revealed.payload().personal().notes(), kNotes);
  EXPECT_FALSE(revealed.payload().personal().erased());
  // The stored form is the revealed one without `personal`.
  revealed.mutable_payload()->clear_personal();
  EXPECT_EQ(revealed.SerializeAsString(), stored.SerializeAsString());

  absl::StatusOr<std::optional<std::string>> record =
      log->GetRecord("rec/pupil-1");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->value_or(""), kRecord);
  log->Close();
  EXPECT_FALSE(FilesContain(dir_.path(), kNotes));
  EXPECT_FALSE(FilesContain(dir_.path(), kRecord));
}

TEST_F(CryptoErasureTest, ARetryWithThePersonalPartIsIdempotent) {
  auto log = OpenLog(dir_.path());
  WriteSubject(*log);
  absl::StatusOr<AppendResult> again =
      log->Append(test::Request("case-1", ExpectedVersion::Any(),
                                {PersonalEvent("pupil-1", kNotes, event_id_)}));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_TRUE(StatusIs(
      log->Append(test::Request("case-1", ExpectedVersion::Any(),
                                {PersonalEvent("pupil-1", "other", event_id_)}))
          .status(),
      absl::StatusCode::kAlreadyExists));
}

TEST_F(CryptoErasureTest, ErasureDestroysTheKeyAndKeepsTheChain) {
  auto log = OpenLog(dir_.path());
  WriteSubject(*log);
  const std::string hash_before = ReadOne(*log, 1).hash();
  log->Close();
  const std::string key = StoredSubjectKey(dir_.path(), "pupil-1");
  ASSERT_EQ(key.size(), 32u);
  ASSERT_TRUE(FilesContain(dir_.path(), key));

  log = OpenLog(dir_.path());
  absl::StatusOr<AppendResult> erased = Erase(*log);
  ASSERT_TRUE(erased.ok()) << erased.status();
  v1::RecordedEvent event = ReadOne(*log, 1);
  EXPECT_EQ(event.hash(), hash_before);
  ASSERT_TRUE(log->RevealPersonal(&event).ok());
  EXPECT_TRUE(event.payload().personal().erased());
  EXPECT_EQ(event.payload().personal().subject_id(), "pupil-1");
  EXPECT_TRUE(event.payload().personal().notes().empty());
  EXPECT_TRUE(log->VerifyChain(1, 0).ok());
  EXPECT_FALSE(log->GetRecord("rec/pupil-1")->has_value());
  // No new personal data about an erased subject.
  EXPECT_TRUE(
      StatusIs(log->Append(test::Request("case-1", ExpectedVersion::Any(),
                                         {PersonalEvent("pupil-1", "more")}))
                   .status(),
               absl::StatusCode::kFailedPrecondition, {"erased"}));
  log->Close();

  // The key's bytes left the store's files; reopened, it stays erased.
  EXPECT_FALSE(FilesContain(dir_.path(), key));
  log = OpenLog(dir_.path());
  event = ReadOne(*log, 1);
  ASSERT_TRUE(log->RevealPersonal(&event).ok());
  EXPECT_TRUE(event.payload().personal().erased());
  EXPECT_TRUE(log->VerifyChain(1, 0).ok());
}

TEST_F(CryptoErasureTest, AnErasureCutShortBeforeItsScrubIsScrubbedOnOpen) {
  auto log = OpenLog(dir_.path());
  WriteSubject(*log);
  log->Close();
  const std::string key = StoredSubjectKey(dir_.path(), "pupil-1");
  ASSERT_EQ(key.size(), 32u);
  {
    // The erasure's write as the log makes it, then a crash: no scrub.
    RawStore raw(dir_.path());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(
        batch.Delete(raw.cf(RawStore::kSubjectKeys), SubjectKeyKey("pupil-1"))
            .ok());
    ASSERT_TRUE(batch
                    .Put(raw.cf(RawStore::kSubjectKeys),
                         SubjectErasedKey("pupil-1"), EncodePosition(2))
                    .ok());
    ASSERT_TRUE(raw.db()->Write(rocksdb::WriteOptions(), &batch).ok());
  }
  ASSERT_TRUE(FilesContain(dir_.path(), key));
  log = OpenLog(dir_.path());
  log->Close();
  EXPECT_FALSE(FilesContain(dir_.path(), key));
}

TEST_F(CryptoErasureTest, OtherSubjectsKeepTheirData) {
  auto log = OpenLog(dir_.path());
  WriteSubject(*log);
  ASSERT_TRUE(log->Append(test::Request("case-2", ExpectedVersion::Any(),
                                        {PersonalEvent("pupil-2", "kept")}))
                  .ok());
  ASSERT_TRUE(Erase(*log).ok());
  v1::RecordedEvent other = ReadOne(*log, 2);
  ASSERT_TRUE(log->RevealPersonal(&other).ok());
  EXPECT_EQ(other.payload().personal().notes(), "kept");
}

TEST_F(CryptoErasureTest, CallersCannotSetTheSealedFormOrOmitTheSubject) {
  auto log = OpenLog(dir_.path());
  v1::ProposedEvent sealed = test::OpaqueEvent("x");
  sealed.mutable_payload()->mutable_encrypted_personal()->set_subject_id("p");
  EXPECT_TRUE(
      StatusIs(log->Append(test::Request("s", ExpectedVersion::Any(), {sealed}))
                   .status(),
               absl::StatusCode::kInvalidArgument, {"encrypted_personal"}));
  EXPECT_TRUE(StatusIs(log->Append(test::Request("s", ExpectedVersion::Any(),
                                                 {PersonalEvent("", "text")}))
                           .status(),
                       absl::StatusCode::kInvalidArgument,
                       {"personal.subject_id"}));
}

TEST_F(CryptoErasureTest, AMissingKeyThatWasNeverErasedIsDataLoss) {
  auto log = OpenLog(dir_.path());
  WriteSubject(*log);
  log->Close();
  {
    RawStore raw(dir_.path());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(raw.db()
                    ->Delete(rocksdb::WriteOptions(),
                             raw.cf(RawStore::kSubjectKeys),
                             SubjectKeyKey("pupil-1"))
                    .ok());
  }
  log = OpenLog(dir_.path());
  v1::RecordedEvent event = ReadOne(*log, 1);
  EXPECT_TRUE(StatusIs(log->RevealPersonal(&event), absl::StatusCode::kDataLoss,
                       {"never erased"}));
}

// An organisation's child-protection records are sealed under its own key
// for the subject; an erasure keeps exactly the keys it is told to, and no
// new personal data about the subject can be written under a new key.
TEST_F(CryptoErasureTest, AnErasureKeepsOnlyTheChildProtectionKeysNamed) {
  auto log = OpenLog(dir_.path());
  WriteSubject(*log);
  auto concern = [&](const std::string& org, const std::string& id,
                     const std::string& notes) -> uint64_t {
    v1::ProposedEvent e = PersonalEvent("pupil-1", notes);
    e.mutable_payload()->mutable_concern_raised()->set_concern_id(id);
    e.mutable_payload()->mutable_concern_raised()->set_subject_id("pupil-1");
    AppendRequest r =
        test::Request("safeguarding-" + id, ExpectedVersion::Any(), {e});
    r.actor.set_organisation(org);
    absl::StatusOr<AppendResult> out = log->Append(r);
    return out.ok() ? out->first_position : 0;
  };
  const uint64_t kept = concern("service-b", "g-1", "KEPT-cp-notes");
  const uint64_t gone = concern("school-a", "g-2", "GONE-cp-notes");
  ASSERT_NE(kept, 0u);
  ASSERT_NE(gone, 0u);
  // Each under a key of its own: the subject's key does not open them.
  log.reset();
  const std::string subject_key = StoredSubjectKey(dir_.path(), "pupil-1");
  EXPECT_NE(
      subject_key,
      StoredSubjectKey(dir_.path(), std::string("pupil-1\0service-b", 17)));
  log = OpenLog(dir_.path());

  AppendRequest erase = test::OneEvent("subject-pupil-1");
  erase.erase_subjects.push_back("pupil-1");
  erase.erase_retaining.push_back("service-b");
  ASSERT_TRUE(log->Append(erase).ok());

  v1::RecordedEvent first = ReadOne(*log, 1);
  ASSERT_TRUE(log->RevealPersonal(&first).ok());
  EXPECT_TRUE(first.payload().personal().erased());
  v1::RecordedEvent school = ReadOne(*log, gone);
  ASSERT_TRUE(log->RevealPersonal(&school).ok());
  EXPECT_TRUE(school.payload().personal().erased());
  v1::RecordedEvent service = ReadOne(*log, kept);
  ASSERT_TRUE(log->RevealPersonal(&service).ok());
  EXPECT_FALSE(service.payload().personal().erased());
  EXPECT_EQ(service.payload().personal().notes(), "KEPT-cp-notes");

  // Nothing new about the subject under a new key: not the subject's own,
  // not another organisation's.
  AppendRequest more = test::Request("case-2", ExpectedVersion::Any(),
                                     {PersonalEvent("pupil-1", "more")});
  EXPECT_TRUE(StatusIs(log->Append(more).status(),
                       absl::StatusCode::kFailedPrecondition, {"erased"}));
  EXPECT_EQ(concern("la-c", "g-3", "late"), 0u);

  // Reopened (after the scrub), the same.
  log.reset();
  log = OpenLog(dir_.path());
  service = ReadOne(*log, kept);
  ASSERT_TRUE(log->RevealPersonal(&service).ok());
  EXPECT_EQ(service.payload().personal().notes(), "KEPT-cp-notes");
  school = ReadOne(*log, gone);
  ASSERT_TRUE(log->RevealPersonal(&school).ok());
  EXPECT_TRUE(school.payload().personal().erased());
}

// Without organisations to keep, every key of the subject goes.
TEST_F(CryptoErasureTest, AnErasureDestroysEveryOrganisationsKeyUnlessKept) {
  auto log = OpenLog(dir_.path());
  v1::ProposedEvent e = PersonalEvent("pupil-1", "cp");
  e.mutable_payload()->mutable_concern_raised()->set_concern_id("g-1");
  e.mutable_payload()->mutable_concern_raised()->set_subject_id("pupil-1");
  AppendRequest r =
      test::Request("safeguarding-g-1", ExpectedVersion::Any(), {e});
  r.actor.set_organisation("service-b");
  ASSERT_TRUE(log->Append(r).ok());
  AppendRequest erase = test::OneEvent("subject-pupil-1");
  erase.erase_subjects.push_back("pupil-1");
  ASSERT_TRUE(log->Append(erase).ok());
  v1::RecordedEvent cp = ReadOne(*log, 1);
  ASSERT_TRUE(log->RevealPersonal(&cp).ok());
  EXPECT_TRUE(cp.payload().personal().erased());
  log.reset();
  RawStore raw(dir_.path());
  ASSERT_TRUE(raw.status().ok());
  std::string value;
  EXPECT_TRUE(raw.db()
                  ->Get(rocksdb::ReadOptions(), raw.cf(RawStore::kSubjectKeys),
                        SubjectKeyKey(std::string("pupil-1\0service-b", 17)),
                        &value)
                  .IsNotFound());
}

}  // namespace
}  // namespace ycr::storage
