#pragma once

// Helpers shared by the unit tests of the domain rules (domain/).

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "ycr/v1/event.pb.h"

namespace ycr::domain::testing {

// A caller acting for `organisation`.
inline v1::Actor As(const std::string& organisation) {
  v1::Actor actor;
  actor.set_organisation(organisation);
  actor.set_user("u");
  actor.set_role("r");
  return actor;
}

// `status` has `code` and its message contains `part`.
inline void ExpectStatus(const absl::Status& status, absl::StatusCode code,
                         const std::string& part) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_NE(status.message().find(part), std::string::npos)
      << "expected \"" << part << "\" in: " << status;
}

// A complete party of an agreement.
inline v1::Party MakeParty(const std::string& organisation) {
  v1::Party party;
  party.set_organisation(organisation);
  party.set_name("Name of " + organisation);
  party.set_address("1 High Street");
  party.add_responsibilities("reply to letters");
  party.mutable_lead_contact()->set_name("Lead");
  return party;
}

// Folds `payload`, recorded at `at`, into `view` at its next version with
// `apply` (one of the Apply*Event functions); the fold must succeed.
template <typename View, typename ApplyFn>
void RecordInto(const v1::EventPayload& payload, absl::Time at, View* view,
                ApplyFn apply) {
  v1::RecordedEvent recorded;
  *recorded.mutable_payload() = payload;
  recorded.set_stream_version(view->version + 1);
  *recorded.mutable_recorded_at() = ToProtoTime(at);
  ASSERT_TRUE(apply(recorded, view).ok());
}

}  // namespace ycr::domain::testing
