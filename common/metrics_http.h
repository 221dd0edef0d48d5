#pragma once

// The metrics endpoint: GET /metrics answers the registry's text exposition
// over HTTP, served by libmicrohttpd on its own thread. Any other path is
// 404 (unless an extra handler answers it), any other method 405. The same
// server, without a registry, serves other read-only paths (the
// transparency log's, services/tlog_http.h).

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics.h"

struct MHD_Daemon;

namespace ycr {

// An answer of an extra handler.
struct HttpReply {
  unsigned int code = 200;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";
  // Cache-Control; empty: none.
  std::string cache_control;
};
// Answers a GET (or HEAD) of `path` (as requested, with its leading slash),
// or nullopt to leave it to the server (/metrics, /healthz, else 404).
// Called on the server's thread; must be thread-safe.
using HttpHandler =
    std::function<std::optional<HttpReply>(const std::string& path)>;

// Bounds on the listener's connections, so that one client cannot hold it
// (slowloris): a client holding `per_ip` idle sockets still leaves room for
// every other address, and an idle or slow connection is closed after
// `timeout_seconds` without progress.
struct HttpLimits {
  // Connections open at once, in all. Default: 64.
  unsigned int connections = 64;
  // Connections open at once from one IP address; more are closed at
  // accept. 0: no per-address limit. Default: 8.
  unsigned int per_ip = 8;
  // Seconds a connection may sit without sending or receiving. Default: 5.
  unsigned int timeout_seconds = 5;
};

class MetricsHttpServer {
 public:
  // Listens on `listen` (host:port, host an IPv4/IPv6 address or a name;
  // port 0 picks a free one). `registry` and `serving` must outlive the
  // server. GET /healthz answers 200 "SERVING" while `serving` is true
  // (null: always), else 503 "NOT_SERVING": a probe for orchestrators that
  // cannot speak mutual TLS to the gRPC port (Kubernetes' gRPC probe).
  // INVALID_ARGUMENT for a malformed address; UNAVAILABLE when it cannot be
  // bound. `registry` null: no /metrics. `extra` (may be null) is asked
  // first for every path. INVALID_ARGUMENT naming the limit for a zero
  // `limits.connections` or `limits.timeout_seconds`, or `per_ip` above
  // `connections`.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen, const MetricRegistry* registry,
      const std::atomic<bool>* serving = nullptr, HttpHandler extra = nullptr,
      HttpLimits limits = {});

  // Stops serving; waits for requests being answered.
  ~MetricsHttpServer();

  int port() const { return port_; }
  const MetricRegistry* registry() const { return registry_; }
  const std::atomic<bool>* serving() const { return serving_; }
  const HttpHandler& extra() const { return extra_; }

 private:
  MetricsHttpServer() = default;

  const MetricRegistry* registry_ = nullptr;
  const std::atomic<bool>* serving_ = nullptr;
  HttpHandler extra_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
};

}  // namespace ycr
