#pragma once

// The receipts of an export as `ycr audit verify` finds them
// (cli_verify_exports.cc), each tied to the row or line that carries it.
// Internal to clients/cli.

#include <string>
#include <vector>

namespace ycr::cli::internal {

// A receipt found in an export, or a disclosure row that should carry one.
struct FoundReceipt {
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
};

// Every receipt of an export of `ycr audit export`: a jsonl file (one JSON
// object a line; a line that is not JSON is a problem naming its number),
// a sar pack (one JSON document), a csv file (its header names the
// position, hash and receipt columns; a receipt in base64) or an html page
// (each <tr> of the table names its position and hash, and so does each
// <pre class="tlog-proof">, which must match a row).
std::vector<FoundReceipt> FindReceipts(const std::string& text);

}  // namespace ycr::cli::internal
