#pragma once

// Every RPC of ycr.v1, found from the compiled-in descriptors (a test that
// uses this links ycr_proto whole-archive, so a service no code references
// is found too), and a way to call any of them with raw request bytes.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "tests/integration/test_server.h"

namespace ycr::testing {

// Every method of every service of package ycr.v1 compiled in.
inline std::vector<const google::protobuf::MethodDescriptor*> AllMethods() {
  std::vector<std::string> files;
  google::protobuf::DescriptorPool::internal_generated_database()
      ->FindAllFileNames(&files);
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  std::vector<const google::protobuf::MethodDescriptor*> methods;
  for (const std::string& name : files) {
    const google::protobuf::FileDescriptor* file = pool->FindFileByName(name);
    if (file == nullptr || file->package() != "ycr.v1") continue;
    for (int s = 0; s < file->service_count(); ++s) {
      for (int m = 0; m < file->service(s)->method_count(); ++m) {
        methods.push_back(file->service(s)->method(m));
      }
    }
  }
  return methods;
}

// The read RPCs: every method but those that write or operate.
inline std::vector<const google::protobuf::MethodDescriptor*> ReadMethods() {
  std::vector<const google::protobuf::MethodDescriptor*> reads;
  for (const google::protobuf::MethodDescriptor* m : AllMethods()) {
    const std::string name = m->name();
    if (m->output_type()->name() == "CommandResponse" || name == "Append" ||
        name == "Erase" || name == "Backup" || name == "Rebuild" ||
        name == "AdvanceTime") {
      continue;
    }
    reads.push_back(m);
  }
  return reads;
}

// The gRPC path of `m`: "/package.Service/Method".
inline std::string Path(const google::protobuf::MethodDescriptor* m) {
  return absl::StrCat("/", m->service()->full_name(), "/", m->name());
}

// Calls `path` with the serialized `request` in `context` (the caller sets
// its identity and deadline) and returns every message answered, as bytes
// (a stream read to its end, or cancelled after `max`); the status in
// `*status`.
inline std::vector<std::string> CallCollect(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
    const std::string& request, grpc::ClientContext* context,
    grpc::Status* status, int max = 2000) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(context, path, &cq);
  int tag = 0;
  auto await = [&cq](void* t) {
    void* got = nullptr;
    bool ok = false;
    return cq.Next(&got, &ok) && ok && got == t;
  };
  std::vector<std::string> messages;
  call->StartCall(&tag);
  if (await(&tag)) {
    grpc::Slice slice(request);
    grpc::ByteBuffer buffer(&slice, 1);
    call->WriteLast(buffer, grpc::WriteOptions(), &tag);
    if (await(&tag)) {
      for (int n = 0; n < max; ++n) {
        grpc::ByteBuffer response;
        call->Read(&response, &tag);
        if (!await(&tag)) break;
        std::vector<grpc::Slice> slices;
        (void)response.Dump(&slices);
        std::string& bytes = messages.emplace_back();
        for (const grpc::Slice& s : slices) {
          bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
        }
      }
    }
  }
  if (messages.size() == static_cast<size_t>(max)) context->TryCancel();
  call->Finish(status, &tag);
  (void)await(&tag);
  cq.Shutdown();
  void* got = nullptr;
  bool ok = false;
  while (cq.Next(&got, &ok)) {
  }
  return messages;
}

// Calls `path` with the serialized `request` as (organisation, user, role),
// or with no identity (only a deadline) when `role` is empty. A stream is
// cancelled after its first message, which counts as OK.
inline grpc::Status CallRaw(const std::shared_ptr<grpc::Channel>& channel,
                            const std::string& path, const std::string& request,
                            const std::string& organisation,
                            const std::string& user, const std::string& role) {
  grpc::ClientContext context;
  if (!role.empty()) {
    AsCaller(&context, organisation, user, role);
  } else {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
  }
  grpc::Status status;
  const bool got_message =
      !CallCollect(channel, path, request, &context, &status, 1).empty();
  if (got_message && status.error_code() == grpc::StatusCode::CANCELLED) {
    return grpc::Status::OK;
  }
  return status;
}

// The messages `m` answered (CallCollect), each as text and as bytes, with
// when a pack was compiled (the server's wall clock) cleared.
inline std::string AnsweredText(const google::protobuf::MethodDescriptor* m,
                                std::vector<std::string> answered) {
  std::string text;
  for (std::string& bytes : answered) {
    std::unique_ptr<google::protobuf::Message> out(
        google::protobuf::MessageFactory::generated_factory()
            ->GetPrototype(m->output_type())
            ->New());
    out->ParseFromString(bytes);
    if (const google::protobuf::FieldDescriptor* at =
            out->GetDescriptor()->FindFieldByName("compiled_at")) {
      out->GetReflection()->ClearField(out.get(), at);
      bytes = out->SerializeAsString();
    }
    absl::StrAppend(&text, out->DebugString(), bytes, "\n");
  }
  return text;
}

}  // namespace ycr::testing
