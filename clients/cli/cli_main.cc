// ycr: command-line client of the ycr gRPC API.
//
//   ycr head                         the log head (position and hash)
//   ycr log append STREAM TYPE DATA  append one opaque event to an operator's
//                                    stream ops-<name> (the raw log's only)
//   ycr log read STREAM              read a stream
//   ycr log tail [--follow|-f]       read the whole log (and follow it)
//   ycr audit export --subject S --format jsonl|csv|html [--output FILE]
//                                    a subject's audit trail (cli_export.h)
//   ycr audit verify --vkey KEY ...  checkpoints, consistency, receipts
//   ycr audit leaf --position P      a record's leaf bytes (cli_tlog.h)
//   ycr demo [--file F]              seed a demo county (cli_demo.h)
//   ycr <service> <method> [--data=JSON|@file] [--set field.path=value]...
//                                    any RPC of package ycr.v1 (cli_generic.h)
//   ycr <service> <action> ...       a request's oneof part, e.g.
//                                    ycr referral submit --referral-id R ...

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/cli/cli_demo.h"
#include "clients/cli/cli_export.h"
#include "clients/cli/cli_generic.h"
#include "clients/cli/cli_tlog.h"
#include "clients/client_security.h"
#include "clients/follow_leader.h"
#include "common/command_line.h"
#include "common/ids.h"
#include "common/wire_names.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "ycr/v1/event_store.grpc.pb.h"

ABSL_FLAG(std::string, server, "",
          "Server address host:port. Default: $YCR_SERVER, else "
          "127.0.0.1:7070.");
ABSL_FLAG(std::string, organisation, "",
          "With --insecure: caller organisation. Default: $YCR_ORGANISATION, "
          "else 'local'. (Over TLS the certificate's O.)");
ABSL_FLAG(std::string, user, "",
          "With --insecure: caller user. Default: $YCR_USER, else $USER, else "
          "'operator'. (Over TLS the certificate's CN.)");
ABSL_FLAG(std::string, role, "",
          "With --insecure: caller role. Default: $YCR_ROLE, else 'admin'. "
          "(Over TLS the certificate's OU.)");
ABSL_FLAG(std::string, tls_identities, "",
          "ycr demo over mutual TLS: directory of the certificates of the "
          "people the demo acts as, DIR/<organisation>/<user>.crt and .key "
          "(deploy/dev-ca.sh makes them). Default: $YCR_TLS_IDENTITIES.");
ABSL_FLAG(bool, json, false, "Print protobuf JSON, one object per line.");
ABSL_FLAG(int, timeout_seconds, 10, "Deadline of each call.");
ABSL_FLAG(std::string, expected, "any",
          "log append: expected version: any, no_stream, exists or a number.");
ABSL_FLAG(uint64_t, from, 0, "log read / log tail: first version / position.");
ABSL_FLAG(uint32_t, limit, 100, "log read / log tail: most events per page.");
ABSL_FLAG(bool, backwards, false, "log read: newest first.");
ABSL_FLAG(bool, follow, false,
          "log tail / streaming calls: keep following (-f); no deadline.");
ABSL_FLAG(std::string, prefix, "", "log tail: only streams with this prefix.");

namespace {

constexpr char kUsage[] =
    "command-line client of the ycr gRPC API.\n"
    "Usage:\n"
    "  ycr head                          the log head (position and hash)\n"
    "  ycr log append STREAM TYPE DATA   append one opaque event to an\n"
    "                                    operator's stream ops-<name>\n"
    "  ycr log read STREAM               read a stream\n"
    "  ycr log tail [--follow|-f]        read the whole log, or follow it\n"
    "  ycr audit export --subject S --format jsonl|csv|html [--output FILE]\n"
    "                                    export a subject's audit trail\n"
    "  ycr audit verify --vkey KEY [--state FILE] [--export FILE]\n"
    "                                    check the log's signed checkpoint,\n"
    "                                    its consistency, and receipts\n"
    "  ycr audit leaf --position P       a record's leaf bytes (auditors)\n"
    "  ycr demo [--file FILE]            seed a small demo county\n"
    "  ycr <service> <method> [--data=JSON|@FILE] [--set field=value]...\n"
    "                                    call any RPC\n"
    "  ycr <service> <action> ...        one part of a request, e.g.\n"
    "                                    ycr referral submit --referral-id R\n"
    "  ycr <service> --<method>          e.g. ycr deadlines --overdue\n"
    "Exit codes: 0 ok, 1 the server refused or failed (the gRPC status is\n"
    "printed), 2 bad usage.\n"
    "Server: --server or $YCR_SERVER. Mutual TLS: --tls_ca, --tls_cert,\n"
    "--tls_key (or $YCR_TLS_CA, $YCR_TLS_CERT, $YCR_TLS_KEY); the caller is\n"
    "the certificate's subject. A development server started with\n"
    "--insecure: --insecure ($YCR_INSECURE=1) and --organisation, --user,\n"
    "--role (or $YCR_ORGANISATION, $YCR_USER, $YCR_ROLE).";

// The usage text: the fixed commands and every API command.
const std::string& FullUsage() {
  static const std::string* usage =
      new std::string(absl::StrCat(kUsage, "\n\n", ycr::cli::ServicesHelp()));
  return *usage;
}

std::string FromFlagOrEnv(const std::string& flag, const char* env,
                          const char* fallback) {
  if (!flag.empty()) return flag;
  if (const char* v = std::getenv(env); v != nullptr && *v != '\0') return v;
  return fallback;
}

int Usage(const std::string& problem) {
  std::cerr << "ycr: " << problem << "\n\n"
            << kUsage << "\n"
            << "Run `ycr --help` for every command and flag.\n";
  return 2;
}

// A usage error with suggestions (no full usage text).
int Unknown(const std::string& what, const std::string& word,
            const std::vector<std::string>& candidates,
            const std::string& help) {
  std::cerr << "ycr: unknown " << what << " '" << word << "'; did you mean: "
            << absl::StrJoin(ycr::cli::Suggest(word, candidates), ", ")
            << "?\nRun `" << help << " --help` to list them.\n";
  return 2;
}

int Failed(const grpc::Status& status) {
  std::cerr << "ycr: " << ycr::StatusCodeName(status.error_code()) << ": "
            << status.error_message() << "\n";
  return 1;
}

ycr::cli::CallSettings Settings();

void Prepare(grpc::ClientContext* context, bool deadline = true) {
  ycr::cli::PrepareContext(context, Settings(), deadline);
}

void PrintJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  std::cout << out << "\n";
}

void PrintEvent(const ycr::v1::RecordedEvent& e) {
  if (absl::GetFlag(FLAGS_json)) return PrintJson(e);
  using google::protobuf::util::TimeUtil;
  std::cout << e.position() << "\t" << e.stream() << "@" << e.stream_version()
            << "\t" << e.event_type() << "\t"
            << TimeUtil::ToString(e.recorded_at()) << "\t"
            << e.actor().organisation() << "/" << e.actor().user() << "/"
            << e.actor().role() << "\t"
            << absl::BytesToHexString(e.hash()).substr(0, 16) << "\n";
}

int Head(ycr::v1::EventStore::Stub& stub) {
  grpc::ClientContext context;
  Prepare(&context);
  ycr::v1::HeadResponse response;
  grpc::Status status = stub.Head(&context, {}, &response);
  if (!status.ok()) return Failed(status);
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(response);
  } else {
    std::cout << "position " << response.position() << "\nhash     "
              << absl::BytesToHexString(response.hash()) << "\n";
  }
  return 0;
}

// On a cluster's follower, the append is sent once more to the leader its
// NOT_LEADER refusal names (clients/follow_leader.h), as API commands are.
int Append(const std::shared_ptr<grpc::Channel>& channel,
           const std::string& stream, const std::string& type,
           const std::string& data) {
  ycr::v1::AppendRequest request;
  request.set_stream(stream);
  const std::string expected = absl::GetFlag(FLAGS_expected);
  uint64_t version = 0;
  if (expected == "any") {
    request.mutable_expected()->set_kind(ycr::v1::ExpectedVersion::ANY);
  } else if (expected == "no_stream") {
    request.mutable_expected()->set_kind(ycr::v1::ExpectedVersion::NO_STREAM);
  } else if (expected == "exists") {
    request.mutable_expected()->set_kind(ycr::v1::ExpectedVersion::EXISTS);
  } else if (absl::SimpleAtoi(expected, &version)) {
    request.mutable_expected()->set_kind(ycr::v1::ExpectedVersion::EXACT);
    request.mutable_expected()->set_version(version);
  } else {
    return Usage("--expected: use any, no_stream, exists or a number");
  }
  ycr::v1::ProposedEvent* event = request.add_events();
  event->set_event_id(ycr::NewUuid());
  event->mutable_payload()->mutable_opaque()->set_type(type);
  event->mutable_payload()->mutable_opaque()->set_data(data);
  *event->mutable_occurred_at() =
      google::protobuf::util::TimeUtil::GetCurrentTime();
  ycr::v1::AppendResponse response;
  const grpc::Status status = ycr::clients::FollowLeaderOnce<grpc::Status>(
      channel, Settings().redial,
      [&](const std::shared_ptr<grpc::Channel>& to, std::string* leader) {
        grpc::ClientContext context;
        Prepare(&context);
        grpc::Status s = ycr::v1::EventStore::NewStub(to)->Append(
            &context, request, &response);
        *leader = ycr::clients::LeaderNamedBy(s);
        return s;
      },
      [](const std::string& leader) {
        std::cerr << "ycr: following the leader at " << leader << "\n";
      });
  if (!status.ok()) return Failed(status);
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(response);
  } else {
    std::cout << "appended at position " << response.first_position() << ", "
              << stream << " now at version " << response.stream_version()
              << "\n";
  }
  return 0;
}

int Read(ycr::v1::EventStore::Stub& stub, const std::string& stream) {
  ycr::v1::ReadStreamRequest request;
  request.set_stream(stream);
  request.set_from_version(absl::GetFlag(FLAGS_from));
  request.set_backwards(absl::GetFlag(FLAGS_backwards));
  request.set_limit(absl::GetFlag(FLAGS_limit));
  grpc::ClientContext context;
  Prepare(&context);
  ycr::v1::ReadStreamResponse response;
  grpc::Status status = stub.ReadStream(&context, request, &response);
  if (!status.ok()) return Failed(status);
  for (const auto& e : response.events()) PrintEvent(e);
  return 0;
}

int Tail(ycr::v1::EventStore::Stub& stub) {
  ycr::v1::SubscribeRequest request;
  request.set_from_position(absl::GetFlag(FLAGS_from));
  request.mutable_filter()->set_stream_prefix(absl::GetFlag(FLAGS_prefix));
  grpc::ClientContext context;
  Prepare(&context, /*deadline=*/false);
  auto reader = stub.Subscribe(&context, request);
  ycr::v1::SubscribeResponse response;
  while (reader->Read(&response)) {
    if (response.has_event()) {
      PrintEvent(response.event());
    } else if (!absl::GetFlag(FLAGS_follow)) {
      context.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    return Failed(status);
  }
  return 0;
}

// The command line split before abseil parses it: abseil flags pass
// through; --set, --data and --<field>=value (any other flag) are the
// request's; -f is --follow.
struct CommandLine {
  std::vector<std::string> flags;        // For abseil, argv[0] first.
  std::vector<std::string> words;        // Positional arguments.
  std::vector<std::string> data;         // --data values, in order.
  std::vector<std::string> sets;         // --set assignments, in order.
  std::vector<std::string> field_flags;  // As given, for error messages.
  bool help = false;
};

bool IsAbseilFlag(const std::string& name, bool* is_bool) {
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag == nullptr && absl::StartsWith(name, "no")) {
    flag = absl::FindCommandLineFlag(name.substr(2));
    if (flag != nullptr && !flag->IsOfType<bool>()) flag = nullptr;
  }
  if (flag == nullptr) return false;
  *is_bool = flag->IsOfType<bool>();
  return true;
}

CommandLine Split(int argc, char** argv) {
  CommandLine line;
  line.flags.push_back(argv[0]);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) line.words.push_back(argv[i]);
      break;
    }
    if (arg == "--help" || arg == "-h" || arg == "-help" ||
        arg == "--helpfull") {
      line.help = true;
      continue;
    }
    if (arg == "-f") {
      line.flags.push_back("--follow");
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      line.words.push_back(arg);
      continue;
    }
    const std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    const size_t eq = body.find('=');
    const std::string name = body.substr(0, eq);
    const bool has_value = eq != std::string::npos;
    const bool next_is_value = i + 1 < argc && argv[i + 1][0] != '-';
    if (name == "set" || name == "data") {
      std::string value;
      if (has_value) {
        value = body.substr(eq + 1);
      } else if (i + 1 < argc) {
        value = argv[++i];
      }
      (name == "set" ? line.sets : line.data).push_back(value);
      continue;
    }
    bool is_bool = false;
    std::string flag_name = name;  // --timeout-seconds is --timeout_seconds.
    std::replace(flag_name.begin(), flag_name.end(), '-', '_');
    if (IsAbseilFlag(flag_name, &is_bool)) {
      line.flags.push_back(absl::StrCat(
          "--", flag_name, has_value ? body.substr(eq) : std::string()));
      if (!has_value && !is_bool && i + 1 < argc)
        line.flags.push_back(argv[++i]);
      continue;
    }
    // --field.path=value, --field-path value, --bool-field.
    std::string field = name;
    std::replace(field.begin(), field.end(), '-', '_');
    line.field_flags.push_back(arg);
    if (has_value) {
      line.sets.push_back(field + "=" + body.substr(eq + 1));
    } else if (next_is_value) {
      line.sets.push_back(field + "=" + argv[++i]);
    } else {
      line.sets.push_back(field);
    }
  }
  return line;
}

// How to reach the server, from the TLS flags; exits with usage status 2
// when they are unusable.
const ycr::services::ClientSecurity& Security() {
  static const ycr::services::ClientSecurity* security = [] {
    absl::StatusOr<ycr::services::ClientSecurity> s =
        ycr::services::ClientSecurityFromFlags();
    if (!s.ok()) {
      std::cerr << "ycr: " << s.status().message() << "\n";
      std::exit(2);
    }
    if (!s->insecure) {
      for (const char* flag : {"organisation", "user", "role"}) {
        if (!absl::FindCommandLineFlag(flag)->CurrentValue().empty()) {
          std::cerr << "ycr: --" << flag
                    << ": over mutual TLS the caller is the client "
                       "certificate's subject (O, OU, CN); act as someone "
                       "else with their --tls_cert and --tls_key (--"
                    << flag << " is for --insecure)\n";
          std::exit(2);
        }
      }
    }
    return new ycr::services::ClientSecurity(*std::move(s));
  }();
  return *security;
}

ycr::cli::Channels OpenChannels() {
  return ycr::cli::Channels(FromFlagOrEnv(absl::GetFlag(FLAGS_server),
                                          "YCR_SERVER", "127.0.0.1:7070"),
                            Security(),
                            FromFlagOrEnv(absl::GetFlag(FLAGS_tls_identities),
                                          "YCR_TLS_IDENTITIES", ""));
}

ycr::cli::CallSettings Settings() {
  const char* user_env = std::getenv("USER");
  ycr::cli::CallSettings settings;
  settings.organisation = FromFlagOrEnv(absl::GetFlag(FLAGS_organisation),
                                        "YCR_ORGANISATION", "local");
  settings.user = FromFlagOrEnv(absl::GetFlag(FLAGS_user), "YCR_USER",
                                user_env != nullptr ? user_env : "operator");
  settings.role = FromFlagOrEnv(absl::GetFlag(FLAGS_role), "YCR_ROLE", "admin");
  settings.identity_metadata = Security().insecure;
  settings.timeout_seconds = absl::GetFlag(FLAGS_timeout_seconds);
  settings.follow = absl::GetFlag(FLAGS_follow);
  settings.json = absl::GetFlag(FLAGS_json);
  settings.redial = [](const std::string& address) {
    return ycr::services::OpenChannel(address, Security());
  };
  return settings;
}

// ycr <service> <method> ...
int Generic(const CommandLine& line, const ycr::cli::Resolved& resolved,
            const std::shared_ptr<grpc::Channel>& channel) {
  const google::protobuf::MethodDescriptor* method = resolved.method;
  if (line.words.size() > resolved.consumed) {
    return Usage(absl::StrCat(
        "unexpected argument '", line.words[resolved.consumed], "' after ycr ",
        absl::StrJoin(line.words.begin(),
                      line.words.begin() + resolved.consumed, " "),
        " (fields go in --set field=value)"));
  }
  google::protobuf::DynamicMessageFactory factory;
  std::unique_ptr<google::protobuf::Message> request(
      factory.GetPrototype(method->input_type())->New());
  for (const std::string& preset : resolved.presets) {
    if (absl::Status s = ycr::cli::ApplySet(preset, request.get()); !s.ok()) {
      std::cerr << "ycr: " << s.message() << "\n";
      return 2;
    }
  }
  for (const std::string& data : line.data) {
    if (absl::Status s = ycr::cli::ApplyData(data, request.get()); !s.ok()) {
      std::cerr << "ycr: " << s.message() << "\n";
      return 2;
    }
  }
  for (const std::string& set : line.sets) {
    absl::Status s = ycr::cli::ApplySet(set, request.get());
    // `ycr referral submit --school X`: a field of the selected part.
    for (size_t i = 0; !s.ok() && i < resolved.presets.size(); ++i) {
      std::unique_ptr<google::protobuf::Message> attempt(request->New());
      attempt->CopyFrom(*request);
      if (ycr::cli::ApplySet(resolved.presets[i] + "." + set, attempt.get())
              .ok()) {
        request->CopyFrom(*attempt);
        s = absl::OkStatus();
      }
    }
    if (!s.ok()) {
      std::cerr << "ycr: " << s.message() << "\nRun `ycr "
                << ycr::cli::CommandName(method->service()) << " "
                << ycr::cli::CommandName(method)
                << " --help` for the request's fields.\n";
      return 2;
    }
  }
  // `ycr referral submit --referral-id R`: the selected part takes the
  // request's ids it leaves empty (they must agree).
  ycr::cli::InheritIds(resolved.presets, request.get());
  // A fresh request id, printed so that a retry can reuse it.
  const auto* id = method->input_type()->FindFieldByName("request_id");
  if (id != nullptr && !id->is_repeated() &&
      id->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
    const auto* reflection = request->GetReflection();
    if (reflection->GetString(*request, id).empty()) {
      reflection->SetString(request.get(), id, ycr::NewUuid());
    }
    std::cerr << "request_id: " << reflection->GetString(*request, id) << "\n";
  }
  return ycr::cli::Call(channel, method, *request, Settings(), std::cout,
                        std::cerr);
}

// The signature of ycr demo's and ycr audit export's entry points.
using Subcommand = int (*)(const std::vector<std::string>& words,
                           const std::vector<std::string>& options,
                           ycr::cli::Channels& channels,
                           const ycr::cli::CallSettings& settings,
                           std::ostream& out, std::ostream& err);

// ycr demo ... (cli_demo.h) and ycr audit export ... (cli_export.h): their
// help, the common flags, and a channel to the server.
int RunSubcommand(CommandLine& line, const std::string& name,
                  const std::string& help, Subcommand run) {
  if (line.help) {
    std::cout << help;
    return 0;
  }
  std::vector<char*> flag_argv;
  for (std::string& f : line.flags) flag_argv.push_back(f.data());
  (void)ycr::InitCommandLine(static_cast<int>(flag_argv.size()),
                             flag_argv.data(), FullUsage().c_str());
  if (!line.data.empty()) {
    std::cerr << "ycr: " << name << ": --data is for API commands\n";
    return 2;
  }
  ycr::cli::Channels channels = OpenChannels();
  return run(line.words, line.sets, channels, Settings(), std::cout, std::cerr);
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine line = Split(argc, argv);
  if (line.words.size() >= 2 && line.words[0] == "audit" &&
      line.words[1] == "export") {
    return RunSubcommand(line, "audit export", ycr::cli::ExportHelp(),
                         &ycr::cli::Export);
  }
  if (line.words.size() >= 2 && line.words[0] == "audit" &&
      line.words[1] == "verify") {
    return RunSubcommand(line, "audit verify", ycr::cli::VerifyHelp(),
                         &ycr::cli::Verify);
  }
  if (line.words.size() >= 2 && line.words[0] == "audit" &&
      line.words[1] == "leaf") {
    return RunSubcommand(line, "audit leaf", ycr::cli::LeafHelp(),
                         &ycr::cli::Leaf);
  }
  if (!line.words.empty() && line.words[0] == "demo") {
    return RunSubcommand(line, "demo", ycr::cli::DemoHelp(), &ycr::cli::Demo);
  }
  ycr::cli::Resolved resolved;
  const bool generic = !line.words.empty() && line.words[0] != "head" &&
                       line.words[0] != "log" &&
                       ycr::cli::Resolve(line.words, &resolved);
  // ycr deadlines --overdue
  if (generic && line.words.size() == 1) {
    (void)ycr::cli::ResolveMethodFlag(&resolved, &line.sets);
  }
  if (line.help && generic) {
    if (resolved.method != nullptr) {
      std::cout << ycr::cli::MethodHelp(resolved.method);
    } else if (line.words.size() >= 2) {
      return Unknown(
          absl::StrCat("method of ", ycr::cli::CommandName(resolved.service)),
          line.words[1], ycr::cli::MethodWords(resolved.service),
          "ycr " + ycr::cli::CommandName(resolved.service));
    } else {
      std::cout << ycr::cli::ServiceHelp(resolved.service);
    }
    return 0;
  }
  if (line.help && !line.words.empty() && !generic && line.words[0] != "head" &&
      line.words[0] != "log") {
    return Unknown("command", line.words[0], ycr::cli::CommandWords(), "ycr");
  }
  if (line.help) line.flags.push_back("--help");
  std::vector<char*> flag_argv;
  for (std::string& f : line.flags) flag_argv.push_back(f.data());
  (void)ycr::InitCommandLine(static_cast<int>(flag_argv.size()),
                             flag_argv.data(), FullUsage().c_str());
  const std::vector<std::string>& words = line.words;
  if (words.empty()) return Usage("no command given");
  ycr::cli::Channels channels = OpenChannels();
  const std::shared_ptr<grpc::Channel>& channel = channels.Own();
  if (generic) {
    if (resolved.method == nullptr) {
      if (words.size() < 2) {
        std::cerr << "ycr: " << words[0] << ": which method?\n"
                  << ycr::cli::ServiceHelp(resolved.service);
        return 2;
      }
      return Unknown(
          absl::StrCat("method of ", ycr::cli::CommandName(resolved.service)),
          words[1], ycr::cli::MethodWords(resolved.service),
          "ycr " + ycr::cli::CommandName(resolved.service));
    }
    return Generic(line, resolved, channel);
  }
  if (words[0] != "head" && words[0] != "log") {
    return Unknown("command", words[0], ycr::cli::CommandWords(), "ycr");
  }
  if (!line.field_flags.empty()) {
    return Usage("unknown flag " + line.field_flags[0]);
  }
  if (!line.data.empty() || !line.sets.empty()) {
    return Usage("--data and --set are for API commands");
  }
  auto stub = ycr::v1::EventStore::NewStub(channel);
  if (words.size() == 1 && words[0] == "head") return Head(*stub);
  if (words.size() >= 2 && words[0] == "log") {
    if (words[1] == "append" && words.size() == 5) {
      return Append(channel, words[2], words[3], words[4]);
    }
    if (words[1] == "read" && words.size() == 3) return Read(*stub, words[2]);
    if (words[1] == "tail" && words.size() == 2) return Tail(*stub);
  }
  return Usage("unknown command");
}
