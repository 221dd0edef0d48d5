// The consent in force for each disclosure (cli_export_internal.h): one fold
// of the subject's consents, with the server's own rule
// (domain/consent_rules.h), for `ycr audit export`, which folds the trail,
// and for `ycr audit verify`, which folds the records an export's receipts
// hold and so checks the consent columns offline.

#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "clients/cli/cli_export_internal.h"
#include "common/carried_disclosure.h"
#include "google/protobuf/util/time_util.h"

namespace ycr::cli::internal {
namespace {

using google::protobuf::util::TimeUtil;

absl::Time RecordedAt(const v1::RecordedEvent& e) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(e.recorded_at()));
}

// The view that `e` alone folds to, or nullopt when it is no consent event
// (the domain's own test of one).
std::optional<domain::ConsentView> FoldedAlone(const v1::RecordedEvent& e) {
  domain::ConsentView view;
  if (!domain::ApplyConsentEvent(e.payload(), e.stream_version(), &view).ok()) {
    return std::nullopt;
  }
  return view;
}

// True when `e` is of an event kind this client does not know: its payload
// holds no kind it has, but a field it has not (a newer server's kind).
bool UnknownKind(const v1::RecordedEvent& e) {
  return e.payload().kind_case() == v1::EventPayload::KIND_NOT_SET &&
         !e.payload().GetReflection()->GetUnknownFields(e.payload()).empty();
}

std::string UnknownKindText(const std::string& id, uint64_t version) {
  return absl::StrCat("consent ", id, " version ", version,
                      ", whose record is of an event kind this client does "
                      "not know (use a newer ycr)");
}

}  // namespace

void ConsentFold::Apply(const v1::RecordedEvent& e) {
  Folded& folded = views_[e.stream()];
  domain::ConsentView next = folded.view;
  if (domain::ApplyConsentEvent(e.payload(), e.stream_version(), &next).ok()) {
    folded.view = next;
    folded.positions.push_back(e.position());
  } else if (folded.view.version == 0) {
    views_.erase(e.stream());
  } else if (UnknownKind(e)) {
    // A step of the consent the fold cannot take: skipping it would state
    // the consent as it was before it.
    folded.positions.push_back(e.position());
    if (folded.unknown_version == 0)
      folded.unknown_version = e.stream_version();
  }
}

ConsentInForce ConsentFold::Check(const v1::DisclosureRecorded& d,
                                  absl::Time at) const {
  ConsentInForce result;
  if (!d.has_consent()) {
    // Made without consent: whether some consent would have covered it
    // rests on every consent of the subject, which no receipt can show to
    // be all of them; the basis it was made on says what it rested on.
    result.reasons.push_back(d.has_safeguarding()
                                 ? "made on a safeguarding basis, under no "
                                   "consent"
                                 : "no consent named");
    return result;
  }
  domain::ProposedDisclosure proposed{
      d.subject_id(), d.to(), d.purpose(), {}, at};
  for (int c : d.categories()) {
    proposed.categories.push_back(static_cast<v1::DataCategory>(c));
  }
  for (const auto& [stream, folded] : views_) {
    if (folded.view.consent_id != d.consent().consent_id()) continue;
    result.relied_on = folded.positions;
    if (folded.unknown_version != 0) {
      result.reasons.push_back(absl::StrCat(
          "it cannot be worked out: ",
          UnknownKindText(folded.view.consent_id, folded.unknown_version)));
      return result;
    }
    absl::Status covers = domain::CheckConsentCovers(folded.view, proposed);
    if (covers.ok()) {
      result.covered = true;
      result.consent_id = folded.view.consent_id;
      result.consent_version = folded.view.version;
      result.terms = folded.view.terms;
      return result;
    }
    result.reasons.emplace_back(covers.message());
    return result;
  }
  result.reasons.push_back(absl::StrCat("consent ", d.consent().consent_id(),
                                        " is not in the subject's trail"));
  return result;
}

std::map<size_t, ConsentInForce> CheckDisclosures(
    const std::vector<v1::AuditEntry>& entries) {
  ConsentFold fold;
  std::map<size_t, ConsentInForce> checks;
  for (size_t i = 0; i < entries.size(); ++i) {
    const v1::RecordedEvent& e = entries[i].event();
    // A skeleton has no purpose or basis to check: no verdict on it.
    if (entries[i].has_disclosure() &&
        entries[i].shown() != v1::AuditEntry::SHOWN_SKELETON) {
      checks[i] = fold.Check(entries[i].disclosure(), RecordedAt(e));
    }
    fold.Apply(e);
  }
  return checks;
}

const v1::DisclosureRecorded* DisclosureOf(const v1::EventPayload& p) {
  // The one answer of which disclosure an event carries; one it may carry
  // but does not (a referral's, a transfer's, a social-care referral's
  // unset) is the default instance, and the trail files none.
  const v1::DisclosureRecorded* d = CarriedDisclosure(p);
  return d == &v1::DisclosureRecorded::default_instance() ? nullptr : d;
}

absl::StatusOr<ConsentInForce> ConsentFromRecords(
    const v1::RecordedEvent& record,
    const std::map<uint64_t, v1::RecordedEvent>& held) {
  const v1::DisclosureRecorded* d = DisclosureOf(record.payload());
  if (d == nullptr) {
    return absl::InvalidArgumentError("the record carries no disclosure");
  }
  ConsentFold fold;
  if (d->has_consent()) {
    // The append of a disclosure required its consent's stream to be still
    // at the version it names, so the records of that consent before it are
    // exactly its versions 1 to that one: each must be held, once.
    // Its stream is the one whose first record grants or refuses it.
    const std::string& id = d->consent().consent_id();
    const uint64_t version = d->consent().consent_version();
    std::set<std::string> streams;
    for (const auto& [position, e] : held) {
      std::optional<domain::ConsentView> alone = FoldedAlone(e);
      if (position < record.position() && e.stream_version() == 1 &&
          alone.has_value() && alone->consent_id == id) {
        streams.insert(e.stream());
      }
    }
    if (streams.size() > 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("consent ", id, " is granted or refused ",
                       streams.size(), " times in the export"));
    }
    std::map<uint64_t, const v1::RecordedEvent*> steps;  // By version.
    for (const auto& [position, e] : held) {
      if (streams.count(e.stream()) > 0 && position < record.position() &&
          e.stream_version() <= version) {
        steps.emplace(e.stream_version(), &e);
      }
    }
    for (uint64_t v = 1; v <= version; ++v) {
      if (steps.count(v) == 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "it rests on consent ", id, " version ", v,
            ", whose record the export does not hold with its receipt"));
      }
    }
    for (const auto& [v, e] : steps) {
      if (UnknownKind(*e)) {
        return absl::FailedPreconditionError(
            absl::StrCat("it rests on ", UnknownKindText(id, v)));
      }
      fold.Apply(*e);
    }
  }
  return fold.Check(*d, RecordedAt(record));
}

std::string ConsentRecordName(const v1::RecordedEvent& e) {
  std::optional<domain::ConsentView> alone = FoldedAlone(e);
  if (!alone.has_value()) return "";
  if (alone->consent_id.empty()) {
    return absl::StrCat("a step of consent stream ", e.stream());
  }
  return absl::StrCat("consent ", alone->consent_id, " (about subject ",
                      alone->subject_id, ")");
}

}  // namespace ycr::cli::internal
