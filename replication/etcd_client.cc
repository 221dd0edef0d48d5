#include "replication/etcd_client.h"

#include <arpa/inet.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "replication/etcd_watch.h"

namespace ycr::replication {

absl::Status FromEtcd(const grpc::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  const std::string message =
      absl::StrCat("etcd ", what, ": ", status.error_message());
  switch (status.error_code()) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
      // No answer: no member reached, or no majority to commit. A write's
      // outcome is unknown.
      return absl::UnavailableError(message);
    case grpc::StatusCode::NOT_FOUND:
      return absl::NotFoundError(message);
    case grpc::StatusCode::OUT_OF_RANGE:
      return absl::OutOfRangeError(message);
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return absl::InvalidArgumentError(message);
    case grpc::StatusCode::FAILED_PRECONDITION:
      return absl::FailedPreconditionError(message);
    default:
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          message);
  }
}

KeyValue FromProto(const mvccpb::KeyValue& kv) {
  return KeyValue{kv.key(),          kv.value(),   kv.create_revision(),
                  kv.mod_revision(), kv.version(), kv.lease()};
}

std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) != 0xff) {
      end.back() = static_cast<char>(end.back() + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // Every key.
}

namespace {

bool IsIpv4Endpoint(const std::string& endpoint) {
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return false;
  in_addr addr;
  return inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr) == 1;
}

// gRPC's target for the members: their IPv4 addresses, each its own
// subchannel; or one DNS name, each of whose addresses is a member (e.g. a
// Kubernetes headless Service).
absl::StatusOr<std::string> ChannelTarget(
    const std::vector<std::string>& endpoints) {
  if (std::all_of(endpoints.begin(), endpoints.end(), IsIpv4Endpoint)) {
    return absl::StrCat("ipv4:", absl::StrJoin(endpoints, ","));
  }
  if (endpoints.size() == 1) return absl::StrCat("dns:///", endpoints[0]);
  return absl::InvalidArgumentError(absl::StrCat(
      "etcd endpoints: either IPv4 addresses (host:port, ...) or one DNS "
      "name whose addresses are the members, not ",
      absl::StrJoin(endpoints, ",")));
}

etcdserverpb::Compare CompareOn(absl::string_view key,
                                etcdserverpb::Compare::CompareTarget target) {
  etcdserverpb::Compare c;
  c.set_key(std::string(key));
  c.set_result(etcdserverpb::Compare::EQUAL);
  c.set_target(target);
  return c;
}

}  // namespace

etcdserverpb::Compare ModRevisionIs(absl::string_view key, int64_t revision) {
  etcdserverpb::Compare c = CompareOn(key, etcdserverpb::Compare::MOD);
  c.set_mod_revision(revision);
  return c;
}

etcdserverpb::Compare CreateRevisionIs(absl::string_view key,
                                       int64_t revision) {
  etcdserverpb::Compare c = CompareOn(key, etcdserverpb::Compare::CREATE);
  c.set_create_revision(revision);
  return c;
}

etcdserverpb::Compare ValueIs(absl::string_view key, absl::string_view value) {
  etcdserverpb::Compare c = CompareOn(key, etcdserverpb::Compare::VALUE);
  c.set_value(std::string(value));
  return c;
}

etcdserverpb::RequestOp PutOp(absl::string_view key, absl::string_view value,
                              int64_t lease) {
  etcdserverpb::RequestOp op;
  etcdserverpb::PutRequest* put = op.mutable_request_put();
  put->set_key(std::string(key));
  put->set_value(std::string(value));
  put->set_lease(lease);
  return op;
}

etcdserverpb::RequestOp DeleteOp(absl::string_view key,
                                 absl::string_view range_end) {
  etcdserverpb::RequestOp op;
  op.mutable_request_delete_range()->set_key(std::string(key));
  op.mutable_request_delete_range()->set_range_end(std::string(range_end));
  return op;
}

etcdserverpb::RequestOp RangeOp(absl::string_view key,
                                absl::string_view range_end) {
  etcdserverpb::RequestOp op;
  op.mutable_request_range()->set_key(std::string(key));
  op.mutable_request_range()->set_range_end(std::string(range_end));
  return op;
}

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(
    EtcdClientOptions options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("etcd endpoints: none given");
  }
  if (options.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("etcd call_timeout: must be positive");
  }
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
  // etcd's default request limit is 1.5 MiB; answers (a range of entries)
  // may be larger.
  args.SetMaxReceiveMessageSize(64 << 20);
  // A member that comes back is used again within a second, not after
  // gRPC's default backoff of up to two minutes; and no channel shares
  // another's backoff state. (GRPC_ARG_MIN_RECONNECT_BACKOFF_MS is left
  // alone: gRPC also takes it as the time a connection attempt may take.)
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  ASSIGN_OR_RETURN(const std::string target, ChannelTarget(options.endpoints));
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (options.tls.enabled()) {
    if (options.tls.cert_pem.empty() != options.tls.key_pem.empty()) {
      return absl::InvalidArgumentError(
          "etcd TLS: a client certificate needs its key, and a key its "
          "certificate");
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls.ca_pem;
    ssl.pem_cert_chain = options.tls.cert_pem;
    ssl.pem_private_key = options.tls.key_pem;
    credentials = grpc::SslCredentials(ssl);
    // The name every member's certificate must carry: the first endpoint's
    // host (one DNS name, or the first address), not the channel's
    // authority, which for several addresses is their whole list.
    const std::string& first = options.endpoints.front();
    args.SetSslTargetNameOverride(first.substr(0, first.rfind(':')));
  }
  auto channel = grpc::CreateCustomChannel(target, credentials, args);
  return std::unique_ptr<EtcdClient>(
      new EtcdClient(std::move(options), std::move(channel)));
}

EtcdClient::EtcdClient(EtcdClientOptions options,
                       std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      kv_(etcdserverpb::KV::NewStub(channel_)),
      lease_(etcdserverpb::Lease::NewStub(channel_)),
      watch_(etcdserverpb::Watch::NewStub(channel_)),
      election_(v3electionpb::Election::NewStub(channel_)),
      maintenance_(etcdserverpb::Maintenance::NewStub(channel_)) {}

void EtcdClient::SetDeadline(grpc::ClientContext* context) const {
  context->set_deadline(
      absl::ToChronoTime(absl::Now() + options_.call_timeout));
}

absl::StatusOr<etcdserverpb::RangeResponse> EtcdClient::Range(
    absl::string_view key, absl::string_view range_end, int64_t limit,
    int64_t revision) {
  etcdserverpb::RangeRequest request;
  request.set_key(std::string(key));
  request.set_range_end(std::string(range_end));
  request.set_limit(limit);
  request.set_revision(revision);
  etcdserverpb::RangeResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  RETURN_IF_ERROR(FromEtcd(kv_->Range(&context, request, &response), "Range"));
  return response;
}

absl::StatusOr<std::optional<KeyValue>> EtcdClient::Get(absl::string_view key) {
  ASSIGN_OR_RETURN(etcdserverpb::RangeResponse r, Range(key, {}));
  if (r.kvs_size() == 0) return std::nullopt;
  return FromProto(r.kvs(0));
}

absl::StatusOr<int64_t> EtcdClient::CurrentRevision() {
  // A range over one key answers with the store's revision in its header.
  ASSIGN_OR_RETURN(etcdserverpb::RangeResponse r,
                   Range(std::string(1, '\0'), {}, 1));
  return r.header().revision();
}

absl::StatusOr<TxnOutcome> EtcdClient::TxnDecide(
    const etcdserverpb::TxnRequest& request) {
  TxnOutcome outcome;
  grpc::ClientContext context;
  SetDeadline(&context);
  RETURN_IF_ERROR(
      FromEtcd(kv_->Txn(&context, request, &outcome.response), "Txn"));
  outcome.succeeded = outcome.response.succeeded();
  return outcome;
}

absl::StatusOr<etcdserverpb::TxnResponse> EtcdClient::Txn(
    const etcdserverpb::TxnRequest& request) {
  ASSIGN_OR_RETURN(TxnOutcome outcome, TxnDecide(request));
  if (!outcome.succeeded) {
    return absl::FailedPreconditionError(
        "etcd Txn: a compare did not hold; nothing was written");
  }
  return std::move(outcome.response);
}

absl::Status EtcdClient::Compact(int64_t revision) {
  etcdserverpb::CompactionRequest request;
  request.set_revision(revision);
  request.set_physical(true);
  etcdserverpb::CompactionResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  return FromEtcd(kv_->Compact(&context, request, &response), "Compact");
}

absl::StatusOr<int64_t> EtcdClient::LeaseGrant(absl::Duration ttl) {
  const int64_t seconds = absl::ToInt64Seconds(ttl);
  if (seconds < 1) {
    return absl::InvalidArgumentError("etcd lease ttl: at least 1 s");
  }
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(seconds);
  etcdserverpb::LeaseGrantResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  RETURN_IF_ERROR(
      FromEtcd(lease_->LeaseGrant(&context, request, &response), "LeaseGrant"));
  if (!response.error().empty()) {
    return absl::UnavailableError(
        absl::StrCat("etcd LeaseGrant: ", response.error()));
  }
  return response.id();
}

absl::StatusOr<int64_t> EtcdClient::LeaseKeepAliveOnce(int64_t lease) {
  grpc::ClientContext context;
  SetDeadline(&context);
  auto stream = lease_->LeaseKeepAlive(&context);
  etcdserverpb::LeaseKeepAliveRequest request;
  request.set_id(lease);
  etcdserverpb::LeaseKeepAliveResponse response;
  const bool answered = stream->Write(request) && stream->Read(&response);
  stream->WritesDone();
  context.TryCancel();
  const grpc::Status finished = stream->Finish();
  if (!answered) {
    RETURN_IF_ERROR(FromEtcd(finished, "LeaseKeepAlive"));
    return absl::UnavailableError("etcd LeaseKeepAlive: no answer");
  }
  if (response.ttl() <= 0) {
    return absl::NotFoundError(
        absl::StrCat("etcd LeaseKeepAlive: lease ", lease, " has expired"));
  }
  return response.ttl();
}

absl::StatusOr<int64_t> EtcdClient::LeaseTimeToLive(int64_t lease) {
  etcdserverpb::LeaseTimeToLiveRequest request;
  request.set_id(lease);
  etcdserverpb::LeaseTimeToLiveResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  RETURN_IF_ERROR(
      FromEtcd(lease_->LeaseTimeToLive(&context, request, &response),
               "LeaseTimeToLive"));
  if (response.ttl() < 0) {
    return absl::NotFoundError(
        absl::StrCat("etcd LeaseTimeToLive: lease ", lease, " has expired"));
  }
  return response.ttl();
}

absl::Status EtcdClient::LeaseRevoke(int64_t lease) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease);
  etcdserverpb::LeaseRevokeResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  return FromEtcd(lease_->LeaseRevoke(&context, request, &response),
                  "LeaseRevoke");
}

absl::StatusOr<v3electionpb::LeaderKey> EtcdClient::Campaign(
    absl::string_view election, int64_t lease, absl::string_view value,
    absl::Duration timeout) {
  v3electionpb::CampaignRequest request;
  request.set_name(std::string(election));
  request.set_lease(lease);
  request.set_value(std::string(value));
  v3electionpb::CampaignResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  RETURN_IF_ERROR(
      FromEtcd(election_->Campaign(&context, request, &response), "Campaign"));
  return response.leader();
}

absl::Status EtcdClient::Proclaim(const v3electionpb::LeaderKey& leader,
                                  absl::string_view value) {
  v3electionpb::ProclaimRequest request;
  *request.mutable_leader() = leader;
  request.set_value(std::string(value));
  v3electionpb::ProclaimResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  return FromEtcd(election_->Proclaim(&context, request, &response),
                  "Proclaim");
}

absl::StatusOr<std::optional<KeyValue>> EtcdClient::Leader(
    absl::string_view election) {
  v3electionpb::LeaderRequest request;
  request.set_name(std::string(election));
  v3electionpb::LeaderResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  const grpc::Status status = election_->Leader(&context, request, &response);
  // etcd answers "election: no leader" as an error; it is an answer here.
  if (!status.ok() &&
      status.error_message().find("no leader") != std::string::npos) {
    return std::nullopt;
  }
  RETURN_IF_ERROR(FromEtcd(status, "Leader"));
  if (!response.has_kv()) return std::nullopt;
  return FromProto(response.kv());
}

absl::Status EtcdClient::Resign(const v3electionpb::LeaderKey& leader) {
  v3electionpb::ResignRequest request;
  *request.mutable_leader() = leader;
  v3electionpb::ResignResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  return FromEtcd(election_->Resign(&context, request, &response), "Resign");
}

absl::StatusOr<etcdserverpb::StatusResponse> EtcdClient::MemberStatus() {
  etcdserverpb::StatusRequest request;
  etcdserverpb::StatusResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  RETURN_IF_ERROR(
      FromEtcd(maintenance_->Status(&context, request, &response), "Status"));
  return response;
}

absl::StatusOr<std::unique_ptr<EtcdWatch>> EtcdClient::Watch(
    absl::string_view key, absl::string_view range_end,
    int64_t start_revision) {
  etcdserverpb::WatchCreateRequest create;
  create.set_key(std::string(key));
  create.set_range_end(std::string(range_end));
  create.set_start_revision(start_revision);
  // A response of many large entries comes in pieces under the message
  // limit; the events arrive in order all the same.
  create.set_fragment(true);
  return EtcdWatch::Start(watch_.get(), std::move(create),
                          options_.call_timeout);
}

}  // namespace ycr::replication
