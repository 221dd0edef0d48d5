#pragma once

// The receipts of an export as `ycr audit verify` finds them
// (cli_verify_exports.cc), each tied to the row or line that carries it.
// Internal to clients/cli.

#include <string>
#include <utility>
#include <vector>

#include "ycr/v1/event.pb.h"

namespace ycr::cli::internal {

// A receipt found in an export, or a disclosure row that should carry one.
struct FoundReceipt {
  FoundReceipt(std::string text, std::string hash_hex, std::string position,
               bool row, std::string problem)
      : text(std::move(text)),
        hash_hex(std::move(hash_hex)),
        position(std::move(position)),
        row(row),
        problem(std::move(problem)) {}

  // The C2SP tlog-proof text; empty: the row carries none.
  std::string text;
  // The record hash (hex) its row or line states (jsonl, csv, html).
  std::string hash_hex;
  // The position its row, line or sar entry states.
  std::string position;
  // It sits on a row or line (jsonl, csv, html), which must state the
  // record's position and hash; a sar receipt only names its position.
  bool row = false;
  // Why it cannot be checked at all (a line that is not JSON, a receipt
  // that names no row); the verifier fails it as it is.
  std::string problem;
  // What its row says of the record, for RowDiffers: a jsonl line's event
  // and disclosure (JSON), a csv row's fields in kCsvHeader's order, an
  // html row's cells.
  // A jsonl line's third is its consentInForce (JSON; "" when it has none).
  // kSarDisclosure: a sar pack's disclosure entry, while FindReceipts
  // looks for its receipt (never returned).
  enum class Form { kNone, kJsonl, kCsv, kHtml, kSarDisclosure };
  Form form = Form::kNone;
  std::vector<std::string> stated;
  // An html row's class (highlighted: "no-consent").
  std::string row_class;
};

struct ConsentInForce;

// Every receipt of an export of `ycr audit export`: a jsonl file (one JSON
// object a line; a line that is not JSON is a problem naming its number),
// a sar pack (one JSON document), a csv file (its header names the
// position, hash and receipt columns; a receipt in base64) or an html page
// (each <tr> of the table names its position and hash, and so does each
// <pre class="tlog-proof">, which must match a row).
std::vector<FoundReceipt> FindReceipts(const std::string& text);

// Empty when the row that carries `found` says of the record what the
// export would write from `record` (the stored record, with its chain hash
// set) and `in_force` (for a disclosure, the consent in force worked out
// again from the records the export holds; null for any other record), else
// which field differs: every field of a csv row, the consent in force and
// its terms included; every cell of an html row, the basis included, and
// its highlighting; a jsonl line's event (its sealed personal part aside,
// which the record holds as ciphertext), disclosure and consentInForce. A
// receipt that holds no record cannot be tied to its row's content (README,
// "Receipts").
std::string RowDiffers(const FoundReceipt& found,
                       const v1::RecordedEvent& record,
                       const ConsentInForce* in_force);

}  // namespace ycr::cli::internal
