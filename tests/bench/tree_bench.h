#pragma once

// ycr-bench --mode=tree: what the log's Merkle tree costs per appended event,
// in process, without gRPC or a server (tree_bench.cc).

namespace ycr::bench {

struct TreeBenchOptions {
  // Events measured.
  int events = 200000;
  // Random bytes of each event's opaque payload.
  int payload_bytes = 300;
  // Events per WriteBatch (one group commit).
  int batch_events = 64;
  bool json = false;
};

// Prints the figures; returns the process's exit code.
int RunTreeBench(const TreeBenchOptions& options);

}  // namespace ycr::bench
