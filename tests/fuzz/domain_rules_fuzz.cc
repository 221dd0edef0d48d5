// Fuzzes the domain rules with commands and histories from outside: a
// domain is chosen, earlier events (recorded events, as read from the log)
// are folded into its view, and a command payload is decided against it.
// Whatever the bytes, the rules answer with a status; and a command they
// accept folds into the view without error (a decided event is one the
// fold understands).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/time/time.h"
#include "common/proto_time.h"
#include "domain/agreement_rules.h"
#include "domain/consent_rules.h"
#include "domain/correspondence_rules.h"
#include "domain/erasure_rules.h"
#include "domain/intervention_rules.h"
#include "domain/referral_rules.h"
#include "domain/safeguarding_rules.h"
#include "domain/sharing_rules.h"
#include "domain/subject_rules.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace ycr;  // NOLINT: a fuzz target's one function.

constexpr int kMaxHistory = 8;

// The event the command engine would record for `payload`.
v1::RecordedEvent Recorded(const v1::EventPayload& payload,
                           const v1::Actor& caller, absl::Time now,
                           uint64_t version) {
  v1::RecordedEvent e;
  e.set_stream_version(version);
  *e.mutable_payload() = payload;
  *e.mutable_actor() = caller;
  *e.mutable_recorded_at() = ToProtoTime(now);
  return e;
}

void Must(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Chunks chunks(data, size);
  const int domain = chunks.NextByte() % 8;
  v1::Actor caller;
  caller.set_organisation(chunks.Next());
  caller.set_user(chunks.Next());
  caller.set_role(chunks.Next());
  // Any instant from 1970 to about 2106.
  uint32_t seconds = 0;
  for (char c : chunks.Next().substr(0, 4)) {
    seconds = (seconds << 8) | static_cast<uint8_t>(c);
  }
  const absl::Time now = absl::FromUnixSeconds(seconds);
  const int history = chunks.NextByte() % (kMaxHistory + 1);
  std::vector<v1::RecordedEvent> events;
  for (int i = 0; i < history; ++i) {
    v1::RecordedEvent e;
    if (e.ParseFromString(chunks.Next())) events.push_back(e);
  }
  v1::EventPayload command;
  if (!command.ParseFromString(chunks.Next())) return 0;

  switch (domain) {
    case 0: {
      domain::ConsentView view;
      for (const auto& e : events) {
        (void)domain::ApplyConsentEvent(e.payload(), view.version + 1, &view);
      }
      if (domain::CheckConsentCommand(view, command, now).ok()) {
        Must(domain::ApplyConsentEvent(command, view.version + 1, &view).ok());
      }
      v1::DisclosureRecorded d;
      if (d.ParseFromString(chunks.Next())) {
        domain::ProposedDisclosure proposed;
        proposed.subject_id = d.subject_id();
        proposed.to = d.to();
        proposed.purpose = d.purpose();
        for (int c : d.categories()) {
          proposed.categories.push_back(static_cast<v1::DataCategory>(c));
        }
        proposed.at = now;
        (void)domain::CheckConsentCovers(view, proposed);
      }
      break;
    }
    case 1: {
      domain::ReferralView view;
      for (const auto& e : events) {
        (void)domain::ApplyReferralEvent(e.payload(), view.version + 1, &view);
      }
      if (domain::CheckReferralTransition(view, command, caller).ok()) {
        Must(domain::ApplyReferralEvent(command, view.version + 1, &view).ok());
      }
      break;
    }
    case 2: {
      domain::AgreementView view;
      for (const auto& e : events) (void)domain::ApplyAgreementEvent(e, &view);
      v1::EventPayload decided = command;
      if (domain::DecideAgreementCommand(view, caller, now, &decided).ok()) {
        Must(domain::ApplyAgreementEvent(
                 Recorded(decided, caller, now, view.version + 1), &view)
                 .ok());
      }
      (void)view.InForceAt(now);
      break;
    }
    case 3: {
      // The first half of the history is the agreement's, the rest the
      // correspondence's.
      domain::AgreementView agreement;
      domain::CorrespondenceView view;
      for (size_t i = 0; i < events.size(); ++i) {
        if (i < events.size() / 2) {
          (void)domain::ApplyAgreementEvent(events[i], &agreement);
        } else {
          (void)domain::ApplyCorrespondenceEvent(events[i], &view);
        }
      }
      v1::EventPayload decided = command;
      if (domain::DecideCorrespondenceCommand(view, agreement, caller, now,
                                              &decided)
              .ok()) {
        Must(domain::ApplyCorrespondenceEvent(
                 Recorded(decided, caller, now, view.version + 1), &view)
                 .ok());
      }
      break;
    }
    case 4: {
      domain::InterventionView view;
      for (const auto& e : events) {
        (void)domain::ApplyInterventionEvent(e, &view);
      }
      v1::EventPayload decided = command;
      if (domain::DecideInterventionCommand(view, caller, now, &decided).ok()) {
        Must(domain::ApplyInterventionEvent(
                 Recorded(decided, caller, now, view.version + 1), &view)
                 .ok());
      }
      break;
    }
    case 5: {
      domain::ConcernView view;
      for (const auto& e : events) {
        (void)domain::ApplySafeguardingEvent(e, &view);
      }
      v1::EventPayload decided = command;
      if (domain::DecideSafeguardingCommand(view, caller, now, &decided).ok()) {
        Must(domain::ApplySafeguardingEvent(
                 Recorded(decided, caller, now, view.version + 1), &view)
                 .ok());
      }
      break;
    }
    case 6: {
      domain::SubjectView view;
      for (const auto& e : events) (void)domain::ApplySubjectEvent(e, &view);
      v1::SubjectRecord record;
      if (record.ParseFromString(chunks.Next())) {
        (void)domain::ValidateSubjectRecord(record, now);
        (void)domain::CheckSubjectRecordPut(&record, caller);
        (void)domain::CheckSubjectRecordPut(nullptr, caller);
        v1::EventPayload decided = command;
        if (domain::DecideIdentification(&record, caller, &decided).ok()) {
          Must(domain::ApplySubjectEvent(
                   Recorded(decided, caller, now, view.version + 1), &view)
                   .ok());
        }
        // Erasure and holds: an accepted decision folds.
        domain::ErasureFacts facts;
        for (const auto& [id, organisation] : view.holds) {
          facts.holds.push_back(id);
        }
        if (!chunks.Next().empty()) facts.child_protection_by = {"org-a"};
        absl::CivilDay dob;
        if (absl::ParseCivilTime(record.date_of_birth(), &dob)) {
          facts.date_of_birth = dob;
        }
        (void)domain::ErasureRefusalGround(facts, caller.organisation(), now);
        std::vector<std::string> retain;
        for (int kind = 0; kind < 3; ++kind) {
          v1::EventPayload e = command;
          absl::Status s =
              kind == 0 ? domain::DecideErasure(&record, view, facts, caller,
                                                now, &e, &retain)
              : kind == 1
                  ? domain::DecidePlaceHold(&record, caller.organisation(),
                                            view, caller, &e)
                  : domain::DecideLiftHold(view, caller, e);
          if (s.ok()) {
            domain::SubjectView folded = view;
            Must(domain::ApplySubjectEvent(
                     Recorded(e, caller, now, view.version + 1), &folded)
                     .ok());
          }
        }
      }
      break;
    }
    default: {
      v1::PersonalData personal;
      (void)personal.ParseFromString(chunks.Next());
      if (command.has_disclosure_recorded()) {
        (void)domain::ValidateDisclosure(command.disclosure_recorded(),
                                         personal, caller);
      }
      if (command.has_sharing_declined()) {
        (void)domain::ValidateSharingDeclined(command.sharing_declined(),
                                              personal);
      }
      break;
    }
  }
  return 0;
}
