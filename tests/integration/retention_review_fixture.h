#pragma once

// The fixture of the retention review tests (retention_review_test.cc,
// hostile_review_5_test.cc): HostileReview2Test with a service that raises
// a concern about s-1 before the school erases it, a second service that
// may keep one too, and helpers to list and decide the reviews.

#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "domain/safeguarding_rules.h"
#include "tests/integration/hostile_review_fixture.h"

namespace ycr::testing {

// A second service, with a referral of s-1 of its own.
inline const std::string kService2 = "service-9";
inline constexpr char kFacts[] = "KEPT-child-said-uncle-hits-4471";
inline constexpr char kFacts2[] = "KEPT-second-service-saw-bruises-8812";
// s-1 was born 2012-03-04 (Record): its kept records are due for review on
// 2037-03-04.
inline constexpr char kReviewDay[] = "2037-03-04";
inline const absl::Time kDue =
    absl::FromCivil(absl::CivilDay(2037, 3, 4), absl::UTCTimeZone());

class RetentionReviewTest : public HostileReview2Test {
 protected:
  using HostileReview2Test::HostileReview2Test;

  // The service raises concern g-1 about s-1 (the school is not told);
  // the school erases s-1. Another `subject`: concern g-1-<subject>.
  void KeepAndErase(v1::EraseSubjectResponse* erased = nullptr,
                    const std::string& subject = "s-1") {
    const std::string concern =
        subject == "s-1" ? "g-1" : absl::StrCat("g-1-", subject);
    ASSERT_TRUE(Ok(Safeguard(Raise(concern, subject, kFacts), kService)));
    v1::EraseSubjectResponse out;
    ASSERT_TRUE(Ok(EraseAs(kSchool, subject, "req-1", &out)));
    ASSERT_TRUE(out.erased());
    if (erased != nullptr) *erased = out;
  }

  // kService2 gets a referral of s-1 (under a consent naming it) and raises
  // concern g-2 about it.
  void SecondServiceKeeps() { ServiceKeeps(kService2, "2", kFacts2); }

  // `service` gets a referral of s-1 (r-<n>, under consent c-<n> naming
  // it) and raises concern g-<n> about it, stating `facts`.
  void ServiceKeeps(const std::string& service, const std::string& n,
                    const std::string& facts) {
    const std::string consent = "c-" + n;
    ASSERT_TRUE(
        Ok(Grant(Consent(consent, "s-1", service, {v1::PURPOSE_REFERRAL},
                         {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
                 kSchool)));
    v1::ReferralTransitionRequest submit = Submit("r-" + n, "s-1", consent);
    submit.mutable_submit()->set_service(service);
    submit.mutable_submit()
        ->mutable_disclosure()
        ->mutable_to()
        ->set_organisation(service);
    ASSERT_TRUE(Ok(Refer(submit, kSchool)));
    ASSERT_TRUE(Ok(Safeguard(Raise("g-" + n, "s-1", facts), service)));
  }

  grpc::Status Reviews(const std::string& org,
                       v1::RetentionReviewsResponse* out,
                       std::optional<absl::Time> as_of = std::nullopt) {
    v1::RetentionReviewsRequest request;
    if (as_of.has_value()) *request.mutable_as_of() = At(*as_of);
    grpc::ClientContext context;
    AsCaller(&context, org);
    return subjects_->RetentionReviews(&context, request, out);
  }

  // The reviews `org` lists, as "subject/organisation@YYYY-MM-DD".
  std::vector<std::string> Listed(
      const std::string& org, std::optional<absl::Time> as_of = std::nullopt) {
    v1::RetentionReviewsResponse out;
    EXPECT_TRUE(Ok(Reviews(org, &out, as_of))) << org;
    std::vector<std::string> listed;
    for (const v1::RetentionReview& r : out.reviews()) {
      listed.push_back(
          absl::StrCat(r.subject_id(), "/", r.organisation(), "@",
                       absl::FormatTime("%Y-%m-%d", TimeOf(r.review_due()),
                                        absl::UTCTimeZone())));
    }
    return listed;
  }

  grpc::Status Review(const std::string& org, v1::ReviewRetentionRequest r,
                      const std::string& subject = "s-1") {
    return ReviewAs(org, subject, std::move(r), nullptr);
  }

  // `org`'s review of `subject`, with its answer.
  grpc::Status ReviewAs(const std::string& org, const std::string& subject,
                        v1::ReviewRetentionRequest r,
                        v1::CommandResponse* out) {
    r.set_subject_id(subject);
    return Send(subjects_.get(), &v1::Subjects::Stub::ReviewRetention, r, org,
                out);
  }

  // `a` and `b` each DESTROY their kept records of s-1, at once.
  std::pair<grpc::Status, grpc::Status> DestroyAtOnce(const std::string& a,
                                                      const std::string& b) {
    std::pair<grpc::Status, grpc::Status> out;
    std::thread first([&] { out.first = Review(a, Destroy()); });
    std::thread second([&] { out.second = Review(b, Destroy()); });
    first.join();
    second.join();
    return out;
  }

  static v1::ReviewRetentionRequest Destroy() {
    v1::ReviewRetentionRequest r;
    r.set_decision(v1::RETENTION_DECISION_DESTROY);
    return r;
  }

  static v1::ReviewRetentionRequest Keep(absl::Time until,
                                         v1::RetentionKeepReason why) {
    v1::ReviewRetentionRequest r;
    r.set_decision(v1::RETENTION_DECISION_KEEP);
    *r.mutable_next_review_at() = At(until);
    r.set_keep_reason(why);
    return r;
  }

  // Whether the personal part of `org`'s concern `concern_id` reads as
  // erased (raw log, as an auditor).
  bool ConcernErased(const std::string& org, const std::string& concern_id) {
    const std::vector<v1::RecordedEvent> events =
        Events(domain::ConcernStream(org, concern_id));
    EXPECT_FALSE(events.empty());
    for (const v1::RecordedEvent& e : events) {
      if (e.payload().has_concern_raised()) {
        return e.payload().personal().erased();
      }
    }
    return false;
  }

  // The one child_protection_kept of `subject`'s erasure, as an auditor
  // reads it (fails the test when there is not exactly one).
  v1::RecordedEvent KeptRecord(const std::string& subject = "s-1") {
    std::vector<v1::RecordedEvent> kept;
    for (const v1::RecordedEvent& e : Events("subject-" + subject)) {
      if (e.payload().has_child_protection_kept()) kept.push_back(e);
    }
    EXPECT_EQ(kept.size(), 1u) << subject;
    return kept.empty() ? v1::RecordedEvent() : kept[0];
  }

  // Every entry of s-1's trail as `org` reads it, as text.
  std::string TrailText(const std::string& org) {
    std::vector<v1::AuditEntry> entries;
    EXPECT_TRUE(Ok(TrailAs(org, "s-1", &entries))) << org;
    std::string out;
    for (const v1::AuditEntry& e : entries) out += e.DebugString();
    return out;
  }
};

}  // namespace ycr::testing
