#include "services/tlog_http.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/tlog.h"

namespace ycr::services {
namespace {

constexpr char kText[] = "text/plain; charset=utf-8";

HttpReply Text(unsigned int code, std::string body) {
  HttpReply reply;
  reply.code = code;
  reply.body = std::move(body);
  reply.content_type = kText;
  reply.cache_control = "no-store";
  return reply;
}

std::optional<HttpReply> Answer(Checkpointer* checkpointer,
                                storage::EventLog* log,
                                const std::string& path) {
  if (path != "/checkpoint" && !absl::StartsWith(path, "/tile/")) {
    return std::nullopt;
  }
  std::optional<SignedTreeHead> latest = checkpointer->Latest();
  if (!latest.has_value()) {
    return Text(503, "no checkpoint signed yet; try again in a second\n");
  }
  if (path == "/checkpoint") {
    HttpReply reply = Text(200, latest->note);
    reply.cache_control = "no-cache";
    return reply;
  }
  if (absl::StartsWith(path, "/tile/entries/")) {
    return Text(403,
                "entry bundles are the log's records, which are personal "
                "data, and this listener does not know who is calling: read "
                "records over gRPC as a caller entitled to them "
                "(ycr.v1.EventStore, role auditor). Hash tiles and "
                "/checkpoint are served here.\n");
  }
  absl::StatusOr<tlog::Tile> tile = tlog::ParseTilePath(path.substr(1));
  if (!tile.ok()) {
    return Text(404, absl::StrCat("not a tile: ", tile.status().message(),
                                  " (expected /tile/<L>/<N>[.p/<W>])\n"));
  }
  // The tile as far as the latest checkpoint's tree holds it.
  absl::StatusOr<tlog::Tile> held =
      tlog::TileOf(tile->level, tile->n, latest->size);
  if (!held.ok() || held->width < tile->width) {
    return Text(404, absl::StrCat("no such tile in the tree of the latest "
                                  "checkpoint (",
                                  latest->size, " records)\n"));
  }
  absl::StatusOr<std::string> hashes =
      tlog::TileHashes(*tile, storage::TreeHashReader(*log));
  if (!hashes.ok()) {
    return Text(500, absl::StrCat("cannot read the tile: ",
                                  hashes.status().message(), "\n"));
  }
  HttpReply reply;
  reply.body = *std::move(hashes);
  reply.content_type = "application/octet-stream";
  // A tile of a given width never changes; a full tile is never asked for
  // with another width.
  reply.cache_control = tile->width == tlog::kTileWidth
                            ? "public, max-age=31536000, immutable"
                            : "public, max-age=60";
  return reply;
}

}  // namespace

HttpHandler TlogHttpHandler(Checkpointer* checkpointer,
                            storage::EventLog* log) {
  return [checkpointer, log](const std::string& path) {
    return Answer(checkpointer, log, path);
  };
}

}  // namespace ycr::services
