#include "services/security/access_policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ycr::services {
namespace {

// Readers of case data: the parties themselves, the local authority and
// auditors.
const std::vector<std::string>& CaseReaders() {
  static const auto* roles = new std::vector<std::string>{
      kSchoolRole, kServiceRole, kLocalAuthorityRole, kAuditorRole};
  return *roles;
}

std::vector<PolicyRow> BuildTable() {
  const std::vector<std::string> parties = {kSchoolRole, kServiceRole};
  const std::vector<std::string> everyone = AllRoles();
  std::vector<std::string> deadline_readers = CaseReaders();
  deadline_readers.push_back(kSchedulerRole);
  return {
      // The raw log: operators append their own opaque events, on ops-
      // streams only, never a domain event (event_store_service.cc);
      // reading it shows every event with its personal part (auditors).
      {"/ycr.v1.EventStore/Append", {kAdminRole}},
      {"/ycr.v1.EventStore/ReadStream", {kAuditorRole}},
      {"/ycr.v1.EventStore/ReadAll", {kAuditorRole}},
      {"/ycr.v1.EventStore/Subscribe", {kAuditorRole}},
      {"/ycr.v1.EventStore/Head", everyone},
      // Pupils' records: held by a school (or a service), read by the
      // holder and the local authority.
      {"/ycr.v1.Subjects/PutRecord", parties},
      {"/ycr.v1.Subjects/GetRecord",
       {kSchoolRole, kServiceRole, kLocalAuthorityRole}},
      {"/ycr.v1.Subjects/IdentifyYoungCarer", {kSchoolRole}},
      // Erasure is decided by the record's holder (a school or a service;
      // the domain rule checks it is the holder). A legal hold is placed by
      // the local authority or the holder.
      {"/ycr.v1.Subjects/Erase", parties},
      {"/ycr.v1.Subjects/PlaceLegalHold",
       {kSchoolRole, kServiceRole, kLocalAuthorityRole}},
      {"/ycr.v1.Subjects/LiftLegalHold",
       {kSchoolRole, kServiceRole, kLocalAuthorityRole}},
      // Child-protection records kept past an erasure are reviewed by the
      // organisation that keeps them (schools and services make them; the
      // domain rule checks it keeps one); auditors may list every
      // organisation's.
      {"/ycr.v1.Subjects/RetentionReviews",
       {kSchoolRole, kServiceRole, kAuditorRole}},
      {"/ycr.v1.Subjects/ReviewRetention", parties},
      {"/ycr.v1.Consents/Grant", parties},
      {"/ycr.v1.Consents/Refuse", parties},
      {"/ycr.v1.Consents/Vary", parties},
      {"/ycr.v1.Consents/Withdraw", parties},
      {"/ycr.v1.Consents/Get", CaseReaders()},
      {"/ycr.v1.Sharing/RecordDisclosure", parties},
      {"/ycr.v1.Sharing/RecordDecisionNotToShare", parties},
      {"/ycr.v1.Referrals/Transition", parties},
      {"/ycr.v1.Referrals/Get", CaseReaders()},
      {"/ycr.v1.Interventions/Record", {kServiceRole}},
      {"/ycr.v1.Interventions/Get", CaseReaders()},
      // Which local authority's area a school or service is in: set by
      // the operator who registers organisations; no personal data.
      {"/ycr.v1.Areas/Assign", {kAdminRole}},
      {"/ycr.v1.Areas/Get", everyone},
      {"/ycr.v1.Agreements/Record", parties},
      {"/ycr.v1.Agreements/Get", CaseReaders()},
      {"/ycr.v1.Correspondence/Record", parties},
      {"/ycr.v1.Correspondence/Get", CaseReaders()},
      {"/ycr.v1.Safeguarding/Record", parties},
      {"/ycr.v1.Safeguarding/Get", CaseReaders()},
      {"/ycr.v1.Audit/Trail", CaseReaders()},
      {"/ycr.v1.Audit/OrganisationDisclosures", CaseReaders()},
      {"/ycr.v1.Audit/ConsentInForce", CaseReaders()},
      // The transparency tree: signed checkpoints, hashes and audit paths
      // are hashes of records, never their bytes (a leaf hash is SHA-256 of
      // a whole stored record: its event id, the previous record's chain
      // hash, ciphertext of the personal part; it can be neither reversed
      // nor confirmed by guessing), and the same hashes are public at the
      // tlog HTTP listener. So every authenticated role may check the log;
      // reading the records stays on the rows above.
      {"/ycr.v1.Audit/Checkpoint", everyone},
      {"/ycr.v1.Audit/InclusionProof", everyone},
      {"/ycr.v1.Audit/InclusionProofs", everyone},
      {"/ycr.v1.Audit/ConsistencyProof", everyone},
      // A subject access request: the record's holder answers it (checked
      // in the handler), auditors may compile it.
      {"/ycr.v1.Audit/SubjectAccessPack",
       {kSchoolRole, kServiceRole, kAuditorRole}},
      {"/ycr.v1.Deadlines/ListDue", deadline_readers},
      {"/ycr.v1.Deadlines/ListOverdue", deadline_readers},
      {"/ycr.v1.Deadlines/FlagOverdue", {kSchedulerRole}},
      {"/ycr.v1.Caseloads/Counts", CaseReaders()},
      {"/ycr.v1.Caseloads/ListReferrals", CaseReaders()},
      // The access log: who read which subject's data. Personal data of
      // the readers: auditors only.
      {"/ycr.v1.AccessLog/ListBySubject", {kAuditorRole}},
      {"/ycr.v1.AccessLog/ListByReader", {kAuditorRole}},
      // Operations: no personal data (a backup is the store's files, taken
      // and kept by the operator).
      {"/ycr.v1.Admin/Backup", {kAdminRole}},
      {"/ycr.v1.Projections/Status", {kAdminRole}},
      {"/ycr.v1.Projections/Rebuild", {kAdminRole}},
      // Served only by a server started with --testing_time_control.
      {"/ycr.v1.Testing/AdvanceTime", {kAdminRole}},
      {"/ycr.v1.Testing/GetTime", everyone},
  };
}

}  // namespace

const std::vector<std::string>& AllRoles() {
  static const auto* roles = new std::vector<std::string>{
      kSchoolRole,  kServiceRole,   kLocalAuthorityRole,
      kAuditorRole, kSchedulerRole, kAdminRole};
  return *roles;
}

const std::vector<PolicyRow>& PolicyTable() {
  static const auto* table = new std::vector<PolicyRow>(BuildTable());
  return *table;
}

absl::Status Authorise(const v1::Actor& caller, absl::string_view method) {
  for (const PolicyRow& row : PolicyTable()) {
    if (row.method != method) continue;
    if (std::find(row.roles.begin(), row.roles.end(), caller.role()) !=
        row.roles.end()) {
      return absl::OkStatus();
    }
    return absl::PermissionDeniedError(
        absl::StrCat("role '", caller.role(), "' may not call ", method,
                     " (it is for: ", absl::StrJoin(row.roles, ", "), ")"));
  }
  return absl::PermissionDeniedError(
      absl::StrCat("no one may call ", method, ": it has no policy row"));
}

}  // namespace ycr::services
