#pragma once

// The raw log's namespace. EventStore.Append (operators only) writes only
// opaque payloads, only on streams named "<kRawStreamPrefix><name>", and may
// condition only on such streams; domain events are written only by the
// domain's commands (event_store_service.cc says why). Domain streams are
// "<aggregate>-<id>", and no aggregate may be called "ops".

namespace ycr::services {

inline constexpr char kRawStreamPrefix[] = "ops-";

}  // namespace ycr::services
