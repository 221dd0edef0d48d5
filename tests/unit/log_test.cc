// Structured log lines: one per event, text or JSON, escaped, filtered by
// level.

#include "common/log.h"

#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace ycr {
namespace {

const absl::Time kAt = absl::FromUnixMillis(1764017401123);  // 20:50:01.123

TEST(LogTest, TextLineHasTimeLevelEventAndFields) {
  std::ostringstream out;
  Logger log(&out, LogFormat::kText, LogLevel::kInfo);
  log.LogAt(kAt, LogLevel::kInfo, "server.listening",
            {{"addr", "127.0.0.1:7070"}, {"head", "5"}});
  EXPECT_EQ(out.str(),
            "2025-11-24T20:50:01.123Z INFO server.listening "
            "addr=127.0.0.1:7070 head=5\n");
}

TEST(LogTest, TextQuotesAndEscapesValuesThatWouldSplitTheLine) {
  std::ostringstream out;
  Logger log(&out, LogFormat::kText, LogLevel::kInfo);
  log.LogAt(kAt, LogLevel::kError, "e",
            {{"why", "two words"}, {"q", "a\"b"}, {"nl", "x\ny"}, {"e", ""}});
  EXPECT_EQ(out.str(),
            "2025-11-24T20:50:01.123Z ERROR e why=\"two words\" q=\"a\\\"b\" "
            "nl=\"x\\ny\" e=\"\"\n");
}

TEST(LogTest, JsonLineIsOneObjectWithEscapedStrings) {
  std::ostringstream out;
  Logger log(&out, LogFormat::kJson, LogLevel::kDebug);
  log.LogAt(kAt, LogLevel::kWarning, "drain",
            {{"msg", "say \"hi\"\\\n\t\x01"}});
  EXPECT_EQ(out.str(),
            "{\"time\":\"2025-11-24T20:50:01.123Z\",\"level\":\"WARNING\","
            "\"event\":\"drain\",\"msg\":\"say \\\"hi\\\"\\\\\\n\\t\\u0001\"}"
            "\n");
}

TEST(LogTest, EventsBelowTheLevelAreDropped) {
  std::ostringstream out;
  Logger log(&out, LogFormat::kText, LogLevel::kWarning);
  log.Log(LogLevel::kInfo, "quiet");
  log.Log(LogLevel::kDebug, "quieter");
  EXPECT_EQ(out.str(), "");
  log.Log(LogLevel::kError, "loud");
  EXPECT_NE(out.str().find(" ERROR loud\n"), std::string::npos);
}

TEST(LogTest, ConcurrentWritersNeverMixLines) {
  std::ostringstream out;
  Logger log(&out, LogFormat::kText, LogLevel::kInfo);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < 200; ++i) {
        log.Log(LogLevel::kInfo, "tick", {{"thread", std::to_string(t)}});
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<std::string> lines =
      absl::StrSplit(out.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 800u);
  for (const std::string& line : lines) {
    EXPECT_NE(line.find(" INFO tick thread="), std::string::npos) << line;
  }
}

TEST(LogTest, LevelsAndFormatsParseAndNonsenseIsRefused) {
  EXPECT_EQ(ParseLogLevel("WARNING").value(), LogLevel::kWarning);
  EXPECT_EQ(ParseLogLevel("debug").value(), LogLevel::kDebug);
  EXPECT_FALSE(ParseLogLevel("loud").ok());
  EXPECT_EQ(ParseLogFormat("json").value(), LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml").ok());
}

}  // namespace
}  // namespace ycr
