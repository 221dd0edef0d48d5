// Mutual TLS: the caller is its certificate's subject, and nothing else.
// A real server on 127.0.0.1:0 with certificates from deploy/dev-ca.sh.

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/time/clock.h"
#include "clients/client_security.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "services/security/server_security.h"
#include "tests/integration/dev_ca.h"
#include "tests/integration/domain_flows_fixture.h"
#include "tests/integration/test_server.h"
#include "ycr/v1/event_store.grpc.pb.h"
#include "ycr/v1/queries_service.grpc.pb.h"
#include "ycr/v1/subject_service.grpc.pb.h"

namespace ycr::testing {
namespace {

using grpc::StatusCode;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = dir_.path() + "/tls";
    RunDevCa(ca_);
    AddIdentity(ca_, "school-1", "dsl-1", "school");
    services::ServerOptions options;
    options.security.certificate_chain = Pem(ca_ + "/server.crt");
    options.security.private_key = Pem(ca_ + "/server.key");
    options.security.client_ca = Pem(ca_ + "/ca.crt");
    server_ =
        std::make_unique<TestServer>(dir_.path() + "/data", std::move(options));
  }

  std::string Address() const {
    return "127.0.0.1:" + std::to_string(server_->server().port());
  }

  // A channel presenting `dir`'s certificate for organisation/user.
  std::shared_ptr<grpc::Channel> As(const std::string& organisation,
                                    const std::string& user,
                                    const std::string& dir = "") {
    const std::string from = dir.empty() ? ca_ : dir;
    services::ClientSecurity security;
    security.ca = Pem(ca_ + "/ca.crt");
    security.certificate =
        Pem(from + "/clients/" + organisation + "/" + user + ".crt");
    security.private_key =
        Pem(from + "/clients/" + organisation + "/" + user + ".key");
    return services::OpenChannel(Address(), security);
  }

  static void Deadline(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(20));
  }

  grpc::Status PutRecord(const std::shared_ptr<grpc::Channel>& channel,
                         grpc::ClientContext* context,
                         const std::string& subject,
                         v1::CommandResponse* response) {
    v1::PutSubjectRecordRequest request;
    request.set_request_id(NewUuid());
    *request.mutable_record() = Record(subject);
    return v1::Subjects::NewStub(channel)->PutRecord(context, request,
                                                     response);
  }

  // PutRecord of s-1 over `channel`, with no identity metadata.
  grpc::Status Put(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext context;
    Deadline(&context);
    v1::CommandResponse response;
    return PutRecord(channel, &context, "s-1", &response);
  }

  // The event at `position`, read by the auditor.
  v1::RecordedEvent EventAt(uint64_t position) {
    grpc::ClientContext context;
    Deadline(&context);
    v1::ReadAllRequest request;
    request.set_from_position(position);
    request.set_limit(1);
    v1::ReadAllResponse response;
    grpc::Status status =
        v1::EventStore::NewStub(As("auditor-county", "auditor-1"))
            ->ReadAll(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.events_size() == 1 ? response.events(0)
                                       : v1::RecordedEvent();
  }

  uint64_t Head() { return server_->server().log().GetHead().position; }

  TempDir dir_;
  std::string ca_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(TlsTest, TheCallerIsTheCertificatesSubject) {
  grpc::ClientContext context;
  Deadline(&context);
  v1::CommandResponse response;
  ASSERT_TRUE(
      PutRecord(As("school-1", "dsl-1"), &context, "s-1", &response).ok());
  const v1::RecordedEvent event = EventAt(response.position());
  EXPECT_EQ(event.actor().organisation(), "school-1");
  EXPECT_EQ(event.actor().user(), "dsl-1");
  EXPECT_EQ(event.actor().role(), "school");
}

TEST_F(TlsTest, IdentityMetadataFromTheClientIsIgnored) {
  // A school claims, in metadata, to be another organisation's auditor.
  auto claim = [](grpc::ClientContext* context) {
    context->AddMetadata(services::kOrganisationMetadata, "auditor-county");
    context->AddMetadata(services::kUserMetadata, "auditor-1");
    context->AddMetadata(services::kRoleMetadata, "auditor");
    context->AddMetadata(services::kIdentitySourceMetadata, "metadata");
    Deadline(context);
  };
  grpc::ClientContext put;
  claim(&put);
  v1::CommandResponse response;
  ASSERT_TRUE(PutRecord(As("school-1", "dsl-1"), &put, "s-1", &response).ok());
  EXPECT_EQ(EventAt(response.position()).actor().organisation(), "school-1");

  grpc::ClientContext trail;
  claim(&trail);
  v1::ReadAllRequest request;
  v1::ReadAllResponse all;
  grpc::Status status = v1::EventStore::NewStub(As("school-1", "dsl-1"))
                            ->ReadAll(&trail, request, &all);
  EXPECT_EQ(status.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("role 'school'"), std::string::npos)
      << status.error_message();
}

TEST_F(TlsTest, NoClientCertificateIsRefusedInTheHandshake) {
  services::ClientSecurity security;
  security.ca = Pem(ca_ + "/ca.crt");
  EXPECT_EQ(Put(services::OpenChannel(Address(), security)).error_code(),
            StatusCode::UNAVAILABLE);
  EXPECT_EQ(Head(), 0u);
}

TEST_F(TlsTest, ACertificateFromAnotherCaIsRefused) {
  const std::string other = dir_.path() + "/other-ca";
  RunDevCa(other);
  AddIdentity(other, "school-1", "dsl-1", "school");
  EXPECT_EQ(Put(As("school-1", "dsl-1", other)).error_code(),
            StatusCode::UNAVAILABLE);
  EXPECT_EQ(Head(), 0u);
}

TEST_F(TlsTest, PlainTextIsRefused) {
  services::ClientSecurity security;
  security.insecure = true;
  EXPECT_EQ(Put(services::OpenChannel(Address(), security)).error_code(),
            StatusCode::UNAVAILABLE);
  EXPECT_EQ(Head(), 0u);
}

TEST_F(TlsTest, ACertificateWithoutARoleIsUnauthenticated) {
  // Signed by the right CA, but its subject has no OU.
  const std::string stem = ca_ + "/clients/school-9/no-role";
  Outcome made = RunArgs(
      {"bash", "-c",
       "set -e; mkdir -p " + ca_ + "/clients/school-9; cd " + ca_ +
           "; openssl req -new -newkey ec -pkeyopt "
           "ec_paramgen_curve:P-256 -nodes -keyout " +
           stem + ".key -out " + stem +
           ".csr -subj /O=school-9/CN=no-role 2>/dev/null; openssl x509 "
           "-req -in " +
           stem + ".csr -CA ca.crt -CAkey ca.key -set_serial 9 -days 2 -out " +
           stem + ".crt"},
      dir_.path() + "/openssl.err");
  ASSERT_EQ(made.code, 0) << made.err;
  grpc::Status status = Put(As("school-9", "no-role"));
  EXPECT_EQ(status.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_NE(status.error_message().find("role (OU)"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(Head(), 0u);
}

TEST_F(TlsTest, AnUnknownRoleIsPermissionDenied) {
  AddIdentity(ca_, "school-1", "someone", "intruder");
  grpc::Status status = Put(As("school-1", "someone"));
  EXPECT_EQ(status.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Head(), 0u);
}

// Revocation: the server started with --tls_crl (here options.security.
// crl_path) on the list deploy/dev-ca.sh writes, `dev-ca.sh DIR revoke`
// while it runs.
class RevocationTest : public TlsTest {
 protected:
  void SetUp() override {
    ca_ = dir_.path() + "/tls";
    RunDevCa(ca_);
    AddIdentity(ca_, "school-1", "dsl-1", "school");
    AddIdentity(ca_, "school-2", "dsl-2", "school");
    services::ServerOptions options;
    options.security.certificate_chain = Pem(ca_ + "/server.crt");
    options.security.private_key = Pem(ca_ + "/server.key");
    options.security.client_ca = Pem(ca_ + "/ca.crt");
    options.security.crl_path = ca_ + "/crl.pem";
    server_ =
        std::make_unique<TestServer>(dir_.path() + "/data", std::move(options));
  }

  // PutRecord of `subject` on a new connection as organisation/user.
  grpc::Status PutAs(const std::string& organisation, const std::string& user,
                     const std::string& subject) {
    grpc::ClientContext context;
    Deadline(&context);
    v1::CommandResponse response;
    return PutRecord(As(organisation, user), &context, subject, &response);
  }

  // Replaces the CRL file by a rename, as dev-ca.sh does.
  void ReplaceCrl(const std::string& text) {
    const std::string temp = ca_ + "/crl.pem.new";
    std::ofstream(temp, std::ios::trunc) << text;
    std::filesystem::rename(temp, ca_ + "/crl.pem");
  }
};

TEST_F(RevocationTest, ARevokedCertificateIsRefusedAndOthersStillWork) {
  ASSERT_TRUE(PutAs("school-1", "dsl-1", "s-1").ok());
  ASSERT_TRUE(PutAs("school-2", "dsl-2", "s-2").ok());
  const uint64_t head = Head();

  // Revoked while the server runs: no restart.
  RunDevCa(ca_, {"revoke", "school-1", "dsl-1"});
  EXPECT_EQ(PutAs("school-1", "dsl-1", "s-1").error_code(),
            StatusCode::UNAVAILABLE);
  EXPECT_EQ(Head(), head);
  // Every other caller of the same CA still works.
  EXPECT_TRUE(PutAs("school-2", "dsl-2", "s-2").ok());
  EXPECT_EQ(Head(), head + 1);
}

TEST_F(RevocationTest, AChangedListIsReadAgainAndABrokenOneChangesNothing) {
  const std::string empty = Pem(ca_ + "/crl.pem");
  RunDevCa(ca_, {"revoke", "school-1", "dsl-1"});
  const std::string revoking = Pem(ca_ + "/crl.pem");
  ASSERT_EQ(PutAs("school-1", "dsl-1", "s-1").error_code(),
            StatusCode::UNAVAILABLE);

  // Half a list, or none: the last good list stays in force.
  ReplaceCrl(revoking.substr(0, revoking.size() / 2));
  EXPECT_EQ(PutAs("school-1", "dsl-1", "s-1").error_code(),
            StatusCode::UNAVAILABLE);
  EXPECT_TRUE(PutAs("school-2", "dsl-2", "s-2").ok());
  ReplaceCrl("");
  EXPECT_EQ(PutAs("school-1", "dsl-1", "s-1").error_code(),
            StatusCode::UNAVAILABLE);
  // A list from another CA is not this CA's word either.
  const std::string other = dir_.path() + "/other-ca";
  RunDevCa(other);
  ReplaceCrl(Pem(other + "/crl.pem"));
  EXPECT_EQ(PutAs("school-1", "dsl-1", "s-1").error_code(),
            StatusCode::UNAVAILABLE);

  // The list that revokes nothing, back in place: read again, in force.
  ReplaceCrl(empty);
  EXPECT_TRUE(PutAs("school-1", "dsl-1", "s-1").ok());
  // And revoking again takes effect again.
  ReplaceCrl(revoking);
  EXPECT_EQ(PutAs("school-1", "dsl-1", "s-1").error_code(),
            StatusCode::UNAVAILABLE);
  EXPECT_TRUE(PutAs("school-2", "dsl-2", "s-2").ok());
}

TEST(RevocationStartTest, StartRefusesAnUnusableList) {
  TempDir dir;
  const std::string ca = dir.path() + "/tls";
  RunDevCa(ca);
  const std::string other = dir.path() + "/other-ca";
  RunDevCa(other);
  auto start = [&](const std::string& crl_path, bool insecure = false) {
    services::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.log.path = dir.path() + "/data";
    if (insecure) {
      options.security.insecure = true;
    } else {
      options.security.certificate_chain = Pem(ca + "/server.crt");
      options.security.private_key = Pem(ca + "/server.key");
      options.security.client_ca = Pem(ca + "/ca.crt");
    }
    options.security.crl_path = crl_path;
    auto server = services::Server::Start(std::move(options));
    return server.ok() ? absl::OkStatus() : server.status();
  };
  absl::Status missing = start(dir.path() + "/no-such.pem");
  EXPECT_TRUE(absl::IsInvalidArgument(missing)) << missing;
  EXPECT_NE(missing.message().find("no-such.pem"), std::string::npos)
      << missing;

  absl::Status foreign = start(other + "/crl.pem");
  EXPECT_TRUE(absl::IsInvalidArgument(foreign)) << foreign;
  EXPECT_NE(foreign.message().find("is not signed by the client CA"),
            std::string::npos)
      << foreign;

  // A certificate is not a list.
  absl::Status wrong = start(ca + "/ca.crt");
  EXPECT_TRUE(absl::IsInvalidArgument(wrong)) << wrong;
  EXPECT_NE(wrong.message().find("no certificate revocation list"),
            std::string::npos)
      << wrong;

  absl::Status plain = start(ca + "/crl.pem", /*insecure=*/true);
  EXPECT_TRUE(absl::IsInvalidArgument(plain)) << plain;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data"));

  // DER as well as PEM.
  Outcome der = RunArgs({"openssl", "crl", "-in", ca + "/crl.pem", "-outform",
                         "DER", "-out", ca + "/crl.der"},
                        dir.path() + "/openssl.err");
  ASSERT_EQ(der.code, 0) << der.err;
  EXPECT_TRUE(start(ca + "/crl.der").ok());
  EXPECT_TRUE(start(ca + "/crl.pem").ok());
}

// Server::Start refuses what would be unsafe or cannot work, naming it.
TEST(ServerSecurityTest, StartRefusesUnusableSettings) {
  TempDir dir;
  const std::string ca = dir.path() + "/tls";
  RunDevCa(ca);
  auto start = [&](services::ServerSecurity security,
                   const std::string& listen = "127.0.0.1:0") {
    services::ServerOptions options;
    options.listen = listen;
    options.log.path = dir.path() + "/data";
    options.security = std::move(security);
    auto server = services::Server::Start(std::move(options));
    return server.ok() ? absl::OkStatus() : server.status();
  };
  services::ServerSecurity good;
  good.certificate_chain = Pem(ca + "/server.crt");
  good.private_key = Pem(ca + "/server.key");
  good.client_ca = Pem(ca + "/ca.crt");

  absl::Status none = start({});
  EXPECT_TRUE(absl::IsInvalidArgument(none)) << none;
  EXPECT_NE(none.message().find("server certificate: missing"),
            std::string::npos)
      << none;

  services::ServerSecurity wrong_key = good;
  wrong_key.private_key = Pem(ca + "/clients/ops/ycr-admin.key");
  absl::Status mismatched = start(wrong_key);
  EXPECT_NE(mismatched.message().find("does not belong"), std::string::npos)
      << mismatched;

  services::ServerSecurity no_ca = good;
  no_ca.client_ca = "not a certificate";
  EXPECT_NE(start(no_ca).message().find("client CA"), std::string::npos);

  services::ServerSecurity insecure;
  insecure.insecure = true;
  absl::Status everywhere = start(insecure, "0.0.0.0:0");
  EXPECT_TRUE(absl::IsInvalidArgument(everywhere)) << everywhere;
  EXPECT_NE(everywhere.message().find("loopback"), std::string::npos);

  EXPECT_TRUE(start(good).ok());
  EXPECT_TRUE(start(insecure).ok());
}

// The testing clock moves every deadline for whoever reaches the Testing
// service: like plain text, only on loopback, whatever the transport.
TEST(ServerSecurityTest, StartRefusesTestingTimeControlOffLoopback) {
  TempDir dir;
  const std::string ca = dir.path() + "/tls";
  RunDevCa(ca);
  ManualClock clock(absl::Now());
  auto start = [&](const std::string& listen, const std::string& data) {
    services::ServerOptions options;
    options.listen = listen;
    options.log.path = dir.path() + "/" + data;
    options.security.certificate_chain = Pem(ca + "/server.crt");
    options.security.private_key = Pem(ca + "/server.key");
    options.security.client_ca = Pem(ca + "/ca.crt");
    options.testing_clock = &clock;
    auto server = services::Server::Start(std::move(options));
    return server.ok() ? absl::OkStatus() : server.status();
  };
  for (const char* listen : {"0.0.0.0:0", "[::]:0"}) {
    absl::Status everywhere = start(listen, "a");
    EXPECT_TRUE(absl::IsInvalidArgument(everywhere)) << everywhere;
    EXPECT_NE(everywhere.message().find("testing time control is allowed "
                                        "only on a loopback address"),
              std::string::npos)
        << everywhere;
    // Refused before the store is opened.
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/a"));
  }
  EXPECT_TRUE(start("127.0.0.1:0", "b").ok());
}

// gRPC would serve "127.0.0.1" on port 443.
TEST(ServerSecurityTest, StartRefusesAnAddressWithoutAPort) {
  TempDir dir;
  auto start = [&](const std::string& listen, const std::string& metrics) {
    services::ServerOptions options;
    options.listen = listen;
    options.metrics_listen = metrics;
    options.log.path = dir.path() + "/data";
    options.security.insecure = true;
    auto server = services::Server::Start(std::move(options));
    return server.ok() ? absl::OkStatus() : server.status();
  };
  absl::Status listen = start("127.0.0.1", "");
  EXPECT_TRUE(absl::IsInvalidArgument(listen)) << listen;
  EXPECT_NE(listen.message().find("listen: '127.0.0.1' has no port"),
            std::string::npos)
      << listen;
  absl::Status metrics = start("127.0.0.1:0", "127.0.0.1");
  EXPECT_TRUE(absl::IsInvalidArgument(metrics)) << metrics;
  EXPECT_NE(metrics.message().find("metrics_listen: '127.0.0.1' has no port"),
            std::string::npos)
      << metrics;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data"));
  EXPECT_TRUE(start("127.0.0.1:0", "127.0.0.1:0").ok());
}

TEST(ServerSecurityTest, ListenAddressesNeedAPort) {
  for (const char* yes : {"127.0.0.1:0", "127.0.0.1:7070", "[::1]:7070",
                          "localhost:65535", "ycr.internal:443", "[::]:0"}) {
    EXPECT_TRUE(services::CheckListenAddress("--listen", yes).ok()) << yes;
  }
  for (const char* no : {"", "127.0.0.1", "localhost", "localhost:", "[::1]",
                         "::1", "[::1]:", "127.0.0.1:65536", "127.0.0.1:-1",
                         "127.0.0.1:+1", "127.0.0.1:0x10", "127.0.0.1:999999",
                         "[::1:7070", "[]:7070", "fe80::1:7070"}) {
    absl::Status status = services::CheckListenAddress("--listen", no);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << no;
    EXPECT_EQ(status.message().rfind("--listen: '", 0), 0u) << status;
  }
}

TEST(ServerSecurityTest, LoopbackAddresses) {
  for (const char* yes :
       {"127.0.0.1:7070", "127.1.2.3:0", "localhost:1", "[::1]:7070"}) {
    EXPECT_TRUE(services::IsLoopbackAddress(yes)) << yes;
  }
  for (const char* no : {"0.0.0.0:7070", "10.0.0.1:1", "[::]:7070",
                         "example.org:1", "128.0.0.1:1", ""}) {
    EXPECT_FALSE(services::IsLoopbackAddress(no)) << no;
  }
}

TEST(ServerSecurityTest, IdentityNeedsExactlyOneOfEachField) {
  TempDir dir;
  const std::string ca = dir.path() + "/tls";
  RunDevCa(ca);
  absl::StatusOr<v1::Actor> ops =
      services::IdentityFromCertificate(Pem(ca + "/clients/ops/ycr-admin.crt"));
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_EQ(ops->organisation(), "ops");
  EXPECT_EQ(ops->role(), "admin");
  EXPECT_EQ(ops->user(), "ycr-admin");

  Outcome made =
      RunArgs({"bash", "-c",
               "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
               "-nodes -keyout /dev/null -days 1 -subj "
               "'/O=school-1/OU=school/OU=admin/CN=two-roles' 2>/dev/null"},
              dir.path() + "/openssl.err");
  ASSERT_EQ(made.code, 0) << made.err;
  absl::StatusOr<v1::Actor> two = services::IdentityFromCertificate(made.out);
  EXPECT_TRUE(absl::IsUnauthenticated(two.status())) << two.status();
  EXPECT_NE(two.status().message().find("more than one role"),
            std::string::npos);
  EXPECT_TRUE(absl::IsUnauthenticated(
      services::IdentityFromCertificate("garbage").status()));
}

}  // namespace
}  // namespace ycr::testing
