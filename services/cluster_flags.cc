#include "services/cluster_flags.h"

#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "services/security/server_security.h"
#include "services/tlog_checkpointer.h"

#ifdef YCR_ETCD
#include "replication/cluster_kek.h"
#include "replication/cluster_signer.h"
#include "replication/log_trimmer.h"
#include "replication/replicated_access_log.h"
#include "replication/replicated_event_log.h"
#endif

ABSL_FLAG(std::string, replication, "",
          "Replicated mode: etcd://host:port[,host:port...], the etcd "
          "cluster's client endpoints. Empty (the default): a single node. "
          "Needs --node_id, --advertise and --cluster_kek.");
ABSL_FLAG(std::string, node_id, "",
          "Replicated mode: this node's name in logs (1-64 of "
          "[A-Za-z0-9._-]).");
ABSL_FLAG(std::string, advertise, "",
          "Replicated mode: host:port where clients reach this node; "
          "followers name the leader's in their UNAVAILABLE answers to "
          "commands.");
ABSL_FLAG(std::string, cluster_kek, "",
          "Replicated mode: file (mode 0600) holding the cluster's "
          "key-encryption key, 64 hex digits, the same on every node (umask "
          "077; openssl rand -hex 32 > FILE). Subject keys travel in etcd "
          "only wrapped under it.");
ABSL_FLAG(int, replication_backup_hold_seconds, 86400,
          "Replicated mode: a backup (ycr.v1.Admin.Backup) keeps etcd's "
          "entries after its head this long (60..2592000), so that a node "
          "restored from it can catch up; `ycr-server forget-node "
          "--node_id=backup:NAME` ends the hold sooner.");
ABSL_FLAG(std::string, replication_ca, "",
          "Replicated mode: the CA file (PEM) that signed etcd's members' "
          "client-port certificates: TLS to etcd. Required unless "
          "--replication_insecure.");
ABSL_FLAG(std::string, replication_cert, "",
          "Replicated mode: this node's client certificate (PEM) for etcd "
          "(etcd --client-cert-auth); with --replication_key.");
ABSL_FLAG(std::string, replication_key, "",
          "Replicated mode: the key (PEM, mode 0600) of --replication_cert.");
ABSL_FLAG(bool, replication_insecure, false,
          "Replicated mode: talk to etcd over plain text (for trying it out "
          "on one machine). Without it, --replication needs "
          "--replication_ca.");
ABSL_FLAG(int, replication_lease_seconds, 5,
          "Replicated mode: the leader's lease in etcd (2..60): a leader "
          "that dies or stalls is replaced this long after.");

namespace ycr::services {
namespace {

absl::Status BadFlag(absl::string_view flag, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", why));
}

#ifdef YCR_ETCD
bool ValidNodeId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

// The endpoints of --replication's etcd://host:port[,host:port...].
absl::StatusOr<std::vector<std::string>> EtcdEndpoints(
    const std::string& replication) {
  constexpr absl::string_view kScheme = "etcd://";
  if (!absl::StartsWith(replication, kScheme)) {
    return BadFlag("replication", "expected etcd://host:port[,host:port...]");
  }
  std::vector<std::string> endpoints =
      absl::StrSplit(replication.substr(kScheme.size()), ',');
  if (endpoints.size() > 16) {
    return BadFlag("replication", "at most 16 endpoints");
  }
  for (const std::string& endpoint : endpoints) {
    RETURN_IF_ERROR(CheckListenAddress("--replication", endpoint));
  }
  return endpoints;
}

// TLS to etcd from --replication_ca, --replication_cert and
// --replication_key; plain text only with --replication_insecure.
absl::StatusOr<replication::EtcdTls> EtcdTlsFromFlags() {
  replication::EtcdTls tls;
  const std::string ca = absl::GetFlag(FLAGS_replication_ca);
  const std::string cert = absl::GetFlag(FLAGS_replication_cert);
  const std::string key = absl::GetFlag(FLAGS_replication_key);
  if (absl::GetFlag(FLAGS_replication_insecure)) {
    if (!ca.empty() || !cert.empty() || !key.empty()) {
      return BadFlag("replication_insecure",
                     "plain text to etcd, yet --replication_ca, _cert or "
                     "_key given: choose one");
    }
    return tls;
  }
  if (ca.empty()) {
    return BadFlag("replication",
                   "etcd over plain text is refused: give --replication_ca "
                   "(and --replication_cert with --replication_key for etcd's "
                   "client-certificate auth), or --replication_insecure to "
                   "try it out");
  }
  if (cert.empty() != key.empty()) {
    return BadFlag(cert.empty() ? "replication_cert" : "replication_key",
                   "--replication_cert and --replication_key go together");
  }
  ASSIGN_OR_RETURN(tls.ca_pem, ReadFile(ca));
  if (!cert.empty()) {
    ASSIGN_OR_RETURN(tls.cert_pem, ReadFile(cert));
    ASSIGN_OR_RETURN(tls.key_pem,
                     ReadPrivateFile("--replication_key", key, "etcd key"));
  }
  return tls;
}
#endif

}  // namespace

absl::Status ConfigureCluster(ServerOptions* options, Logger* log) {
  const std::string replication = absl::GetFlag(FLAGS_replication);
  if (replication.empty()) {
    for (const auto& [flag, value] :
         {std::pair<const char*, std::string>{"node_id",
                                              absl::GetFlag(FLAGS_node_id)},
          {"advertise", absl::GetFlag(FLAGS_advertise)},
          {"cluster_kek", absl::GetFlag(FLAGS_cluster_kek)}}) {
      if (!value.empty()) return BadFlag(flag, "only with --replication");
    }
    return absl::OkStatus();
  }
#ifndef YCR_ETCD
  (void)options;
  (void)log;
  return BadFlag("replication",
                 "this build has no replication layer (configured with "
                 "YCR_ETCD off: install golang-etcd-server-dev and rebuild)");
#else
  ASSIGN_OR_RETURN(std::vector<std::string> endpoints,
                   EtcdEndpoints(replication));
  ASSIGN_OR_RETURN(replication::EtcdTls tls, EtcdTlsFromFlags());
  const std::string node_id = absl::GetFlag(FLAGS_node_id);
  if (!ValidNodeId(node_id)) {
    return BadFlag("node_id", "1-64 of [A-Za-z0-9._-] (required)");
  }
  const std::string advertise = absl::GetFlag(FLAGS_advertise);
  RETURN_IF_ERROR(CheckListenAddress("--advertise", advertise));
  const int hold = absl::GetFlag(FLAGS_replication_backup_hold_seconds);
  if (hold < 60 || hold > 30 * 86400) {
    return BadFlag("replication_backup_hold_seconds",
                   "must be in 60..2592000 (30 days)");
  }
  const int lease = absl::GetFlag(FLAGS_replication_lease_seconds);
  if (lease < 2 || lease > 60) {
    return BadFlag("replication_lease_seconds", "must be in 2..60");
  }
  const std::string kek_file = absl::GetFlag(FLAGS_cluster_kek);
  if (kek_file.empty()) {
    return BadFlag("cluster_kek", "required with --replication");
  }
  absl::StatusOr<std::string> kek =
      replication::LoadClusterKek("--cluster_kek", kek_file);
  if (!kek.ok()) return kek.status();
  // One signer for the cluster's checkpoints (replication/cluster_signer.h).
  if (options->tlog_key_file.empty()) {
    return BadFlag("tlog_key",
                   "required with --replication: every node of a cluster signs "
                   "the log's checkpoints with the same key, so give each the "
                   "same file (ycr-server keygen --tlog_key=FILE), as with "
                   "--cluster_kek");
  }
  ASSIGN_OR_RETURN(note::Signer signer,
                   LoadSignerKey("--tlog_key", options->tlog_key_file));
  const std::string verifier_key = note::VerifierKey(signer);
  log->Log(LogLevel::kInfo, "replication.configured",
           {{"node_id", node_id},
            {"advertise", advertise},
            {"etcd", replication},
            {"etcd_tls", tls.enabled() ? "on" : "off"}});
  options->open_cluster_log = [endpoints, tls, node_id, advertise, lease, hold,
                               kek = *std::move(kek), verifier_key,
                               log](storage::RocksDbEventLogOptions store,
                                    storage::RocksDbEventLog** local,
                                    storage::ClusterNode** node)
      -> absl::StatusOr<std::unique_ptr<storage::EventLog>> {
    replication::ReplicatedEventLogOptions cluster;
    {
      ASSIGN_OR_RETURN(std::unique_ptr<replication::EtcdClient> client,
                       replication::EtcdClient::Create(
                           {.endpoints = endpoints, .tls = tls}));
      RETURN_IF_ERROR(replication::ClaimClusterSigner(*client, cluster.prefix,
                                                      verifier_key));
    }
    cluster.endpoints = endpoints;
    cluster.etcd_tls = tls;
    cluster.node_id = node_id;
    cluster.advertise = advertise;
    cluster.lease_ttl = absl::Seconds(lease);
    cluster.backup_hold = absl::Seconds(hold);
    cluster.log = std::move(store);
    cluster.log.cluster_kek = kek;
    cluster.logger = log;
    ASSIGN_OR_RETURN(std::unique_ptr<replication::ReplicatedEventLog> opened,
                     replication::ReplicatedEventLog::Open(std::move(cluster)));
    *local = &opened->local();
    *node = opened.get();
    return std::unique_ptr<storage::EventLog>(std::move(opened));
  };
  return absl::OkStatus();
#endif
}

int RunForgetNode() {
#ifndef YCR_ETCD
  std::cerr << "ycr-server forget-node: this build has no replication layer "
               "(configured with YCR_ETCD off)\n";
  return 2;
#else
  absl::StatusOr<std::vector<std::string>> endpoints =
      EtcdEndpoints(absl::GetFlag(FLAGS_replication));
  const std::string name = absl::GetFlag(FLAGS_node_id);
  const absl::string_view id = absl::StartsWith(name, "backup:")
                                   ? absl::string_view(name).substr(7)
                                   : absl::string_view(name);
  absl::StatusOr<replication::EtcdTls> tls = EtcdTlsFromFlags();
  if (!endpoints.ok() || !ValidNodeId(id) || !tls.ok()) {
    std::cerr << "ycr-server forget-node: "
              << (!endpoints.ok() ? endpoints.status().message()
                  : !tls.ok()
                      ? tls.status().message()
                      : "--node_id: a node id, or backup:<backup name> (1-64 "
                        "of [A-Za-z0-9._-])")
              << "\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<replication::EtcdClient>> client =
      replication::EtcdClient::Create(
          {.endpoints = *endpoints, .tls = *std::move(tls)});
  const std::string kPrefix = replication::ReplicatedEventLogOptions().prefix;
  absl::Status forgot =
      client.ok() ? replication::ForgetApplied(**client, kPrefix, name)
                  : client.status();
  if (forgot.ok()) {
    // Its access-log mark too (absent for a node that never applied one).
    absl::Status access = replication::ForgetApplied(
        **client, replication::AccessPrefix(kPrefix), name);
    if (!access.ok() && !absl::IsNotFound(access)) forgot = access;
  }
  if (!forgot.ok()) {
    std::cerr << "ycr-server forget-node: " << forgot.message() << "\n";
    return 1;
  }
  std::cout << "forgot " << name
            << "; it no longer holds back the trimming of etcd's log\n";
  auto left = replication::ListApplied(**client, kPrefix);
  if (left.ok()) {
    for (const auto& [node, position] : *left) {
      std::cout << "  " << node << " applied " << position << "\n";
    }
  }
  return 0;
#endif
}

}  // namespace ycr::services
