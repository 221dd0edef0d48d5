#pragma once

// The metrics endpoint: GET /metrics answers the registry's text exposition
// over HTTP, served by libmicrohttpd on its own thread. Any other path is
// 404, any other method 405.

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics.h"

struct MHD_Daemon;

namespace ycr {

class MetricsHttpServer {
 public:
  // Listens on `listen` (host:port, host an IPv4/IPv6 address or a name;
  // port 0 picks a free one). `registry` and `serving` must outlive the
  // server. GET /healthz answers 200 "SERVING" while `serving` is true
  // (null: always), else 503 "NOT_SERVING": a probe for orchestrators that
  // cannot speak mutual TLS to the gRPC port (Kubernetes' gRPC probe).
  // INVALID_ARGUMENT for a malformed address; UNAVAILABLE when it cannot be
  // bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen, const MetricRegistry* registry,
      const std::atomic<bool>* serving = nullptr);

  // Stops serving; waits for requests being answered.
  ~MetricsHttpServer();

  int port() const { return port_; }
  const MetricRegistry* registry() const { return registry_; }
  const std::atomic<bool>* serving() const { return serving_; }

 private:
  MetricsHttpServer() = default;

  const MetricRegistry* registry_ = nullptr;
  const std::atomic<bool>* serving_ = nullptr;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
};

}  // namespace ycr
