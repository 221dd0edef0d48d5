#include "services/domain_commands.h"

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "services/domain/sharing_rules.h"

namespace ycr::services {
namespace {

// Folds every event of `stream` with `apply`; a missing stream folds to the
// empty view.
template <typename View, typename Apply>
absl::StatusOr<View> Fold(storage::EventLog& log, const std::string& stream,
                          Apply apply) {
  View view;
  storage::ReadStreamOptions options;
  options.from_version = 1;
  for (;;) {
    absl::StatusOr<storage::StreamSlice> slice =
        log.ReadStream(stream, options);
    if (absl::IsNotFound(slice.status())) return view;
    RETURN_IF_ERROR(slice.status());
    for (const v1::RecordedEvent& e : slice->events) {
      RETURN_IF_ERROR(apply(e.payload(), e.stream_version(), &view));
    }
    if (slice->next_version == 0) return view;
    options.from_version = slice->next_version;
  }
}

const std::string& ConsentIdOf(const v1::EventPayload& event) {
  switch (event.kind_case()) {
    case v1::EventPayload::kConsentGranted:
      return event.consent_granted().consent_id();
    case v1::EventPayload::kConsentRefused:
      return event.consent_refused().consent_id();
    case v1::EventPayload::kConsentVaried:
      return event.consent_varied().consent_id();
    case v1::EventPayload::kConsentWithdrawn:
      return event.consent_withdrawn().consent_id();
    default: {
      static const std::string* kNone = new std::string();
      return *kNone;
    }
  }
}

// What a caller asked for, without what the server decided (the consent
// version a disclosure was checked at), so a retry matches its original.
std::string CommandContent(v1::EventPayload payload) {
  if (payload.has_disclosure_recorded() &&
      payload.disclosure_recorded().has_consent()) {
    payload.mutable_disclosure_recorded()
        ->mutable_consent()
        ->clear_consent_version();
  }
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  payload.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

// True when `stored` records the command `asked`. Fields the server fills
// in when the caller leaves them out (a withdrawal's effective_at) are
// compared only when the caller gave them.
bool SameCommand(v1::EventPayload stored, const v1::EventPayload& asked) {
  if (asked.has_consent_withdrawn() &&
      !asked.consent_withdrawn().has_effective_at()) {
    stored.mutable_consent_withdrawn()->clear_effective_at();
  }
  return CommandContent(std::move(stored)) == CommandContent(asked);
}

}  // namespace

storage::AppendRequest DomainCommands::Request(const v1::Actor& caller,
                                               const std::string& request_id,
                                               std::string stream,
                                               v1::EventPayload event) {
  storage::AppendRequest request;
  request.stream = std::move(stream);
  request.actor = caller;
  v1::ProposedEvent& e = request.events.emplace_back();
  e.set_event_id(request_id);
  *e.mutable_payload() = std::move(event);
  return request;
}

absl::StatusOr<std::optional<storage::AppendResult>> DomainCommands::Replay(
    const storage::AppendRequest& request) {
  const v1::ProposedEvent& asked = request.events.front();
  if (!IsUuid(asked.event_id())) {
    return absl::InvalidArgumentError("request_id: must be a UUID");
  }
  ASSIGN_OR_RETURN(std::optional<uint64_t> position,
                   log_->LookupEventId(asked.event_id()));
  if (!position.has_value()) return std::optional<storage::AppendResult>();
  ASSIGN_OR_RETURN(storage::LogSlice slice,
                   log_->ReadAll(*position, 1, storage::LogFilter()));
  if (slice.events.empty() || slice.events[0].position() != *position) {
    return absl::DataLossError(
        absl::StrCat("event at position ", *position, " is missing"));
  }
  const v1::RecordedEvent& stored = slice.events[0];
  if (stored.stream() != request.stream ||
      !SameCommand(stored.payload(), asked.payload()) ||
      stored.actor().SerializeAsString() != request.actor.SerializeAsString()) {
    return absl::AlreadyExistsError(
        absl::StrCat("request_id ", asked.event_id(),
                     " was already used for a different command (log position ",
                     *position, ")"));
  }
  return std::optional<storage::AppendResult>(storage::AppendResult{
      *position, *position, stored.stream_version(), true});
}

absl::StatusOr<domain::ConsentView> DomainCommands::LoadConsent(
    const std::string& consent_id) {
  return Fold<domain::ConsentView>(*log_, "consent-" + consent_id,
                                   domain::ApplyConsentEvent);
}

absl::StatusOr<domain::ReferralView> DomainCommands::LoadReferral(
    const std::string& referral_id) {
  return Fold<domain::ReferralView>(*log_, "referral-" + referral_id,
                                    domain::ApplyReferralEvent);
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordConsent(
    const v1::Actor& caller, const std::string& request_id,
    v1::EventPayload event) {
  const std::string consent_id = ConsentIdOf(event);
  if (consent_id.empty()) {
    return absl::InvalidArgumentError(
        "consent_id: is required (and the payload must be a consent event)");
  }
  storage::AppendRequest request =
      Request(caller, request_id, "consent-" + consent_id, std::move(event));
  ASSIGN_OR_RETURN(auto replayed, Replay(request));
  if (replayed.has_value()) return *replayed;
  // A withdrawal without effective_at takes effect when it is recorded.
  const v1::EventPayload& asked = request.events.front().payload();
  const bool effective_now = asked.has_consent_withdrawn() &&
                             !asked.consent_withdrawn().has_effective_at();
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(domain::ConsentView view, LoadConsent(consent_id));
    const absl::Time now = clock_->Now();
    if (effective_now) {
      *request.events.front()
           .mutable_payload()
           ->mutable_consent_withdrawn()
           ->mutable_effective_at() = ToProtoTime(now);
    }
    RETURN_IF_ERROR(domain::CheckConsentCommand(
        view, request.events.front().payload(), now));
    request.expected = storage::ExpectedVersion::Exact(view.version);
    absl::StatusOr<storage::AppendResult> result = log_->Append(request);
    if (!absl::IsAborted(result.status()) || attempt + 1 == kMaxAttempts) {
      return result;
    }
  }
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordReferral(
    const v1::Actor& caller, const std::string& request_id,
    const std::string& referral_id, v1::EventPayload event,
    std::optional<uint64_t> expected_version) {
  if (referral_id.empty()) {
    return absl::InvalidArgumentError("referral_id: is required");
  }
  if (event.has_referral_submitted() &&
      event.referral_submitted().referral_id() != referral_id) {
    return absl::InvalidArgumentError(
        "referral_submitted.referral_id: differs from referral_id");
  }
  storage::AppendRequest request =
      Request(caller, request_id, "referral-" + referral_id, std::move(event));
  ASSIGN_OR_RETURN(auto replayed, Replay(request));
  if (replayed.has_value()) return *replayed;
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(domain::ReferralView view, LoadReferral(referral_id));
    if (expected_version.has_value() && *expected_version != view.version) {
      return absl::AbortedError(absl::StrCat(
          "referral ", referral_id, " is at version ", view.version,
          ", expected ", *expected_version, "; read it again and retry"));
    }
    RETURN_IF_ERROR(domain::CheckReferralTransition(
        view, request.events.front().payload(), caller));
    request.expected = storage::ExpectedVersion::Exact(view.version);
    absl::StatusOr<storage::AppendResult> result = log_->Append(request);
    if (!absl::IsAborted(result.status()) || expected_version.has_value() ||
        attempt + 1 == kMaxAttempts) {
      return result;
    }
  }
}

absl::StatusOr<storage::AppendResult> DomainCommands::RecordDisclosure(
    const v1::Actor& caller, const std::string& request_id,
    v1::DisclosureRecorded disclosure) {
  RETURN_IF_ERROR(domain::ValidateDisclosure(disclosure, caller));
  const std::string stream = "sharing-" + disclosure.subject_id();
  v1::EventPayload payload;
  *payload.mutable_disclosure_recorded() = disclosure;
  storage::AppendRequest request =
      Request(caller, request_id, stream, std::move(payload));
  ASSIGN_OR_RETURN(auto replayed, Replay(request));
  if (replayed.has_value()) return *replayed;
  request.expected = storage::ExpectedVersion::Any();
  if (!disclosure.has_consent()) return log_->Append(request);
  const std::string& consent_id = disclosure.consent().consent_id();
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(domain::ConsentView consent, LoadConsent(consent_id));
    domain::ProposedDisclosure proposed;
    proposed.subject_id = disclosure.subject_id();
    proposed.to = disclosure.to();
    proposed.purpose = disclosure.purpose();
    for (int c : disclosure.categories()) {
      proposed.categories.push_back(static_cast<v1::DataCategory>(c));
    }
    proposed.at = clock_->Now();
    RETURN_IF_ERROR(domain::CheckConsentCovers(consent, proposed));
    // Record the version that covered it, and require it still to be current.
    request.events.front()
        .mutable_payload()
        ->mutable_disclosure_recorded()
        ->mutable_consent()
        ->set_consent_version(consent.version);
    request.conditions = {{"consent-" + consent_id,
                           storage::ExpectedVersion::Exact(consent.version)}};
    absl::StatusOr<storage::AppendResult> result = log_->Append(request);
    if (!absl::IsAborted(result.status()) || attempt + 1 == kMaxAttempts) {
      return result;
    }
  }
}

}  // namespace ycr::services
