// What an operator and a load balancer see of a running server: health
// checking (grpc.health.v1), server reflection, and the drain on shutdown
// (health flips first; in-flight calls finish; new calls are refused).

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_callback.h>

#include <atomic>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/test_server.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

std::shared_ptr<grpc::Channel> Connect(int port) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureChannelCredentials());
}

// The server's overall health ("" service), or the call's error.
absl::StatusOr<HealthCheckResponse::ServingStatus> CheckHealth(
    Health::Stub& stub) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  HealthCheckResponse response;
  grpc::Status status = stub.Check(&context, HealthCheckRequest(), &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  return response.status();
}

// The services a server lists through reflection
// (grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo). The
// message types come from the descriptors that grpc++_reflection registers
// in this process; the call is a generic bidirectional stream.
std::set<std::string> ReflectedServices(grpc::Channel& channel) {
  namespace pb = google::protobuf;
  const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
  const pb::Descriptor* request_type = pool->FindMessageTypeByName(
      "grpc.reflection.v1alpha.ServerReflectionRequest");
  const pb::Descriptor* response_type = pool->FindMessageTypeByName(
      "grpc.reflection.v1alpha.ServerReflectionResponse");
  EXPECT_NE(request_type, nullptr);
  EXPECT_NE(response_type, nullptr);
  if (request_type == nullptr || response_type == nullptr) return {};
  pb::DynamicMessageFactory factory(pool);
  std::unique_ptr<pb::Message> request(
      factory.GetPrototype(request_type)->New());
  request->GetReflection()->SetString(
      request.get(), request_type->FindFieldByName("list_services"), "*");
  grpc::Slice request_slice(request->SerializeAsString());
  grpc::ByteBuffer request_bytes(&request_slice, 1);

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  grpc::internal::RpcMethod method(
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      grpc::internal::RpcMethod::BIDI_STREAMING);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>>
      stream(grpc::internal::ClientReaderWriterFactory<
             grpc::ByteBuffer, grpc::ByteBuffer>::Create(&channel, method,
                                                         &context));
  EXPECT_TRUE(stream->Write(request_bytes));
  stream->WritesDone();
  grpc::ByteBuffer response_bytes;
  std::set<std::string> names;
  if (stream->Read(&response_bytes)) {
    std::unique_ptr<pb::Message> response(
        factory.GetPrototype(response_type)->New());
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(response_bytes.Dump(&slices).ok());
    std::string bytes;
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    EXPECT_TRUE(response->ParseFromString(bytes));
    const pb::Reflection* r = response->GetReflection();
    const pb::Message& list = r->GetMessage(
        *response, response_type->FindFieldByName("list_services_response"));
    const pb::FieldDescriptor* service_field =
        list.GetDescriptor()->FindFieldByName("service");
    for (int i = 0; i < list.GetReflection()->FieldSize(list, service_field);
         ++i) {
      const pb::Message& service =
          list.GetReflection()->GetRepeatedMessage(list, service_field, i);
      names.insert(service.GetReflection()->GetString(
          service, service.GetDescriptor()->FindFieldByName("name")));
    }
  }
  while (stream->Read(&response_bytes)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
  return names;
}

TEST(OperationsTest, HealthIsServingOnceStarted) {
  TempDir dir;
  TestServer server(dir.path());
  auto health = Health::NewStub(Connect(server.server().port()));
  EXPECT_EQ(CheckHealth(*health).value(), HealthCheckResponse::SERVING);
}

TEST(OperationsTest, DrainingReportsNotServingButStillServesCalls) {
  TempDir dir;
  TestServer server(dir.path());
  auto health = Health::NewStub(Connect(server.server().port()));

  // A watcher (as a load balancer keeps) hears the flip as it happens.
  grpc::ClientContext watch_context;
  auto watch = health->Watch(&watch_context, HealthCheckRequest());
  HealthCheckResponse seen;
  ASSERT_TRUE(watch->Read(&seen));
  EXPECT_EQ(seen.status(), HealthCheckResponse::SERVING);

  server.server().BeginDrain();
  ASSERT_TRUE(watch->Read(&seen));
  EXPECT_EQ(seen.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(CheckHealth(*health).value(), HealthCheckResponse::NOT_SERVING);
  // Watch streams never end by themselves; one left open would hold the
  // shutdown for its whole grace period.
  watch_context.TryCancel();
  watch->Finish().IgnoreError();

  // Draining is advice to balancers, not refusal: calls still succeed.
  grpc::ClientContext context;
  AsCaller(&context, "ops");
  v1::AppendResponse response;
  EXPECT_TRUE(server.stub()
                  .Append(&context, AppendOne("ops-notes-1", "late"), &response)
                  .ok());
}

TEST(OperationsTest, ReflectionListsEveryServedService) {
  TempDir dir;
  TestServer server(dir.path());
  std::set<std::string> services =
      ReflectedServices(*Connect(server.server().port()));
  for (const char* name :
       {"ycr.v1.EventStore", "ycr.v1.Consents", "ycr.v1.Audit",
        "ycr.v1.Deadlines", "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection"}) {
    EXPECT_TRUE(services.count(name)) << name << " not listed";
  }
}

TEST(OperationsTest, ShutdownFinishesInFlightCallsAndRefusesNewOnes) {
  TempDir dir;
  TestServer server(dir.path());
  auto channel = Connect(server.server().port());
  auto health = Health::NewStub(channel);
  auto caseloads = v1::Caseloads::NewStub(channel);

  // In flight: a query waiting for a position not yet written.
  const uint64_t next = server.server().log().GetHead().position + 1;
  v1::CaseloadCountsRequest request;
  request.set_organisation("school-100001");
  request.set_min_position(next);
  v1::CaseloadCounts counts;
  grpc::ClientContext query_context;
  AsCaller(&query_context);
  std::promise<grpc::Status> query_done;
  caseloads->async()->Counts(
      &query_context, &request, &counts,
      [&query_done](grpc::Status s) { query_done.set_value(std::move(s)); });
  std::future<grpc::Status> query_status = query_done.get_future();
  // A later call on the same connection that has been answered: the query
  // reached the server before it.
  ASSERT_TRUE(CheckHealth(*health).ok());

  std::thread stopper([&] { server.server().Shutdown(absl::Seconds(30)); });
  // New calls are refused once the shutdown has begun (each attempt returns
  // at once; the loop ends at the first refusal).
  absl::StatusOr<HealthCheckResponse::ServingStatus> probe;
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  do {
    probe = CheckHealth(*health);
  } while (probe.ok() && absl::Now() < give_up);
  // gRPC cancels a call that arrives on an open connection during shutdown,
  // and answers UNAVAILABLE once the connection is gone.
  EXPECT_TRUE(probe.status().code() == absl::StatusCode::kCancelled ||
              probe.status().code() == absl::StatusCode::kUnavailable)
      << probe.status();
  EXPECT_EQ(query_status.wait_for(std::chrono::seconds(0)),
            std::future_status::timeout)
      << "the in-flight query ended before its position was written";

  // The position it waits for is written: it finishes, successfully.
  storage::AppendRequest append;
  append.stream = "pupil-1";
  append.events.push_back(NoteEvent("unblocks the query"));
  append.actor.set_organisation("school-100001");
  append.actor.set_user("dsl-1");
  append.actor.set_role("school");
  ASSERT_TRUE(server.server().log().Append(std::move(append)).ok());
  grpc::Status finished = query_status.get();
  EXPECT_TRUE(finished.ok()) << finished.error_message();
  stopper.join();
}

}  // namespace
}  // namespace ycr::testing
