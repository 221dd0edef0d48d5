#include "storage/append_validation.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/event_log.h"
#include "tests/unit/test_util.h"

namespace ycr::storage {
namespace {

using ::ycr::test::OpaqueEvent;
using ::ycr::test::Request;
using ::ycr::test::StatusIs;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

// A valid request of two events on "case-1".
AppendRequest ValidRequest() {
  return Request("case-1", ExpectedVersion::Any(),
                 {OpaqueEvent("one"), OpaqueEvent("two")});
}

absl::Status Validate(AppendRequest request, const LogLimits& limits = {}) {
  return ValidateAppend(&request, limits);
}

TEST(AppendValidationTest, ValidRequestPasses) {
  EXPECT_TRUE(Validate(ValidRequest()).ok());
}

TEST(AppendValidationTest, EventIdsAreLowerCasedByNormalisation) {
  AppendRequest request = ValidRequest();
  request.events[0].set_event_id("ABCDEF01-2345-4789-ABCD-EF0123456789");
  request.events[1].set_event_id("abcdef01-2345-4789-abcd-ef012345678A");
  ASSERT_TRUE(ValidateAppend(&request, LogLimits()).ok());
  EXPECT_EQ(request.events[0].event_id(),
            "abcdef01-2345-4789-abcd-ef0123456789");
  EXPECT_EQ(request.events[1].event_id(),
            "abcdef01-2345-4789-abcd-ef012345678a");
}

TEST(AppendValidationTest, EmptyStreamIdIsInvalidAndNamesStream) {
  AppendRequest request = ValidRequest();
  request.stream = "";
  EXPECT_TRUE(StatusIs(Validate(request), kInvalid, {"stream"}));
}

TEST(AppendValidationTest, StreamIdAtTheLimitPassesAndOneMoreByteFails) {
  LogLimits limits;
  AppendRequest request = ValidRequest();
  request.stream = std::string(limits.max_stream_id_bytes, 's');
  EXPECT_TRUE(Validate(request, limits).ok());
  request.stream.push_back('s');
  EXPECT_TRUE(StatusIs(Validate(request, limits), kInvalid,
                       {"stream", absl::StrCat(limits.max_stream_id_bytes)}));
}

TEST(AppendValidationTest, StreamIdWithEveryAllowedCharacterPasses) {
  AppendRequest request = ValidRequest();
  request.stream = "AZaz09._:/@+-";
  EXPECT_TRUE(Validate(request).ok());
}

TEST(AppendValidationTest, StreamIdWithForbiddenCharacterIsInvalid) {
  for (const std::string& bad :
       {std::string("case 1"), std::string("case#1"), std::string("case\n"),
        std::string("a\0b", 3), std::string("\0", 1),
        std::string("caf\xc3\xa9"), std::string("a\x01"), std::string("a*b"),
        std::string("a,b")}) {
    AppendRequest request = ValidRequest();
    request.stream = bad;
    EXPECT_TRUE(StatusIs(Validate(request), kInvalid, {"stream"}))
        << "stream of " << bad.size() << " bytes";
  }
}

TEST(AppendValidationTest, NoEventsIsInvalidAndNamesEvents) {
  AppendRequest request = ValidRequest();
  request.events.clear();
  EXPECT_TRUE(StatusIs(Validate(request), kInvalid, {"events"}));
}

TEST(AppendValidationTest, TooManyEventsIsInvalidAndNamesEvents) {
  LogLimits limits;
  limits.max_events_per_append = 3;
  AppendRequest request = ValidRequest();
  request.events.push_back(OpaqueEvent("three"));
  EXPECT_TRUE(Validate(request, limits).ok());
  request.events.push_back(OpaqueEvent("four"));
  EXPECT_TRUE(StatusIs(Validate(request, limits), kInvalid, {"events", "3"}));
}

TEST(AppendValidationTest, DefaultLimitRejectsFiveHundredAndOneEvents) {
  AppendRequest request = ValidRequest();
  request.events.clear();
  for (int i = 0; i < 501; ++i) request.events.push_back(OpaqueEvent("x"));
  EXPECT_TRUE(StatusIs(Validate(request), kInvalid, {"events", "500"}));
  request.events.pop_back();
  EXPECT_TRUE(Validate(request).ok());
}

TEST(AppendValidationTest, NonUuidEventIdIsInvalidAndNamesTheEvent) {
  for (const std::string& bad :
       {std::string(""), std::string("not-a-uuid"),
        std::string("abcdef01-2345-4789-abcd-ef012345678"),    // 35 chars
        std::string("abcdef01-2345-4789-abcd-ef01234567890"),  // 37 chars
        std::string("abcdef0123-45-4789-abcd-ef0123456789"),   // dash moved
        std::string("abcdef01-2345-4789-abcd-ef012345678g"),   // not hex
        std::string("{bcdef01-2345-4789-abcd-ef012345678}")}) {
    AppendRequest request = ValidRequest();
    request.events[1].set_event_id(bad);
    EXPECT_TRUE(StatusIs(Validate(request), kInvalid, {"events[1].event_id"}))
        << "'" << bad << "'";
  }
}

TEST(AppendValidationTest, DuplicateEventIdInOneAppendIsInvalid) {
  AppendRequest request = ValidRequest();
  request.events[1].set_event_id(request.events[0].event_id());
  EXPECT_TRUE(StatusIs(Validate(request), kInvalid, {"events[1].event_id"}));
}

TEST(AppendValidationTest, DuplicateEventIdDifferingOnlyInCaseIsInvalid) {
  AppendRequest request = ValidRequest();
  request.events[0].set_event_id("abcdef01-2345-4789-abcd-ef0123456789");
  request.events[1].set_event_id("ABCDEF01-2345-4789-ABCD-EF0123456789");
  EXPECT_TRUE(StatusIs(Validate(request), kInvalid, {"events[1].event_id"}));
}

TEST(AppendValidationTest, PayloadWithNoCaseSetIsInvalid) {
  AppendRequest request = ValidRequest();
  request.events[1].clear_payload();
  EXPECT_TRUE(StatusIs(Validate(request), kInvalid, {"events[1].payload"}));
}

TEST(AppendValidationTest, OversizedPayloadIsInvalid) {
  LogLimits limits;
  AppendRequest request = ValidRequest();
  request.events[0].mutable_payload()->mutable_opaque()->set_data(
      std::string(limits.max_payload_bytes, 'x'));
  EXPECT_TRUE(
      StatusIs(Validate(request, limits), kInvalid, {"events[0].payload"}));
}

TEST(AppendValidationTest, PayloadAtTheConfiguredLimitPasses) {
  AppendRequest request = ValidRequest();
  LogLimits limits;
  limits.max_payload_bytes = request.events[0].payload().ByteSizeLong();
  EXPECT_TRUE(Validate(request, limits).ok());
  request.events[0].mutable_payload()->mutable_opaque()->mutable_data()->append(
      "!");
  EXPECT_TRUE(
      StatusIs(Validate(request, limits), kInvalid, {"events[0].payload"}));
}

// The lists of organisations keeping child-protection records (the
// kept-reviews record, the plain records of the commands) have room for
// max_erase_retaining ids of the longest size past the payload limit; a
// client's payload and a sealed record keep the payload limit
// (hostile_review_8_test.cc).
TEST(AppendValidationTest, KeeperListsHaveRoomForEveryKeeper) {
  LogLimits limits;
  limits.max_payload_bytes = 1024;
  limits.max_erase_retaining = 8;
  const std::string id(limits.max_stream_id_bytes, 'o');
  AppendRequest kept = ValidRequest();
  auto* k = kept.events[0].mutable_payload()->mutable_child_protection_kept();
  k->set_subject_id("s-1");
  for (size_t i = 0; i < limits.max_erase_retaining; ++i) k->add_keepers(id);
  for (size_t i = 0; i < limits.max_erase_retaining; ++i) {
    kept.erase_retaining.push_back(id);
  }
  kept.erase_retaining.push_back(kKeptReviewsOwner);
  kept.records = {{"marks", std::string(limits.max_erase_retaining *
                                            (limits.max_stream_id_bytes + 1),
                                        'm')}};
  ASSERT_GT(kept.events[0].payload().ByteSizeLong(), limits.max_payload_bytes);
  EXPECT_TRUE(Validate(kept, limits).ok()) << Validate(kept, limits);
  AppendRequest sealed = kept;
  sealed.records[0].seal_subject = "s-1";
  EXPECT_TRUE(
      StatusIs(Validate(sealed, limits), kInvalid, {"records[0].value"}));
  AppendRequest opaque = ValidRequest();
  opaque.events[0].mutable_payload()->mutable_opaque()->set_data(
      std::string(limits.max_payload_bytes + 1, 'x'));
  EXPECT_TRUE(
      StatusIs(Validate(opaque, limits), kInvalid, {"events[0].payload"}));
  kept.erase_retaining.push_back("one-too-many");
  EXPECT_TRUE(StatusIs(Validate(kept, limits), kInvalid, {"erase_retaining"}));
}

TEST(AppendValidationTest, OpaqueTypeWithBadCharactersIsInvalid) {
  for (const std::string& bad :
       {std::string(""), std::string("Test.Note"), std::string("test note"),
        std::string("test/note"), std::string("test\0note", 9),
        std::string(65, 'a')}) {
    AppendRequest request = ValidRequest();
    request.events[1].mutable_payload()->mutable_opaque()->set_type(bad);
    EXPECT_TRUE(StatusIs(Validate(request), kInvalid,
                         {"events[1].payload.opaque.type"}))
        << "'" << bad << "'";
  }
}

TEST(AppendValidationTest, OpaqueTypeOfSixtyFourAllowedCharactersPasses) {
  AppendRequest request = ValidRequest();
  request.events[0].mutable_payload()->mutable_opaque()->set_type(
      std::string(60, 'a') + "_.-9");
  EXPECT_TRUE(Validate(request).ok());
}

TEST(AppendValidationTest, OpaqueTypeEqualToATypedCaseNameIsInvalid) {
  AppendRequest request = ValidRequest();
  request.events[0].mutable_payload()->mutable_opaque()->set_type("opaque");
  EXPECT_TRUE(StatusIs(Validate(request), kInvalid,
                       {"events[0].payload.opaque.type", "opaque"}));
}

TEST(AppendValidationTest, EventTypeOfOpaquePayloadIsItsDeclaredType) {
  v1::EventPayload payload;
  payload.mutable_opaque()->set_type("test.note");
  absl::StatusOr<std::string> type = EventTypeOf(payload, "payload");
  ASSERT_TRUE(type.ok()) << type.status();
  EXPECT_EQ(*type, "test.note");
  EXPECT_TRUE(StatusIs(EventTypeOf(v1::EventPayload(), "x.payload").status(),
                       kInvalid, {"x.payload"}));
}

TEST(AppendValidationTest, UnknownExpectedKindIsInvalid) {
  AppendRequest request = ValidRequest();
  request.expected.kind = static_cast<ExpectedVersion::Kind>(99);
  EXPECT_TRUE(StatusIs(Validate(request), kInvalid, {"expected"}));
}

TEST(AppendValidationTest, UnknownConditionKindIsInvalidAndNamesCondition) {
  AppendRequest request = ValidRequest();
  request.conditions.push_back({"other", ExpectedVersion::Any()});
  request.conditions.push_back(
      {"third", {static_cast<ExpectedVersion::Kind>(99), 0}});
  EXPECT_TRUE(
      StatusIs(Validate(request), kInvalid, {"conditions[1].expected"}));
}

TEST(AppendValidationTest, TooManyConditionsIsInvalid) {
  LogLimits limits;
  AppendRequest request = ValidRequest();
  for (size_t i = 0; i < limits.max_conditions; ++i) {
    request.conditions.push_back(
        {absl::StrCat("other-", i), ExpectedVersion::Exists()});
  }
  EXPECT_TRUE(Validate(request, limits).ok());
  request.conditions.push_back({"one-too-many", ExpectedVersion::Exists()});
  EXPECT_TRUE(StatusIs(Validate(request, limits), kInvalid,
                       {"conditions", absl::StrCat(limits.max_conditions)}));
}

TEST(AppendValidationTest, ConditionOnOwnStreamIsInvalid) {
  AppendRequest request = ValidRequest();
  request.conditions.push_back({"other", ExpectedVersion::Exists()});
  request.conditions.push_back({request.stream, ExpectedVersion::Exact(3)});
  EXPECT_TRUE(StatusIs(Validate(request), kInvalid, {"conditions[1].stream"}));
}

TEST(AppendValidationTest, ConditionWithBadStreamIdIsInvalid) {
  AppendRequest request = ValidRequest();
  request.conditions.push_back({"bad stream", ExpectedVersion::Exists()});
  EXPECT_TRUE(StatusIs(Validate(request), kInvalid, {"conditions[0].stream"}));
  request.conditions[0].stream = "";
  EXPECT_TRUE(StatusIs(Validate(request), kInvalid, {"conditions[0].stream"}));
}

TEST(AppendValidationTest, OversizedCorrelationIdIsInvalid) {
  LogLimits limits;
  AppendRequest request = ValidRequest();
  request.events[1].set_correlation_id(std::string(limits.max_id_bytes, 'c'));
  EXPECT_TRUE(Validate(request, limits).ok());
  request.events[1].set_correlation_id(
      std::string(limits.max_id_bytes + 1, 'c'));
  EXPECT_TRUE(StatusIs(Validate(request, limits), kInvalid,
                       {"events[1]", "correlation_id"}));
}

TEST(AppendValidationTest, OversizedCausationIdIsInvalid) {
  LogLimits limits;
  AppendRequest request = ValidRequest();
  request.events[0].set_causation_id(std::string(limits.max_id_bytes + 1, 'c'));
  EXPECT_TRUE(StatusIs(Validate(request, limits), kInvalid,
                       {"events[0]", "causation_id"}));
}

TEST(AppendValidationTest, OccurredAtOutOfRangeIsInvalid) {
  AppendRequest request = ValidRequest();
  request.events[1].mutable_occurred_at()->set_seconds(253402300800);
  EXPECT_TRUE(StatusIs(Validate(request), kInvalid, {"events[1].occurred_at"}));
  request.events[1].mutable_occurred_at()->set_seconds(0);
  request.events[1].mutable_occurred_at()->set_nanos(-1);
  EXPECT_TRUE(StatusIs(Validate(request), kInvalid, {"events[1].occurred_at"}));
  request.events[1].mutable_occurred_at()->set_nanos(999999999);
  EXPECT_TRUE(Validate(request).ok());
}

TEST(AppendValidationTest, ValidateStreamIdNamesTheGivenField) {
  EXPECT_TRUE(ValidateStreamId("ok", 10, "field").ok());
  EXPECT_TRUE(
      StatusIs(ValidateStreamId("", 10, "my.field"), kInvalid, {"my.field"}));
  EXPECT_TRUE(StatusIs(ValidateStreamId("elevenbytes", 10, "my.field"),
                       kInvalid, {"my.field"}));
}

}  // namespace
}  // namespace ycr::storage
