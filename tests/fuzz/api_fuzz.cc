// Fuzzes every RPC through a real in-process server (127.0.0.1:0, a
// temporary store, a manual clock) with mutated valid requests, and asserts
// that the store never holds a value the contract's validator
// (domain/message_validation.h) would refuse: after each call,
// every event appended since the last one is read back (its personal part
// revealed) and validated whole; a refusal aborts.
//
// Input (tests/fuzz/fuzz_input.h chunks): the method (its path, or a byte
// choosing one), the caller (a byte choosing one of ApiIdentities()), a
// mode byte, then the mode's data:
//   0: the method's seed request (api_seeds.h) with the data appended
//      (serialized fields appended to a message override or add to it:
//      new values, unknown fields, undefined enum numbers);
//   1: the data itself as the request;
//   2: the seed's bytes with the data written over them at an offset;
//   3: the seed with one of its fields (chosen by a byte) set from the
//      data: strings to the bytes, numbers and enums to their value,
//      messages replaced by the data parsed.
// In modes 0 and 3 the request id, event ids and the ids the seed creates
// are fresh on every call, so that mutated commands are new commands.
// The Testing service is not driven: moving the clock centuries ahead would
// stamp events with times the validator refuses, by design of the test
// service, not by a request.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "domain/message_validation.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/text_format.h"
#include "services/security/access_policy.h"
#include "services/security/caller_identity.h"
#include "services/server.h"
#include "storage/event_log.h"
#include "tests/fuzz/api_seeds.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace ycr;  // NOLINT: a fuzz target's one file.
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

struct Method {
  std::string path;
  const Descriptor* input = nullptr;
  std::string seed;  // Serialized.
  bool streaming = false;
};

struct World {
  std::string dir;
  std::unique_ptr<ManualClock> clock;
  std::unique_ptr<services::Server> server;
  std::shared_ptr<grpc::Channel> channel;
  std::vector<Method> methods;
  uint64_t checked = 0;  // Log position validated up to.
  uint64_t calls = 0;    // Numbers fresh ids.
};

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "api_fuzz: %s\n", what.c_str());
  std::abort();
}

const google::protobuf::MethodDescriptor* FindMethod(const std::string& path) {
  // "/ycr.v1.Service/Method" -> "ycr.v1.Service.Method".
  std::string name = path.substr(1);
  name[name.find('/')] = '.';
  return google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
      name);
}

// Calls `path` with the raw `request` as `identity`; the status does not
// matter (the store does), only that the call ends.
void Call(World& world, const Method& method, const std::string& request,
          const std::pair<std::string, std::string>& identity) {
  grpc::ClientContext context;
  context.AddMetadata(services::kOrganisationMetadata, identity.first);
  context.AddMetadata(services::kUserMetadata, "user-1");
  context.AddMetadata(services::kRoleMetadata, identity.second);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  grpc::GenericStub stub(world.channel);
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&context, method.path, &cq);
  auto await = [&cq](void* tag) {
    void* got = nullptr;
    bool ok = false;
    return cq.Next(&got, &ok) && ok && got == tag;
  };
  int tag = 0;
  call->StartCall(&tag);
  if (await(&tag)) {
    grpc::Slice slice(request);
    grpc::ByteBuffer buffer(&slice, 1);
    call->WriteLast(buffer, grpc::WriteOptions(), &tag);
    if (await(&tag)) {
      grpc::ByteBuffer response;
      call->Read(&response, &tag);
      // A stream is not read to its end (a subscription never ends).
      if (await(&tag) && method.streaming) context.TryCancel();
    }
  }
  grpc::Status status;
  call->Finish(&status, &tag);
  void* got = nullptr;
  bool ok = false;
  (void)cq.Next(&got, &ok);
  cq.Shutdown();
  while (cq.Next(&got, &ok)) {
  }
}

// Every event appended since the last check, personal part revealed,
// must pass the validator.
void CheckStore(World& world) {
  storage::EventLog& log = world.server->log();
  while (world.checked < log.GetHead().position) {
    absl::StatusOr<storage::LogSlice> slice =
        log.ReadAll(world.checked + 1, 1000, storage::LogFilter());
    if (!slice.ok()) Fail(absl::StrCat("read: ", slice.status().ToString()));
    if (absl::Status s = storage::RevealAll(log, slice->events); !s.ok()) {
      Fail(absl::StrCat("reveal: ", s.ToString()));
    }
    for (const v1::RecordedEvent& event : slice->events) {
      if (absl::Status s = domain::ValidateMessage(event); !s.ok()) {
        Fail(absl::StrCat("the store holds a value the validator refuses: ",
                          s.ToString(), "\n", event.DebugString()));
      }
    }
    if (slice->next_position <= world.checked + 1) break;
    world.checked = slice->next_position - 1;
  }
}

World& TheWorld() {
  static World* world = [] {
    // Mutated strings are not UTF-8: protobuf says so on every call.
    google::protobuf::SetLogHandler(nullptr);
    auto* w = new World();
    std::string pattern =
        (std::filesystem::temp_directory_path() / "ycr-api-fuzz-XXXXXX")
            .string();
    if (mkdtemp(pattern.data()) == nullptr) Fail("mkdtemp");
    w->dir = pattern;
    w->clock =
        std::make_unique<ManualClock>(absl::FromUnixSeconds(fuzz::kApiFuzzNow));
    services::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.security.insecure = true;
    options.log.path = w->dir;
    options.log.sync = false;
    options.clock = w->clock.get();
    absl::StatusOr<std::unique_ptr<services::Server>> server =
        services::Server::Start(std::move(options));
    if (!server.ok()) Fail(server.status().ToString());
    w->server = *std::move(server);
    w->channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", w->server->port()),
                            grpc::InsecureChannelCredentials());
    for (const fuzz::ApiSeed& seed : fuzz::ApiSeeds()) {
      const auto* m = FindMethod(seed.path);
      if (m == nullptr) Fail("no method " + seed.path);
      std::unique_ptr<Message> request(
          google::protobuf::MessageFactory::generated_factory()
              ->GetPrototype(m->input_type())
              ->New());
      if (!google::protobuf::TextFormat::ParseFromString(seed.request,
                                                         request.get())) {
        Fail("seed of " + seed.path + " does not parse");
      }
      if (!domain::ValidateMessage(*request).ok()) {
        Fail("seed of " + seed.path + " is not valid");
      }
      w->methods.push_back({seed.path, m->input_type(),
                            request->SerializeAsString(),
                            m->server_streaming()});
    }
    // The seeds in order build the world the mutations start from.
    for (size_t i = 0; i < fuzz::ApiSeeds().size(); ++i) {
      const std::string& org = fuzz::ApiSeeds()[i].organisation;
      for (const auto& identity : fuzz::ApiIdentities()) {
        if (identity.first == org) {
          Call(*w, w->methods[i], w->methods[i].seed, identity);
        }
      }
    }
    CheckStore(*w);
    std::fprintf(stderr, "api_fuzz: the seeds wrote %llu events\n",
                 static_cast<unsigned long long>(w->checked));
    std::atexit([] {
      World& w = TheWorld();
      w.server->Shutdown(absl::ZeroDuration());
      std::error_code ec;
      std::filesystem::remove_all(w.dir, ec);
    });
    return w;
  }();
  return *world;
}

// Every (message, field) of `message` down to `depth`, set or not, for
// mode 3; message fields only when set.
void Leaves(Message* message, int depth,
            std::vector<std::pair<Message*, const FieldDescriptor*>>* out) {
  const Descriptor* d = message->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    out->push_back({message, f});
    if (depth > 0 && f->type() == FieldDescriptor::TYPE_MESSAGE) {
      const auto* r = message->GetReflection();
      if (f->is_repeated()) {
        for (int k = 0; k < r->FieldSize(*message, f); ++k) {
          Leaves(r->MutableRepeatedMessage(message, f, k), depth - 1, out);
        }
      } else if (r->HasField(*message, f)) {
        Leaves(r->MutableMessage(message, f), depth - 1, out);
      }
    }
  }
}

uint64_t Number(const std::string& bytes) {
  uint64_t n = 0;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  }
  return n;
}

// Sets (or adds, for a repeated field) `field` of `m` from `data`.
void SetFrom(Message* m, const FieldDescriptor* f, const std::string& data) {
  const auto* r = m->GetReflection();
  const uint64_t n = Number(data);
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      rep ? r->AddString(m, f, data) : r->SetString(m, f, data);
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      rep ? r->AddEnumValue(m, f, static_cast<int>(n))
          : r->SetEnumValue(m, f, static_cast<int>(n));
      break;
    case FieldDescriptor::CPPTYPE_INT32:
      rep ? r->AddInt32(m, f, static_cast<int32_t>(n))
          : r->SetInt32(m, f, static_cast<int32_t>(n));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      rep ? r->AddInt64(m, f, static_cast<int64_t>(n))
          : r->SetInt64(m, f, static_cast<int64_t>(n));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      rep ? r->AddUInt32(m, f, static_cast<uint32_t>(n))
          : r->SetUInt32(m, f, static_cast<uint32_t>(n));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      rep ? r->AddUInt64(m, f, n) : r->SetUInt64(m, f, n);
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      rep ? r->AddBool(m, f, n & 1) : r->SetBool(m, f, n & 1);
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* child = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
      (void)child->ParseFromString(data);
      break;
    }
    default:
      break;
  }
}

// The ids a seed creates (a consent, a referral, ...): renamed on every
// call, with the request id and event ids, so that a mutated command is a
// new one rather than a replay or a second creation the rules refuse.
const std::vector<std::string>& OwnIds(const std::string& path) {
  static const auto* ids = new std::map<std::string, std::vector<std::string>>{
      {"/ycr.v1.Consents/Grant", {"c-1"}},
      {"/ycr.v1.Consents/Refuse", {"c-2"}},
      {"/ycr.v1.Sharing/RecordDisclosure", {"d-1"}},
      {"/ycr.v1.Referrals/Transition", {"r-1", "d-2"}},
      {"/ycr.v1.Agreements/Record", {"a-1"}},
      {"/ycr.v1.Correspondence/Record", {"m-1"}},
      {"/ycr.v1.Interventions/Record", {"i-1"}},
      {"/ycr.v1.Safeguarding/Record", {"k-1"}},
      {"/ycr.v1.Subjects/PlaceLegalHold", {"h-1"}},
  };
  static const auto* none = new std::vector<std::string>();
  auto it = ids->find(path);
  return it == ids->end() ? *none : it->second;
}

void Freshen(Message* m, const std::vector<std::string>& own, uint64_t n) {
  const Descriptor* d = m->GetDescriptor();
  const auto* r = m->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->type() == FieldDescriptor::TYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int k = 0; k < r->FieldSize(*m, f); ++k) {
          Freshen(r->MutableRepeatedMessage(m, f, k), own, n);
        }
      } else if (r->HasField(*m, f)) {
        Freshen(r->MutableMessage(m, f), own, n);
      }
      continue;
    }
    if (f->type() != FieldDescriptor::TYPE_STRING || f->is_repeated()) {
      continue;
    }
    const std::string value = r->GetString(*m, f);
    if ((f->name() == "request_id" || f->name() == "event_id") &&
        value.rfind("00000000-0000-4000-8000-", 0) == 0) {
      char uuid[40];
      std::snprintf(uuid, sizeof(uuid), "00000000-0000-4000-9000-%012llx",
                    static_cast<unsigned long long>(n));
      r->SetString(m, f, uuid);
    } else if (std::find(own.begin(), own.end(), value) != own.end()) {
      r->SetString(m, f, absl::StrCat(value, "-", n));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& world = TheWorld();
  fuzz::Chunks chunks(data, size);
  const std::string which = chunks.Next();
  const Method* method = nullptr;
  for (const Method& m : world.methods) {
    if (m.path == which) method = &m;
  }
  if (method == nullptr) {
    const uint8_t b = which.empty() ? 0 : static_cast<uint8_t>(which[0]);
    method = &world.methods[b % world.methods.size()];
  }
  const auto& identities = fuzz::ApiIdentities();
  const auto& identity = identities[chunks.NextByte() % identities.size()];
  const int mode = chunks.NextByte() % 4;
  const std::string bytes = chunks.Next();
  std::string request;
  switch (mode) {
    case 0: {
      request = method->seed + bytes;
      std::unique_ptr<Message> m(
          google::protobuf::MessageFactory::generated_factory()
              ->GetPrototype(method->input)
              ->New());
      if (m->ParseFromString(request)) {
        Freshen(m.get(), OwnIds(method->path), ++world.calls);
        request = m->SerializeAsString();
      }
      break;
    }
    case 1:
      request = bytes;
      break;
    case 2: {
      request = method->seed;
      const size_t at =
          request.empty() ? 0 : Number(chunks.Next()) % request.size();
      request.replace(at, std::min(bytes.size(), request.size() - at), bytes);
      break;
    }
    case 3: {
      std::unique_ptr<Message> m(
          google::protobuf::MessageFactory::generated_factory()
              ->GetPrototype(method->input)
              ->New());
      if (!m->ParseFromString(method->seed)) Fail("seed");
      std::vector<std::pair<Message*, const FieldDescriptor*>> leaves;
      Leaves(m.get(), 4, &leaves);
      if (!leaves.empty()) {
        const auto& [target, field] =
            leaves[Number(chunks.Next()) % leaves.size()];
        SetFrom(target, field, bytes);
      }
      Freshen(m.get(), OwnIds(method->path), ++world.calls);
      request = m->SerializeAsString();
      break;
    }
  }
  Call(world, *method, request, identity);
  CheckStore(world);
  return 0;
}
