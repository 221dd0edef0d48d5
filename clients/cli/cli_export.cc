#include "clients/cli/cli_export.h"

#include <map>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/files.h"
#include "common/wire_names.h"
#include "domain/consent_rules.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "ycr/v1/event_store.grpc.pb.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::cli {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kHelp[] =
    "ycr audit export --subject S --format jsonl|csv|html|sar [--output FILE]\n"
    "\n"
    "Exports a subject's audit trail (Audit.Trail), in log order, as the\n"
    "caller (an auditor, or the organisation holding the record); or, with\n"
    "--format sar, everything held about the subject for a subject access\n"
    "request.\n"
    "\n"
    "  --subject S     the subject id (required)\n"
    "  --format F      jsonl: one protobuf JSON AuditEntry per line, the full\n"
    "                  entry, with \"position\" and \"hashHex\" added first "
    "so\n"
    "                  each line can be checked against the log, and for a\n"
    "                  disclosure \"consentInForce\": the consent that "
    "covered\n"
    "                  it when it was made, with its terms then, or why none\n"
    "                  did;\n"
    "                  csv: RFC 4180, columns position, recorded_at,\n"
    "                  event_type, actor_organisation, actor_user, "
    "actor_role,\n"
    "                  stream, from, to, categories, purpose, basis,\n"
    "                  consent_in_force, consent_terms, hash;\n"
    "                  html: one self-contained page (no scripts), a timeline\n"
    "                  with the consent terms in force at each disclosure,\n"
    "                  and disclosures made without consent (or not covered\n"
    "                  by the consent they name) highlighted.\n"
    "                  csv and html leave out the events' personal part;\n"
    "                  sar: the subject access request pack, one JSON\n"
    "                  document from one call (Audit.SubjectAccessPack): the\n"
    "                  record and the trail as the subject may see them\n"
    "                  (third parties' names and other organisations' staff\n"
    "                  redacted; personal parts opened or marked erased).\n"
    "                  Every format shows what the caller may see (README,\n"
    "                  \"Who sees what\"): each entry says how much\n"
    "                  (\"shown\" in jsonl).\n"
    "  --output FILE   write there (default: standard output); written only\n"
    "                  when the whole trail was read, whole or not at all\n"
    "                  (a temporary file renamed into place), mode 0600\n"
    "                  (the owner only: it holds personal data); an existing\n"
    "                  FILE is replaced, unless it is not a regular file\n"
    "\n"
    "Server and identity: as for every ycr command (ycr --help): --server,\n"
    "and the client certificate (--tls_cert ...) or, with --insecure,\n"
    "--organisation, --user, --role.\n"
    "Exit codes: 0 ok, 1 the server refused or failed (the gRPC status is\n"
    "printed), 2 bad usage.\n";

int Bad(std::ostream& err, const std::string& problem) {
  err << "ycr: audit export: " << problem
      << "\nRun `ycr audit export --help` for usage.\n";
  return 2;
}

std::string Hex(const std::string& bytes) {
  return absl::BytesToHexString(bytes);
}

std::string Time(const google::protobuf::Timestamp& ts) {
  return TimeUtil::ToString(ts);
}

std::string Org(const v1::Recipient& r) {
  if (r.role().empty()) return r.organisation();
  return absl::StrCat(r.organisation(), " (", r.role(), ")");
}

std::string Categories(const v1::DisclosureRecorded& d,
                       const std::string& separator) {
  std::vector<std::string> names;
  for (int c : d.categories()) {
    names.push_back(v1::DataCategory_Name(static_cast<v1::DataCategory>(c)));
  }
  return absl::StrJoin(names, separator);
}

std::string PurposeName(const v1::DisclosureRecorded& d) {
  return v1::Purpose_Name(d.purpose());
}

std::string Basis(const v1::DisclosureRecorded& d) {
  if (d.has_consent()) {
    return absl::StrCat("consent ", d.consent().consent_id(), " v",
                        d.consent().consent_version());
  }
  if (d.has_safeguarding()) {
    return absl::StrCat("safeguarding: ", d.safeguarding().lawful_basis(),
                        "; decision-maker ", d.safeguarding().decision_maker());
  }
  return "";
}

// ---- consent in force ----

// What consent covered a disclosure when it was made: the subject's consents
// folded from the trail up to the disclosure's position, checked with the
// same rule the server applied (consent_rules.h).
struct ConsentInForce {
  bool covered = false;
  std::string consent_id;
  uint64_t consent_version = 0;
  v1::ConsentTerms terms;
  // When not covered: why, for each consent of the subject then.
  std::vector<std::string> reasons;
};

class ConsentFold {
 public:
  // Folds a consent event; anything else is ignored.
  void Apply(const v1::RecordedEvent& e) {
    domain::ConsentView& view = views_[e.stream()];
    domain::ConsentView next = view;
    if (domain::ApplyConsentEvent(e.payload(), e.stream_version(), &next)
            .ok()) {
      if (view.version == 0) order_.push_back(e.stream());
      view = next;
    } else if (view.version == 0) {
      views_.erase(e.stream());
    }
  }

  // The consent in force for `d` at `at`. A disclosure naming a consent is
  // checked against that consent; any other against each consent.
  ConsentInForce Check(const v1::DisclosureRecorded& d, absl::Time at) const {
    domain::ProposedDisclosure proposed;
    proposed.subject_id = d.subject_id();
    proposed.to = d.to();
    proposed.purpose = d.purpose();
    for (int c : d.categories()) {
      proposed.categories.push_back(static_cast<v1::DataCategory>(c));
    }
    proposed.at = at;
    ConsentInForce result;
    for (const std::string& stream : order_) {
      const domain::ConsentView& view = views_.at(stream);
      if (d.has_consent() && view.consent_id != d.consent().consent_id()) {
        continue;
      }
      absl::Status covers = domain::CheckConsentCovers(view, proposed);
      if (covers.ok()) {
        result.covered = true;
        result.consent_id = view.consent_id;
        result.consent_version = view.version;
        result.terms = view.terms;
        result.reasons.clear();
        return result;
      }
      result.reasons.emplace_back(covers.message());
    }
    if (result.reasons.empty()) {
      result.reasons.push_back(
          d.has_consent() ? absl::StrCat("consent ", d.consent().consent_id(),
                                         " is not in the subject's trail")
                          : std::string("no consent recorded"));
    }
    return result;
  }

 private:
  std::map<std::string, domain::ConsentView> views_;
  std::vector<std::string> order_;
};

// The consent in force for each disclosure entry (by index), in log order.
std::map<size_t, ConsentInForce> CheckDisclosures(
    const std::vector<v1::AuditEntry>& entries) {
  ConsentFold fold;
  std::map<size_t, ConsentInForce> checks;
  for (size_t i = 0; i < entries.size(); ++i) {
    const v1::RecordedEvent& e = entries[i].event();
    // A skeleton has no purpose or basis to check: no verdict on it.
    if (entries[i].has_disclosure() &&
        entries[i].shown() != v1::AuditEntry::SHOWN_SKELETON) {
      checks[i] =
          fold.Check(entries[i].disclosure(),
                     absl::FromUnixNanos(
                         TimeUtil::TimestampToNanoseconds(e.recorded_at())));
    }
    fold.Apply(e);
  }
  return checks;
}

std::string Names(const google::protobuf::RepeatedField<int>& values,
                  const std::string& (*name)(int), const std::string& prefix,
                  const std::string& separator) {
  std::vector<std::string> names;
  for (int v : values) {
    const std::string& full = name(v);
    names.push_back(absl::StartsWith(full, prefix) ? full.substr(prefix.size())
                                                   : full);
  }
  return absl::StrJoin(names, separator);
}

const std::string& PurposeOf(int v) {
  return v1::Purpose_Name(static_cast<v1::Purpose>(v));
}
const std::string& CategoryOf(int v) {
  return v1::DataCategory_Name(static_cast<v1::DataCategory>(v));
}

// "for REFERRAL; to service-7; of IDENTITY; valid 2020-01-01T00:00:00Z to
// 2099-01-01T00:00:00Z".
std::string TermsText(const v1::ConsentTerms& t) {
  std::vector<std::string> to;
  for (const v1::Recipient& r : t.recipients()) {
    to.push_back(r.role().empty()
                     ? r.organisation()
                     : absl::StrCat(r.organisation(), " (", r.role(), ")"));
  }
  return absl::StrCat(
      "for ", Names(t.purposes(), PurposeOf, "PURPOSE_", ", "), "; to ",
      absl::StrJoin(to, ", "), "; of ",
      Names(t.categories(), CategoryOf, "DATA_CATEGORY_", ", "), "; valid ",
      t.has_valid_from() ? TimeUtil::ToString(t.valid_from()) : "always",
      " to ",
      t.has_valid_until() ? TimeUtil::ToString(t.valid_until()) : "no end");
}

std::string InForceText(const ConsentInForce& c) {
  if (c.covered) {
    return absl::StrCat("covered by consent ", c.consent_id, " v",
                        c.consent_version);
  }
  return absl::StrCat("not covered by consent: ",
                      absl::StrJoin(c.reasons, "; "));
}

// ---- jsonl ----

// A JSON string literal (RFC 8259): quote, backslash and control
// characters escaped; other bytes (UTF-8) as they are.
std::string JsonString(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      absl::StrAppend(&out, absl::StrFormat("\\u%04x", u));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// {"covered":true,"consentId":..,"consentVersion":"2","terms":{..}} or
// {"covered":false,"reasons":[..]}.
std::string InForceJson(const ConsentInForce& c) {
  if (!c.covered) {
    std::vector<std::string> reasons;
    for (const std::string& r : c.reasons) reasons.push_back(JsonString(r));
    return absl::StrCat("{\"covered\":false,\"reasons\":[",
                        absl::StrJoin(reasons, ","), "]}");
  }
  std::string terms;
  google::protobuf::util::JsonPrintOptions options;
  (void)google::protobuf::util::MessageToJsonString(c.terms, &terms, options);
  return absl::StrCat(
      "{\"covered\":true,\"consentId\":", JsonString(c.consent_id),
      ",\"consentVersion\":\"", c.consent_version, "\",\"terms\":", terms, "}");
}

std::string JsonLine(const v1::AuditEntry& entry,
                     const ConsentInForce* in_force) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  (void)google::protobuf::util::MessageToJsonString(entry, &json, options);
  // Position and hash (hex) first, then for a disclosure the consent in
  // force when it was made; the entry's own fields follow.
  std::string head =
      absl::StrCat("{\"position\":\"", entry.event().position(),
                   "\",\"hashHex\":\"", Hex(entry.event().hash()), "\"");
  if (in_force != nullptr) {
    absl::StrAppend(&head, ",\"consentInForce\":", InForceJson(*in_force));
  }
  if (json.size() > 2) {
    return absl::StrCat(head, ",", json.substr(1), "\n");
  }
  return head + "}\n";
}

// ---- csv ----

std::string CsvField(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  return absl::StrCat("\"", absl::StrReplaceAll(value, {{"\"", "\"\""}}), "\"");
}

constexpr char kCsvHeader[] =
    "position,recorded_at,event_type,actor_organisation,actor_user,"
    "actor_role,stream,from,to,categories,purpose,basis,consent_in_force,"
    "consent_terms,hash\r\n";

std::string CsvRow(const v1::AuditEntry& entry,
                   const ConsentInForce* in_force) {
  const v1::RecordedEvent& e = entry.event();
  const bool has_disclosure = entry.has_disclosure();
  const v1::DisclosureRecorded& d = entry.disclosure();
  std::vector<std::string> fields = {
      absl::StrCat(e.position()),
      Time(e.recorded_at()),
      e.event_type(),
      e.actor().organisation(),
      e.actor().user(),
      e.actor().role(),
      e.stream(),
      has_disclosure ? Org(d.from()) : "",
      has_disclosure ? Org(d.to()) : "",
      has_disclosure ? Categories(d, ";") : "",
      has_disclosure ? PurposeName(d) : "",
      has_disclosure ? Basis(d) : "",
      in_force ? InForceText(*in_force) : "",
      in_force && in_force->covered ? TermsText(in_force->terms) : "",
      Hex(e.hash())};
  std::string row;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) row += ",";
    row += CsvField(fields[i]);
  }
  return row + "\r\n";
}

// ---- html ----

std::string Html(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Humanise(const std::string& type) {
  return absl::StrReplaceAll(type, {{"_", " "}});
}

std::string Short(const std::string& name, const std::string& prefix) {
  return absl::StartsWith(name, prefix) ? name.substr(prefix.size()) : name;
}

constexpr char kStyle[] =
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "h1{font-size:1.4em}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;"
    "vertical-align:top;font-size:.9em}"
    "th{background:#eee}"
    "tr.no-consent td{background:#fde8e8}"
    ".label{display:inline-block;background:#b00020;color:#fff;"
    "padding:0 .4em;border-radius:3px;font-weight:bold;margin-right:.4em}"
    "code{font-family:monospace}"
    ".meta{color:#555}";

std::string HtmlRow(const v1::AuditEntry& entry,
                    const ConsentInForce* in_force) {
  const v1::RecordedEvent& e = entry.event();
  const bool has_disclosure = entry.has_disclosure();
  const v1::DisclosureRecorded& d = entry.disclosure();
  // Highlighted: made without consent, or under a consent that did not
  // cover it when it was made.
  const bool no_consent =
      has_disclosure &&
      (d.has_safeguarding() || (in_force != nullptr && !in_force->covered));
  std::string what = Html(Humanise(e.event_type()));
  if (has_disclosure) {
    std::vector<std::string> categories;
    for (int c : d.categories()) {
      categories.push_back(
          Short(v1::DataCategory_Name(static_cast<v1::DataCategory>(c)),
                "DATA_CATEGORY_"));
    }
    absl::StrAppend(&what, "<br><span class=\"meta\">shared ",
                    Html(absl::StrJoin(categories, ", ")), " for ",
                    Html(Short(PurposeName(d), "PURPOSE_")), "</span>");
  }
  std::string who = Html(e.actor().organisation());
  if (!e.actor().user().empty()) {
    absl::StrAppend(&who, " / ", Html(e.actor().user()));
  }
  if (!e.actor().role().empty()) {
    absl::StrAppend(&who, " (", Html(e.actor().role()), ")");
  }
  std::string basis;
  if (has_disclosure && d.has_consent() && in_force != nullptr &&
      !in_force->covered) {
    basis =
        absl::StrCat("<span class=\"label\">not covered</span>", Html(Basis(d)),
                     "<br><span class=\"meta\">",
                     Html(absl::StrJoin(in_force->reasons, "; ")), "</span>");
  } else if (no_consent) {
    const v1::SafeguardingBasis& s = d.safeguarding();
    basis =
        absl::StrCat("<span class=\"label\">without consent</span>",
                     "lawful basis: ", Html(s.lawful_basis()),
                     "; decision-maker ", Html(s.decision_maker()),
                     s.family_told() ? "; family told" : "; family not told");
  } else if (has_disclosure) {
    basis = Html(Basis(d));
    if (in_force != nullptr && in_force->covered) {
      absl::StrAppend(&basis, "<br><span class=\"meta\">in force then: ",
                      Html(TermsText(in_force->terms)), "</span>");
    }
  }
  return absl::StrCat(
      "<tr", no_consent ? " class=\"no-consent\"" : "", "><td>",
      Html(Time(e.recorded_at())), "</td><td>", what, "</td><td>", who,
      "</td><td>", has_disclosure ? Html(Org(d.to())) : "", "</td><td>", basis,
      "</td><td>", e.position(), "</td><td><code title=\"", Hex(e.hash()),
      "\">", Hex(e.hash()).substr(0, 12), "</code></td></tr>\n");
}

std::string HtmlPage(const std::string& subject,
                     const std::vector<v1::AuditEntry>& entries) {
  const std::string now = Time(TimeUtil::GetCurrentTime());
  const std::map<size_t, ConsentInForce> checks = CheckDisclosures(entries);
  size_t without_consent = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const v1::AuditEntry& entry = entries[i];
    auto check = checks.find(i);
    if (check != checks.end() &&
        (entry.disclosure().has_safeguarding() || !check->second.covered)) {
      ++without_consent;
    }
  }
  std::string page = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>Audit trail of subject ",
      Html(subject), " exported ", Html(now), "</title>\n<style>", kStyle,
      "</style>\n</head>\n<body>\n<h1>Audit trail of subject ", Html(subject),
      "</h1>\n<p class=\"meta\">Exported ", Html(now), ". ", entries.size(),
      " entries in log order; ", without_consent,
      " disclosure(s) made without consent in force. Free text about the child "
      "is "
      "left out.</p>\n<table>\n<thead><tr><th>Time</th><th>What "
      "happened</th><th>Who</th><th>To whom</th><th>Basis</th>"
      "<th>Position</th><th>Hash</th></tr></thead>\n<tbody>\n");
  for (size_t i = 0; i < entries.size(); ++i) {
    auto check = checks.find(i);
    page +=
        HtmlRow(entries[i], check == checks.end() ? nullptr : &check->second);
  }
  page += "</tbody>\n</table>\n</body>\n</html>\n";
  return page;
}

}  // namespace

std::string ExportHelp() { return kHelp; }

int Export(const std::vector<std::string>& words,
           const std::vector<std::string>& options, Channels& channels,
           const CallSettings& settings, std::ostream& out, std::ostream& err) {
  const std::shared_ptr<grpc::Channel>& channel = channels.Own();
  if (words.size() > 2) {
    return Bad(err, absl::StrCat("unexpected argument '", words[2], "'"));
  }
  std::string subject, format, output;
  for (const std::string& option : options) {
    const size_t eq = option.find('=');
    const std::string name = option.substr(0, eq);
    if (eq == std::string::npos) {
      return Bad(err, absl::StrCat("--", name, " needs a value"));
    }
    const std::string value = option.substr(eq + 1);
    if (name == "subject" || name == "subject_id") {
      subject = value;
    } else if (name == "format") {
      format = value;
    } else if (name == "output") {
      output = value;
    } else {
      return Bad(err, absl::StrCat("unknown flag --", name));
    }
  }
  if (subject.empty()) return Bad(err, "--subject is required");
  if (format != "jsonl" && format != "csv" && format != "html" &&
      format != "sar") {
    return Bad(err, format.empty()
                        ? std::string("--format is required (jsonl, csv, "
                                      "html or sar)")
                        : absl::StrCat("unknown --format '", format,
                                       "' (use jsonl, csv, html or sar)"));
  }

  auto prepare = [&settings](grpc::ClientContext* context) {
    PrepareContext(context, settings);
  };
  // Writes `text` to --output (or standard output); `what` for the note.
  auto emit = [&](const std::string& text, const std::string& what) {
    if (output.empty()) {
      out << text;
      out.flush();
      return out ? 0 : 1;
    }
    // Personal data: readable by the operator only (0600), never partly
    // written.
    if (absl::Status written = WritePrivateFile(output, text); !written.ok()) {
      err << "ycr: audit export: " << written.message() << "\n";
      return 1;
    }
    err << "wrote " << what << " to " << output << "\n";
    return 0;
  };
  if (format == "sar") {
    v1::SubjectAccessPackRequest request;
    request.set_subject_id(subject);
    v1::SubjectAccessPack pack;
    grpc::ClientContext context;
    prepare(&context);
    grpc::Status status = v1::Audit::NewStub(channel)->SubjectAccessPack(
        &context, request, &pack);
    if (!status.ok()) {
      err << "ycr: " << StatusCodeName(status.error_code()) << ": "
          << status.error_message() << "\n";
      return 1;
    }
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = true;
    if (!google::protobuf::util::MessageToJsonString(pack, &json, options)
             .ok()) {
      err << "ycr: audit export: the pack could not be printed as JSON\n";
      return 1;
    }
    return emit(json, absl::StrCat("the subject access pack (",
                                   pack.trail_size(), " trail entries)"));
  }
  // Everything recorded before the export starts is in it: the trail is
  // read at the log's head as of now (read-your-writes).
  v1::HeadResponse head;
  {
    grpc::ClientContext context;
    prepare(&context);
    grpc::Status status =
        v1::EventStore::NewStub(channel)->Head(&context, {}, &head);
    if (!status.ok()) {
      err << "ycr: " << StatusCodeName(status.error_code()) << ": "
          << status.error_message() << "\n";
      return 1;
    }
  }
  v1::AuditTrailRequest request;
  request.set_subject_id(subject);
  request.set_page_size(1000);
  request.set_min_position(head.position());
  grpc::ClientContext context;
  prepare(&context);
  auto stub = v1::Audit::NewStub(channel);
  auto reader = stub->Trail(&context, request);
  std::vector<v1::AuditEntry> entries;
  v1::AuditEntry entry;
  while (reader->Read(&entry)) entries.push_back(entry);
  grpc::Status status = reader->Finish();
  if (!status.ok()) {
    err << "ycr: " << StatusCodeName(status.error_code()) << ": "
        << status.error_message() << "\n";
    return 1;
  }

  std::string text;
  if (format == "jsonl" || format == "csv") {
    const std::map<size_t, ConsentInForce> checks = CheckDisclosures(entries);
    if (format == "csv") text = kCsvHeader;
    for (size_t i = 0; i < entries.size(); ++i) {
      auto check = checks.find(i);
      const ConsentInForce* in_force =
          check == checks.end() ? nullptr : &check->second;
      text += format == "jsonl" ? JsonLine(entries[i], in_force)
                                : CsvRow(entries[i], in_force);
    }
  } else {
    text = HtmlPage(subject, entries);
  }
  return emit(text, absl::StrCat(entries.size(), " entries"));
}

}  // namespace ycr::cli
