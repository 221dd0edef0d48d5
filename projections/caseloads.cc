#include "projections/caseloads.h"

#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/proto_bytes.h"
#include "common/status_macros.h"
#include "domain/referral_rules.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "storage/key_format.h"

namespace ycr::projections {
namespace {

using v1::CaseloadReferral;
using State = v1::ReferralState;

constexpr char kName[] = "caseloads";
constexpr char kIdentified[] = "identified";
constexpr char kReferred[] = "referred";
constexpr char kAccepted[] = "accepted";
constexpr char kSupported[] = "supported";
constexpr char kClosed[] = "closed";
constexpr char kStatePrefix[] = "state/";
constexpr char kWorkerPrefix[] = "worker/";

constexpr uint8_t kReachedAccepted = 1;
constexpr uint8_t kReachedRegistered = 2;

// `tag` organisation 0x00: the prefix of one organisation's keys.
std::string OrgPrefix(char tag, const std::string& organisation) {
  return absl::StrCat(std::string(1, tag), organisation, std::string(1, '\0'));
}

// The first key after every key under OrgPrefix(tag, organisation).
std::string OrgEnd(char tag, const std::string& organisation) {
  return absl::StrCat(std::string(1, tag), organisation, std::string(1, '\1'));
}

std::string CountKey(const std::string& organisation,
                     const std::string& counter) {
  return OrgPrefix('n', organisation) + counter;
}

std::string ListKey(const std::string& organisation, const std::string& id) {
  return OrgPrefix('l', organisation) + id;
}

// The id after "<kind>-" in a stream name.
std::string IdOf(const std::string& stream) {
  const size_t dash = stream.find('-');
  return dash == std::string::npos ? "" : stream.substr(dash + 1);
}

absl::StatusOr<uint64_t> DecodeCount(absl::string_view value) {
  if (value.size() != 8) {
    return absl::DataLossError("caseloads: malformed count");
  }
  return storage::GetBigEndian64(value.data());
}

// Adds `delta` to a count kept under `key` (absent when 0).
absl::Status AddToKey(storage::ProjectionBatch& batch, const std::string& key,
                      int64_t delta) {
  if (delta == 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::optional<std::string> bytes, batch.Get(key));
  uint64_t n = 0;
  if (bytes.has_value()) {
    ASSIGN_OR_RETURN(n, DecodeCount(*bytes));
  }
  if (delta < 0 && n < static_cast<uint64_t>(-delta)) {
    return absl::InternalError("caseloads: a count would go below zero");
  }
  n += static_cast<uint64_t>(delta);
  if (n == 0) {
    batch.Delete(key);
  } else {
    std::string value;
    storage::PutBigEndian64(&value, n);
    batch.Put(key, value);
  }
  return absl::OkStatus();
}

absl::Status Add(storage::ProjectionBatch& batch,
                 const std::string& organisation, const std::string& counter,
                 int64_t delta) {
  if (organisation.empty()) return absl::OkStatus();
  return AddToKey(batch, CountKey(organisation, counter), delta);
}

bool IsOpen(State state) {
  return state != v1::REFERRAL_STATE_UNSPECIFIED && !domain::IsTerminal(state);
}

std::string StateCounter(State state) {
  return absl::StrCat(kStatePrefix, v1::ReferralState_Name(state));
}

// One referral as the projection keeps it ('r').
struct StoredReferral {
  State held_from = v1::REFERRAL_STATE_UNSPECIFIED;
  uint8_t flags = 0;
  CaseloadReferral referral;
};

std::string Encode(const StoredReferral& s) {
  std::string out;
  out.push_back(static_cast<char>(s.held_from));
  out.push_back(static_cast<char>(s.flags));
  out.append(DeterministicBytes(s.referral));
  return out;
}

absl::StatusOr<StoredReferral> Decode(absl::string_view bytes) {
  StoredReferral s;
  if (bytes.size() < 2 ||
      !s.referral.ParseFromArray(bytes.data() + 2,
                                 static_cast<int>(bytes.size() - 2))) {
    return absl::DataLossError("caseloads: malformed referral state");
  }
  s.held_from = static_cast<State>(static_cast<uint8_t>(bytes[0]));
  s.flags = static_cast<uint8_t>(bytes[1]);
  return s;
}

// What one referral adds to its school's counts (`registered`: to its
// subject's referrals registered now there, which "supported" counts once per
// subject).
struct SchoolShare {
  int64_t referred = 0;
  int64_t accepted = 0;
  int64_t registered = 0;
  int64_t closed = 0;
};

SchoolShare ShareOf(const StoredReferral& s) {
  const State state = s.referral.state();
  // Nothing yet, or retracted as entered in error.
  if (state == v1::REFERRAL_STATE_UNSPECIFIED ||
      state == v1::REFERRAL_STATE_ENTERED_IN_ERROR) {
    return {};
  }
  SchoolShare share;
  share.referred = 1;
  share.accepted = (s.flags & kReachedAccepted) != 0 ? 1 : 0;
  // Registered now: registered, or on hold from registered (a pause, not an
  // end). A closed, withdrawn or transferred-away registration no longer
  // supports the child here.
  share.registered = state == v1::REFERRAL_STATE_REGISTERED ||
                             (state == v1::REFERRAL_STATE_ON_HOLD &&
                              s.held_from == v1::REFERRAL_STATE_REGISTERED)
                         ? 1
                         : 0;
  share.closed = state == v1::REFERRAL_STATE_CLOSED ? 1 : 0;
  return share;
}

// Keys of what makes a subject supported at a school.
constexpr char kRegisteredTag = 'g';
constexpr char kInterventionTag = 'w';

// Whether `subject` is supported at `school`: a referral from there that is
// registered now, or an open intervention there.
absl::StatusOr<bool> IsSupported(storage::ProjectionBatch& batch,
                                 const std::string& school,
                                 const std::string& subject) {
  for (char tag : {kRegisteredTag, kInterventionTag}) {
    ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                     batch.Get(OrgPrefix(tag, school) + subject));
    if (bytes.has_value()) return true;
  }
  return false;
}

// Adds `delta` to the subject's count under `tag` at `school`, and moves the
// school's "supported" when the subject becomes, or stops being, supported
// there: each young carer counts once, however many reasons they have.
absl::Status AddSupport(storage::ProjectionBatch& batch, char tag,
                        const std::string& school, const std::string& subject,
                        int64_t delta) {
  if (delta == 0 || school.empty() || subject.empty()) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(const bool was, IsSupported(batch, school, subject));
  RETURN_IF_ERROR(AddToKey(batch, OrgPrefix(tag, school) + subject, delta));
  ASSIGN_OR_RETURN(const bool is, IsSupported(batch, school, subject));
  if (was == is) return absl::OkStatus();
  return Add(batch, school, kSupported, is ? +1 : -1);
}

absl::Status AddShare(storage::ProjectionBatch& batch,
                      const std::string& school, const std::string& subject,
                      const SchoolShare& share, int64_t sign) {
  RETURN_IF_ERROR(Add(batch, school, kReferred, sign * share.referred));
  RETURN_IF_ERROR(Add(batch, school, kAccepted, sign * share.accepted));
  RETURN_IF_ERROR(AddSupport(batch, kRegisteredTag, school, subject,
                             sign * share.registered));
  return Add(batch, school, kClosed, sign * share.closed);
}

class Applier {
 public:
  Applier(const v1::RecordedEvent& event, storage::ProjectionBatch& batch)
      : e_(event), p_(event.payload()), batch_(batch) {}

  absl::Status Apply() {
    switch (p_.kind_case()) {
      case v1::EventPayload::kReferralSubmitted:
      case v1::EventPayload::kReferralReceived:
      case v1::EventPayload::kReferralAccepted:
      case v1::EventPayload::kReferralDeclined:
      case v1::EventPayload::kAssessmentScheduled:
      case v1::EventPayload::kAssessmentCompleted:
      case v1::EventPayload::kReferralRegistered:
      case v1::EventPayload::kReferralHeld:
      case v1::EventPayload::kReferralResumed:
      case v1::EventPayload::kReferralClosed:
      case v1::EventPayload::kReferralWithdrawn:
      case v1::EventPayload::kReferralCancelled:
      case v1::EventPayload::kReferralEnteredInError:
      case v1::EventPayload::kReferralTransferred:
        return Referral();
      case v1::EventPayload::kInterventionPlanned:
      case v1::EventPayload::kInterventionEnded:
        return Intervention();
      case v1::EventPayload::kYoungCarerIdentified:
        return Identification();
      default:
        return absl::OkStatus();
    }
  }

 private:
  absl::Status Referral() {
    const std::string id = IdOf(e_.stream());
    if (id.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::optional<std::string> bytes, batch_.Get("r" + id));
    StoredReferral before;
    if (bytes.has_value()) {
      ASSIGN_OR_RETURN(before, Decode(*bytes));
    }
    const State old_state = before.referral.state();
    // Only what the state machine allows changes anything: a submission
    // starts a referral; an ended one can only be entered in error.
    if (p_.has_referral_submitted() != !bytes.has_value()) {
      return absl::OkStatus();
    }
    if (domain::IsTerminal(old_state) &&
        (!p_.has_referral_entered_in_error() ||
         old_state == v1::REFERRAL_STATE_ENTERED_IN_ERROR)) {
      return absl::OkStatus();
    }

    domain::ReferralView view;
    view.state = old_state;
    view.held_from = before.held_from;
    view.referral_id = before.referral.referral_id();
    view.subject_id = before.referral.subject_id();
    view.school = before.referral.school();
    view.service = before.referral.service();
    RETURN_IF_ERROR(domain::ApplyReferralEvent(p_, e_.stream_version(), &view));

    StoredReferral after = before;
    after.held_from = view.held_from;
    CaseloadReferral& r = after.referral;
    r.set_referral_id(id);
    r.set_subject_id(view.subject_id);
    r.set_school(view.school);
    r.set_service(view.service);
    r.set_state(view.state);
    if (view.state != old_state) *r.mutable_since() = e_.recorded_at();
    r.set_position(e_.position());
    if (view.state == v1::REFERRAL_STATE_ACCEPTED) {
      after.flags |= kReachedAccepted;
    }
    if (view.state == v1::REFERRAL_STATE_REGISTERED) {
      after.flags |= kReachedRegistered;
    }

    const std::string& old_school = before.referral.school();
    const std::string& service = r.service();
    // The school's counts.
    const SchoolShare was = ShareOf(before);
    const SchoolShare is = ShareOf(after);
    if (old_school == r.school()) {
      RETURN_IF_ERROR(
          Add(batch_, old_school, kReferred, is.referred - was.referred));
      RETURN_IF_ERROR(
          Add(batch_, old_school, kAccepted, is.accepted - was.accepted));
      RETURN_IF_ERROR(AddSupport(batch_, kRegisteredTag, old_school,
                                 r.subject_id(),
                                 is.registered - was.registered));
      RETURN_IF_ERROR(Add(batch_, old_school, kClosed, is.closed - was.closed));
    } else {
      RETURN_IF_ERROR(
          AddShare(batch_, old_school, before.referral.subject_id(), was, -1));
      RETURN_IF_ERROR(AddShare(batch_, r.school(), r.subject_id(), is, +1));
    }
    // The service's open referrals by state.
    const bool was_open = IsOpen(old_state);
    const bool is_open = IsOpen(view.state);
    if (was_open && (!is_open || old_state != view.state)) {
      RETURN_IF_ERROR(Add(batch_, service, StateCounter(old_state), -1));
    }
    if (is_open && (!was_open || old_state != view.state)) {
      RETURN_IF_ERROR(Add(batch_, service, StateCounter(view.state), +1));
    }
    // The lists of open referrals.
    if (was_open) {
      if (!is_open) batch_.Delete(ListKey(service, id));
      if (!is_open || old_school != r.school()) {
        if (!old_school.empty()) batch_.Delete(ListKey(old_school, id));
      }
    }
    if (is_open) {
      const std::string value = DeterministicBytes(r);
      if (!service.empty()) batch_.Put(ListKey(service, id), value);
      if (!r.school().empty()) batch_.Put(ListKey(r.school(), id), value);
    }
    batch_.Put("r" + id, Encode(after));
    return absl::OkStatus();
  }

  // Counts one open intervention in (sign +1) or out (-1).
  absl::Status CountIntervention(const v1::InterventionPlanned& plan,
                                 int64_t sign) {
    RETURN_IF_ERROR(
        Add(batch_, plan.service(), kWorkerPrefix + plan.worker(), sign));
    return AddSupport(batch_, kInterventionTag, plan.school(),
                      plan.subject_id(), sign);
  }

  absl::Status Intervention() {
    const std::string id = IdOf(e_.stream());
    if (id.empty()) return absl::OkStatus();
    const std::string key = "v" + id;
    ASSIGN_OR_RETURN(std::optional<std::string> bytes, batch_.Get(key));
    if (p_.has_intervention_planned()) {
      if (bytes.has_value()) return absl::OkStatus();  // Planned already.
      const v1::InterventionPlanned& planned = p_.intervention_planned();
      v1::InterventionPlanned plan;
      plan.set_service(planned.service().empty() ? e_.actor().organisation()
                                                 : planned.service());
      plan.set_school(planned.school());
      plan.set_subject_id(planned.subject_id());
      plan.set_worker(planned.worker());
      batch_.Put(key, DeterministicBytes(plan));
      return CountIntervention(plan, +1);
    }
    // Ended.
    if (!bytes.has_value()) return absl::OkStatus();
    v1::InterventionPlanned plan;
    if (!plan.ParseFromString(*bytes)) {
      return absl::DataLossError("caseloads: malformed intervention state");
    }
    batch_.Delete(key);
    return CountIntervention(plan, -1);
  }

  absl::Status Identification() {
    const v1::YoungCarerIdentified& y = p_.young_carer_identified();
    const std::string& school =
        y.school().empty() ? e_.actor().organisation() : y.school();
    if (school.empty() || y.subject_id().empty()) return absl::OkStatus();
    const std::string key = OrgPrefix('y', school) + y.subject_id();
    ASSIGN_OR_RETURN(std::optional<std::string> bytes, batch_.Get(key));
    switch (y.census_code()) {
      case v1::CENSUS_CODE_IDENTIFIED_BY_PARENT:
      case v1::CENSUS_CODE_IDENTIFIED_BY_SCHOOL:
        batch_.Put(key, std::string(1, static_cast<char>(y.census_code())));
        if (!bytes.has_value()) {
          return Add(batch_, school, kIdentified, +1);
        }
        return absl::OkStatus();
      case v1::CENSUS_CODE_NOT_DECLARED:
        if (bytes.has_value()) {
          batch_.Delete(key);
          return Add(batch_, school, kIdentified, -1);
        }
        return absl::OkStatus();
      default:
        return absl::OkStatus();
    }
  }

  const v1::RecordedEvent& e_;
  const v1::EventPayload& p_;
  storage::ProjectionBatch& batch_;
};

}  // namespace

const std::string& CaseloadsProjection::name() const {
  static const std::string* kProjectionName = new std::string(kName);
  return *kProjectionName;
}

absl::Status CaseloadsProjection::Apply(const v1::RecordedEvent& event,
                                        storage::ProjectionBatch& batch) {
  return Applier(event, batch).Apply();
}

absl::StatusOr<v1::CaseloadCounts> Counts(storage::ProjectionStore& store,
                                          uint32_t generation,
                                          const std::string& organisation) {
  v1::CaseloadCounts counts;
  const std::string prefix = OrgPrefix('n', organisation);
  absl::Status parse_error;
  RETURN_IF_ERROR(
      store.Scan(kName, generation, prefix, OrgEnd('n', organisation),
                 [&](absl::string_view key, absl::string_view value) {
                   absl::StatusOr<uint64_t> n = DecodeCount(value);
                   if (!n.ok()) {
                     parse_error = n.status();
                     return false;
                   }
                   absl::string_view counter = key.substr(prefix.size());
                   if (absl::ConsumePrefix(&counter, kStatePrefix)) {
                     (*counts.mutable_by_state())[std::string(counter)] = *n;
                   } else if (absl::ConsumePrefix(&counter, kWorkerPrefix)) {
                     (*counts.mutable_by_worker())[std::string(counter)] = *n;
                   } else if (counter == kIdentified) {
                     counts.set_identified(*n);
                   } else if (counter == kReferred) {
                     counts.set_referred(*n);
                   } else if (counter == kAccepted) {
                     counts.set_accepted(*n);
                   } else if (counter == kSupported) {
                     counts.set_supported(*n);
                   } else if (counter == kClosed) {
                     counts.set_closed(*n);
                   }
                   return true;
                 }));
  RETURN_IF_ERROR(parse_error);
  return counts;
}

absl::Status ListReferrals(storage::ProjectionStore& store, uint32_t generation,
                           const std::string& organisation,
                           const std::string& page_token, size_t limit,
                           std::vector<v1::CaseloadReferral>* out,
                           std::string* next_page_token) {
  const std::string token = page_token;  // May alias *next_page_token.
  next_page_token->clear();
  const std::string prefix = OrgPrefix('l', organisation);
  std::string from = prefix;
  if (!token.empty()) {
    std::string last;
    if (!absl::WebSafeBase64Unescape(token, &last) ||
        !absl::StartsWith(last, prefix) || last.size() == prefix.size()) {
      return absl::InvalidArgumentError(
          "page_token: not from this query (same organisation)");
    }
    from = last + std::string(1, '\0');  // Strictly after the last one.
  }
  if (limit == 0) return absl::OkStatus();
  std::string last_key;
  size_t listed = 0;
  bool more = false;
  absl::Status parse_error;
  RETURN_IF_ERROR(store.Scan(
      kName, generation, from, OrgEnd('l', organisation),
      [&](absl::string_view key, absl::string_view value) {
        if (listed == limit) {
          more = true;
          return false;
        }
        v1::CaseloadReferral referral;
        if (!referral.ParseFromArray(value.data(),
                                     static_cast<int>(value.size()))) {
          parse_error = absl::DataLossError("caseloads: malformed referral");
          return false;
        }
        out->push_back(std::move(referral));
        ++listed;
        last_key = std::string(key);
        return true;
      }));
  RETURN_IF_ERROR(parse_error);
  if (more) *next_page_token = absl::WebSafeBase64Escape(last_key);
  return absl::OkStatus();
}

}  // namespace ycr::projections
