// The written forms of `ycr audit export` (cli_export.h): JSON lines, CSV
// (RFC 4180) and one self-contained HTML page, each entry with the consent in
// force for a disclosure (cli_export.cc works it out).

#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "clients/cli/cli_export_internal.h"
#include "domain/consent_rules.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "ycr/v1/event_store.grpc.pb.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::cli::internal {
namespace {

using google::protobuf::util::TimeUtil;

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

}  // namespace

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
                     const ConsentInForce* in_force,
                     const std::string* receipt) {
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
  if (receipt != nullptr) {
    absl::StrAppend(&head, ",\"receipt\":", JsonString(*receipt));
  }
  if (json.size() > 2) {
    return absl::StrCat(head, ",", json.substr(1), "\n");
  }
  return head + "}\n";
}

namespace {

// ---- csv ----

std::string CsvField(const std::string& value) {
  // A spreadsheet takes a field that starts with = + - @ (or a tab or a
  // carriage return) for a formula; a caller's user name may be any
  // printable text. Such a field is written as text, after a "'".
  const std::string text =
      !value.empty() && absl::string_view("=+-@\t\r").find(value[0]) !=
                            absl::string_view::npos
          ? "'" + value
          : value;
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

}  // namespace

std::string CsvRow(const v1::AuditEntry& entry, const ConsentInForce* in_force,
                   const std::string* receipt) {
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
      Hex(e.hash()),
      receipt != nullptr ? absl::Base64Escape(*receipt) : ""};
  std::string row;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) row += ",";
    row += CsvField(fields[i]);
  }
  return row + "\r\n";
}

namespace {

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

}  // namespace

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
  // The row's position and hash, for `ycr audit verify` to tie the
  // disclosure's receipt to it.
  return absl::StrCat(
      "<tr data-position=\"", e.position(), "\" data-hash=\"", Hex(e.hash()),
      "\"", has_disclosure ? " data-disclosure" : "",
      no_consent ? " class=\"no-consent\"" : "", "><td>",
      Html(Time(e.recorded_at())), "</td><td>", what, "</td><td>", who,
      "</td><td>", has_disclosure ? Html(Org(d.to())) : "", "</td><td>", basis,
      "</td><td>", e.position(), "</td><td><code title=\"", Hex(e.hash()),
      "\">", Hex(e.hash()).substr(0, 12), "</code></td></tr>\n");
}

std::string HtmlPage(const std::string& subject,
                     const std::vector<v1::AuditEntry>& entries,
                     const std::map<uint64_t, std::string>& receipts) {
  const std::string now = Time(TimeUtil::GetCurrentTime());
  std::map<uint64_t, std::string> hashes;
  for (const v1::AuditEntry& entry : entries) {
    hashes[entry.event().position()] = Hex(entry.event().hash());
  }
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
      Html(subject), " exported ", Html(now), "</title>\n<style>", kHtmlStyle,
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
  page += "</tbody>\n</table>\n";
  if (!receipts.empty()) {
    absl::StrAppend(
        &page,
        "<h2>Receipts</h2>\n<p class=\"meta\">For each disclosure, and each "
        "consent record its consent in force was worked out from, a proof "
        "that its record is in the log (C2SP tlog-proof): check them with "
        "<code>ycr audit verify --export</code>.</p>\n");
    for (const auto& [position, receipt] : receipts) {
      // Named by its row's position and hash (`ycr audit verify`).
      absl::StrAppend(&page, "<details><summary>Position ", position,
                      "</summary><pre class=\"tlog-proof\" data-position=\"",
                      position, "\" data-hash=\"", hashes[position], "\">",
                      Html(receipt), "</pre></details>\n");
    }
  }
  page += "</body>\n</html>\n";
  return page;
}

}  // namespace ycr::cli::internal
