#pragma once

// Shared by the files of `ycr audit export` (cli_export.h) and `ycr audit
// verify`: the consent in force for each disclosure (cli_consent.cc, one fold
// for the export and the verifier) and the three written forms of the trail
// (cli_export_formats.cc). Internal to clients/cli.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "domain/consent_rules.h"
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
  // The positions of the consent's records it was worked out from (every
  // record of the consent the disclosure names, up to the disclosure): each
  // carries a receipt, so that `ycr audit verify` can work it out again.
  std::vector<uint64_t> relied_on;
};

// The subject's consents, folded record by record with the server's rule
// (domain/consent_rules.h); the export folds the trail, the verifier the
// records an export's receipts hold.
class ConsentFold {
 public:
  // Folds a consent event at its position; a later record of a consent's
  // stream of an event kind this client does not know (a newer server's)
  // leaves the consent unknown from there; anything else is ignored.
  void Apply(const v1::RecordedEvent& e);

  // The consent in force for `d` at `at`: the consent it names, as folded so
  // far. A disclosure that names no consent (a safeguarding basis) rests on
  // none, and is covered by none.
  ConsentInForce Check(const v1::DisclosureRecorded& d, absl::Time at) const;

 private:
  struct Folded {
    domain::ConsentView view;
    std::vector<uint64_t> positions;
    // The first version of the consent whose record is of an event kind
    // this client does not know (0: none): the consent cannot be worked out.
    uint64_t unknown_version = 0;
  };
  std::map<std::string, Folded> views_;  // By stream.
};

// The consent in force for each disclosure entry (by index), in log order.
std::map<size_t, ConsentInForce> CheckDisclosures(
    const std::vector<v1::AuditEntry>& entries);

// The disclosure a record carries, as the audit trail files it (null:
// none).
const v1::DisclosureRecorded* DisclosureOf(const v1::EventPayload& p);

// For `ycr audit verify`: the consent in force that the row of `record`, a
// disclosure, must state, worked out again from `held` (the records the
// export's receipts hold, by position): every record of the consent it names
// up to the version it names, before it, each once. FAILED_PRECONDITION
// naming the missing record when one is not held.
absl::StatusOr<ConsentInForce> ConsentFromRecords(
    const v1::RecordedEvent& record,
    const std::map<uint64_t, v1::RecordedEvent>& held);

// For `ycr audit verify`: "consent C (about subject S)" for a record that
// grants or refuses consent C, "a step of consent stream X" for a later step
// of one, "" for any other record.
std::string ConsentRecordName(const v1::RecordedEvent& e);

// The consent in force as a jsonl line writes it ("consentInForce").
std::string InForceJson(const ConsentInForce& c);

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
