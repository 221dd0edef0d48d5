#pragma once

// An append's answer as its client sees it on a cluster node: the writer's
// errors may carry etcd's own text (its endpoints, keys, revisions), which
// goes to the server's log; the client gets the rule (common/client_errors.h).

#include "common/log.h"
#include "storage/event_log.h"

namespace ycr::replication {

// The message of an append refused for a cause that names infrastructure.
inline constexpr char kAppendNotCommitted[] =
    "the cluster's replicated log could not take this append now (the cause "
    "is in the server's log): its outcome is unknown: retry it with the same "
    "event ids";

// `done`, given its result through ForClients (logged as
// replication.append_refused on `log`, which may be null).
storage::AppendCallback AnswerClients(storage::AppendCallback done,
                                      Logger* log);

}  // namespace ycr::replication
