#include "projections/deadlines.h"

#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/proto_bytes.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "domain/agreement_rules.h"
#include "domain/subject_rules.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "storage/key_format.h"

namespace ycr::projections {
namespace {

using Item = v1::DeadlineItem;
using Kind = v1::DeadlineItem::Kind;

constexpr absl::Duration kDay = absl::Hours(24);
constexpr int kRetentionYears = 25;

template <typename M>
absl::StatusOr<std::optional<M>> Load(storage::ProjectionBatch& batch,
                                      const std::string& key) {
  ASSIGN_OR_RETURN(std::optional<std::string> bytes, batch.Get(key));
  if (!bytes.has_value()) return std::optional<M>();
  M m;
  if (!m.ParseFromString(*bytes)) {
    return absl::DataLossError("deadlines: malformed state under a key");
  }
  return std::optional<M>(std::move(m));
}

// Time as 8 bytes whose byte order is time order.
std::string TimeKey(absl::Time t) {
  std::string out;
  storage::PutBigEndian64(
      &out, static_cast<uint64_t>(absl::ToUnixMicros(t)) + (uint64_t{1} << 63));
  return out;
}

std::string Tail(Kind kind, const std::string& id) {
  return absl::StrCat(std::string(1, static_cast<char>(kind)), id);
}

std::string DueKey(const std::string& due, Kind kind, const std::string& id) {
  return absl::StrCat("d", due, Tail(kind, id));
}

std::string OwnerKey(const std::string& owner, const std::string& due,
                     Kind kind, const std::string& id) {
  return absl::StrCat("o", owner, std::string(1, '\0'), due, Tail(kind, id));
}

std::string IndexKey(Kind kind, const std::string& id) {
  return absl::StrCat("i", Tail(kind, id));
}

std::string PairKey(const std::string& school, const std::string& service) {
  return absl::StrCat("p", school, std::string(1, '\0'), service);
}

// The id after "<kind>-" in a stream name.
std::string IdOf(const std::string& stream) {
  const size_t dash = stream.find('-');
  return dash == std::string::npos ? "" : stream.substr(dash + 1);
}

absl::Status DropItem(storage::ProjectionBatch& batch, Kind kind,
                      const std::string& id) {
  ASSIGN_OR_RETURN(std::optional<std::string> index,
                   batch.Get(IndexKey(kind, id)));
  if (!index.has_value()) return absl::OkStatus();
  if (index->size() < 8) {
    return absl::DataLossError("deadlines: malformed item index");
  }
  const std::string due = index->substr(0, 8);
  batch.Delete(DueKey(due, kind, id));
  if (index->size() > 8) {
    for (absl::string_view owner :
         absl::StrSplit(absl::string_view(*index).substr(8), '\0')) {
      batch.Delete(OwnerKey(std::string(owner), due, kind, id));
    }
  }
  batch.Delete(IndexKey(kind, id));
  return absl::OkStatus();
}

// The organisations an item is listed under.
absl::StatusOr<std::vector<std::string>> Owners(storage::ProjectionBatch& batch,
                                                Kind kind,
                                                const std::string& id) {
  ASSIGN_OR_RETURN(std::optional<std::string> index,
                   batch.Get(IndexKey(kind, id)));
  std::vector<std::string> owners;
  if (index.has_value() && index->size() > 8) {
    for (absl::string_view owner :
         absl::StrSplit(absl::string_view(*index).substr(8), '\0')) {
      owners.emplace_back(owner);
    }
  }
  return owners;
}

absl::StatusOr<std::optional<Item>> LoadItem(storage::ProjectionBatch& batch,
                                             Kind kind, const std::string& id) {
  ASSIGN_OR_RETURN(std::optional<std::string> index,
                   batch.Get(IndexKey(kind, id)));
  if (!index.has_value()) return std::optional<Item>();
  return Load<Item>(batch, DueKey(index->substr(0, 8), kind, id));
}

// Puts (or moves) `item`, listed under each of `owners`.
absl::Status PutItem(storage::ProjectionBatch& batch, const Item& item,
                     const std::vector<std::string>& owners) {
  RETURN_IF_ERROR(DropItem(batch, item.kind(), item.id()));
  const std::string due = TimeKey(FromProtoTime(item.due_at()));
  const std::string value = DeterministicBytes(item);
  batch.Put(DueKey(due, item.kind(), item.id()), value);
  std::string index = due;
  for (size_t i = 0; i < owners.size(); ++i) {
    batch.Put(OwnerKey(owners[i], due, item.kind(), item.id()), value);
    if (i > 0) index.push_back('\0');
    index.append(owners[i]);
  }
  batch.Put(IndexKey(item.kind(), item.id()), index);
  return absl::OkStatus();
}

Item NewItem(Kind kind, const std::string& id, absl::Time due,
             const std::string& owed_by, const std::string& owed_to,
             const google::protobuf::Timestamp& since,
             const google::protobuf::RepeatedField<uint64_t>& positions,
             const std::string& subject_id) {
  Item item;
  item.set_kind(kind);
  item.set_id(id);
  *item.mutable_due_at() = ToProtoTime(due);
  item.set_owed_by(owed_by);
  item.set_owed_to(owed_to);
  *item.mutable_since() = since;
  *item.mutable_source_positions() = positions;
  item.set_subject_id(subject_id);
  return item;
}

// Days the agreement between `school` and `service` gives (14 without one).
absl::StatusOr<uint32_t> PairResponseDays(storage::ProjectionBatch& batch,
                                          const std::string& school,
                                          const std::string& service) {
  ASSIGN_OR_RETURN(std::optional<std::string> agreement_id,
                   batch.Get(PairKey(school, service)));
  if (!agreement_id.has_value()) return domain::kDefaultResponseDays;
  ASSIGN_OR_RETURN(auto agreement, Load<v1::DeadlineAgreementState>(
                                       batch, "a" + *agreement_id));
  if (!agreement.has_value()) return domain::kDefaultResponseDays;
  return agreement->response_days();
}

class Applier {
 public:
  Applier(storage::EventLog* log, const v1::RecordedEvent& event,
          storage::ProjectionBatch& batch)
      : log_(log), e_(event), p_(event.payload()), batch_(batch) {}

  absl::Status Apply() {
    switch (p_.kind_case()) {
      case v1::EventPayload::kAgreementDrafted:
      case v1::EventPayload::kAgreementSigned:
      case v1::EventPayload::kAgreementAmended:
      case v1::EventPayload::kAgreementReviewed:
      case v1::EventPayload::kAgreementNoticeGiven:
      case v1::EventPayload::kAgreementTerminated:
        return Agreement();
      case v1::EventPayload::kCorrespondenceReceived:
      case v1::EventPayload::kCorrespondenceAcknowledged:
      case v1::EventPayload::kCorrespondenceAnswered:
        return Correspondence();
      case v1::EventPayload::kReferralSubmitted:
      case v1::EventPayload::kReferralReceived:
      case v1::EventPayload::kReferralAccepted:
      case v1::EventPayload::kReferralDeclined:
      case v1::EventPayload::kReferralWithdrawn:
      case v1::EventPayload::kReferralCancelled:
      case v1::EventPayload::kReferralEnteredInError:
      case v1::EventPayload::kReferralClosed:
      case v1::EventPayload::kReferralTransferred:
        return Referral();
      case v1::EventPayload::kConsentGranted:
      case v1::EventPayload::kConsentVaried:
      case v1::EventPayload::kConsentWithdrawn:
        return Consent();
      case v1::EventPayload::kSubjectRecordChanged:
        return Retention();
      case v1::EventPayload::kSubjectErased:
        // Nothing left to review: the record's personal data is gone.
        return DropItem(batch_, Item::RETENTION_REVIEW,
                        p_.subject_erased().subject_id());
      case v1::EventPayload::kOverdueFlagged:
        return Flag();
      default:
        return absl::OkStatus();
    }
  }

 private:
  absl::Time at() const { return FromProtoTime(e_.recorded_at()); }

  absl::Status PutReview(const std::string& id,
                         const v1::DeadlineAgreementState& a) {
    domain::AgreementView view;
    view.state = domain::AgreementView::State::kInForce;
    view.terms.set_review_cadence_months(a.review_cadence_months());
    view.in_force_since = FromProtoTime(a.in_force_since());
    if (a.has_last_reviewed_at()) {
      view.last_reviewed_at = FromProtoTime(a.last_reviewed_at());
    }
    std::optional<absl::Time> due = view.ReviewDueAt();
    if (!due.has_value()) return DropItem(batch_, Item::AGREEMENT_REVIEW, id);
    return PutItem(
        batch_,
        NewItem(Item::AGREEMENT_REVIEW, id, *due, a.school(), a.service(),
                a.has_last_reviewed_at() ? a.last_reviewed_at()
                                         : a.in_force_since(),
                a.positions(), ""),
        {a.school(), a.service()});
  }

  absl::Status Agreement() {
    const std::string id = IdOf(e_.stream());
    ASSIGN_OR_RETURN(auto loaded,
                     Load<v1::DeadlineAgreementState>(batch_, "a" + id));
    v1::DeadlineAgreementState a =
        loaded.value_or(v1::DeadlineAgreementState());
    a.add_positions(e_.position());
    auto set_terms = [&a](const v1::AgreementTerms& terms) {
      a.set_school(terms.school().organisation());
      a.set_service(terms.service().organisation());
      a.set_response_days(domain::ResponseDays(terms));
      a.set_review_cadence_months(terms.review_cadence_months());
    };
    const bool in_force = a.signatures() >= 2;
    switch (p_.kind_case()) {
      case v1::EventPayload::kAgreementDrafted:
        set_terms(p_.agreement_drafted().terms());
        break;
      case v1::EventPayload::kAgreementSigned:
        a.set_signatures(a.signatures() + 1);
        if (a.signatures() == 2) {
          *a.mutable_in_force_since() = e_.recorded_at();
          batch_.Put(PairKey(a.school(), a.service()), id);
          RETURN_IF_ERROR(PutReview(id, a));
        }
        break;
      case v1::EventPayload::kAgreementAmended:
        set_terms(p_.agreement_amended().terms());
        if (!in_force) a.set_signatures(0);  // A draft is signed again.
        // Letters received before keep their due dates: an amendment
        // applies to letters received after it takes effect.
        if (in_force && !a.closing()) RETURN_IF_ERROR(PutReview(id, a));
        break;
      case v1::EventPayload::kAgreementReviewed: {
        const auto& reviewed = p_.agreement_reviewed().reviewed_at();
        if (!a.has_last_reviewed_at() ||
            FromProtoTime(reviewed) > FromProtoTime(a.last_reviewed_at())) {
          *a.mutable_last_reviewed_at() = reviewed;
        }
        if (in_force && !a.closing()) RETURN_IF_ERROR(PutReview(id, a));
        break;
      }
      case v1::EventPayload::kAgreementNoticeGiven:
        a.set_closing(true);
        RETURN_IF_ERROR(DropItem(batch_, Item::AGREEMENT_REVIEW, id));
        RETURN_IF_ERROR(PutItem(
            batch_,
            NewItem(Item::CLOSING_PERIOD_END, id,
                    FromProtoTime(
                        p_.agreement_notice_given().closing_period_ends_at()),
                    a.school(), a.service(), e_.recorded_at(), a.positions(),
                    ""),
            {a.school(), a.service()}));
        break;
      case v1::EventPayload::kAgreementTerminated: {
        RETURN_IF_ERROR(DropItem(batch_, Item::CLOSING_PERIOD_END, id));
        RETURN_IF_ERROR(DropItem(batch_, Item::AGREEMENT_REVIEW, id));
        ASSIGN_OR_RETURN(std::optional<std::string> pair,
                         batch_.Get(PairKey(a.school(), a.service())));
        if (pair.has_value() && *pair == id) {
          batch_.Delete(PairKey(a.school(), a.service()));
        }
        break;
      }
      default:
        break;
    }
    batch_.Put("a" + id, DeterministicBytes(a));
    return absl::OkStatus();
  }

  absl::Status PutCorrespondence(const std::string& id,
                                 const v1::DeadlineCorrespondenceState& c) {
    const absl::Time due = c.has_promised_by() ? FromProtoTime(c.promised_by())
                                               : FromProtoTime(c.due_at());
    return PutItem(
        batch_,
        NewItem(Item::CORRESPONDENCE_ANSWER, id, due, c.to(), c.from(),
                c.received_at(), c.positions(), c.subject_id()),
        {c.to()});
  }

  absl::Status Correspondence() {
    const std::string id = IdOf(e_.stream());
    ASSIGN_OR_RETURN(auto loaded,
                     Load<v1::DeadlineCorrespondenceState>(batch_, "c" + id));
    if (p_.has_correspondence_received()) {
      const auto& r = p_.correspondence_received();
      v1::DeadlineCorrespondenceState c;
      c.set_agreement_id(r.agreement_id());
      c.set_from(r.from());
      c.set_to(r.to());
      *c.mutable_received_at() = r.received_at();
      c.set_subject_id(r.subject_id());
      c.add_positions(e_.position());
      if (r.has_due_at()) {
        // Decided at receipt by the terms in force when it was received.
        *c.mutable_due_at() = r.due_at();
      } else {
        ASSIGN_OR_RETURN(auto agreement, Load<v1::DeadlineAgreementState>(
                                             batch_, "a" + r.agreement_id()));
        *c.mutable_due_at() = ToProtoTime(
            FromProtoTime(r.received_at()) +
            kDay * (agreement.has_value() ? agreement->response_days()
                                          : domain::kDefaultResponseDays));
      }
      batch_.Put("c" + id, DeterministicBytes(c));
      return PutCorrespondence(id, c);
    }
    if (!loaded.has_value()) return absl::OkStatus();  // Answered already.
    v1::DeadlineCorrespondenceState& c = *loaded;
    c.add_positions(e_.position());
    if (p_.has_correspondence_acknowledged()) {
      *c.mutable_promised_by() = p_.correspondence_acknowledged().promised_by();
      batch_.Put("c" + id, DeterministicBytes(c));
      return PutCorrespondence(id, c);
    }
    // Answered: nothing more is owed.
    RETURN_IF_ERROR(DropItem(batch_, Item::CORRESPONDENCE_ANSWER, id));
    batch_.Delete("c" + id);
    return absl::OkStatus();
  }

  absl::Status Referral() {
    const std::string id = IdOf(e_.stream());
    ASSIGN_OR_RETURN(auto loaded,
                     Load<v1::DeadlineReferralState>(batch_, "r" + id));
    if (p_.has_referral_submitted()) {
      const auto& s = p_.referral_submitted();
      v1::DeadlineReferralState r;
      r.set_school(s.school());
      r.set_service(s.service());
      r.set_subject_id(s.subject_id());
      r.add_positions(e_.position());
      batch_.Put("r" + id, DeterministicBytes(r));
      ASSIGN_OR_RETURN(uint32_t days,
                       PairResponseDays(batch_, r.school(), r.service()));
      return PutItem(batch_,
                     NewItem(Item::REFERRAL_ACKNOWLEDGEMENT, id,
                             at() + kDay * days, r.service(), r.school(),
                             e_.recorded_at(), r.positions(), r.subject_id()),
                     {r.service()});
    }
    if (!loaded.has_value()) return absl::OkStatus();
    v1::DeadlineReferralState& r = *loaded;
    r.add_positions(e_.position());
    if (p_.has_referral_transferred()) {
      // What the service owes is owed to the new school: the school the
      // child left is named by nothing that comes due after the move.
      r.set_school(p_.referral_transferred().to_school());
      batch_.Put("r" + id, DeterministicBytes(r));
      for (Item::Kind kind :
           {Item::REFERRAL_ACKNOWLEDGEMENT, Item::REFERRAL_DECISION}) {
        ASSIGN_OR_RETURN(std::optional<Item> item, LoadItem(batch_, kind, id));
        if (!item.has_value()) continue;
        item->set_owed_to(r.school());
        item->add_source_positions(e_.position());
        RETURN_IF_ERROR(PutItem(batch_, *item, {r.service()}));
      }
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(DropItem(batch_, Item::REFERRAL_ACKNOWLEDGEMENT, id));
    if (p_.has_referral_received()) {
      batch_.Put("r" + id, DeterministicBytes(r));
      ASSIGN_OR_RETURN(uint32_t days,
                       PairResponseDays(batch_, r.school(), r.service()));
      return PutItem(
          batch_,
          NewItem(Item::REFERRAL_DECISION, id, at() + kDay * days, r.service(),
                  r.school(), e_.recorded_at(), r.positions(), r.subject_id()),
          {r.service()});
    }
    // Decided, or ended: nothing more is owed.
    RETURN_IF_ERROR(DropItem(batch_, Item::REFERRAL_DECISION, id));
    batch_.Delete("r" + id);
    return absl::OkStatus();
  }

  absl::Status Consent() {
    const std::string id = IdOf(e_.stream());
    if (p_.has_consent_withdrawn()) {
      return DropItem(batch_, Item::CONSENT_EXPIRY, id);
    }
    if (p_.has_consent_granted()) {
      const auto& g = p_.consent_granted();
      if (!g.terms().has_valid_until()) return absl::OkStatus();
      google::protobuf::RepeatedField<uint64_t> positions;
      positions.Add(e_.position());
      return PutItem(batch_,
                     NewItem(Item::CONSENT_EXPIRY, id,
                             FromProtoTime(g.terms().valid_until()),
                             e_.actor().organisation(), "", e_.recorded_at(),
                             positions, g.subject_id()),
                     {e_.actor().organisation()});
    }
    // Varied: the expiry moves.
    ASSIGN_OR_RETURN(std::optional<Item> item,
                     LoadItem(batch_, Item::CONSENT_EXPIRY, id));
    const auto& terms = p_.consent_varied().terms();
    if (!item.has_value() || !terms.has_valid_until()) return absl::OkStatus();
    *item->mutable_due_at() = terms.valid_until();
    item->add_source_positions(e_.position());
    return PutItem(batch_, *item, {item->owed_by()});
  }

  absl::Status Flag() {
    const v1::OverdueFlagged& f = p_.overdue_flagged();
    if (!v1::DeadlineItem::Kind_IsValid(static_cast<int>(f.kind()))) {
      return absl::OkStatus();
    }
    const Kind kind = static_cast<Kind>(f.kind());
    ASSIGN_OR_RETURN(std::optional<Item> item, LoadItem(batch_, kind, f.id()));
    if (!item.has_value() ||
        FromProtoTime(item->due_at()) != FromProtoTime(f.due_at())) {
      return absl::OkStatus();  // Done or moved since: nothing to mark.
    }
    if (!item->has_flagged_at()) *item->mutable_flagged_at() = f.flagged_at();
    item->set_escalated(item->escalated() || f.escalated());
    item->add_source_positions(e_.position());
    ASSIGN_OR_RETURN(std::vector<std::string> owners,
                     Owners(batch_, kind, f.id()));
    return PutItem(batch_, *item, owners);
  }

  absl::Status Retention() {
    const auto& changed = p_.subject_record_changed();
    const std::string& subject = changed.subject_id();
    // The date of birth is among the record's personal fields.
    ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                     log_->GetRecord(domain::SubjectPersonalKey(subject)));
    v1::SubjectRecord record;
    absl::CivilDay dob;
    if (!bytes.has_value() || !record.ParseFromString(*bytes) ||
        !absl::ParseCivilTime(record.date_of_birth(), &dob)) {
      return absl::OkStatus();  // Erased, or not a date: nothing to review.
    }
    const absl::CivilDay review(dob.year() + kRetentionYears, dob.month(),
                                dob.day());
    google::protobuf::RepeatedField<uint64_t> positions;
    positions.Add(e_.position());
    return PutItem(
        batch_,
        NewItem(Item::RETENTION_REVIEW, subject,
                absl::FromCivil(review, absl::UTCTimeZone()), changed.holder(),
                "", e_.recorded_at(), positions, subject),
        {changed.holder()});
  }

  storage::EventLog* const log_;
  const v1::RecordedEvent& e_;
  const v1::EventPayload& p_;
  storage::ProjectionBatch& batch_;
};

}  // namespace

const std::string& DeadlinesProjection::name() const {
  static const std::string* kName = new std::string("deadlines");
  return *kName;
}

absl::Status DeadlinesProjection::Apply(const v1::RecordedEvent& event,
                                        storage::ProjectionBatch& batch) {
  return Applier(log_, event, batch).Apply();
}

absl::StatusOr<std::optional<v1::DeadlineItem>> FindItem(
    storage::ProjectionStore& store, uint32_t generation,
    v1::DeadlineItem::Kind kind, const std::string& id) {
  ASSIGN_OR_RETURN(std::optional<std::string> index,
                   store.Get("deadlines", generation, IndexKey(kind, id)));
  if (!index.has_value()) return std::optional<Item>();
  ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                   store.Get("deadlines", generation,
                             DueKey(index->substr(0, 8), kind, id)));
  Item item;
  if (!bytes.has_value() || !item.ParseFromString(*bytes)) {
    return absl::DataLossError("deadlines: an indexed item is missing");
  }
  return std::optional<Item>(std::move(item));
}

absl::Status ListDue(storage::ProjectionStore& store, uint32_t generation,
                     absl::Time by, const std::string& organisation,
                     const std::string& page_token, size_t limit,
                     std::vector<v1::DeadlineItem>* out,
                     std::string* next_page_token) {
  const std::string token = page_token;  // May alias *next_page_token.
  next_page_token->clear();
  const std::string prefix =
      organisation.empty()
          ? std::string("d")
          : absl::StrCat("o", organisation, std::string(1, '\0'));
  std::string from = prefix;
  if (!token.empty()) {
    std::string last;
    if (!absl::WebSafeBase64Unescape(token, &last) ||
        !absl::StartsWith(last, prefix)) {
      return absl::InvalidArgumentError(
          "page_token: not from this query (same organisation)");
    }
    from = last + std::string(1, '\0');  // Strictly after the last one.
  }
  // Up to and including `by` (clamped: the infinite future is the end).
  const uint64_t last_due =
      static_cast<uint64_t>(absl::ToUnixMicros(by)) + (uint64_t{1} << 63);
  std::string to = prefix;
  if (last_due == ~uint64_t{0}) {
    to.append(9, '\xff');
  } else {
    storage::PutBigEndian64(&to, last_due + 1);
  }
  if (from >= to) return absl::OkStatus();
  std::string last_key;
  absl::Status parse_error;
  RETURN_IF_ERROR(store.Scan(
      "deadlines", generation, from, to,
      [&](absl::string_view key, absl::string_view value) {
        Item item;
        if (!item.ParseFromArray(value.data(),
                                 static_cast<int>(value.size()))) {
          parse_error = absl::DataLossError("deadlines: malformed item");
          return false;
        }
        out->push_back(std::move(item));
        if (out->size() >= limit) {
          last_key = std::string(key);
          return false;
        }
        return true;
      }));
  RETURN_IF_ERROR(parse_error);
  if (!last_key.empty()) *next_page_token = absl::WebSafeBase64Escape(last_key);
  return absl::OkStatus();
}

}  // namespace ycr::projections
