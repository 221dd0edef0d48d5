#pragma once

// What a client of a cluster node is told when the replicated commit fails.
// The replicated log's own errors carry etcd's text (its members' addresses,
// its keys, revisions): that goes to the server's log, and the appends of
// the batch get a fixed UNAVAILABLE naming the rule. It is applied where
// those errors arise (ReplicatedEventLog::Prepare and Commit), never to an
// append's other answers: a version conflict or an idempotency refusal
// decided by the log's writer reaches its client word for word, whatever
// its stream or key looks like.

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/log.h"

namespace ycr::replication {

// The message of an append the replicated log could not take.
inline constexpr char kAppendNotCommitted[] =
    "the cluster's replicated log could not take this append now (the cause "
    "is in the server's log): its outcome is unknown: retry it with the same "
    "event ids";

// UNAVAILABLE with kAppendNotCommitted; `cause` is logged on `log` (may be
// null) as replication.append_refused with its code and message.
absl::Status AppendNotCommitted(const absl::Status& cause, Logger* log);

}  // namespace ycr::replication
