// The generic command line's output (cli_generic.h): responses as protobuf
// JSON or in a human form, a table for a list and `field: value` lines
// otherwise.

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/cli/cli_generic.h"
#include "clients/cli/cli_generic_internal.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace ycr::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

using internal::IsScalarLike;
using internal::IsWellKnownScalar;
using internal::kDuration;
using internal::kPackage;
using internal::kTimestamp;
using internal::ShortTypeName;

std::string WellKnownText(const Message& m) {
  const Descriptor* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  const int64_t seconds = r->GetInt64(m, d->FindFieldByName("seconds"));
  const int32_t nanos = r->GetInt32(m, d->FindFieldByName("nanos"));
  using google::protobuf::util::TimeUtil;
  if (d->full_name() == kTimestamp) {
    google::protobuf::Timestamp ts;
    ts.set_seconds(seconds);
    ts.set_nanos(nanos);
    return TimeUtil::ToString(ts);
  }
  google::protobuf::Duration duration;
  duration.set_seconds(seconds);
  duration.set_nanos(nanos);
  return TimeUtil::ToString(duration);
}

std::string EnumText(const EnumDescriptor* e, int number) {
  const EnumValueDescriptor* v = e->FindValueByNumber(number);
  return v != nullptr ? v->name() : std::to_string(number);
}

std::string BytesText(const std::string& bytes) {
  std::string hex = absl::BytesToHexString(bytes);
  if (hex.size() > 32) hex = hex.substr(0, 16) + "...";
  return hex;
}

// One value of a scalar-like field (`index` -1 for a singular field).
std::string ValueText(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return std::to_string(rep ? r->GetRepeatedInt32(m, f, index)
                                : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return std::to_string(rep ? r->GetRepeatedInt64(m, f, index)
                                : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return std::to_string(rep ? r->GetRepeatedUInt32(m, f, index)
                                : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return std::to_string(rep ? r->GetRepeatedUInt64(m, f, index)
                                : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrCat(rep ? r->GetRepeatedDouble(m, f, index)
                              : r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrCat(rep ? r->GetRepeatedFloat(m, f, index)
                              : r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f))
                 ? "true"
                 : "false";
    case FieldDescriptor::CPPTYPE_ENUM:
      return EnumText(f->enum_type(), rep ? r->GetRepeatedEnumValue(m, f, index)
                                          : r->GetEnumValue(m, f));
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string s =
          rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      return f->type() == FieldDescriptor::TYPE_BYTES ? BytesText(s) : s;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (!rep && !r->HasField(m, f)) return "";
      return WellKnownText(rep ? r->GetRepeatedMessage(m, f, index)
                               : r->GetMessage(m, f));
  }
  return "";
}

// The text of a scalar-like field, repeated values joined by commas.
std::string FieldText(const Message& m, const FieldDescriptor* f) {
  if (!f->is_repeated()) return ValueText(m, f, -1);
  const int n = m.GetReflection()->FieldSize(m, f);
  std::vector<std::string> values;
  for (int i = 0; i < n; ++i) values.push_back(ValueText(m, f, i));
  return absl::StrJoin(values, ",");
}

void Lines(const Message& m, int indent, std::string* out) {
  const Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  const std::string pad(indent, ' ');
  for (const FieldDescriptor* f : fields) {
    if (f->is_map()) {
      absl::StrAppend(out, pad, f->name(), ":\n");
      const int n = r->FieldSize(m, f);
      for (int i = 0; i < n; ++i) {
        const Message& entry = r->GetRepeatedMessage(m, f, i);
        const Descriptor* d = entry.GetDescriptor();
        absl::StrAppend(out, pad, "  ", ValueText(entry, d->field(0), -1), ": ",
                        ValueText(entry, d->field(1), -1), "\n");
      }
    } else if (IsScalarLike(f)) {
      absl::StrAppend(out, pad, f->name(), ": ", FieldText(m, f), "\n");
    } else if (f->is_repeated()) {
      absl::StrAppend(out, pad, f->name(), ":\n");
      const int n = r->FieldSize(m, f);
      for (int i = 0; i < n; ++i) {
        std::string nested;
        Lines(r->GetRepeatedMessage(m, f, i), indent + 4, &nested);
        if (nested.size() >= static_cast<size_t>(indent + 4)) {
          nested.replace(indent, 4, "  - ");
        } else {
          nested = pad + "  - {}\n";
        }
        out->append(nested);
      }
    } else {
      const Message& sub = r->GetMessage(m, f);
      std::vector<const FieldDescriptor*> set;
      sub.GetReflection()->ListFields(sub, &set);
      if (set.empty()) {
        absl::StrAppend(out, pad, f->name(), ": {}\n");
      } else {
        absl::StrAppend(out, pad, f->name(), ":\n");
        Lines(sub, indent + 2, out);
      }
    }
  }
}

// The one repeated message field of `d`, if it has exactly one.
const FieldDescriptor* ListField(const Descriptor* d) {
  const FieldDescriptor* found = nullptr;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_repeated() && !f->is_map() &&
        f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        !IsWellKnownScalar(f->message_type())) {
      if (found != nullptr) return nullptr;
      found = f;
    }
  }
  return found;
}

std::string Table(const Message& m, const FieldDescriptor* list) {
  const Descriptor* row_type = list->message_type();
  std::vector<const FieldDescriptor*> columns;
  for (int i = 0; i < row_type->field_count(); ++i) {
    if (IsScalarLike(row_type->field(i))) columns.push_back(row_type->field(i));
  }
  const Reflection* r = m.GetReflection();
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> header;
  for (const FieldDescriptor* c : columns) {
    header.push_back(absl::AsciiStrToUpper(c->name()));
  }
  cells.push_back(header);
  const int n = r->FieldSize(m, list);
  for (int i = 0; i < n; ++i) {
    const Message& row = r->GetRepeatedMessage(m, list, i);
    std::vector<std::string> line;
    for (const FieldDescriptor* c : columns) {
      std::string text = FieldText(row, c);
      line.push_back(text.empty() ? "-" : text);
    }
    cells.push_back(std::move(line));
  }
  std::vector<size_t> widths(columns.size(), 0);
  for (const auto& line : cells) {
    for (size_t c = 0; c < line.size(); ++c) {
      widths[c] = std::max(widths[c], line[c].size());
    }
  }
  std::string out;
  for (const auto& line : cells) {
    std::string text;
    for (size_t c = 0; c < line.size(); ++c) {
      text += line[c];
      if (c + 1 < line.size())
        text += std::string(widths[c] - line[c].size() + 2, ' ');
    }
    absl::StrAppend(&out, text, "\n");
  }
  if (n == 0) absl::StrAppend(&out, "(no ", list->name(), ")\n");
  return out;
}

}  // namespace

namespace internal {

bool IsWellKnownScalar(const Descriptor* d) {
  return d->full_name() == kTimestamp || d->full_name() == kDuration;
}

// A field shown as one value: not a message, or a timestamp or duration.
bool IsScalarLike(const FieldDescriptor* f) {
  if (f->is_map()) return false;
  return f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
         IsWellKnownScalar(f->message_type());
}

std::string ShortTypeName(const std::string& full_name) {
  const std::string prefix = absl::StrCat(kPackage, ".");
  if (absl::StartsWith(full_name, prefix)) {
    return full_name.substr(prefix.size());
  }
  return full_name;
}

}  // namespace internal

std::string ToJson(const Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok())
    return absl::StrCat("{\"error\":\"", status.ToString(), "\"}");
  return out;
}

std::string ToHuman(const Message& message) {
  if (const FieldDescriptor* list = ListField(message.GetDescriptor())) {
    const Descriptor* row = list->message_type();
    bool has_columns = false;
    for (int i = 0; i < row->field_count(); ++i) {
      has_columns = has_columns || IsScalarLike(row->field(i));
    }
    if (has_columns) {
      std::string out = Table(message, list);
      std::unique_ptr<Message> rest(message.New());
      rest->CopyFrom(message);
      rest->GetReflection()->ClearField(rest.get(), list);
      Lines(*rest, 0, &out);
      return out;
    }
  }
  std::string out;
  Lines(message, 0, &out);
  if (out.empty()) out = "(empty response)\n";
  return out;
}

}  // namespace ycr::cli
