// The generic command line's calls (cli_generic.h): the call's context,
// channels to the server (the caller's own, and one per identity for `ycr
// demo`), and one call through grpc::GenericStub with its responses printed.
// The other parts: cli_commands.cc (words and help), cli_requests.cc
// (building requests), cli_output.cc (printing responses).

#include "clients/cli/cli_generic.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "clients/cli/cli_generic_internal.h"
#include "clients/follow_leader.h"
#include "common/error_details.h"
#include "common/not_leader.h"
#include "common/wire_names.h"
#include "google/protobuf/dynamic_message.h"
#include "grpcpp/generic/generic_stub.h"

namespace ycr::cli {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::MethodDescriptor;

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  (void)buffer.Dump(&slices);
  std::string out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

// Whether `m` says a subscription has caught up (a oneof member named
// caught_up is set): without --follow, a stream stops there.
bool CaughtUp(const Message& m) {
  const FieldDescriptor* f = m.GetDescriptor()->FindFieldByName("caught_up");
  return f != nullptr && !f->is_repeated() &&
         f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
         m.GetReflection()->HasField(m, f);
}

}  // namespace

void PrepareContext(grpc::ClientContext* context, const CallSettings& settings,
                    bool deadline) {
  if (settings.identity_metadata) {
    context->AddMetadata(kOrganisationMetadata, settings.organisation);
    context->AddMetadata(kUserMetadata, settings.user);
    context->AddMetadata(kRoleMetadata, settings.role);
  }
  if (deadline) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(settings.timeout_seconds));
  }
}

Channels::Channels(std::string target, services::ClientSecurity security,
                   std::string identities)
    : target_(std::move(target)),
      security_(std::move(security)),
      identities_(std::move(identities)),
      own_(services::OpenChannel(target_, security_)) {}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Channels::As(
    const std::string& organisation, const std::string& user) {
  if (security_.insecure) return own_;
  if (identities_.empty()) {
    return absl::InvalidArgumentError(
        "acting as other organisations over mutual TLS needs their "
        "certificates: give --tls_identities DIR (deploy/dev-ca.sh makes "
        "them)");
  }
  const std::string key = absl::StrCat(organisation, "/", user);
  auto it = by_identity_.find(key);
  if (it != by_identity_.end()) return it->second;
  absl::StatusOr<services::ClientSecurity> security =
      services::IdentityFromDirectory(security_, identities_, organisation,
                                      user);
  if (!security.ok()) return security.status();
  std::shared_ptr<grpc::Channel> channel =
      services::OpenChannel(target_, *security);
  by_identity_.emplace(key, channel);
  return channel;
}

namespace {

// Call, once: `*leader` is set to the leader a NOT_LEADER refusal names.
int CallOnce(const std::shared_ptr<grpc::Channel>& channel,
             const MethodDescriptor* method, const Message& request,
             const CallSettings& settings, std::ostream& out, std::ostream& err,
             std::string* leader) {
  if (method->client_streaming()) {
    err << "ycr: " << method->full_name()
        << " streams requests; the command line does not\n";
    return 2;
  }
  grpc::ClientContext context;
  const bool streaming = method->server_streaming();
  PrepareContext(&context, settings, !(streaming && settings.follow));
  std::string bytes;
  if (!request.SerializeToString(&bytes)) {
    err << "ycr: the request could not be serialised\n";
    return 2;
  }
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  const std::string path =
      absl::StrCat("/", method->service()->full_name(), "/", method->name());
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, path, &cq);
  // One operation at a time: each is awaited before the next starts.
  auto await = [&cq](void* tag) {
    void* got = nullptr;
    bool ok = false;
    if (!cq.Next(&got, &ok)) return false;
    return ok && got == tag;
  };
  int tag = 0;
  call->StartCall(&tag);
  bool ok = await(&tag);
  if (ok) {
    call->WriteLast(ToBuffer(bytes), grpc::WriteOptions(), &tag);
    ok = await(&tag);
  }
  google::protobuf::DynamicMessageFactory factory;
  const Message* prototype = factory.GetPrototype(method->output_type());
  bool cancelled = false;
  bool unparsable = false;
  size_t received = 0;
  while (ok) {
    grpc::ByteBuffer buffer;
    call->Read(&buffer, &tag);
    if (!await(&tag)) break;
    std::unique_ptr<Message> response(prototype->New());
    if (!response->ParseFromString(FromBuffer(buffer))) {
      err << "ycr: could not parse a " << method->output_type()->full_name()
          << " from the server\n";
      context.TryCancel();
      cancelled = true;
      unparsable = true;
      continue;
    }
    if (cancelled) continue;
    ++received;
    const bool stop = streaming && !settings.follow && CaughtUp(*response);
    if (stop) {
      context.TryCancel();
      cancelled = true;
      continue;
    }
    if (settings.json) {
      out << ToJson(*response) << "\n";
    } else {
      if (streaming && received > 1) out << "\n";
      out << ToHuman(*response);
    }
    out.flush();
  }
  grpc::Status status;
  call->Finish(&status, &tag);
  void* got = nullptr;
  bool finished = false;
  (void)cq.Next(&got, &finished);
  cq.Shutdown();
  while (cq.Next(&got, &finished)) {
  }
  if (unparsable) return 1;
  if (cancelled && status.error_code() == grpc::StatusCode::CANCELLED) {
    return 0;
  }
  if (!status.ok()) {
    err << "ycr: " << StatusCodeName(status.error_code()) << ": "
        << status.error_message() << "\n";
    int code = 0;
    std::string message;
    ErrorDetails details;
    if (settings.json) {
      const std::string json = RpcStatusJson(status.error_details());
      if (!json.empty()) err << json << "\n";
    } else if (ParseRpcStatus(status.error_details(), &code, &message,
                              &details)) {
      err << DescribeDetails(details);
    }
    if (ParseNotLeader(status.error_details(), leader) && !leader->empty() &&
        !settings.json) {
      err << "  leader: " << *leader << "\n";
    }
    return 1;
  }
  if (!streaming && received == 0) {
    err << "ycr: the server answered OK without a response\n";
    return 1;
  }
  return 0;
}

}  // namespace

int Call(const std::shared_ptr<grpc::Channel>& channel,
         const MethodDescriptor* method, const Message& request,
         const CallSettings& settings, std::ostream& out, std::ostream& err) {
  return clients::FollowLeaderOnce<int>(
      channel, settings.redial,
      [&](const std::shared_ptr<grpc::Channel>& to, std::string* leader) {
        return CallOnce(to, method, request, settings, out, err, leader);
      },
      [&err](const std::string& leader) {
        err << "ycr: following the leader at " << leader << "\n";
      });
}

}  // namespace ycr::cli
