#pragma once

// The generic half of the `ycr` command-line client: every RPC of package
// ycr.v1, found in the compiled-in descriptors, as `ycr <service> <method>`.
// Requests are built as dynamic messages from --data (protobuf JSON) and
// --set field.path=value; calls go through grpc::GenericStub; responses are
// printed as protobuf JSON or in a human form (a table for a list, else
// `field: value` lines).

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "clients/client_security.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace ycr::cli {

// The services of package ycr.v1, by name.
std::vector<const google::protobuf::ServiceDescriptor*> Services();

// "ListOverdue" -> "list-overdue", "EventStore" -> "event-store".
std::string Kebab(const std::string& camel);

// The command word of a service or method.
std::string CommandName(const google::protobuf::ServiceDescriptor* service);
std::string CommandName(const google::protobuf::MethodDescriptor* method);

// A command line's first words resolved to a method. `consumed` is how many
// words named it (1 for a shortcut such as `share`, 2 otherwise).
struct Resolved {
  const google::protobuf::ServiceDescriptor* service = nullptr;
  const google::protobuf::MethodDescriptor* method = nullptr;
  size_t consumed = 0;
  // Fields the command words select, applied before --set: `ycr referral
  // submit` is `ycr referrals transition --set submit`.
  std::vector<std::string> presets;
};

// Resolves `words` (the positional arguments after the program name).
// Returns false when words[0] names neither a service (kebab name or its
// singular) nor a shortcut. A service without a (known) method leaves
// `method` null, consumed 1.
// A second word that is no method may name a message field of a oneof in
// exactly one method's request (an action): `ycr referral submit`.
bool Resolve(const std::vector<std::string>& words, Resolved* out);

// `ycr deadlines --overdue`: a service named without a method takes its
// method from the first bare flag naming one (removed from `sets`).
// Returns whether a method was found.
bool ResolveMethodFlag(Resolved* resolved, std::vector<std::string>* sets);

// Close matches of `word` among `candidates` (all of them when none is
// close).
std::vector<std::string> Suggest(const std::string& word,
                                 const std::vector<std::string>& candidates);

// Every service command word and shortcut.
std::vector<std::string> CommandWords();
std::vector<std::string> MethodWords(
    const google::protobuf::ServiceDescriptor* service);

// Help texts.
std::string ServicesHelp();
std::string ServiceHelp(const google::protobuf::ServiceDescriptor* service);
std::string MethodHelp(const google::protobuf::MethodDescriptor* method);

// Merges protobuf JSON (or, with a leading '@', a file's, '@-' stdin's)
// into `message`.
absl::Status ApplyData(const std::string& data,
                       google::protobuf::Message* message);

// Applies "field.path=value" (or "field.path": true / select a message).
// Paths are dotted; a repeated message segment takes an index
// ("related[0].name"), else its last element (added when there is none);
// repeated scalars are appended; enums by name; timestamps RFC 3339; other
// messages as JSON.
absl::Status ApplySet(const std::string& assignment,
                      google::protobuf::Message* message);

// For each field named in `parts` (message fields of `request`): its empty
// singular string fields take the value of the request's own non-empty
// field of the same name (referral_id, agreement_id, ...).
void InheritIds(const std::vector<std::string>& parts,
                google::protobuf::Message* request);

// Output forms.
std::string ToJson(const google::protobuf::Message& message);
std::string ToHuman(const google::protobuf::Message& message);

struct CallSettings {
  // Who the caller says it is, sent as metadata when `identity_metadata`
  // (to a server started with --insecure; over mutual TLS the identity is
  // the client certificate's and these are not sent).
  std::string organisation;
  std::string user;
  std::string role;
  bool identity_metadata = true;
  int timeout_seconds = 10;
  bool follow = false;
  bool json = false;
  // A channel to another node (host:port) with the caller's own security:
  // a call a cluster's follower refuses with NOT_LEADER (common/not_leader.h)
  // is sent once more to the leader it names. Null: not followed.
  std::function<std::shared_ptr<grpc::Channel>(const std::string& address)>
      redial;
};

// Puts the identity metadata (when `settings` sends it) and, when
// `deadline`, the call's deadline on `context`.
void PrepareContext(grpc::ClientContext* context, const CallSettings& settings,
                    bool deadline = true);

// Channels to one server: the caller's own, and, for `ycr demo`, one per
// identity it acts as. Not thread-safe.
class Channels {
 public:
  // `identities`: a directory of client certificates laid out by
  // deploy/dev-ca.sh (DIR/<organisation>/<user>.crt, .key); "" for none.
  Channels(std::string target, services::ClientSecurity security,
           std::string identities);

  // The caller's own channel (its certificate, or plain text).
  const std::shared_ptr<grpc::Channel>& Own() const { return own_; }
  // The identities directory ("" for none).
  const std::string& identities() const { return identities_; }

  // A channel that acts as `organisation`/`user`: plain text (the identity
  // goes as metadata), or TLS with that identity's certificate from the
  // identities directory. INVALID_ARGUMENT over TLS without a directory;
  // NOT_FOUND when it has no certificate for them.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> As(
      const std::string& organisation, const std::string& user);

 private:
  const std::string target_;
  const services::ClientSecurity security_;
  const std::string identities_;
  std::shared_ptr<grpc::Channel> own_;
  absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>> by_identity_;
};

// Calls `method` with `request`, printing each response to `out` and a
// failure (`ycr: CODE: message`) to `err`. Returns the exit code: 0 ok, 1
// the server refused or failed, 2 usage.
int Call(const std::shared_ptr<grpc::Channel>& channel,
         const google::protobuf::MethodDescriptor* method,
         const google::protobuf::Message& request, const CallSettings& settings,
         std::ostream& out, std::ostream& err);

}  // namespace ycr::cli
