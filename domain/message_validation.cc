#include "domain/message_validation.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/error_details.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/unknown_field_set.h"
#include "ycr/v1/classification.pb.h"

namespace ycr::domain {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Field-specific time bounds, tighter than [kEarliestTime, kLatestTime).
// Static on purpose (see the header); bounds relative to now are the
// domain rules':
// - consent validity (ConsentTerms.valid_from, valid_until): 2000-01-01 to
//   2100-01-01, and valid_until after valid_from when both are set (the
//   consent rules also require both);
// - an effective date (ConsentWithdrawn.effective_at): the generic range
//   here; the consent rules hold it to 1900-01-01 .. now + 2 years;
// - a date of birth (SubjectRecord.date_of_birth, text YYYY-MM-DD):
//   1900-01-01 to 2200-01-01 here; the subject rules refuse one in the
//   future;
// - the instants of queries (ListOverdue.as_of, ListDue.by,
//   ConsentInForce.at, OrganisationDisclosures.from/to, an access-log
//   range): the generic range, which every time conversion handles exactly
//   (absl clamps only outside 1677..2262).
struct TimeBounds {
  int64_t earliest;
  int64_t latest;  // Exclusive.
};
constexpr int64_t k2000 = 946684800;   // 2000-01-01T00:00:00Z
constexpr int64_t k2100 = 4102444800;  // 2100-01-01T00:00:00Z

const absl::flat_hash_map<std::string, TimeBounds>& FieldTimeBounds() {
  static const auto* bounds = new absl::flat_hash_map<std::string, TimeBounds>{
      {"ycr.v1.ConsentTerms.valid_from", {k2000, k2100}},
      {"ycr.v1.ConsentTerms.valid_until", {k2000, k2100}},
  };
  return *bounds;
}

// Field-specific length limits (bytes of a string, elements of a repeated
// field), where the server's configurable limits may go past the class's:
// stream ids up to the largest --max_stream_id_bytes (4096), events in one
// append up to the largest --max_events_per_append (100000). The log
// enforces the configured limits.
const absl::flat_hash_map<std::string, size_t>& FieldLengths() {
  static const auto* lengths = new absl::flat_hash_map<std::string, size_t>{
      {"ycr.v1.AppendRequest.stream", 4096},
      {"ycr.v1.StreamCondition.stream", 4096},
      {"ycr.v1.ReadStreamRequest.stream", 4096},
      {"ycr.v1.ReadAllFilter.stream_prefix", 4096},
      {"ycr.v1.AppendRequest.events", 100000},
  };
  return *lengths;
}

std::string FormatSeconds(int64_t seconds) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(seconds),
                          absl::UTCTimeZone());
}

// Decodes one UTF-8 code point at s[*i]; false when ill-formed (overlong,
// surrogate, past U+10FFFF, truncated).
bool NextCodePoint(absl::string_view s, size_t* i, uint32_t* out) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(*i);
  int extra = 0;
  uint32_t cp = 0;
  uint32_t min = 0;
  if (c < 0x80) {
    *out = c;
    ++*i;
    return true;
  } else if ((c & 0xE0) == 0xC0) {
    extra = 1;
    cp = c & 0x1F;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    extra = 2;
    cp = c & 0x0F;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    extra = 3;
    cp = c & 0x07;
    min = 0x10000;
  } else {
    return false;
  }
  if (*i + extra >= s.size()) return false;
  for (int k = 1; k <= extra; ++k) {
    const unsigned char d = b(*i + k);
    if ((d & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (d & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return false;
  }
  *i += extra + 1;
  *out = cp;
  return true;
}

// A field's path as the refusals write it ("consent.terms.valid_from",
// "items[2]", "by_state[\"key\"]", "consent.9999"), kept as a chain of
// nodes on the walker's stack and made into text only when a violation
// names it: a valid message builds no path at all.
class Path {
 public:
  // The walk's root: `prefix` as given (may be empty).
  explicit Path(absl::string_view prefix) : kind_(Kind::kRoot), text_(prefix) {}

  // parent + "." + name (just name under an empty parent).
  static Path Name(const Path& parent, absl::string_view name) {
    return Path(&parent, Kind::kName, name, 0);
  }
  // parent + "." + number (just the number under an empty parent).
  static Path Number(const Path& parent, int64_t number) {
    return Path(&parent, Kind::kNumber, {}, number);
  }
  // parent + "[" + index + "]".
  static Path Index(const Path& parent, int64_t index) {
    return Path(&parent, Kind::kIndex, {}, index);
  }
  // parent + "[\"" + CHexEscape(key) + "\"]"; `key` must outlive the node.
  static Path Key(const Path& parent, absl::string_view key) {
    return Path(&parent, Kind::kKey, key, 0);
  }

  std::string str() const {
    std::string out;
    AppendTo(&out);
    return out;
  }

 private:
  enum class Kind { kRoot, kName, kNumber, kIndex, kKey };

  Path(const Path* parent, Kind kind, absl::string_view text, int64_t number)
      : parent_(parent), kind_(kind), text_(text), number_(number) {}

  void AppendTo(std::string* out) const {
    if (parent_ != nullptr) parent_->AppendTo(out);
    switch (kind_) {
      case Kind::kRoot:
        out->append(text_.data(), text_.size());
        return;
      case Kind::kName:
        if (!out->empty()) out->push_back('.');
        out->append(text_.data(), text_.size());
        return;
      case Kind::kNumber:
        if (!out->empty()) out->push_back('.');
        absl::StrAppend(out, number_);
        return;
      case Kind::kIndex:
        absl::StrAppend(out, "[", number_, "]");
        return;
      case Kind::kKey:
        absl::StrAppend(out, "[\"", absl::CHexEscape(text_), "\"]");
        return;
    }
  }

  const Path* parent_ = nullptr;
  Kind kind_;
  absl::string_view text_;
  int64_t number_ = 0;
};

class Walker {
 public:
  explicit Walker(size_t max) : max_(max) {}

  std::vector<MessageViolation> Take() && { return std::move(violations_); }

  void Message(const google::protobuf::Message& message, const Path& path) {
    if (Full()) return;
    const Descriptor* descriptor = message.GetDescriptor();
    const std::string& type = descriptor->full_name();
    if (type == "google.protobuf.Timestamp") {
      Timestamp(message, path, nullptr);
    } else if (type == "google.protobuf.Duration") {
      Duration(message, path);
    }
    const Reflection* reflection = message.GetReflection();
    std::vector<const FieldDescriptor*> fields;
    reflection->ListFields(message, &fields);
    for (const FieldDescriptor* field : fields) {
      if (Full()) return;
      Field(message, field, Path::Name(path, field->name()),
            v1::FIELD_CLASS_UNSPECIFIED);
    }
    if (type == "ycr.v1.ConsentTerms") ConsentTerms(message, path);
    const google::protobuf::UnknownFieldSet& unknown =
        reflection->GetUnknownFields(message);
    for (int i = 0; i < unknown.field_count() && !Full(); ++i) {
      Add(Path::Number(path, unknown.field(i).number()),
          absl::StrCat("field number ", unknown.field(i).number(),
                       " is not in the contract of ", type,
                       " (a newer client?): nothing was stored"),
          reason::kUnknownField);
    }
  }

 private:
  bool Full() const { return violations_.size() >= max_; }

  void Add(const Path& field, std::string description, const char* why) {
    if (Full()) return;
    violations_.push_back({field.str(), std::move(description), why});
  }

  // `inherited`: the class of the map field an entry's key or value
  // belongs to.
  void Field(const google::protobuf::Message& message,
             const FieldDescriptor* field, const Path& path,
             v1::FieldClass inherited) {
    const Reflection* reflection = message.GetReflection();
    if (field->is_repeated()) {
      const int n = reflection->FieldSize(message, field);
      auto limit = FieldLengths().find(field->full_name());
      const size_t max =
          limit == FieldLengths().end() ? kMaxRepeated : limit->second;
      if (static_cast<size_t>(n) > max) {
        Add(path,
            absl::StrCat("at most ", max, " elements (this one has ", n, ")"),
            reason::kTooLong);
        return;
      }
      if (field->is_map()) {
        MapEntries(message, field, path);
        return;
      }
      for (int i = 0; i < n && !Full(); ++i) {
        Element(message, field, i, Path::Index(path, i), inherited);
      }
      return;
    }
    Element(message, field, -1, path, inherited);
  }

  void MapEntries(const google::protobuf::Message& message,
                  const FieldDescriptor* field, const Path& path) {
    const Reflection* reflection = message.GetReflection();
    const v1::FieldClass map_class =
        field->options().GetExtension(v1::classification);
    const Descriptor* entry_type = field->message_type();
    const FieldDescriptor* key = entry_type->map_key();
    const FieldDescriptor* value = entry_type->map_value();
    const int n = reflection->FieldSize(message, field);
    for (int i = 0; i < n && !Full(); ++i) {
      const google::protobuf::Message& entry =
          reflection->GetRepeatedMessage(message, field, i);
      const Reflection* er = entry.GetReflection();
      std::string key_text;
      const bool string_key =
          key->cpp_type() == FieldDescriptor::CPPTYPE_STRING;
      if (string_key) key_text = er->GetString(entry, key);
      const Path entry_path =
          string_key ? Path::Key(path, key_text) : Path::Index(path, i);
      Element(entry, key, -1, entry_path, map_class);
      Element(entry, value, -1, entry_path, map_class);
      const auto& unknown = er->GetUnknownFields(entry);
      for (int u = 0; u < unknown.field_count(); ++u) {
        Add(Path::Number(entry_path, unknown.field(u).number()),
            "field number not in the contract of the map entry",
            reason::kUnknownField);
      }
    }
  }

  // One value of `field` (index -1: singular).
  void Element(const google::protobuf::Message& message,
               const FieldDescriptor* field, int index, const Path& path,
               v1::FieldClass inherited) {
    const Reflection* r = message.GetReflection();
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_ENUM: {
        const int value = index < 0
                              ? r->GetEnumValue(message, field)
                              : r->GetRepeatedEnumValue(message, field, index);
        if (field->enum_type()->FindValueByNumber(value) == nullptr) {
          Add(path,
              absl::StrCat(value, " is not a value of ",
                           field->enum_type()->full_name()),
              reason::kUnknownEnumValue);
        }
        return;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& value =
            index < 0 ? r->GetStringReference(message, field, &scratch)
                      : r->GetRepeatedStringReference(message, field, index,
                                                      &scratch);
        v1::FieldClass cls = field->options().GetExtension(v1::classification);
        if (cls == v1::FIELD_CLASS_UNSPECIFIED) cls = inherited;
        String(field, value, cls, path);
        return;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        const google::protobuf::Message& child =
            index < 0 ? r->GetMessage(message, field)
                      : r->GetRepeatedMessage(message, field, index);
        if (field->message_type()->full_name() == "google.protobuf.Timestamp") {
          auto bounds = FieldTimeBounds().find(field->full_name());
          Timestamp(
              child, path,
              bounds == FieldTimeBounds().end() ? nullptr : &bounds->second);
          // The generic check again is harmless; the walk below still
          // looks at its unknown fields.
          WalkChildSkippingTime(child, path);
          return;
        }
        Message(child, path);
        return;
      }
      default:
        return;  // Numbers and booleans: every value is defined.
    }
  }

  // As Message(), without the Timestamp check (its caller made it with the
  // field's own bounds).
  void WalkChildSkippingTime(const google::protobuf::Message& message,
                             const Path& path) {
    const Reflection* reflection = message.GetReflection();
    const auto& unknown = reflection->GetUnknownFields(message);
    for (int i = 0; i < unknown.field_count() && !Full(); ++i) {
      Add(Path::Number(path, unknown.field(i).number()),
          absl::StrCat("field number ", unknown.field(i).number(),
                       " is not in the contract of ",
                       message.GetDescriptor()->full_name()),
          reason::kUnknownField);
    }
  }

  void String(const FieldDescriptor* field, const std::string& value,
              v1::FieldClass cls, const Path& path) {
    const bool bytes = field->type() == FieldDescriptor::TYPE_BYTES;
    const bool free_text =
        cls == v1::FIELD_CLASS_PERSONAL || cls == v1::FIELD_CLASS_OPERATIONAL;
    size_t max = bytes       ? kMaxOperationalBytes
                 : free_text ? kMaxFreeTextBytes
                             : kMaxCodeBytes;
    if (auto it = FieldLengths().find(field->full_name());
        it != FieldLengths().end()) {
      max = it->second;
    }
    if (value.size() > max) {
      Add(path,
          absl::StrCat("at most ", max, " bytes (this one has ", value.size(),
                       ")"),
          reason::kTooLong);
      return;
    }
    if (bytes) return;  // Opaque: any octets.
    size_t i = 0;
    while (i < value.size()) {
      // Printable ASCII, the bulk of any text: valid anywhere.
      if (const unsigned char c = static_cast<unsigned char>(value[i]);
          c >= 0x20 && c < 0x7F) {
        ++i;
        continue;
      }
      const size_t at = i;
      uint32_t cp = 0;
      if (!NextCodePoint(value, &i, &cp)) {
        Add(path, absl::StrCat("not valid UTF-8 (at byte ", at, ")"),
            reason::kFieldInvalid);
        return;
      }
      const bool control = cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0);
      const bool line = cp == '\t' || cp == '\n' || cp == '\r';
      if (control && !(free_text && line)) {
        Add(path,
            absl::StrCat("a control character (U+",
                         absl::Hex(cp, absl::kZeroPad4), ") at byte ", at,
                         free_text ? "; free text may hold only tab and line "
                                     "breaks"
                                   : "; an id or code holds none"),
            reason::kFieldInvalid);
        return;
      }
    }
    if (cls == v1::FIELD_CLASS_CODE && !Token(value) &&
        !HasClosedList(field->full_name())) {
      // A code is a token: free text ("mother, who is ill") in a plain,
      // unsealed field would outlive an erasure.
      Add(path,
          "a code: letters, digits and . _ : / + @ - only, no spaces (free "
          "text about a person belongs in the personal part)",
          reason::kFieldInvalid);
      return;
    }
    if (cls == v1::FIELD_CLASS_IDENTIFIER && !Token(value) &&
        !NamesAPerson(field->full_name())) {
      // An identifier is a token too: a worker, a decision maker or an
      // assessor is named by a user id ("j.khan@school-1"), never by words
      // ("Tom's mother's carer") that would sit unsealed in the log and
      // outlive the child's erasure.
      Add(path,
          "an identifier: letters, digits and . _ : / + @ - only, no spaces "
          "(a person's name or free text about a person belongs in the "
          "personal part)",
          reason::kFieldInvalid);
      return;
    }
    if (field->full_name() == "ycr.v1.SubjectRecord.date_of_birth" &&
        !value.empty()) {
      DateOfBirth(value, path);
    }
  }

  // Codes the domain checks against a closed list itself, with a message
  // that lists them (domain/refusals.h).
  static bool HasClosedList(const std::string& full_name) {
    return full_name == "ycr.v1.RelatedPerson.relationship" ||
           full_name == "ycr.v1.ParentalResponsibility.relationship" ||
           full_name == "ycr.v1.SafeguardingBasis.lawful_basis";
  }

  // Identifying fields that hold a person's name, a date or a contact as
  // written (spaces and all): the subject record's, which the record store
  // seals under the subject's key, and an agreement's staff contacts, which
  // are about staff, not children, and shown only to the agreement's
  // parties.
  static bool NamesAPerson(const std::string& full_name) {
    return full_name == "ycr.v1.SubjectRecord.given_name" ||
           full_name == "ycr.v1.SubjectRecord.family_name" ||
           full_name == "ycr.v1.SubjectRecord.date_of_birth" ||
           full_name == "ycr.v1.RelatedPerson.name" ||
           full_name == "ycr.v1.ContactDetail.value" ||
           full_name == "ycr.v1.Contact.name" ||
           full_name == "ycr.v1.Contact.phone" ||
           full_name == "ycr.v1.Contact.email";
  }

  static bool Token(const std::string& value) {
    for (char c : value) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
          std::string_view("._:/+@-").find(c) == std::string_view::npos) {
        return false;
      }
    }
    return true;
  }

  // A date of birth is YYYY-MM-DD from 1900-01-01, before 2200-01-01.
  void DateOfBirth(const std::string& value, const Path& path) {
    absl::CivilDay day;
    if (value.size() != 10 || !absl::ParseCivilTime(value, &day) ||
        absl::FormatCivilTime(day) != value) {
      Add(path, "a date, YYYY-MM-DD", reason::kFieldInvalid);
      return;
    }
    if (day.year() < 1900 || day.year() >= 2200) {
      Add(path, "from 1900-01-01, before 2200-01-01", reason::kTimeOutOfRange);
    }
  }

  void Timestamp(const google::protobuf::Message& t, const Path& path,
                 const TimeBounds* bounds) {
    const Descriptor* d = t.GetDescriptor();
    const Reflection* r = t.GetReflection();
    const int64_t seconds = r->GetInt64(t, d->FindFieldByName("seconds"));
    const int32_t nanos = r->GetInt32(t, d->FindFieldByName("nanos"));
    const TimeBounds generic{kEarliestTime, kLatestTime};
    const TimeBounds& b = bounds != nullptr ? *bounds : generic;
    if (nanos < 0 || nanos > 999999999) {
      Add(Path::Name(path, "nanos"),
          absl::StrCat(nanos, " is not in [0, 999999999]"),
          reason::kTimeOutOfRange);
    }
    if (seconds < b.earliest || seconds >= b.latest) {
      Add(Path::Name(path, "seconds"),
          absl::StrCat(seconds, " is not from ", FormatSeconds(b.earliest),
                       " to before ", FormatSeconds(b.latest)),
          reason::kTimeOutOfRange);
    }
  }

  // |seconds| at most the whole time range; nanos in (-1e9, 1e9) with the
  // sign of seconds.
  void Duration(const google::protobuf::Message& d, const Path& path) {
    const Descriptor* desc = d.GetDescriptor();
    const Reflection* r = d.GetReflection();
    const int64_t seconds = r->GetInt64(d, desc->FindFieldByName("seconds"));
    const int32_t nanos = r->GetInt32(d, desc->FindFieldByName("nanos"));
    constexpr int64_t kSpan = kLatestTime - kEarliestTime;
    if (seconds > kSpan || seconds < -kSpan) {
      Add(Path::Name(path, "seconds"),
          absl::StrCat(seconds, " is longer than ", kSpan, " seconds"),
          reason::kTimeOutOfRange);
    }
    if (nanos <= -1000000000 || nanos >= 1000000000 ||
        (seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0)) {
      Add(Path::Name(path, "nanos"),
          absl::StrCat(nanos,
                       " is not in (-1e9, 1e9) with the sign of seconds"),
          reason::kTimeOutOfRange);
    }
  }

  void ConsentTerms(const google::protobuf::Message& terms, const Path& path) {
    const Descriptor* d = terms.GetDescriptor();
    const Reflection* r = terms.GetReflection();
    const FieldDescriptor* from = d->FindFieldByName("valid_from");
    const FieldDescriptor* until = d->FindFieldByName("valid_until");
    if (from == nullptr || until == nullptr || !r->HasField(terms, from) ||
        !r->HasField(terms, until)) {
      return;
    }
    auto at = [](const google::protobuf::Message& t) {
      const Descriptor* td = t.GetDescriptor();
      const Reflection* tr = t.GetReflection();
      return std::make_pair(tr->GetInt64(t, td->FindFieldByName("seconds")),
                            tr->GetInt32(t, td->FindFieldByName("nanos")));
    };
    if (at(r->GetMessage(terms, until)) <= at(r->GetMessage(terms, from))) {
      Add(Path::Name(path, "valid_until"), "must be after valid_from",
          reason::kTimeOutOfRange);
    }
  }

  const size_t max_;
  std::vector<MessageViolation> violations_;
};

}  // namespace

std::vector<MessageViolation> FindViolations(const Message& message,
                                             absl::string_view prefix,
                                             size_t max) {
  Walker walker(max);
  walker.Message(message, Path(prefix));
  return std::move(walker).Take();
}

absl::Status ValidateMessage(const Message& message) {
  std::vector<MessageViolation> found = FindViolations(message);
  if (found.empty()) return absl::OkStatus();
  std::vector<FieldViolation> violations;
  violations.reserve(found.size());
  for (MessageViolation& v : found) {
    violations.push_back(
        {std::move(v.field), std::move(v.description), v.reason});
  }
  return FieldErrors(violations, found[0].reason);
}

}  // namespace ycr::domain
