#include "storage/append_validation.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/status_macros.h"

namespace ycr::storage {
namespace {

bool IsStreamChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == ':' || c == '/' || c == '@' || c == '+' || c == '-';
}

bool IsOpaqueTypeChar(char c) {
  return absl::ascii_islower(static_cast<unsigned char>(c)) ||
         absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '_' ||
         c == '.' || c == '-';
}

// Timestamp's valid range: 0001-01-01 to 9999-12-31 (google/protobuf docs).
bool IsValidTimestamp(const google::protobuf::Timestamp& t) {
  return t.seconds() >= -62135596800 && t.seconds() <= 253402300799 &&
         t.nanos() >= 0 && t.nanos() <= 999999999;
}

// The limit of what lists the organisations that keep child-protection
// records about a child: room for max_erase_retaining organisation ids
// (each with a tag and a length of at most 2 bytes, or a separator) on top
// of the client payload limit. Past about 500 ids of 128 bytes such a list
// exceeds 64 KiB, and a refusal there would tell an erasing school, or a
// service raising a concern, how many organisations keep such records (and
// stop the erasure or the concern). The lists are the server's own, never a
// client's: the kept-reviews record an erasure writes
// (child_protection_kept; the EventStore refuses it raw), and the plain
// records its commands write (raw appends write no records), among them
// the subject's child-protection marks. A sealed record (a client's
// personal data) keeps the payload limit.
size_t OrganisationListLimit(const LogLimits& limits) {
  return limits.max_payload_bytes +
         limits.max_erase_retaining * (limits.max_stream_id_bytes + 3);
}

size_t PayloadLimit(const v1::EventPayload& payload, const LogLimits& limits) {
  return payload.has_child_protection_kept() ? OrganisationListLimit(limits)
                                             : limits.max_payload_bytes;
}

size_t RecordLimit(const RecordWrite& record, const LogLimits& limits) {
  return record.seal_subject.empty() ? OrganisationListLimit(limits)
                                     : limits.max_payload_bytes;
}

absl::Status ValidateExpected(const ExpectedVersion& e,
                              absl::string_view field) {
  switch (e.kind) {
    case ExpectedVersion::Kind::kAny:
    case ExpectedVersion::Kind::kNoStream:
    case ExpectedVersion::Kind::kExists:
    case ExpectedVersion::Kind::kExact:
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": unknown kind; use any, no_stream, exists or exact"));
}

}  // namespace

absl::Status ValidateStreamId(absl::string_view stream, size_t max_bytes,
                              absl::string_view field) {
  if (stream.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must not be empty"));
  }
  if (stream.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", stream.size(),
                     " bytes, more than the limit of ", max_bytes));
  }
  for (char c : stream) {
    if (!IsStreamChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": may contain only letters, digits and . _ : / @ + -"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> EventTypeOf(const v1::EventPayload& payload,
                                        absl::string_view field) {
  const auto* descriptor = payload.GetDescriptor();
  const auto* oneof = descriptor->FindOneofByName("kind");
  const auto* set =
      payload.GetReflection()->GetOneofFieldDescriptor(payload, oneof);
  if (set == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": no payload set"));
  }
  if (payload.kind_case() != v1::EventPayload::kOpaque) return set->name();
  const std::string& type = payload.opaque().type();
  if (type.empty() || type.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".opaque.type: must be 1..64 characters"));
  }
  for (char c : type) {
    if (!IsOpaqueTypeChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".opaque.type: may contain only a-z 0-9 _ . -"));
    }
  }
  if (descriptor->FindFieldByName(type) != nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".opaque.type: '", type,
                     "' is a typed payload's name; set that payload instead"));
  }
  return type;
}

absl::Status ValidateAppend(AppendRequest* request, const LogLimits& limits) {
  RETURN_IF_ERROR(
      ValidateStreamId(request->stream, limits.max_stream_id_bytes, "stream"));
  RETURN_IF_ERROR(ValidateExpected(request->expected, "expected"));
  if (request->conditions.size() > limits.max_conditions) {
    return absl::InvalidArgumentError(absl::StrCat(
        "conditions: ", request->conditions.size(),
        " conditions, more than the limit of ", limits.max_conditions));
  }
  for (size_t i = 0; i < request->conditions.size(); ++i) {
    const StreamCondition& c = request->conditions[i];
    std::string field = absl::StrCat("conditions[", i, "]");
    RETURN_IF_ERROR(ValidateStreamId(c.stream, limits.max_stream_id_bytes,
                                     absl::StrCat(field, ".stream")));
    RETURN_IF_ERROR(ValidateExpected(c.expected, field + ".expected"));
    if (c.stream == request->stream) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".stream: is the append's own stream; use expected instead"));
    }
  }
  if (request->record_conditions.size() > limits.max_conditions) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record_conditions: ", request->record_conditions.size(),
        " conditions, more than the limit of ", limits.max_conditions));
  }
  for (size_t i = 0; i < request->record_conditions.size(); ++i) {
    const RecordCondition& c = request->record_conditions[i];
    if (c.key.empty() || c.key.size() > limits.max_stream_id_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("record_conditions[", i, "].key: 1 to ",
                       limits.max_stream_id_bytes, " bytes"));
    }
  }
  if (request->records.size() > limits.max_conditions) {
    return absl::InvalidArgumentError(absl::StrCat(
        "records: ", request->records.size(),
        " records, more than the limit of ", limits.max_conditions));
  }
  for (size_t i = 0; i < request->records.size(); ++i) {
    const RecordWrite& r = request->records[i];
    if (r.key.empty() || r.key.size() > limits.max_stream_id_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "records[", i, "].key: 1 to ", limits.max_stream_id_bytes, " bytes"));
    }
    if (r.value.size() > RecordLimit(r, limits)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "records[", i, "].value: ", r.value.size(),
          " bytes, more than the limit of ", RecordLimit(r, limits)));
    }
    if (r.remove && (!r.value.empty() || !r.seal_subject.empty())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "records[", i, "]: a removal has no value and is not sealed"));
    }
    if (r.seal_subject.size() > limits.max_stream_id_bytes ||
        r.seal_subject.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("records[", i, "].seal_subject: at most ",
                       limits.max_stream_id_bytes, " bytes, without NUL"));
    }
  }
  if (request->erase_subjects.size() > limits.max_conditions) {
    return absl::InvalidArgumentError(absl::StrCat(
        "erase_subjects: more than the limit of ", limits.max_conditions));
  }
  for (const std::string& subject : request->erase_subjects) {
    if (subject.empty() || subject.size() > limits.max_stream_id_bytes ||
        subject.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("erase_subjects: a subject id of 1 to ",
                       limits.max_stream_id_bytes, " bytes, without NUL"));
    }
  }
  // The organisations only: the kept-reviews key's owner goes with them.
  const size_t organisations_kept = static_cast<size_t>(std::count_if(
      request->erase_retaining.begin(), request->erase_retaining.end(),
      [](const std::string& owner) { return owner != kKeptReviewsOwner; }));
  if (organisations_kept > limits.max_erase_retaining) {
    return absl::InvalidArgumentError(
        absl::StrCat("erase_retaining: more than the limit of ",
                     limits.max_erase_retaining));
  }
  for (const std::string& owner : request->erase_retaining) {
    if (owner.empty() || owner.size() > limits.max_stream_id_bytes ||
        owner.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("erase_retaining: an organisation id of 1 to ",
                       limits.max_stream_id_bytes, " bytes, without NUL"));
    }
  }
  if (request->events.empty()) {
    return absl::InvalidArgumentError("events: at least one event is needed");
  }
  if (request->events.size() > limits.max_events_per_append) {
    return absl::InvalidArgumentError(absl::StrCat(
        "events: ", request->events.size(), " events, more than the limit of ",
        limits.max_events_per_append));
  }
  absl::flat_hash_set<std::string> ids;
  for (size_t i = 0; i < request->events.size(); ++i) {
    v1::ProposedEvent& e = request->events[i];
    std::string field = absl::StrCat("events[", i, "]");
    if (!IsUuid(e.event_id())) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".event_id: must be a UUID (8-4-4-4-12 hex digits)"));
    }
    absl::AsciiStrToLower(e.mutable_event_id());
    if (!ids.insert(e.event_id()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".event_id: ", e.event_id(), " appears twice in this append"));
    }
    RETURN_IF_ERROR(EventTypeOf(e.payload(), field + ".payload").status());
    // The personal part is sealed by the log under its subject's key.
    if (e.payload().has_encrypted_personal()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".payload.encrypted_personal: set by the server only"));
    }
    if (e.payload().has_personal()) {
      const std::string& subject = e.payload().personal().subject_id();
      if (subject.empty() || subject.size() > limits.max_stream_id_bytes ||
          subject.find('\0') != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ".payload.personal.subject_id: required (1 to ",
            limits.max_stream_id_bytes,
            " bytes, without NUL): it names the subject whose key seals the "
            "personal part"));
      }
      if (e.payload().personal().erased()) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ".payload.personal.erased: set by the server only"));
      }
    }
    size_t payload_bytes = e.payload().ByteSizeLong();
    if (payload_bytes > PayloadLimit(e.payload(), limits)) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".payload: ", payload_bytes, " bytes, more than the limit of ",
          PayloadLimit(e.payload(), limits)));
    }
    if (e.has_occurred_at() && !IsValidTimestamp(e.occurred_at())) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".occurred_at: out of range"));
    }
    if (e.correlation_id().size() > limits.max_id_bytes ||
        e.causation_id().size() > limits.max_id_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": correlation_id and causation_id are limited to ",
          limits.max_id_bytes, " bytes"));
    }
  }
  return absl::OkStatus();
}

}  // namespace ycr::storage
