#pragma once

// A projection: a read model derived from the log. It sees every event of
// the log, in order, once (ignoring what it does not need), and stages its
// state changes in a ProjectionBatch that the runner commits together with
// the checkpoint.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "storage/projection_store.h"
#include "ycr/v1/event.pb.h"

namespace ycr::projections {

class Projection {
 public:
  virtual ~Projection() = default;

  // Stable name, [a-z0-9_], 1..32 characters: the key space of its state.
  virtual const std::string& name() const = 0;

  // Changes whenever Apply changes meaning or state layout: a store written
  // by another version is rebuilt from position 1.
  virtual uint32_t code_version() const = 0;

  // Applies one event. Must be deterministic: the same events give the same
  // state, byte for byte, live or rebuilt. An error stops the projection
  // (nothing of the batch is committed).
  virtual absl::Status Apply(const v1::RecordedEvent& event,
                             storage::ProjectionBatch& batch) = 0;
};

}  // namespace ycr::projections
