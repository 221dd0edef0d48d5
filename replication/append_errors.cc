#include "replication/append_errors.h"

#include <utility>

#include "common/client_errors.h"

namespace ycr::replication {

storage::AppendCallback AnswerClients(storage::AppendCallback done,
                                      Logger* log) {
  return [done = std::move(done),
          log](absl::StatusOr<storage::AppendResult> result) mutable {
    if (!result.ok()) {
      result = ForClients(result.status(), kAppendNotCommitted, log,
                          "replication.append_refused");
    }
    std::move(done)(std::move(result));
  };
}

}  // namespace ycr::replication
