// The fenced writer of the replicated log (replication/
// replicated_log_writer.h) against a real 3-member etcd cluster: one entry
// per batch in one transaction, chained; racing writers (one continues);
// an expired lease (cannot write); sizes (split, refused, etcd's own limit);
// a member lost (writes go on), two lost (UNAVAILABLE within the deadline,
// and the entry in doubt settled once they are back).

#include "replication/replicated_log_writer.h"

#include <algorithm>
#include <atomic>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "storage/record_codec.h"
#include "tests/etcd/etcd_suite.h"
#include "tests/etcd/replicated_entries.h"

namespace ycr::replication {
namespace {

using ::ycr::testing::EtcdCluster;
using ::ycr::testing::MakeAppends;

class ReplicatedLogWriterTest : public ::ycr::testing::EtcdSuite<3> {
 protected:
  void SetUp() override {
    EtcdSuite::SetUp();
    options_.prefix = prefix_;
  }

  std::unique_ptr<ReplicatedLogWriter> Open(
      EtcdClient* client, std::optional<Fence> fence = std::nullopt) {
    auto writer = ReplicatedLogWriter::Open(client, options_, fence);
    EXPECT_TRUE(writer.ok()) << writer.status();
    return writer.ok() ? std::move(*writer) : nullptr;
  }

  // The entries under the prefix, parsed, checked to chain from the start.
  std::vector<v1::ReplicatedEntry> ReadEntries() {
    const std::string from = options_.prefix + "/entry/";
    auto range = client_->Range(from, PrefixEnd(from));
    EXPECT_TRUE(range.ok()) << range.status();
    std::vector<v1::ReplicatedEntry> out;
    std::string prev(32, '\0');
    uint64_t next = 1;
    for (const auto& kv : range->kvs()) {
      v1::ReplicatedEntry& entry = out.emplace_back();
      EXPECT_TRUE(entry.ParseFromString(kv.value()));
      EXPECT_EQ(entry.prev_entry_hash(), prev) << kv.key();
      EXPECT_EQ(entry.first_position(), next) << kv.key();
      EXPECT_EQ(kv.key(), EntryKey(options_.prefix, entry.first_position()));
      prev = EntryHash(kv.value());
      for (const auto& append : entry.appends()) next += append.records_size();
    }
    return out;
  }

  ReplicatedLogOptions options_;
};

TEST_F(ReplicatedLogWriterTest, OneEntryPerBatchChainedAndTheHeadFollows) {
  auto writer = Open(client_.get());
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(writer->head().last_position(), 0u);
  EXPECT_EQ(writer->head().last_record_hash(), storage::GenesisHash());
  for (int batch = 0; batch < 3; ++batch) {
    WriteResult written = writer->Write(MakeAppends(writer->head(), {2, 1, 3}));
    ASSERT_TRUE(written.status.ok()) << written.status;
    EXPECT_EQ(written.appends_written, 3u);
  }
  EXPECT_EQ(writer->head().last_position(), 18u);
  std::vector<v1::ReplicatedEntry> entries = ReadEntries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[2].appends_size(), 3);
  // The head in etcd is the writer's, and names the last entry.
  auto head = client_->Get(HeadKey(options_.prefix));
  ASSERT_TRUE(head.ok() && head->has_value());
  v1::ReplicatedHead stored;
  ASSERT_TRUE(stored.ParseFromString((*head)->value));
  EXPECT_EQ(stored.last_position(), 18u);
  EXPECT_EQ(stored.entry_key(), EntryKey(options_.prefix, 13));
  EXPECT_EQ((*head)->mod_revision, writer->head_revision());
  // A writer opened later continues from it.
  auto later = Open(client_.get());
  EXPECT_EQ(later->head().SerializeAsString(), stored.SerializeAsString());
}

TEST_F(ReplicatedLogWriterTest, ABatchThatDoesNotContinueTheLogIsRefused) {
  auto writer = Open(client_.get());
  ASSERT_TRUE(writer->Write(MakeAppends(writer->head(), {2})).status.ok());
  // Starts at position 1 again.
  WriteResult again =
      writer->Write(MakeAppends(0, storage::GenesisHash(), {1}));
  EXPECT_EQ(again.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(again.status.message().find("appends[0].records[0]"),
            std::string::npos)
      << again.status;
  // The right position with a broken chain.
  WriteResult broken = writer->Write(MakeAppends(2, std::string(32, 'z'), {1}));
  EXPECT_EQ(broken.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(broken.status.message().find("chain"), std::string::npos);
  v1::ReplicatedAppend empty;
  EXPECT_EQ(writer->Write({empty}).status.code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadEntries().size(), 1u);
  // Refusals depose no one.
  EXPECT_TRUE(writer->Write(MakeAppends(writer->head(), {1})).status.ok());
}

TEST_F(ReplicatedLogWriterTest, TwoRacingWritersOnlyOneContinues) {
  auto client_b = NewClient(absl::Seconds(5));
  auto a = Open(client_.get());
  auto b = Open(client_b.get());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  // Both build on the same head and write at once.
  const auto batch_a = MakeAppends(a->head(), {1, 1});
  const auto batch_b = MakeAppends(b->head(), {3});
  WriteResult result_a, result_b;
  std::atomic<int> ready{0};
  auto race = [&ready](ReplicatedLogWriter* w,
                       const std::vector<v1::ReplicatedAppend>* batch,
                       WriteResult* out) {
    ready.fetch_add(1);
    while (ready.load() < 2) {
    }
    *out = w->Write(*batch);
  };
  std::thread ta(race, a.get(), &batch_a, &result_a);
  std::thread tb(race, b.get(), &batch_b, &result_b);
  ta.join();
  tb.join();
  ASSERT_NE(result_a.status.ok(), result_b.status.ok())
      << result_a.status << " / " << result_b.status;
  ReplicatedLogWriter* winner = result_a.status.ok() ? a.get() : b.get();
  ReplicatedLogWriter* loser = result_a.status.ok() ? b.get() : a.get();
  const WriteResult& lost = result_a.status.ok() ? result_b : result_a;
  EXPECT_EQ(lost.status.code(), absl::StatusCode::kFailedPrecondition)
      << lost.status;
  EXPECT_EQ(lost.appends_written, 0u);
  EXPECT_TRUE(loser->deposed());
  // The loser never writes again, even on the current head.
  EXPECT_EQ(loser->Write(MakeAppends(winner->head(), {1})).status.code(),
            absl::StatusCode::kFailedPrecondition);
  // The winner goes on; etcd holds only the winner's entries.
  ASSERT_TRUE(winner->Write(MakeAppends(winner->head(), {1})).status.ok());
  std::vector<v1::ReplicatedEntry> entries = ReadEntries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].appends_size(), winner == a.get() ? 2 : 1);
}

TEST_F(ReplicatedLogWriterTest, AWriterWhoseLeaseExpiredCannotWrite) {
  // Leadership: an election key on a short lease, never kept alive.
  auto lease = client_->LeaseGrant(absl::Seconds(2));
  ASSERT_TRUE(lease.ok()) << lease.status();
  auto leader = client_->Campaign(options_.prefix + "/leader", *lease, "node-a",
                                  absl::Seconds(5));
  ASSERT_TRUE(leader.ok()) << leader.status();
  auto writer = Open(client_.get(), Fence{leader->key(), leader->rev()});
  ASSERT_TRUE(writer->Write(MakeAppends(writer->head(), {1})).status.ok())
      << "a leader with a live lease writes";
  // Wait (bounded) for etcd to expire the lease.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (client_->LeaseTimeToLive(*lease).ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(client_->LeaseTimeToLive(*lease).status().code(),
            absl::StatusCode::kNotFound);
  WriteResult late = writer->Write(MakeAppends(writer->head(), {1}));
  EXPECT_EQ(late.status.code(), absl::StatusCode::kFailedPrecondition)
      << late.status;
  EXPECT_NE(late.status.message().find("fence"), std::string::npos);
  EXPECT_EQ(ReadEntries().size(), 1u) << "nothing of the late entry written";
  // The same holds for a leader that resigned (a fresh election).
  auto lease_b = client_->LeaseGrant(absl::Seconds(30));
  auto next = client_->Campaign(options_.prefix + "/leader", *lease_b, "node-b",
                                absl::Seconds(5));
  ASSERT_TRUE(next.ok()) << next.status();
  auto b = Open(client_.get(), Fence{next->key(), next->rev()});
  ASSERT_TRUE(b->Write(MakeAppends(b->head(), {1})).status.ok());
  ASSERT_TRUE(client_->Resign(*next).ok());
  EXPECT_EQ(b->Write(MakeAppends(b->head(), {1})).status.code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadEntries().size(), 2u);
  EXPECT_EQ(ReplicatedLogWriter::Open(client_.get(), options_, Fence{"", 1})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ReplicatedLogWriterTest, ABatchOverTheLimitIsSplitNeverAnAppend) {
  options_.max_entry_bytes = 4096;
  auto writer = Open(client_.get());
  // Records of about 400 bytes: 2-record appends of about 800 bytes, so an
  // entry holds four of them.
  WriteResult written =
      writer->Write(MakeAppends(writer->head(), {2, 2, 2, 2, 2, 2, 2, 2, 2, 2},
                                /*payload_bytes=*/300));
  ASSERT_TRUE(written.status.ok()) << written.status;
  EXPECT_EQ(written.appends_written, 10u);
  std::vector<v1::ReplicatedEntry> entries = ReadEntries();
  ASSERT_GE(entries.size(), 3u);
  size_t appends = 0;
  for (const v1::ReplicatedEntry& e : entries) {
    EXPECT_LE(e.ByteSizeLong(), options_.max_entry_bytes);
    appends += e.appends_size();
    for (const auto& a : e.appends()) EXPECT_EQ(a.records_size(), 2);
  }
  EXPECT_EQ(appends, 10u);
  // One append over the limit: refused whole, nothing written, not deposed.
  const size_t before = entries.size();
  WriteResult big = writer->Write(
      MakeAppends(writer->head(), {1, 12}, /*payload_bytes=*/300));
  EXPECT_EQ(big.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(big.status.message().find("appends[1]"), std::string::npos)
      << big.status;
  EXPECT_EQ(big.appends_written, 0u);
  EXPECT_EQ(ReadEntries().size(), before);
  EXPECT_FALSE(writer->deposed());
}

TEST_F(ReplicatedLogWriterTest, AnEntryAtTheDefaultLimitFitsEtcdsRequestLimit) {
  // etcd's own limit (1.5 MiB by default) is what the default leaves room
  // under: one append as close to kDefaultMaxEntryBytes as records allow.
  auto writer = Open(client_.get());
  const size_t payload = 64 * 1024;
  const int records = static_cast<int>(kDefaultMaxEntryBytes / (payload + 200));
  auto appends = MakeAppends(writer->head(), {records}, payload);
  // Top it up with a last record that takes the entry to the limit.
  const size_t used = appends[0].ByteSizeLong() + 64;
  auto fill = MakeAppends(writer->head().last_position() + records,
                          appends[0].records(records - 1).substr(0, 32), {1},
                          kDefaultMaxEntryBytes - used - 300);
  *appends[0].add_records() = fill[0].records(0);
  WriteResult written = writer->Write(appends);
  ASSERT_TRUE(written.status.ok()) << written.status;
  std::vector<v1::ReplicatedEntry> entries = ReadEntries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_GT(entries[0].ByteSizeLong(), kDefaultMaxEntryBytes - 1024);
  // Past etcd's limit etcd itself refuses, and the writer says so.
  etcdserverpb::TxnRequest too_big;
  *too_big.add_success() =
      PutOp(options_.prefix + "/x", std::string(1536 * 1024 + 1, 'x'));
  EXPECT_EQ(client_->Txn(too_big).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ReplicatedLogWriterTest, AnEntryIsNeverOverwritten) {
  auto writer = Open(client_.get());
  ASSERT_TRUE(writer->Write(MakeAppends(writer->head(), {1})).status.ok());
  // The head removed by hand: a new writer would start at position 1 again,
  // where an entry exists.
  etcdserverpb::TxnRequest remove;
  *remove.add_success() = DeleteOp(HeadKey(options_.prefix));
  ASSERT_TRUE(client_->Txn(remove).ok());
  auto fresh = Open(client_.get());
  WriteResult over = fresh->Write(MakeAppends(fresh->head(), {2}));
  EXPECT_EQ(over.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(over.status.message().find("already exists"), std::string::npos)
      << over.status;
  std::vector<v1::ReplicatedEntry> entries = ReadEntries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].appends(0).records_size(), 1);
}

// Not a check: the cost of one fenced transaction (an entry of one append
// of two records, about 1 KiB) on this cluster, from 1, 16 and 64 writers at
// once, each on its own log, printed for the README. Bounded: a fixed count.
TEST_F(ReplicatedLogWriterTest, CostOfOneFencedTxnPrinted) {
  for (const int writers : {1, 16, 64}) {
    const int each = writers == 1 ? 200 : 1280 / writers;
    std::vector<std::vector<absl::Duration>> took(writers);
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    const absl::Time start = absl::Now();
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        auto client = NewClient(absl::Seconds(10));
        ReplicatedLogOptions options = options_;
        options.prefix = absl::StrCat(options_.prefix, "/", writers, "/", w);
        auto writer = ReplicatedLogWriter::Open(client.get(), options, {});
        if (!writer.ok()) {
          failures.fetch_add(each);
          return;
        }
        for (int i = 0; i < each; ++i) {
          auto batch = MakeAppends((*writer)->head(), {2}, 300);
          const absl::Time t = absl::Now();
          if (!(*writer)->Write(batch).status.ok()) failures.fetch_add(1);
          took[w].push_back(absl::Now() - t);
        }
      });
    }
    for (auto& t : threads) t.join();
    const absl::Duration elapsed = absl::Now() - start;
    std::vector<absl::Duration> all;
    for (auto& v : took) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    ASSERT_FALSE(all.empty());
    EXPECT_EQ(failures.load(), 0);
    std::cout << "fenced Txn, " << writers << " writer(s): " << all.size()
              << " Txns in " << absl::FormatDuration(elapsed) << ", "
              << static_cast<int>(all.size() / absl::ToDoubleSeconds(elapsed))
              << "/s, p50 " << absl::FormatDuration(all[all.size() / 2])
              << ", p99 " << absl::FormatDuration(all[all.size() * 99 / 100])
              << "\n";
  }
}

// Its own cluster: members are killed.
TEST(ReplicatedLogWriterFailureTest, OneMemberLostWritesGoOnTwoLostRefused) {
  std::optional<std::string> etcd = ::ycr::testing::FindEtcd();
  if (!etcd.has_value()) GTEST_SKIP() << "no etcd binary (etcd-server)";
  auto started = EtcdCluster::Start(*etcd, {.members = 3});
  ASSERT_TRUE(started.ok()) << started.status();
  EtcdCluster& cluster = **started;
  constexpr absl::Duration kCallTimeout = absl::Seconds(2);
  auto client = EtcdClient::Create(
      {.endpoints = cluster.ClientEndpoints(), .call_timeout = kCallTimeout});
  ASSERT_TRUE(client.ok());
  auto opened = ReplicatedLogWriter::Open(client->get(), {}, std::nullopt);
  ASSERT_TRUE(opened.ok()) << opened.status();
  ReplicatedLogWriter& writer = **opened;
  ASSERT_TRUE(writer.Write(MakeAppends(writer.head(), {1})).status.ok());

  // A follower lost: a majority remains, every write commits at once.
  auto leader = cluster.Leader(absl::Seconds(10));
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int follower = (*leader + 1) % 3;
  ASSERT_TRUE(cluster.Kill(follower).ok());
  for (int i = 0; i < 5; ++i) {
    WriteResult w = writer.Write(MakeAppends(writer.head(), {1}));
    ASSERT_TRUE(w.status.ok()) << i << ": " << w.status;
  }
  EXPECT_EQ(writer.head().last_position(), 6u);
  ASSERT_TRUE(cluster.Restart(follower).ok());

  // The leader lost: etcd elects another; the write caught in between may
  // be refused (its outcome settled by Recover), and writes resume.
  ASSERT_TRUE(cluster.Kill(*leader).ok());
  const absl::Time resume_deadline = absl::Now() + absl::Seconds(15);
  int refusals = 0;
  while (writer.head().last_position() < 7 && absl::Now() < resume_deadline) {
    WriteResult w = writer.Write(MakeAppends(writer.head(), {1}));
    if (w.status.ok()) break;
    ASSERT_EQ(w.status.code(), absl::StatusCode::kUnavailable) << w.status;
    ++refusals;
    absl::StatusOr<size_t> settled = writer.Recover();
    while (!settled.ok() && absl::Now() < resume_deadline) {
      ASSERT_EQ(settled.status().code(), absl::StatusCode::kUnavailable)
          << settled.status();
      settled = writer.Recover();
    }
  }
  ASSERT_EQ(writer.head().last_position(), 7u)
      << "writes did not resume within 15 s of losing etcd's leader";
  std::cout << "etcd leader killed: " << refusals
            << " write(s) refused before writes resumed\n";

  // Members [0..2] but the killed leader are up: kill one more below.
  const int down = *leader;
  const int first_back = follower;
  const int second = 3 - down - first_back;
  // Two lost: no majority. The write is refused within the call's deadline,
  // never acknowledged.
  ASSERT_TRUE(cluster.Kill(second).ok());
  const absl::Time start = absl::Now();
  WriteResult refused = writer.Write(MakeAppends(writer.head(), {2}));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kUnavailable)
      << refused.status;
  EXPECT_EQ(refused.appends_written, 0u);
  EXPECT_LT(took, kCallTimeout + absl::Seconds(1));
  // Until it is settled the writer writes nothing more.
  EXPECT_EQ(writer.Write(MakeAppends(writer.head(), {1})).status.code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(writer.Recover().status().code(), absl::StatusCode::kUnavailable);

  // Both back: the entry in doubt is settled (it may have landed: the
  // member that took it may have had it in its log), and writing resumes.
  ASSERT_TRUE(cluster.Restart(down).ok());
  ASSERT_TRUE(cluster.Restart(second).ok());
  absl::StatusOr<size_t> settled = writer.Recover();
  const absl::Time recover_deadline = absl::Now() + absl::Seconds(20);
  while (!settled.ok() &&
         settled.status().code() == absl::StatusCode::kUnavailable &&
         absl::Now() < recover_deadline) {
    settled = writer.Recover();
  }
  ASSERT_TRUE(settled.ok()) << settled.status();
  EXPECT_TRUE(*settled == 0 || *settled == 1) << *settled;
  EXPECT_EQ(writer.head().last_position(), *settled == 1 ? 9u : 7u);
  WriteResult resumed = writer.Write(MakeAppends(writer.head(), {1}));
  ASSERT_TRUE(resumed.status.ok()) << resumed.status;
  // What etcd holds agrees with the writer: every entry, chained.
  auto head = (*client)->Get(HeadKey("/ycr/log"));
  ASSERT_TRUE(head.ok() && head->has_value());
  v1::ReplicatedHead stored;
  ASSERT_TRUE(stored.ParseFromString((*head)->value));
  EXPECT_EQ(stored.last_position(), writer.head().last_position());
  auto range =
      (*client)->Range("/ycr/log/entry/", PrefixEnd("/ycr/log/entry/"));
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->kvs_size(), *settled == 1 ? 9 : 8);
}

}  // namespace
}  // namespace ycr::replication
