#pragma once

// A thin client of etcd's v3 gRPC API (KV, Lease, Watch and the v3election
// service) over the stubs generated from etcd's own .proto files
// (replication/CMakeLists.txt). Every call has a deadline; every failure is an
// absl::Status saying which call failed and why:
//   UNAVAILABLE         no answer within the deadline, no member reachable,
//                       or etcd itself could not commit (no leader, no
//                       majority, request timed out). The outcome of a write
//                       is then UNKNOWN: it may still commit.
//   FAILED_PRECONDITION a transaction's compares did not hold (Txn).
//   NOT_FOUND           a lease that has expired or was revoked.
//   OUT_OF_RANGE        a revision etcd has compacted away.
//   INVALID_ARGUMENT    etcd refused the request (too large, too many ops).
// Thread-safe; calls block the calling thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "etcd/etcdserver/api/v3election/v3electionpb/v3election.grpc.pb.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/channel.h"

namespace ycr::replication {

class EtcdWatch;

// TLS to etcd's members (PEM text, not file names). No CA: plain text.
struct EtcdTls {
  // The CA that signed the members' certificates.
  std::string ca_pem;
  // This client's certificate and key, for members that ask for one
  // (etcd --client-cert-auth); both or neither.
  std::string cert_pem;
  std::string key_pem;
  bool enabled() const { return !ca_pem.empty(); }
};

struct EtcdClientOptions {
  // The members' client addresses, host:port. Calls are spread over them
  // round robin; a member that cannot be reached is skipped once gRPC sees
  // its connection fail.
  std::vector<std::string> endpoints;
  // The deadline of each unary call. Campaign takes its own.
  absl::Duration call_timeout = absl::Seconds(5);
  // Plain text unless tls.enabled().
  EtcdTls tls{};
};

// A key's value with its revisions.
struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

// The end of the range of every key starting with `prefix`.
std::string PrefixEnd(absl::string_view prefix);

// Builders of a transaction's parts.
etcdserverpb::Compare ModRevisionIs(absl::string_view key, int64_t revision);
// 0: the key does not exist.
etcdserverpb::Compare CreateRevisionIs(absl::string_view key, int64_t revision);
etcdserverpb::Compare ValueIs(absl::string_view key, absl::string_view value);
etcdserverpb::RequestOp PutOp(absl::string_view key, absl::string_view value,
                              int64_t lease = 0);
etcdserverpb::RequestOp DeleteOp(absl::string_view key,
                                 absl::string_view range_end = {});
etcdserverpb::RequestOp RangeOp(absl::string_view key,
                                absl::string_view range_end = {});

// A transaction that was decided: `succeeded` says which branch ran.
struct TxnOutcome {
  bool succeeded = false;
  etcdserverpb::TxnResponse response;
};

class EtcdClient {
 public:
  // INVALID_ARGUMENT when there is no endpoint. Connects lazily.
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(
      EtcdClientOptions options);

  // Keys in [key, range_end) (only `key` when range_end is empty), at most
  // `limit` (0: all), at `revision` (0: the newest). Linearizable.
  absl::StatusOr<etcdserverpb::RangeResponse> Range(absl::string_view key,
                                                    absl::string_view range_end,
                                                    int64_t limit = 0,
                                                    int64_t revision = 0);
  // One key, nullopt when absent.
  absl::StatusOr<std::optional<KeyValue>> Get(absl::string_view key);
  // The cluster's current revision (a linearizable read).
  absl::StatusOr<int64_t> CurrentRevision();

  // Runs a transaction; either branch is an answer.
  absl::StatusOr<TxnOutcome> TxnDecide(const etcdserverpb::TxnRequest& request);
  // Runs a transaction whose compares must hold: FAILED_PRECONDITION
  // (nothing written) when they do not.
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(
      const etcdserverpb::TxnRequest& request);
  // Compacts the history up to `revision` (physical: waits for it).
  absl::Status Compact(int64_t revision);

  // A lease of `ttl` (whole seconds, at least 1); its id.
  absl::StatusOr<int64_t> LeaseGrant(absl::Duration ttl);
  // Renews the lease once (one round on a keep-alive stream): its TTL in
  // seconds. NOT_FOUND when it has expired or was revoked.
  absl::StatusOr<int64_t> LeaseKeepAliveOnce(int64_t lease);
  // Seconds left; NOT_FOUND when it has expired or was revoked.
  absl::StatusOr<int64_t> LeaseTimeToLive(int64_t lease);
  absl::Status LeaseRevoke(int64_t lease);

  // v3election: blocks until this lease's holder leads `election` (or
  // `timeout`), then the leader key. The key lives as long as the lease.
  absl::StatusOr<v3electionpb::LeaderKey> Campaign(absl::string_view election,
                                                   int64_t lease,
                                                   absl::string_view value,
                                                   absl::Duration timeout);
  absl::Status Proclaim(const v3electionpb::LeaderKey& leader,
                        absl::string_view value);
  // The current leader's key and value; nullopt when there is none.
  absl::StatusOr<std::optional<KeyValue>> Leader(absl::string_view election);
  absl::Status Resign(const v3electionpb::LeaderKey& leader);

  // Watches [key, range_end) from `start_revision` (inclusive; 0: from now).
  // Events arrive in revision order (etcd_watch.h).
  absl::StatusOr<std::unique_ptr<EtcdWatch>> Watch(absl::string_view key,
                                                   absl::string_view range_end,
                                                   int64_t start_revision);

  // The status of the member this call reaches (round robin: give the
  // client one endpoint to ask a given member): its id and its leader's.
  absl::StatusOr<etcdserverpb::StatusResponse> MemberStatus();

  absl::Duration call_timeout() const { return options_.call_timeout; }

 private:
  EtcdClient(EtcdClientOptions options, std::shared_ptr<grpc::Channel> channel);
  void SetDeadline(grpc::ClientContext* context) const;

  EtcdClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease_;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch_;
  std::unique_ptr<v3electionpb::Election::Stub> election_;
  std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance_;
};

// `status` of etcd call `what` as an absl::Status (codes above).
absl::Status FromEtcd(const grpc::Status& status, absl::string_view what);

KeyValue FromProto(const mvccpb::KeyValue& kv);

}  // namespace ycr::replication
