// The transparency tree as the server serves it: Audit.Checkpoint, the
// inclusion and consistency proofs, and the tlog-tiles HTTP listener, on a
// real server over a real store, checked with ycr's own verifier functions
// (tests/tlog checks the same with Go's). Checkpoints are ticked by hand:
// the server's own ticker is off (checkpoint_interval zero).

#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/signed_note.h"
#include "common/tlog.h"
#include "gtest/gtest.h"
#include "services/tlog_checkpointer.h"
#include "tests/integration/http_get.h"
#include "tests/integration/test_server.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::testing {
namespace {

class TlogServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    services::ServerOptions options;
    options.checkpoint_interval = absl::ZeroDuration();
    options.tlog_listen = "127.0.0.1:0";
    options.tlog_origin = "council.example/ycr/v1";
    server_ = std::make_unique<TestServer>(dir_.path(), std::move(options));
    audit_ = v1::Audit::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->server().port()),
        grpc::InsecureChannelCredentials()));
    auto verifier = note::ParseVerifierKey(
        note::VerifierKey(server_->server().checkpointer().signer()));
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    verifier_ = *verifier;
  }

  // Appends `n` notes (as the admin, on an ops- stream).
  void AppendNotes(int n) {
    for (int i = 0; i < n; ++i) {
      grpc::ClientContext context;
      AsCaller(&context, "ops", "op-1");
      v1::AppendResponse response;
      ASSERT_TRUE(server_->stub()
                      .Append(&context, AppendOne("ops-notes", "n"), &response)
                      .ok());
    }
  }

  // Calls `method` of ycr.v1.Audit as `org`.
  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (v1::Audit::Stub::*method)(
                        grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* out,
                    const std::string& org) {
    grpc::ClientContext context;
    AsCaller(&context, org);
    return (audit_.get()->*method)(&context, request, out);
  }

  grpc::Status GetCheckpoint(uint64_t min_size, v1::SignedCheckpoint* out) {
    v1::CheckpointRequest request;
    request.set_min_tree_size(min_size);
    return Call(&v1::Audit::Stub::Checkpoint, request, out, "school-100001");
  }

  grpc::Status Inclusion(uint64_t position, uint64_t size,
                         v1::InclusionProofResponse* out) {
    v1::InclusionProofRequest request;
    request.set_position(position);
    request.set_tree_size(size);
    return Call(&v1::Audit::Stub::InclusionProof, request, out,
                "service-200001");
  }

  grpc::Status Consistency(uint64_t old_size, uint64_t new_size,
                           v1::ConsistencyProofResponse* out) {
    v1::ConsistencyProofRequest request;
    request.set_old_size(old_size);
    request.set_new_size(new_size);
    return Call(&v1::Audit::Stub::ConsistencyProof, request, out, "la-300001");
  }

  // The checkpoint the note says, after its signature is checked.
  note::Checkpoint Open(const std::string& signed_note) {
    auto text = note::Open(signed_note, verifier_);
    EXPECT_TRUE(text.ok()) << text.status();
    auto checkpoint = note::ParseCheckpoint(text.ok() ? *text : "");
    EXPECT_TRUE(checkpoint.ok()) << checkpoint.status();
    return checkpoint.ok() ? *checkpoint : note::Checkpoint{};
  }

  std::string Url(const std::string& path) {
    return absl::StrCat("http://127.0.0.1:", server_->server().tlog_port(),
                        path);
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<v1::Audit::Stub> audit_;
  note::Verifier verifier_;
};

std::vector<tlog::Hash> Hashes(
    const google::protobuf::RepeatedPtrField<std::string>& bytes) {
  std::vector<tlog::Hash> out;
  for (const std::string& b : bytes) {
    auto hash = tlog::HashFromBytes(b);
    EXPECT_TRUE(hash.ok());
    if (hash.ok()) out.push_back(*hash);
  }
  return out;
}

tlog::Hash ToHash(const std::string& bytes) {
  auto hash = tlog::HashFromBytes(bytes);
  EXPECT_TRUE(hash.ok()) << hash.status();
  return hash.ok() ? *hash : tlog::Hash{};
}

TEST_F(TlogServeTest, ASignedCheckpointOfTheHeadIsServedOnDemandAndOverHttp) {
  AppendNotes(5);
  v1::SignedCheckpoint checkpoint;
  ASSERT_TRUE(GetCheckpoint(5, &checkpoint).ok());
  const note::Checkpoint opened = Open(checkpoint.note());
  EXPECT_EQ(opened.origin, "council.example/ycr/v1");
  EXPECT_EQ(checkpoint.origin(), "council.example/ycr/v1");
  EXPECT_EQ(opened.size, 5);
  EXPECT_EQ(checkpoint.tree_size(), 5u);
  EXPECT_EQ(tlog::HashBytes(opened.root), checkpoint.root_hash());
  // The root is the tree of the five records as stored.
  auto root =
      tlog::TreeHash(5, storage::TreeHashReader(server_->server().log()));
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(opened.root, *root);

  const HttpReply http = Get(Url("/checkpoint"));
  EXPECT_EQ(http.code, 200);
  EXPECT_EQ(http.body, checkpoint.note());
  // Signed by this server's key and no other.
  auto other = note::NewSigner("council.example/ycr/v1");
  ASSERT_TRUE(other.ok());
  auto other_verifier = note::ParseVerifierKey(note::VerifierKey(*other));
  ASSERT_TRUE(other_verifier.ok());
  EXPECT_FALSE(note::Open(http.body, *other_verifier).ok());
}

TEST_F(TlogServeTest, TheLatestCheckpointStaysUntilTheNextTick) {
  AppendNotes(3);
  v1::SignedCheckpoint first;
  ASSERT_TRUE(GetCheckpoint(3, &first).ok());
  AppendNotes(2);
  v1::SignedCheckpoint latest;
  ASSERT_TRUE(GetCheckpoint(0, &latest).ok());
  EXPECT_EQ(latest.tree_size(), 3u);
  ASSERT_TRUE(server_->server().checkpointer().Tick().ok());
  ASSERT_TRUE(GetCheckpoint(0, &latest).ok());
  EXPECT_EQ(latest.tree_size(), 5u);
  EXPECT_EQ(Open(latest.note()).size, 5);
}

TEST_F(TlogServeTest, EveryRecordsInclusionVerifiesAgainstTheCheckpoint) {
  AppendNotes(9);
  v1::SignedCheckpoint checkpoint;
  ASSERT_TRUE(GetCheckpoint(9, &checkpoint).ok());
  const note::Checkpoint opened = Open(checkpoint.note());
  for (uint64_t position = 1; position <= 9; ++position) {
    for (uint64_t size : {uint64_t{0}, position, uint64_t{7}}) {
      if (size != 0 && size < position) continue;
      v1::InclusionProofResponse proof;
      ASSERT_TRUE(Inclusion(position, size, &proof).ok()) << position;
      EXPECT_EQ(proof.leaf_index(), position - 1);
      auto leaf = server_->server().log().ReadLeaf(position);
      ASSERT_TRUE(leaf.ok()) << leaf.status();
      EXPECT_EQ(proof.leaf_hash(), tlog::HashBytes(tlog::RecordHash(*leaf)));
      const tlog::Hash root =
          size == 0 ? opened.root : ToHash(proof.root_hash());
      EXPECT_TRUE(tlog::VerifyInclusion(
                      static_cast<int64_t>(proof.leaf_index()),
                      static_cast<int64_t>(proof.tree_size()),
                      tlog::RecordHash(*leaf), Hashes(proof.path()), root)
                      .ok())
          << position << " in " << size;
      // The signed checkpoint comes with a proof against the latest tree.
      EXPECT_EQ(proof.has_checkpoint(), proof.tree_size() == 9);
    }
  }
}

TEST_F(TlogServeTest, ConsistencyProofsLinkEveryEarlierTreeToTheLatest) {
  AppendNotes(4);
  v1::SignedCheckpoint old_checkpoint;
  ASSERT_TRUE(GetCheckpoint(4, &old_checkpoint).ok());
  AppendNotes(7);
  v1::SignedCheckpoint checkpoint;
  ASSERT_TRUE(GetCheckpoint(11, &checkpoint).ok());
  const note::Checkpoint old_opened = Open(old_checkpoint.note());
  const note::Checkpoint opened = Open(checkpoint.note());
  v1::ConsistencyProofResponse proof;
  ASSERT_TRUE(Consistency(4, 0, &proof).ok());
  EXPECT_EQ(proof.new_size(), 11u);
  EXPECT_TRUE(proof.has_checkpoint());
  EXPECT_TRUE(tlog::VerifyConsistency(4, 11, old_opened.root, opened.root,
                                      Hashes(proof.path()))
                  .ok());
  for (uint64_t old_size = 0; old_size <= 11; ++old_size) {
    ASSERT_TRUE(Consistency(old_size, 11, &proof).ok()) << old_size;
    EXPECT_TRUE(tlog::VerifyConsistency(static_cast<int64_t>(old_size), 11,
                                        ToHash(proof.old_root_hash()),
                                        opened.root, Hashes(proof.path()))
                    .ok())
        << old_size;
  }
}

TEST_F(TlogServeTest, BadSizesNameTheirFieldAndNothingBeyondTheCheckpoint) {
  AppendNotes(3);
  v1::SignedCheckpoint checkpoint;
  ASSERT_TRUE(GetCheckpoint(3, &checkpoint).ok());
  AppendNotes(2);  // Records 4 and 5: in the log, in no checkpoint yet.
  v1::InclusionProofResponse inclusion;
  grpc::Status s = Inclusion(0, 0, &inclusion);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "position:"))
      << s.error_message();
  s = Inclusion(4, 0, &inclusion);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "position:"));
  s = Inclusion(4, 2, &inclusion);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  s = Inclusion(4, 5, &inclusion);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "tree_size:"))
      << s.error_message();
  v1::ConsistencyProofResponse consistency;
  s = Consistency(3, 5, &consistency);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "new_size:"));
  s = Consistency(3, 2, &consistency);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "old_size:"));
  s = GetCheckpoint(6, &checkpoint);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "min_tree_size:"));
  // Nor over HTTP: the level-0 tile shows three hashes, not five.
  EXPECT_EQ(Get(Url("/tile/0/000.p/3")).code, 200);
  EXPECT_EQ(Get(Url("/tile/0/000.p/4")).code, 404);
  // Once signed, the proof is given.
  ASSERT_TRUE(GetCheckpoint(5, &checkpoint).ok());
  EXPECT_TRUE(Inclusion(4, 5, &inclusion).ok());
  EXPECT_EQ(Get(Url("/tile/0/000.p/5")).code, 200);
}

TEST_F(TlogServeTest, HashTilesAreTheStoredHashesAndFullOnesAreImmutable) {
  AppendNotes(260);
  v1::SignedCheckpoint checkpoint;
  ASSERT_TRUE(GetCheckpoint(260, &checkpoint).ok());
  const tlog::HashReader read =
      storage::TreeHashReader(server_->server().log());
  const HttpReply full = Get(Url("/tile/0/000"));
  EXPECT_EQ(full.code, 200);
  ASSERT_EQ(full.body.size(), 8192u);
  auto leaf = server_->server().log().ReadLeaf(256);
  ASSERT_TRUE(leaf.ok());
  EXPECT_EQ(full.body.substr(255 * 32, 32),
            tlog::HashBytes(tlog::RecordHash(*leaf)));
  EXPECT_TRUE(absl::StrContains(full.headers, "immutable")) << full.headers;
  const HttpReply partial = Get(Url("/tile/0/001.p/4"));
  EXPECT_EQ(partial.code, 200);
  EXPECT_EQ(partial.body.size(), 4u * 32);
  EXPECT_FALSE(absl::StrContains(partial.headers, "immutable"));
  auto expected = tlog::TileHashes({0, 1, 4}, read);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(partial.body, *expected);
  // A level-1 tile: the one hash of the first 256 records.
  const HttpReply level1 = Get(Url("/tile/1/000.p/1"));
  EXPECT_EQ(level1.code, 200);
  auto root256 = tlog::TreeHash(256, read);
  ASSERT_TRUE(root256.ok());
  EXPECT_EQ(level1.body, tlog::HashBytes(*root256));
  // Not there yet, or not a tile.
  EXPECT_EQ(Get(Url("/tile/0/001")).code, 404);
  EXPECT_EQ(Get(Url("/tile/0/002.p/1")).code, 404);
  EXPECT_EQ(Get(Url("/tile/0/1")).code, 404);
  EXPECT_EQ(Get(Url("/metrics")).code, 404);  // Not on this listener.
}

TEST_F(TlogServeTest, EntryBundlesAreRefusedOverHttpTheyArePersonalData) {
  AppendNotes(3);
  v1::SignedCheckpoint checkpoint;
  ASSERT_TRUE(GetCheckpoint(3, &checkpoint).ok());
  for (const char* path : {"/tile/entries/000.p/3", "/tile/entries/000"}) {
    const HttpReply reply = Get(Url(path));
    EXPECT_EQ(reply.code, 403) << path;
    EXPECT_TRUE(absl::StrContains(reply.body, "over gRPC")) << reply.body;
    EXPECT_FALSE(absl::StrContains(reply.body, "test.note"));
  }
}

TEST(TlogSignerKeyTest, AServerWithoutAKeyMakesOnePrivateOneAndKeepsIt) {
  TempDir dir;
  std::string vkey;
  for (int start = 0; start < 2; ++start) {
    services::ServerOptions options;
    options.checkpoint_interval = absl::ZeroDuration();
    TestServer server(dir.path(), std::move(options));
    EXPECT_EQ(server.server().made_signer_key(), start == 0);
    const std::string now =
        note::VerifierKey(server.server().checkpointer().signer());
    EXPECT_TRUE(absl::StartsWith(now, "localhost/ycr/v1+")) << now;
    if (start == 1) {
      EXPECT_EQ(now, vkey);  // The same key after a restart.
    }
    vkey = now;
  }
  struct stat st {};
  ASSERT_EQ(stat((dir.path() + "/tlog-signer.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

TEST(TlogSignerKeyTest, AKeyNamedOtherwiseThanTheOriginIsRefused) {
  TempDir dir;
  const std::string key = dir.path() + "/signer.key";
  ASSERT_TRUE(services::WriteNewSignerKey(key, "other.example/log").ok());
  EXPECT_EQ(
      services::WriteNewSignerKey(key, "other.example/log").status().code(),
      absl::StatusCode::kAlreadyExists);
  bool made = false;
  auto signer = services::ServerSignerKey(key, dir.path() + "/data",
                                          "council.example/ycr/v1", &made);
  EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(signer.status().message(), "--tlog_origin:"));
  signer = services::ServerSignerKey(key, dir.path() + "/data",
                                     "other.example/log", &made);
  EXPECT_TRUE(signer.ok()) << signer.status();
  EXPECT_FALSE(made);
}

TEST(TlogSignerKeyTest, AKeyOthersCanReadIsRefused) {
  TempDir dir;
  const std::string key = dir.path() + "/signer.key";
  ASSERT_TRUE(services::WriteNewSignerKey(key, "council.example/ycr/v1").ok());
  ASSERT_EQ(chmod(key.c_str(), 0644), 0);
  bool made = false;
  auto signer = services::ServerSignerKey(key, dir.path() + "/data",
                                          "council.example/ycr/v1", &made);
  EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(signer.status().message(), "chmod 600"))
      << signer.status();
  EXPECT_TRUE(absl::StrContains(signer.status().message(), "mode 0644"))
      << signer.status();
  ASSERT_EQ(chmod(key.c_str(), 0600), 0);
  signer = services::ServerSignerKey(key, dir.path() + "/data",
                                     "council.example/ycr/v1", &made);
  EXPECT_TRUE(signer.ok()) << signer.status();
}

}  // namespace
}  // namespace ycr::testing
