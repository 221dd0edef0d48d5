// ycr.v1.EventStore through a real gRPC server on 127.0.0.1:0.

#include <atomic>
#include <thread>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "services/grpc_status.h"
#include "tests/integration/test_server.h"

namespace ycr::testing {
namespace {

using v1::ExpectedVersion;

// The raw log's callers (access_policy.h): operators append, auditors read.
void AsOperator(grpc::ClientContext* context) {
  AsCaller(context, "ops", "operator-1", services::kAdminRole);
}
void AsAuditor(grpc::ClientContext* context) {
  AsCaller(context, "auditor-1", "reader-1", services::kAuditorRole);
}

class EventStoreServiceTest : public ::testing::Test {
 protected:
  TempDir dir_;
  TestServer server_{dir_.path()};

  grpc::Status Append(const v1::AppendRequest& request,
                      v1::AppendResponse* response) {
    grpc::ClientContext context;
    AsOperator(&context);
    return server_.stub().Append(&context, request, response);
  }

  uint64_t HeadPosition() {
    grpc::ClientContext context;
    AsCaller(&context);
    v1::HeadResponse head;
    EXPECT_TRUE(server_.stub().Head(&context, {}, &head).ok());
    return head.position();
  }
};

TEST_F(EventStoreServiceTest, AppendThenReadBackWithActorFromMetadata) {
  v1::AppendResponse response;
  ASSERT_TRUE(Append(AppendOne("ops-notes-1", "first"), &response).ok());
  EXPECT_EQ(response.first_position(), 1u);
  EXPECT_EQ(response.stream_version(), 1u);
  ASSERT_TRUE(Append(AppendOne("ops-notes-1", "second"), &response).ok());
  EXPECT_EQ(response.first_position(), 2u);

  grpc::ClientContext context;
  AsCaller(&context, "auditor-1", "reader-3", "auditor");
  v1::ReadStreamRequest read;
  read.set_stream("ops-notes-1");
  v1::ReadStreamResponse events;
  ASSERT_TRUE(server_.stub().ReadStream(&context, read, &events).ok());
  ASSERT_EQ(events.events_size(), 2);
  EXPECT_EQ(events.stream_version(), 2u);
  EXPECT_EQ(events.events(0).payload().opaque().data(), "first");
  EXPECT_EQ(events.events(0).event_type(), "test.note");
  EXPECT_EQ(events.events(0).actor().organisation(), "ops");
  EXPECT_EQ(events.events(0).actor().user(), "operator-1");
  EXPECT_EQ(events.events(0).actor().role(), "admin");
  EXPECT_EQ(events.events(1).prev_hash(), events.events(0).hash());
  EXPECT_EQ(events.events(0).hash().size(), 32u);

  grpc::ClientContext head_context;
  AsCaller(&head_context);
  v1::HeadResponse head;
  ASSERT_TRUE(server_.stub().Head(&head_context, {}, &head).ok());
  EXPECT_EQ(head.position(), 2u);
  EXPECT_EQ(head.hash(), events.events(1).hash());
}

TEST_F(EventStoreServiceTest, CallWithoutIdentityIsUnauthenticated) {
  grpc::ClientContext context;
  context.AddMetadata(services::kOrganisationMetadata, "school-1");
  v1::AppendResponse response;
  grpc::Status status =
      server_.stub().Append(&context, AppendOne("ops-notes-1", "x"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(status.error_message().find(services::kUserMetadata),
            std::string::npos);
  EXPECT_EQ(HeadPosition(), 0u);
}

TEST_F(EventStoreServiceTest, BadInputsAreInvalidArgumentAndWriteNothing) {
  struct Case {
    const char* name;
    v1::AppendRequest request;
    const char* field;
  };
  std::vector<Case> cases;
  cases.push_back({"empty stream", AppendOne("", "x"), "stream"});
  {
    v1::AppendRequest r = AppendOne("ops-notes-1", "");
    r.mutable_events(0)->mutable_payload()->mutable_opaque()->set_data(
        std::string(70 * 1024, 'x'));
    cases.push_back({"oversized payload", r, "events[0].payload"});
  }
  {
    v1::AppendRequest r = AppendOne("ops-notes-1", "x");
    r.mutable_expected()->set_kind(ExpectedVersion::KIND_UNSPECIFIED);
    cases.push_back({"unspecified expected version", r, "expected.kind"});
  }
  {
    v1::AppendRequest r = AppendOne("ops-notes-1", "x");
    r.mutable_expected()->set_kind(static_cast<ExpectedVersion::Kind>(42));
    cases.push_back({"unknown expected version", r, "expected.kind"});
  }
  {
    v1::AppendRequest r = AppendOne("ops-notes-1", "x");
    r.mutable_events(0)->set_event_id("not-a-uuid");
    cases.push_back({"bad event id", r, "events[0].event_id"});
  }
  {
    v1::AppendRequest r = AppendOne("ops-notes-1", "x");
    r.clear_events();
    cases.push_back({"no events", r, "events"});
  }
  for (const Case& c : cases) {
    v1::AppendResponse response;
    grpc::Status status = Append(c.request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.name;
    EXPECT_NE(status.error_message().find(c.field), std::string::npos)
        << c.name << ": " << status.error_message();
  }
  EXPECT_EQ(HeadPosition(), 0u);
}

// The status is INVALID_ARGUMENT and its message starts with "`field`:".
::testing::AssertionResult RefusedNaming(const grpc::Status& status,
                                         const std::string& field) {
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
      status.error_message().rfind(field + ":", 0) == 0) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "got " << status.error_code() << " \"" << status.error_message()
         << "\"; want INVALID_ARGUMENT naming " << field;
}

// Domain events only through commands: every typed case of the payload
// (found from the descriptor, so a new kind is covered without a new row) is
// refused on the raw path, also behind an opaque event, even on an ops-
// stream; nothing is written.
TEST_F(EventStoreServiceTest, RawAppendRefusesEveryTypedPayload) {
  const google::protobuf::OneofDescriptor* kind =
      v1::EventPayload::descriptor()->FindOneofByName("kind");
  ASSERT_NE(kind, nullptr);
  int typed = 0;
  for (int f = 0; f < kind->field_count(); ++f) {
    const google::protobuf::FieldDescriptor* field = kind->field(f);
    if (field->number() == v1::EventPayload::kOpaque) continue;
    ++typed;
    v1::AppendRequest request = AppendOne("ops-notes-1", "first");
    *request.add_events() = NoteEvent("second");
    v1::EventPayload* payload = request.mutable_events(1)->mutable_payload();
    payload->GetReflection()->MutableMessage(payload, field);
    ASSERT_EQ(payload->kind_case(), field->number());
    v1::AppendResponse response;
    EXPECT_TRUE(RefusedNaming(Append(request, &response),
                              "events[1].payload." + field->name()));
  }
  EXPECT_GE(typed, 40);
  EXPECT_EQ(HeadPosition(), 0u);
}

// The raw log writes only the reserved namespace: no domain stream (nor
// anything else outside "ops-<name>") as the stream or as a condition.
TEST_F(EventStoreServiceTest, RawAppendWritesOnlyTheOpsNamespace) {
  const std::vector<std::string> outside = {"consent-c-1",
                                            "referral-r-1",
                                            "intervention-i-1",
                                            "agreement-a-1",
                                            "correspondence-m-1",
                                            "safeguarding-g-1",
                                            "sharing-s-1",
                                            "subject-s-1",
                                            "area-school-1",
                                            "overdue-correspondence-m-1",
                                            "pupil-42",
                                            "ops",
                                            "ops-",
                                            "OPS-1",
                                            "xops-1",
                                            "ops/1"};
  for (const std::string& stream : outside) {
    v1::AppendResponse response;
    EXPECT_TRUE(
        RefusedNaming(Append(AppendOne(stream, "x"), &response), "stream"))
        << stream;
    v1::AppendRequest conditioned = AppendOne("ops-notes-1", "x");
    auto* condition = conditioned.add_conditions();
    condition->set_stream(stream);
    condition->mutable_expected()->set_kind(ExpectedVersion::ANY);
    EXPECT_TRUE(
        RefusedNaming(Append(conditioned, &response), "conditions[0].stream"))
        << stream;
  }
  EXPECT_EQ(HeadPosition(), 0u);
  v1::AppendResponse response;
  EXPECT_TRUE(Append(AppendOne("ops-1", "x"), &response).ok());
}

TEST_F(EventStoreServiceTest, VersionConflictIsAbortedWithCurrentVersion) {
  v1::AppendResponse response;
  ASSERT_TRUE(Append(AppendOne("ops-notes-1", "a"), &response).ok());
  ASSERT_TRUE(Append(AppendOne("ops-notes-1", "b"), &response).ok());

  grpc::ClientContext context;
  AsOperator(&context);
  grpc::Status status = server_.stub().Append(
      &context, AppendOne("ops-notes-1", "c", ExpectedVersion::EXACT, 1),
      &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_NE(status.error_message().find("'ops-notes-1' is at version 2"),
            std::string::npos)
      << status.error_message();
  const auto& trailers = context.GetServerTrailingMetadata();
  auto stream = trailers.find(services::kConflictStreamMetadata);
  auto version = trailers.find(services::kConflictVersionMetadata);
  ASSERT_NE(stream, trailers.end());
  ASSERT_NE(version, trailers.end());
  EXPECT_EQ(std::string(stream->second.data(), stream->second.size()),
            "ops-notes-1");
  EXPECT_EQ(std::string(version->second.data(), version->second.size()), "2");
  EXPECT_EQ(HeadPosition(), 2u);
}

TEST_F(EventStoreServiceTest, CrossStreamConditionBlocksStaleAppend) {
  v1::AppendResponse response;
  ASSERT_TRUE(Append(AppendOne("ops-gate", "granted"), &response).ok());
  v1::AppendRequest share = AppendOne("ops-guarded", "shared");
  auto* condition = share.add_conditions();
  condition->set_stream("ops-gate");
  condition->mutable_expected()->set_kind(ExpectedVersion::EXACT);
  condition->mutable_expected()->set_version(1);
  // The gate moves between the check and the append (as a consent stream
  // does between a disclosure's check and its append).
  ASSERT_TRUE(Append(AppendOne("ops-gate", "withdrawn"), &response).ok());
  grpc::Status status = Append(share, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_NE(status.error_message().find("conditions[0]"), std::string::npos);
  EXPECT_EQ(HeadPosition(), 2u);

  condition->mutable_expected()->set_version(2);
  share.mutable_events(0)->set_event_id(NewUuid());
  EXPECT_TRUE(Append(share, &response).ok());
}

TEST_F(EventStoreServiceTest, RetryIsIdempotentAndConflictingRetryFails) {
  v1::AppendRequest request = AppendOne("ops-notes-1", "once");
  *request.add_events() = NoteEvent("twice");
  v1::AppendResponse first;
  ASSERT_TRUE(Append(request, &first).ok());
  EXPECT_FALSE(first.replayed());

  v1::AppendResponse again;
  ASSERT_TRUE(Append(request, &again).ok());
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.first_position(), first.first_position());
  EXPECT_EQ(again.last_position(), first.last_position());
  EXPECT_EQ(HeadPosition(), 2u);

  request.mutable_events(1)->mutable_payload()->mutable_opaque()->set_data(
      "changed");
  grpc::Status status = Append(request, &again);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(HeadPosition(), 2u);
}

TEST_F(EventStoreServiceTest, ReadAllFiltersAndPages) {
  v1::AppendResponse response;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        Append(AppendOne("ops-a-" + std::to_string(i), "c"), &response).ok());
    ASSERT_TRUE(
        Append(AppendOne("ops-b-" + std::to_string(i), "r"), &response).ok());
  }
  v1::ReadAllRequest request;
  request.set_limit(2);
  request.mutable_filter()->set_stream_prefix("ops-b-");
  std::vector<uint64_t> positions;
  for (int page = 0; page < 10; ++page) {
    grpc::ClientContext context;
    AsAuditor(&context);
    v1::ReadAllResponse slice;
    ASSERT_TRUE(server_.stub().ReadAll(&context, request, &slice).ok());
    EXPECT_EQ(slice.head_position(), 10u);
    for (const auto& e : slice.events()) positions.push_back(e.position());
    if (slice.events().empty()) break;
    request.set_from_position(slice.next_position());
  }
  EXPECT_EQ(positions, (std::vector<uint64_t>{2, 4, 6, 8, 10}));
}

TEST_F(EventStoreServiceTest, SubscribeFromStartWhileAppendingSeesEachOnce) {
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 250;
  constexpr uint64_t kTotal = kWriters * kPerWriter;
  // Some history first, so the subscription starts in catch-up.
  v1::AppendResponse response;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(Append(AppendOne("ops-history", "h"), &response).ok());
  }
  grpc::ClientContext context;
  AsAuditor(&context);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(120));
  v1::SubscribeRequest request;
  auto reader = server_.stub().Subscribe(&context, request);

  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([this, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        v1::AppendResponse r;
        ASSERT_TRUE(
            Append(AppendOne("ops-writer-" + std::to_string(w), "x"), &r).ok());
      }
    });
  }
  uint64_t expected = 1;
  int caught_up = 0;
  v1::SubscribeResponse message;
  while (expected <= 100 + kTotal && reader->Read(&message)) {
    if (message.has_caught_up()) {
      ++caught_up;
      continue;
    }
    ASSERT_EQ(message.event().position(), expected);
    ++expected;
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(expected, 100 + kTotal + 1);
  EXPECT_LE(caught_up, 1);
  context.TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(EventStoreServiceTest, SlowSubscriberDoesNotStallAppends) {
  // A subscriber that never reads, on its own connection with a small, fixed
  // flow-control window: the server soon cannot write to it.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto slow_channel = grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string(server_.server().port()),
      grpc::InsecureChannelCredentials(), args);
  auto slow_stub = v1::EventStore::NewStub(slow_channel);
  grpc::ClientContext slow_context;
  AsAuditor(&slow_context);
  slow_context.set_deadline(std::chrono::system_clock::now() +
                            std::chrono::seconds(120));
  auto slow = slow_stub->Subscribe(&slow_context, {});

  const std::string big(16 * 1024, 'p');
  constexpr int kEvents = 600;  // ~10 MB, far past any flow-control window.
  for (int i = 0; i < kEvents; ++i) {
    v1::AppendResponse response;
    v1::AppendRequest request = AppendOne("ops-bulk", big);
    ASSERT_TRUE(Append(request, &response).ok()) << i;
  }
  // Another subscriber is served meanwhile.
  {
    grpc::ClientContext context;
    AsAuditor(&context);
    v1::SubscribeRequest from_end;
    from_end.set_from_position(kEvents);
    auto reader = server_.stub().Subscribe(&context, from_end);
    v1::SubscribeResponse message;
    ASSERT_TRUE(reader->Read(&message));
    EXPECT_EQ(message.event().position(), static_cast<uint64_t>(kEvents));
    context.TryCancel();
    reader->Finish();
  }
  // The slow one still gets everything, in order.
  v1::SubscribeResponse message;
  uint64_t expected = 1;
  while (expected <= kEvents && slow->Read(&message)) {
    if (message.has_event()) {
      ASSERT_EQ(message.event().position(), expected);
      ++expected;
    }
  }
  EXPECT_EQ(expected, static_cast<uint64_t>(kEvents) + 1);
  slow_context.TryCancel();
  slow->Finish();
}

TEST_F(EventStoreServiceTest, ShutdownEndsOpenSubscriptionsWithUnavailable) {
  grpc::ClientContext context;
  AsAuditor(&context);
  auto reader = server_.stub().Subscribe(&context, {});
  v1::SubscribeResponse message;
  ASSERT_TRUE(reader->Read(&message));  // caught_up on the empty log
  EXPECT_TRUE(message.has_caught_up());
  server_.server().Shutdown(absl::Seconds(30));
  EXPECT_FALSE(reader->Read(&message));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(EventStoreServiceTest, LargeEventsReadBackWithinTheClientsMessageLimit) {
  // 100 events of 60 KiB: 6 MB, more than a gRPC client accepts at once.
  const std::string payload(60 * 1024, 'z');
  for (int i = 0; i < 100; ++i) {
    v1::AppendResponse response;
    ASSERT_TRUE(Append(AppendOne("ops-large", payload), &response).ok());
  }
  uint64_t from = 1;
  size_t seen = 0;
  for (int page = 0; page < 100 && seen < 100; ++page) {
    grpc::ClientContext context;
    AsAuditor(&context);
    v1::ReadAllRequest request;
    request.set_from_position(from);
    v1::ReadAllResponse slice;
    grpc::Status status = server_.stub().ReadAll(&context, request, &slice);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_GT(slice.events_size(), 0);
    seen += slice.events_size();
    from = slice.next_position();
  }
  EXPECT_EQ(seen, 100u);
  grpc::ClientContext context;
  AsAuditor(&context);
  v1::ReadStreamRequest read;
  read.set_stream("ops-large");
  v1::ReadStreamResponse events;
  grpc::Status status = server_.stub().ReadStream(&context, read, &events);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(events.next_version(), 1u);
}

TEST_F(EventStoreServiceTest, SubscribePastTheHeadIsOutOfRange) {
  v1::AppendResponse response;
  ASSERT_TRUE(Append(AppendOne("ops-notes-1", "x"), &response).ok());
  {
    grpc::ClientContext context;
    AsAuditor(&context);
    v1::SubscribeRequest request;
    request.set_from_position(1000);
    auto reader = server_.stub().Subscribe(&context, request);
    v1::SubscribeResponse message;
    EXPECT_FALSE(reader->Read(&message));
    grpc::Status status = reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
    EXPECT_NE(status.error_message().find("from_position"), std::string::npos);
  }
  // From head + 1 is fine, and caught_up names the real head.
  grpc::ClientContext context;
  AsAuditor(&context);
  v1::SubscribeRequest request;
  request.set_from_position(2);
  auto reader = server_.stub().Subscribe(&context, request);
  v1::SubscribeResponse message;
  ASSERT_TRUE(reader->Read(&message));
  ASSERT_TRUE(message.has_caught_up());
  EXPECT_EQ(message.caught_up().head_position(), 1u);
  context.TryCancel();
  reader->Finish();
}

TEST(EventStoreRestartTest, RestartKeepsEventsAndVersions) {
  TempDir dir;
  std::string hash;
  {
    TestServer server(dir.path());
    for (int i = 0; i < 3; ++i) {
      grpc::ClientContext context;
      AsOperator(&context);
      v1::AppendResponse response;
      ASSERT_TRUE(
          server.stub()
              .Append(&context, AppendOne("ops-notes-1", "x"), &response)
              .ok());
    }
    hash = server.server().log().GetHead().hash;
  }
  TestServer server(dir.path());
  EXPECT_EQ(server.server().log().GetHead().position, 3u);
  EXPECT_EQ(server.server().log().GetHead().hash, hash);
  grpc::ClientContext context;
  AsOperator(&context);
  v1::AppendResponse response;
  ASSERT_TRUE(
      server.stub()
          .Append(&context,
                  AppendOne("ops-notes-1", "y", ExpectedVersion::EXACT, 3),
                  &response)
          .ok());
  EXPECT_EQ(response.first_position(), 4u);
  EXPECT_EQ(response.stream_version(), 4u);
}

}  // namespace
}  // namespace ycr::testing
