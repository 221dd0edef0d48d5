// Writes seed inputs for the fuzz targets (in fuzz_input.h's layout) into
// DIR/<target>/: valid records, append requests and domain commands with
// short histories, so that fuzzing starts from inputs the code accepts.
// Usage: ycr-fuzz-seeds DIR

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "storage/key_format.h"
#include "storage/record_codec.h"
#include "tests/fuzz/api_seeds.h"
#include "tests/fuzz/fuzz_input.h"
#include "ycr/v1/event_store.pb.h"

namespace {

using namespace ycr;  // NOLINT: a small generator.

void Write(const std::filesystem::path& dir, const std::string& name,
           const std::string& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

// Domain seed: domain, caller, time, history, command, extra.
std::string DomainSeed(int domain,
                       const std::vector<v1::RecordedEvent>& history,
                       const v1::EventPayload& command,
                       const std::string& extra = "") {
  std::string out;
  fuzz::AddChunk(&out, std::string(1, static_cast<char>(domain)));
  fuzz::AddChunk(&out, "school-1");
  fuzz::AddChunk(&out, "dsl-1");
  fuzz::AddChunk(&out, "school");
  fuzz::AddChunk(&out, std::string("\x6a\x00\x00\x00", 4));  // 2026.
  fuzz::AddChunk(&out, std::string(1, static_cast<char>(history.size())));
  for (const auto& e : history) fuzz::AddChunk(&out, e.SerializeAsString());
  fuzz::AddChunk(&out, command.SerializeAsString());
  fuzz::AddChunk(&out, extra);
  return out;
}

v1::RecordedEvent AsRecorded(const v1::EventPayload& payload,
                             uint64_t version) {
  v1::RecordedEvent e;
  e.set_stream_version(version);
  *e.mutable_payload() = payload;
  e.mutable_actor()->set_organisation("school-1");
  e.mutable_actor()->set_user("dsl-1");
  e.mutable_actor()->set_role("school");
  *e.mutable_recorded_at() = ToProtoTime(absl::FromUnixSeconds(0x69000000));
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || std::string(argv[1]) == "--help") {
    std::cerr << "Usage: ycr-fuzz-seeds DIR\nWrites seed inputs for the fuzz "
                 "targets into DIR/<target>/.\n";
    return argc == 2 ? 0 : 2;
  }
  const std::filesystem::path root = argv[1];
  const absl::Time t = absl::FromUnixSeconds(0x69000000);

  // Consent granted, then a withdrawal to decide.
  v1::EventPayload grant;
  auto* g = grant.mutable_consent_granted();
  g->set_consent_id("c-1");
  g->set_subject_id("s-1");
  g->mutable_given_by()->mutable_parent()->set_person_ref("parent-1");
  g->mutable_terms()->add_purposes(v1::PURPOSE_REFERRAL);
  g->mutable_terms()->add_recipients()->set_organisation("service-1");
  g->mutable_terms()->add_categories(v1::DATA_CATEGORY_IDENTITY);
  *g->mutable_terms()->mutable_valid_from() = ToProtoTime(t - absl::Hours(24));
  *g->mutable_terms()->mutable_valid_until() =
      ToProtoTime(t + absl::Hours(24 * 365));
  grant.mutable_personal()->set_verification("signed form");
  v1::EventPayload withdraw;
  withdraw.mutable_consent_withdrawn()->set_consent_id("c-1");
  *withdraw.mutable_consent_withdrawn()->mutable_effective_at() =
      ToProtoTime(t + absl::Hours(1));
  v1::DisclosureRecorded disclosure;
  disclosure.set_disclosure_id("d-1");
  disclosure.set_subject_id("s-1");
  disclosure.mutable_from()->set_organisation("school-1");
  disclosure.mutable_to()->set_organisation("service-1");
  disclosure.add_categories(v1::DATA_CATEGORY_IDENTITY);
  disclosure.set_purpose(v1::PURPOSE_REFERRAL);
  disclosure.mutable_consent()->set_consent_id("c-1");
  const std::filesystem::path domain = root / "domain_rules_fuzz";
  Write(domain, "consent-grant", DomainSeed(0, {}, grant));
  Write(domain, "consent-withdraw",
        DomainSeed(0, {AsRecorded(grant, 1)}, withdraw,
                   disclosure.SerializeAsString()));

  // A referral submitted with its disclosure, then received.
  v1::EventPayload submit;
  auto* s = submit.mutable_referral_submitted();
  s->set_referral_id("r-1");
  s->set_subject_id("s-1");
  s->set_school("school-1");
  s->set_service("service-1");
  *s->mutable_disclosure() = disclosure;
  v1::EventPayload receive;
  receive.mutable_referral_received();
  Write(domain, "referral-submit", DomainSeed(1, {}, submit));
  Write(domain, "referral-receive",
        DomainSeed(1, {AsRecorded(submit, 1)}, receive));

  // An agreement drafted, then signed.
  v1::EventPayload draft;
  auto* d = draft.mutable_agreement_drafted();
  d->set_agreement_id("a-1");
  for (auto* party : {d->mutable_terms()->mutable_school(),
                      d->mutable_terms()->mutable_service()}) {
    party->set_organisation(party == d->mutable_terms()->mutable_school()
                                ? "school-1"
                                : "service-1");
    party->set_name("Name");
    party->set_address("1 Road");
    party->add_responsibilities("support");
    party->mutable_lead_contact()->set_name("Lead");
  }
  d->mutable_terms()->set_response_time_days(14);
  d->mutable_terms()->set_review_cadence_months(12);
  d->mutable_terms()->set_closing_period_days(30);
  v1::EventPayload sign;
  sign.mutable_agreement_signed();
  Write(domain, "agreement-draft", DomainSeed(2, {}, draft));
  Write(domain, "agreement-sign", DomainSeed(2, {AsRecorded(draft, 1)}, sign));

  // Correspondence received under a signed agreement.
  v1::EventPayload signed_school = sign;
  signed_school.mutable_agreement_signed()->set_party("school-1");
  v1::EventPayload signed_service = sign;
  signed_service.mutable_agreement_signed()->set_party("service-1");
  v1::EventPayload letter;
  auto* r = letter.mutable_correspondence_received();
  r->set_correspondence_id("m-1");
  r->set_agreement_id("a-1");
  r->set_channel(v1::CHANNEL_EMAIL);
  r->set_from("service-1");
  r->set_topic_code(v1::CORRESPONDENCE_TOPIC_AWARENESS);
  *r->mutable_received_at() = ToProtoTime(t);
  Write(
      domain, "correspondence-receive",
      DomainSeed(3,
                 {AsRecorded(draft, 1), AsRecorded(signed_school, 2),
                  AsRecorded(signed_service, 3), AsRecorded(signed_service, 4)},
                 letter));

  // An intervention planned; a concern raised.
  v1::EventPayload plan;
  auto* p = plan.mutable_intervention_planned();
  p->set_intervention_id("i-1");
  p->set_service("school-1");
  p->set_school("school-1");
  p->set_subject_id("s-1");
  p->set_type(v1::INTERVENTION_TYPE_ONE_TO_ONE);
  *p->mutable_starts_at() = ToProtoTime(t);
  plan.mutable_personal()->set_notes("support");
  p->set_worker("w-1");
  Write(domain, "intervention-plan", DomainSeed(4, {}, plan));
  v1::EventPayload raise;
  raise.mutable_concern_raised()->set_concern_id("g-1");
  raise.mutable_concern_raised()->set_subject_id("s-1");
  Write(domain, "concern-raise", DomainSeed(5, {}, raise));

  // A pupil identified; a disclosure to validate.
  v1::SubjectRecord record;
  record.set_subject_id("s-1");
  record.set_given_name("A");
  record.set_family_name("B");
  record.set_date_of_birth("2012-03-04");
  record.set_holder("school-1");
  v1::EventPayload identify;
  identify.mutable_young_carer_identified()->set_subject_id("s-1");
  identify.mutable_young_carer_identified()->set_census_code(
      v1::CENSUS_CODE_IDENTIFIED_BY_SCHOOL);
  Write(domain, "subject-identify",
        DomainSeed(6, {}, identify, record.SerializeAsString()));
  v1::EventPayload shared;
  *shared.mutable_disclosure_recorded() = disclosure;
  Write(domain, "sharing-disclosure", DomainSeed(7, {}, shared));

  // Append requests.
  const std::filesystem::path append = root / "append_validation_fuzz";
  v1::AppendRequest request;
  request.set_stream("consent-c-1");
  auto* e = request.add_events();
  e->set_event_id("5f0c6a52-8a8e-4d8e-9a53-1b1f3c9e8f00");
  *e->mutable_payload() = grant;
  Write(append, "grant", request.SerializeAsString());
  auto* note = request.add_events();
  note->set_event_id("5f0c6a52-8a8e-4d8e-9a53-1b1f3c9e8f01");
  note->mutable_payload()->mutable_opaque()->set_type("test.note");
  note->mutable_payload()->mutable_opaque()->set_data("hello");
  Write(append, "grant-and-note", request.SerializeAsString());

  // Stored records and keys.
  const std::filesystem::path codec = root / "record_codec_fuzz";
  v1::RecordedEvent stored = AsRecorded(grant, 1);
  stored.set_position(1);
  stored.set_stream("consent-c-1");
  stored.set_prev_hash(storage::GenesisHash());
  const std::string value = storage::EncodeRecord(&stored);
  std::string seed;
  fuzz::AddChunk(&seed, value);
  fuzz::AddChunk(&seed, storage::GenesisHash());
  fuzz::AddChunk(&seed, storage::LogKey(1));
  Write(codec, "record", seed);
  seed.clear();
  fuzz::AddChunk(&seed, value);
  fuzz::AddChunk(&seed, stored.hash());
  fuzz::AddChunk(&seed, storage::StreamKey("consent-c-1", 1));
  Write(codec, "stream-key", seed);

  // Every RPC with its valid request (api_seeds.h, which api_fuzz parses):
  // as is, and with its first field set to nothing.
  const std::filesystem::path api = root / "api_fuzz";
  const auto& seeds = fuzz::ApiSeeds();
  for (size_t i = 0; i < seeds.size(); ++i) {
    size_t who = 0;
    for (size_t k = 0; k < fuzz::ApiIdentities().size(); ++k) {
      if (fuzz::ApiIdentities()[k].first == seeds[i].organisation) who = k;
    }
    for (const char mode : {0, 3}) {
      std::string api_seed;
      fuzz::AddChunk(&api_seed, seeds[i].path);
      fuzz::AddChunk(&api_seed, std::string(1, static_cast<char>(who)));
      fuzz::AddChunk(&api_seed, std::string(1, mode));
      fuzz::AddChunk(&api_seed, "");
      fuzz::AddChunk(&api_seed, std::string(1, '\0'));
      Write(api, absl::StrCat(i, "-", static_cast<int>(mode)), api_seed);
    }
  }
  std::cout << "seeds written to " << root << "\n";
  return 0;
}
