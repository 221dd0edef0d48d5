#include "projections/audit_trail.h"

#include <limits>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "domain/consent_rules.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "storage/key_format.h"

namespace ycr::projections {
namespace {

using storage::PutBigEndian32;
using storage::PutBigEndian64;

// S(x): 0x00 -> 0x00 0xFF, then 0x00 0x01.
void PutString(std::string* out, absl::string_view s) {
  for (char c : s) {
    out->push_back(c);
    if (c == '\0') out->push_back('\xff');
  }
  out->push_back('\0');
  out->push_back('\x01');
}

std::string Prefix(AuditKey kind, absl::string_view s) {
  std::string key(1, static_cast<char>(kind));
  PutString(&key, s);
  return key;
}

// The first key after every key starting with `prefix` (which ends with the
// S() terminator 0x00 0x01, so the increment never carries).
std::string PrefixEnd(std::string prefix) {
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

// T(t) at nanosecond granularity, rounded up: an instant between two
// nanoseconds sorts after the earlier one, so [from, to) on keys is
// [from, to) on whole-nanosecond recorded times.
void PutTime(std::string* out, absl::Time t) {
  int64_t seconds;
  int64_t nanos = 0;
  if (t == absl::InfinitePast()) {
    seconds = std::numeric_limits<int64_t>::min();
  } else if (t == absl::InfiniteFuture()) {
    seconds = std::numeric_limits<int64_t>::max();
  } else {
    seconds = absl::ToUnixSeconds(t);  // rounds down
    const absl::Time whole = absl::FromUnixSeconds(seconds);
    nanos = absl::ToInt64Nanoseconds(t - whole);  // in [0, 1e9)
    if (whole + absl::Nanoseconds(nanos) < t) ++nanos;
    if (nanos >= 1000000000) {
      ++seconds;
      nanos -= 1000000000;
    }
  }
  PutBigEndian64(out, static_cast<uint64_t>(seconds) ^ (uint64_t{1} << 63));
  PutBigEndian32(out, static_cast<uint32_t>(nanos));
}

std::string OrgKey(const std::string& organisation,
                   const v1::RecordedEvent& event) {
  std::string key = AuditOrgPrefix(organisation);
  PutTime(&key, FromProtoTime(event.recorded_at()));
  PutBigEndian64(&key, event.position());
  return key;
}

// How an event is attributed to a subject.
struct Attribution {
  // The subject the payload names (empty: none).
  std::string subject;
  // The event creates an aggregate about `subject`: map its stream.
  bool creates = false;
  // The payload names no subject: look its stream up.
  bool lookup = false;
  bool consent = false;
  const v1::DisclosureRecorded* disclosure = nullptr;
};

// nullopt for events the trail does not keep.
std::optional<Attribution> Attribute(const v1::EventPayload& p) {
  using K = v1::EventPayload;
  Attribution a;
  switch (p.kind_case()) {
    case K::kConsentGranted:
      a.subject = p.consent_granted().subject_id();
      a.creates = a.consent = true;
      break;
    case K::kConsentRefused:
      a.subject = p.consent_refused().subject_id();
      a.creates = a.consent = true;
      break;
    case K::kConsentVaried:
    case K::kConsentWithdrawn:
      a.lookup = a.consent = true;
      break;
    case K::kDisclosureRecorded:
      a.subject = p.disclosure_recorded().subject_id();
      a.disclosure = &p.disclosure_recorded();
      break;
    case K::kSharingDeclined:
      a.subject = p.sharing_declined().subject_id();
      break;
    case K::kReferralSubmitted:
      a.subject = p.referral_submitted().subject_id();
      a.creates = true;
      if (p.referral_submitted().has_disclosure()) {
        a.disclosure = &p.referral_submitted().disclosure();
      }
      break;
    case K::kReferralTransferred:
      a.lookup = true;
      if (p.referral_transferred().has_disclosure()) {
        a.disclosure = &p.referral_transferred().disclosure();
      }
      break;
    case K::kReferralReceived:
    case K::kReferralAccepted:
    case K::kReferralDeclined:
    case K::kAssessmentScheduled:
    case K::kAssessmentCompleted:
    case K::kReferralRegistered:
    case K::kReferralHeld:
    case K::kReferralResumed:
    case K::kReferralClosed:
    case K::kReferralWithdrawn:
    case K::kReferralCancelled:
    case K::kReferralEnteredInError:
      a.lookup = true;
      break;
    case K::kSubjectRecordChanged:
      a.subject = p.subject_record_changed().subject_id();
      break;
    case K::kYoungCarerIdentified:
      a.subject = p.young_carer_identified().subject_id();
      break;
    case K::kSubjectErased:
      a.subject = p.subject_erased().subject_id();
      break;
    case K::kErasureRefused:
      a.subject = p.erasure_refused().subject_id();
      break;
    case K::kLegalHoldPlaced:
      a.subject = p.legal_hold_placed().subject_id();
      break;
    case K::kLegalHoldLifted:
      a.subject = p.legal_hold_lifted().subject_id();
      break;
    case K::kChildProtectionKept:
      a.subject = p.child_protection_kept().subject_id();
      break;
    case K::kChildProtectionReviewed:
      a.subject = p.child_protection_reviewed().subject_id();
      break;
    case K::kInterventionPlanned:
      // Empty for whole-school work: about no one subject.
      a.subject = p.intervention_planned().subject_id();
      a.creates = true;
      break;
    case K::kSessionDelivered:
    case K::kInterventionEnded:
      a.lookup = true;
      break;
    case K::kOutcomesRecorded:
      a.lookup = true;
      if (p.outcomes_recorded().has_report()) {
        a.disclosure = &p.outcomes_recorded().report();
      }
      break;
    case K::kCorrespondenceReceived:
      a.subject = p.correspondence_received().subject_id();
      a.creates = true;
      break;
    case K::kCorrespondenceAcknowledged:
    case K::kCorrespondenceAnswered:
      a.lookup = true;
      break;
    case K::kConcernRaised:
      a.subject = p.concern_raised().subject_id();
      a.creates = true;
      break;
    case K::kDslNotified:
    case K::kConcernClosed:
      a.lookup = true;
      break;
    case K::kSocialCareReferralMade:
      a.lookup = true;
      if (p.social_care_referral_made().has_disclosure()) {
        a.disclosure = &p.social_care_referral_made().disclosure();
      }
      break;
    default:
      // Agreements (about no subject), opaque and unknown payloads.
      return std::nullopt;
  }
  return a;
}

absl::Status ParseEntry(absl::string_view key, absl::string_view value,
                        v1::AuditEntry* entry) {
  if (!entry->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(
        absl::StrCat("audit_trail: the entry under a key of ", key.size(),
                     " bytes does not parse as ycr.v1.AuditEntry"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string AuditTrailPrefix(const std::string& subject_id) {
  return Prefix(AuditKey::kTrail, subject_id);
}

std::string AuditTrailKey(const std::string& subject_id, uint64_t position) {
  std::string key = AuditTrailPrefix(subject_id);
  PutBigEndian64(&key, position);
  return key;
}

std::string AuditConsentPrefix(const std::string& subject_id) {
  return Prefix(AuditKey::kConsent, subject_id);
}

std::string AuditOrgPrefix(const std::string& organisation) {
  return Prefix(AuditKey::kOrg, organisation);
}

std::string AuditStreamKey(const std::string& stream) {
  return Prefix(AuditKey::kStream, stream);
}

std::string AuditEntryBytes(const v1::RecordedEvent& event,
                            const v1::DisclosureRecorded* disclosure,
                            const std::string& subject_id) {
  // Fields 1 (event), 2 (disclosure) and 3 (subject_id), in that order, as
  // a deterministic serialisation of the entry writes them; without copying
  // the event into an entry first.
  using google::protobuf::internal::WireFormatLite;
  constexpr auto kBytes = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    auto message = [&](int field, const google::protobuf::MessageLite& m) {
      coded.WriteTag(WireFormatLite::MakeTag(field, kBytes));
      coded.WriteVarint32(static_cast<uint32_t>(m.ByteSizeLong()));
      m.SerializeWithCachedSizes(&coded);
    };
    message(1, event);
    if (disclosure != nullptr) message(2, *disclosure);
    if (!subject_id.empty()) {
      coded.WriteTag(WireFormatLite::MakeTag(3, kBytes));
      coded.WriteVarint32(static_cast<uint32_t>(subject_id.size()));
      coded.WriteString(subject_id);
    }
  }
  return out;
}

const std::string& AuditTrailProjection::name() const {
  static const std::string* const kName = new std::string(kAuditTrailName);
  return *kName;
}

absl::Status AuditTrailProjection::Apply(const v1::RecordedEvent& event,
                                         storage::ProjectionBatch& batch) {
  std::optional<Attribution> a = Attribute(event.payload());
  if (!a.has_value()) return absl::OkStatus();
  const std::string stream_key = AuditStreamKey(event.stream());
  std::string subject = std::move(a->subject);
  if (a->lookup) {
    ASSIGN_OR_RETURN(std::optional<std::string> mapped, batch.Get(stream_key));
    // A stream about no subject (or one never created).
    if (!mapped.has_value()) return absl::OkStatus();
    subject = *std::move(mapped);
  }
  if (subject.empty()) return absl::OkStatus();
  if (a->creates) batch.Put(stream_key, subject);

  const std::string value = AuditEntryBytes(event, a->disclosure, subject);

  // Each entry's key names the event's position: written once, never read
  // by Apply.
  batch.PutNew(AuditTrailKey(subject, event.position()), value);
  if (a->consent) {
    std::string key = AuditConsentPrefix(subject);
    PutBigEndian64(&key, event.position());
    batch.PutNew(key, value);
  }
  if (a->disclosure != nullptr) {
    const std::string& from = a->disclosure->from().organisation();
    const std::string& to = a->disclosure->to().organisation();
    if (!from.empty()) batch.PutNew(OrgKey(from, event), value);
    if (!to.empty() && to != from) batch.PutNew(OrgKey(to, event), value);
  }
  return absl::OkStatus();
}

absl::Status ReadSubjectTrail(storage::ProjectionStore& store,
                              uint32_t generation,
                              const std::string& subject_id,
                              uint64_t after_position, size_t limit,
                              std::vector<v1::AuditEntry>* out,
                              uint64_t* next_after) {
  out->clear();
  *next_after = 0;
  if (limit == 0) {
    return absl::InvalidArgumentError("audit trail: limit must be at least 1");
  }
  if (after_position == std::numeric_limits<uint64_t>::max()) {
    return absl::OkStatus();
  }
  const std::string prefix = AuditTrailPrefix(subject_id);
  std::string from = prefix;
  PutBigEndian64(&from, after_position + 1);
  absl::Status status;
  bool more = false;
  RETURN_IF_ERROR(
      store.Scan(kAuditTrailName, generation, from, PrefixEnd(prefix),
                 [&](absl::string_view key, absl::string_view value) {
                   if (out->size() == limit) {
                     more = true;
                     return false;
                   }
                   status = ParseEntry(key, value, &out->emplace_back());
                   return status.ok();
                 }));
  RETURN_IF_ERROR(status);
  if (more) *next_after = out->back().event().position();
  return absl::OkStatus();
}

absl::Status ReadOrganisationDisclosures(
    storage::ProjectionStore& store, uint32_t generation,
    const std::string& organisation, absl::Time from, absl::Time to,
    const DisclosureCursor& after, size_t limit,
    std::vector<v1::AuditEntry>* out, DisclosureCursor* next) {
  out->clear();
  *next = DisclosureCursor();
  if (limit == 0) {
    return absl::InvalidArgumentError(
        "organisation disclosures: limit must be at least 1");
  }
  const std::string prefix = AuditOrgPrefix(organisation);
  std::string start = prefix;
  PutTime(&start, from);
  if (!after.done()) {
    if (after.position == std::numeric_limits<uint64_t>::max()) {
      return absl::OkStatus();
    }
    std::string resume = prefix;
    PutTime(&resume, after.recorded_at);
    PutBigEndian64(&resume, after.position + 1);
    if (resume > start) start = std::move(resume);
  }
  std::string end = prefix;
  PutTime(&end, to);
  if (end <= start) return absl::OkStatus();
  absl::Status status;
  bool more = false;
  RETURN_IF_ERROR(
      store.Scan(kAuditTrailName, generation, start, end,
                 [&](absl::string_view key, absl::string_view value) {
                   if (out->size() == limit) {
                     more = true;
                     return false;
                   }
                   status = ParseEntry(key, value, &out->emplace_back());
                   return status.ok();
                 }));
  RETURN_IF_ERROR(status);
  if (more) {
    next->recorded_at = FromProtoTime(out->back().event().recorded_at());
    next->position = out->back().event().position();
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ConsentInForceResponse> ConsentInForce(
    storage::ProjectionStore& store, uint32_t generation,
    const v1::ConsentInForceRequest& request, const ShownFilter& shown) {
  if (request.subject_id().empty()) {
    return absl::InvalidArgumentError("subject_id: is required");
  }
  if (request.purpose() == v1::PURPOSE_UNSPECIFIED) {
    return absl::InvalidArgumentError("purpose: is required");
  }
  if (request.category() == v1::DATA_CATEGORY_UNSPECIFIED) {
    return absl::InvalidArgumentError("category: is required");
  }
  if (!request.has_at()) return absl::InvalidArgumentError("at: is required");
  const absl::Time at = FromProtoTime(request.at());

  // The subject's consent events up to `at`, read first: `shown` may read
  // the log, which it must not do inside the store's scan.
  std::vector<v1::AuditEntry> entries;
  absl::Status status;
  const std::string prefix = AuditConsentPrefix(request.subject_id());
  RETURN_IF_ERROR(
      store.Scan(kAuditTrailName, generation, prefix, PrefixEnd(prefix),
                 [&](absl::string_view key, absl::string_view value) {
                   v1::AuditEntry entry;
                   status = ParseEntry(key, value, &entry);
                   if (!status.ok()) return false;
                   if (FromProtoTime(entry.event().recorded_at()) <= at) {
                     entries.push_back(std::move(entry));
                   }
                   return true;
                 }));
  RETURN_IF_ERROR(status);
  // Each consent (by stream) in the order of its first event.
  std::vector<std::string> order;
  std::map<std::string, domain::ConsentView> views;
  // Consents whose later events `shown` leaves out: each is folded up to
  // the first event hidden from the reader (a consent given before a school
  // left the case and varied after: not what it saw), then takes only the
  // withdrawals the reader sees (domain::ApplyLaterWithdrawal), or is left
  // out whole.
  std::set<std::string> hidden;
  for (const v1::AuditEntry& entry : entries) {
    const v1::RecordedEvent& e = entry.event();
    if (hidden.count(e.stream()) > 0) {
      auto folded = views.find(e.stream());
      if (folded == views.end()) continue;
      ASSIGN_OR_RETURN(bool is, shown(entry));
      if (is) domain::ApplyLaterWithdrawal(e.payload(), &folded->second);
      continue;
    }
    auto [it, added] = views.try_emplace(e.stream());
    if (shown != nullptr) {
      ASSIGN_OR_RETURN(bool is, shown(entry));
      if (!is) {
        if (added) views.erase(it);
        hidden.insert(e.stream());
        continue;
      }
    }
    if (added) order.push_back(e.stream());
    RETURN_IF_ERROR(domain::ApplyConsentEvent(e.payload(), e.stream_version(),
                                              &it->second));
  }

  domain::ProposedDisclosure proposed;
  proposed.subject_id = request.subject_id();
  proposed.to = request.recipient();
  proposed.purpose = request.purpose();
  proposed.categories = {request.category()};
  proposed.at = at;

  v1::ConsentInForceResponse response;
  for (const std::string& stream : order) {
    const domain::ConsentView& view = views.at(stream);
    absl::Status covers = domain::CheckConsentCovers(view, proposed);
    if (covers.ok()) {
      response.set_covered(true);
      response.set_consent_id(view.consent_id);
      response.set_consent_version(view.version);
      response.clear_reasons();
      return response;
    }
    response.add_reasons(std::string(covers.message()));
  }
  if (order.empty()) response.add_reasons("no consent recorded");
  return response;
}

}  // namespace ycr::projections
