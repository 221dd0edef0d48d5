#include "services/visibility.h"

#include <algorithm>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "domain/subject_rules.h"
#include "services/domain_commands.h"
#include "services/security/access_policy.h"
#include "services/security/area_access.h"
#include "ycr/v1/subject.pb.h"

namespace ycr::services {
namespace {

constexpr domain::Relation kRecorderOrParty[] = {domain::Relation::kRecorder,
                                                 domain::Relation::kParty};

bool Contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

void AddOnce(const std::string& s, std::vector<std::string>* list) {
  if (!s.empty() && !Contains(*list, s)) list->push_back(s);
}

}  // namespace

absl::StatusOr<bool> ReaderView::LeftTheCase(
    const std::string& subject_id,
    const std::vector<std::string>& organisations, uint64_t position) {
  return LeftTheCase(reader_.organisation(), subject_id, organisations,
                     position);
}

absl::StatusOr<bool> ReaderView::LeftTheCase(
    const std::string& org, const std::string& subject_id,
    const std::vector<std::string>& organisations, uint64_t position) {
  for (const std::string& other : organisations) {
    if (other == org) continue;
    const std::string key = SubjectServiceKey(subject_id, other);
    auto it = marks_.find(key);
    if (it == marks_.end()) {
      ASSIGN_OR_RETURN(std::optional<std::string> marked, log_.GetRecord(key));
      std::vector<std::string> ids;
      if (marked.has_value()) ids = absl::StrSplit(*marked, ',');
      it = marks_.emplace(key, std::move(ids)).first;
    }
    for (const std::string& id : it->second) {
      ASSIGN_OR_RETURN(const StreamParties* referral,
                       PartiesOf(absl::StrCat("referral-", id)));
      if (referral->Away(org, position)) return true;
    }
  }
  return false;
}

bool IsCaseStream(const std::string& stream) {
  for (const char* prefix :
       {"consent-", "referral-", "intervention-", "correspondence-",
        "safeguarding-", "agreement-"}) {
    if (absl::StartsWith(stream, prefix)) return true;
  }
  return false;
}

ReaderView::ReaderView(storage::EventLog& log, const v1::Actor& reader)
    : log_(log), reader_(reader) {}

absl::StatusOr<std::optional<std::string>> ReaderView::HolderOf(
    const std::string& subject_id) {
  if (auto it = holders_.find(subject_id); it != holders_.end()) {
    return it->second;
  }
  std::optional<std::string> holder;
  ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                   log_.GetRecord(domain::SubjectRecordKey(subject_id)));
  v1::SubjectRecord record;
  if (bytes.has_value() && record.ParseFromString(*bytes)) {
    holder = record.holder();
  }
  holders_.emplace(subject_id, holder);
  return holder;
}

absl::StatusOr<bool> ReaderView::InArea(const std::string& organisation) {
  if (auto it = areas_.find(organisation); it != areas_.end()) {
    return it->second;
  }
  ASSIGN_OR_RETURN(bool covered, CoversArea(log_, reader_, organisation));
  areas_.emplace(organisation, covered);
  return covered;
}

bool ReaderView::StreamParties::Away(const std::string& organisation,
                                     uint64_t position) const {
  auto it = away.find(organisation);
  if (it == away.end()) return false;
  for (const auto& [left, back] : it->second) {
    if (position > left && position < back) return true;
  }
  return false;
}

absl::StatusOr<const ReaderView::StreamParties*> ReaderView::PartiesOf(
    const std::string& stream) {
  if (auto it = parties_.find(stream); it != parties_.end()) {
    return &it->second;
  }
  StreamParties out;
  constexpr uint64_t kStill = std::numeric_limits<uint64_t>::max();
  auto leave = [&](const std::string& org, uint64_t version) {
    if (org.empty()) return;
    auto& stretches = out.away[org];
    if (stretches.empty() || stretches.back().second != kStill) {
      stretches.push_back({version, kStill});
    }
  };
  auto come_back = [&](const std::string& org, uint64_t version) {
    auto it = out.away.find(org);
    if (it != out.away.end() && it->second.back().second == kStill) {
      it->second.back().second = version;
    }
  };
  std::string school;       // The referral's school as of the event read.
  std::string referral_id;  // The referral an intervention is planned on.
  storage::ReadStreamOptions options;
  options.from_version = 1;
  while (true) {
    absl::StatusOr<storage::StreamSlice> slice =
        log_.ReadStream(stream, options);
    if (absl::IsNotFound(slice.status())) break;
    if (!slice.ok()) return slice.status();
    for (const v1::RecordedEvent& event : slice->events) {
      AddOnce(event.actor().organisation(), &out.parties);
      for (const std::string& org :
           domain::OrganisationsNamedBy(event.payload())) {
        AddOnce(org, &out.parties);
      }
      const v1::EventPayload& p = event.payload();
      if (p.has_referral_submitted()) {
        school = p.referral_submitted().school();
      } else if (p.has_referral_transferred()) {
        const std::string& to = p.referral_transferred().to_school();
        leave(school, event.position());
        come_back(to, event.position());
        school = to;
      } else if (p.has_referral_entered_in_error()) {
        // The service has no part in the child any more (README, tenancy).
        for (const std::string& org : out.parties) {
          if (org != school) leave(org, event.position());
        }
      } else if (p.has_intervention_planned()) {
        referral_id = p.intervention_planned().referral_id();
      }
    }
    if (slice->next_version == 0) break;
    options.from_version = slice->next_version;
  }
  if (!referral_id.empty() && absl::StartsWith(stream, "intervention-")) {
    // The referral's stretches are the intervention's: a school the child
    // moved from sees none of its later sessions.
    ASSIGN_OR_RETURN(const StreamParties* referral,
                     PartiesOf(absl::StrCat("referral-", referral_id)));
    for (const auto& [org, stretches] : referral->away) {
      auto& mine = out.away[org];
      mine.insert(mine.end(), stretches.begin(), stretches.end());
    }
  }
  return &parties_.emplace(stream, std::move(out)).first->second;
}

absl::StatusOr<std::vector<domain::Relation>> ReaderView::RelationsTo(
    const v1::RecordedEvent& event, const std::string& subject_id) {
  using domain::Relation;
  // The caches reflect the log up to known_to_. An event after it was
  // appended while a paged read went on, and may have moved a case (a
  // transfer, an entry in error) or its subject's record: read afresh.
  if (event.position() > known_to_) {
    parties_.clear();
    holders_.clear();
    areas_.clear();
    marks_.clear();
    known_to_ = log_.GetHead().position;
  }
  std::vector<Relation> relations;
  const std::string& org = reader_.organisation();
  if (reader_.role() == kAuditorRole) relations.push_back(Relation::kAuditor);
  if (event.actor().organisation() == org) {
    relations.push_back(Relation::kRecorder);
  }
  if (Contains(domain::AddresseesOf(event.payload()), org)) {
    relations.push_back(Relation::kAddressee);
  }
  bool away = false;  // From a case it had left (StreamParties).
  const StreamParties* parties = nullptr;
  // The organisations of the event's case: its stream's parties, or those
  // it names and its recorder.
  std::vector<std::string> organisations;
  if (IsCaseStream(event.stream())) {
    ASSIGN_OR_RETURN(parties, PartiesOf(event.stream()));
    away = parties->Away(org, event.position());
    if (!away && Contains(parties->parties, org)) {
      relations.push_back(Relation::kParty);
    }
    organisations = parties->parties;
  } else {
    organisations = domain::OrganisationsNamedBy(event.payload());
    if (Contains(organisations, org)) relations.push_back(Relation::kParty);
    AddOnce(event.actor().organisation(), &organisations);
  }
  std::optional<std::string> holder;
  if (!subject_id.empty()) {
    ASSIGN_OR_RETURN(holder, HolderOf(subject_id));
    // A recorder or a party sees at least what a holder does.
    const bool more =
        std::find_first_of(relations.begin(), relations.end(),
                           std::begin(kRecorderOrParty),
                           std::end(kRecorderOrParty)) != relations.end();
    if (holder.has_value() && *holder == org && !away && !more) {
      ASSIGN_OR_RETURN(
          bool left, LeftTheCase(subject_id, organisations, event.position()));
      if (!left) relations.push_back(Relation::kHolder);
    }
  }
  if (reader_.role() == kLocalAuthorityRole) {
    ASSIGN_OR_RETURN(bool recorder_in_area,
                     InArea(event.actor().organisation()));
    bool holder_in_area = false;
    if (!recorder_in_area && holder.has_value()) {
      ASSIGN_OR_RETURN(holder_in_area, InArea(*holder));
      // Through the holder, only what the holder itself is holder of: not
      // what the case records after it left (a referral moved to another
      // school, maybe in another area).
      if (holder_in_area && parties != nullptr &&
          parties->Away(*holder, event.position())) {
        holder_in_area = false;
      }
      if (holder_in_area) {
        ASSIGN_OR_RETURN(
            bool left,
            LeftTheCase(*holder, subject_id, organisations, event.position()));
        holder_in_area = !left;
      }
    }
    if (recorder_in_area || holder_in_area) {
      relations.push_back(Relation::kAreaAuthority);
    }
  }
  if (relations.empty()) relations.push_back(Relation::kStranger);
  return relations;
}

absl::StatusOr<domain::Visibility> ReaderView::LevelOf(
    const v1::RecordedEvent& event, const std::string& subject_id) {
  ASSIGN_OR_RETURN(std::vector<domain::Relation> relations,
                   RelationsTo(event, subject_id));
  return domain::VisibilityFor(event.payload(), relations);
}

absl::Status ReaderView::Show(std::vector<v1::AuditEntry>* page) {
  return ShowAt(/*pack=*/false, page);
}

absl::Status ReaderView::ShowInPack(std::vector<v1::AuditEntry>* page) {
  return ShowAt(/*pack=*/true, page);
}

absl::Status ReaderView::ShowAt(bool pack, std::vector<v1::AuditEntry>* page) {
  std::vector<v1::AuditEntry> shown;
  shown.reserve(page->size());
  for (v1::AuditEntry& entry : *page) {
    ASSIGN_OR_RETURN(std::vector<domain::Relation> relations,
                     RelationsTo(entry.event(), entry.subject_id()));
    const v1::EventPayload& payload = entry.event().payload();
    const domain::Visibility level =
        pack ? domain::PackVisibility(payload, relations)
             : domain::VisibilityFor(payload, relations);
    if (level == domain::Visibility::kNone) continue;
    if (level == domain::Visibility::kFull) {
      RETURN_IF_ERROR(log_.RevealPersonal(entry.mutable_event()));
    }
    domain::Redact(level, &entry);
    if (pack) domain::RedactForDataSubject(reader_.organisation(), &entry);
    shown.push_back(std::move(entry));
  }
  *page = std::move(shown);
  return absl::OkStatus();
}

}  // namespace ycr::services
