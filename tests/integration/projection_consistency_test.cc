// The read side against the write side, on a real server's log and
// projections: after thousands of random domain commands, every live
// projection equals a rebuild from scratch, byte for byte; and a query given
// a command's position always sees that command, under concurrent appends.

#include <map>
#include <random>
#include <thread>

#include "common/ids.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "projections/audit_trail.h"
#include "services/domain_commands.h"
#include "tests/integration/test_server.h"

namespace ycr::testing {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'780'000'000);
constexpr absl::Duration kDay = absl::Hours(24);
const char* const kSchools[] = {"school-1", "school-2", "school-3"};
const char* const kServices[] = {"service-1", "service-2"};

v1::Actor As(const std::string& organisation) {
  v1::Actor actor;
  actor.set_organisation(organisation);
  actor.set_user("u");
  actor.set_role("r");
  return actor;
}

services::ServerOptions Options(ManualClock* clock) {
  services::ServerOptions options;
  options.clock = clock;
  // Live, the projections follow the appends event by event (a commit per
  // event); the rebuild goes through build batches from position 1 (spills
  // of a few KiB merged at the head, a cache too small to keep anything,
  // and the shared reader's decoded chunks of 64 events), so the test
  // compares the two paths byte for byte.
  options.projections.batch_events = 1;
  options.projections.shared_reader_options.chunk_events = 64;
  options.projections.shared_reader_options.max_chunks = 3;
  options.projections.shared_reader_options.readahead_chunks = 1;
  options.projections.build_min_events = 200;
  options.projections.build_batch_bytes = 16 << 10;
  options.projections.build_cache_bytes = 4 << 10;
  return options;
}

// A random but valid-looking domain workload over a few schools, services,
// subjects and agreements. Many commands are refused by the rules; that is
// part of the point (nothing refused may show in a read model).
class Workload {
 public:
  Workload(services::DomainCommands* commands, ManualClock* clock,
           uint32_t seed)
      : commands_(commands), clock_(clock), random_(seed) {}

  void Setup() {
    for (int i = 0; i < 12; ++i) {
      v1::SubjectRecord r;
      r.set_subject_id("s-" + std::to_string(i));
      r.set_given_name("Given");
      r.set_family_name("Family");
      r.set_date_of_birth(
          absl::StrCat(2008 + i % 8, "-0", 1 + i % 9, "-1", i % 10));
      ASSERT_TRUE(
          commands_->PutSubjectRecord(As(School(i)), NewUuid(), r).ok());
    }
    for (int s = 0; s < 3; ++s) {
      for (int v = 0; v < 2; ++v) {
        const std::string id = AgreementId(s, v);
        v1::EventPayload draft;
        draft.mutable_agreement_drafted()->set_agreement_id(id);
        *draft.mutable_agreement_drafted()->mutable_terms() =
            Terms(kSchools[s], kServices[v], 10 + s + v);
        ASSERT_TRUE(
            commands_->RecordAgreement(As(kSchools[s]), NewUuid(), id, draft)
                .ok());
        v1::EventPayload sign;
        sign.mutable_agreement_signed();
        ASSERT_TRUE(
            commands_->RecordAgreement(As(kSchools[s]), NewUuid(), id, sign)
                .ok());
        ASSERT_TRUE(
            commands_->RecordAgreement(As(kServices[v]), NewUuid(), id, sign)
                .ok());
      }
    }
  }

  // One random command; returns what it returned.
  absl::StatusOr<storage::AppendResult> Step() {
    clock_->Advance(absl::Minutes(Pick(1, 600)));
    const int subject = Pick(0, 11);
    const std::string s = "s-" + std::to_string(subject);
    const std::string school = School(subject);
    const std::string service = kServices[Pick(0, 1)];
    switch (Pick(0, 9)) {
      case 0: {  // Grant a consent for referral and impact reporting.
        v1::EventPayload p;
        auto* g = p.mutable_consent_granted();
        g->set_consent_id(absl::StrCat("c-", s, "-", service));
        g->set_subject_id(s);
        g->mutable_given_by()->mutable_parent()->set_person_ref("p-1");
        auto* t = g->mutable_terms();
        t->add_purposes(v1::PURPOSE_REFERRAL);
        t->add_purposes(v1::PURPOSE_IMPACT_REPORTING);
        t->add_recipients()->set_organisation(service);
        t->add_recipients()->set_organisation(school);
        t->add_categories(v1::DATA_CATEGORY_IDENTITY);
        t->add_categories(v1::DATA_CATEGORY_ATTENDANCE);
        *t->mutable_valid_from() = ToProtoTime(clock_->Now() - kDay);
        *t->mutable_valid_until() =
            ToProtoTime(clock_->Now() + Pick(10, 400) * kDay);
        return commands_->RecordConsent(As(school), NewUuid(), p);
      }
      case 1: {  // Withdraw it.
        v1::EventPayload p;
        p.mutable_consent_withdrawn()->set_consent_id(
            absl::StrCat("c-", s, "-", service));
        return commands_->RecordConsent(As(school), NewUuid(), p);
      }
      case 2: {  // Share under it (refused when not covered).
        v1::DisclosureRecorded d;
        d.set_disclosure_id(NewUuid());
        d.set_subject_id(s);
        d.mutable_from()->set_organisation(school);
        d.mutable_to()->set_organisation(service);
        d.add_categories(v1::DATA_CATEGORY_IDENTITY);
        d.set_purpose(v1::PURPOSE_REFERRAL);
        d.mutable_consent()->set_consent_id(
            absl::StrCat("c-", s, "-", service));
        return commands_->RecordDisclosure(As(school), NewUuid(), d);
      }
      case 3: {  // Submit a referral.
        const std::string id = absl::StrCat("r-", s, "-", service);
        v1::EventPayload p;
        auto* r = p.mutable_referral_submitted();
        r->set_referral_id(id);
        r->set_subject_id(s);
        r->set_school(school);
        r->set_service(service);
        auto* d = r->mutable_disclosure();
        d->set_disclosure_id(NewUuid());
        d->set_subject_id(s);
        d->mutable_from()->set_organisation(school);
        d->mutable_to()->set_organisation(service);
        d->add_categories(v1::DATA_CATEGORY_IDENTITY);
        d->set_purpose(v1::PURPOSE_REFERRAL);
        d->mutable_consent()->set_consent_id(
            absl::StrCat("c-", s, "-", service));
        return commands_->RecordReferral(As(school), NewUuid(), id, p);
      }
      case 4: {  // Move a referral on (whatever the state allows).
        const std::string id = absl::StrCat("r-", s, "-", service);
        v1::EventPayload p;
        switch (Pick(0, 4)) {
          case 0:
            p.mutable_referral_received();
            break;
          case 1:
            p.mutable_referral_accepted();
            break;
          case 2:
            p.mutable_referral_declined();
            p.mutable_personal()->set_reason("no");
            break;
          case 3:
            p.mutable_referral_registered();
            break;
          default:
            p.mutable_referral_closed();
            p.mutable_personal()->set_reason("support ended");
            break;
        }
        return commands_->RecordReferral(As(service), NewUuid(), id, p);
      }
      case 5:
      case 6: {  // Correspondence received from the school.
        const int sch = Pick(0, 2);
        const int svc = Pick(0, 1);
        const std::string id = absl::StrCat("m-", next_++);
        open_.push_back(id);
        v1::EventPayload p;
        auto* r = p.mutable_correspondence_received();
        r->set_correspondence_id(id);
        r->set_agreement_id(AgreementId(sch, svc));
        r->set_channel(v1::CHANNEL_EMAIL);
        r->set_from(kSchools[sch]);
        r->set_topic_code(v1::CORRESPONDENCE_TOPIC_AWARENESS);
        *r->mutable_received_at() = ToProtoTime(clock_->Now());
        return commands_->RecordCorrespondence(As(kServices[svc]), NewUuid(),
                                               id, p);
      }
      case 7: {  // Answer or acknowledge some of it.
        if (open_.empty()) return absl::NotFoundError("nothing open");
        const std::string id = open_[Pick(0, open_.size() - 1)];
        auto item = commands_->LoadCorrespondence(id);
        if (!item.ok() || item->version == 0) return item.status();
        v1::EventPayload p;
        if (Pick(0, 1) == 0) {
          p.mutable_correspondence_answered();
        } else {
          *p.mutable_correspondence_acknowledged()->mutable_promised_by() =
              ToProtoTime(clock_->Now() + Pick(2, 9) * kDay);
        }
        return commands_->RecordCorrespondence(As(item->received.to()),
                                               NewUuid(), id, p);
      }
      case 8: {  // Amend an agreement's response time (later letters).
        const int sch = Pick(0, 2);
        const int svc = Pick(0, 1);
        v1::EventPayload p;
        *p.mutable_agreement_amended()->mutable_terms() =
            Terms(kSchools[sch], kServices[svc], Pick(5, 20));
        return commands_->RecordAgreement(As(kSchools[sch]), NewUuid(),
                                          AgreementId(sch, svc), p);
      }
      default: {  // Review an agreement.
        const int sch = Pick(0, 2);
        const int svc = Pick(0, 1);
        v1::EventPayload p;
        p.mutable_agreement_reviewed()->set_review_outcome(
            v1::REVIEW_OUTCOME_CONTINUE);
        return commands_->RecordAgreement(As(kServices[svc]), NewUuid(),
                                          AgreementId(sch, svc), p);
      }
    }
  }

 private:
  static std::string School(int subject) { return kSchools[subject % 3]; }
  static std::string AgreementId(int school, int service) {
    return absl::StrCat("a-", school, "-", service);
  }
  static v1::AgreementTerms Terms(const std::string& school,
                                  const std::string& service, uint32_t days) {
    v1::AgreementTerms t;
    for (auto [party, org] : {std::pair{t.mutable_school(), school},
                              std::pair{t.mutable_service(), service}}) {
      party->set_organisation(org);
      party->set_name("Name");
      party->set_address("Address");
      party->add_responsibilities("respond");
      party->mutable_lead_contact()->set_name("Lead");
    }
    t.set_response_time_days(days);
    t.set_acknowledgement_allowed(true);
    t.set_review_cadence_months(6);
    t.set_closing_period_days(30);
    return t;
  }
  int Pick(int low, int high) {
    return std::uniform_int_distribution<int>(low, high)(random_);
  }

  services::DomainCommands* const commands_;
  ManualClock* const clock_;
  std::mt19937 random_;
  std::vector<std::string> open_;
  int next_ = 0;
};

// Every key and value of one generation of a projection.
std::map<std::string, std::string> Dump(storage::ProjectionStore& store,
                                        const std::string& name,
                                        uint32_t generation) {
  std::map<std::string, std::string> out;
  EXPECT_TRUE(store
                  .Scan(name, generation, "", "",
                        [&](absl::string_view k, absl::string_view v) {
                          out[std::string(k)] = std::string(v);
                          return true;
                        })
                  .ok());
  return out;
}

TEST(ProjectionConsistencyTest, LiveProjectionsEqualARebuildAfterRandomWork) {
  TempDir dir;
  ManualClock clock(kStart);
  TestServer server(dir.path(), Options(&clock));
  services::DomainCommands commands(&server.server().log(), &clock);
  Workload workload(&commands, &clock, /*seed=*/20261124);
  ASSERT_NO_FATAL_FAILURE(workload.Setup());
  int accepted = 0;
  projections::ProjectionHost& host = server.server().projections();
  for (int i = 0; i < 3000; ++i) {
    accepted += workload.Step().ok() ? 1 : 0;
    if (i % 40 == 39) {
      // Live runners stay within build_min_events of the head, so they
      // apply every event by itself, never through a build batch.
      const uint64_t at = server.server().log().GetHead().position;
      for (const projections::ProjectionStatus& status : host.Status()) {
        ASSERT_TRUE(
            host.Await(status.name, at, absl::Now() + absl::Seconds(30)).ok());
      }
    }
  }
  RecordProperty("commands_accepted", accepted);
  EXPECT_GT(accepted, 500);

  const uint64_t head = server.server().log().GetHead().position;
  for (const projections::ProjectionStatus& status : host.Status()) {
    SCOPED_TRACE(status.name);
    auto live = host.Await(status.name, head, absl::Now() + absl::Seconds(30));
    ASSERT_TRUE(live.ok()) << live.status();
    const auto before = Dump(host.store(), status.name, (*live)->generation());
    EXPECT_FALSE(before.empty());
    ASSERT_TRUE(host.Rebuild(status.name).ok());
    ASSERT_TRUE(
        host.AwaitRebuilt(status.name, absl::Now() + absl::Seconds(60)).ok());
    auto rebuilt =
        host.Await(status.name, head, absl::Now() + absl::Seconds(30));
    ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
    ASSERT_NE((*rebuilt)->generation(), (*live)->generation());
    const auto after =
        Dump(host.store(), status.name, (*rebuilt)->generation());
    EXPECT_EQ(before.size(), after.size());
    EXPECT_TRUE(before == after) << "live and rebuilt state differ";
  }
}

TEST(ProjectionConsistencyTest, AQueryAtACommandsPositionSeesTheCommand) {
  TempDir dir;
  ManualClock clock(kStart);
  TestServer server(dir.path(), Options(&clock));
  services::DomainCommands commands(&server.server().log(), &clock);
  for (int i = 0; i < 4; ++i) {
    v1::SubjectRecord r;
    r.set_subject_id("s-" + std::to_string(i));
    r.set_given_name("G");
    r.set_family_name("F");
    r.set_date_of_birth("2012-01-01");
    ASSERT_TRUE(commands.PutSubjectRecord(As("school-1"), NewUuid(), r).ok());
  }
  projections::ProjectionHost& host = server.server().projections();
  std::vector<std::thread> writers;
  std::atomic<int> unseen{0};
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      const std::string subject = "s-" + std::to_string(w);
      for (int i = 0; i < 100; ++i) {
        v1::SharingDeclined declined;
        declined.set_subject_id(subject);
        declined.mutable_to()->set_organisation("la-1");
        declined.set_decision_maker("dsl-1");
        v1::PersonalData why;
        why.set_reason("not proportionate");
        auto done = commands.RecordDecisionNotToShare(As("school-1"), NewUuid(),
                                                      declined, why);
        if (!done.ok()) {
          ++unseen;
          continue;
        }
        auto lease = host.Await("audit_trail", done->last_position,
                                absl::Now() + absl::Seconds(30));
        if (!lease.ok()) {
          ++unseen;
          continue;
        }
        std::vector<v1::AuditEntry> entries;
        uint64_t next = 0;
        absl::Status s = projections::ReadSubjectTrail(
            host.store(), (*lease)->generation(), subject,
            done->last_position - 1, 1, &entries, &next);
        if (!s.ok() || entries.empty() ||
            entries[0].event().position() != done->last_position) {
          ++unseen;
        }
      }
    });
  }
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(unseen.load(), 0);
}

}  // namespace
}  // namespace ycr::testing
