#pragma once

// The C2SP tlog-tiles read API over HTTP, as an extra handler of the
// server's HTTP listener (common/metrics_http.h, --tlog_listen):
//
//   GET /checkpoint               the latest signed checkpoint
//   GET /tile/<L>/<N>             a full hash tile (8,192 bytes), cached
//                                 forever: it never changes
//   GET /tile/<L>/<N>.p/<W>       a partial one, W hashes, within the
//                                 latest checkpoint's tree only
//   GET /tile/entries/...         403: entry bundles are the records
//                                 themselves, personal data; this listener
//                                 does not know who calls, so they are read
//                                 over gRPC by an entitled caller instead
//
// Hashes and checkpoints reveal nothing of any record (access_policy.cc),
// so the listener serves them to anyone. Nothing past the latest signed
// checkpoint is served: a tile that would show a newer tree is 404 until
// the next checkpoint covers it.

#include "common/metrics_http.h"
#include "services/tlog_checkpointer.h"
#include "storage/event_log.h"

namespace ycr::services {

// The handler; `checkpointer` and `log` must outlive it.
HttpHandler TlogHttpHandler(Checkpointer* checkpointer, storage::EventLog* log);

}  // namespace ycr::services
