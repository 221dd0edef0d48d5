#include "storage/key_format.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace ycr::storage {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// Values either side of every byte boundary of a big-endian u64.
std::vector<uint64_t> BoundaryValues() {
  std::vector<uint64_t> values = {0, 1, 2, 127, 128, 254, 255, 256, 257};
  for (int bits = 16; bits < 64; bits += 8) {
    const uint64_t boundary = uint64_t{1} << bits;
    values.push_back(boundary - 1);
    values.push_back(boundary);
    values.push_back(boundary + 1);
  }
  values.push_back(kMax - 1);
  values.push_back(kMax);
  std::sort(values.begin(), values.end());
  return values;
}

TEST(KeyFormatTest, BigEndianHelpersRoundTripAndAreMostSignificantFirst) {
  std::string out;
  PutBigEndian64(&out, 0x0102030405060708ULL);
  EXPECT_EQ(out, std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(GetBigEndian64(out.data()), 0x0102030405060708ULL);

  out.clear();
  PutBigEndian32(&out, 0xA1B2C3D4u);
  EXPECT_EQ(out, std::string("\xA1\xB2\xC3\xD4", 4));
  EXPECT_EQ(GetBigEndian32(out.data()), 0xA1B2C3D4u);

  for (uint64_t v : BoundaryValues()) {
    std::string s;
    PutBigEndian64(&s, v);
    ASSERT_EQ(s.size(), 8u);
    EXPECT_EQ(GetBigEndian64(s.data()), v);
  }
}

TEST(KeyFormatTest, LogKeysSortNumericallyAcrossByteBoundaries) {
  const std::vector<uint64_t> values = BoundaryValues();
  for (size_t i = 0; i + 1 < values.size(); ++i) {
    const std::string a = LogKey(values[i]);
    const std::string b = LogKey(values[i + 1]);
    EXPECT_LT(a.compare(b), 0)
        << "LogKey(" << values[i] << ") should sort before LogKey("
        << values[i + 1] << ")";
  }
  // Explicit pairs from the contract.
  EXPECT_LT(LogKey(255), LogKey(256));
  EXPECT_LT(LogKey(65535), LogKey(65536));
  EXPECT_LT(LogKey((uint64_t{1} << 32) - 1), LogKey(uint64_t{1} << 32));
  EXPECT_LT(LogKey(kMax - 1), LogKey(kMax));
}

TEST(KeyFormatTest, LogKeyIsPrefixedNineBytesAndRoundTrips) {
  for (uint64_t v : BoundaryValues()) {
    const std::string key = LogKey(v);
    ASSERT_EQ(key.size(), 9u);
    EXPECT_EQ(static_cast<uint8_t>(key[0]),
              static_cast<uint8_t>(KeyPrefix::kLogRecord));
    std::optional<uint64_t> decoded = DecodeLogKey(key);
    ASSERT_TRUE(decoded.has_value()) << v;
    EXPECT_EQ(*decoded, v);
  }
}

TEST(KeyFormatTest, MalformedLogKeysDecodeToNullopt) {
  const std::string good = LogKey(42);
  EXPECT_FALSE(DecodeLogKey("").has_value());
  EXPECT_FALSE(DecodeLogKey(good.substr(0, 8)).has_value());
  EXPECT_FALSE(DecodeLogKey(good + "x").has_value());
  std::string wrong_prefix = good;
  wrong_prefix[0] = static_cast<char>(KeyPrefix::kStreamIndex);
  EXPECT_FALSE(DecodeLogKey(wrong_prefix).has_value());
  EXPECT_FALSE(DecodeLogKey(StreamKey("s", 42)).has_value());
}

TEST(KeyFormatTest, StreamKeysOfOneStreamSortByVersion) {
  const std::vector<uint64_t> values = BoundaryValues();
  for (const char* stream : {"a", "case-1", "x/y@z"}) {
    for (size_t i = 0; i + 1 < values.size(); ++i) {
      EXPECT_LT(StreamKey(stream, values[i]), StreamKey(stream, values[i + 1]))
          << stream << " " << values[i] << " vs " << values[i + 1];
    }
  }
}

TEST(KeyFormatTest, StreamKeysStayInsideTheirStreamRangeAndNoOtherStreamsDo) {
  // Streams that share prefixes, including every punctuation character the
  // stream grammar allows right after the shared prefix.
  const std::vector<std::string> streams = {
      "a",  "a-b", "ab", "a.b", "a_b", "a:b", "a/b", "a@b", "a+b",
      "a0", "A",   "aa", "b",   "a-",  "ba",  "a/",  "z",   "Z9"};
  const std::vector<uint64_t> versions = BoundaryValues();
  std::vector<std::pair<std::string, size_t>> all;  // key, stream index
  for (size_t s = 0; s < streams.size(); ++s) {
    for (uint64_t v : versions) all.emplace_back(StreamKey(streams[s], v), s);
  }
  for (size_t s = 0; s < streams.size(); ++s) {
    const std::string lower = StreamKey(streams[s], 0);
    const std::string upper = StreamKeyEnd(streams[s]);
    ASSERT_LT(lower, upper);
    for (const auto& [key, owner] : all) {
      const bool inside = key >= lower && key < upper;
      EXPECT_EQ(inside, owner == s) << "key of '" << streams[owner]
                                    << "' vs range of '" << streams[s] << "'";
    }
  }
  // Sorted, each stream's keys are contiguous.
  std::sort(all.begin(), all.end());
  std::vector<bool> finished(streams.size(), false);
  for (size_t i = 0; i < all.size(); ++i) {
    if (i > 0 && all[i].second != all[i - 1].second) {
      finished[all[i - 1].second] = true;
    }
    EXPECT_FALSE(finished[all[i].second])
        << "keys of '" << streams[all[i].second] << "' are not contiguous";
  }
}

TEST(KeyFormatTest, KeysOfAStreamSortBeforeKeysOfStreamsItPrefixes) {
  for (const char* longer : {"a-b", "ab", "a.b", "a0"}) {
    EXPECT_LT(StreamKey("a", kMax), StreamKey(longer, 0)) << longer;
    EXPECT_LE(StreamKeyEnd("a"), StreamKey(longer, 0)) << longer;
  }
}

TEST(KeyFormatTest, StreamKeyRoundTrips) {
  for (const char* stream : {"a", "a-b", "case:123/consent@org+1", "Z"}) {
    for (uint64_t v : BoundaryValues()) {
      std::optional<StreamKeyParts> parts =
          DecodeStreamKey(StreamKey(stream, v));
      ASSERT_TRUE(parts.has_value()) << stream << " " << v;
      EXPECT_EQ(parts->stream, stream);
      EXPECT_EQ(parts->version, v);
    }
  }
}

TEST(KeyFormatTest, MalformedStreamKeysDecodeToNullopt) {
  const std::string good = StreamKey("abc", 7);
  EXPECT_FALSE(DecodeStreamKey("").has_value());
  // Too short to hold a stream, terminator and version.
  EXPECT_FALSE(DecodeStreamKey(good.substr(0, 9)).has_value());
  // Truncated version: the terminator is no longer 9 bytes from the end.
  EXPECT_FALSE(DecodeStreamKey(good.substr(0, good.size() - 1)).has_value());
  // Wrong prefix.
  std::string wrong_prefix = good;
  wrong_prefix[0] = static_cast<char>(KeyPrefix::kLogRecord);
  EXPECT_FALSE(DecodeStreamKey(wrong_prefix).has_value());
  // No 0x00 terminator.
  std::string no_terminator = good;
  no_terminator[good.size() - 9] = 'x';
  EXPECT_FALSE(DecodeStreamKey(no_terminator).has_value());
  EXPECT_FALSE(DecodeStreamKey(LogKey(7)).has_value());
  EXPECT_FALSE(DecodeStreamKey(StreamKeyEnd("abc")).has_value());
}

TEST(KeyFormatTest, PositionValueRoundTripsAndRejectsWrongSizes) {
  for (uint64_t v : BoundaryValues()) {
    const std::string value = EncodePosition(v);
    ASSERT_EQ(value.size(), 8u);
    EXPECT_EQ(DecodePosition(value), v);
  }
  EXPECT_FALSE(DecodePosition("").has_value());
  EXPECT_FALSE(DecodePosition("1234567").has_value());
  EXPECT_FALSE(DecodePosition("123456789").has_value());
}

TEST(KeyFormatTest, EventIdKeyIsSeventeenBytesAndCaseInsensitive) {
  const std::string lower = "00112233-4455-6677-8899-aabbccddeeff";
  const std::string upper = "00112233-4455-6677-8899-AABBCCDDEEFF";
  const std::string mixed = "00112233-4455-6677-8899-AaBbCcDdEeFf";
  const std::string key = EventIdKey(lower);
  ASSERT_EQ(key.size(), 17u);
  EXPECT_EQ(key, std::string("\x30\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99"
                             "\xaa\xbb\xcc\xdd\xee\xff",
                             17));
  EXPECT_EQ(EventIdKey(upper), key);
  EXPECT_EQ(EventIdKey(mixed), key);
  EXPECT_NE(EventIdKey("00112233-4455-6677-8899-aabbccddeef0"), key);
}

TEST(KeyFormatTest, EventIdEntryRoundTripsAndRejectsWrongSizes) {
  EventIdEntry entry{(uint64_t{1} << 40) + 3, 65536,
                     std::string(kHashBytes, '\xab')};
  const std::string value = EncodeEventIdEntry(entry);
  ASSERT_EQ(value.size(), 16 + kHashBytes);
  std::optional<EventIdEntry> decoded = DecodeEventIdEntry(value);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->position, entry.position);
  EXPECT_EQ(decoded->stream_version, entry.stream_version);
  EXPECT_EQ(decoded->digest, entry.digest);
  EXPECT_FALSE(DecodeEventIdEntry("").has_value());
  EXPECT_FALSE(DecodeEventIdEntry(value.substr(1)).has_value());
  EXPECT_FALSE(DecodeEventIdEntry(value + "x").has_value());
}

TEST(KeyFormatTest, FormatVersionEncodesAsFourBytesAndRoundTrips) {
  EXPECT_EQ(FormatVersionKey(),
            std::string(1, static_cast<char>(KeyPrefix::kFormatVersion)));
  for (uint32_t v : {0u, 1u, 99u, 256u, 0xFFFFFFFFu}) {
    const std::string value = EncodeFormatVersion(v);
    ASSERT_EQ(value.size(), 4u);
    EXPECT_EQ(DecodeFormatVersion(value), v);
  }
  EXPECT_EQ(EncodeFormatVersion(kStoreFormatVersion),
            std::string("\x00\x00\x00\x07", 4));
  EXPECT_FALSE(DecodeFormatVersion("").has_value());
  EXPECT_FALSE(DecodeFormatVersion("abc").has_value());
  EXPECT_FALSE(DecodeFormatVersion("abcde").has_value());
}

TEST(KeyFormatTest, KeyPrefixesAreDistinctAndOrdered) {
  EXPECT_LT(FormatVersionKey(), LogKey(0));
  EXPECT_LT(LogKey(kMax), StreamKey("a", 0));
  EXPECT_LT(StreamKeyEnd("zzzz"),
            EventIdKey("00000000-0000-0000-0000-000000000000"));
}

TEST(KeyFormatTest, AccessKeysOfOneSubjectSortByTimeThenSequence) {
  const std::string prefix = AccessBySubjectPrefix("s-1");
  std::vector<std::string> keys;
  for (uint64_t at : BoundaryValues()) {
    keys.push_back(AccessKey(prefix, at, 2));
    keys.push_back(AccessKey(prefix, at, 1));
  }
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 1; i < sorted.size(); ++i) {
    std::optional<AccessKeySuffix> a = DecodeAccessKeySuffix(sorted[i - 1]);
    std::optional<AccessKeySuffix> b = DecodeAccessKeySuffix(sorted[i]);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_LT(std::make_pair(a->at_micros, a->sequence),
              std::make_pair(b->at_micros, b->sequence));
  }
}

TEST(KeyFormatTest, AccessKeysStayInsideTheirSubjectOrReaderRange) {
  // "s-1" is a prefix of "s-10": the terminator keeps them apart.
  const std::string s1 = AccessBySubjectPrefix("s-1");
  const std::string s10 = AccessBySubjectPrefix("s-10");
  EXPECT_LT(AccessKey(s1, kMax, kMax), AccessPrefixEnd(s1));
  EXPECT_FALSE(AccessKey(s10, 0, 0) >= s1 &&
               AccessKey(s10, 0, 0) < AccessPrefixEnd(s1));
  // Organisation "a" user "bc" is not organisation "ab" user "c".
  EXPECT_NE(AccessByReaderPrefix("a", "bc"), AccessByReaderPrefix("ab", "c"));
  const std::string reader = AccessByReaderPrefix("school-1", "dsl");
  const std::string other = AccessByReaderPrefix("school-1", "dsl-2");
  EXPECT_FALSE(AccessKey(other, 5, 5) >= reader &&
               AccessKey(other, 5, 5) < AccessPrefixEnd(reader));
  // Subject and reader keys never share a prefix byte.
  EXPECT_NE(s1[0], reader[0]);
}

TEST(KeyFormatTest, AccessLogStateRoundTripsAndRejectsWrongSizes) {
  std::optional<AccessLogState> state =
      DecodeAccessLogState(EncodeAccessLogState(1, kMax - 1));
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->format_version, 1u);
  EXPECT_EQ(state->next_sequence, kMax - 1);
  EXPECT_FALSE(DecodeAccessLogState("short").has_value());
  EXPECT_FALSE(DecodeAccessKeySuffix("x").has_value());
}

}  // namespace
}  // namespace ycr::storage
