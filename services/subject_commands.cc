// The commands on a subject and its referrals (domain_commands.h): putting
// the subject's record (its personal part sealed, decided fields cleared when
// the subject changes hands), identifying a young carer, and a referral's
// transitions.

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/error_details.h"
#include "common/ids.h"
#include "common/proto_bytes.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "domain/field_checks.h"
#include "domain/refusals.h"
#include "domain/sharing_rules.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "services/domain_commands.h"
#include "services/domain_commands_internal.h"
#include "services/security/access_policy.h"
#include "storage/record_codec.h"

namespace ycr::services {
namespace {

using internal::ApplyReferral;

// Referrals of one young carer to one service listed in its mark.
constexpr size_t kMaxMarkedReferrals = 64;

// SHA-256(salt || the record as the caller sent it, without what the server
// sets).
std::string RecordDigest(const std::string& salt, v1::SubjectRecord record) {
  record.clear_holder();
  record.clear_revision();
  record.clear_updated_at();
  return storage::Sha256(salt, DeterministicBytes(record));
}

}  // namespace

absl::StatusOr<storage::AppendResult> DomainCommands::RecordReferral(
    const v1::Actor& caller, const std::string& request_id,
    const std::string& referral_id, v1::EventPayload event,
    std::optional<uint64_t> expected_version) {
  if (event.has_referral_submitted() &&
      event.referral_submitted().referral_id() != referral_id) {
    return absl::InvalidArgumentError(
        "submit.referral_id: differs from referral_id");
  }
  Target target{"referral", referral_id, event.has_referral_submitted(), false,
                expected_version};
  return Execute<domain::ReferralView>(
      caller, request_id, target, std::move(event), ApplyReferral,
      [&](const domain::ReferralView& view, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        RETURN_IF_ERROR(domain::CheckReferralTransition(view, *e, caller));
        std::string subject = view.subject_id;
        if (e->has_referral_submitted()) {
          subject = e->referral_submitted().subject_id();
          RETURN_IF_ERROR(domain::ValidId(subject, "submit.subject_id"));
        }
        RETURN_IF_ERROR(domain::ValidateReferralDisclosure(view, *e, caller));
        if (e->has_referral_submitted()) {
          RETURN_IF_ERROR(attempt.RequireSubject(subject, caller));
          RETURN_IF_ERROR(attempt.CoverDisclosure(
              e->mutable_referral_submitted()->mutable_disclosure(), caller));
          // The service now has a part in the young carer: the mark lists
          // the referrals of the young carer to it (up to
          // kMaxMarkedReferrals; any one not in error will do).
          const std::string key =
              SubjectServiceKey(subject, e->referral_submitted().service());
          ASSIGN_OR_RETURN(std::optional<std::string> earlier,
                           log_->GetRecord(key));
          // Read-modify-write: a concurrent submission for the same young
          // carer and service changes it, and this one is decided again
          // rather than losing the other's referral.
          attempt.DependOnRecord(key, earlier);
          std::vector<std::string> ids;
          if (earlier.has_value()) ids = absl::StrSplit(*earlier, ',');
          if (ids.size() < kMaxMarkedReferrals) {
            ids.push_back(referral_id);
            attempt.records().push_back({key, absl::StrJoin(ids, ",")});
          }
        }
        if (e->has_referral_transferred()) {
          RETURN_IF_ERROR(attempt.CoverDisclosure(
              e->mutable_referral_transferred()->mutable_disclosure(), caller));
          // On a safeguarding basis it is the school's child-protection
          // record, kept as its disclosures on that basis are.
          if (e->referral_transferred().disclosure().has_safeguarding()) {
            RETURN_IF_ERROR(
                attempt.MarkChildProtection(subject, caller.organisation()));
          }
        }
        attempt.set_personal_subject(subject);
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::PutSubjectRecord(
    const v1::Actor& caller, const std::string& request_id,
    v1::SubjectRecord record, std::optional<uint64_t> expected_revision) {
  // A reused request id: the record must be the one first sent with it.
  if (IsUuid(request_id)) {
    ASSIGN_OR_RETURN(
        std::optional<uint64_t> position,
        log_->LookupEventId(CommandEventId(caller.organisation(), request_id)));
    if (position.has_value()) {
      ASSIGN_OR_RETURN(storage::LogSlice slice,
                       log_->ReadAll(*position, 1, storage::LogFilter()));
      ASSIGN_OR_RETURN(std::optional<std::string> salt,
                       log_->GetRecord(SubjectSaltKey(record.subject_id())));
      if (!slice.events.empty() &&
          slice.events[0].payload().has_subject_record_changed() &&
          salt.has_value() &&
          slice.events[0].payload().subject_record_changed().request_digest() !=
              RecordDigest(*salt, record)) {
        return WithReason(
            absl::AlreadyExistsError(absl::StrCat(
                "request_id ", request_id,
                " was already used by the caller's organisation for a "
                "different record; send a new request id for a new command")),
            reason::kRequestIdReused);
      }
    }
  }
  v1::EventPayload event;
  event.mutable_subject_record_changed()->set_subject_id(record.subject_id());
  Target target{"subject", record.subject_id(), true, false, std::nullopt};
  return Execute<domain::SubjectView>(
      caller, request_id, target, std::move(event), domain::ApplySubjectEvent,
      [&](const domain::SubjectView& view, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        RETURN_IF_ERROR(domain::ValidateSubjectRecord(record, attempt.now()));
        ASSIGN_OR_RETURN(std::optional<v1::SubjectRecord> current,
                         LoadSubjectRecord(record.subject_id()));
        const v1::SubjectRecord* before =
            current.has_value() ? &*current : nullptr;
        RETURN_IF_ERROR(domain::CheckSubjectRecordPut(before, caller));
        if (view.erased) {
          return domain::SubjectErased(
              record.subject_id(),
              absl::StrCat("erasure rule: subject ", record.subject_id(),
                           " was erased; its record cannot be written again"));
        }
        const uint64_t revision = before != nullptr ? before->revision() : 0;
        if (expected_revision.has_value() && *expected_revision != revision) {
          return WithReason(
              absl::AbortedError(absl::StrCat(
                  "subject ", record.subject_id(), " record is at revision ",
                  revision, ", expected ", *expected_revision,
                  "; read it again and retry")),
              reason::kVersionConflict);
        }
        v1::SubjectRecord stored = record;
        stored.set_holder(before != nullptr ? before->holder()
                                            : caller.organisation());
        // The subject stream's version once this event is appended.
        stored.set_revision(view.version + 1);
        *stored.mutable_updated_at() = ToProtoTime(attempt.now());
        ASSIGN_OR_RETURN(std::optional<std::string> salt,
                         log_->GetRecord(SubjectSaltKey(record.subject_id())));
        if (!salt.has_value()) {
          salt = RandomBytes(32);
          // Sealed under the subject's key, like the record: with the
          // request digest (in the log) the salt tests guesses of the
          // record, so it travels (etcd) and rests only as ciphertext, and
          // goes with the key. A store's earlier plain salt still reads.
          attempt.records().push_back({SubjectSaltKey(record.subject_id()),
                                       *salt, record.subject_id()});
        }
        auto* changed = e->mutable_subject_record_changed();
        changed->set_request_digest(RecordDigest(*salt, record));
        changed->set_holder(stored.holder());
        for (std::string& part : domain::ChangedParts(before, record)) {
          changed->add_changed(std::move(part));
        }
        // The skeleton in plain, the personal fields sealed under the
        // subject's key.
        domain::SplitRecord split = domain::SplitSubjectRecord(stored);
        attempt.records().push_back({SubjectRecordKey(record.subject_id()),
                                     split.skeleton.SerializeAsString()});
        attempt.records().push_back(
            {domain::SubjectPersonalKey(record.subject_id()),
             split.personal.SerializeAsString(), record.subject_id()});
        return absl::OkStatus();
      });
}

absl::StatusOr<storage::AppendResult> DomainCommands::IdentifyYoungCarer(
    const v1::Actor& caller, const std::string& request_id,
    v1::EventPayload event) {
  const std::string subject = event.young_carer_identified().subject_id();
  RETURN_IF_ERROR(domain::ValidId(subject, "identification.subject_id"));
  Target target{"subject", subject, true, false, std::nullopt};
  return Execute<domain::SubjectView>(
      caller, request_id, target, std::move(event), domain::ApplySubjectEvent,
      [&](const domain::SubjectView&, CommandAttempt& attempt,
          v1::EventPayload* e) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<v1::SubjectRecord> record,
                         LoadSubjectRecord(subject));
        absl::Status s = domain::DecideIdentification(
            record.has_value() ? &*record : nullptr, caller, e);
        if (absl::IsNotFound(s)) {
          return absl::NotFoundError(absl::StrCat(
              "subject ", subject,
              " does not exist (create its record with Subjects.PutRecord)"));
        }
        RETURN_IF_ERROR(s);
        attempt.set_personal_subject(subject);
        return absl::OkStatus();
      });
}

}  // namespace ycr::services
