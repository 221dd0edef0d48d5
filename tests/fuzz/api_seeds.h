#pragma once

// A valid request for every RPC the api_fuzz target drives (text format),
// with the organisation that sends it. In this order, against an empty
// store at kApiFuzzNow, the writes build a small world (a record, a
// consent, a disclosure, a referral, an agreement, an intervention, a
// concern) that the reads then find. make_seeds.cc writes one seed per
// entry; api_fuzz.cc mutates them.

#include <string>
#include <vector>

namespace ycr::fuzz {

// The api_fuzz server's clock: 2026-05-28T20:26:40Z.
inline constexpr int64_t kApiFuzzNow = 1'780'000'000;

struct ApiSeed {
  std::string path;
  std::string organisation;
  std::string request;  // Text format of the method's request.
};

inline const std::vector<ApiSeed>& ApiSeeds() {
  static const auto* seeds = new std::vector<ApiSeed>{
      {"/ycr.v1.Areas/Assign", "ops",
       R"(request_id: "00000000-0000-4000-8000-000000000001"
          assignment { organisation: "school-1" local_authority: "la-1" })"},
      {"/ycr.v1.Subjects/PutRecord", "school-1",
       R"(request_id: "00000000-0000-4000-8000-000000000002"
          record { subject_id: "s-1" given_name: "Ann" family_name: "Lee"
                   date_of_birth: "2014-02-03"
                   contacts { kind: "phone" value: "0100 000000" }
                   related { person_ref: "p-1" name: "Pat Lee"
                             relationship: "mother"
                             parental_responsibility: true cared_for: true } })"},
      {"/ycr.v1.Subjects/IdentifyYoungCarer", "school-1",
       R"(request_id: "00000000-0000-4000-8000-000000000003"
          identification { subject_id: "s-1"
                           census_code: CENSUS_CODE_IDENTIFIED_BY_SCHOOL
                           cares_for_ref: "p-1" }
          personal { notes: "cares for mum\nafter school" })"},
      {"/ycr.v1.Consents/Grant", "school-1",
       R"(request_id: "00000000-0000-4000-8000-000000000004"
          consent { consent_id: "c-1" subject_id: "s-1"
                    given_by { parent { person_ref: "p-1"
                                        relationship: "mother" } }
                    terms { purposes: PURPOSE_REFERRAL
                            purposes: PURPOSE_NEEDS_ASSESSMENT
                            categories: DATA_CATEGORY_IDENTITY
                            categories: DATA_CATEGORY_CARING_SITUATION
                            recipients { organisation: "service-1" }
                            valid_from { seconds: 1779990000 }
                            valid_until { seconds: 1811526000 } } }
          personal { verification: "signed form" })"},
      {"/ycr.v1.Sharing/RecordDisclosure", "school-1",
       R"(request_id: "00000000-0000-4000-8000-000000000005"
          disclosure { disclosure_id: "d-1" subject_id: "s-1"
                       from { organisation: "school-1" }
                       to { organisation: "service-1" }
                       categories: DATA_CATEGORY_IDENTITY
                       purpose: PURPOSE_REFERRAL
                       consent { consent_id: "c-1" } })"},
      {"/ycr.v1.Referrals/Transition", "school-1",
       R"(request_id: "00000000-0000-4000-8000-000000000006"
          referral_id: "r-1"
          submit { referral_id: "r-1" subject_id: "s-1" school: "school-1"
                   service: "service-1"
                   disclosure { disclosure_id: "d-2" subject_id: "s-1"
                                from { organisation: "school-1" }
                                to { organisation: "service-1" }
                                categories: DATA_CATEGORY_IDENTITY
                                purpose: PURPOSE_REFERRAL
                                consent { consent_id: "c-1" } } })"},
      {"/ycr.v1.Agreements/Record", "school-1",
       R"(request_id: "00000000-0000-4000-8000-000000000007"
          agreement_id: "a-1"
          draft { agreement_id: "a-1"
                  terms { school { organisation: "school-1" name: "School"
                                   address: "1 Road\nTown"
                                   responsibilities: "identify"
                                   lead_contact { name: "Lead" } }
                          service { organisation: "service-1"
                                    name: "Service" address: "2 Road"
                                    lead_contact { name: "Lead" } }
                          response_time_days: 14 review_cadence_months: 12
                          closing_period_days: 30 } })"},
      {"/ycr.v1.Correspondence/Record", "service-1",
       R"(request_id: "00000000-0000-4000-8000-000000000008"
          correspondence_id: "m-1"
          receive { correspondence_id: "m-1" agreement_id: "a-1"
                    channel: CHANNEL_EMAIL from: "school-1"
                    topic_code: CORRESPONDENCE_TOPIC_AWARENESS
                    received_at { seconds: 1779990000 } })"},
      {"/ycr.v1.Interventions/Record", "service-1",
       R"(request_id: "00000000-0000-4000-8000-000000000009"
          intervention_id: "i-1"
          plan { intervention_id: "i-1" service: "service-1"
                 school: "school-1" subject_id: "s-1" referral_id: "r-1"
                 type: INTERVENTION_TYPE_ONE_TO_ONE
                 starts_at { seconds: 1780000000 } worker: "w-1" }
          personal { notes: "weekly" })"},
      {"/ycr.v1.Safeguarding/Record", "school-1",
       R"(request_id: "00000000-0000-4000-8000-00000000000a"
          concern_id: "k-1"
          raise { concern_id: "k-1" subject_id: "s-1"
                  observed_at { seconds: 1779990000 } }
          personal { facts: "seen upset" childs_words: "tired" })"},
      {"/ycr.v1.Sharing/RecordDecisionNotToShare", "school-1",
       R"(request_id: "00000000-0000-4000-8000-00000000000b"
          decision { subject_id: "s-1" to { organisation: "service-1" }
                     decision_maker: "dsl-1" concern_id: "k-1"
                     categories: DATA_CATEGORY_WELLBEING }
          personal { reason: "not now" })"},
      {"/ycr.v1.Consents/Withdraw", "school-1",
       R"(request_id: "00000000-0000-4000-8000-00000000000c"
          withdrawal { consent_id: "c-1"
                       effective_at { seconds: 1780086400 } }
          personal { reason: "family moved" })"},
      {"/ycr.v1.Consents/Vary", "school-1",
       R"(request_id: "00000000-0000-4000-8000-00000000000d"
          variation { consent_id: "c-1"
                      terms { purposes: PURPOSE_REFERRAL
                              categories: DATA_CATEGORY_IDENTITY
                              recipients { organisation: "service-1" }
                              valid_from { seconds: 1779990000 }
                              valid_until { seconds: 1790000000 } } })"},
      {"/ycr.v1.Consents/Refuse", "school-1",
       R"(request_id: "00000000-0000-4000-8000-00000000000e"
          consent { consent_id: "c-2" subject_id: "s-1"
                    given_by { parent { person_ref: "p-1" } }
                    terms { purposes: PURPOSE_IMPACT_REPORTING
                            categories: DATA_CATEGORY_ATTAINMENT
                            recipients { organisation: "la-1" }
                            valid_from { seconds: 1779990000 }
                            valid_until { seconds: 1790000000 } } })"},
      {"/ycr.v1.Subjects/PlaceLegalHold", "school-1",
       R"(request_id: "00000000-0000-4000-8000-00000000000f"
          hold { subject_id: "s-1" hold_id: "h-1" }
          personal { reason: "an inquiry" })"},
      {"/ycr.v1.Subjects/LiftLegalHold", "school-1",
       R"(request_id: "00000000-0000-4000-8000-000000000010"
          subject_id: "s-1" hold_id: "h-1")"},
      {"/ycr.v1.Subjects/Erase", "school-1",
       R"(request_id: "00000000-0000-4000-8000-000000000011"
          subject_id: "s-9" request_ref: "SAR-1")"},
      {"/ycr.v1.Subjects/RetentionReviews", "service-1", R"(limit: 10)"},
      {"/ycr.v1.Subjects/ReviewRetention", "service-1",
       R"(request_id: "00000000-0000-4000-8000-0000000000a1"
          subject_id: "s-9" decision: RETENTION_DECISION_DESTROY)"},
      {"/ycr.v1.EventStore/Append", "ops",
       R"(stream: "ops-notes" expected { kind: ANY }
          events { event_id: "00000000-0000-4000-8000-000000000012"
                   payload { opaque { type: "test.note" data: "hi" } }
                   occurred_at { seconds: 1779990000 } })"},
      {"/ycr.v1.Deadlines/FlagOverdue", "scheduler",
       R"(request_id: "00000000-0000-4000-8000-000000000013"
          flag { kind: 1 id: "m-1" due_at { seconds: 1779990000 } })"},
      // Reads.
      {"/ycr.v1.Subjects/GetRecord", "school-1", R"(subject_id: "s-1")"},
      {"/ycr.v1.Consents/Get", "school-1", R"(consent_id: "c-1")"},
      {"/ycr.v1.Referrals/Get", "service-1", R"(referral_id: "r-1")"},
      {"/ycr.v1.Interventions/Get", "service-1", R"(intervention_id: "i-1")"},
      {"/ycr.v1.Areas/Get", "school-1", R"(organisation: "school-1")"},
      {"/ycr.v1.Agreements/Get", "school-1", R"(agreement_id: "a-1")"},
      {"/ycr.v1.Correspondence/Get", "school-1", R"(correspondence_id: "m-1")"},
      {"/ycr.v1.Safeguarding/Get", "school-1", R"(concern_id: "k-1")"},
      {"/ycr.v1.Audit/Trail", "school-1", R"(subject_id: "s-1")"},
      {"/ycr.v1.Audit/OrganisationDisclosures", "school-1",
       R"(organisation: "school-1" from { seconds: 1770000000 }
          to { seconds: 1790000000 })"},
      {"/ycr.v1.Audit/ConsentInForce", "school-1",
       R"(subject_id: "s-1" recipient { organisation: "service-1" }
          purpose: PURPOSE_REFERRAL category: DATA_CATEGORY_IDENTITY
          at { seconds: 1780000000 })"},
      {"/ycr.v1.Audit/SubjectAccessPack", "school-1", R"(subject_id: "s-1")"},
      {"/ycr.v1.Deadlines/ListDue", "school-1",
       R"(by { seconds: 1790000000 } organisation: "school-1")"},
      {"/ycr.v1.Deadlines/ListOverdue", "scheduler",
       R"(as_of { seconds: 1790000000 })"},
      {"/ycr.v1.Caseloads/Counts", "service-1", R"(organisation: "service-1")"},
      {"/ycr.v1.Caseloads/ListReferrals", "service-1",
       R"(organisation: "service-1" page_size: 10)"},
      {"/ycr.v1.AccessLog/ListBySubject", "auditor-1",
       R"(subject_id: "s-1" range { from { seconds: 1770000000 } })"},
      {"/ycr.v1.AccessLog/ListByReader", "auditor-1",
       R"(reader_organisation: "school-1" reader_user: "user-1")"},
      {"/ycr.v1.EventStore/ReadStream", "auditor-1",
       R"(stream: "ops-notes" limit: 10)"},
      {"/ycr.v1.EventStore/ReadAll", "auditor-1",
       R"(from_position: 1 limit: 10 filter { stream_prefix: "ops-" })"},
      {"/ycr.v1.EventStore/Subscribe", "auditor-1",
       R"(from_position: 1 filter { event_types: "test.note" })"},
      {"/ycr.v1.EventStore/Head", "school-1", ""},
      {"/ycr.v1.Admin/Backup", "ops", R"(name: "nightly")"},
      {"/ycr.v1.Projections/Status", "ops", ""},
      {"/ycr.v1.Projections/Rebuild", "ops", R"(name: "caseloads")"},
  };
  return *seeds;
}

// The identities api_fuzz calls as: organisation and role.
inline const std::vector<std::pair<std::string, std::string>>& ApiIdentities() {
  static const auto* identities =
      new std::vector<std::pair<std::string, std::string>>{
          {"school-1", "school"},     {"school-2", "school"},
          {"service-1", "service"},   {"la-1", "local_authority"},
          {"auditor-1", "auditor"},   {"ops", "admin"},
          {"scheduler", "scheduler"},
      };
  return *identities;
}

}  // namespace ycr::fuzz
