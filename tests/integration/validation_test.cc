// Validation derived from the contract, through a real server on
// 127.0.0.1:0 (issue 15):
// - every RPC of every ycr.v1 service found in the descriptor pool (the
//   Testing service too: the server runs with the testing clock) refuses a
//   request carrying a field number the contract does not have, and one
//   with a control character in a string field, with INVALID_ARGUMENT whose
//   google.rpc details name the field and the reason. An RPC added without
//   the validation fails here;
// - the examples, each refused with nothing written.

#include <grpcpp/grpcpp.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/error_details.h"
#include "common/ids.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/message.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "services/security/access_policy.h"
#include "tests/integration/every_rpc.h"
#include "tests/integration/test_server.h"
#include "ycr/v1/access_log_service.pb.h"
#include "ycr/v1/consent_service.pb.h"
#include "ycr/v1/queries_service.pb.h"
#include "ycr/v1/sharing_service.pb.h"

namespace ycr::testing {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::MethodDescriptor;

// A field number no ycr.v1 message has.
constexpr int kUnknownNumber = 8191;

// A role the policy table lets call `path` (the gate runs first).
std::string RoleFor(const std::string& path) {
  for (const services::PolicyRow& row : services::PolicyTable()) {
    if (row.method == path && !row.roles.empty()) return row.roles[0];
  }
  return "";
}

std::unique_ptr<Message> NewRequest(const MethodDescriptor* m) {
  return std::unique_ptr<Message>(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(m->input_type())
          ->New());
}

// Sets the first string field found depth first (at most three levels
// down) to `value`; its path, or "" when the request has none.
std::string SetFirstString(Message* message, const std::string& value,
                           const std::string& prefix = "", int depth = 0) {
  const Descriptor* d = message->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_repeated() || f->type() != FieldDescriptor::TYPE_STRING) {
      continue;
    }
    message->GetReflection()->SetString(message, f, value);
    return prefix + f->name();
  }
  if (depth >= 3) return "";
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_repeated() || f->type() != FieldDescriptor::TYPE_MESSAGE) {
      continue;
    }
    Message* child = message->GetReflection()->MutableMessage(message, f);
    std::string path =
        SetFirstString(child, value, prefix + f->name() + ".", depth + 1);
    if (!path.empty()) return path;
    message->GetReflection()->ClearField(message, f);
  }
  return "";
}

struct Refusal {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  ErrorDetails details;
};

Refusal Parse(const grpc::Status& status) {
  Refusal r;
  r.code = status.error_code();
  r.message = status.error_message();
  int code = 0;
  std::string message;
  EXPECT_TRUE(status.ok() || ParseRpcStatus(status.error_details(), &code,
                                            &message, &r.details))
      << "no google.rpc.Status details: " << status.error_message();
  return r;
}

// Whether `r` is INVALID_ARGUMENT with a BadRequest violation on `field`
// whose own reason is `reason`, and (when `first`) ErrorInfo
// `reason`.
::testing::AssertionResult Names(const Refusal& r, const std::string& field,
                                 const std::string& reason, bool first = true) {
  if (r.code != grpc::StatusCode::INVALID_ARGUMENT) {
    return ::testing::AssertionFailure()
           << "code " << r.code << ": " << r.message;
  }
  if (first && r.details.reason != reason) {
    return ::testing::AssertionFailure()
           << "reason " << r.details.reason << ", not " << reason << ": "
           << r.message;
  }
  for (const FieldViolation& v : r.details.field_violations) {
    if (v.field == field && v.reason == reason) {
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure()
         << "no violation of " << field << " (" << reason << "): " << r.message;
}

class ValidationTest : public ::testing::Test {
 protected:
  ValidationTest() {
    services::ServerOptions options;
    options.testing_clock = &clock_;  // Serves ycr.v1.Testing too.
    server_ = std::make_unique<TestServer>(dir_.path(), std::move(options));
    channel_ = grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->server().port()),
        grpc::InsecureChannelCredentials());
  }

  uint64_t Head() {
    grpc::ClientContext context;
    AsCaller(&context, "ops");
    v1::HeadResponse head;
    EXPECT_TRUE(server_->stub().Head(&context, v1::HeadRequest(), &head).ok());
    return head.position();
  }

  // As `organisation` with `role` (default: the first the policy allows).
  Refusal Call(const std::string& path, const Message& request,
               const std::string& organisation = "org-1",
               const std::string& role = "") {
    return Parse(CallRaw(channel_, path, request.SerializeAsString(),
                         organisation, "user-1",
                         role.empty() ? RoleFor(path) : role));
  }

  ManualClock clock_{absl::FromUnixSeconds(1'780'000'000)};
  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ValidationTest, EveryRpcRefusesUnknownFieldsAndControlCharacters) {
  const uint64_t head = Head();
  std::set<std::string> services_seen;
  int methods = 0;
  int with_strings = 0;
  for (const MethodDescriptor* m : AllMethods()) {
    const std::string path = Path(m);
    SCOPED_TRACE(path);
    ASSERT_FALSE(RoleFor(path).empty()) << "no role may call " << path;
    services_seen.insert(m->service()->full_name());
    ++methods;

    // A field number the contract does not have.
    std::unique_ptr<Message> unknown = NewRequest(m);
    unknown->GetReflection()
        ->MutableUnknownFields(unknown.get())
        ->AddVarint(kUnknownNumber, 1);
    EXPECT_TRUE(Names(Call(path, *unknown), absl::StrCat(kUnknownNumber),
                      reason::kUnknownField));

    // A control character in a string field.
    std::unique_ptr<Message> control = NewRequest(m);
    const std::string field = SetFirstString(control.get(), "a\x01z");
    if (!field.empty()) {
      ++with_strings;
      EXPECT_TRUE(Names(Call(path, *control), field, reason::kFieldInvalid));

      // Both at once: both named.
      control->GetReflection()
          ->MutableUnknownFields(control.get())
          ->AddVarint(kUnknownNumber, 1);
      const Refusal both = Call(path, *control);
      EXPECT_TRUE(Names(both, field, reason::kFieldInvalid));
      EXPECT_TRUE(Names(both, absl::StrCat(kUnknownNumber),
                        reason::kUnknownField, /*first=*/false));
    }

    // Authentication first: an anonymous caller is not told about fields.
    EXPECT_EQ(CallRaw(channel_, path, unknown->SerializeAsString(), "", "", "")
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_GE(methods, 46);
  EXPECT_GE(with_strings, 40);
  EXPECT_TRUE(services_seen.count("ycr.v1.Testing"));
  EXPECT_TRUE(services_seen.count("ycr.v1.EventStore"));
  EXPECT_EQ(Head(), head) << "a refused request wrote something";
  RecordProperty("methods", methods);
}

// Issue 15: purpose 99 was stored on a disclosure.
TEST_F(ValidationTest, AnUndefinedPurposeOnADisclosureIsRefused) {
  const uint64_t head = Head();
  v1::RecordDisclosureRequest request;
  request.set_request_id(NewUuid());
  v1::DisclosureRecorded* d = request.mutable_disclosure();
  d->set_disclosure_id("d-1");
  d->set_subject_id("s-1");
  d->mutable_to()->set_organisation("service-1");
  d->add_categories(v1::DATA_CATEGORY_IDENTITY);
  d->add_categories(static_cast<v1::DataCategory>(42));
  d->set_purpose(static_cast<v1::Purpose>(99));
  d->mutable_consent()->set_consent_id("c-1");
  const Refusal r =
      Call("/ycr.v1.Sharing/RecordDisclosure", request, "school-1");
  EXPECT_TRUE(Names(r, "disclosure.categories[1]", reason::kUnknownEnumValue));
  EXPECT_TRUE(Names(r, "disclosure.purpose", reason::kUnknownEnumValue,
                    /*first=*/false));
  EXPECT_EQ(Head(), head);
}

// Issue 15: valid_from.nanos = -1 and valid_until after 9999 were stored.
TEST_F(ValidationTest, AConsentsValidityMustBeARealTime) {
  const uint64_t head = Head();
  v1::GrantConsentRequest request;
  request.set_request_id(NewUuid());
  v1::ConsentGranted* c = request.mutable_consent();
  c->set_consent_id("c-1");
  c->set_subject_id("s-1");
  c->mutable_given_by()->mutable_parent()->set_person_ref("p-1");
  c->mutable_terms()->add_purposes(v1::PURPOSE_REFERRAL);
  c->mutable_terms()->add_categories(v1::DATA_CATEGORY_IDENTITY);
  c->mutable_terms()->add_recipients()->set_organisation("service-1");
  c->mutable_terms()->mutable_valid_from()->set_seconds(1'780'000'000);
  c->mutable_terms()->mutable_valid_from()->set_nanos(-1);
  c->mutable_terms()->mutable_valid_until()->set_seconds(253402300800 + 86400);
  const Refusal r = Call("/ycr.v1.Consents/Grant", request, "school-1");
  EXPECT_TRUE(
      Names(r, "consent.terms.valid_from.nanos", reason::kTimeOutOfRange));
  EXPECT_TRUE(
      Names(r, "consent.terms.valid_until.seconds", reason::kTimeOutOfRange));
  EXPECT_EQ(Head(), head);
}

// Issue 15: ListOverdue accepted as_of in year -300000.
TEST_F(ValidationTest, ListOverdueAsOfMustBeARealTime) {
  v1::ListOverdueRequest request;
  request.mutable_as_of()->set_seconds(-9'467'000'000'000);
  const Refusal r = Call("/ycr.v1.Deadlines/ListOverdue", request);
  EXPECT_TRUE(Names(r, "as_of.seconds", reason::kTimeOutOfRange));
}

// Issue 15: ConsentInForce accepted nanos = 1e9.
TEST_F(ValidationTest, ConsentInForceInstantMustBeARealTime) {
  v1::ConsentInForceRequest request;
  request.set_subject_id("s-1");
  request.set_purpose(v1::PURPOSE_REFERRAL);
  request.set_category(v1::DATA_CATEGORY_IDENTITY);
  request.mutable_recipient()->set_organisation("service-1");
  request.mutable_at()->set_seconds(1'780'000'000);
  request.mutable_at()->set_nanos(1'000'000'000);
  const Refusal r =
      Call("/ycr.v1.Audit/ConsentInForce", request, "auditor-1", "auditor");
  EXPECT_TRUE(Names(r, "at.nanos", reason::kTimeOutOfRange));
}

// A required enum left UNSPECIFIED is the rules' to refuse, naming the
// field: ConsentInForce's purpose and category were not required before.
TEST_F(ValidationTest, ConsentInForceNeedsAPurposeAndACategory) {
  v1::ConsentInForceRequest request;
  request.set_subject_id("s-1");
  request.mutable_recipient()->set_organisation("service-1");
  request.set_category(v1::DATA_CATEGORY_IDENTITY);
  request.mutable_at()->set_seconds(1'780'000'000);
  Refusal r =
      Call("/ycr.v1.Audit/ConsentInForce", request, "auditor-1", "auditor");
  ASSERT_EQ(r.code, grpc::StatusCode::INVALID_ARGUMENT) << r.message;
  ASSERT_EQ(r.details.field_violations.size(), 1u) << r.message;
  EXPECT_EQ(r.details.field_violations[0].field, "purpose");
  request.set_purpose(v1::PURPOSE_REFERRAL);
  request.set_category(v1::DATA_CATEGORY_UNSPECIFIED);
  r = Call("/ycr.v1.Audit/ConsentInForce", request, "auditor-1", "auditor");
  ASSERT_EQ(r.code, grpc::StatusCode::INVALID_ARGUMENT) << r.message;
  ASSERT_EQ(r.details.field_violations.size(), 1u) << r.message;
  EXPECT_EQ(r.details.field_violations[0].field, "category");
  request.set_category(v1::DATA_CATEGORY_IDENTITY);
  EXPECT_EQ(
      Call("/ycr.v1.Audit/ConsentInForce", request, "auditor-1", "auditor")
          .code,
      grpc::StatusCode::OK);
}

// Issue 15: a NUL in a subject id made one child's access-log listing
// include another id's entries.
TEST_F(ValidationTest, ANulInASubjectIdIsRefused) {
  const uint64_t head = Head();
  v1::ListAccessBySubjectRequest request;
  request.set_subject_id(std::string("s-1\0", 4));
  const Refusal r = Call("/ycr.v1.AccessLog/ListBySubject", request, "ico");
  EXPECT_TRUE(Names(r, "subject_id", reason::kFieldInvalid));
  EXPECT_EQ(Head(), head);
  // The server is healthy: a valid listing still answers.
  request.set_subject_id("s-1");
  EXPECT_EQ(Call("/ycr.v1.AccessLog/ListBySubject", request, "ico").code,
            grpc::StatusCode::OK);
}

// Raw appends: a typed domain payload is validated (and refused) like any
// other request; an opaque one with an unknown field in its payload too.
TEST_F(ValidationTest, RawAppendsAreValidatedToo) {
  const uint64_t head = Head();
  v1::AppendRequest append = AppendOne("raw-notes", "hello");
  v1::EventPayload* payload = append.mutable_events(0)->mutable_payload();
  payload->GetReflection()->MutableUnknownFields(payload)->AddLengthDelimited(
      kUnknownNumber, "x");
  EXPECT_TRUE(Names(Call("/ycr.v1.EventStore/Append", append, "ops"),
                    absl::StrCat("events[0].payload.", kUnknownNumber),
                    reason::kUnknownField));

  v1::AppendRequest typed = AppendOne("raw-notes", "hello");
  typed.mutable_events(0)
      ->mutable_payload()
      ->mutable_consent_withdrawn()
      ->mutable_effective_at()
      ->set_nanos(-5);
  EXPECT_TRUE(Names(Call("/ycr.v1.EventStore/Append", typed, "ops"),
                    "events[0].payload.consent_withdrawn.effective_at.nanos",
                    reason::kTimeOutOfRange));
  EXPECT_EQ(Head(), head);
}

}  // namespace
}  // namespace ycr::testing
