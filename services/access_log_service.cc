#include "services/access_log_service.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "domain/field_checks.h"
#include "services/query_services.h"
#include "services/run_query.h"

namespace ycr::services {
namespace {

absl::StatusOr<storage::AccessTimeRange> Range(
    const v1::AccessTimeRange& range) {
  storage::AccessTimeRange out;
  if (range.has_from()) out.from = FromProtoTime(range.from());
  if (range.has_to()) out.to = FromProtoTime(range.to());
  if (out.from >= out.to) {
    return absl::InvalidArgumentError("range: from must be before to");
  }
  return out;
}

// Organisations and users are as ResolveCaller accepts them.
absl::Status ReaderField(const std::string& value, absl::string_view field) {
  bool ok = !value.empty() && value.size() <= 128;
  for (char c : value) ok = ok && absl::ascii_isprint(c);
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": 1..128 printable ASCII characters"));
  }
  return absl::OkStatus();
}

// The parts both listings share: the time range, page size and token, then
// `list(range, start, limit)`'s page into `response`.
template <typename Request, typename List>
absl::Status ListPage(const Request& request, List list,
                      v1::AccessLogPage* response) {
  ASSIGN_OR_RETURN(storage::AccessTimeRange range, Range(request.range()));
  ASSIGN_OR_RETURN(size_t limit, PageSize(request.page_size()));
  ASSIGN_OR_RETURN(std::optional<storage::AccessCursor> start,
                   DecodeAccessPageToken(request.page_token()));
  ASSIGN_OR_RETURN(storage::AccessPage page, list(range, start, limit));
  for (v1::AccessLogEntry& entry : page.entries) {
    *response->add_entries() = std::move(entry);
  }
  if (page.next.has_value()) {
    response->set_next_page_token(EncodeAccessPageToken(*page.next));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeAccessPageToken(const storage::AccessCursor& cursor) {
  return absl::StrCat(cursor.at_micros, ".", cursor.sequence);
}

absl::StatusOr<std::optional<storage::AccessCursor>> DecodeAccessPageToken(
    absl::string_view token) {
  if (token.empty()) return std::optional<storage::AccessCursor>();
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  storage::AccessCursor cursor;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &cursor.at_micros) ||
      !absl::SimpleAtoi(parts[1], &cursor.sequence)) {
    return absl::InvalidArgumentError(
        "page_token: not a next_page_token of this listing");
  }
  return std::optional<storage::AccessCursor>(cursor);
}

grpc::ServerUnaryReactor* AccessLogService::ListBySubject(
    grpc::CallbackServerContext* context,
    const v1::ListAccessBySubjectRequest* request,
    v1::AccessLogPage* response) {
  return RunQuery(
      context, *request, pool_,
      [this, request, response](const v1::Actor&) -> absl::Status {
        RETURN_IF_ERROR(domain::ValidId(request->subject_id(), "subject_id"));
        return ListPage(
            *request,
            [&](const storage::AccessTimeRange& range,
                const std::optional<storage::AccessCursor>& start,
                size_t limit) {
              return store_->ListBySubject(request->subject_id(), range, start,
                                           limit);
            },
            response);
      });
}

grpc::ServerUnaryReactor* AccessLogService::ListByReader(
    grpc::CallbackServerContext* context,
    const v1::ListAccessByReaderRequest* request, v1::AccessLogPage* response) {
  return RunQuery(
      context, *request, pool_,
      [this, request, response](const v1::Actor&) -> absl::Status {
        RETURN_IF_ERROR(
            ReaderField(request->reader_organisation(), "reader_organisation"));
        RETURN_IF_ERROR(ReaderField(request->reader_user(), "reader_user"));
        return ListPage(
            *request,
            [&](const storage::AccessTimeRange& range,
                const std::optional<storage::AccessCursor>& start,
                size_t limit) {
              return store_->ListByReader(request->reader_organisation(),
                                          request->reader_user(), range, start,
                                          limit);
            },
            response);
      });
}

}  // namespace ycr::services
