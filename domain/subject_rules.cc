#include "domain/subject_rules.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/proto_time.h"
#include "domain/field_checks.h"
#include "domain/refusals.h"
#include "domain/retention_rules.h"

namespace ycr::domain {
namespace {

absl::Status ValidateContacts(
    const google::protobuf::RepeatedPtrField<v1::ContactDetail>& contacts,
    absl::string_view field) {
  if (contacts.size() > 20) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": at most 20"));
  }
  for (int i = 0; i < contacts.size(); ++i) {
    const std::string at = absl::StrCat(field, "[", i, "]");
    if (absl::Status s =
            RequiredText(contacts[i].kind(), absl::StrCat(at, ".kind"));
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            RequiredText(contacts[i].value(), absl::StrCat(at, ".value"));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

bool SameContacts(
    const google::protobuf::RepeatedPtrField<v1::ContactDetail>& a,
    const google::protobuf::RepeatedPtrField<v1::ContactDetail>& b) {
  if (a.size() != b.size()) return false;
  for (int i = 0; i < a.size(); ++i) {
    if (a[i].SerializeAsString() != b[i].SerializeAsString()) return false;
  }
  return true;
}

}  // namespace

std::string SubjectRecordKey(const std::string& subject_id) {
  return "subject/" + subject_id;
}

std::string SubjectSaltKey(const std::string& subject_id) {
  return "subject-salt/" + subject_id;
}

std::string SubjectPersonalKey(const std::string& subject_id) {
  return "subject-personal/" + subject_id;
}

std::string SubjectChildProtectionKey(const std::string& subject_id) {
  return "subject-cp/" + subject_id;
}

std::vector<std::string> ChildProtectionHolders(
    const std::optional<std::string>& value) {
  if (!value.has_value() || value->empty()) return {};
  std::vector<std::string> out = absl::StrSplit(*value, '\n');
  return out;
}

std::string AddChildProtectionHolder(const std::optional<std::string>& value,
                                     const std::string& organisation) {
  std::vector<std::string> holders = ChildProtectionHolders(value);
  holders.push_back(organisation);
  std::sort(holders.begin(), holders.end());
  holders.erase(std::unique(holders.begin(), holders.end()), holders.end());
  return absl::StrJoin(holders, "\n");
}

SplitRecord SplitSubjectRecord(const v1::SubjectRecord& record) {
  SplitRecord out;
  out.personal = record;
  out.personal.clear_subject_id();
  out.personal.clear_holder();
  out.personal.clear_revision();
  out.personal.clear_updated_at();
  out.personal.clear_erased();
  out.skeleton.set_subject_id(record.subject_id());
  out.skeleton.set_holder(record.holder());
  out.skeleton.set_revision(record.revision());
  *out.skeleton.mutable_updated_at() = record.updated_at();
  out.skeleton.set_erased(record.erased());
  return out;
}

absl::Status ValidateSubjectRecord(const v1::SubjectRecord& r, absl::Time now) {
  if (absl::Status s = ValidId(r.subject_id(), "record.subject_id"); !s.ok()) {
    return s;
  }
  if (absl::Status s = RequiredText(r.given_name(), "record.given_name");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = RequiredText(r.family_name(), "record.family_name");
      !s.ok()) {
    return s;
  }
  absl::CivilDay dob;
  if (r.date_of_birth().size() != 10 ||
      !absl::ParseCivilTime(r.date_of_birth(), &dob) ||
      absl::FormatCivilTime(dob) != r.date_of_birth() || dob.year() < 1900) {
    return absl::InvalidArgumentError(
        "record.date_of_birth: a date, YYYY-MM-DD");
  }
  if (absl::FromCivil(dob, absl::UTCTimeZone()) > now) {
    return absl::InvalidArgumentError(
        "record.date_of_birth: cannot be in the future");
  }
  if (const size_t bytes = r.ByteSizeLong(); bytes > kMaxRecordBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record: ", bytes, " bytes, more than the limit of ", kMaxRecordBytes));
  }
  if (absl::Status s = ValidateContacts(r.contacts(), "record.contacts");
      !s.ok()) {
    return s;
  }
  if (r.related().size() > 20) {
    return absl::InvalidArgumentError("record.related: at most 20");
  }
  std::set<std::string> refs;
  for (int i = 0; i < r.related().size(); ++i) {
    const v1::RelatedPerson& p = r.related(i);
    const std::string at = absl::StrCat("record.related[", i, "]");
    if (absl::Status s = ValidId(p.person_ref(), at + ".person_ref"); !s.ok()) {
      return s;
    }
    if (!refs.insert(p.person_ref()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, ".person_ref: ", p.person_ref(), " appears twice"));
    }
    if (absl::Status s = RequiredText(p.name(), at + ".name"); !s.ok()) {
      return s;
    }
    // A code (the contract classifies it so, and views that hide names
    // show it): never free text about the person.
    if (absl::Status s = CheckCode(p.relationship(), at + ".relationship",
                                   RelationshipCodes(), /*optional=*/true);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ValidateContacts(p.contacts(), at + ".contacts");
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> ChangedParts(const v1::SubjectRecord* before,
                                      const v1::SubjectRecord& after) {
  std::vector<std::string> changed;
  if (before == nullptr || before->given_name() != after.given_name()) {
    changed.push_back("given_name");
  }
  if (before == nullptr || before->family_name() != after.family_name()) {
    changed.push_back("family_name");
  }
  if (before == nullptr || before->date_of_birth() != after.date_of_birth()) {
    changed.push_back("date_of_birth");
  }
  if (before == nullptr ||
      !SameContacts(before->contacts(), after.contacts())) {
    changed.push_back("contacts");
  }
  bool related_same =
      before != nullptr && before->related().size() == after.related().size();
  for (int i = 0; related_same && i < after.related().size(); ++i) {
    related_same = before->related(i).SerializeAsString() ==
                   after.related(i).SerializeAsString();
  }
  if (!related_same) changed.push_back("related");
  return changed;
}

absl::Status CheckSubjectRecordPut(const v1::SubjectRecord* current,
                                   const v1::Actor& caller) {
  if (current == nullptr) return absl::OkStatus();
  return ActsFor(caller.organisation(), current->holder(),
                 "the record's holder", "change it");
}

absl::Status DecideIdentification(const v1::SubjectRecord* record,
                                  const v1::Actor& caller,
                                  v1::EventPayload* event) {
  auto* e = event->mutable_young_carer_identified();
  if (absl::Status s = ValidId(e->subject_id(), "identification.subject_id");
      !s.ok()) {
    return s;
  }
  if (e->census_code() == v1::CENSUS_CODE_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "identification.census_code: is required (N, P or S)");
  }
  if (e->school().empty()) e->set_school(caller.organisation());
  if (absl::Status s = ActsFor(caller.organisation(), e->school(), "the school",
                               "identify its pupils");
      !s.ok()) {
    return s;
  }
  if (record == nullptr) return NotFound("subject");
  // The holder first: that the subject was erased is the holder's to learn,
  // not another school's.
  if (absl::Status s =
          ActsFor(caller.organisation(), record->holder(),
                  "the record's holder", "identify the pupil as a young carer");
      !s.ok()) {
    return s;
  }
  if (record->erased()) {
    return SubjectErased(
        record->subject_id(),
        absl::StrCat("erasure rule: subject ", record->subject_id(),
                     " was erased; nothing more is recorded about them"));
  }
  if (!e->cares_for_ref().empty()) {
    bool known = false;
    for (const v1::RelatedPerson& p : record->related()) {
      known = known || p.person_ref() == e->cares_for_ref();
    }
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("identification.cares_for_ref: ", e->cares_for_ref(),
                       " is not a related person in the subject record"));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplySubjectEvent(const v1::RecordedEvent& recorded,
                               SubjectView* view) {
  const v1::EventPayload& event = recorded.payload();
  switch (event.kind_case()) {
    case v1::EventPayload::kSubjectRecordChanged:
      view->holder = event.subject_record_changed().holder();
      break;
    case v1::EventPayload::kYoungCarerIdentified:
      view->census_code = event.young_carer_identified().census_code();
      view->identified_by = event.young_carer_identified().school();
      break;
    case v1::EventPayload::kLegalHoldPlaced:
      view->holds[event.legal_hold_placed().hold_id()] =
          event.legal_hold_placed().organisation();
      break;
    case v1::EventPayload::kLegalHoldLifted:
      view->holds.erase(event.legal_hold_lifted().hold_id());
      break;
    case v1::EventPayload::kSubjectErased:
      view->erased = true;
      break;
    case v1::EventPayload::kErasureRefused:
      break;
    case v1::EventPayload::kChildProtectionKept: {
      for (const std::string& org : KeepersOf(event.child_protection_kept())) {
        KeptRecord& kept = view->kept[org];
        kept.kept_position = recorded.position();
        kept.kept_at = FromProtoTime(recorded.recorded_at());
      }
      break;
    }
    case v1::EventPayload::kChildProtectionReviewed: {
      const v1::ChildProtectionReviewed& r = event.child_protection_reviewed();
      if (r.decision() == v1::RETENTION_DECISION_DESTROY) {
        view->kept.erase(r.organisation());
      } else if (auto it = view->kept.find(r.organisation());
                 it != view->kept.end()) {
        it->second.next_review = FromProtoTime(r.next_review_at());
        it->second.keep_reason = r.keep_reason();
      }
      break;
    }
    default:
      return absl::InvalidArgumentError("payload: is not a subject event");
  }
  view->version = recorded.stream_version();
  return absl::OkStatus();
}

}  // namespace ycr::domain
