// A hostile review of the replicated cluster (issue 17), as an outside
// organisation or a careless client would attack it: 3 etcd members, 3
// ycr-server processes (cluster_nodes.h), one rich case written on the
// leader (a pupil's record, a consent with a reason, a referral, the
// service's concern with a decision not to tell the school and its referral
// to children's social care). Every read RPC (from the compiled-in
// descriptors) is called on a follower and on the leader as every kind of
// caller; commands are sent to a follower; the school erases the child and
// every follower's files and everything etcd ever held are searched; absurd
// positions and ids are sent to a follower. Each test asserts the RULE; a
// LEAK comment says what was shown to whom and why that is wrong.

#include <rocksdb/iterator.h>

#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "replication/etcd_watch.h"
#include "tests/etcd/cluster_nodes.h"
#include "tests/integration/domain_flows_fixture.h"
#include "tests/integration/every_rpc.h"
#include "tests/unit/raw_store.h"
#include "tests/unit/test_util.h"

namespace ycr::testing {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::MethodDescriptor;

// Distinctive text, each readable by whom the comment says (and auditors).
constexpr char kName[] = "Hc11-Pupilname-Qx";                      // the holder
constexpr char kConsentReason[] = "HC11-CONSENT-REASON-aunt-ill";  // school
constexpr char kConcernFacts[] = "HC11-CONCERN-FACTS-dad-drinks";  // service
constexpr char kWithheld[] = "HC11-WITHHELD-NOTES-not-school";     // service
constexpr char kRisk[] = "HC11-RISK-STATEMENT-to-social-care";  // + social care
constexpr char kConcern[] = "g-hc11-hidden";
constexpr char kOtherArea[] = "la-b";
constexpr char kUninvolved[] = "service-8";

// A caller: organisation ("" with no identity at all) and the texts it
// must never read.
struct Reader {
  std::string organisation;
  std::vector<std::string> forbidden;
};

std::vector<Reader> Readers() {
  const std::string all[] = {kName, kConsentReason, kConcernFacts, kWithheld,
                             kRisk};
  const std::vector<std::string> every(std::begin(all), std::end(all));
  return {
      {kSchool, {kConcernFacts, kWithheld, kRisk}},
      {kOtherSchool, every},
      {kService, {kConsentReason}},
      {kUninvolved, every},
      {kSocialCare, {kConsentReason, kWithheld}},
      {"la-a", {kConsentReason, kConcernFacts, kWithheld, kRisk}},
      {kOtherArea, every},
      {"auditor-1", {}},
      {"ops", every},
      {"", every},
  };
}

// Methods whose answers are each node's own, so they differ between nodes
// for the same caller: the access log (each node's reads land in it) and
// projection progress.
bool NodesOwn(const MethodDescriptor* m) {
  const std::string service = m->service()->name();
  return service == "AccessLog" || service == "Projections";
}

// `answer` with each node's own transparency-log origin and signature
// (each node signs with its own key: no cluster signer yet) made alike.
std::string Unsigned(std::string answer) {
  const std::string origin = "localhost/ycr/";
  for (size_t at = answer.find(origin); at != std::string::npos;
       at = answer.find(origin, at + 1)) {
    size_t end = std::min(answer.size(), at + origin.size() + 16);
    // The signature that follows the key's name, if any.
    if (end < answer.size() && answer[end] == ' ') {
      size_t sig = end + 1;
      while (sig < answer.size() &&
             (absl::ascii_isalnum(answer[sig]) || answer[sig] == '+' ||
              answer[sig] == '/' || answer[sig] == '=')) {
        ++sig;
      }
      if (sig - end > 20) end = sig;
    }
    answer.replace(at, end - at, "ORIGIN SIGNATURE");
  }
  return answer;
}

// Method "Service.Name" of ycr.v1.
const MethodDescriptor* Method(const std::string& name) {
  const MethodDescriptor* m =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          "ycr.v1." + name);
  EXPECT_NE(m, nullptr) << name;
  return m;
}

class HostileClusterTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (IsSkipped()) return;
    // Every value etcd will ever hold, whatever it compacts later.
    const std::string everything(1, '\0');
    auto watch = client_->Watch(everything, everything, 0);
    ASSERT_TRUE(watch.ok()) << watch.status();
    watch_ = std::move(*watch);
    ASSERT_NO_FATAL_FAILURE(StartNodes());
    ASSERT_NO_FATAL_FAILURE(AwaitLeader(-1));
    ASSERT_NO_FATAL_FAILURE(WriteTheCase());
  }

  // Waits (bounded) for a node other than `skip` to lead: leader_.
  void AwaitLeader(int skip) {
    leader_ = -1;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (leader_ < 0 && absl::Now() < deadline) {
      for (int i = 0; i < kNodes; ++i) {
        if (i != skip && nodes_[i] != nullptr && nodes_[i]->pid() > 0 &&
            Serving(addresses_[i], "ycr.v1.leader")) {
          leader_ = i;
        }
      }
      absl::SleepFor(absl::Milliseconds(50));  // A poll with a deadline.
    }
    ASSERT_GE(leader_, 0);
  }
  int Follower(int n = 0) const {
    for (int i = 0; i < kNodes; ++i) {
      if (i != leader_ && n-- == 0) return i;
    }
    return -1;
  }
  std::shared_ptr<grpc::Channel> Channel(int i) const {
    return grpc::CreateChannel(addresses_[i],
                               grpc::InsecureChannelCredentials());
  }

  // Sends `request` to `path` on node `i` as `org`: everything the answer
  // said (status, details, every trailing metadata, the messages). The
  // position of a CommandResponse in *position.
  std::string Call(int i, const MethodDescriptor* m, const Message& request,
                   const std::string& org, uint64_t* position = nullptr,
                   absl::Duration timeout = absl::Seconds(10),
                   grpc::Status* status_out = nullptr) {
    grpc::ClientContext context;
    if (!org.empty()) AsCaller(&context, org, "user-hc11");
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    grpc::Status status;
    std::vector<std::string> answered = CallCollect(
        Channel(i), Path(m), request.SerializeAsString(), &context, &status);
    if (position != nullptr && !answered.empty() &&
        m->output_type()->name() == "CommandResponse") {
      v1::CommandResponse done;
      if (done.ParseFromString(answered.front())) *position = done.position();
    }
    if (status_out != nullptr) *status_out = status;
    std::string all =
        absl::StrCat(status.error_code(), " ", status.error_message(), " ",
                     status.error_details(), "\n");
    for (const auto& [k, v] : context.GetServerTrailingMetadata()) {
      if (absl::StartsWith(std::string(k.data(), k.size()), "grpc-")) {
        continue;  // The status and its details, above.
      }
      absl::StrAppend(&all, std::string(k.data(), k.size()), "=",
                      std::string(v.data(), v.size()), "\n");
    }
    return absl::StrCat(all, AnsweredText(m, std::move(answered)));
  }

  // A command on the leader that must succeed.
  void OnLeader(const std::string& method, const Message& request,
                const std::string& org) {
    const MethodDescriptor* m = Method(method);
    std::unique_ptr<Message> sent(request.New());
    sent->CopyFrom(request);
    sent->GetReflection()->SetString(
        sent.get(), sent->GetDescriptor()->FindFieldByName("request_id"),
        NewUuid());
    uint64_t position = 0;
    const std::string answer = Call(leader_, m, *sent, org, &position);
    ASSERT_TRUE(absl::StartsWith(answer, "0 ")) << method << " " << answer;
    head_ = std::max(head_, position);
  }

  void WriteTheCase() {
    for (const std::string& org : {kSchool, kService}) {
      v1::AssignAreaRequest assign;
      assign.mutable_assignment()->set_organisation(org);
      assign.mutable_assignment()->set_local_authority("la-a");
      ASSERT_NO_FATAL_FAILURE(OnLeader("Areas.Assign", assign, "ops"));
    }
    v1::PutSubjectRecordRequest put;
    *put.mutable_record() = Record("s-1", kName);
    ASSERT_NO_FATAL_FAILURE(OnLeader("Subjects.PutRecord", put, kSchool));
    v1::GrantConsentRequest grant =
        Consent("c-1", "s-1", kService, {v1::PURPOSE_REFERRAL},
                {v1::DATA_CATEGORY_IDENTITY}, absl::Now());
    grant.mutable_personal()->set_reason(kConsentReason);
    ASSERT_NO_FATAL_FAILURE(OnLeader("Consents.Grant", grant, kSchool));
    v1::ReferralTransitionRequest submit = Submit("r-1", "s-1", "c-1");
    ASSERT_NO_FATAL_FAILURE(OnLeader("Referrals.Transition", submit, kSchool));
    v1::SafeguardingCommand raise = Raise(kConcern, "s-1", kConcernFacts);
    ASSERT_NO_FATAL_FAILURE(OnLeader("Safeguarding.Record", raise, kService));
    v1::SafeguardingCommand dsl = NotifyDsl(kConcern);
    ASSERT_NO_FATAL_FAILURE(OnLeader("Safeguarding.Record", dsl, kService));
    v1::RecordDecisionNotToShareRequest decline;
    auto* d = decline.mutable_decision();
    d->set_subject_id("s-1");
    d->mutable_to()->set_organisation(kSchool);
    d->set_decision_maker("dsl-s");
    d->set_concern_id(kConcern);
    d->add_categories(v1::DATA_CATEGORY_WELLBEING);
    decline.mutable_personal()->set_reason("the child asked us not to");
    decline.mutable_personal()->set_notes(kWithheld);
    ASSERT_NO_FATAL_FAILURE(
        OnLeader("Sharing.RecordDecisionNotToShare", decline, kService));
    v1::SafeguardingCommand refer;
    refer.set_concern_id(kConcern);
    *refer.mutable_refer_to_social_care()->mutable_disclosure() =
        Disclosure("s-1", kService, kSocialCare, v1::PURPOSE_SAFEGUARDING,
                   {v1::DATA_CATEGORY_WELLBEING}, "");
    *refer.mutable_refer_to_social_care()
         ->mutable_disclosure()
         ->mutable_safeguarding() = Basis();
    refer.mutable_personal()->set_risk_statement(kRisk);
    refer.mutable_personal()->set_not_told_reason("the child's wish");
    ASSERT_NO_FATAL_FAILURE(OnLeader("Safeguarding.Record", refer, kService));
  }

  // A request for `m`: every id the case's, min_position and every size at
  // `head`, times fixed, everything else unset.
  static std::unique_ptr<Message> Request(const MethodDescriptor* m,
                                          uint64_t head) {
    const std::map<std::string, std::string> ids = {
        {"subject_id", "s-1"},     {"consent_id", "c-1"},
        {"referral_id", "r-1"},    {"concern_id", kConcern},
        {"raised_by", kService},   {"organisation", kService},
        {"request_id", NewUuid()}, {"request_ref", "req-1"}};
    std::unique_ptr<Message> request(
        google::protobuf::MessageFactory::generated_factory()
            ->GetPrototype(m->input_type())
            ->New());
    const auto* d = request->GetDescriptor();
    const auto* r = request->GetReflection();
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->is_repeated()) continue;
      if (f->type() == FieldDescriptor::TYPE_STRING) {
        auto it = ids.find(f->name());
        if (it != ids.end()) r->SetString(request.get(), f, it->second);
      } else if (f->message_type() != nullptr &&
                 f->message_type()->full_name() ==
                     "google.protobuf.Timestamp") {
        // A time of the request's own (ListOverdue's as_of): the same on
        // every node, whatever its clock.
        Message* t = r->MutableMessage(request.get(), f);
        t->GetReflection()->SetInt64(
            t, t->GetDescriptor()->FindFieldByName("seconds"), 1'780'000'000);
      } else if (f->type() == FieldDescriptor::TYPE_UINT64 &&
                 (f->name() == "min_position" ||
                  absl::StrContains(f->name(), "size") ||
                  f->name() == "limit")) {
        r->SetUInt64(request.get(), f, head);
      }
    }
    return request;
  }

  // Every read RPC as every reader on node `i`, keyed "method as org"; no
  // answer may hold a text forbidden to its reader. All a reader was
  // answered in (*shown)[organisation].
  std::map<std::string, std::string> Sweep(
      int i, uint64_t head, std::map<std::string, std::string>* shown) {
    std::map<std::string, std::string> answers;
    for (const Reader& reader : Readers()) {
      for (const MethodDescriptor* m : ReadMethods()) {
        // Subscribe never ends (live): a second of it.
        const std::string answer = Call(
            i, m, *Request(m, head), reader.organisation, nullptr,
            m->name() == "Subscribe" ? absl::Seconds(1) : absl::Seconds(10));
        for (const std::string& text : reader.forbidden) {
          EXPECT_FALSE(absl::StrContains(answer, text))
              << Path(m) << " on node " << i << " as '" << reader.organisation
              << "' shows " << text << ": " << answer;
        }
        absl::StrAppend(&(*shown)[reader.organisation], answer);
        answers[absl::StrCat(Path(m), " as '", reader.organisation, "'")] =
            NodesOwn(m) ? "" : Unsigned(answer);
      }
    }
    return answers;
  }

  // Everything etcd was sent since SetUp, key and value.
  std::string EtcdHistory() {
    std::string all;
    while (true) {
      auto events = watch_->Next(absl::Now() + absl::Milliseconds(500));
      if (!events.ok()) break;
      for (const replication::WatchEvent& e : *events) {
        absl::StrAppend(&all, e.kv.key, "=", e.kv.value, "\n");
      }
    }
    return all;
  }

  int leader_ = -1;
  uint64_t head_ = 0;  // The case's last position.
  std::unique_ptr<replication::EtcdWatch> watch_;
};

// Held (pinned here: the sixth pass compared the follower on three paths
// only, in one process on one etcd member). Every read RPC, as the holder,
// another school, the service, an uninvolved service, the social-care
// recipient, the area's authority, another area's authority, an auditor,
// the admin and no identity, answers on a follower exactly as on the
// leader (code, message, details, trailing metadata, every message), with
// the case's ids and min_position at the case's head; and no answer on any
// node holds a text outside the table for its reader.
TEST_F(HostileClusterTest, EveryReadOnAFollowerShowsWhatTheLeaderShows) {
  std::map<std::string, std::string> shown;
  const std::map<std::string, std::string> on_leader =
      Sweep(leader_, head_, &shown);
  const std::map<std::string, std::string> on_follower =
      Sweep(Follower(), head_, &shown);
  for (const auto& [call, answer] : on_leader) {
    EXPECT_EQ(on_follower.at(call), answer) << call;
  }
  // The sweep reached the case: whom the table lets read a text reads it.
  for (const char* text :
       {kName, kConsentReason, kConcernFacts, kWithheld, kRisk}) {
    EXPECT_TRUE(absl::StrContains(shown["auditor-1"], text)) << text;
  }
  EXPECT_TRUE(absl::StrContains(shown[kSchool], kName));
  EXPECT_TRUE(absl::StrContains(shown[kSchool], kConsentReason));
}

}  // namespace
}  // namespace ycr::testing
