// `ycr audit export` (cli_export.h): its help, its options, the calls
// (Audit.Trail read at the log's head, or Audit.SubjectAccessPack), and the
// receipts of the disclosures and of the consent records each rests on. The
// consent in force for each disclosure is folded from the trail with the
// server's own rule (cli_consent.cc); the written forms are in
// cli_export_formats.cc.

#include "clients/cli/cli_export.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "clients/cli/cli_export_internal.h"
#include "clients/cli/cli_tlog.h"
#include "common/files.h"
#include "common/wire_names.h"
#include "google/protobuf/util/json_util.h"
#include "ycr/v1/event_store.grpc.pb.h"
#include "ycr/v1/queries_service.grpc.pb.h"

namespace ycr::cli {
namespace {

using internal::ConsentInForce;

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
    "                  Every disclosure carries a receipt, a C2SP tlog-proof\n"
    "                  that its record is in the log (jsonl \"receipt\", csv\n"
    "                  column receipt in base64, html after the table, sar\n"
    "                  \"receipts\"), and so does every consent record the\n"
    "                  consent in force at a disclosure was worked out from\n"
    "                  (jsonl, csv, html); `ycr audit verify --export FILE`\n"
    "                  checks them. A receipt holds the record's bytes only\n"
    "                  for a caller who may read the whole stored record\n"
    "                  (auditors), and never in a sar pack; otherwise only\n"
    "                  its leaf hash.\n"
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

int NoReceipts(std::ostream& err, const absl::Status& status) {
  err << "ycr: audit export: no receipts for the disclosures: " << status
      << "\n";
  return 1;
}

int Bad(std::ostream& err, const std::string& problem) {
  err << "ycr: audit export: " << problem
      << "\nRun `ycr audit export --help` for usage.\n";
  return 2;
}

}  // namespace

using internal::CheckDisclosures;
using internal::CsvRow;
using internal::HtmlPage;
using internal::JsonLine;
using internal::kCsvHeader;

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

  // A receipt for each disclosure and for each consent record the consent
  // in force at a disclosure was worked out from, with the record's bytes
  // only when the caller may read the whole stored record (cli_tlog.h): so
  // an auditor's export proves the consent columns too.
  const std::map<size_t, ConsentInForce> checks = CheckDisclosures(entries);
  std::vector<uint64_t> positions;
  for (const v1::AuditEntry& e : entries) {
    if (e.has_disclosure()) positions.push_back(e.event().position());
  }
  for (const auto& [index, check] : checks) {
    positions.insert(positions.end(), check.relied_on.begin(),
                     check.relied_on.end());
  }
  absl::StatusOr<std::map<uint64_t, std::string>> receipts =
      FetchReceipts(channel, settings, positions, LeafBytes::kIfEntitled);
  if (!receipts.ok()) return NoReceipts(err, receipts.status());
  std::string text;
  if (format == "jsonl" || format == "csv") {
    if (format == "csv") text = kCsvHeader;
    for (size_t i = 0; i < entries.size(); ++i) {
      auto check = checks.find(i);
      const ConsentInForce* in_force =
          check == checks.end() ? nullptr : &check->second;
      auto receipt = receipts->find(entries[i].event().position());
      const std::string* proof =
          receipt != receipts->end() ? &receipt->second : nullptr;
      text += format == "jsonl" ? JsonLine(entries[i], in_force, proof)
                                : CsvRow(entries[i], in_force, proof);
    }
  } else {
    text = HtmlPage(subject, entries, *receipts);
  }
  return emit(text, absl::StrCat(entries.size(), " entries"));
}

}  // namespace ycr::cli
