#pragma once

// Shared by the two files of `ycr audit export` (cli_export.h): the consent
// in force for each disclosure (cli_export.cc) and the three written forms of
// the trail (cli_export_formats.cc). Internal to clients/cli.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ycr/v1/queries_service.pb.h"

namespace ycr::cli::internal {

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

// The consent in force for each disclosure entry (by index), in log order.
std::map<size_t, ConsentInForce> CheckDisclosures(
    const std::vector<v1::AuditEntry>& entries);

// One entry as a line of JSON (jsonl), with the consent in force for a
// disclosure and its receipt (a C2SP tlog-proof; null: none) as "receipt".
std::string JsonLine(const v1::AuditEntry& entry,
                     const ConsentInForce* in_force,
                     const std::string* receipt = nullptr);

constexpr char kCsvHeader[] =
    "position,recorded_at,event_type,actor_organisation,actor_user,"
    "actor_role,stream,from,to,categories,purpose,basis,consent_in_force,"
    "consent_terms,hash,receipt\r\n";

// One entry as a CSV row (RFC 4180), under kCsvHeader; the receipt (null:
// none) in standard base64, so that every row stays one line.
std::string CsvRow(const v1::AuditEntry& entry, const ConsentInForce* in_force,
                   const std::string* receipt = nullptr);

// The HTML page's one style sheet (`ycr audit verify` allows no other).
constexpr char kHtmlStyle[] =
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

// One entry as a row of the HTML page's table (<tr>...</tr>), with the
// consent in force for a disclosure (null: none).
std::string HtmlRow(const v1::AuditEntry& entry,
                    const ConsentInForce* in_force);

// The whole trail as one self-contained HTML page, with the receipts (by
// position) after the table, each in a <pre class="tlog-proof">.
std::string HtmlPage(const std::string& subject,
                     const std::vector<v1::AuditEntry>& entries,
                     const std::map<uint64_t, std::string>& receipts = {});

}  // namespace ycr::cli::internal
