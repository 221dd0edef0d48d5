#pragma once

// Domain commands over the event log. Every command runs the same way
// (Execute): read the command's stream and fold it into a view; decide with
// the plain rules of domain/ (which may read other streams: the
// consent a disclosure cites, the agreement correspondence falls under);
// append with the folded version as the expected version and every other
// stream read as a condition at the version read. A version conflict means
// another writer came first: the command reads again and decides again (up
// to kMaxAttempts), so every outcome matches the log order. With an expected
// version from the caller, a moved stream is ABORTED instead.
//
// Request ids are a namespace of the caller's organisation: the event id is
// derived from the organisation and the request id (CommandEventId), so a
// retried command, by the same user or a colleague of the same organisation,
// returns the original position; the same id with another command is
// ALREADY_EXISTS; and another organisation's request with the same id is
// another request altogether (it cannot spend or probe yours).
//
// Free text about a person travels only in the event's personal part
// (EventPayload.personal); the command sets whose it is, and refuses it on
// events that concern no young carer.
//
// Blocking: call from a worker thread, not a gRPC reaction.

#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "domain/agreement_rules.h"
#include "domain/area_rules.h"
#include "domain/consent_rules.h"
#include "domain/correspondence_rules.h"
#include "domain/intervention_rules.h"
#include "domain/referral_rules.h"
#include "domain/safeguarding_rules.h"
#include "domain/subject_rules.h"
#include "services/view_cache.h"
#include "storage/event_log.h"
#include "ycr/v1/subject_service.pb.h"

namespace ycr::services {

using domain::SubjectRecordKey;

// The log's event id for `organisation`'s request `request_id` (a UUID, in
// either case): a name-based UUID of the two.
std::string CommandEventId(absl::string_view organisation,
                           absl::string_view request_id);
using domain::SubjectSaltKey;

// Record-store key marking that a referral of `subject_id` was submitted to
// `service` (the value lists those referrals' ids, comma-separated): the
// service's part in the young carer, while one of them is not entered in
// error. Hashed, so that two ids of the longest length still make a
// key within the store's limit.
std::string SubjectServiceKey(const std::string& subject_id,
                              const std::string& service);

// What one attempt of a command read besides its own stream, and what it
// writes besides its event.
class CommandAttempt;

// The folded views of the streams commands depend on, by stream
// (view_cache.h). Thread-safe.
struct CommandCaches {
  // Streams kept per kind of view (2x at most).
  static constexpr size_t kCapacity = 8192;

  // Drops `stream` from every cache (it moved since it was folded).
  void Forget(absl::string_view stream);

  ViewCache<domain::ConsentView> consents{kCapacity};
  ViewCache<domain::AgreementView> agreements{kCapacity};
  ViewCache<domain::ReferralView> referrals{kCapacity};
  ViewCache<domain::AreaView> areas{kCapacity};
  ViewCache<domain::ConcernView> concerns{kCapacity};
};

class DomainCommands {
 public:
  static constexpr int kMaxAttempts = 8;
  // Largest event payload a command writes (the log allows 64 KiB).
  static constexpr size_t kMaxEventBytes = 60 * 1024;

  // `log` and `clock` must outlive this object. Thread-safe.
  DomainCommands(storage::EventLog* log, Clock* clock)
      : log_(log), clock_(clock) {}

  // Grant, refuse, vary or withdraw a consent (stream "consent-<id>").
  absl::StatusOr<storage::AppendResult> RecordConsent(
      const v1::Actor& caller, const std::string& request_id,
      v1::EventPayload event);

  // A referral transition (stream "referral-<referral_id>"). With
  // `expected_version` (the version the caller saw), a referral that has
  // moved since is ABORTED rather than decided again. A submission is a
  // disclosure to the service and is checked as one.
  absl::StatusOr<storage::AppendResult> RecordReferral(
      const v1::Actor& caller, const std::string& request_id,
      const std::string& referral_id, v1::EventPayload event,
      std::optional<uint64_t> expected_version = std::nullopt);

  // A disclosure (stream domain::SharingStream, or the caller's
  // domain::ConfidentialSharingStream on a safeguarding basis): covered by
  // the consent it names, at the consent's current version, now; or under a
  // safeguarding basis. `personal` (may be empty) is the event's personal
  // part.
  absl::StatusOr<storage::AppendResult> RecordDisclosure(
      const v1::Actor& caller, const std::string& request_id,
      v1::DisclosureRecorded disclosure, v1::PersonalData personal = {});

  // A decision not to share (the caller's
  // domain::ConfidentialSharingStream).
  absl::StatusOr<storage::AppendResult> RecordDecisionNotToShare(
      const v1::Actor& caller, const std::string& request_id,
      v1::SharingDeclined decision, v1::PersonalData personal = {});

  // Creates or replaces a subject record: the record (in the record store)
  // and a SubjectRecordChanged event, in one atomic write. ABORTED when
  // `expected_revision` is set and the record is at another revision.
  absl::StatusOr<storage::AppendResult> PutSubjectRecord(
      const v1::Actor& caller, const std::string& request_id,
      v1::SubjectRecord record,
      std::optional<uint64_t> expected_revision = std::nullopt);

  // A school records a pupil's census code (stream "subject-<id>").
  absl::StatusOr<storage::AppendResult> IdentifyYoungCarer(
      const v1::Actor& caller, const std::string& request_id,
      v1::EventPayload event);

  // An erasure request on a subject, decided by the record's holder (rules:
  // domain/erasure_rules.h). Erasure appends SubjectErased, reduces
  // the record to its skeleton, and destroys the subject's key, in one
  // atomic write; a refusal appends ErasureRefused with its ground.
  // `refuse_on` (UNSPECIFIED: erase if the law allows) is the holder's own
  // refusal ground.
  struct ErasureOutcome {
    storage::AppendResult append;
    bool erased = false;
    v1::ErasureGround refused_on = v1::ERASURE_GROUND_UNSPECIFIED;
  };
  absl::StatusOr<ErasureOutcome> EraseSubject(const v1::Actor& caller,
                                              const std::string& request_id,
                                              const std::string& subject_id,
                                              const std::string& request_ref,
                                              v1::ErasureGround refuse_on);

  // The caller's organisation's review of the child-protection records it
  // kept past an erasure (domain/retention_rules.h; stream "subject-<id>"):
  // a DESTROY destroys its key for the subject in the same atomic write,
  // with the same scrub as an erasure.
  absl::StatusOr<storage::AppendResult> ReviewRetention(
      const v1::Actor& caller, const std::string& request_id,
      v1::ChildProtectionReviewed review);

  // When the review of `kept` is due: the date of its last KEEP, or the
  // date its erasure sealed (under the kept-reviews key, or in a store's
  // older form the keeping organisation's). nullopt when that date reads as
  // erased: the records were destroyed since `kept` was read.
  absl::StatusOr<std::optional<absl::Time>> ReviewDue(
      const domain::KeptRecord& kept);

  // The kept records of the caller's organisation (every organisation's
  // for an auditor) whose review is due by `as_of`, earliest first, at most
  // `limit` of them. Reads the log's kept-record events to its head.
  absl::StatusOr<v1::RetentionReviewsResponse> ListRetentionReviews(
      const v1::Actor& caller, absl::Time as_of, uint32_t limit);

  // Legal holds on a subject (stream "subject-<id>"); the reason is in
  // `personal` (personal.reason).
  absl::StatusOr<storage::AppendResult> PlaceLegalHold(
      const v1::Actor& caller, const std::string& request_id,
      v1::LegalHoldPlaced hold, v1::PersonalData personal);
  absl::StatusOr<storage::AppendResult> LiftLegalHold(
      const v1::Actor& caller, const std::string& request_id,
      const std::string& subject_id, const std::string& hold_id);

  // Interventions, agreements, correspondence and safeguarding concerns:
  // stream "<kind>-<id>" for kind intervention, agreement, correspondence,
  // safeguarding; `event` is one of that kind's events (with its personal
  // part, if any).
  absl::StatusOr<storage::AppendResult> RecordIntervention(
      const v1::Actor& caller, const std::string& request_id,
      const std::string& intervention_id, v1::EventPayload event,
      std::optional<uint64_t> expected_version = std::nullopt);
  absl::StatusOr<storage::AppendResult> RecordAgreement(
      const v1::Actor& caller, const std::string& request_id,
      const std::string& agreement_id, v1::EventPayload event,
      std::optional<uint64_t> expected_version = std::nullopt);
  absl::StatusOr<storage::AppendResult> RecordCorrespondence(
      const v1::Actor& caller, const std::string& request_id,
      const std::string& correspondence_id, v1::EventPayload event,
      std::optional<uint64_t> expected_version = std::nullopt);
  absl::StatusOr<storage::AppendResult> RecordSafeguarding(
      const v1::Actor& caller, const std::string& request_id,
      const std::string& concern_id, v1::EventPayload event,
      std::optional<uint64_t> expected_version = std::nullopt);

  // The scheduler's flag on a missed deadline (stream
  // "overdue-<kind>-<id>"): flagged_at is set to now. The caller (the query
  // layer) has checked the deadline is owed and past.
  absl::StatusOr<storage::AppendResult> RecordOverdueFlag(
      const v1::Actor& caller, const std::string& request_id,
      v1::OverdueFlagged flag);

  // Current state, folded from the stream (version 0: none).
  absl::StatusOr<domain::ConsentView> LoadConsent(
      const std::string& consent_id);
  absl::StatusOr<domain::ReferralView> LoadReferral(
      const std::string& referral_id);
  absl::StatusOr<domain::InterventionView> LoadIntervention(
      const std::string& intervention_id);
  absl::StatusOr<domain::AgreementView> LoadAgreement(
      const std::string& agreement_id);
  absl::StatusOr<domain::CorrespondenceView> LoadCorrespondence(
      const std::string& correspondence_id);
  // The concern `concern_id` raised by `raised_by` (concern ids are each
  // raising organisation's own: domain::ConcernStream).
  absl::StatusOr<domain::ConcernView> LoadConcern(
      const std::string& raised_by, const std::string& concern_id);
  // nullopt when there is no record.
  absl::StatusOr<std::optional<v1::SubjectRecord>> LoadSubjectRecord(
      const std::string& subject_id);
  absl::StatusOr<domain::AreaView> LoadArea(const std::string& organisation);

  // Places an organisation in a local authority's area (or in none): stream
  // "area-<organisation>", and the record AreaKey(organisation) with it.
  absl::StatusOr<storage::AppendResult> AssignArea(
      const v1::Actor& caller, const std::string& request_id,
      v1::AreaAssigned assignment);

  storage::EventLog& log() { return *log_; }

  Clock& clock() { return *clock_; }

 private:
  // How a command's own stream is treated.
  struct Target {
    // Stream kind ("referral"); the stream is "<kind>-<id>" unless `stream`
    // names another.
    std::string kind;
    std::string id;
    // The event creates the stream's aggregate (otherwise the aggregate
    // must exist: NOT_FOUND).
    bool creates = false;
    // An append-only journal (sharing): not folded, appended in any order.
    bool journal = false;
    std::optional<uint64_t> expected_version;
    std::string stream = {};
  };

  template <typename View>
  using Decide = absl::FunctionRef<absl::Status(
      const View& view, CommandAttempt& attempt, v1::EventPayload* event)>;
  template <typename View>
  using Apply =
      absl::FunctionRef<absl::Status(const v1::RecordedEvent&, View*)>;

  template <typename View>
  absl::StatusOr<storage::AppendResult> Execute(const v1::Actor& caller,
                                                const std::string& request_id,
                                                const Target& target,
                                                v1::EventPayload event,
                                                Apply<View> apply,
                                                Decide<View> decide);

  // Execute on the stream of an existing subject ("subject-<id>").
  absl::StatusOr<storage::AppendResult> OnSubject(
      const v1::Actor& caller, const std::string& request_id,
      const std::string& subject_id, v1::EventPayload event,
      Decide<domain::SubjectView> decide);

  // OK(nullopt) when the request (`request_id`, whose event id `request`
  // carries) is new; otherwise the replayed (or refused) append of
  // `request`.
  absl::StatusOr<std::optional<storage::AppendResult>> Replay(
      const storage::AppendRequest& request, const std::string& request_id);

  storage::EventLog* const log_;
  Clock* const clock_;
  CommandCaches caches_;

  friend class CommandAttempt;
};

class CommandAttempt {
 public:
  // `own_stream` is the command's stream: reading it adds no condition (the
  // append's expected version covers it). The views of other streams come
  // from `caches` when kept there, unless `fresh`; every view folded is kept
  // (`caches` may be null: nothing kept).
  CommandAttempt(storage::EventLog* log, absl::Time now, std::string own_stream,
                 CommandCaches* caches = nullptr, bool fresh = true)
      : log_(log),
        now_(now),
        own_stream_(std::move(own_stream)),
        caches_(caches),
        fresh_(fresh) {}

  absl::Time now() const { return now_; }

  // Whether a view came from the caches (a refusal is then decided again
  // fresh: view_cache.h).
  bool used_cache() const { return used_cache_; }

  // The current consent, the agreement, ...: the append will require its
  // stream to be still at the version read.
  absl::StatusOr<domain::ConsentView> DependOnConsent(const std::string& id);
  absl::StatusOr<domain::AgreementView> DependOnAgreement(
      const std::string& id);
  absl::StatusOr<domain::ReferralView> DependOnReferral(const std::string& id);
  // The area `organisation` is in (which may not move until the append).
  absl::StatusOr<domain::AreaView> DependOnArea(
      const std::string& organisation);

  // NOT_FOUND unless the subject has a record; FAILED_PRECONDITION once it
  // is erased; PERMISSION_DENIED when `caller` is a school that does not
  // hold the record, or a service that neither holds it nor was sent a
  // referral of the subject (SubjectServiceKey). `holder_partner`, when
  // set, is one more organisation whose pupils the service may record about
  // here: the school of the agreement a correspondence runs under.
  absl::Status RequireSubject(const std::string& subject_id,
                              const v1::Actor& caller,
                              const std::string& holder_partner = "");

  // A disclosure with a consent basis must be covered by the consent, now;
  // records the version that covered it (and depends on it). NOT_FOUND for
  // an unknown consent. A safeguarding basis (already validated) that names
  // a concern must name one `caller`'s organisation raised about the same
  // subject (CheckConcern).
  absl::Status CoverDisclosure(v1::DisclosureRecorded* disclosure,
                               const v1::Actor& caller);

  // OK for an empty `concern_id`; otherwise NOT_FOUND naming `field` for an
  // unknown concern, FAILED_PRECONDITION unless `caller`'s organisation
  // raised it about `subject_id` (and depends on it).
  absl::Status CheckConcern(const std::string& concern_id,
                            const std::string& subject_id,
                            const v1::Actor& caller, absl::string_view field);

  // Marks that `organisation` keeps a child-protection record about
  // `subject_id` (a concern, a safeguarding disclosure): an erasure keeps
  // it (domain::DecideErasure), and one decided meanwhile decides again.
  absl::Status MarkChildProtection(const std::string& subject_id,
                                   const std::string& organisation);

  // Whose personal data the event's personal part is ("" = nobody's: the
  // event may not carry any).
  void set_personal_subject(std::string subject_id) {
    personal_subject_ = std::move(subject_id);
  }
  const std::string& personal_subject() const { return personal_subject_; }

  std::vector<storage::StreamCondition>& conditions() { return conditions_; }
  std::vector<storage::RecordCondition>& record_conditions() {
    return record_conditions_;
  }

  // The append will require `stream` to be still at `version`.
  void Depend(const std::string& stream, uint64_t version);
  // The append will require the plain record `key` to be still `value`
  // (nullopt: still absent), as the decision read it.
  void DependOnRecord(const std::string& key,
                      const std::optional<std::string>& value) {
    record_conditions_.push_back({key, value});
  }

  std::vector<storage::RecordWrite>& records() { return records_; }
  // Subjects whose keys the append destroys (AppendRequest::erase_subjects).
  std::vector<std::string>& erase_subjects() { return erase_subjects_; }
  // Organisations whose child-protection keys the erasure keeps
  // (AppendRequest::erase_retaining).
  std::vector<std::string>& erase_retaining() { return erase_retaining_; }
  // Events appended after the command's own, in the same atomic write (an
  // erasure's child_protection_kept). The command's answer names its own
  // event only.
  std::vector<v1::EventPayload>& extra_events() { return extra_events_; }

 private:
  // The view of `stream` folded with `apply`, or the one kept in `cache`:
  // the caller must Depend on the view's version before deciding anything
  // from it but a refusal.
  template <typename View, typename ApplyFn>
  absl::StatusOr<View> Current(const std::string& stream,
                               ViewCache<View> CommandCaches::*cache,
                               ApplyFn apply);

  storage::EventLog* const log_;
  const absl::Time now_;
  const std::string own_stream_;
  CommandCaches* const caches_;
  const bool fresh_;
  bool used_cache_ = false;
  std::string personal_subject_;
  std::vector<storage::StreamCondition> conditions_;
  std::vector<storage::RecordCondition> record_conditions_;
  std::vector<storage::RecordWrite> records_;
  std::vector<std::string> erase_subjects_;
  std::vector<std::string> erase_retaining_;
  std::vector<v1::EventPayload> extra_events_;
};

}  // namespace ycr::services
