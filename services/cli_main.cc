// ycr: command-line client of the ycr gRPC API.
//
//   ycr head                         the log head (position and hash)
//   ycr log append STREAM TYPE DATA  append one opaque event
//   ycr log read STREAM              read a stream
//   ycr log tail [--follow]          read the whole log (and follow it)

#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/command_line.h"
#include "common/ids.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "services/caller_identity.h"
#include "services/grpc_status.h"
#include "ycr/v1/event_store.grpc.pb.h"

ABSL_FLAG(std::string, server, "",
          "Server address host:port. Default: $YCR_SERVER, else "
          "127.0.0.1:7070.");
ABSL_FLAG(std::string, organisation, "",
          "Caller organisation. Default: $YCR_ORGANISATION, else 'local'.");
ABSL_FLAG(std::string, user, "",
          "Caller user. Default: $YCR_USER, else $USER, else 'operator'.");
ABSL_FLAG(std::string, role, "",
          "Caller role. Default: $YCR_ROLE, else 'admin'.");
ABSL_FLAG(bool, json, false, "Print protobuf JSON, one object per line.");
ABSL_FLAG(int, timeout_seconds, 10, "Deadline of each call.");
ABSL_FLAG(std::string, expected, "any",
          "log append: expected version: any, no_stream, exists or a number.");
ABSL_FLAG(uint64_t, from, 0, "log read / log tail: first version / position.");
ABSL_FLAG(uint32_t, limit, 100, "log read / log tail: most events per page.");
ABSL_FLAG(bool, backwards, false, "log read: newest first.");
ABSL_FLAG(bool, follow, false, "log tail: keep following new events.");
ABSL_FLAG(std::string, prefix, "", "log tail: only streams with this prefix.");

namespace {

constexpr char kUsage[] =
    "ycr: command-line client of the ycr gRPC API.\n"
    "Usage:\n"
    "  ycr head                          the log head (position and hash)\n"
    "  ycr log append STREAM TYPE DATA   append one opaque event\n"
    "  ycr log read STREAM               read a stream\n"
    "  ycr log tail [--follow]           read the whole log, or follow it\n"
    "Exit codes: 0 ok, 1 the server refused or failed (the gRPC status is\n"
    "printed), 2 bad usage.";

std::string FromFlagOrEnv(const std::string& flag, const char* env,
                          const char* fallback) {
  if (!flag.empty()) return flag;
  if (const char* v = std::getenv(env); v != nullptr && *v != '\0') return v;
  return fallback;
}

int Usage(const std::string& problem) {
  std::cerr << "ycr: " << problem << "\n\n" << kUsage << "\n";
  return 2;
}

int Failed(const grpc::Status& status) {
  std::cerr << "ycr: " << ycr::services::StatusCodeName(status.error_code())
            << ": " << status.error_message() << "\n";
  return 1;
}

void Prepare(grpc::ClientContext* context, bool deadline = true) {
  const char* user_env = std::getenv("USER");
  context->AddMetadata(ycr::services::kOrganisationMetadata,
                       FromFlagOrEnv(absl::GetFlag(FLAGS_organisation),
                                     "YCR_ORGANISATION", "local"));
  context->AddMetadata(
      ycr::services::kUserMetadata,
      FromFlagOrEnv(absl::GetFlag(FLAGS_user), "YCR_USER",
                    user_env != nullptr ? user_env : "operator"));
  context->AddMetadata(
      ycr::services::kRoleMetadata,
      FromFlagOrEnv(absl::GetFlag(FLAGS_role), "YCR_ROLE", "admin"));
  if (deadline) {
    context->set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::seconds(absl::GetFlag(FLAGS_timeout_seconds)));
  }
}

void PrintJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  std::cout << out << "\n";
}

void PrintEvent(const ycr::v1::RecordedEvent& e) {
  if (absl::GetFlag(FLAGS_json)) return PrintJson(e);
  using google::protobuf::util::TimeUtil;
  std::cout << e.position() << "\t" << e.stream() << "@" << e.stream_version()
            << "\t" << e.event_type() << "\t"
            << TimeUtil::ToString(e.recorded_at()) << "\t"
            << e.actor().organisation() << "/" << e.actor().user() << "/"
            << e.actor().role() << "\t"
            << absl::BytesToHexString(e.hash()).substr(0, 16) << "\n";
}

int Head(ycr::v1::EventStore::Stub& stub) {
  grpc::ClientContext context;
  Prepare(&context);
  ycr::v1::HeadResponse response;
  grpc::Status status = stub.Head(&context, {}, &response);
  if (!status.ok()) return Failed(status);
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(response);
  } else {
    std::cout << "position " << response.position() << "\nhash     "
              << absl::BytesToHexString(response.hash()) << "\n";
  }
  return 0;
}

int Append(ycr::v1::EventStore::Stub& stub, const std::string& stream,
           const std::string& type, const std::string& data) {
  ycr::v1::AppendRequest request;
  request.set_stream(stream);
  const std::string expected = absl::GetFlag(FLAGS_expected);
  uint64_t version = 0;
  if (expected == "any") {
    request.mutable_expected()->set_kind(ycr::v1::ExpectedVersion::ANY);
  } else if (expected == "no_stream") {
    request.mutable_expected()->set_kind(ycr::v1::ExpectedVersion::NO_STREAM);
  } else if (expected == "exists") {
    request.mutable_expected()->set_kind(ycr::v1::ExpectedVersion::EXISTS);
  } else if (absl::SimpleAtoi(expected, &version)) {
    request.mutable_expected()->set_kind(ycr::v1::ExpectedVersion::EXACT);
    request.mutable_expected()->set_version(version);
  } else {
    return Usage("--expected: use any, no_stream, exists or a number");
  }
  ycr::v1::ProposedEvent* event = request.add_events();
  event->set_event_id(ycr::NewUuid());
  event->mutable_payload()->mutable_opaque()->set_type(type);
  event->mutable_payload()->mutable_opaque()->set_data(data);
  *event->mutable_occurred_at() =
      google::protobuf::util::TimeUtil::GetCurrentTime();
  grpc::ClientContext context;
  Prepare(&context);
  ycr::v1::AppendResponse response;
  grpc::Status status = stub.Append(&context, request, &response);
  if (!status.ok()) return Failed(status);
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(response);
  } else {
    std::cout << "appended at position " << response.first_position() << ", "
              << stream << " now at version " << response.stream_version()
              << "\n";
  }
  return 0;
}

int Read(ycr::v1::EventStore::Stub& stub, const std::string& stream) {
  ycr::v1::ReadStreamRequest request;
  request.set_stream(stream);
  request.set_from_version(absl::GetFlag(FLAGS_from));
  request.set_backwards(absl::GetFlag(FLAGS_backwards));
  request.set_limit(absl::GetFlag(FLAGS_limit));
  grpc::ClientContext context;
  Prepare(&context);
  ycr::v1::ReadStreamResponse response;
  grpc::Status status = stub.ReadStream(&context, request, &response);
  if (!status.ok()) return Failed(status);
  for (const auto& e : response.events()) PrintEvent(e);
  return 0;
}

int Tail(ycr::v1::EventStore::Stub& stub) {
  ycr::v1::SubscribeRequest request;
  request.set_from_position(absl::GetFlag(FLAGS_from));
  request.mutable_filter()->set_stream_prefix(absl::GetFlag(FLAGS_prefix));
  grpc::ClientContext context;
  Prepare(&context, /*deadline=*/false);
  auto reader = stub.Subscribe(&context, request);
  ycr::v1::SubscribeResponse response;
  while (reader->Read(&response)) {
    if (response.has_event()) {
      PrintEvent(response.event());
    } else if (!absl::GetFlag(FLAGS_follow)) {
      context.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    return Failed(status);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = ycr::InitCommandLine(argc, argv, kUsage);
  const std::string server = FromFlagOrEnv(absl::GetFlag(FLAGS_server),
                                           "YCR_SERVER", "127.0.0.1:7070");
  auto channel =
      grpc::CreateChannel(server, grpc::InsecureChannelCredentials());
  auto stub = ycr::v1::EventStore::NewStub(channel);
  auto arg = [&](size_t i) { return std::string(args[i]); };
  if (args.size() == 2 && arg(1) == "head") return Head(*stub);
  if (args.size() >= 3 && arg(1) == "log") {
    if (arg(2) == "append" && args.size() == 6) {
      return Append(*stub, arg(3), arg(4), arg(5));
    }
    if (arg(2) == "read" && args.size() == 4) return Read(*stub, arg(3));
    if (arg(2) == "tail" && args.size() == 3) return Tail(*stub);
  }
  return Usage(args.size() < 2 ? "no command given" : "unknown command");
}
