#include "clients/cli/cli_demo.h"

#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/ids.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace ycr::cli {
namespace {

constexpr char kHelp[] =
    "ycr demo [--file FILE] [--verbose]\n"
    "\n"
    "Seeds the server with a small county so that every view has data in it:\n"
    "three schools, a young carers' service and children's social care;\n"
    "signed Working Together Agreements; pupils identified in the census,\n"
    "consents granted, refused, varied and withdrawn; referrals at every\n"
    "stage; interventions with sessions and an impact report; correspondence\n"
    "answered, acknowledged and awaiting an answer; one safeguarding case\n"
    "referred to social care without consent; a former pupil's record past\n"
    "its retention review.\n"
    "\n"
    "  --file FILE   run this script instead of the built-in county\n"
    "                (deploy/demo/county.jsonl shows the format)\n"
    "  --verbose     print each call as it is made\n"
    "\n"
    "A server that already has the county (its first pupil's record) is left\n"
    "as it is. Server: --server or $YCR_SERVER. The calls carry the script's\n"
    "identities, not --organisation/--user/--role: over mutual TLS each one's\n"
    "certificate from --tls_identities DIR ($YCR_TLS_IDENTITIES), laid out\n"
    "by deploy/dev-ca.sh as DIR/<organisation>/<user>.crt and .key.\n"
    "Exit codes: 0 seeded (or already there), 1 a call failed, 2 bad usage.\n";

int Bad(std::ostream& err, const std::string& problem) {
  err << "ycr: demo: " << problem << "\nRun `ycr demo --help` for usage.\n";
  return 2;
}

struct Line {
  int number = 0;
  std::string organisation, user, role;
  std::vector<std::string> call;
  std::string data;  // JSON, times not yet expanded.
};

// The value of `key` in `object`, as JSON.
std::string FieldJson(const google::protobuf::Struct& object,
                      const std::string& key) {
  auto it = object.fields().find(key);
  if (it == object.fields().end()) return "";
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(it->second, &json);
  return json;
}

absl::StatusOr<std::vector<Line>> Parse(const std::string& script) {
  std::vector<Line> lines;
  int number = 0;
  for (absl::string_view raw : absl::StrSplit(script, '\n')) {
    ++number;
    const absl::string_view text = absl::StripAsciiWhitespace(raw);
    if (text.empty() || text[0] == '#') continue;
    auto where = [number](const std::string& problem) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", number, ": ", problem));
    };
    google::protobuf::Struct object;
    if (auto s = google::protobuf::util::JsonStringToMessage(std::string(text),
                                                             &object);
        !s.ok()) {
      return where(absl::StrCat("not a JSON object: ", s.message().ToString()));
    }
    Line line;
    line.number = number;
    auto string_field = [&object](const std::string& key) -> std::string {
      auto it = object.fields().find(key);
      return it == object.fields().end() ? "" : it->second.string_value();
    };
    std::vector<std::string> as = absl::StrSplit(string_field("as"), '/');
    if (as.size() != 3 || as[0].empty() || as[1].empty() || as[2].empty()) {
      return where("\"as\" must be organisation/user/role");
    }
    line.organisation = as[0];
    line.user = as[1];
    line.role = as[2];
    line.call = absl::StrSplit(string_field("call"), ' ', absl::SkipEmpty());
    if (line.call.empty()) return where("\"call\" names no command");
    line.data = FieldJson(object, "data");
    if (line.data.empty()) line.data = "{}";
    for (const auto& [key, value] : object.fields()) {
      if (key != "as" && key != "call" && key != "data") {
        return where(absl::StrCat("unknown key \"", key, "\""));
      }
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

// "@now-1h" -> the offset; false when malformed.
bool ParseOffset(absl::string_view token, absl::Duration* offset) {
  *offset = absl::ZeroDuration();
  if (token.empty()) return true;
  const bool minus = token[0] == '-';
  if (!minus && token[0] != '+') return false;
  token.remove_prefix(1);
  if (token.size() < 2) return false;
  const char unit = token.back();
  token.remove_suffix(1);
  int64_t n = 0;
  if (!absl::SimpleAtoi(token, &n) || n < 0) return false;
  switch (unit) {
    case 'd':
      *offset = absl::Hours(24 * n);
      break;
    case 'h':
      *offset = absl::Hours(n);
      break;
    case 'm':
      *offset = absl::Minutes(n);
      break;
    default:
      return false;
  }
  if (minus) *offset = -*offset;
  return true;
}

}  // namespace

std::string DemoHelp() { return kHelp; }

absl::StatusOr<std::string> ExpandTimes(const std::string& text,
                                        absl::Time now) {
  std::string out;
  size_t from = 0;
  while (true) {
    const size_t at = text.find("\"@now", from);
    if (at == std::string::npos) break;
    const size_t end = text.find('"', at + 1);
    if (end == std::string::npos) break;
    const absl::string_view token(text.data() + at + 5, end - at - 5);
    absl::Duration offset;
    if (!ParseOffset(token, &offset)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad time \"@now", token,
                       "\" (use @now, @now+14d, @now-2h, @now-1m)"));
    }
    const absl::Time t = now + offset;
    google::protobuf::Timestamp ts;
    ts.set_seconds(absl::ToUnixSeconds(t));
    ts.set_nanos(static_cast<int32_t>(
        absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(ts.seconds()))));
    absl::StrAppend(&out, text.substr(from, at - from), "\"",
                    google::protobuf::util::TimeUtil::ToString(ts), "\"");
    from = end + 1;
  }
  out += text.substr(from);
  return out;
}

int Demo(const std::vector<std::string>& words,
         const std::vector<std::string>& options, Channels& channels,
         const CallSettings& settings, std::ostream& out, std::ostream& err) {
  if (words.size() > 1) {
    return Bad(err, absl::StrCat("unexpected argument '", words[1], "'"));
  }
  std::string file;
  bool verbose = false;
  for (const std::string& option : options) {
    const size_t eq = option.find('=');
    const std::string name = option.substr(0, eq);
    if (name == "file" && eq != std::string::npos) {
      file = option.substr(eq + 1);
    } else if (name == "verbose" && eq == std::string::npos) {
      verbose = true;
    } else {
      return Bad(err, absl::StrCat("unknown flag --", option));
    }
  }
  std::string script = kCountyScript;
  if (!file.empty()) {
    absl::StatusOr<std::string> text = ReadFile(file);
    if (!text.ok()) return Bad(err, std::string(text.status().message()));
    script = *std::move(text);
  }
  absl::StatusOr<std::vector<Line>> lines = Parse(script);
  if (!lines.ok()) return Bad(err, std::string(lines.status().message()));
  if (lines->empty()) return Bad(err, "the script has no calls");

  // Resolve every line before calling anything: a typo fails up front.
  std::vector<Resolved> methods;
  for (const Line& line : *lines) {
    Resolved resolved;
    if (!Resolve(line.call, &resolved) || resolved.method == nullptr ||
        resolved.consumed != line.call.size()) {
      return Bad(err, absl::StrCat("line ", line.number, ": unknown command '",
                                   absl::StrJoin(line.call, " "), "'"));
    }
    methods.push_back(resolved);
  }

  auto call = [&](const Line& line, const Resolved& resolved,
                  std::ostream& call_out, std::ostream& call_err) {
    google::protobuf::DynamicMessageFactory factory;
    std::unique_ptr<google::protobuf::Message> request(
        factory.GetPrototype(resolved.method->input_type())->New());
    for (const std::string& preset : resolved.presets) {
      if (absl::Status s = ApplySet(preset, request.get()); !s.ok()) {
        call_err << s.message() << "\n";
        return 2;
      }
    }
    absl::StatusOr<std::string> data = ExpandTimes(line.data, absl::Now());
    if (!data.ok()) {
      call_err << data.status().message() << "\n";
      return 2;
    }
    if (absl::Status s = ApplyData(*data, request.get()); !s.ok()) {
      call_err << s.message() << "\n";
      return 2;
    }
    InheritIds(resolved.presets, request.get());
    const auto* id =
        resolved.method->input_type()->FindFieldByName("request_id");
    if (id != nullptr &&
        id->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
        !id->is_repeated() &&
        request->GetReflection()->GetString(*request, id).empty()) {
      request->GetReflection()->SetString(request.get(), id, NewUuid());
    }
    CallSettings as = settings;
    as.organisation = line.organisation;
    as.user = line.user;
    as.role = line.role;
    as.follow = false;
    as.json = true;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        channels.As(line.organisation, line.user);
    if (!channel.ok()) {
      call_err << channel.status().message() << "\n";
      return 2;
    }
    return Call(*channel, resolved.method, *request, as, call_out, call_err);
  };

  // Already seeded: the first record put is there.
  for (size_t i = 0; i < lines->size(); ++i) {
    const Line& line = (*lines)[i];
    if (methods[i].method->full_name() != "ycr.v1.Subjects.PutRecord") continue;
    google::protobuf::Struct data;
    std::string subject;
    if (google::protobuf::util::JsonStringToMessage(line.data, &data).ok()) {
      auto record = data.fields().find("record");
      if (record != data.fields().end()) {
        auto id = record->second.struct_value().fields().find("subject_id");
        if (id != record->second.struct_value().fields().end()) {
          subject = id->second.string_value();
        }
      }
    }
    if (subject.empty()) break;
    Line get = line;
    get.call = {"subjects", "get-record"};
    get.data = absl::StrCat("{\"subject_id\":\"", subject, "\"}");
    Resolved get_record;
    if (!Resolve(get.call, &get_record)) break;
    std::ostringstream ignored_out, ignored_err;
    if (call(get, get_record, ignored_out, ignored_err) == 0) {
      out << "ycr demo: the server already has the demo county (subject "
          << subject << " exists); nothing written.\n";
      return 0;
    }
    break;
  }

  const absl::Time start = absl::Now();
  std::map<std::string, int> per_method;
  for (size_t i = 0; i < lines->size(); ++i) {
    const Line& line = (*lines)[i];
    std::ostringstream call_out, call_err;
    const int code = call(line, methods[i], call_out, call_err);
    if (code != 0) {
      err << "ycr demo: line " << line.number << " ("
          << absl::StrJoin(line.call, " ") << " as " << line.organisation << "/"
          << line.user << "/" << line.role << ") failed:\n"
          << call_err.str();
      return code == 2 ? 2 : 1;
    }
    ++per_method[absl::StrJoin(line.call, " ")];
    if (verbose) {
      out << "[" << i + 1 << "/" << lines->size() << "] "
          << absl::StrJoin(line.call, " ") << " as " << line.organisation
          << ": " << call_out.str();
    }
  }
  out << "ycr demo: " << lines->size() << " calls in "
      << absl::FormatDuration(
             absl::Trunc(absl::Now() - start, absl::Milliseconds(1)))
      << ".\n";
  for (const auto& [what, n] : per_method) {
    out << "  " << n << " x " << what << "\n";
  }
  // How to act as someone: their certificate, or (plain text) their name.
  auto acting_as = [&](const std::string& organisation, const std::string& user,
                       const std::string& role) {
    if (!channels.identities().empty() && !settings.identity_metadata) {
      const std::string stem =
          absl::StrCat(channels.identities(), "/", organisation, "/", user);
      return absl::StrCat(" --tls_cert ", stem, ".crt --tls_key ", stem,
                          ".key");
    }
    return absl::StrCat(" --organisation ", organisation, " --user ", user,
                        " --role ", role);
  };
  const std::string service =
      acting_as("service-northshire-young-carers", "manager-1", "service");
  const std::string auditor =
      acting_as("auditor-county", "auditor-1", "auditor");
  out << "Look around (as an auditor sees everything):\n"
      << "  ycr caseload --service service-northshire-young-carers" << service
      << "\n"
      << "  ycr caseloads list-referrals --service "
         "service-northshire-young-carers"
      << service << "\n"
      << "  ycr deadlines list-due --by 2100-01-01T00:00:00Z" << auditor << "\n"
      << "  ycr deadlines --overdue" << auditor << "\n"
      << "  ycr audit trail --subject p-ok-01" << auditor << "\n"
      << "  ycr audit export --subject p-ok-01 --format html --output "
         "p-ok-01.html"
      << auditor << "\n";
  return 0;
}

}  // namespace ycr::cli
