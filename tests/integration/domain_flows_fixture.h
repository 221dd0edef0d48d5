#pragma once

// Fixture of the domain-flow integration tests (domain_flows_test.cc): a
// real server on 127.0.0.1:0 over a real RocksDB store in a temporary
// directory, with time injected through a ManualClock (both the domain
// rules' clock and the log's recorded_at clock), stubs of every domain
// service, and builders of valid requests.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/test_server.h"
#include "ycr/v1/agreement_service.grpc.pb.h"
#include "ycr/v1/area_service.grpc.pb.h"
#include "ycr/v1/consent_service.grpc.pb.h"
#include "ycr/v1/correspondence_service.grpc.pb.h"
#include "ycr/v1/intervention_service.grpc.pb.h"
#include "ycr/v1/queries_service.grpc.pb.h"
#include "ycr/v1/referral_service.grpc.pb.h"
#include "ycr/v1/safeguarding_service.grpc.pb.h"
#include "ycr/v1/sharing_service.grpc.pb.h"
#include "ycr/v1/subject_service.grpc.pb.h"

namespace ycr::testing {

using grpc::StatusCode;

inline const std::string kSchool = "school-100001";
inline const std::string kService = "service-7";
inline const std::string kOtherSchool = "school-999";
inline const std::string kSocialCare = "la-childrens-social-care";
// 2026-05-28T20:26:40Z.
inline const absl::Time kStart = absl::FromUnixSeconds(1'780'000'000);
inline const absl::Duration kDay = absl::Hours(24);

inline google::protobuf::Timestamp At(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

inline absl::Time TimeOf(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// The status has `code` and its message contains `fragment`.
inline ::testing::AssertionResult Is(const grpc::Status& status,
                                     StatusCode code,
                                     const std::string& fragment = "") {
  if (status.error_code() == code &&
      status.error_message().find(fragment) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "got code " << status.error_code() << " \""
         << status.error_message() << "\"; want code " << code << " with \""
         << fragment << "\"";
}

inline ::testing::AssertionResult Ok(const grpc::Status& status) {
  return Is(status, StatusCode::OK);
}

inline services::ServerOptions ClockedOptions(ManualClock* clock) {
  services::ServerOptions options;
  // "now" for the domain rules and, through Server::Start, the log's
  // recorded_at (e.g. when an agreement came into force).
  options.clock = clock;
  return options;
}

inline v1::SubjectRecord Record(const std::string& subject_id,
                                const std::string& given_name = "Given") {
  v1::SubjectRecord r;
  r.set_subject_id(subject_id);
  r.set_given_name(given_name);
  r.set_family_name("Family");
  r.set_date_of_birth("2012-03-04");
  auto* parent = r.add_related();
  parent->set_person_ref("parent-1");
  parent->set_name("Parent Person");
  parent->set_relationship("mother");
  parent->set_parental_responsibility(true);
  parent->set_cared_for(true);
  return r;
}

inline v1::Party Party(const std::string& organisation) {
  v1::Party p;
  p.set_organisation(organisation);
  p.set_name("Name of " + organisation);
  p.set_address("1 High Street");
  p.add_responsibilities("identify and support young carers");
  p.mutable_lead_contact()->set_name("Lead Contact");
  return p;
}

inline v1::AgreementTerms Terms(uint32_t response_time_days = 0,
                                bool acknowledgement_allowed = false,
                                uint32_t max_promised_days = 0,
                                uint32_t closing_period_days = 30) {
  v1::AgreementTerms t;
  *t.mutable_school() = Party(kSchool);
  *t.mutable_service() = Party(kService);
  t.set_response_time_days(response_time_days);
  t.set_acknowledgement_allowed(acknowledgement_allowed);
  t.set_max_promised_days(max_promised_days);
  t.set_review_cadence_months(12);
  t.set_closing_period_days(closing_period_days);
  return t;
}

inline v1::AgreementCommand Draft(const std::string& id,
                                  const v1::AgreementTerms& terms) {
  v1::AgreementCommand c;
  c.set_agreement_id(id);
  c.mutable_draft()->set_agreement_id(id);
  *c.mutable_draft()->mutable_terms() = terms;
  return c;
}

inline v1::AgreementCommand Sign(const std::string& id) {
  v1::AgreementCommand c;
  c.set_agreement_id(id);
  c.mutable_sign();
  return c;
}

inline v1::AgreementCommand Amend(const std::string& id,
                                  const v1::AgreementTerms& terms) {
  v1::AgreementCommand c;
  c.set_agreement_id(id);
  *c.mutable_amend()->mutable_terms() = terms;
  return c;
}

inline v1::AgreementCommand GiveNotice(
    const std::string& id,
    v1::NoticeReason reason = v1::NOTICE_REASON_FUNDING_ENDED) {
  v1::AgreementCommand c;
  c.set_agreement_id(id);
  c.mutable_give_notice()->set_notice_reason(reason);
  return c;
}

inline v1::CorrespondenceCommand Receive(const std::string& id,
                                         const std::string& agreement_id,
                                         const std::string& from,
                                         absl::Time received_at) {
  v1::CorrespondenceCommand c;
  c.set_correspondence_id(id);
  auto* r = c.mutable_receive();
  r->set_correspondence_id(id);
  r->set_agreement_id(agreement_id);
  r->set_channel(v1::CHANNEL_EMAIL);
  r->set_from(from);
  r->set_topic_code(v1::CORRESPONDENCE_TOPIC_AWARENESS);
  *r->mutable_received_at() = At(received_at);
  return c;
}

inline v1::CorrespondenceCommand Acknowledge(const std::string& id,
                                             absl::Time promised_by) {
  v1::CorrespondenceCommand c;
  c.set_correspondence_id(id);
  *c.mutable_acknowledge()->mutable_promised_by() = At(promised_by);
  return c;
}

inline v1::CorrespondenceCommand Answer(const std::string& id) {
  v1::CorrespondenceCommand c;
  c.set_correspondence_id(id);
  c.mutable_answer();
  return c;
}

inline v1::GrantConsentRequest Consent(const std::string& consent_id,
                                       const std::string& subject_id,
                                       const std::string& recipient,
                                       std::vector<v1::Purpose> purposes,
                                       std::vector<v1::DataCategory> categories,
                                       absl::Time now) {
  v1::GrantConsentRequest request;
  auto* c = request.mutable_consent();
  c->set_consent_id(consent_id);
  c->set_subject_id(subject_id);
  c->mutable_given_by()->mutable_parent()->set_person_ref("parent-1");
  auto* t = c->mutable_terms();
  for (v1::Purpose p : purposes) t->add_purposes(p);
  t->add_recipients()->set_organisation(recipient);
  for (v1::DataCategory d : categories) t->add_categories(d);
  *t->mutable_valid_from() = At(now - absl::Hours(1));
  *t->mutable_valid_until() = At(now + 365 * kDay);
  request.mutable_personal()->set_verification("signed form");
  return request;
}

// Audit.ConsentInForce: would sharing `category` of `subject_id` with
// `recipient` for `purpose` have been covered at `at`?
inline v1::ConsentInForceRequest InForce(const std::string& subject_id,
                                         const std::string& recipient,
                                         v1::Purpose purpose,
                                         v1::DataCategory category,
                                         absl::Time at, uint64_t min_position) {
  v1::ConsentInForceRequest request;
  request.set_subject_id(subject_id);
  request.mutable_recipient()->set_organisation(recipient);
  request.set_purpose(purpose);
  request.set_category(category);
  *request.mutable_at() = At(at);
  request.set_min_position(min_position);
  return request;
}

inline v1::DisclosureRecorded Disclosure(
    const std::string& subject_id, const std::string& from,
    const std::string& to, v1::Purpose purpose,
    std::vector<v1::DataCategory> categories, const std::string& consent_id) {
  v1::DisclosureRecorded d;
  d.set_disclosure_id(NewUuid());
  d.set_subject_id(subject_id);
  d.mutable_from()->set_organisation(from);
  d.mutable_to()->set_organisation(to);
  for (v1::DataCategory c : categories) d.add_categories(c);
  d.set_purpose(purpose);
  if (!consent_id.empty()) d.mutable_consent()->set_consent_id(consent_id);
  return d;
}

inline v1::SafeguardingBasis Basis() {
  v1::SafeguardingBasis b;
  b.set_lawful_basis("dpa2018-sch1-para18");
  b.set_decision_maker("dsl-1");
  b.set_family_told(false);
  return b;
}

// What a safeguarding basis says about the child, in the personal part.
inline v1::PersonalData BasisText() {
  v1::PersonalData p;
  p.set_risk_statement("risk of significant harm");
  p.set_not_told_reason("telling the family would increase the risk");
  return p;
}

inline v1::InterventionCommand Plan(const std::string& id,
                                    const std::string& subject_id,
                                    v1::InterventionType type,
                                    absl::Time starts_at) {
  v1::InterventionCommand c;
  c.set_intervention_id(id);
  auto* p = c.mutable_plan();
  p->set_intervention_id(id);
  p->set_school(kSchool);
  p->set_subject_id(subject_id);
  p->set_type(type);
  *p->mutable_starts_at() = At(starts_at);
  // What support for one young carer is for is about the child: sealed.
  if (!subject_id.empty()) c.mutable_personal()->set_notes("weekly support");
  p->set_worker("worker-3");
  return c;
}

inline v1::SafeguardingCommand Raise(const std::string& concern_id,
                                     const std::string& subject_id,
                                     const std::string& facts) {
  v1::SafeguardingCommand c;
  c.set_concern_id(concern_id);
  c.mutable_raise()->set_concern_id(concern_id);
  c.mutable_raise()->set_subject_id(subject_id);
  c.mutable_personal()->set_facts(facts);
  return c;
}

inline v1::SafeguardingCommand NotifyDsl(const std::string& concern_id) {
  v1::SafeguardingCommand c;
  c.set_concern_id(concern_id);
  c.mutable_notify_dsl()->set_dsl("dsl-1");
  return c;
}

inline v1::SafeguardingCommand ReferToSocialCare(
    const std::string& concern_id, const std::string& subject_id) {
  v1::SafeguardingCommand c;
  c.set_concern_id(concern_id);
  auto* d = c.mutable_refer_to_social_care()->mutable_disclosure();
  *d = Disclosure(
      subject_id, kSchool, kSocialCare, v1::PURPOSE_SAFEGUARDING,
      {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_CARING_SITUATION}, "");
  *d->mutable_safeguarding() = Basis();
  *c.mutable_personal() = BasisText();
  return c;
}

inline v1::ReferralTransitionRequest Submit(const std::string& referral_id,
                                            const std::string& subject_id,
                                            const std::string& consent_id) {
  v1::ReferralTransitionRequest r;
  r.set_referral_id(referral_id);
  auto* s = r.mutable_submit();
  s->set_referral_id(referral_id);
  s->set_subject_id(subject_id);
  s->set_school(kSchool);
  s->set_service(kService);
  *s->mutable_disclosure() =
      Disclosure(subject_id, kSchool, kService, v1::PURPOSE_REFERRAL,
                 {v1::DATA_CATEGORY_IDENTITY}, consent_id);
  return r;
}

class DomainFlowsTest : public ::testing::Test {
 protected:
  // Changes the server's options (ClockedOptions(clock)) before it starts.
  using EditOptions = void (*)(services::ServerOptions*, ManualClock* clock);

  explicit DomainFlowsTest(EditOptions edit = nullptr)
      : server_(dir_.path(), Options(edit)) {
    channel_ = grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_.server().port()),
        grpc::InsecureChannelCredentials());
    subjects_ = v1::Subjects::NewStub(channel_);
    consents_ = v1::Consents::NewStub(channel_);
    sharing_ = v1::Sharing::NewStub(channel_);
    referrals_ = v1::Referrals::NewStub(channel_);
    interventions_ = v1::Interventions::NewStub(channel_);
    agreements_ = v1::Agreements::NewStub(channel_);
    correspondence_ = v1::Correspondence::NewStub(channel_);
    safeguarding_ = v1::Safeguarding::NewStub(channel_);
  }

  // Channels close before the server shuts down.
  ~DomainFlowsTest() override {
    subjects_.reset();
    consents_.reset();
    sharing_.reset();
    referrals_.reset();
    interventions_.reset();
    agreements_.reset();
    correspondence_.reset();
    safeguarding_.reset();
    channel_.reset();
  }

  // Sends `request` (a fresh request id unless it has one) as `org`.
  template <typename Stub, typename Request>
  static grpc::Status Send(Stub* stub,
                           grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                        const Request&,
                                                        v1::CommandResponse*),
                           Request request, const std::string& org,
                           v1::CommandResponse* out) {
    if (request.request_id().empty()) request.set_request_id(NewUuid());
    v1::CommandResponse ignored;
    grpc::ClientContext context;
    AsCaller(&context, org);
    return (stub->*method)(&context, request, out != nullptr ? out : &ignored);
  }

  template <typename Stub, typename Request, typename Response>
  static grpc::Status Query(Stub* stub,
                            grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                         const Request&,
                                                         Response*),
                            const Request& request, Response* out) {
    grpc::ClientContext context;
    AsCaller(&context);
    return (stub->*method)(&context, request, out);
  }

  grpc::Status Put(v1::PutSubjectRecordRequest r, const std::string& org,
                   v1::CommandResponse* out = nullptr) {
    return Send(subjects_.get(), &v1::Subjects::Stub::PutRecord, std::move(r),
                org, out);
  }
  grpc::Status Identify(v1::IdentifyYoungCarerRequest r, const std::string& org,
                        v1::CommandResponse* out = nullptr) {
    return Send(subjects_.get(), &v1::Subjects::Stub::IdentifyYoungCarer,
                std::move(r), org, out);
  }
  grpc::Status Grant(v1::GrantConsentRequest r, const std::string& org,
                     v1::CommandResponse* out = nullptr) {
    return Send(consents_.get(), &v1::Consents::Stub::Grant, std::move(r), org,
                out);
  }
  grpc::Status Disclose(v1::RecordDisclosureRequest r, const std::string& org,
                        v1::CommandResponse* out = nullptr) {
    return Send(sharing_.get(), &v1::Sharing::Stub::RecordDisclosure,
                std::move(r), org, out);
  }
  grpc::Status DeclineToShare(v1::RecordDecisionNotToShareRequest r,
                              const std::string& org,
                              v1::CommandResponse* out = nullptr) {
    return Send(sharing_.get(), &v1::Sharing::Stub::RecordDecisionNotToShare,
                std::move(r), org, out);
  }
  grpc::Status Refer(v1::ReferralTransitionRequest r, const std::string& org,
                     v1::CommandResponse* out = nullptr) {
    return Send(referrals_.get(), &v1::Referrals::Stub::Transition,
                std::move(r), org, out);
  }
  grpc::Status Intervene(v1::InterventionCommand r, const std::string& org,
                         v1::CommandResponse* out = nullptr) {
    return Send(interventions_.get(), &v1::Interventions::Stub::Record,
                std::move(r), org, out);
  }
  grpc::Status Agree(v1::AgreementCommand r, const std::string& org,
                     v1::CommandResponse* out = nullptr) {
    return Send(agreements_.get(), &v1::Agreements::Stub::Record, std::move(r),
                org, out);
  }
  grpc::Status Correspond(v1::CorrespondenceCommand r, const std::string& org,
                          v1::CommandResponse* out = nullptr) {
    return Send(correspondence_.get(), &v1::Correspondence::Stub::Record,
                std::move(r), org, out);
  }
  grpc::Status Safeguard(v1::SafeguardingCommand r, const std::string& org,
                         v1::CommandResponse* out = nullptr) {
    return Send(safeguarding_.get(), &v1::Safeguarding::Stub::Record,
                std::move(r), org, out);
  }

  grpc::Status GetRecord(const std::string& subject_id,
                         v1::SubjectRecord* out) {
    v1::GetSubjectRecordRequest r;
    r.set_subject_id(subject_id);
    return Query(subjects_.get(), &v1::Subjects::Stub::GetRecord, r, out);
  }
  v1::Agreement GetAgreement(const std::string& id) {
    v1::GetAgreementRequest r;
    r.set_agreement_id(id);
    v1::Agreement out;
    EXPECT_TRUE(
        Ok(Query(agreements_.get(), &v1::Agreements::Stub::Get, r, &out)));
    return out;
  }
  v1::CorrespondenceItem GetCorrespondence(const std::string& id) {
    v1::GetCorrespondenceRequest r;
    r.set_correspondence_id(id);
    v1::CorrespondenceItem out;
    EXPECT_TRUE(Ok(
        Query(correspondence_.get(), &v1::Correspondence::Stub::Get, r, &out)));
    return out;
  }
  // The intervention as `org` (by default the school) reads it.
  v1::Intervention GetIntervention(const std::string& id,
                                   const std::string& org = "school-100001") {
    v1::GetInterventionRequest r;
    r.set_intervention_id(id);
    v1::Intervention out;
    grpc::ClientContext context;
    AsCaller(&context, org);
    EXPECT_TRUE(Ok(interventions_->Get(&context, r, &out)));
    return out;
  }
  v1::Concern GetConcern(const std::string& id) {
    v1::GetConcernRequest r;
    r.set_concern_id(id);
    v1::Concern out;
    EXPECT_TRUE(
        Ok(Query(safeguarding_.get(), &v1::Safeguarding::Stub::Get, r, &out)));
    return out;
  }

  // Every file under the data directory, as bytes.
  std::string AllFiles() {
    std::string all;
    for (const auto& f :
         std::filesystem::recursive_directory_iterator(dir_.path())) {
      if (!f.is_regular_file()) continue;
      std::ifstream in(f.path(), std::ios::binary);
      all.append(std::istreambuf_iterator<char>(in), {});
    }
    return all;
  }

  // Audit.Trail of `subject`, read whole as `org`.
  grpc::Status TrailAs(const std::string& org, const std::string& subject,
                       std::vector<v1::AuditEntry>* out) {
    v1::AuditTrailRequest request;
    request.set_subject_id(subject);
    request.set_min_position(Head());
    grpc::ClientContext context;
    AsCaller(&context, org);
    auto reader = v1::Audit::NewStub(channel_)->Trail(&context, request);
    v1::AuditEntry entry;
    while (reader->Read(&entry)) out->push_back(entry);
    return reader->Finish();
  }

  // Audit.SubjectAccessPack of `subject`, compiled as `org`.
  grpc::Status PackAs(const std::string& org, v1::SubjectAccessPack* pack,
                      const std::string& subject = "s-1") {
    v1::SubjectAccessPackRequest request;
    request.set_subject_id(subject);
    request.set_min_position(Head());
    grpc::ClientContext context;
    AsCaller(&context, org);
    return v1::Audit::NewStub(channel_)->SubjectAccessPack(&context, request,
                                                           pack);
  }

  // Audit.OrganisationDisclosures of `of_organisation`, read whole as `org`.
  grpc::Status DisclosuresAs(const std::string& org,
                             const std::string& of_organisation,
                             std::vector<v1::AuditEntry>* out) {
    v1::OrganisationDisclosuresRequest request;
    request.set_organisation(of_organisation);
    request.set_min_position(Head());
    grpc::ClientContext context;
    AsCaller(&context, org);
    auto reader = v1::Audit::NewStub(channel_)->OrganisationDisclosures(
        &context, request);
    v1::AuditEntry entry;
    while (reader->Read(&entry)) out->push_back(entry);
    return reader->Finish();
  }

  // The events of `stream`, as the EventStore serves them (empty when none).
  std::vector<v1::RecordedEvent> Events(const std::string& stream) {
    v1::ReadStreamRequest read;
    read.set_stream(stream);
    v1::ReadStreamResponse response;
    grpc::ClientContext context;
    AsCaller(&context, "auditor-1");  // The raw log is for auditors.
    grpc::Status status = server_.stub().ReadStream(&context, read, &response);
    if (!status.ok()) return {};
    return {response.events().begin(), response.events().end()};
  }

  uint64_t Head() {
    grpc::ClientContext context;
    AsCaller(&context);
    v1::HeadResponse head;
    EXPECT_TRUE(Ok(server_.stub().Head(&context, {}, &head)));
    return head.position();
  }

  void AddSubject(const std::string& subject_id) {
    v1::PutSubjectRecordRequest put;
    *put.mutable_record() = Record(subject_id);
    ASSERT_TRUE(Ok(Put(put, kSchool)));
  }

  // The operator ("ops") places `organisation` in `local_authority`'s area.
  void PutInArea(const std::string& organisation,
                 const std::string& local_authority) {
    v1::Areas::Stub areas(channel_);
    v1::AssignAreaRequest assign;
    assign.mutable_assignment()->set_organisation(organisation);
    assign.mutable_assignment()->set_local_authority(local_authority);
    ASSERT_TRUE(
        Ok(Send(&areas, &v1::Areas::Stub::Assign, assign, "ops", nullptr)));
  }

  // The school refers `subject_id` to the service, with a consent for it:
  // the service then has a part in the young carer.
  void ReferToService(const std::string& subject_id) {
    const std::string consent_id = "c-ref-" + subject_id;
    ASSERT_TRUE(Ok(
        Grant(Consent(consent_id, subject_id, kService, {v1::PURPOSE_REFERRAL},
                      {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
              kSchool)));
    ASSERT_TRUE(Ok(
        Refer(Submit("r-ref-" + subject_id, subject_id, consent_id), kSchool)));
  }

  // Drafted by the school, signed by both: in force from now.
  void MakeInForce(const std::string& id, const v1::AgreementTerms& terms) {
    ASSERT_TRUE(Ok(Agree(Draft(id, terms), kSchool)));
    ASSERT_TRUE(Ok(Agree(Sign(id), kSchool)));
    ASSERT_TRUE(Ok(Agree(Sign(id), kService)));
    ASSERT_EQ(GetAgreement(id).state(), v1::Agreement::IN_FORCE);
  }

  services::ServerOptions Options(EditOptions edit) {
    services::ServerOptions options = ClockedOptions(&clock_);
    if (edit != nullptr) edit(&options, &clock_);
    return options;
  }

  ManualClock clock_{kStart};
  TempDir dir_;
  TestServer server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Subjects::Stub> subjects_;
  std::unique_ptr<v1::Consents::Stub> consents_;
  std::unique_ptr<v1::Sharing::Stub> sharing_;
  std::unique_ptr<v1::Referrals::Stub> referrals_;
  std::unique_ptr<v1::Interventions::Stub> interventions_;
  std::unique_ptr<v1::Agreements::Stub> agreements_;
  std::unique_ptr<v1::Correspondence::Stub> correspondence_;
  std::unique_ptr<v1::Safeguarding::Stub> safeguarding_;
};

}  // namespace ycr::testing
