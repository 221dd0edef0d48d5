#pragma once

// The one place that owns every key and value layout of the RocksDB store.
//
// Every key starts with a one-byte prefix (KeyPrefix); integers are unsigned
// 64-bit big-endian so that RocksDB's bytewise order is numeric order, which
// makes iteration order log order.
//
//   column family  key                                      value
//   default        kFormatVersion                           u32 format version
//   default        kReplicationCheckpoint                   the replication
//                                                           layer's checkpoint
//                  (replicated mode only, written with every applied entry;
//                  bytes the store does not interpret; absent on a single
//                  node's store, so that store's bytes are unchanged)
//   log            kLogRecord position                      hash[32] record
//   tree           kTreeHash index                          hash[32]
//                  (the log's Merkle tree: stored hash `index` in
//                  tlog::StoredHashIndex's numbering; written with the
//                  record that completes it, never changed)
//   streams        kStreamIndex stream-id 0x00 version      position
//   event_ids      kEventId uuid[16]                        position version
//                                                           digest[32]
//   projections    kProjectionState name 0x00 generation key  state value
//   checkpoints    kCheckpoint name 0x00 generation        position
//                                                          code_version(u32)
//                  kActiveGeneration name                  generation (u32)
//   records        kRecord key                              value
//                  (the record store: see RecordWrite)
//   default        kAccessLogState                          u32 access-log
//                                                           format version
//                                                           u64 next sequence
//                  kAccessLogReplicated                     i64 etcd revision
//                  (a cluster node's: the last access batch it applied from
//                  etcd, replication/replicated_access_log.h)
//   access_by_subject
//                  kAccessBySubject subject 0x00 at seq      AccessLogEntry
//   access_by_reader
//                  kAccessByReader org 0x00 user 0x00 at seq AccessLogEntry
//
// The access log (who read which subject's personal data): `at` is the
// read's server time in microseconds since the Unix epoch (u64; earlier
// times are 0), `seq` a u64 unique across the store (kAccessLogState keeps
// the next one), so that one subject's, or one reader's, entries are one
// range in time order. Both column families hold the whole entry (canonical
// bytes of a ycr.v1.AccessLogEntry): either question is one range scan.
// Subject ids, organisations and users never contain 0x00 (validation
// allows printable ASCII only).
//                  kSealedRecord key                        EncryptedPersonal
//                  (a record sealed under a subject's key, RecordWrite::
//                  seal_subject; ciphertext = the value sealed)
//   subject_keys   kSubjectKey subject-id                   key_version(u32)
//                                                           key[32]
//                  kSubjectKey subject-id 0x00 organisation key_version(u32)
//                                                           key[32]
//                  (an organisation's child-protection key for the subject:
//                  subject_keys.h)
//                  kSubjectErased subject-id                position(u64) of
//                                                           the erasure event
//
// Subject keys have a column family of their own so that destroying one
// (crypto erasure) is a delete and a compaction of one small range, away
// from the log's large files.
//
// `record` is the canonical bytes of a ycr.v1.RecordedEvent (see
// record_codec.h). Stream ids never contain 0x00 (validation forbids it), so
// the terminator keeps one stream's versions contiguous and in order.
// `digest` is the content digest used for idempotent retries.
//
// kFormatVersion is written when a store is created. A build refuses to open a
// store whose format version it does not know.
//
// Versions: 1, free text about a person (reasons, outcomes, topics, ...) in
// plain event fields; 2, every such text only in the sealed personal part
// (proto/ycr/v1/classification.proto); 3, child-protection records sealed
// under their organisation's key for the subject, not the subject's; 4,
// concern ids and confidential sharing journals scoped to their
// organisation (streams "safeguarding-<org token>/<id>",
// "sharing-<subject>/<org token>"); 5, the log's RFC 6962 Merkle tree
// (column family tree) written with every record; 6, every event carrying
// a disclosure on a safeguarding basis sealed under its organisation's
// child-protection key; 7, 16 random bytes in every record
// (RecordedEvent.salt), so no record's hash can be tested against guesses
// of its hidden fields. Older stores are refused, not migrated: none is in
// service.
//
// The tree has a column family of its own: its keys are dense and written
// in order, read by point lookups (proofs, tiles), and kept out of the log
// family, whose last key is the head and whose scans are the log's reads.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace ycr::storage {

inline constexpr uint32_t kStoreFormatVersion = 7;

// What format `version` changed from the one before it, in words (for the
// message that refuses an older store).
absl::string_view FormatChange(uint32_t version);

// Sorted: new prefixes take new values, never reuse old ones.
enum class KeyPrefix : uint8_t {
  kFormatVersion = 0x01,
  kReplicationCheckpoint = 0x02,
  kLogRecord = 0x10,
  kTreeHash = 0x11,
  kStreamIndex = 0x20,
  kEventId = 0x30,
  kProjectionState = 0x40,
  kCheckpoint = 0x50,
  kActiveGeneration = 0x51,
  kRecord = 0x60,
  kAccessBySubject = 0x70,
  kAccessByReader = 0x71,
  kAccessLogState = 0x72,
  kAccessLogReplicated = 0x73,
  kSealedRecord = 0x61,
  kSubjectKey = 0x80,
  kSubjectErased = 0x81,
};

// The access log's own format (its keys and values), kept beside the next
// sequence number in kAccessLogState.
inline constexpr uint32_t kAccessLogFormatVersion = 1;

inline constexpr char kLogColumnFamily[] = "log";
inline constexpr char kStreamsColumnFamily[] = "streams";
inline constexpr char kEventIdsColumnFamily[] = "event_ids";
inline constexpr char kProjectionsColumnFamily[] = "projections";
inline constexpr char kCheckpointsColumnFamily[] = "checkpoints";
inline constexpr char kRecordsColumnFamily[] = "records";
inline constexpr char kAccessBySubjectColumnFamily[] = "access_by_subject";
inline constexpr char kAccessByReaderColumnFamily[] = "access_by_reader";
inline constexpr char kSubjectKeysColumnFamily[] = "subject_keys";
inline constexpr char kTreeColumnFamily[] = "tree";

inline constexpr size_t kHashBytes = 32;

void PutBigEndian64(std::string* out, uint64_t v);
void PutBigEndian32(std::string* out, uint32_t v);
// Requires at least 8 (resp. 4) bytes at `p`.
uint64_t GetBigEndian64(const char* p);
uint32_t GetBigEndian32(const char* p);

std::string FormatVersionKey();
std::string EncodeFormatVersion(uint32_t version);
std::optional<uint32_t> DecodeFormatVersion(absl::string_view value);
std::string ReplicationCheckpointKey();

std::string LogKey(uint64_t position);
// kTreeHash index (index >= 0).
std::string TreeHashKey(int64_t index);
// nullopt when `key` is not a well-formed tree hash key.
std::optional<int64_t> DecodeTreeHashKey(absl::string_view key);
std::string RecordKey(absl::string_view key);
std::string SealedRecordKey(absl::string_view key);
std::string SubjectKeyKey(absl::string_view subject_id);
std::string SubjectErasedKey(absl::string_view subject_id);

// Projection names are [a-z0-9_], 1..32 characters (no 0x00).
bool IsProjectionName(absl::string_view name);
// kProjectionState name 0x00 generation (the prefix of one generation's
// state keys; append the projection's key).
std::string ProjectionStatePrefix(absl::string_view name, uint32_t generation);
std::string ProjectionCheckpointKey(absl::string_view name,
                                    uint32_t generation);
std::string ActiveGenerationKey(absl::string_view name);
// nullopt when `key` is not a well-formed log key.
std::optional<uint64_t> DecodeLogKey(absl::string_view key);

std::string StreamKey(absl::string_view stream, uint64_t version);
// The first key after every key of `stream` (for bounded iteration).
std::string StreamKeyEnd(absl::string_view stream);
struct StreamKeyParts {
  std::string stream;
  uint64_t version;
};
std::optional<StreamKeyParts> DecodeStreamKey(absl::string_view key);
std::string EncodePosition(uint64_t position);
std::optional<uint64_t> DecodePosition(absl::string_view value);

// `uuid` must satisfy IsUuid(); either case gives the same key.
std::string EventIdKey(absl::string_view uuid);
struct EventIdEntry {
  uint64_t position;
  uint64_t stream_version;
  std::string digest;  // kHashBytes bytes
};
std::string EncodeEventIdEntry(const EventIdEntry& entry);
std::optional<EventIdEntry> DecodeEventIdEntry(absl::string_view value);

// The access log (see the grammar above). `at_micros` and `sequence` order
// entries within one subject's, or one reader's, range.
std::string AccessLogStateKey();
std::string EncodeAccessLogState(uint32_t format_version,
                                 uint64_t next_sequence);
struct AccessLogState {
  uint32_t format_version;
  uint64_t next_sequence;
};
std::optional<AccessLogState> DecodeAccessLogState(absl::string_view value);
// A cluster node's mark: the etcd revision of the last access batch it
// applied (u64, big-endian).
std::string AccessLogReplicatedKey();
// kAccessBySubject subject 0x00: the prefix of every key of `subject`.
std::string AccessBySubjectPrefix(absl::string_view subject);
// kAccessByReader organisation 0x00 user 0x00.
std::string AccessByReaderPrefix(absl::string_view organisation,
                                 absl::string_view user);
// `prefix` (one of the two above) then at_micros and sequence, big-endian.
std::string AccessKey(absl::string_view prefix, uint64_t at_micros,
                      uint64_t sequence);
// The first key after every key starting with `prefix` (whose last byte is
// the 0x00 terminator).
std::string AccessPrefixEnd(absl::string_view prefix);
struct AccessKeySuffix {
  uint64_t at_micros;
  uint64_t sequence;
};
// The time and sequence at the end of an access key; nullopt when `key` is
// shorter than a prefix byte, a terminator and 16 bytes.
std::optional<AccessKeySuffix> DecodeAccessKeySuffix(absl::string_view key);

}  // namespace ycr::storage
