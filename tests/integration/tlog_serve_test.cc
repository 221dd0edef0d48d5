// The transparency tree as the server serves it: Audit.Checkpoint, the
// inclusion and consistency proofs, and the tlog-tiles HTTP listener, on a
// real server over a real store, checked with ycr's own verifier functions
// (tests/tlog checks the same with Go's). Checkpoints are ticked by hand:
// the server's own ticker is off (checkpoint_interval zero).

#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/signed_note.h"
#include "common/tlog.h"
#include "gtest/gtest.h"
#include "services/tlog_checkpointer.h"
#include "services/tlog_identity.h"
#include "storage/rocksdb_event_log.h"
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

// Audit.InclusionProofs: the proofs of many positions in one call, each as
// InclusionProof gives it; at most 1,000 positions, each checked.
TEST_F(TlogServeTest, InclusionProofsAnswersManyPositionsInOneCall) {
  ASSERT_NO_FATAL_FAILURE(AppendNotes(7));
  v1::SignedCheckpoint checkpoint;
  ASSERT_TRUE(GetCheckpoint(7, &checkpoint).ok());
  v1::InclusionProofsRequest request;
  for (uint64_t position : {5, 1, 7}) request.add_positions(position);
  v1::InclusionProofsResponse batch;
  grpc::Status status =
      Call(&v1::Audit::Stub::InclusionProofs, request, &batch, "school-100001");
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(batch.proofs_size(), 3);
  EXPECT_EQ(batch.checkpoint().note(), checkpoint.note());
  for (int i = 0; i < 3; ++i) {
    v1::InclusionProofResponse one;
    ASSERT_TRUE(Inclusion(request.positions(i), 0, &one).ok());
    one.clear_checkpoint();
    EXPECT_EQ(batch.proofs(i).SerializeAsString(), one.SerializeAsString())
        << "position " << request.positions(i);
    EXPECT_TRUE(tlog::VerifyInclusion(
                    static_cast<int64_t>(batch.proofs(i).leaf_index()), 7,
                    ToHash(batch.proofs(i).leaf_hash()),
                    Hashes(batch.proofs(i).path()),
                    Open(checkpoint.note()).root)
                    .ok());
  }
  // Bad positions and sizes name their field.
  const auto refused = [&](const v1::InclusionProofsRequest& bad,
                           const std::string& field) {
    v1::InclusionProofsResponse out;
    grpc::Status s =
        Call(&v1::Audit::Stub::InclusionProofs, bad, &out, "school-100001");
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_TRUE(absl::StartsWith(s.error_message(), field))
        << s.error_message();
  };
  refused(v1::InclusionProofsRequest(), "positions: 1 to 1000");
  v1::InclusionProofsRequest too_many;
  for (int i = 0; i < 1001; ++i) too_many.add_positions(1);
  refused(too_many, "positions: ");  // At most 1000.
  v1::InclusionProofsRequest zero;
  zero.add_positions(1);
  zero.add_positions(0);
  refused(zero, "positions[1]: log positions start at 1");
  v1::InclusionProofsRequest beyond;
  beyond.add_positions(8);
  refused(beyond, "positions[0]: 8 is not in a tree of 7");
  v1::InclusionProofsRequest smaller = request;
  smaller.set_tree_size(6);
  refused(smaller, "positions[2]: 7 is not in a tree of 6");
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
    EXPECT_TRUE(absl::StartsWith(now, "localhost/ycr/")) << now;
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

// Two keygens racing for one file: exactly one writes it, and it is that
// one's key.
TEST(TlogSignerKeyTest, TwoKeygensRacingLeaveExactlyOneKey) {
  TempDir dir;
  for (int round = 0; round < 20; ++round) {
    const std::string key = absl::StrCat(dir.path(), "/signer-", round, ".key");
    absl::StatusOr<note::Signer> made[2];
    std::thread other([&] {
      made[1] = services::WriteNewSignerKey(key, "council.example/ycr/v1");
    });
    made[0] = services::WriteNewSignerKey(key, "council.example/ycr/v1");
    other.join();
    ASSERT_NE(made[0].ok(), made[1].ok()) << "round " << round;
    const note::Signer& winner = made[0].ok() ? *made[0] : *made[1];
    const absl::Status& loser =
        made[0].ok() ? made[1].status() : made[0].status();
    EXPECT_EQ(loser.code(), absl::StatusCode::kAlreadyExists) << loser;
    auto kept = services::LoadSignerKey("--tlog_key", key);
    ASSERT_TRUE(kept.ok()) << kept.status();
    EXPECT_EQ(note::SignerKey(*kept), note::SignerKey(winner));
  }
}

// A server on `dir` as tests start it, but its start's outcome returned.
absl::StatusOr<std::unique_ptr<services::Server>> StartOn(
    const std::string& dir, services::ServerOptions options = {}) {
  options.listen = "127.0.0.1:0";
  options.security.insecure = true;
  options.log.path = dir;
  options.log.sync = false;
  options.checkpoint_interval = absl::ZeroDuration();
  return services::Server::Start(std::move(options));
}

TEST(TlogIdentityTest, EachStoreHasAnOriginOfItsOwnAndKeepsIt) {
  TempDir one, two;
  std::string first;
  for (int start = 0; start < 2; ++start) {
    auto server = StartOn(one.path());
    ASSERT_TRUE(server.ok()) << server.status();
    const std::string origin = (*server)->checkpointer().signer().name;
    EXPECT_TRUE(absl::StartsWith(origin, "localhost/ycr/")) << origin;
    EXPECT_EQ(origin.size(), std::string("localhost/ycr/").size() + 16);
    if (start == 1) {
      EXPECT_EQ(origin, first);
    }
    first = origin;
  }
  auto other = StartOn(two.path());
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE((*other)->checkpointer().signer().name, first);
}

// A restored copy of the store (no key file with it) is not signed with a
// new key, nor with another one, unless --tlog_key_rotated says so; with the
// key that signed it, its last checkpoint is served at once.
TEST(TlogIdentityTest, ARestoredStoreKeepsItsKeyUnlessRotated) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::string restored = dir.path() + "/restored";
  const std::string old_key = dir.path() + "/old.key";
  std::string last;
  {
    services::ServerOptions options;
    options.tlog_origin = "council.example/ycr/v1";
    auto server = StartOn(data, options);
    ASSERT_TRUE(server.ok()) << server.status();
    auto stub = v1::EventStore::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                            grpc::InsecureChannelCredentials()));
    for (int i = 0; i < 3; ++i) {
      grpc::ClientContext context;
      AsCaller(&context, "ops", "op-1");
      v1::AppendResponse response;
      ASSERT_TRUE(
          stub->Append(&context, AppendOne("ops-notes", "n"), &response).ok());
    }
    auto head = (*server)->checkpointer().Tick();
    ASSERT_TRUE(head.ok()) << head.status();
    ASSERT_EQ(head->size, 3);
    last = head->note;
  }
  std::filesystem::copy(data, restored,
                        std::filesystem::copy_options::recursive);
  std::filesystem::rename(restored + "/tlog-signer.key", old_key);
  const std::string new_key = dir.path() + "/new.key";
  ASSERT_TRUE(
      services::WriteNewSignerKey(new_key, "council.example/ycr/v1").ok());
  const auto refused = [&](services::ServerOptions options) {
    auto server = StartOn(restored, std::move(options));
    ASSERT_FALSE(server.ok());
    EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_TRUE(
        absl::StrContains(server.status().message(), "--tlog_key_rotated"))
        << server.status();
  };
  // No key: none is made.
  refused({});
  EXPECT_FALSE(std::filesystem::exists(restored + "/tlog-signer.key"));
  // Another key.
  services::ServerOptions with_new;
  with_new.tlog_key_file = new_key;
  refused(with_new);
  // The key that signed it: its last checkpoint, at once.
  {
    services::ServerOptions options;
    options.tlog_key_file = old_key;
    auto server = StartOn(restored, options);
    ASSERT_TRUE(server.ok()) << server.status();
    ASSERT_TRUE((*server)->checkpointer().Latest().has_value());
    EXPECT_EQ((*server)->checkpointer().Latest()->note, last);
  }
  // Rotated on purpose: the new key signs from then on, and is kept.
  {
    services::ServerOptions options = with_new;
    options.tlog_key_rotated = true;
    auto server = StartOn(restored, options);
    ASSERT_TRUE(server.ok()) << server.status();
    auto verifier = note::ParseVerifierKey(
        note::VerifierKey(*services::LoadSignerKey("--tlog_key", new_key)));
    ASSERT_TRUE(verifier.ok());
    ASSERT_TRUE((*server)->checkpointer().Latest().has_value());
    EXPECT_TRUE(
        note::Open((*server)->checkpointer().Latest()->note, *verifier).ok());
  }
  EXPECT_TRUE(StartOn(restored, with_new).ok());
  services::ServerOptions with_old;
  with_old.tlog_key_file = old_key;
  refused(with_old);
}

// The store's last checkpoint covers more records than its log holds: the
// log lost what was signed, and the server says so rather than sign a
// smaller tree.
TEST(TlogIdentityTest, ALastCheckpointBeyondTheLogIsDataLoss) {
  TempDir dir;
  note::Signer signer;
  services::SignedTreeHead head;
  {
    auto server = StartOn(dir.path());
    ASSERT_TRUE(server.ok()) << server.status();
    signer = (*server)->checkpointer().signer();
    head = *(*server)->checkpointer().Latest();
  }
  {
    storage::RocksDbEventLogOptions options;
    options.path = dir.path();
    auto log = storage::RocksDbEventLog::Open(std::move(options));
    ASSERT_TRUE(log.ok()) << log.status();
    auto store = (*log)->NewProjectionStore();
    note::Checkpoint larger{signer.name, head.size + 3, head.root, {}};
    auto signed_larger = note::Sign(note::FormatCheckpoint(larger), signer);
    ASSERT_TRUE(signed_larger.ok());
    ASSERT_TRUE(
        services::SaveLastCheckpoint(*store, note::VerifierKey(signer),
                                     {larger.size, larger.root, *signed_larger})
            .ok());
    store.reset();
    (*log)->Close();
  }
  auto server = StartOn(dir.path());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(server.status().message(),
                                "records it signed are lost"))
      << server.status();
}

}  // namespace
}  // namespace ycr::testing
