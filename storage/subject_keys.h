#pragma once

// Subjects' data keys in their own column family (key grammar in
// key_format.h), and the sealing of events' personal parts and of records
// with them. Storage-internal: used by RocksDbEventLog only.
//
// Keys are stored as they are, not wrapped by a master key. Wrapping would
// protect a copy of the store's files taken without the master key, but it
// does nothing for erasure (an older backup plus the master key still opens
// the destroyed key), and a master key kept beside the data (the only
// default a single binary could offer) would add nothing at all. Protecting
// the files at rest is left to the disk (encrypted volumes) until keys can be
// wrapped by a key service outside the machine.
//
// Two kinds of key per subject. The subject's key seals what is recorded
// about them; an organisation's child-protection key for the subject seals
// that organisation's child-protection records about them (SealingOwner):
// every event of a safeguarding concern it raised, a disclosure it made on a
// safeguarding basis, a decision not to share it took within a concern.
// A third, the kept-reviews key (owner kKeptReviewsOwner), seals the review
// date an erasure records for the records it kept (child_protection_kept);
// the erasure keeps it only while it keeps some organisation's key.
// Such records must be kept until the child is 25 (IRMS), by the
// organisation that made them, whoever else asks for erasure; with keys of
// their own, an erasure can destroy everything else and keep exactly them,
// and the holder who asked is answered as for any other child (it must not
// learn that another organisation holds such a record). At its review the
// organisation destroys its own key by the same crypto erasure: an append
// whose erase_retaining names every other organisation's kept key.
//
// Crypto erasure: Erase() deletes the key rows and writes an erased marker in
// the caller's batch; Scrub() then flushes every column family (so no live
// WAL file still holds the key) and compacts the key's range down to the
// last level (so no table file holds it). A crash between the erasure's
// write and its scrub is covered by ScrubOnOpen. What remains, by design,
// outside this store: backups and checkpoints taken before the erasure (they
// hold the key: they must expire on their own schedule), and freed disk
// blocks of deleted files until the filesystem reuses them.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ycr/v1/event.pb.h"

namespace ycr::storage::internal {

// The organisation whose child-protection key seals `payload`'s personal
// part, recorded by `actor`; "" for the subject's own key.
std::string SealingOwner(const v1::EventPayload& payload,
                         const v1::Actor& actor);

// The name a key is kept under: the subject id, or the subject id, 0x00 and
// the owner (ids never contain 0x00).
std::string KeyName(absl::string_view subject, absl::string_view owner);

struct SubjectKey {
  enum class State { kAbsent, kPresent, kErased };
  State state = State::kAbsent;
  std::string key;  // kPresent: kDataKeyBytes
};

// Not thread-safe by itself: reads may run on any thread; the write path
// (KeyForWrite, Erase) belongs to the log's single writer thread.
class SubjectKeys {
 public:
  // `db` and `cf` must outlive this object.
  SubjectKeys(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf)
      : db_(db), cf_(cf) {}

  // The stored state of the key named `name` (KeyName). An absent key of an
  // erased subject is kErased. DATA_LOSS for a malformed row.
  absl::StatusOr<SubjectKey> Read(absl::string_view name) const;

  // Keys decided by one group commit, not yet durable: the batch's view
  // overrides the store's.
  using Pending = absl::flat_hash_map<std::string, SubjectKey>;

  // The key named `name` to seal with: from `pending`, the store, or a new
  // one put into `batch` (and `pending`). FAILED_PRECONDITION for an erased
  // subject (unless `name` is a child-protection key the erasure kept). A
  // key put into `batch` by an append that then fails is harmless: it is
  // simply that key from then on.
  absl::StatusOr<std::string> KeyForWrite(const std::string& name,
                                          Pending* pending,
                                          rocksdb::WriteBatch* batch) const;

  // The names of the keys an erasure of `subject` destroys: the subject's
  // own and every organisation's child-protection key but those of
  // `retain_owners` (stored or in `pending`).
  absl::StatusOr<std::vector<std::string>> KeysToErase(
      const std::string& subject, const std::vector<std::string>& retain_owners,
      const Pending& pending) const;

  // Destroys the keys `names` (KeysToErase) in `batch` and marks `subject`
  // erased by the event at `position`.
  void Erase(const std::string& subject, const std::vector<std::string>& names,
             uint64_t position, Pending* pending,
             rocksdb::WriteBatch* batch) const;

  // After an erasure is durable: flushes `all` column families and compacts
  // the subject's key rows (all of its keys) out of the table files.
  // Blocking.
  absl::Status Scrub(const std::vector<rocksdb::ColumnFamilyHandle*>& all,
                     absl::string_view subject) const;

  // On open: when any subject was ever erased, flushes `all` and compacts
  // the whole range of key rows, so a key whose erasure was written but not
  // scrubbed (a crash in between) leaves the files too. Costs one compaction
  // of the key rows (about 40 bytes a subject) per open. Blocking.
  absl::Status ScrubOnOpen(
      const std::vector<rocksdb::ColumnFamilyHandle*>& all) const;

  // Seals event->payload.personal into payload.encrypted_personal (and
  // clears personal) with `key`. `event_id` is the event's id.
  static absl::Status SealEvent(absl::string_view key,
                                absl::string_view event_id,
                                v1::EventPayload* payload);

  // RevealPersonal of EventLog, reading keys from the store (the key
  // SealingOwner names for the event as recorded).
  absl::Status Reveal(v1::RecordedEvent* event) const;

 private:
  rocksdb::DB* const db_;
  rocksdb::ColumnFamilyHandle* const cf_;
};

// Compacts [key, key + 0x00] of `cf` to the last level, so a deleted row's
// bytes leave the table files. Blocking.
absl::Status CompactKey(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                        const std::string& key);
// Compacts [begin, end) of `cf` to the last level. Blocking.
absl::Status CompactRange(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                          const std::string& begin, const std::string& end);

}  // namespace ycr::storage::internal
