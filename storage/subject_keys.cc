#include "storage/subject_keys.h"

#include <algorithm>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/carried_disclosure.h"
#include "common/status_macros.h"
#include "storage/event_log.h"
#include "storage/key_format.h"
#include "storage/personal_crypto.h"
#include "storage/rocksdb_internal.h"

namespace ycr::storage::internal {
namespace {

std::string EncodeKey(absl::string_view key) {
  std::string out;
  PutBigEndian32(&out, kDataKeyVersion);
  out.append(key.data(), key.size());
  return out;
}

absl::string_view SubjectOf(absl::string_view name) {
  return name.substr(0, name.find('\0'));
}

}  // namespace

std::string SealingOwner(const v1::EventPayload& payload,
                         const v1::Actor& actor) {
  switch (payload.kind_case()) {
    case v1::EventPayload::kConcernRaised:
    case v1::EventPayload::kDslNotified:
    case v1::EventPayload::kSocialCareReferralMade:
    case v1::EventPayload::kConcernClosed:
      return actor.organisation();
    case v1::EventPayload::kChildProtectionKept:
      // Written by the erasure (its actor is the erasing holder). A store's
      // older form, for one keeping organisation, sealed its review date
      // under that organisation's key; the one event per erasure seals it
      // under the kept-reviews key.
      return payload.child_protection_kept().organisation().empty()
                 ? kKeptReviewsOwner
                 : payload.child_protection_kept().organisation();
    case v1::EventPayload::kSharingDeclined:
      return payload.sharing_declined().concern_id().empty()
                 ? ""
                 : actor.organisation();
    default: {
      // A disclosure on a safeguarding basis, recorded or carried (a
      // referral moved without consent, say; format 6), is the recording
      // organisation's child-protection record.
      const v1::DisclosureRecorded* d = CarriedDisclosure(payload);
      return d != nullptr && d->has_safeguarding() ? actor.organisation() : "";
    }
  }
}

std::string KeyName(absl::string_view subject, absl::string_view owner) {
  if (owner.empty()) return std::string(subject);
  return absl::StrCat(subject, absl::string_view("\0", 1), owner);
}

absl::StatusOr<SubjectKey> SubjectKeys::Read(absl::string_view name) const {
  const absl::string_view subject = SubjectOf(name);
  SubjectKey out;
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf_, SubjectKeyKey(name), &value);
  if (s.ok()) {
    if (value.size() != 4 + kDataKeyBytes ||
        GetBigEndian32(value.data()) != kDataKeyVersion) {
      return absl::DataLossError(
          absl::StrCat("a data key of subject ", subject, " is malformed"));
    }
    out.state = SubjectKey::State::kPresent;
    out.key = value.substr(4);
    return out;
  }
  if (!s.IsNotFound()) return FromRocks(s, "cannot read subject keys");
  s = db_->Get(rocksdb::ReadOptions(), cf_, SubjectErasedKey(subject), &value);
  if (s.ok()) {
    out.state = SubjectKey::State::kErased;
    return out;
  }
  if (!s.IsNotFound()) return FromRocks(s, "cannot read subject keys");
  return out;
}

absl::StatusOr<std::string> SubjectKeys::KeyForWrite(
    const std::string& name, Pending* pending,
    rocksdb::WriteBatch* batch) const {
  auto it = pending->find(name);
  if (it == pending->end()) {
    ASSIGN_OR_RETURN(SubjectKey stored, Read(name));
    // An erasure earlier in this commit: it is not in the store yet.
    auto subject = pending->find(std::string(SubjectOf(name)));
    if (stored.state == SubjectKey::State::kAbsent &&
        subject != pending->end() &&
        subject->second.state == SubjectKey::State::kErased) {
      stored.state = SubjectKey::State::kErased;
    }
    it = pending->emplace(name, std::move(stored)).first;
  }
  SubjectKey& k = it->second;
  switch (k.state) {
    case SubjectKey::State::kPresent:
      return k.key;
    case SubjectKey::State::kErased:
      return absl::FailedPreconditionError(absl::StrCat(
          "erasure rule: subject ", SubjectOf(name),
          " was erased; no personal data about them can be written"));
    case SubjectKey::State::kAbsent:
      break;
  }
  ASSIGN_OR_RETURN(k.key, NewDataKey());
  k.state = SubjectKey::State::kPresent;
  batch->Put(cf_, SubjectKeyKey(name), EncodeKey(k.key));
  return k.key;
}

absl::StatusOr<std::vector<std::string>> SubjectKeys::KeysToErase(
    const std::string& subject, const std::vector<std::string>& retain_owners,
    const Pending& pending) const {
  std::vector<std::string> names = {subject};
  const std::string owned = KeyName(subject, "") + std::string(1, '\0');
  auto keep = [&](absl::string_view name) {
    const absl::string_view owner = name.substr(owned.size());
    for (const std::string& r : retain_owners) {
      if (r == owner) return true;
    }
    return false;
  };
  const std::string prefix = SubjectKeyKey(owned);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), cf_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    const std::string name =
        it->key().ToString().substr(prefix.size() - owned.size());
    if (!keep(name)) names.push_back(name);
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "cannot read subject keys"));
  for (const auto& [name, key] : pending) {
    if (absl::StartsWith(name, owned) &&
        key.state == SubjectKey::State::kPresent && !keep(name) &&
        std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  }
  return names;
}

void SubjectKeys::Erase(const std::string& subject,
                        const std::vector<std::string>& names,
                        uint64_t position, Pending* pending,
                        rocksdb::WriteBatch* batch) const {
  for (const std::string& name : names) {
    batch->Delete(cf_, SubjectKeyKey(name));
    (*pending)[name] = SubjectKey{SubjectKey::State::kErased, ""};
  }
  batch->Put(cf_, SubjectErasedKey(subject), EncodePosition(position));
  (*pending)[subject] = SubjectKey{SubjectKey::State::kErased, ""};
}

absl::Status SubjectKeys::Scrub(
    const std::vector<rocksdb::ColumnFamilyHandle*>& all,
    absl::string_view subject) const {
  // Flushing every family lets RocksDB drop the WAL files that logged the
  // key's creation; the compaction drops the key row from the table files.
  RETURN_IF_ERROR(FromRocks(db_->Flush(rocksdb::FlushOptions(), all),
                            "cannot flush after an erasure"));
  // The subject's own key row and its organisations' (subject 0x00 owner).
  const std::string first = SubjectKeyKey(subject);
  return CompactRange(db_, cf_, first, first + std::string(1, '\x01'));
}

absl::Status SubjectKeys::ScrubOnOpen(
    const std::vector<rocksdb::ColumnFamilyHandle*>& all) const {
  const std::string erased = SubjectErasedKey("");
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), cf_));
  it->Seek(erased);
  RETURN_IF_ERROR(FromRocks(it->status(), "cannot read subject keys"));
  const bool any = it->Valid() && it->key().starts_with(erased);
  it.reset();
  if (!any) return absl::OkStatus();
  RETURN_IF_ERROR(FromRocks(db_->Flush(rocksdb::FlushOptions(), all),
                            "cannot flush after an erasure"));
  // Every key row: [kSubjectKey, kSubjectErased).
  return CompactRange(db_, cf_, SubjectKeyKey(""), erased);
}

absl::Status CompactKey(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                        const std::string& key) {
  return CompactRange(db, cf, key, key + std::string(1, '\0'));
}

absl::Status CompactRange(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                          const std::string& begin, const std::string& end) {
  rocksdb::Slice begin_slice(begin);
  rocksdb::Slice end_slice(end);
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction =
      rocksdb::BottommostLevelCompaction::kForce;
  return FromRocks(db->CompactRange(options, cf, &begin_slice, &end_slice),
                   "cannot compact after an erasure");
}

absl::Status SubjectKeys::SealEvent(absl::string_view key,
                                    absl::string_view event_id,
                                    v1::EventPayload* payload) {
  ASSIGN_OR_RETURN(*payload->mutable_encrypted_personal(),
                   SealPersonal(key, event_id, payload->personal()));
  payload->clear_personal();
  return absl::OkStatus();
}

absl::Status SubjectKeys::Reveal(v1::RecordedEvent* event) const {
  if (!event->payload().has_encrypted_personal()) return absl::OkStatus();
  const v1::EncryptedPersonal& sealed = event->payload().encrypted_personal();
  ASSIGN_OR_RETURN(
      SubjectKey k,
      Read(KeyName(sealed.subject_id(),
                   SealingOwner(event->payload(), event->actor()))));
  v1::PersonalData* personal = event->mutable_payload()->mutable_personal();
  switch (k.state) {
    case SubjectKey::State::kErased:
      personal->Clear();
      personal->set_subject_id(sealed.subject_id());
      personal->set_erased(true);
      return absl::OkStatus();
    case SubjectKey::State::kAbsent:
      event->mutable_payload()->clear_personal();
      return absl::DataLossError(absl::StrCat(
          "position ", event->position(), ": the key of subject ",
          sealed.subject_id(), " is missing, and it was never erased"));
    case SubjectKey::State::kPresent:
      break;
  }
  absl::StatusOr<v1::PersonalData> opened =
      UnsealPersonal(k.key, event->event_id(), sealed);
  if (!opened.ok()) {
    event->mutable_payload()->clear_personal();
    return absl::DataLossError(absl::StrCat("position ", event->position(),
                                            ": ", opened.status().message()));
  }
  *personal = *std::move(opened);
  return absl::OkStatus();
}

}  // namespace ycr::storage::internal
