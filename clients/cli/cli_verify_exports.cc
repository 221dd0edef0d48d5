// The receipts of an export, each tied to its row (cli_verify_internal.h).

#include <functional>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "clients/cli/cli_export_internal.h"
#include "clients/cli/cli_verify_internal.h"
#include "common/tlog_proof.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace ycr::cli::internal {
namespace {

// ---- json: jsonl lines and the sar document ----

// A JSON value written as a string or a number, as text.
std::string JsonScalar(const google::protobuf::Value& v) {
  if (v.has_string_value()) return v.string_value();
  if (v.has_number_value()) return absl::StrCat(v.number_value());
  return "";
}

void WalkJson(const google::protobuf::Value& v,
              std::vector<FoundReceipt>& found) {
  if (v.has_struct_value()) {
    const auto& fields = v.struct_value().fields();
    auto field = [&](const char* name) {
      auto it = fields.find(name);
      return it == fields.end() ? std::string() : JsonScalar(it->second);
    };
    if (fields.count("receipt") > 0) {
      // A jsonl line: its receipt (whatever it holds: one that does not
      // parse fails), the position and the record hash it states, and its
      // event and disclosure.
      FoundReceipt receipt{field("receipt"), field("hashHex"),
                           field("position"), true, ""};
      receipt.form = FoundReceipt::Form::kJsonl;
      for (const char* name : {"event", "disclosure", "consentInForce"}) {
        std::string json;
        auto it = fields.find(name);
        if (it != fields.end()) {
          (void)google::protobuf::util::MessageToJsonString(it->second, &json);
        }
        receipt.stated.push_back(std::move(json));
      }
      found.push_back(std::move(receipt));
      return;
    }
    for (const char* name : {"tlog_proof", "tlogProof"}) {
      if (fields.count(name) > 0) {
        // A sar pack's receipt (its proto field names kept, as the export
        // writes it, or in camel case), with the position it is for.
        found.push_back({field(name), "", field("position"), false, ""});
        return;
      }
    }
    if (fields.count("disclosure") > 0 && fields.count("hashHex") > 0) {
      // A jsonl disclosure line without its receipt.
      found.push_back({"", field("hashHex"), field("position"), true, ""});
      return;
    }
    if (fields.count("disclosure") > 0 && fields.count("event") > 0 &&
        fields.at("event").has_struct_value()) {
      // A sar pack's disclosure entry: its receipt is among the pack's
      // receipts (SarDisclosuresWithoutReceipts).
      const auto& event = fields.at("event").struct_value().fields();
      auto position = event.find("position");
      found.push_back({"", "", "", false, ""});
      found.back().form = FoundReceipt::Form::kSarDisclosure;
      found.back().position =
          position == event.end() ? "" : JsonScalar(position->second);
      return;
    }
    for (const auto& [key, value] : fields) WalkJson(value, found);
  } else if (v.has_list_value()) {
    for (const auto& item : v.list_value().values()) WalkJson(item, found);
  } else if (v.has_string_value() &&
             absl::StartsWith(v.string_value(),
                              std::string(tlog::kProofHeader) + "\n")) {
    found.push_back({v.string_value(), "", "", false, ""});
  }
}

// A sar pack's disclosure entries (kSarDisclosure), each left as a
// disclosure without a receipt when no receipt names its position, and
// dropped otherwise.
void SarDisclosuresWithoutReceipts(std::vector<FoundReceipt>& found) {
  std::set<std::string> receipted;
  for (const FoundReceipt& f : found) {
    if (f.form != FoundReceipt::Form::kSarDisclosure) {
      receipted.insert(f.position);
    }
  }
  std::vector<FoundReceipt> out;
  for (FoundReceipt& f : found) {
    if (f.form != FoundReceipt::Form::kSarDisclosure) {
      out.push_back(std::move(f));
    } else if (receipted.count(f.position) == 0) {
      // Checked as a row without a receipt: it fails.
      out.push_back({"", "", f.position, true, ""});
    }
  }
  found = std::move(out);
}

void FindInJson(const std::string& text, std::vector<FoundReceipt>& found) {
  google::protobuf::Value whole;
  if (google::protobuf::util::JsonStringToMessage(text, &whole).ok()) {
    WalkJson(whole, found);
    SarDisclosuresWithoutReceipts(found);
    return;
  }
  // jsonl: every line a JSON object; one that is not fails, by number, and
  // so does a second line for a position.
  std::set<std::string> positions;
  size_t start = 0;
  for (int number = 1; start < text.size(); ++number) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    google::protobuf::Value value;
    const auto parsed =
        google::protobuf::util::JsonStringToMessage(line, &value);
    if (!parsed.ok()) {
      found.push_back({"", "", "", true,
                       absl::StrCat("line ", number, " is not JSON (",
                                    std::string(parsed.message()), ")")});
      continue;
    }
    if (value.has_struct_value()) {
      auto position = value.struct_value().fields().find("position");
      if (position != value.struct_value().fields().end() &&
          !positions.insert(JsonScalar(position->second)).second) {
        found.push_back({"", "", "", true,
                         absl::StrCat("line ", number, " repeats position ",
                                      JsonScalar(position->second))});
        continue;
      }
    }
    WalkJson(value, found);
  }
}

// ---- csv ----

// The records of an RFC 4180 text, each a list of fields.
std::vector<std::vector<std::string>> CsvRecords(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c != '"') {
        field += c;
      } else if (i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
    } else if (c == '\n' ||
               (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
      if (c == '\r') ++i;
      record.push_back(std::move(field));
      field.clear();
      records.push_back(std::move(record));
      record.clear();
    } else {
      field += c;
    }
  }
  if (!field.empty() || !record.empty()) {
    record.push_back(std::move(field));
    records.push_back(std::move(record));
  }
  return records;
}

// The columns of an export's csv, in order (kCsvHeader).
std::vector<std::string> CsvColumns() {
  return absl::StrSplit(absl::StripSuffix(kCsvHeader, "\r\n"), ',');
}

void FindInCsv(const std::string& text, std::vector<FoundReceipt>& found) {
  const std::vector<std::vector<std::string>> records = CsvRecords(text);
  std::map<std::string, size_t> column;
  for (size_t i = 0; i < records[0].size(); ++i) column[records[0][i]] = i;
  for (const char* name : {"position", "hash", "receipt", "from", "to"}) {
    if (column.count(name) == 0) {
      found.push_back(
          {"", "", "", true, absl::StrCat("the csv header has no ", name)});
      return;
    }
  }
  std::set<std::string> positions;
  for (size_t r = 1; r < records.size(); ++r) {
    const std::vector<std::string>& row = records[r];
    if (row.size() == records[0].size() &&
        !positions.insert(row[column["position"]]).second) {
      found.push_back({"", "", row[column["position"]], true,
                       absl::StrCat("csv row ", r, " repeats position ",
                                    row[column["position"]])});
      continue;
    }
    if (row.size() != records[0].size()) {
      found.push_back(
          {"", "", "", true,
           absl::StrCat("csv row ", r, " has ", row.size(),
                        " fields, the header ", records[0].size())});
      continue;
    }
    FoundReceipt receipt{"", row[column["hash"]], row[column["position"]], true,
                         ""};
    receipt.form = FoundReceipt::Form::kCsv;
    for (const std::string& name : CsvColumns()) {
      auto it = column.find(name);
      receipt.stated.push_back(it == column.end() ? "" : row[it->second]);
    }
    const std::string& base64 = row[column["receipt"]];
    if (!base64.empty() && !absl::Base64Unescape(base64, &receipt.text)) {
      receipt.problem =
          absl::StrCat("csv row ", r, ": the receipt is not base64");
    }
    // A disclosure row (it names whom to) without a receipt fails too.
    if (!base64.empty() || !row[column["from"]].empty() ||
        !row[column["to"]].empty()) {
      found.push_back(std::move(receipt));
    }
  }
}

// ---- html ----

// The value of attribute `name` in the tag text `tag`; empty when absent.
std::string Attribute(const std::string& tag, const std::string& name) {
  const std::string key = absl::StrCat(" ", name, "=\"");
  const size_t at = tag.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  const size_t end = tag.find('"', start);
  return end == std::string::npos ? "" : tag.substr(start, end - start);
}

// Calls `visit(tag, after)` for each tag that starts with `open`, with the
// tag's text up to its '>' and the offset just after it.
void EachTag(const std::string& text, const std::string& open,
             const std::function<void(const std::string&, size_t)>& visit) {
  for (size_t at = text.find(open); at != std::string::npos;
       at = text.find(open, at + 1)) {
    const size_t close = text.find('>', at);
    if (close == std::string::npos) return;
    visit(text.substr(at, close - at), close + 1);
  }
}

// The cells of an html table row, as written (<td>...</td> each), found
// in `lower` (the row in lower case, as a browser reads tags) and taken
// from `row`.
std::vector<std::string> Cells(const std::string& row,
                               const std::string& lower) {
  std::vector<std::string> cells;
  for (size_t at = lower.find("<td"); at != std::string::npos;) {
    const size_t open = lower.find('>', at);
    const size_t end = lower.find("</td>", at);
    if (open == std::string::npos || end == std::string::npos || end < open) {
      break;
    }
    cells.push_back(row.substr(open + 1, end - open - 1));
    at = lower.find("<td", end);
  }
  return cells;
}
std::vector<std::string> Cells(const std::string& row) {
  return Cells(row, absl::AsciiStrToLower(row));
}

// The html row's cell that says on what basis a disclosure was made, and
// whether a consent covered it: worked out from the consent's records.
constexpr size_t kHtmlBasisCell = 4;
// The cell that names whom a disclosure was made to.
constexpr size_t kHtmlToCell = 3;

// The first piece of markup in `text` that the export does not write (its
// tags, their attributes, one style sheet: its own), or "" when there is
// none. A page is read as a browser shows it, and a style sheet, a style
// attribute, a script or a comment could show what the cells do not say.
std::string ForeignMarkup(const std::string& text) {
  static const std::set<std::string> kTags = {
      "html", "head", "meta",  "title", "style",   "body",    "h1",
      "h2",   "p",    "table", "thead", "tbody",   "tr",      "th",
      "td",   "br",   "span",  "code",  "details", "summary", "pre"};
  static const std::set<std::string> kAttributes = {
      "lang",      "charset",         "class", "data-position",
      "data-hash", "data-disclosure", "title"};
  static const std::set<std::string> kClasses = {"meta", "label", "no-consent",
                                                 "tlog-proof"};
  const std::string lower = absl::AsciiStrToLower(text);
  constexpr absl::string_view kDoctype = "<!doctype html>";
  int sheets = 0;
  for (size_t at = lower.find('<'); at != std::string::npos;
       at = lower.find('<', at + 1)) {
    const std::string here = text.substr(at, 40);
    if (at == 0 && absl::StartsWith(lower, kDoctype)) continue;
    size_t i = at + 1;
    if (i < lower.size() && lower[i] == '/') ++i;
    const size_t name_start = i;
    while (i < lower.size() && (absl::ascii_isalnum(lower[i]))) ++i;
    const std::string name = lower.substr(name_start, i - name_start);
    if (kTags.count(name) == 0) return here;
    if (name == "style" && lower[at + 1] != '/') {
      const size_t close = lower.find("</style", i);
      if (++sheets > 1 || lower.compare(i, 1, ">") != 0 ||
          close == std::string::npos ||
          text.substr(i + 1, close - i - 1) != kHtmlStyle) {
        return here;
      }
    }
    // Attributes: name, name="value", name='value' or name=value.
    while (i < lower.size() && lower[i] != '>') {
      if (absl::ascii_isspace(lower[i]) || lower[i] == '/') {
        ++i;
        continue;
      }
      const size_t attr_start = i;
      while (i < lower.size() && !absl::ascii_isspace(lower[i]) &&
             lower[i] != '=' && lower[i] != '>') {
        ++i;
      }
      const std::string attr = lower.substr(attr_start, i - attr_start);
      std::string value;
      if (i < lower.size() && lower[i] == '=') {
        ++i;
        const char quote = i < lower.size() ? lower[i] : '\0';
        const size_t value_start = quote == '"' || quote == '\'' ? i + 1 : i;
        size_t end = value_start;
        while (end < lower.size() &&
               (quote == '"' || quote == '\''
                    ? lower[end] != quote
                    : !absl::ascii_isspace(lower[end]) && lower[end] != '>')) {
          ++end;
        }
        value = lower.substr(value_start, end - value_start);
        i = quote == '"' || quote == '\'' ? end + 1 : end;
      }
      if (kAttributes.count(attr) == 0 ||
          (attr == "class" && kClasses.count(value) == 0) ||
          (attr == "charset" && value != "utf-8")) {
        return here;
      }
    }
  }
  return sheets == 1 ? "" : "(no style sheet of its own)";
}

void FindInHtml(const std::string& text, std::vector<FoundReceipt>& found) {
  struct Row {
    std::string hash;
    bool disclosure = false;
    bool receipt = false;
    std::vector<std::string> cells;
    std::string klass;
  };
  std::map<std::string, Row> rows;  // By position.
  // Tags as a browser reads them, in any case; every row of cells counts.
  const std::string lower = absl::AsciiStrToLower(text);
  EachTag(lower, "<tr", [&](const std::string& tag, size_t after) {
    if (tag.size() > 3 && tag[3] != ' ' && tag[3] != '\t' && tag[3] != '\n') {
      return;  // Another tag (<track>).
    }
    const size_t end = lower.find("</tr>", after);
    const size_t size = end == std::string::npos ? end : end - after;
    Row row{Attribute(tag, "data-hash"),
            absl::StrContains(tag, " data-disclosure"), false,
            Cells(text.substr(after, size), lower.substr(after, size)),
            Attribute(tag, "class")};
    if (row.cells.empty()) return;  // The header.
    const std::string position = Attribute(tag, "data-position");
    if (position.empty() || rows.count(position) > 0) {
      found.push_back(
          {"", "", position, true,
           position.empty()
               ? "an html table row names no position (data-position)"
               : absl::StrCat("the html table has two rows for position ",
                              position)});
      return;
    }
    // A row that names whom something was disclosed to is a disclosure,
    // whatever its attributes say.
    row.disclosure = row.disclosure || (row.cells.size() > kHtmlToCell &&
                                        !row.cells[kHtmlToCell].empty());
    rows[position] = std::move(row);
  });
  EachTag(text, "<pre class=\"tlog-proof\"",
          [&](const std::string& tag, size_t after) {
            const size_t end = text.find("</pre>", after);
            const std::string body =
                text.substr(after, end == std::string::npos ? 0 : end - after);
            FoundReceipt receipt{absl::StrReplaceAll(body, {{"&lt;", "<"},
                                                            {"&gt;", ">"},
                                                            {"&quot;", "\""},
                                                            {"&#39;", "'"},
                                                            {"&amp;", "&"}}),
                                 Attribute(tag, "data-hash"),
                                 Attribute(tag, "data-position"), true, ""};
            auto row = rows.find(receipt.position);
            if (receipt.position.empty() || receipt.hash_hex.empty()) {
              receipt.problem =
                  "an html receipt names no row (data-position and data-hash)";
            } else if (row == rows.end()) {
              receipt.problem =
                  absl::StrCat("the receipt for position ", receipt.position,
                               " names a row the table does not have");
            } else if (row->second.hash != receipt.hash_hex) {
              receipt.problem = absl::StrCat(
                  "the receipt for position ", receipt.position, " names hash ",
                  receipt.hash_hex, ", its row states ", row->second.hash);
            } else {
              row->second.receipt = true;
              receipt.form = FoundReceipt::Form::kHtml;
              receipt.stated = row->second.cells;
              receipt.row_class = row->second.klass;
            }
            found.push_back(std::move(receipt));
          });
  size_t highlighted = 0;
  for (const auto& [position, row] : rows) {
    if (row.disclosure && !row.receipt) {
      found.push_back({"", row.hash, position, true, ""});
    }
    highlighted += row.klass == "no-consent" ? 1 : 0;
  }
  // The page's summary counts what its rows show (each row's cells and
  // highlighting are checked against its record).
  const std::string summary =
      absl::StrCat(" ", rows.size(), " entries in log order; ", highlighted,
                   " disclosure(s) made without consent in force.");
  if (!absl::StrContains(text, summary)) {
    found.push_back({"", "", "", true,
                     absl::StrCat("the html summary does not say \"",
                                  summary.substr(1), "\", as its rows do")});
  }
}

// ---- what a row says of its record ----

std::string Differs(const std::string& what, const std::string& stated,
                    const std::string& wanted) {
  return absl::StrCat(what, " \"", stated, "\", the record's \"", wanted, "\"");
}

// Whether two JSON texts hold the same value ("" for none).
bool SameJson(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return a == b;
  google::protobuf::Value x, y;
  return google::protobuf::util::JsonStringToMessage(a, &x).ok() &&
         google::protobuf::util::JsonStringToMessage(b, &y).ok() &&
         google::protobuf::util::MessageDifferencer::Equals(x, y);
}

// A jsonl line's event, disclosure and consent in force against the
// record's.
std::string JsonlDiffers(const std::vector<std::string>& stated,
                         const v1::AuditEntry& entry,
                         const ConsentInForce* in_force) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  v1::RecordedEvent event;
  v1::DisclosureRecorded disclosure;
  if (stated.size() != 3 ||
      !google::protobuf::util::JsonStringToMessage(stated[0], &event, options)
           .ok() ||
      (!stated[1].empty() && !google::protobuf::util::JsonStringToMessage(
                                  stated[1], &disclosure, options)
                                  .ok())) {
    return "an event or disclosure that is not one";
  }
  v1::RecordedEvent record = entry.event();
  for (v1::RecordedEvent* e : {&event, &record}) {
    e->mutable_payload()->clear_personal();
    e->mutable_payload()->clear_encrypted_personal();
  }
  if (!google::protobuf::util::MessageDifferencer::Equals(event, record)) {
    return Differs("an event", event.ShortDebugString(),
                   record.ShortDebugString());
  }
  if (!google::protobuf::util::MessageDifferencer::Equals(disclosure,
                                                          entry.disclosure())) {
    return Differs("a disclosure", disclosure.ShortDebugString(),
                   entry.disclosure().ShortDebugString());
  }
  const std::string wanted = in_force ? InForceJson(*in_force) : "";
  if (!SameJson(stated[2], wanted)) {
    return Differs("consentInForce", stated[2], wanted);
  }
  return "";
}

}  // namespace

std::string RowDiffers(const FoundReceipt& found,
                       const v1::RecordedEvent& record,
                       const ConsentInForce* in_force) {
  v1::AuditEntry entry;
  *entry.mutable_event() = record;
  if (const v1::DisclosureRecorded* d = DisclosureOf(record.payload())) {
    *entry.mutable_disclosure() = *d;
  }
  switch (found.form) {
    case FoundReceipt::Form::kJsonl:
      return JsonlDiffers(found.stated, entry, in_force);
    case FoundReceipt::Form::kCsv: {
      const std::vector<std::string> names = CsvColumns();
      const std::vector<std::string> wanted =
          CsvRecords(CsvRow(entry, in_force)).at(0);
      for (size_t i = 0; i < names.size() && i < wanted.size(); ++i) {
        if (names[i] == "receipt") continue;
        const std::string stated =
            i < found.stated.size() ? found.stated[i] : "";
        if (stated != wanted[i]) {
          return Differs(absl::StrCat("column ", names[i]), stated, wanted[i]);
        }
      }
      return "";
    }
    case FoundReceipt::Form::kHtml: {
      const std::string row = HtmlRow(entry, in_force);
      const std::vector<std::string> wanted = Cells(row);
      if (wanted.size() != found.stated.size()) {
        return absl::StrCat(found.stated.size(), " cells, the record's row ",
                            wanted.size());
      }
      for (size_t i = 0; i < wanted.size(); ++i) {
        if (found.stated[i] != wanted[i]) {
          return Differs(
              absl::StrCat(i == kHtmlBasisCell ? "basis " : "", "cell ", i + 1),
              found.stated[i], wanted[i]);
        }
      }
      const std::string klass =
          Attribute(row.substr(0, row.find('>')), "class");
      if (found.row_class != klass) {
        return Differs("the row's class", found.row_class, klass);
      }
      return "";
    }
    case FoundReceipt::Form::kNone:
    case FoundReceipt::Form::kSarDisclosure:
      break;
  }
  return "";
}

std::vector<FoundReceipt> FindReceipts(const std::string& text) {
  std::vector<FoundReceipt> found;
  if (absl::StartsWith(text, "<!DOCTYPE html>")) {
    if (const std::string foreign = ForeignMarkup(text); !foreign.empty()) {
      found.push_back({"", "", "", true,
                       absl::StrCat("the html holds markup the export does "
                                    "not write, at \"",
                                    absl::CHexEscape(foreign),
                                    "\": a page could show what its rows do "
                                    "not say")});
      return found;
    }
    FindInHtml(text, found);
  } else if (absl::StartsWith(text, "{")) {
    FindInJson(text, found);
  } else if (absl::StartsWith(text, "position,")) {
    FindInCsv(text, found);
  }
  return found;
}

}  // namespace ycr::cli::internal
