// A cluster node's own hygiene (issue 17): what its clients' errors say
// when etcd is gone, what its access-log batches hold in etcd, the metrics
// of its replicated commit, and the one transparency-log signer of the
// cluster. Two ycr servers in this process on one real etcd member, each
// with its own store, the same cluster key and the same tlog key.

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/files.h"
#include "common/signed_note.h"
#include "gtest/gtest.h"
#include "replication/cluster_signer.h"
#include "replication/replicated_event_log.h"
#include "services/server.h"
#include "services/tlog_checkpointer.h"
#include "storage/replicated_commit.h"
#include "tests/etcd/etcd_suite.h"
#include "tests/etcd/free_port.h"
#include "tests/etcd/held_node.h"
#include "tests/etcd/in_process_node.h"
#include "tests/integration/domain_flows_fixture.h"
#include "tests/integration/http_get.h"
#include "ycr/v1/access_log_service.grpc.pb.h"
#include "ycr/v1/admin_service.grpc.pb.h"
#include "ycr/v1/event_store.grpc.pb.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::testing {
namespace {

// Distinctive names that must never sit in etcd in clear.
const std::string kSubject = "subject-quillon-7";
const std::string kReader = "reader-ottoline-3";

class ClusterNodeTest : public EtcdSuite<1> {
 protected:
  using Node = InProcessNode;

  // The replicated log's options for node `name` at `address`.
  replication::ReplicatedEventLogOptions ClusterOptions(
      const std::string& name, const std::string& address) const {
    replication::ReplicatedEventLogOptions cluster;
    cluster.endpoints = cluster_->ClientEndpoints();
    cluster.node_id = name;
    cluster.advertise = address;
    cluster.prefix = prefix_ + "/log";
    cluster.election = prefix_ + "/leader";
    cluster.lease_ttl = absl::Seconds(2);
    return cluster;
  }

  void Start(const std::string& name, Node* node, Gate* gate) {
    const std::string address = absl::StrCat("127.0.0.1:", FreePort());
    services::ServerOptions options = ClockedOptions(&clock_);
    options.listen = address;
    options.security.insecure = true;
    options.tlog_listen = "127.0.0.1:0";
    options.metrics_listen = "127.0.0.1:0";
    options.tlog_key_file = tlog_key_;
    options.backup_dir = node->dir.path() + "/backups";
    options.log.path = node->dir.path() + "/data";
    options.log.sync = false;
    replication::ReplicatedEventLogOptions cluster =
        ClusterOptions(name, address);
    cluster.before_apply = [gate] { gate->Pass(); };
    options.open_cluster_log =
        OpenInProcessClusterLog(std::move(cluster), &node->log, 'q');
    const absl::Status started = StartInProcessNode(std::move(options), node);
    ASSERT_TRUE(started.ok()) << started;
  }

  // Two nodes, one leading (a bounded wait), kSubject's record written on
  // the leader and applied by the follower.
  void SetUp() override {
    EtcdSuite<1>::SetUp();
    if (IsSkipped()) return;
    tlog_key_ = keys_.path() + "/cluster-tlog.key";
    ASSERT_TRUE(
        services::WriteNewSignerKey(tlog_key_, "example.org/ycr-cluster").ok());
    ASSERT_NO_FATAL_FAILURE(Start("node-a", &a_, &gate_a_));
    ASSERT_NO_FATAL_FAILURE(Start("node-b", &b_, &gate_b_));
    const int leads = AwaitLeader({a_.log, b_.log}, absl::Seconds(15));
    ASSERT_GE(leads, 0);
    leader_ = leads == 0 ? &a_ : &b_;
    follower_ = leads == 0 ? &b_ : &a_;
    written_ = WriteRecord();
    ASSERT_GT(written_, 0u);
    ASSERT_TRUE(AwaitApplied(follower_, written_));
  }

  void TearDown() override {
    gate_a_.Open();
    gate_b_.Open();
    for (Node* node : {&a_, &b_}) {
      node->channel.reset();
      node->server.reset();
    }
  }

  // Writes kSubject's record on the leader as kSchool; its position (0
  // when refused).
  uint64_t WriteRecord() {
    grpc::ClientContext context;
    AsCaller(&context, kSchool);
    v1::PutSubjectRecordRequest put;
    *put.mutable_record() = Record(kSubject, "Name-Not-In-Etcd");
    put.set_request_id(NewUuid());
    v1::CommandResponse done;
    const grpc::Status s = v1::Subjects::NewStub(leader_->channel)
                               ->PutRecord(&context, put, &done);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return s.ok() ? done.position() : 0;
  }

  static bool AwaitApplied(Node* node, uint64_t position) {
    return ycr::testing::AwaitApplied(node->log, position);
  }

  // Subjects.GetRecord of kSubject on `node` as kSchool's `user`, within
  // `timeout`; what it showed in `*shown` (may be null).
  static grpc::Status ReadRecord(Node* node, const std::string& user,
                                 absl::Duration timeout = absl::Seconds(30),
                                 v1::SubjectRecord* shown = nullptr) {
    grpc::ClientContext context;
    AsCaller(&context, kSchool, user);
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::GetSubjectRecordRequest get;
    get.set_subject_id(kSubject);
    v1::SubjectRecord record;
    return v1::Subjects::NewStub(node->channel)
        ->GetRecord(&context, get, shown != nullptr ? shown : &record);
  }

  // Expects that `status` names neither etcd nor its member's port.
  void ExpectNoInfrastructure(const grpc::Status& status,
                              const std::string& what) const {
    ycr::testing::ExpectNoInfrastructure(status, cluster_->ClientEndpoint(0),
                                         what);
  }

  // Access.ListBySubject of kSubject on `node` as an auditor: the status,
  // and the readers it lists in `*users`.
  static grpc::Status ListReaders(Node* node, std::vector<std::string>* users) {
    grpc::ClientContext context;
    AsCaller(&context, "auditor-1");
    v1::ListAccessBySubjectRequest list;
    list.set_subject_id(kSubject);
    list.set_page_size(1000);
    v1::AccessLogPage page;
    const grpc::Status s = v1::AccessLog::NewStub(node->channel)
                               ->ListBySubject(&context, list, &page);
    users->clear();
    for (const v1::AccessLogEntry& entry : page.entries()) {
      users->push_back(entry.user());
    }
    return s;
  }

  // Waits (bounded) until `node`'s access log answers with `code` and, when
  // OK, lists `user` among kSubject's readers.
  static bool AwaitAccessLog(Node* node, grpc::StatusCode code,
                             const std::string& user = "") {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    std::vector<std::string> users;
    while (absl::Now() < deadline) {
      const grpc::Status s = ListReaders(node, &users);
      if (s.error_code() == code &&
          (code != grpc::StatusCode::OK ||
           std::find(users.begin(), users.end(), user) != users.end())) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(100));  // Flushed within 1 s.
    }
    return false;
  }

  ManualClock clock_{absl::Now()};
  Gate gate_a_, gate_b_;
  TempDir keys_;
  std::string tlog_key_;
  Node a_, b_;
  Node* leader_ = nullptr;
  Node* follower_ = nullptr;
  uint64_t written_ = 0;
};

// etcd's member killed: a read refused because its node cannot ask etcd's
// head (the read barrier, before the access log would refuse it), an
// append the leader cannot commit, a backup whose hold etcd cannot take,
// all say the rule to the client, never etcd's error (which names the
// member's address); the cause is in the server's log.
TEST_F(ClusterNodeTest, ClientsErrorsNameNoInfrastructure) {
  ASSERT_TRUE(cluster_->Kill(0).ok());
  grpc::Status read;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  for (int i = 0; absl::Now() < deadline; ++i) {
    read = ReadRecord(follower_, absl::StrCat("user-", i));
    if (read.error_code() == grpc::StatusCode::UNAVAILABLE) break;
    absl::SleepFor(absl::Milliseconds(100));  // A poll with a deadline.
  }
  EXPECT_EQ(read.error_code(), grpc::StatusCode::UNAVAILABLE);
  // The read barrier refuses it first: the node cannot ask etcd's head.
  EXPECT_TRUE(absl::StrContains(read.error_message(),
                                "cannot tell now whether it holds"))
      << read.error_message();
  ExpectNoInfrastructure(read, "read");

  for (Node* node : {leader_, follower_}) {
    grpc::ClientContext context;
    AsCaller(&context, "ops");
    v1::AppendResponse appended;
    const grpc::Status append =
        v1::EventStore::NewStub(node->channel)
            ->Append(&context, AppendOne("ops-notes", "while etcd is gone"),
                     &appended);
    EXPECT_EQ(append.error_code(), grpc::StatusCode::UNAVAILABLE);
    ExpectNoInfrastructure(append, "append");

    grpc::ClientContext backup_context;
    AsCaller(&backup_context, "ops");
    v1::BackupRequest backup;
    backup.set_name("while-etcd-is-gone");
    v1::BackupResponse backed_up;
    const grpc::Status held = v1::Admin::NewStub(node->channel)
                                  ->Backup(&backup_context, backup, &backed_up);
    EXPECT_EQ(held.error_code(), grpc::StatusCode::UNAVAILABLE);
    ExpectNoInfrastructure(held, "backup");
  }
  ASSERT_TRUE(cluster_->Restart(0).ok());
}

// A read of personal data on a follower shows nothing the leader erased
// before the read began: it waits until the node holds etcd's head, and
// while the follower is held back (before it applies the erasure) it ends
// at its deadline showing nothing; once the follower applies, the record
// is gone there too. Without the wait, the held follower showed the name.
TEST_F(ClusterNodeTest, AFollowerShowsNothingErasedBeforeTheReadBegan) {
  const std::string kName = "Name-Not-In-Etcd";
  v1::SubjectRecord shown;
  const grpc::Status before =
      ReadRecord(follower_, "dsl-1", absl::Seconds(30), &shown);
  ASSERT_TRUE(before.ok()) << before.error_message();
  ASSERT_TRUE(absl::StrContains(shown.DebugString(), kName));

  Gate* held = follower_ == &a_ ? &gate_a_ : &gate_b_;
  held->Close();
  grpc::ClientContext context;
  AsCaller(&context, kSchool);
  v1::EraseSubjectRequest erase;
  erase.set_subject_id(kSubject);
  erase.set_request_ref("req-erase-1");
  erase.set_request_id(NewUuid());
  v1::EraseSubjectResponse erased;
  const grpc::Status s =
      v1::Subjects::NewStub(leader_->channel)->Erase(&context, erase, &erased);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(erased.erased());

  shown.Clear();
  const grpc::Status waiting =
      ReadRecord(follower_, "dsl-1", absl::Seconds(2), &shown);
  EXPECT_EQ(waiting.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << waiting.error_message();
  EXPECT_FALSE(absl::StrContains(shown.DebugString(), kName));
  EXPECT_FALSE(absl::StrContains(waiting.error_message(), kName));

  held->Open();
  shown.Clear();
  const grpc::Status after =
      ReadRecord(follower_, "dsl-1", absl::Seconds(30), &shown);
  EXPECT_NE(after.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << after.error_message();
  EXPECT_FALSE(absl::StrContains(shown.DebugString(), kName));
  EXPECT_FALSE(absl::StrContains(after.error_message(), kName));
}

// A checkpoint asked of a follower for a tree size the leader returned
// waits until the follower holds it, instead of calling it beyond the log
// (OUT_OF_RANGE, as it did): held back, the follower answers at the
// deadline; released, it signs a checkpoint of at least that size.
TEST_F(ClusterNodeTest, AFollowersCheckpointWaitsForWhatTheLeaderReturned) {
  Gate* held = follower_ == &a_ ? &gate_a_ : &gate_b_;
  held->Close();
  grpc::ClientContext append_context;
  AsCaller(&append_context, "ops");
  v1::AppendResponse appended;
  const grpc::Status append =
      v1::EventStore::NewStub(leader_->channel)
          ->Append(&append_context, AppendOne("ops-notes", "held"), &appended);
  ASSERT_TRUE(append.ok()) << append.error_message();
  const uint64_t position = appended.last_position();
  ASSERT_GT(position, written_);
  auto checkpoint = [&](absl::Duration timeout, v1::SignedCheckpoint* out) {
    grpc::ClientContext context;
    AsCaller(&context, "auditor-1");
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::CheckpointRequest request;
    request.set_min_tree_size(position);
    return v1::Audit::NewStub(follower_->channel)
        ->Checkpoint(&context, request, out);
  };
  v1::SignedCheckpoint signed_head;
  const grpc::Status waiting = checkpoint(absl::Seconds(2), &signed_head);
  EXPECT_EQ(waiting.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << waiting.error_message();
  held->Open();
  const grpc::Status served = checkpoint(absl::Seconds(30), &signed_head);
  ASSERT_TRUE(served.ok()) << served.error_message();
  EXPECT_GE(signed_head.tree_size(), position);
}

// Only the replicated commit's own errors are replaced: a refusal the log
// decides itself (here a version conflict) reaches its client word for
// word on a cluster node, even when its stream's name looks like a
// host:port (an earlier filter replaced any message that did).
TEST_F(ClusterNodeTest, TheLogsOwnRefusalsReachClientsWordForWord) {
  const std::string stream = "ops-ward:10:30";
  grpc::ClientContext context;
  AsCaller(&context, "ops");
  v1::AppendResponse appended;
  const grpc::Status s =
      v1::EventStore::NewStub(leader_->channel)
          ->Append(&context,
                   AppendOne(stream, "note", v1::ExpectedVersion::EXACT, 7),
                   &appended);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_TRUE(absl::StrContains(
      s.error_message(), "stream 'ops-ward:10:30' is at version 0, expected"))
      << s.error_message();
}

}  // namespace
}  // namespace ycr::testing

namespace ycr::testing {
namespace {

// A read's access entry sits in etcd sealed: etcd's raw values hold neither
// the reader, nor the organisation, nor the subject. A batch tampered with
// in etcd is not passed over: each node's access log answers DATA_LOSS
// (the server's log names the batch) until it is removed; then the reads
// logged after it are there, nothing lost.
TEST_F(ClusterNodeTest, AccessBatchesSitSealedAndATamperedOneIsRefused) {
  ASSERT_TRUE(ReadRecord(follower_, kReader).ok());
  ASSERT_TRUE(AwaitAccessLog(leader_, grpc::StatusCode::OK, kReader));
  const std::string begin = prefix_ + "/log/access/batch/";
  std::string end = begin;
  end.back() = static_cast<char>(end.back() + 1);
  auto batches = client_->Range(begin, end);
  ASSERT_TRUE(batches.ok()) << batches.status();
  ASSERT_GT(batches->kvs_size(), 0);
  for (const auto& kv : batches->kvs()) {
    for (const std::string& clear : {kReader, kSubject, kSchool}) {
      EXPECT_FALSE(absl::StrContains(kv.value(), clear)) << kv.key();
    }
  }

  std::string tampered = batches->kvs(0).value();
  tampered.back() = static_cast<char>(tampered.back() ^ 1);
  const std::string forged = begin + "node-x/99999999999999999999-forged";
  etcdserverpb::TxnRequest put;
  *put.add_success() = replication::PutOp(forged, tampered);
  ASSERT_TRUE(client_->TxnDecide(put).ok());
  for (Node* node : {leader_, follower_}) {
    EXPECT_TRUE(AwaitAccessLog(node, grpc::StatusCode::DATA_LOSS));
  }
  ASSERT_TRUE(ReadRecord(follower_, "reader-after-forgery").ok());

  etcdserverpb::TxnRequest remove;
  *remove.add_success() = replication::DeleteOp(forged);
  ASSERT_TRUE(client_->TxnDecide(remove).ok());
  for (Node* node : {leader_, follower_}) {
    EXPECT_TRUE(
        AwaitAccessLog(node, grpc::StatusCode::OK, "reader-after-forgery"));
  }
}

}  // namespace
}  // namespace ycr::testing

namespace ycr::testing {
namespace {

// The value of the sample `name` (with its labels, as rendered) in a
// /metrics text; -1 when absent.
double Sample(const std::string& metrics, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (absl::ConsumePrefix(&line, name) && absl::ConsumePrefix(&line, " ")) {
      double value = 0;
      if (absl::SimpleAtod(line, &value)) return value;
    }
  }
  return -1;
}

// /metrics on each node: the leader's fenced transactions (time, entries,
// events, none failed or fenced), what each node applied and its lag
// behind etcd's head (0 once caught up), and the role as a gauge.
TEST_F(ClusterNodeTest, MetricsShowTheReplicatedCommit) {
  auto scrape = [](Node* node) {
    return Get(absl::StrCat("http://127.0.0.1:", node->server->metrics_port(),
                            "/metrics"))
        .body;
  };
  const std::string leads = scrape(leader_);
  EXPECT_GE(Sample(leads, "ycr_replication_txn_seconds_count"), 1) << leads;
  EXPECT_GE(Sample(leads, "ycr_replication_txn_entries_count"), 1);
  EXPECT_GE(Sample(leads, "ycr_replication_txn_events_sum"), written_);
  EXPECT_EQ(Sample(leads, "ycr_replication_txn_failed_total"), 0);
  EXPECT_EQ(Sample(leads, "ycr_replication_txn_fenced_total"), 0);
  EXPECT_EQ(Sample(leads, "ycr_replication_role{role=\"leader\"}"), 1);
  EXPECT_EQ(Sample(leads, "ycr_replication_role{role=\"follower\"}"), 0);
  const std::string follows = scrape(follower_);
  EXPECT_EQ(Sample(follows, "ycr_replication_role{role=\"follower\"}"), 1);
  EXPECT_EQ(Sample(follows, "ycr_replication_txn_seconds_count"), 0);
  for (Node* node : {leader_, follower_}) {
    std::string text;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      text = scrape(node);
      if (Sample(text, "ycr_replication_etcd_head_position") ==
          static_cast<double>(written_)) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(100));  // Polled each second.
    }
    EXPECT_EQ(Sample(text, "ycr_replication_applied_position"), written_);
    // Every node applies each entry itself, the leader included.
    EXPECT_GE(Sample(text, "ycr_replication_apply_seconds_count"), 1);
    EXPECT_EQ(Sample(text, "ycr_replication_etcd_head_position"), written_);
    EXPECT_EQ(Sample(text, "ycr_replication_lag_positions"), 0);
    EXPECT_GT(Sample(text, "ycr_replication_applied_revision"), 0);
    EXPECT_GE(Sample(text, "ycr_replication_etcd_revision"),
              Sample(text, "ycr_replication_applied_revision"));
  }
}

// One signer for the cluster: both nodes, given the same --tlog_key, sign
// a checkpoint of the same tree size byte for byte alike (Ed25519 is
// deterministic, the note's body is origin, size and root only), so one
// public key verifies either. The first node recorded the key in etcd; a
// node with another key is refused, naming --tlog_key.
TEST_F(ClusterNodeTest, TheNodesSignCheckpointsWithTheClustersOneKey) {
  auto checkpoint = [](Node* node) {
    return Get(absl::StrCat("http://127.0.0.1:", node->server->tlog_port(),
                            "/checkpoint"))
        .body;
  };
  const std::string size_line = absl::StrCat("\n", written_, "\n");
  std::string from_leader, from_follower;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    from_leader = checkpoint(leader_);
    from_follower = checkpoint(follower_);
    if (absl::StrContains(from_leader, size_line) &&
        absl::StrContains(from_follower, size_line)) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));  // Signed each second.
  }
  EXPECT_TRUE(absl::StrContains(from_leader, size_line)) << from_leader;
  EXPECT_EQ(from_leader, from_follower);
  auto signer = services::LoadSignerKey("--tlog_key", tlog_key_);
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto verifier = note::ParseVerifierKey(note::VerifierKey(*signer));
  ASSERT_TRUE(verifier.ok());
  EXPECT_TRUE(note::Open(from_follower, *verifier).ok());

  const std::string prefix = prefix_ + "/signer";
  const std::string mine = note::VerifierKey(*signer);
  EXPECT_TRUE(replication::ClaimClusterSigner(*client_, prefix, mine).ok());
  EXPECT_TRUE(replication::ClaimClusterSigner(*client_, prefix, mine).ok());
  auto other = note::NewSigner("example.org/ycr-other");
  ASSERT_TRUE(other.ok());
  const absl::Status refused = replication::ClaimClusterSigner(
      *client_, prefix, note::VerifierKey(*other));
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.message(), "--tlog_key")) << refused;
}

// ycr-server itself: a node started with another key than the cluster
// recorded stops before it serves, naming --tlog_key.
TEST_F(ClusterNodeTest, ANodeWithAnotherTlogKeyIsRefused) {
  const std::string other = keys_.path() + "/other-tlog.key";
  ASSERT_TRUE(services::WriteNewSignerKey(other, "example.org/ycr-other").ok());
  const std::string kek = keys_.path() + "/cluster.kek";
  ASSERT_TRUE(WritePrivateFile(kek, std::string(64, 'b') + "\n").ok());
  auto signer = services::LoadSignerKey("--tlog_key", tlog_key_);
  ASSERT_TRUE(signer.ok());
  ASSERT_TRUE(replication::ClaimClusterSigner(
                  *client_, replication::ReplicatedEventLogOptions().prefix,
                  note::VerifierKey(*signer))
                  .ok());
  const std::string out = keys_.path() + "/refused.txt";
  const std::string command = absl::StrCat(
      "timeout 60 ", YCR_SERVER_BINARY, " --insecure --listen=127.0.0.1:0",
      " --metrics_listen= --tlog_listen= --data_dir=", keys_.path(), "/other",
      " --node_id=other --advertise=127.0.0.1:1 --replication_insecure",
      " --replication=etcd://", cluster_->ClientEndpoint(0),
      " --cluster_kek=", kek, " --tlog_key=", other, " >", out, " 2>&1");
  const int exit = std::system(command.c_str());
  EXPECT_NE(exit, 0);
  EXPECT_NE(WEXITSTATUS(exit), 124) << "it served instead";
  auto said = ReadFile(out);
  ASSERT_TRUE(said.ok());
  EXPECT_TRUE(absl::StrContains(*said, "--tlog_key")) << *said;
  EXPECT_TRUE(absl::StrContains(*said, "same --tlog_key")) << *said;
}

}  // namespace
}  // namespace ycr::testing
