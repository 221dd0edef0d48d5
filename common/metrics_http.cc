#include "common/metrics_http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ycr {
namespace {

constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

MHD_Result Respond(MHD_Connection* connection, unsigned int code,
                   const std::string& body, const char* content_type,
                   const std::string& cache_control = "") {
  MHD_Response* response = MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  if (!cache_control.empty()) {
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL,
                            cache_control.c_str());
  }
  const MHD_Result queued = MHD_queue_response(connection, code, response);
  MHD_destroy_response(response);
  return queued;
}

MHD_Result Answer(void* cls, MHD_Connection* connection, const char* url,
                  const char* method, const char* /*version*/,
                  const char* /*upload_data*/, size_t* upload_data_size,
                  void** /*request_state*/) {
  const auto* server = static_cast<const MetricsHttpServer*>(cls);
  if (*upload_data_size != 0) {
    *upload_data_size = 0;  // A body is not expected; it is ignored.
    return MHD_YES;
  }
  const bool get = std::strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                   std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
  if (server->extra() != nullptr) {
    std::optional<HttpReply> reply = server->extra()(url);
    if (reply.has_value()) {
      if (!get) {
        return Respond(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET\n",
                       "text/plain; charset=utf-8");
      }
      return Respond(connection, reply->code, reply->body,
                     reply->content_type.c_str(), reply->cache_control);
    }
  }
  const bool metrics =
      server->registry() != nullptr && std::strcmp(url, "/metrics") == 0;
  if (!metrics && std::strcmp(url, "/healthz") != 0) {
    return Respond(connection, MHD_HTTP_NOT_FOUND,
                   "not found; try /metrics or /healthz\n",
                   "text/plain; charset=utf-8");
  }
  if (!get) {
    return Respond(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET\n",
                   "text/plain; charset=utf-8");
  }
  if (!metrics) {
    const bool serving =
        server->serving() == nullptr || server->serving()->load();
    return Respond(
        connection, serving ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
        serving ? "SERVING\n" : "NOT_SERVING\n", "text/plain; charset=utf-8");
  }
  return Respond(connection, MHD_HTTP_OK, server->registry()->Render(),
                 kContentType);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen, const MetricRegistry* registry,
    const std::atomic<bool>* serving, HttpHandler extra, HttpLimits limits) {
  if (limits.connections == 0 || limits.timeout_seconds == 0 ||
      limits.per_ip > limits.connections) {
    return absl::InvalidArgumentError(
        absl::StrCat("http limits: connections (", limits.connections,
                     ") and timeout_seconds (", limits.timeout_seconds,
                     ") must be above 0, and per_ip (", limits.per_ip,
                     ") at most connections"));
  }
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", listen, "': expected host:port"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(),
                           service.c_str(), &hints, &found);
      rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", listen, "': ", gai_strerror(rc)));
  }
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  server->registry_ = registry;
  server->serving_ = serving;
  server->extra_ = std::move(extra);
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
  if (found->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
  server->daemon_ = MHD_start_daemon(
      flags, static_cast<uint16_t>(port), nullptr, nullptr, &Answer,
      server.get(), MHD_OPTION_SOCK_ADDR, found->ai_addr,
      MHD_OPTION_CONNECTION_TIMEOUT, limits.timeout_seconds,
      MHD_OPTION_CONNECTION_LIMIT, limits.connections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, limits.per_ip, MHD_OPTION_END);
  freeaddrinfo(found);
  if (server->daemon_ == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot serve metrics on ", listen, " (address in use or malformed?)"));
  }
  const MHD_DaemonInfo* info =
      MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info != nullptr ? info->port : port;
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

}  // namespace ycr
