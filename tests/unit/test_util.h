#pragma once

// Helpers shared by the unit tests: a self-deleting temporary directory,
// opaque test events, request builders and a status matcher.

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "common/ids.h"
#include "gtest/gtest.h"
#include "storage/event_log.h"
#include "ycr/v1/event.pb.h"

namespace ycr::test {

// A fresh directory under the system temp dir, removed with its contents on
// destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "ycr-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = std::move(pattern);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// True when some file under `dir` holds `needle` (to check that bytes never
// reached, or have left, a store's files).
inline bool FilesContain(const std::string& dir, const std::string& needle) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)),
                      std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) return true;
  }
  return false;
}

inline v1::Actor TestActor() {
  v1::Actor actor;
  actor.set_organisation("org-1");
  actor.set_user("user-1");
  actor.set_role("carer-support");
  return actor;
}

// An event with an opaque payload of `type` carrying `data`.
inline v1::ProposedEvent OpaqueEvent(absl::string_view data,
                                     absl::string_view type = "test.note",
                                     std::string event_id = NewUuid()) {
  v1::ProposedEvent event;
  event.set_event_id(std::move(event_id));
  v1::OpaquePayload* opaque = event.mutable_payload()->mutable_opaque();
  opaque->set_type(std::string(type));
  opaque->set_data(std::string(data));
  return event;
}

// An opaque event with a personal part about `subject` holding `notes`.
inline v1::ProposedEvent PersonalEvent(const std::string& subject,
                                       const std::string& notes,
                                       std::string id = NewUuid()) {
  v1::ProposedEvent e = OpaqueEvent("skeleton", "test.note", std::move(id));
  e.mutable_payload()->mutable_personal()->set_subject_id(subject);
  e.mutable_payload()->mutable_personal()->set_notes(notes);
  return e;
}

inline storage::AppendRequest Request(absl::string_view stream,
                                      storage::ExpectedVersion expected,
                                      std::vector<v1::ProposedEvent> events) {
  storage::AppendRequest request;
  request.stream = std::string(stream);
  request.expected = expected;
  request.events = std::move(events);
  request.actor = TestActor();
  return request;
}

// A request for one fresh opaque event.
inline storage::AppendRequest OneEvent(
    absl::string_view stream,
    storage::ExpectedVersion expected = storage::ExpectedVersion::Any(),
    absl::string_view data = "data") {
  return Request(stream, expected, {OpaqueEvent(data)});
}

// Success when `status` has `code` and its message contains every needle.
inline ::testing::AssertionResult StatusIs(
    const absl::Status& status, absl::StatusCode code,
    std::initializer_list<absl::string_view> needles = {}) {
  if (status.code() != code) {
    return ::testing::AssertionFailure()
           << "expected code " << absl::StatusCodeToString(code) << ", got "
           << status;
  }
  for (absl::string_view needle : needles) {
    if (!absl::StrContains(status.message(), needle)) {
      return ::testing::AssertionFailure()
             << "message of " << status << " does not contain \"" << needle
             << "\"";
    }
  }
  return ::testing::AssertionSuccess();
}

// Every event of `log`, paging through ReadAll (expecting each read to
// succeed).
inline std::vector<v1::RecordedEvent> ReadWholeLog(storage::EventLog& log) {
  std::vector<v1::RecordedEvent> out;
  uint64_t from = 1;
  for (;;) {
    absl::StatusOr<storage::LogSlice> slice =
        log.ReadAll(from, 0, storage::LogFilter());
    EXPECT_TRUE(slice.ok()) << slice.status();
    if (!slice.ok()) return out;
    for (auto& e : slice->events) out.push_back(std::move(e));
    if (slice->reached_end) return out;
    EXPECT_GT(slice->next_position, from);
    from = slice->next_position;
  }
}

}  // namespace ycr::test
