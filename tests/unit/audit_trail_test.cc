#include "projections/audit_trail.h"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "projections/host.h"
#include "projections/runner.h"
#include "storage/event_log.h"
#include "storage/rocksdb_event_log.h"
#include "tests/unit/test_util.h"

namespace ycr::projections {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::ycr::test::TempDir;
using ::ycr::test::TestActor;

// Only reached when a test fails.
constexpr absl::Duration kFailureTimeout = absl::Seconds(10);

// 2023-11-14T22:13:20Z.
const absl::Time kStart = absl::FromUnixSeconds(1700000000);

v1::Recipient Org(const std::string& organisation,
                  const std::string& role = "") {
  v1::Recipient r;
  r.set_organisation(organisation);
  r.set_role(role);
  return r;
}

v1::DisclosureRecorded Disclosure(const std::string& id,
                                  const std::string& subject,
                                  const std::string& from,
                                  const std::string& to) {
  v1::DisclosureRecorded d;
  d.set_disclosure_id(id);
  d.set_subject_id(subject);
  *d.mutable_from() = Org(from);
  *d.mutable_to() = Org(to);
  d.add_categories(v1::DATA_CATEGORY_IDENTITY);
  d.set_purpose(v1::PURPOSE_REFERRAL);
  return d;
}

v1::ConsentTerms Terms(const std::string& recipient, absl::Time from,
                       absl::Time until,
                       std::vector<v1::DataCategory> categories) {
  v1::ConsentTerms t;
  t.add_purposes(v1::PURPOSE_REFERRAL);
  *t.add_recipients() = Org(recipient);
  for (v1::DataCategory c : categories) t.add_categories(c);
  *t.mutable_valid_from() = ToProtoTime(from);
  *t.mutable_valid_until() = ToProtoTime(until);
  return t;
}

v1::EventPayload Granted(const std::string& consent, const std::string& subject,
                         const v1::ConsentTerms& terms) {
  v1::EventPayload p;
  auto* g = p.mutable_consent_granted();
  g->set_consent_id(consent);
  g->set_subject_id(subject);
  g->mutable_given_by()->mutable_parent()->set_person_ref("parent-1");
  *g->mutable_terms() = terms;
  return p;
}

v1::EventPayload Refused(const std::string& consent, const std::string& subject,
                         const v1::ConsentTerms& terms) {
  v1::EventPayload p;
  auto* r = p.mutable_consent_refused();
  r->set_consent_id(consent);
  r->set_subject_id(subject);
  r->mutable_given_by()->mutable_parent()->set_person_ref("parent-1");
  *r->mutable_terms() = terms;
  return p;
}

v1::EventPayload Varied(const std::string& consent,
                        const v1::ConsentTerms& terms) {
  v1::EventPayload p;
  p.mutable_consent_varied()->set_consent_id(consent);
  *p.mutable_consent_varied()->mutable_terms() = terms;
  return p;
}

v1::EventPayload Withdrawn(const std::string& consent, absl::Time effective) {
  v1::EventPayload p;
  p.mutable_consent_withdrawn()->set_consent_id(consent);
  *p.mutable_consent_withdrawn()->mutable_effective_at() =
      ToProtoTime(effective);
  return p;
}

v1::EventPayload DisclosurePayload(const v1::DisclosureRecorded& d) {
  v1::EventPayload p;
  *p.mutable_disclosure_recorded() = d;
  return p;
}

v1::EventPayload Submitted(const std::string& referral,
                           const std::string& subject,
                           const v1::DisclosureRecorded& d) {
  v1::EventPayload p;
  auto* s = p.mutable_referral_submitted();
  s->set_referral_id(referral);
  s->set_subject_id(subject);
  s->set_school("school-a");
  s->set_service("service-b");
  *s->mutable_disclosure() = d;
  return p;
}

v1::EventPayload Planned(const std::string& intervention,
                         const std::string& subject) {
  v1::EventPayload p;
  auto* i = p.mutable_intervention_planned();
  i->set_intervention_id(intervention);
  i->set_service("service-b");
  i->set_school("school-a");
  i->set_subject_id(subject);
  i->set_type(subject.empty() ? v1::INTERVENTION_TYPE_ASSEMBLY_OR_PSE_LESSON
                              : v1::INTERVENTION_TYPE_ONE_TO_ONE);
  return p;
}

v1::EventPayload Received(const std::string& correspondence,
                          const std::string& subject) {
  v1::EventPayload p;
  auto* c = p.mutable_correspondence_received();
  c->set_correspondence_id(correspondence);
  c->set_agreement_id("ag-1");
  c->set_from("school-a");
  c->set_to("service-b");
  c->set_topic_code(v1::CORRESPONDENCE_TOPIC_OTHER);
  c->set_subject_id(subject);
  return p;
}

template <typename Setter>
v1::EventPayload Make(Setter set) {
  v1::EventPayload p;
  set(p);
  return p;
}

class AuditTrailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::RocksDbEventLogOptions options;
    options.path = dir_.path() + "/store";
    options.clock = &clock_;
    options.sync = false;
    options.block_cache_bytes = 1 << 20;
    absl::StatusOr<std::unique_ptr<storage::RocksDbEventLog>> log =
        storage::RocksDbEventLog::Open(std::move(options));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    store_ = log_->NewProjectionStore();
    host_ = std::make_unique<ProjectionHost>(log_.get(), store_.get());
    host_->Add(std::make_unique<AuditTrailProjection>());
    ASSERT_TRUE(host_->Start().ok());
  }

  void TearDown() override {
    if (host_ != nullptr) host_->Stop();
    host_.reset();
    store_.reset();
    if (log_ != nullptr) log_->Close();
  }

  // Appends one event to `stream` at the clock's time, waits until the
  // projection has applied it (so the live state is built event by event),
  // and moves the clock on a minute. Returns its position.
  uint64_t Add(const std::string& stream, v1::EventPayload payload) {
    storage::AppendRequest request;
    request.stream = stream;
    request.actor = TestActor();
    v1::ProposedEvent& event = request.events.emplace_back();
    event.set_event_id(NewUuid());
    *event.mutable_payload() = std::move(payload);
    absl::StatusOr<storage::AppendResult> result =
        log_->Append(std::move(request));
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return 0;
    generation_ = Await(result->last_position);
    clock_.Advance(absl::Minutes(1));
    return result->last_position;
  }

  // The generation to read once the projection has applied `position`.
  uint32_t Await(uint64_t position) {
    auto lease =
        host_->Await(kAuditTrailName, position, absl::Now() + kFailureTimeout);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? (*lease)->generation() : 0;
  }

  // The log's events by position.
  std::map<uint64_t, v1::RecordedEvent> LogEvents() {
    std::map<uint64_t, v1::RecordedEvent> out;
    uint64_t from = 1;
    for (;;) {
      auto slice = log_->ReadAll(from, 0, storage::LogFilter());
      EXPECT_TRUE(slice.ok()) << slice.status();
      if (!slice.ok()) return out;
      for (auto& e : slice->events) out[e.position()] = std::move(e);
      if (slice->reached_end) return out;
      from = slice->next_position;
    }
  }

  std::vector<v1::AuditEntry> Trail(const std::string& subject) {
    std::vector<v1::AuditEntry> out;
    uint64_t next = 1;
    absl::Status s =
        ReadSubjectTrail(*store_, generation_, subject, 0, 1000, &out, &next);
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_EQ(next, 0u);
    return out;
  }

  static std::vector<uint64_t> Positions(
      const std::vector<v1::AuditEntry>& entries) {
    std::vector<uint64_t> out;
    for (const auto& e : entries) out.push_back(e.event().position());
    return out;
  }

  std::vector<v1::AuditEntry> OrgDisclosures(const std::string& organisation,
                                             absl::Time from, absl::Time to) {
    std::vector<v1::AuditEntry> out;
    DisclosureCursor next;
    absl::Status s = ReadOrganisationDisclosures(
        *store_, generation_, organisation, from, to, {}, 1000, &out, &next);
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_TRUE(next.done());
    return out;
  }

  // Every key and value of one generation.
  std::vector<std::pair<std::string, std::string>> ScanAll(
      uint32_t generation) {
    std::vector<std::pair<std::string, std::string>> out;
    absl::Status s =
        store_->Scan(kAuditTrailName, generation, "", "",
                     [&](absl::string_view key, absl::string_view value) {
                       out.emplace_back(std::string(key), std::string(value));
                       return true;
                     });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  absl::StatusOr<v1::ConsentInForceResponse> InForce(
      const std::string& subject, const std::string& recipient, absl::Time at,
      v1::DataCategory category = v1::DATA_CATEGORY_IDENTITY,
      v1::Purpose purpose = v1::PURPOSE_REFERRAL) {
    v1::ConsentInForceRequest request;
    request.set_subject_id(subject);
    *request.mutable_recipient() = Org(recipient);
    request.set_purpose(purpose);
    request.set_category(category);
    *request.mutable_at() = ToProtoTime(at);
    return ConsentInForce(*store_, generation_, request);
  }

  // Appends a history touching every kind of event. Fills the positions
  // expected in each subject's trail and the disclosures expected by
  // position.
  void AppendEverything() {
    const auto terms = Terms("service-b", kStart, kStart + absl::Hours(24 * 90),
                             {v1::DATA_CATEGORY_IDENTITY});
    auto s1 = [&](uint64_t p) { s1_.push_back(p); };
    auto s2 = [&](uint64_t p) { s2_.push_back(p); };
    auto none = [&](uint64_t p) { unattributed_.push_back(p); };

    s1(Add("consent-c1", Granted("c1", "s1", terms)));
    s2(Add("consent-c2", Granted("c2", "s2", terms)));
    {
      const auto d = Disclosure("d1", "s1", "school-a", "service-b");
      const uint64_t p = Add("sharing-s1", DisclosurePayload(d));
      s1(p);
      disclosures_[p] = "d1";
    }
    s1(Add("sharing-s1", Make([](v1::EventPayload& p) {
             auto* d = p.mutable_sharing_declined();
             d->set_subject_id("s1");
             *d->mutable_to() = Org("police");
             d->set_decision_maker("dsl-1");
             d->set_organisation("school-a");
           })));
    {
      const uint64_t p =
          Add("referral-r1",
              Submitted("r1", "s1",
                        Disclosure("d-sub", "s1", "school-a", "service-b")));
      s1(p);
      disclosures_[p] = "d-sub";
    }
    s1(Add("referral-r1",
           Make([](v1::EventPayload& p) { p.mutable_referral_received(); })));
    s2(Add("referral-r2",
           Submitted("r2", "s2",
                     Disclosure("d-sub2", "s2", "school-c", "service-b"))));
    disclosures_[s2_.back()] = "d-sub2";
    s1(Add("referral-r1",
           Make([](v1::EventPayload& p) { p.mutable_referral_accepted(); })));
    {
      const uint64_t p = Add("referral-r1", Make([](v1::EventPayload& p) {
                               auto* t = p.mutable_referral_transferred();
                               t->set_to_school("school-c");
                               *t->mutable_disclosure() = Disclosure(
                                   "d-tr", "s1", "school-a", "school-c");
                             }));
      s1(p);
      disclosures_[p] = "d-tr";
    }
    s1(Add("subject-s1", Make([](v1::EventPayload& p) {
             p.mutable_subject_record_changed()->set_subject_id("s1");
             p.mutable_subject_record_changed()->set_holder("school-a");
           })));
    s1(Add("subject-s1", Make([](v1::EventPayload& p) {
             p.mutable_young_carer_identified()->set_subject_id("s1");
             p.mutable_young_carer_identified()->set_school("school-a");
           })));
    s1(Add("intervention-i1", Planned("i1", "s1")));
    none(Add("intervention-i2", Planned("i2", "")));
    s1(Add("intervention-i1", Make([](v1::EventPayload& p) {
             p.mutable_session_delivered()->set_attended(true);
           })));
    none(Add("intervention-i2", Make([](v1::EventPayload& p) {
               p.mutable_session_delivered()->set_attended(true);
             })));
    {
      const uint64_t p = Add("intervention-i1", Make([](v1::EventPayload& p) {
                               auto* o = p.mutable_outcomes_recorded();
                               o->set_wellbeing(v1::OUTCOME_CHANGE_IMPROVED);
                               *o->mutable_report() = Disclosure(
                                   "d-out", "s1", "service-b", "school-a");
                             }));
      s1(p);
      disclosures_[p] = "d-out";
    }
    none(Add("intervention-i2", Make([](v1::EventPayload& p) {
               p.mutable_intervention_ended();
             })));
    s1(Add("safeguarding-k1", Make([](v1::EventPayload& p) {
             p.mutable_concern_raised()->set_concern_id("k1");
             p.mutable_concern_raised()->set_subject_id("s1");
             p.mutable_concern_raised()->set_organisation("school-a");
           })));
    s1(Add("safeguarding-k1", Make([](v1::EventPayload& p) {
             p.mutable_dsl_notified()->set_dsl("dsl-1");
           })));
    {
      const uint64_t p = Add("safeguarding-k1", Make([](v1::EventPayload& p) {
                               auto* s = p.mutable_social_care_referral_made();
                               s->set_reference("mash-1");
                               *s->mutable_disclosure() = Disclosure(
                                   "d-sc", "s1", "school-a", "social-care");
                             }));
      s1(p);
      disclosures_[p] = "d-sc";
    }
    s1(Add("safeguarding-k1",
           Make([](v1::EventPayload& p) { p.mutable_concern_closed(); })));
    s1(Add("correspondence-m1", Received("m1", "s1")));
    none(Add("correspondence-m2", Received("m2", "")));
    s1(Add("correspondence-m1", Make([](v1::EventPayload& p) {
             p.mutable_correspondence_acknowledged();
           })));
    none(Add("correspondence-m2", Make([](v1::EventPayload& p) {
               p.mutable_correspondence_answered();
             })));
    s1(Add("correspondence-m1", Make([](v1::EventPayload& p) {
             p.mutable_correspondence_answered();
           })));
    none(Add("agreement-ag-1",
             Make([](v1::EventPayload& p) { p.mutable_agreement_drafted(); })));
    none(Add("notes-s1", Make([](v1::EventPayload& p) {
               p.mutable_opaque()->set_type("test.note");
               p.mutable_opaque()->set_data("s1");
             })));
    s1(Add("consent-c1", Varied("c1", terms)));
    s1(Add("consent-c1", Withdrawn("c1", clock_.Now() + absl::Hours(1))));
    s2(Add("referral-r2",
           Make([](v1::EventPayload& p) { p.mutable_referral_declined(); })));
  }

  ManualClock clock_{kStart};
  TempDir dir_;
  std::unique_ptr<storage::RocksDbEventLog> log_;
  std::unique_ptr<storage::ProjectionStore> store_;
  std::unique_ptr<ProjectionHost> host_;
  uint32_t generation_ = 0;

  std::vector<uint64_t> s1_, s2_, unattributed_;
  std::map<uint64_t, std::string> disclosures_;  // position -> disclosure id
};

TEST_F(AuditTrailTest, EveryKindLandsInItsSubjectsTrailInLogOrder) {
  AppendEverything();
  const auto log = LogEvents();

  for (const auto& [subject, expected] :
       {std::pair<std::string, std::vector<uint64_t>>{"s1", s1_},
        std::pair<std::string, std::vector<uint64_t>>{"s2", s2_}}) {
    SCOPED_TRACE(subject);
    const std::vector<v1::AuditEntry> trail = Trail(subject);
    EXPECT_EQ(Positions(trail), expected);
    for (const v1::AuditEntry& entry : trail) {
      const uint64_t position = entry.event().position();
      SCOPED_TRACE(position);
      EXPECT_EQ(entry.subject_id(), subject);
      ASSERT_EQ(log.count(position), 1u);
      const v1::RecordedEvent& logged = log.at(position);
      EXPECT_TRUE(MessageDifferencer::Equals(entry.event(), logged));
      EXPECT_EQ(entry.event().hash(), logged.hash());
      EXPECT_EQ(entry.event().hash().size(), 32u);
      EXPECT_EQ(entry.event().prev_hash(), logged.prev_hash());
      // Embedded disclosures are extracted; nothing else carries one.
      auto it = disclosures_.find(position);
      if (it == disclosures_.end()) {
        EXPECT_FALSE(entry.has_disclosure()) << entry.event().event_type();
      } else {
        EXPECT_EQ(entry.disclosure().disclosure_id(), it->second)
            << entry.event().event_type();
        EXPECT_EQ(entry.disclosure().subject_id(), subject);
      }
    }
  }

  // Attributed through the maps: later events that do not name the subject.
  const std::vector<v1::AuditEntry> trail = Trail("s1");
  std::set<std::string> types;
  for (const auto& e : trail) types.insert(e.event().event_type());
  for (const char* type :
       {"consent_varied", "consent_withdrawn", "referral_received",
        "referral_accepted", "referral_transferred", "session_delivered",
        "outcomes_recorded", "dsl_notified", "social_care_referral_made",
        "concern_closed", "correspondence_acknowledged",
        "correspondence_answered", "sharing_declined", "young_carer_identified",
        "subject_record_changed"}) {
    EXPECT_EQ(types.count(type), 1u) << type;
  }

  // Whole-school work, correspondence about no one, agreements and opaque
  // events are in no trail.
  std::set<uint64_t> attributed;
  for (const auto& [key, value] : ScanAll(generation_)) {
    if (key[0] != static_cast<char>(AuditKey::kTrail)) continue;
    v1::AuditEntry entry;
    ASSERT_TRUE(entry.ParseFromString(value));
    EXPECT_FALSE(entry.subject_id().empty());
    attributed.insert(entry.event().position());
  }
  for (uint64_t p : unattributed_) EXPECT_EQ(attributed.count(p), 0u) << p;
  EXPECT_EQ(attributed.size(), s1_.size() + s2_.size());
  EXPECT_TRUE(Trail("").empty());
  EXPECT_TRUE(Trail("s3").empty());
}

TEST_F(AuditTrailTest, SubjectIdsThatArePrefixesOrHoldZeroBytesStayApart) {
  const std::string odd("a\0b", 3);
  const uint64_t a =
      Add("sharing-a", DisclosurePayload(Disclosure("1", "a", "x", "y")));
  const uint64_t ab =
      Add("sharing-ab", DisclosurePayload(Disclosure("2", "ab", "x", "y")));
  const uint64_t zero =
      Add("sharing-z", DisclosurePayload(Disclosure("3", odd, "x", "y")));
  EXPECT_EQ(Positions(Trail("a")), std::vector<uint64_t>{a});
  EXPECT_EQ(Positions(Trail("ab")), std::vector<uint64_t>{ab});
  EXPECT_EQ(Positions(Trail(odd)), std::vector<uint64_t>{zero});
  EXPECT_EQ(Positions(OrgDisclosures("x", absl::InfinitePast(),
                                     absl::InfiniteFuture())),
            (std::vector<uint64_t>{a, ab, zero}));
}

TEST_F(AuditTrailTest, OrganisationIndexAnswersBothSidesInATimeRange) {
  const absl::Time t1 = clock_.Now();
  const uint64_t d1 =
      Add("sharing-s1",
          DisclosurePayload(Disclosure("d1", "s1", "school-a", "svc")));
  const absl::Time t2 = clock_.Now();
  const uint64_t d2 =
      Add("sharing-s2",
          DisclosurePayload(Disclosure("d2", "s2", "svc", "social-care")));
  const uint64_t other =
      Add("sharing-s3",
          DisclosurePayload(Disclosure("d3", "s3", "school-c", "school-d")));
  const absl::Time t4 = clock_.Now();
  const uint64_t d4 =
      Add("referral-r4",
          Submitted("r4", "s4", Disclosure("d4", "s4", "school-c", "svc")));
  // Not a disclosure: not indexed.
  Add("consent-c1", Granted("c1", "s1",
                            Terms("svc", kStart, kStart + absl::Hours(1),
                                  {v1::DATA_CATEGORY_IDENTITY})));

  const absl::Time all_from = absl::InfinitePast();
  const absl::Time all_to = absl::InfiniteFuture();
  EXPECT_EQ(Positions(OrgDisclosures("svc", all_from, all_to)),
            (std::vector<uint64_t>{d1, d2, d4}));
  // [from, to): from inclusive, to exclusive.
  EXPECT_EQ(Positions(OrgDisclosures("svc", t1, t4)),
            (std::vector<uint64_t>{d1, d2}));
  EXPECT_EQ(Positions(OrgDisclosures("svc", t2, t4)),
            (std::vector<uint64_t>{d2}));
  EXPECT_EQ(Positions(OrgDisclosures("svc", t2 + absl::Nanoseconds(1),
                                     t4 + absl::Nanoseconds(1))),
            (std::vector<uint64_t>{d4}));
  EXPECT_TRUE(OrgDisclosures("svc", t4, t4).empty());
  EXPECT_TRUE(OrgDisclosures("svc", t4, t1).empty());
  // Sender and recipient sides.
  EXPECT_EQ(Positions(OrgDisclosures("school-a", all_from, all_to)),
            std::vector<uint64_t>{d1});
  EXPECT_EQ(Positions(OrgDisclosures("social-care", all_from, all_to)),
            std::vector<uint64_t>{d2});
  EXPECT_EQ(Positions(OrgDisclosures("school-c", all_from, all_to)),
            (std::vector<uint64_t>{other, d4}));
  EXPECT_TRUE(OrgDisclosures("school-z", all_from, all_to).empty());
  EXPECT_TRUE(OrgDisclosures("sch", all_from, all_to).empty());
  const auto entries = OrgDisclosures("svc", all_from, all_to);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].disclosure().disclosure_id(), "d1");
  EXPECT_EQ(entries[1].subject_id(), "s2");
  EXPECT_EQ(entries[2].disclosure().disclosure_id(), "d4");
  EXPECT_EQ(entries[2].event().event_type(), "referral_submitted");
}

TEST_F(AuditTrailTest, OrganisationPagesResumeWithinOneInstant) {
  // Several disclosures recorded in the same instant, in one append.
  storage::AppendRequest request;
  request.stream = "sharing-s1";
  request.actor = TestActor();
  for (int i = 0; i < 5; ++i) {
    v1::ProposedEvent& e = request.events.emplace_back();
    e.set_event_id(NewUuid());
    *e.mutable_payload()->mutable_disclosure_recorded() =
        Disclosure("d" + std::to_string(i), "s1", "school-a", "svc");
  }
  auto result = log_->Append(std::move(request));
  ASSERT_TRUE(result.ok()) << result.status();
  clock_.Advance(absl::Minutes(1));
  const uint64_t later =
      Add("sharing-s1", DisclosurePayload(Disclosure("d5", "s1", "svc", "x")));
  const auto all = OrgDisclosures("svc", kStart, clock_.Now());
  ASSERT_EQ(all.size(), 6u);

  std::vector<uint64_t> paged;
  DisclosureCursor cursor;
  for (int pages = 0; pages < 10; ++pages) {
    std::vector<v1::AuditEntry> page;
    DisclosureCursor next;
    ASSERT_TRUE(ReadOrganisationDisclosures(*store_, generation_, "svc", kStart,
                                            clock_.Now(), cursor, 2, &page,
                                            &next)
                    .ok());
    EXPECT_LE(page.size(), 2u);
    for (const auto& e : page) paged.push_back(e.event().position());
    if (next.done()) break;
    cursor = next;
  }
  EXPECT_EQ(paged, Positions(all));
  EXPECT_EQ(paged.back(), later);
  EXPECT_EQ(paged.front(), result->first_position);
}

TEST_F(AuditTrailTest, PagingThroughATrailReturnsEverythingExactlyOnce) {
  AppendEverything();
  const std::vector<uint64_t> all = Positions(Trail("s1"));
  ASSERT_EQ(all, s1_);
  for (size_t limit : {1, 2, 3, 7}) {
    SCOPED_TRACE(limit);
    std::vector<uint64_t> paged;
    uint64_t after = 0;
    for (int pages = 0; pages < 100; ++pages) {
      std::vector<v1::AuditEntry> page;
      uint64_t next = 0;
      ASSERT_TRUE(ReadSubjectTrail(*store_, generation_, "s1", after, limit,
                                   &page, &next)
                      .ok());
      EXPECT_LE(page.size(), limit);
      for (const auto& e : page) paged.push_back(e.event().position());
      if (next == 0) break;
      EXPECT_EQ(next, paged.back());
      after = next;
    }
    EXPECT_EQ(paged, all);
  }
  // From the middle.
  std::vector<v1::AuditEntry> page;
  uint64_t next = 0;
  ASSERT_TRUE(
      ReadSubjectTrail(*store_, generation_, "s1", all[3], 1000, &page, &next)
          .ok());
  EXPECT_EQ(Positions(page), std::vector<uint64_t>(all.begin() + 4, all.end()));
  EXPECT_EQ(next, 0u);
  EXPECT_EQ(
      ReadSubjectTrail(*store_, generation_, "s1", 0, 0, &page, &next).code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(AuditTrailTest, ConsentInForceAsTheLogStoodThen) {
  const absl::Time valid_until = kStart + absl::Hours(24 * 30);
  clock_.Set(kStart + absl::Hours(1));
  const absl::Time granted_at = clock_.Now();
  Add("consent-c1", Granted("c1", "s1",
                            Terms("svc", kStart, valid_until,
                                  {v1::DATA_CATEGORY_IDENTITY,
                                   v1::DATA_CATEGORY_CARING_SITUATION})));
  // Another subject's consent never counts.
  Add("consent-cx", Granted("cx", "s2",
                            Terms("svc", kStart, valid_until,
                                  {v1::DATA_CATEGORY_WELLBEING})));
  clock_.Set(kStart + absl::Hours(3));
  const absl::Time varied_at = clock_.Now();
  Add("consent-c1", Varied("c1", Terms("svc", kStart, valid_until,
                                       {v1::DATA_CATEGORY_IDENTITY,
                                        v1::DATA_CATEGORY_WELLBEING})));
  clock_.Set(kStart + absl::Hours(5));
  const absl::Time withdrawal_recorded = clock_.Now();
  const absl::Time effective = kStart + absl::Hours(7);
  Add("consent-c1", Withdrawn("c1", effective));

  auto expect_covered = [&](absl::StatusOr<v1::ConsentInForceResponse> r,
                            uint64_t version) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->covered()) << r->DebugString();
    EXPECT_EQ(r->consent_id(), "c1");
    EXPECT_EQ(r->consent_version(), version);
    EXPECT_TRUE(r->reasons().empty());
  };
  auto expect_refused = [&](absl::StatusOr<v1::ConsentInForceResponse> r,
                            std::vector<std::string> needles) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(r->covered());
    EXPECT_TRUE(r->consent_id().empty());
    ASSERT_EQ(static_cast<size_t>(r->reasons_size()), needles.size())
        << r->DebugString();
    for (size_t i = 0; i < needles.size(); ++i) {
      EXPECT_NE(r->reasons(i).find(needles[i]), std::string::npos)
          << r->reasons(i) << " lacks " << needles[i];
    }
  };

  // Before the grant was recorded (though inside its validity).
  expect_refused(InForce("s1", "svc", granted_at - absl::Seconds(1)),
                 {"no consent recorded"});
  // While valid.
  expect_covered(InForce("s1", "svc", granted_at), 1);
  expect_covered(InForce("s1", "svc", granted_at + absl::Minutes(30),
                         v1::DATA_CATEGORY_CARING_SITUATION),
                 1);
  // Wrong recipient, purpose, category.
  expect_refused(InForce("s1", "other", granted_at + absl::Minutes(30)),
                 {"recipient other is not named"});
  expect_refused(InForce("s1", "svc", granted_at + absl::Minutes(30),
                         v1::DATA_CATEGORY_IDENTITY, v1::PURPOSE_SAFEGUARDING),
                 {"purpose PURPOSE_SAFEGUARDING"});
  expect_refused(InForce("s1", "svc", granted_at + absl::Minutes(30),
                         v1::DATA_CATEGORY_WELLBEING),
                 {"DATA_CATEGORY_WELLBEING"});
  // After the variation: wellbeing covered, caring situation no longer.
  expect_covered(InForce("s1", "svc", varied_at, v1::DATA_CATEGORY_WELLBEING),
                 2);
  expect_refused(
      InForce("s1", "svc", varied_at + absl::Minutes(1),
              v1::DATA_CATEGORY_CARING_SITUATION),
      {"c1 (version 2) does not cover this disclosure: data categories "
       "DATA_CATEGORY_CARING_SITUATION"});
  // Withdrawal is prospective: recorded, but not yet effective.
  expect_covered(InForce("s1", "svc", withdrawal_recorded), 3);
  expect_covered(InForce("s1", "svc", effective - absl::Nanoseconds(1)), 3);
  // From effective_at on, not covered.
  expect_refused(InForce("s1", "svc", effective), {"withdrawn"});
  expect_refused(InForce("s1", "svc", effective + absl::Hours(24)),
                 {"withdrawn"});
  // Beyond valid_until (before the withdrawal was recorded it had not
  // happened, and the consent had not yet expired).
  expect_refused(InForce("s1", "svc", valid_until + absl::Hours(1)),
                 {"withdrawn"});
  // A subject with none.
  expect_refused(InForce("s9", "svc", withdrawal_recorded),
                 {"no consent recorded"});

  // A second consent, refused: one reason per consent, in log order.
  clock_.Set(kStart + absl::Hours(6));
  Add("consent-c2", Refused("c2", "s1",
                            Terms("svc", kStart, valid_until,
                                  {v1::DATA_CATEGORY_ATTAINMENT})));
  expect_refused(InForce("s1", "svc", effective + absl::Hours(1),
                         v1::DATA_CATEGORY_ATTAINMENT),
                 {"c1 (version 3)",
                  "c2 (version 1) does not cover this "
                  "disclosure: consent was refused"});
  // Still covered before the withdrawal took effect, by c1.
  expect_covered(InForce("s1", "svc", effective - absl::Minutes(1)), 3);

  v1::ConsentInForceRequest bad;
  bad.set_subject_id("s1");
  EXPECT_EQ(ConsentInForce(*store_, generation_, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(AuditTrailTest, RebuildGivesByteIdenticalState) {
  AppendEverything();
  // A few same-instant events in one append, too.
  storage::AppendRequest request;
  request.stream = "sharing-s2";
  request.actor = TestActor();
  for (int i = 0; i < 3; ++i) {
    v1::ProposedEvent& e = request.events.emplace_back();
    e.set_event_id(NewUuid());
    *e.mutable_payload()->mutable_disclosure_recorded() =
        Disclosure("b" + std::to_string(i), "s2", "svc", "school-a");
  }
  auto appended = log_->Append(std::move(request));
  ASSERT_TRUE(appended.ok()) << appended.status();
  const uint64_t head = log_->GetHead().position;
  const uint32_t live = Await(head);
  ASSERT_NE(live, 0u);

  // From scratch, in small batches, in the next generation.
  AuditTrailProjection fresh;
  RunnerOptions options;
  options.batch_events = 3;
  ProjectionRunner runner(log_.get(), store_.get(), &fresh, live + 1, options);
  ASSERT_TRUE(runner.Start().ok());
  ASSERT_TRUE(runner.WaitFor(head, absl::Now() + kFailureTimeout).ok());
  runner.Stop();

  const auto live_state = ScanAll(live);
  const auto rebuilt_state = ScanAll(live + 1);
  EXPECT_GT(live_state.size(), s1_.size() + s2_.size());
  EXPECT_TRUE(live_state == rebuilt_state);
  EXPECT_EQ(live_state.size(), rebuilt_state.size());
}

}  // namespace
}  // namespace ycr::projections
