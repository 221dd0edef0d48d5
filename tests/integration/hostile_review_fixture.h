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

  // The service receives and accepts s-1's referral, plans intervention
  // i-1 for it and delivers one session; then the school moves the
  // referral to kNewSchool (under a consent naming it) and, a day later,
  // the service delivers a second session. Returns the transfer's
  // position; `first_session_at` is when the first session was delivered.
  void SessionsAcrossATransfer(uint64_t* transfer_position,
                               absl::Time* first_session_at) {
    v1::ReferralTransitionRequest step;
    step.mutable_receive();
    ASSERT_TRUE(Ok(Step("r-ref-s-1", step, kService)));
    step.Clear();
    step.mutable_accept();
    ASSERT_TRUE(Ok(Step("r-ref-s-1", step, kService)));
    v1::InterventionCommand plan =
        Plan("i-1", "s-1", v1::INTERVENTION_TYPE_ONE_TO_ONE, clock_.Now());
    plan.mutable_plan()->set_referral_id("r-ref-s-1");
    ASSERT_TRUE(Ok(Intervene(plan, kService)));
    clock_.Advance(kDay);
    *first_session_at = clock_.Now();
    ASSERT_TRUE(Ok(Intervene(Session("i-1", clock_.Now()), kService)));

    ASSERT_TRUE(
        Ok(Grant(Consent("c-move", "s-1", kNewSchool, {v1::PURPOSE_REFERRAL},
                         {v1::DATA_CATEGORY_IDENTITY}, clock_.Now()),
                 kSchool)));
    v1::ReferralTransitionRequest move;
    move.mutable_transfer()->set_to_school(kNewSchool);
    *move.mutable_transfer()->mutable_disclosure() =
        Disclosure("s-1", kSchool, kNewSchool, v1::PURPOSE_REFERRAL,
                   {v1::DATA_CATEGORY_IDENTITY}, "c-move");
    v1::CommandResponse moved;
    ASSERT_TRUE(Ok(Step("r-ref-s-1", move, kSchool, &moved)));
    *transfer_position = moved.position();

    clock_.Advance(kDay);
    ASSERT_TRUE(Ok(Intervene(Session("i-1", clock_.Now()), kService)));
  }

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

  // Code, message, details and trailing metadata of one answer, as text.
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
