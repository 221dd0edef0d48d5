#pragma once

// A real ycr server on 127.0.0.1:0 over a fresh temporary directory, and a
// client stub that calls it as a given identity.

#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/ids.h"
#include "gtest/gtest.h"
#include "services/security/access_policy.h"
#include "services/security/caller_identity.h"
#include "services/server.h"
#include "ycr/v1/event_store.grpc.pb.h"

namespace ycr::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "ycr-it-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class TestServer {
 public:
  explicit TestServer(const std::string& data_dir,
                      services::ServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    // Plain text with identities in metadata, unless the test brings
    // certificates (tls_test.cc).
    if (options.security.certificate_chain.empty()) {
      options.security.insecure = true;
    }
    options.log.path = data_dir;
    options.log.sync = false;  // Durability is covered by the storage tests.
    auto server = services::Server::Start(std::move(options));
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    if (server_ == nullptr) return;
    channel_ =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                            grpc::InsecureChannelCredentials());
    stub_ = v1::EventStore::NewStub(channel_);
  }

  services::Server& server() { return *server_; }
  v1::EventStore::Stub& stub() { return *stub_; }

 private:
  std::unique_ptr<services::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EventStore::Stub> stub_;
};

// The role an organisation's people have in the tests, by the id's prefix:
// service-* a young carers' service, la-* the local authority, auditor-*
// and ico an auditor, ops an admin; anything else a school.
inline std::string RoleOf(const std::string& organisation) {
  auto starts = [&](const char* prefix) {
    return organisation.rfind(prefix, 0) == 0;
  };
  if (starts("service")) return services::kServiceRole;
  if (starts("la-")) return services::kLocalAuthorityRole;
  if (starts("auditor") || organisation == "ico") {
    return services::kAuditorRole;
  }
  if (organisation == "ops") return services::kAdminRole;
  return services::kSchoolRole;
}

// Sets the caller identity and a deadline on `context`; the role, when not
// given, is RoleOf(organisation).
inline void AsCaller(grpc::ClientContext* context,
                     const std::string& organisation = "school-100001",
                     const std::string& user = "dsl-1",
                     const std::string& role = "") {
  context->AddMetadata(services::kOrganisationMetadata, organisation);
  context->AddMetadata(services::kUserMetadata, user);
  context->AddMetadata(services::kRoleMetadata,
                       role.empty() ? RoleOf(organisation) : role);
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
}

inline v1::ProposedEvent NoteEvent(const std::string& text,
                                   const std::string& id = NewUuid()) {
  v1::ProposedEvent event;
  event.set_event_id(id);
  event.mutable_payload()->mutable_opaque()->set_type("test.note");
  event.mutable_payload()->mutable_opaque()->set_data(text);
  return event;
}

inline v1::AppendRequest AppendOne(
    const std::string& stream, const std::string& text,
    v1::ExpectedVersion::Kind kind = v1::ExpectedVersion::ANY,
    uint64_t version = 0) {
  v1::AppendRequest request;
  request.set_stream(stream);
  request.mutable_expected()->set_kind(kind);
  request.mutable_expected()->set_version(version);
  *request.add_events() = NoteEvent(text);
  return request;
}

}  // namespace ycr::testing
