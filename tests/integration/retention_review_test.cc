// The review of child-protection records kept past an erasure, through the
// real server (a real store, the injected clock): the review date recorded
// at erasure from the date of birth, one record whatever was kept, sealed
// under the subject's kept-reviews key; the review listed for that organisation
// (and auditors) once due, for no one else; DESTROY erasing the kept records
// down to the store's files; KEEP moving the date; and every refusal.

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "domain/safeguarding_rules.h"
#include "services/data_dir.h"
#include "tests/integration/retention_review_fixture.h"
#include "tests/unit/raw_store.h"
#include "tests/unit/test_util.h"
#include "ycr/v1/access_log_service.grpc.pb.h"

namespace ycr::testing {
namespace {

using test::FilesContain;

TEST_F(RetentionReviewTest, EveryErasureWritesOneSealedReviewRecord) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-2"));
  ASSERT_NO_FATAL_FAILURE(ReferToService("s-2"));
  v1::EraseSubjectResponse kept;
  ASSERT_NO_FATAL_FAILURE(KeepAndErase(&kept));
  v1::EraseSubjectResponse plain;
  ASSERT_TRUE(Ok(EraseAs(kSchool, "s-2", "req-2", &plain)));

  // The holder's answer names the erasure's own event, as for any child.
  std::vector<v1::RecordedEvent> events = Events("subject-s-1");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_TRUE(events[1].payload().has_subject_erased());
  EXPECT_EQ(kept.command().position(), events[1].position());
  EXPECT_EQ(kept.command().stream_version(), plain.command().stream_version());
  EXPECT_EQ(kept.erased(), plain.erased());

  // The review date: date of birth + 25 years, sealed under the subject's
  // kept-reviews key, never in the event's plain part; the keepers named.
  const v1::RecordedEvent& record = events[2];
  ASSERT_TRUE(record.payload().has_child_protection_kept());
  EXPECT_EQ(record.payload().child_protection_kept().organisation(), "");
  ASSERT_EQ(record.payload().child_protection_kept().keepers_size(), 1);
  EXPECT_EQ(record.payload().child_protection_kept().keepers(0), kService);
  EXPECT_EQ(record.payload().personal().notes(), kReviewDay);
  EXPECT_TRUE(record.payload().has_encrypted_personal());
  EXPECT_FALSE(absl::StrContains(
      record.payload().child_protection_kept().DebugString(), kReviewDay));
  EXPECT_FALSE(absl::StrContains(AllFiles(), kReviewDay));
  // An erasure that kept nothing writes the same one record, naming no
  // keeper, its date's key destroyed by the erasure itself (so the head
  // after any erasure is its position + 1).
  const std::vector<v1::RecordedEvent> plain_events = Events("subject-s-2");
  ASSERT_FALSE(plain_events.empty());
  const v1::RecordedEvent& none = plain_events.back();
  ASSERT_TRUE(none.payload().has_child_protection_kept());
  EXPECT_EQ(none.position(), plain.command().position() + 1);
  EXPECT_EQ(none.payload().child_protection_kept().keepers_size(), 0);
  EXPECT_TRUE(none.payload().personal().erased());
  EXPECT_EQ(none.payload().encrypted_personal().ciphertext().size(),
            record.payload().encrypted_personal().ciphertext().size());
}

TEST_F(RetentionReviewTest, ListedForTheKeeperOnceDueAndForNoOneElse) {
  ASSERT_NO_FATAL_FAILURE(KeepAndErase());
  const std::string item = absl::StrCat("s-1/", kService, "@", kReviewDay);
  EXPECT_TRUE(Listed(kService).empty());
  EXPECT_TRUE(Listed(kService, kDue - absl::Seconds(1)).empty());
  EXPECT_EQ(Listed(kService, kDue), std::vector<std::string>{item});
  clock_.Set(kDue);
  EXPECT_EQ(Listed(kService), std::vector<std::string>{item});
  EXPECT_EQ(Listed("auditor-1"), std::vector<std::string>{item});
  // The erasing school, another school, another service: nothing.
  for (const std::string& org : {kSchool, kNewSchool, kService2}) {
    EXPECT_TRUE(Listed(org).empty()) << org;
  }
  // The local authority and the other roles may not ask.
  v1::RetentionReviewsResponse out;
  for (const std::string& org : {kLa, std::string("ops")}) {
    EXPECT_TRUE(Is(Reviews(org, &out), StatusCode::PERMISSION_DENIED)) << org;
  }
  // Each listing of s-1 is a read of its personal data (the date derives
  // from the date of birth), in the access log.
  ASSERT_TRUE(server_.server().access_recorder()->Flush().ok());
  v1::ListAccessBySubjectRequest by_subject;
  by_subject.set_subject_id("s-1");
  v1::AccessLogPage page;
  {
    grpc::ClientContext context;
    AsCaller(&context, "auditor-1");
    ASSERT_TRUE(Ok(v1::AccessLog::NewStub(channel_)->ListBySubject(
        &context, by_subject, &page)));
  }
  int logged = 0;
  for (const v1::AccessLogEntry& e : page.entries()) {
    logged += e.view() == "retention_review" && e.organisation() == kService;
  }
  EXPECT_EQ(logged, 2);
  // Nor does any read path show the kept record or its review to the
  // school or its area's authority; an auditor's trail has both.
  ASSERT_TRUE(
      Ok(Review(kService, Keep(kDue + 400 * kDay,
                               v1::RETENTION_KEEP_REASON_OPEN_INQUIRY))));
  for (const std::string& org : {kSchool, kLa}) {
    const std::string trail = TrailText(org);
    EXPECT_FALSE(absl::StrContains(trail, "child_protection")) << org;
  }
  v1::SubjectAccessPack pack;
  ASSERT_TRUE(Ok(PackAs(kSchool, &pack)));
  EXPECT_FALSE(absl::StrContains(pack.DebugString(), "child_protection"));
  const std::string audit = TrailText("auditor-1");
  EXPECT_TRUE(absl::StrContains(audit, "child_protection_kept"));
  EXPECT_TRUE(absl::StrContains(audit, "child_protection_reviewed"));
}

TEST_F(RetentionReviewTest, DestroyErasesTheKeptRecordsDownToTheFiles) {
  ASSERT_NO_FATAL_FAILURE(KeepAndErase());
  EXPECT_FALSE(ConcernErased(kService, "g-1"));
  clock_.Set(kDue);
  ASSERT_TRUE(Ok(Review(kService, Destroy())));
  EXPECT_TRUE(ConcernErased(kService, "g-1"));
  EXPECT_TRUE(Listed(kService).empty());
  EXPECT_TRUE(Listed("auditor-1").empty());
  // Its kept review date reads as erased too; nothing more can be written.
  for (const v1::RecordedEvent& e : Events("subject-s-1")) {
    if (e.payload().has_child_protection_kept()) {
      EXPECT_TRUE(e.payload().personal().erased());
    }
  }
  EXPECT_FALSE(absl::StrContains(TrailText("auditor-1"), kFacts));
  // Reviewed once: a second decision finds nothing kept.
  EXPECT_TRUE(Is(Review(kService, Destroy()), StatusCode::FAILED_PRECONDITION,
                 "keeps no child-protection record"));

  server_.server().Shutdown();
  {
    storage::RawStore raw(dir_.path());
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    ASSERT_TRUE(raw.CompactAll().ok());
  }
  EXPECT_FALSE(FilesContain(dir_.path(), kFacts));
  EXPECT_FALSE(FilesContain(dir_.path(), kReviewDay));
  EXPECT_FALSE(FilesContain(dir_.path(), "2012-03-04"));
  absl::StatusOr<services::VerifyReport> verified =
      services::VerifyDataDir(dir_.path());
  EXPECT_TRUE(verified.ok()) << verified.status();
}

TEST_F(RetentionReviewTest, DestroyKeepsEveryOtherKeepersRecords) {
  ASSERT_NO_FATAL_FAILURE(SecondServiceKeeps());
  ASSERT_NO_FATAL_FAILURE(KeepAndErase());
  clock_.Set(kDue);
  EXPECT_EQ(Listed("auditor-1").size(), 2u);
  // One keeper never reads the record that names the other.
  for (const std::string& org : {kService, kService2}) {
    v1::ReadAllRequest read;
    v1::ReadAllResponse all;
    grpc::ClientContext context;
    AsCaller(&context, org);
    if (!server_.stub().ReadAll(&context, read, &all).ok()) continue;
    for (const v1::RecordedEvent& e : all.events()) {
      EXPECT_FALSE(e.payload().has_child_protection_kept()) << org;
    }
  }
  ASSERT_TRUE(Ok(Review(kService, Destroy())));
  EXPECT_TRUE(ConcernErased(kService, "g-1"));
  EXPECT_FALSE(ConcernErased(kService2, "g-2"));
  EXPECT_EQ(Listed(kService2), std::vector<std::string>{absl::StrCat(
                                   "s-1/", kService2, "@", kReviewDay)});
  // The shared review date outlived the first keeper's records, and goes
  // with the last's.
  auto date_erased = [&] {
    for (const v1::RecordedEvent& e : Events("subject-s-1")) {
      if (e.payload().has_child_protection_kept()) {
        return e.payload().personal().erased();
      }
    }
    ADD_FAILURE() << "no kept-reviews record";
    return false;
  };
  EXPECT_FALSE(date_erased());
  ASSERT_TRUE(Ok(Review(kService2, Destroy())));
  EXPECT_TRUE(ConcernErased(kService2, "g-2"));
  EXPECT_TRUE(date_erased());
}

TEST_F(RetentionReviewTest, KeepMovesTheReviewDate) {
  ASSERT_NO_FATAL_FAILURE(KeepAndErase());
  clock_.Set(kDue + kDay);
  const absl::Time next = kDue + 730 * kDay;
  ASSERT_TRUE(Ok(Review(
      kService, Keep(next, v1::RETENTION_KEEP_REASON_ONGOING_PROCEEDINGS))));
  EXPECT_TRUE(Listed(kService).empty());
  v1::RetentionReviewsResponse out;
  ASSERT_TRUE(Ok(Reviews(kService, &out, next)));
  ASSERT_EQ(out.reviews_size(), 1);
  EXPECT_EQ(TimeOf(out.reviews(0).review_due()), next);
  EXPECT_EQ(out.reviews(0).keep_reason(),
            v1::RETENTION_KEEP_REASON_ONGOING_PROCEEDINGS);
  // Kept: not destroyed before the new date, then destroyed.
  EXPECT_TRUE(Is(Review(kService, Destroy()), StatusCode::FAILED_PRECONDITION,
                 "before it is due"));
  EXPECT_FALSE(ConcernErased(kService, "g-1"));
  clock_.Set(next);
  ASSERT_TRUE(Ok(Review(kService, Destroy())));
  EXPECT_TRUE(ConcernErased(kService, "g-1"));
}

TEST_F(RetentionReviewTest, EveryoneButTheKeeperOnceDueIsRefused) {
  ASSERT_NO_FATAL_FAILURE(AddSubject("s-2"));
  ASSERT_NO_FATAL_FAILURE(ReferToService("s-2"));
  ASSERT_TRUE(Ok(Safeguard(Raise("g-9", "s-2", "not erased"), kService)));
  ASSERT_NO_FATAL_FAILURE(KeepAndErase());
  const uint64_t head = Head();

  // Before the date: the records must be kept.
  EXPECT_TRUE(Is(Review(kService, Destroy()), StatusCode::FAILED_PRECONDITION,
                 "no decision is taken before it is due"));
  clock_.Set(kDue);
  // Malformed decisions, whoever sends them.
  v1::ReviewRetentionRequest unknown = Destroy();
  unknown.set_decision(static_cast<v1::RetentionDecision>(99));
  EXPECT_TRUE(
      Is(Review(kService, unknown), StatusCode::INVALID_ARGUMENT, "decision"));
  EXPECT_TRUE(Is(Review(kService, v1::ReviewRetentionRequest()),
                 StatusCode::INVALID_ARGUMENT, "decision"));
  v1::ReviewRetentionRequest why =
      Keep(kDue + 30 * kDay, v1::RETENTION_KEEP_REASON_OPEN_INQUIRY);
  why.set_keep_reason(static_cast<v1::RetentionKeepReason>(77));
  EXPECT_TRUE(
      Is(Review(kService, why), StatusCode::INVALID_ARGUMENT, "keep_reason"));
  why.set_keep_reason(v1::RETENTION_KEEP_REASON_UNSPECIFIED);
  EXPECT_TRUE(
      Is(Review(kService, why), StatusCode::INVALID_ARGUMENT, "keep_reason"));
  EXPECT_TRUE(Is(Review(kService, Keep(kDue - kDay,
                                       v1::RETENTION_KEEP_REASON_OPEN_INQUIRY)),
                 StatusCode::INVALID_ARGUMENT, "next_review_at"));
  EXPECT_TRUE(Is(Review(kService, Keep(kDue + 11 * 366 * kDay,
                                       v1::RETENTION_KEEP_REASON_OPEN_INQUIRY)),
                 StatusCode::INVALID_ARGUMENT, "next_review_at"));

  // The erasing school, another school and another service keep nothing:
  // one answer, the same as for a subject that was never erased.
  auto answer = [&](const std::string& org, const std::string& subject) {
    const grpc::Status s = Review(org, Destroy(), subject);
    EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION) << org;
    return absl::StrReplaceAll(s.error_message(), {{subject, "S"}});
  };
  for (const std::string& org : {kSchool, kNewSchool, kService2}) {
    EXPECT_TRUE(absl::StrContains(answer(org, "s-1"),
                                  "keeps no child-protection record"))
        << org;
    EXPECT_EQ(answer(org, "s-1"), answer(org, "s-2")) << org;
  }
  // Not erased: its own concern is not a kept record.
  EXPECT_TRUE(Is(Review(kService, Destroy(), "s-2"),
                 StatusCode::FAILED_PRECONDITION,
                 "keeps no child-protection record"));
  // The roles that make no child-protection records may not decide.
  for (const std::string& org :
       {kLa, std::string("auditor-1"), std::string("ops")}) {
    EXPECT_TRUE(Is(Review(org, Destroy()), StatusCode::PERMISSION_DENIED))
        << org;
  }
  EXPECT_EQ(Head(), head) << "a refused review wrote something";
  EXPECT_FALSE(ConcernErased(kService, "g-1"));
}

}  // namespace
}  // namespace ycr::testing
