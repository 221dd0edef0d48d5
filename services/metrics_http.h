#pragma once

// The metrics endpoint: GET /metrics answers the registry's text exposition
// over HTTP, served by libmicrohttpd on its own thread. Any other path is
// 404, any other method 405.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics.h"

struct MHD_Daemon;

namespace ycr::services {

class MetricsHttpServer {
 public:
  // Listens on `listen` (host:port, host an IPv4/IPv6 address or a name;
  // port 0 picks a free one). `registry` must outlive the server.
  // INVALID_ARGUMENT for a malformed address; UNAVAILABLE when it cannot be
  // bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen, const MetricRegistry* registry);

  // Stops serving; waits for requests being answered.
  ~MetricsHttpServer();

  int port() const { return port_; }

 private:
  MetricsHttpServer() = default;

  const MetricRegistry* registry_ = nullptr;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
};

}  // namespace ycr::services
