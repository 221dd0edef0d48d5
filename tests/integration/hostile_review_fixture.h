#pragma once

// The fixture of the hostile reviews of "who sees what"
// (hostile_review_2_test.cc, hostile_review_3_test.cc): DomainFlowsTest
// with the school, the service and a second school in one local
// authority's area, and subject s-1 referred to the service; helpers to step
// a referral, move it across schools, read the trail, erase, and read every
// file and every part of an answer.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/error_details.h"
#include "tests/integration/domain_flows_fixture.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::testing {

inline const std::string kLa = "la-a";
inline const std::string kNewSchool = "school-200002";

class HostileReview2Test : public DomainFlowsTest {
 protected:
  using DomainFlowsTest::DomainFlowsTest;

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PutInArea(kSchool, kLa));
    ASSERT_NO_FATAL_FAILURE(PutInArea(kService, kLa));
    ASSERT_NO_FATAL_FAILURE(PutInArea(kNewSchool, kLa));
    ASSERT_NO_FATAL_FAILURE(AddSubject("s-1"));
    ASSERT_NO_FATAL_FAILURE(ReferToService("s-1"));
  }

  grpc::Status Step(const std::string& referral,
                    v1::ReferralTransitionRequest step, const std::string& org,
                    v1::CommandResponse* out = nullptr) {
    step.set_referral_id(referral);
    return Refer(step, org, out);
  }

  v1::InterventionCommand Session(const std::string& id, absl::Time at) {
    v1::InterventionCommand c;
    c.set_intervention_id(id);
    *c.mutable_record_session()->mutable_delivered_at() = At(at);
    c.mutable_record_session()->set_duration_minutes(45);
    c.mutable_record_session()->set_attended(true);
    return c;
  }

  // The service receives and accepts s-1's referral.
  void ReceiveAndAccept() {
    v1::ReferralTransitionRequest step;
    step.mutable_receive();
    ASSERT_TRUE(Ok(Step("r-ref-s-1", step, kService)));
    step.Clear();
    step.mutable_accept();
    ASSERT_TRUE(Ok(Step("r-ref-s-1", step, kService)));
  }

  // Referral r-ref-s-1 moves from school `from` to school `to`, under a
  // consent `consent_id` that the record's holder (kSchool) gives naming
  // `to`.
  grpc::Status MoveReferral(const std::string& from, const std::string& to,
                            const std::string& consent_id,
                            v1::CommandResponse* out = nullptr) {
    const grpc::Status granted =
        Grant(Consent(consent_id, "s-1", to, {v1::PURPOSE_REFERRAL},
                      {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
              kSchool);
    if (!granted.ok()) return granted;
    v1::ReferralTransitionRequest move;
    move.mutable_transfer()->set_to_school(to);
    *move.mutable_transfer()->mutable_disclosure() =
        Disclosure("s-1", from, to, v1::PURPOSE_REFERRAL,
                   {v1::DATA_CATEGORY_IDENTITY}, consent_id);
    return Step("r-ref-s-1", move, from, out);
  }

  // The service receives and accepts s-1's referral, plans intervention
  // i-1 for it and delivers one session; then the school moves the
  // referral to kNewSchool (under a consent naming it) and, a day later,
  // the service delivers a second session. Returns the transfer's
  // position; `first_session_at` is when the first session was delivered.
  void SessionsAcrossATransfer(uint64_t* transfer_position,
                               absl::Time* first_session_at) {
    ASSERT_NO_FATAL_FAILURE(ReceiveAndAccept());
    v1::InterventionCommand plan =
        Plan("i-1", "s-1", v1::INTERVENTION_TYPE_ONE_TO_ONE, clock_.Now());
    plan.mutable_plan()->set_referral_id("r-ref-s-1");
    ASSERT_TRUE(Ok(Intervene(plan, kService)));
    clock_.Advance(kDay);
    *first_session_at = clock_.Now();
    ASSERT_TRUE(Ok(Intervene(Session("i-1", clock_.Now()), kService)));

    v1::CommandResponse moved;
    ASSERT_TRUE(Ok(MoveReferral(kSchool, kNewSchool, "c-move", &moved)));
    *transfer_position = moved.position();

    clock_.Advance(kDay);
    ASSERT_TRUE(Ok(Intervene(Session("i-1", clock_.Now()), kService)));
  }

  grpc::Status EraseAs(const std::string& org, const std::string& subject,
                       const std::string& request_ref,
                       v1::EraseSubjectResponse* out) {
    v1::EraseSubjectRequest r;
    r.set_request_id(NewUuid());
    r.set_subject_id(subject);
    r.set_request_ref(request_ref);
    grpc::ClientContext context;
    AsCaller(&context, org);
    return subjects_->Erase(&context, r, out);
  }

  // The service records consent `id` about s-1 naming `recipient` (its
  // wellbeing data, for `purpose`), valid from an hour ago.
  grpc::Status ServiceGrants(
      const std::string& id, const std::string& recipient,
      v1::Purpose purpose = v1::PURPOSE_IMPACT_REPORTING) {
    return Grant(Consent(id, "s-1", recipient, {purpose},
                         {v1::DATA_CATEGORY_WELLBEING}, clock_.Now()),
                 kService);
  }

  // The service withdraws consent `id`, saying `reason`, from
  // `effective_at` (unset: now).
  grpc::Status ServiceWithdraws(const std::string& id,
                                const std::string& reason,
                                std::optional<absl::Time> effective_at = {}) {
    v1::WithdrawConsentRequest withdraw;
    withdraw.set_request_id(NewUuid());
    withdraw.mutable_withdrawal()->set_consent_id(id);
    if (effective_at.has_value()) {
      *withdraw.mutable_withdrawal()->mutable_effective_at() =
          At(*effective_at);
    }
    withdraw.mutable_personal()->set_reason(reason);
    grpc::ClientContext context;
    AsCaller(&context, kService);
    v1::CommandResponse done;
    return consents_->Withdraw(&context, withdraw, &done);
  }

  // Calls read `method` as `org`.
  template <typename Stub, typename Request, typename Response>
  static grpc::Status ReadAs(Stub* stub,
                             grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                          const Request&,
                                                          Response*),
                             const Request& request, const std::string& org,
                             Response* out) {
    grpc::ClientContext context;
    AsCaller(&context, org);
    return (stub->*method)(&context, request, out);
  }

  grpc::Status GetConsentAs(const std::string& org, const std::string& id,
                            v1::Consent* out) {
    v1::GetConsentRequest request;
    request.set_consent_id(id);
    return ReadAs(consents_.get(), &v1::Consents::Stub::Get, request, org, out);
  }

  // Audit.ConsentInForce as `org`: sharing s-1's wellbeing with `recipient`
  // for impact reporting, now, is not covered, and the answer does not
  // name consent `hidden` (one `org` may not read; empty: no such check).
  void ExpectNotCoveredFor(const std::string& org, const std::string& recipient,
                           const std::string& hidden) {
    v1::ConsentInForceResponse in_force;
    auto audit = v1::Audit::NewStub(channel_);
    ASSERT_TRUE(
        Ok(ReadAs(audit.get(), &v1::Audit::Stub::ConsentInForce,
                  InForce("s-1", recipient, v1::PURPOSE_IMPACT_REPORTING,
                          v1::DATA_CATEGORY_WELLBEING, clock_.Now(), Head()),
                  org, &in_force)));
    EXPECT_FALSE(in_force.covered())
        << org << ": " << in_force.ShortDebugString();
    if (hidden.empty()) return;
    EXPECT_FALSE(absl::StrContains(in_force.DebugString(), hidden))
        << org << ": " << in_force.ShortDebugString();
  }

  // Code, message, details and trailing metadata of one answer, as text.
  // Calls `method` as `org`, expects PERMISSION_DENIED with an empty
  // answer, and returns everything the answer said (Everything).
  template <typename Stub, typename Request, typename Response>
  static std::string Denied(Stub* stub,
                            grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                         const Request&,
                                                         Response*),
                            const Request& request, const std::string& org) {
    Response out;
    grpc::ClientContext context;
    AsCaller(&context, org);
    const grpc::Status s = (stub->*method)(&context, request, &out);
    EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED) << org;
    EXPECT_EQ(out.ByteSizeLong(), 0u) << out.ShortDebugString();
    return Everything(s, context);
  }

  static std::string Everything(const grpc::Status& s,
                                const grpc::ClientContext& context) {
    int code = 0;
    std::string message;
    ErrorDetails details;
    std::string described = "(no details)";
    if (ParseRpcStatus(s.error_details(), &code, &message, &details)) {
      described = DescribeDetails(details);
    }
    std::string out =
        absl::StrCat(s.error_code(), ": ", s.error_message(), "\n", described);
    for (const auto& [k, v] : context.GetServerTrailingMetadata()) {
      const std::string key(k.data(), k.size());
      if (!absl::StartsWith(key, "ycr-")) continue;
      absl::StrAppend(&out, "\n", key, "=", std::string(v.data(), v.size()));
    }
    return out;
  }
};

}  // namespace ycr::testing
