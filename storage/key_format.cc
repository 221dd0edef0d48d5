#include "storage/key_format.h"

#include "absl/strings/ascii.h"

namespace ycr::storage {
namespace {

char Prefix(KeyPrefix p) { return static_cast<char>(p); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  return absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10;
}

}  // namespace

void PutBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

void PutBigEndian32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

uint64_t GetBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

uint32_t GetBigEndian32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string ReplicationCheckpointKey() {
  return std::string(1, Prefix(KeyPrefix::kReplicationCheckpoint));
}

std::string FormatVersionKey() {
  return std::string(1, Prefix(KeyPrefix::kFormatVersion));
}

absl::string_view FormatChange(uint32_t version) {
  switch (version) {
    case 2:
      return "format 2 moved free text about people into the sealed personal "
             "part; format 1 kept it outside, where erasure cannot reach it";
    case 3:
      return "format 3 seals child-protection records under their "
             "organisation's key for the subject";
    case 4:
      return "format 4 scopes concern ids and confidential sharing journals "
             "to their organisation";
    case 5:
      return "format 5 stores the log's Merkle tree (RFC 6962) beside every "
             "record, for checkpoints and proofs; an older store has none";
    case 6:
      return "format 6 seals every event carrying a disclosure on a "
             "safeguarding basis (a referral moved without consent) under "
             "its organisation's child-protection key";
    case 7:
      return "format 7 adds random bytes to every record, so a record's hash "
             "cannot be tested against guesses of the fields a reader does "
             "not see";
    default:
      return "a later format";
  }
}

std::string EncodeFormatVersion(uint32_t version) {
  std::string out;
  PutBigEndian32(&out, version);
  return out;
}

std::optional<uint32_t> DecodeFormatVersion(absl::string_view value) {
  if (value.size() != 4) return std::nullopt;
  return GetBigEndian32(value.data());
}

std::string LogKey(uint64_t position) {
  std::string key(1, Prefix(KeyPrefix::kLogRecord));
  PutBigEndian64(&key, position);
  return key;
}

std::string TreeHashKey(int64_t index) {
  std::string key(1, Prefix(KeyPrefix::kTreeHash));
  PutBigEndian64(&key, static_cast<uint64_t>(index));
  return key;
}

std::optional<int64_t> DecodeTreeHashKey(absl::string_view key) {
  if (key.size() != 9 || key[0] != Prefix(KeyPrefix::kTreeHash)) {
    return std::nullopt;
  }
  const uint64_t index = GetBigEndian64(key.data() + 1);
  if (index > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<int64_t>(index);
}

namespace {

std::string Prefixed(KeyPrefix prefix, absl::string_view rest) {
  std::string out(1, Prefix(prefix));
  out.append(rest.data(), rest.size());
  return out;
}

}  // namespace

std::string RecordKey(absl::string_view key) {
  return Prefixed(KeyPrefix::kRecord, key);
}

std::string SealedRecordKey(absl::string_view key) {
  return Prefixed(KeyPrefix::kSealedRecord, key);
}

std::string SubjectKeyKey(absl::string_view subject_id) {
  return Prefixed(KeyPrefix::kSubjectKey, subject_id);
}

std::string SubjectErasedKey(absl::string_view subject_id) {
  return Prefixed(KeyPrefix::kSubjectErased, subject_id);
}

bool IsProjectionName(absl::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

std::string ProjectionStatePrefix(absl::string_view name, uint32_t generation) {
  std::string key(1, Prefix(KeyPrefix::kProjectionState));
  key.append(name.data(), name.size());
  key.push_back('\0');
  PutBigEndian32(&key, generation);
  return key;
}

std::string ProjectionCheckpointKey(absl::string_view name,
                                    uint32_t generation) {
  std::string key(1, Prefix(KeyPrefix::kCheckpoint));
  key.append(name.data(), name.size());
  key.push_back('\0');
  PutBigEndian32(&key, generation);
  return key;
}

std::string ActiveGenerationKey(absl::string_view name) {
  std::string key(1, Prefix(KeyPrefix::kActiveGeneration));
  key.append(name.data(), name.size());
  return key;
}

std::optional<uint64_t> DecodeLogKey(absl::string_view key) {
  if (key.size() != 9 || key[0] != Prefix(KeyPrefix::kLogRecord)) {
    return std::nullopt;
  }
  return GetBigEndian64(key.data() + 1);
}

std::string StreamKey(absl::string_view stream, uint64_t version) {
  std::string key(1, Prefix(KeyPrefix::kStreamIndex));
  key.append(stream.data(), stream.size());
  key.push_back('\0');
  PutBigEndian64(&key, version);
  return key;
}

std::string StreamKeyEnd(absl::string_view stream) {
  std::string key(1, Prefix(KeyPrefix::kStreamIndex));
  key.append(stream.data(), stream.size());
  key.push_back('\1');
  return key;
}

std::optional<StreamKeyParts> DecodeStreamKey(absl::string_view key) {
  if (key.size() < 1 + 1 + 8 || key[0] != Prefix(KeyPrefix::kStreamIndex) ||
      key[key.size() - 9] != '\0') {
    return std::nullopt;
  }
  return StreamKeyParts{std::string(key.substr(1, key.size() - 10)),
                        GetBigEndian64(key.data() + key.size() - 8)};
}

std::string EncodePosition(uint64_t position) {
  std::string out;
  PutBigEndian64(&out, position);
  return out;
}

std::optional<uint64_t> DecodePosition(absl::string_view value) {
  if (value.size() != 8) return std::nullopt;
  return GetBigEndian64(value.data());
}

std::string EventIdKey(absl::string_view uuid) {
  std::string key(1, Prefix(KeyPrefix::kEventId));
  int high = -1;
  for (char c : uuid) {
    if (c == '-') continue;
    if (high < 0) {
      high = HexValue(c);
    } else {
      key.push_back(static_cast<char>((high << 4) | HexValue(c)));
      high = -1;
    }
  }
  return key;
}

std::string EncodeEventIdEntry(const EventIdEntry& entry) {
  std::string out;
  PutBigEndian64(&out, entry.position);
  PutBigEndian64(&out, entry.stream_version);
  out.append(entry.digest);
  return out;
}

std::optional<EventIdEntry> DecodeEventIdEntry(absl::string_view value) {
  if (value.size() != 16 + kHashBytes) return std::nullopt;
  return EventIdEntry{GetBigEndian64(value.data()),
                      GetBigEndian64(value.data() + 8),
                      std::string(value.substr(16))};
}

std::string AccessLogStateKey() {
  return std::string(1, Prefix(KeyPrefix::kAccessLogState));
}

std::string AccessLogReplicatedKey() {
  return std::string(1, Prefix(KeyPrefix::kAccessLogReplicated));
}

std::string EncodeAccessLogState(uint32_t format_version,
                                 uint64_t next_sequence) {
  std::string out;
  PutBigEndian32(&out, format_version);
  PutBigEndian64(&out, next_sequence);
  return out;
}

std::optional<AccessLogState> DecodeAccessLogState(absl::string_view value) {
  if (value.size() != 12) return std::nullopt;
  return AccessLogState{GetBigEndian32(value.data()),
                        GetBigEndian64(value.data() + 4)};
}

std::string AccessBySubjectPrefix(absl::string_view subject) {
  std::string key(1, Prefix(KeyPrefix::kAccessBySubject));
  key.append(subject.data(), subject.size());
  key.push_back('\0');
  return key;
}

std::string AccessByReaderPrefix(absl::string_view organisation,
                                 absl::string_view user) {
  std::string key(1, Prefix(KeyPrefix::kAccessByReader));
  key.append(organisation.data(), organisation.size());
  key.push_back('\0');
  key.append(user.data(), user.size());
  key.push_back('\0');
  return key;
}

std::string AccessKey(absl::string_view prefix, uint64_t at_micros,
                      uint64_t sequence) {
  std::string key(prefix);
  PutBigEndian64(&key, at_micros);
  PutBigEndian64(&key, sequence);
  return key;
}

std::string AccessPrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  end.back() = '\1';
  return end;
}

std::optional<AccessKeySuffix> DecodeAccessKeySuffix(absl::string_view key) {
  if (key.size() < 2 + 16) return std::nullopt;
  const char* p = key.data() + key.size() - 16;
  return AccessKeySuffix{GetBigEndian64(p), GetBigEndian64(p + 8)};
}

}  // namespace ycr::storage
