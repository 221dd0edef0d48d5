#include "clients/cli/cli_generic.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/error_details.h"
#include "common/files.h"
#include "common/wire_names.h"
#include "google/protobuf/descriptor_database.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/generic/generic_stub.h"

namespace ycr::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::MethodDescriptor;
using google::protobuf::Reflection;
using google::protobuf::ServiceDescriptor;

constexpr char kPackage[] = "ycr.v1";
constexpr char kTimestamp[] = "google.protobuf.Timestamp";
constexpr char kDuration[] = "google.protobuf.Duration";

// Friendly words for one method: `ycr share` is `ycr sharing
// record-disclosure`.
struct Shortcut {
  const char* word;
  const char* service;
  const char* method;
};
constexpr Shortcut kShortcuts[] = {
    {"share", "Sharing", "RecordDisclosure"},
    {"caseload", "Caseloads", "Counts"},
    {"trail", "Audit", "Trail"},
    {"overdue", "Deadlines", "ListOverdue"},
};

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

// --- Building requests -----------------------------------------------------

const FieldDescriptor* FindField(const Descriptor* d, const std::string& name) {
  if (const FieldDescriptor* f = d->FindFieldByName(name)) return f;
  if (const FieldDescriptor* f =
          d->FindFieldByLowercaseName(absl::AsciiStrToLower(name))) {
    return f;
  }
  if (const FieldDescriptor* f = d->FindFieldByCamelcaseName(name)) return f;
  // --subject for subject_id; --service and --school for organisation (the
  // id of either).
  if (const FieldDescriptor* f = d->FindFieldByName(name + "_id")) return f;
  if (name == "service" || name == "school") {
    return d->FindFieldByName("organisation");
  }
  return nullptr;
}

std::string FieldNames(const Descriptor* d) {
  std::vector<std::string> names;
  for (int i = 0; i < d->field_count(); ++i)
    names.push_back(d->field(i)->name());
  return absl::StrJoin(names, ", ");
}

absl::Status MergeJson(const std::string& json, Message* message) {
  std::unique_ptr<Message> parsed(message->New());
  auto status = google::protobuf::util::JsonStringToMessage(json, parsed.get());
  if (!status.ok()) {
    return absl::InvalidArgumentError(std::string(status.message()));
  }
  message->MergeFrom(*parsed);
  return absl::OkStatus();
}

absl::StatusOr<int> EnumNumber(const EnumDescriptor* e,
                               const std::string& value) {
  if (const EnumValueDescriptor* v = e->FindValueByName(value)) {
    return v->number();
  }
  std::string upper = absl::AsciiStrToUpper(value);
  std::replace(upper.begin(), upper.end(), '-', '_');
  if (const EnumValueDescriptor* v = e->FindValueByName(upper)) {
    return v->number();
  }
  // Without the type's prefix: "REFERRAL" for PURPOSE_REFERRAL.
  const EnumValueDescriptor* match = nullptr;
  for (int i = 0; i < e->value_count(); ++i) {
    if (absl::EndsWith(e->value(i)->name(), "_" + upper)) {
      if (match != nullptr) {
        match = nullptr;
        break;
      }
      match = e->value(i);
    }
  }
  if (match != nullptr) return match->number();
  int number = 0;
  if (absl::SimpleAtoi(value, &number)) return number;
  std::vector<std::string> names;
  for (int i = 0; i < e->value_count(); ++i)
    names.push_back(e->value(i)->name());
  return absl::InvalidArgumentError(absl::StrCat(
      "not a value of ", e->name(), " (", absl::StrJoin(names, ", "), ")"));
}

absl::StatusOr<bool> BoolValue(const std::string& v) {
  const std::string l = absl::AsciiStrToLower(v);
  if (l == "true" || l == "1" || l == "yes") return true;
  if (l == "false" || l == "0" || l == "no") return false;
  return absl::InvalidArgumentError("not a bool (true or false)");
}

// Sets (or, for a repeated field, appends) the scalar-like `f` of `m`.
absl::Status SetValue(Message* m, const FieldDescriptor* f,
                      const std::string& value) {
  const Reflection* r = m->GetReflection();
  const bool rep = f->is_repeated();
  auto bad = [&](const char* what) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", value, "' is not ", what));
  };
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("an int32");
      rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("an int64");
      rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("a uint32");
      rep ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("a uint64");
      rep ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v;
      if (!absl::SimpleAtod(value, &v)) return bad("a number");
      rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      float v;
      if (!absl::SimpleAtof(value, &v)) return bad("a number");
      rep ? r->AddFloat(m, f, v) : r->SetFloat(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      absl::StatusOr<bool> v = BoolValue(value);
      if (!v.ok()) return v.status();
      rep ? r->AddBool(m, f, *v) : r->SetBool(m, f, *v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      absl::StatusOr<int> v = EnumNumber(f->enum_type(), value);
      if (!v.ok()) return v.status();
      rep ? r->AddEnumValue(m, f, *v) : r->SetEnumValue(m, f, *v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_STRING:
      rep ? r->AddString(m, f, value) : r->SetString(m, f, value);
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* sub = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
      if (IsWellKnownScalar(f->message_type())) {
        absl::Status s = MergeJson(absl::StrCat("\"", value, "\""), sub);
        if (!s.ok()) {
          return bad(f->message_type()->full_name() == kTimestamp
                         ? "an RFC 3339 timestamp (2026-05-28T20:26:40Z)"
                         : "a duration (90s)");
        }
        return absl::OkStatus();
      }
      absl::Status s = MergeJson(value, sub);
      if (!s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "not a JSON ", ShortTypeName(f->message_type()->full_name()), ": ",
            s.message()));
      }
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown field type");
}

// --- Help ------------------------------------------------------------------

std::string TypeText(const FieldDescriptor* f) {
  std::string type;
  if (f->is_map()) {
    const Descriptor* entry = f->message_type();
    return absl::StrCat("map<", TypeText(entry->field(0)), ", ",
                        TypeText(entry->field(1)), ">");
  }
  if (f->is_repeated()) type = "repeated ";
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_ENUM:
      absl::StrAppend(&type, ShortTypeName(f->enum_type()->full_name()));
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (f->message_type()->full_name() == kTimestamp) {
        absl::StrAppend(&type, "timestamp (RFC 3339)");
      } else if (f->message_type()->full_name() == kDuration) {
        absl::StrAppend(&type, "duration");
      } else {
        absl::StrAppend(&type, ShortTypeName(f->message_type()->full_name()));
      }
      break;
    default:
      absl::StrAppend(&type, f->type_name());
  }
  return type;
}

void DescribeFields(const Descriptor* d, int indent,
                    std::vector<const Descriptor*>* stack, std::string* out) {
  const std::string pad(indent, ' ');
  if (d->field_count() == 0) {
    absl::StrAppend(out, pad, "(no fields)\n");
    return;
  }
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    std::string line = absl::StrCat(pad, f->name(), "  ", TypeText(f));
    if (const auto* oneof = f->real_containing_oneof()) {
      absl::StrAppend(&line, "  (one of ", oneof->name(), ")");
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
      std::vector<std::string> values;
      const EnumDescriptor* e = f->enum_type();
      for (int v = 0; v < e->value_count(); ++v) {
        if (e->value(v)->number() != 0) values.push_back(e->value(v)->name());
      }
      absl::StrAppend(&line, "  {", absl::StrJoin(values, "|"), "}");
    }
    absl::StrAppend(out, line, "\n");
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_map() &&
        !IsWellKnownScalar(f->message_type())) {
      const Descriptor* sub = f->message_type();
      if (std::find(stack->begin(), stack->end(), sub) != stack->end() ||
          stack->size() > 6) {
        absl::StrAppend(out, pad, "  ... (", ShortTypeName(sub->full_name()),
                        ", as above)\n");
        continue;
      }
      if (sub->field_count() == 0) continue;
      stack->push_back(sub);
      DescribeFields(sub, indent + 2, stack, out);
      stack->pop_back();
    }
  }
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string Streaming(const MethodDescriptor* m) {
  return m->server_streaming() ? "stream " : "";
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  (void)buffer.Dump(&slices);
  std::string out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

// Whether `m` says a subscription has caught up (a oneof member named
// caught_up is set): without --follow, a stream stops there.
bool CaughtUp(const Message& m) {
  const FieldDescriptor* f = m.GetDescriptor()->FindFieldByName("caught_up");
  return f != nullptr && !f->is_repeated() &&
         f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
         m.GetReflection()->HasField(m, f);
}

}  // namespace

std::vector<const ServiceDescriptor*> Services() {
  static const auto* services = [] {
    auto* out = new std::vector<const ServiceDescriptor*>();
    std::vector<std::string> files;
    DescriptorPool::internal_generated_database()->FindAllFileNames(&files);
    const DescriptorPool* pool = DescriptorPool::generated_pool();
    for (const std::string& name : files) {
      const google::protobuf::FileDescriptor* file = pool->FindFileByName(name);
      if (file == nullptr || file->package() != kPackage) continue;
      for (int i = 0; i < file->service_count(); ++i) {
        out->push_back(file->service(i));
      }
    }
    std::sort(out->begin(), out->end(),
              [](auto* a, auto* b) { return a->name() < b->name(); });
    return out;
  }();
  return *services;
}

std::string Kebab(const std::string& camel) {
  std::string out;
  for (size_t i = 0; i < camel.size(); ++i) {
    const char c = camel[i];
    if (std::isupper(static_cast<unsigned char>(c)) && i > 0) {
      const char prev = camel[i - 1];
      const bool next_lower =
          i + 1 < camel.size() &&
          std::islower(static_cast<unsigned char>(camel[i + 1]));
      if (std::islower(static_cast<unsigned char>(prev)) ||
          std::isdigit(static_cast<unsigned char>(prev)) ||
          (std::isupper(static_cast<unsigned char>(prev)) && next_lower)) {
        out += '-';
      }
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string CommandName(const ServiceDescriptor* service) {
  return Kebab(service->name());
}
std::string CommandName(const MethodDescriptor* method) {
  return Kebab(method->name());
}

namespace {

const ServiceDescriptor* FindService(const std::string& word) {
  for (const ServiceDescriptor* s : Services()) {
    const std::string name = CommandName(s);
    if (word == name) return s;
  }
  for (const ServiceDescriptor* s : Services()) {
    const std::string name = CommandName(s);
    if (absl::EndsWith(name, "s") && word == name.substr(0, name.size() - 1)) {
      return s;
    }
  }
  return nullptr;
}

const MethodDescriptor* FindMethod(const ServiceDescriptor* s,
                                   const std::string& word) {
  for (int i = 0; i < s->method_count(); ++i) {
    if (CommandName(s->method(i)) == word) return s->method(i);
  }
  // "ycr deadlines overdue" for list-overdue.
  for (int i = 0; i < s->method_count(); ++i) {
    if (CommandName(s->method(i)) == "list-" + word) return s->method(i);
  }
  return nullptr;
}

// The methods of `s` whose request has a oneof with a message field named
// `word` (kebab or snake case), with that field's name.
std::vector<std::pair<const MethodDescriptor*, std::string>> ActionsNamed(
    const ServiceDescriptor* s, const std::string& word) {
  std::string snake = word;
  std::replace(snake.begin(), snake.end(), '-', '_');
  std::vector<std::pair<const MethodDescriptor*, std::string>> found;
  for (int i = 0; i < s->method_count(); ++i) {
    const Descriptor* input = s->method(i)->input_type();
    const FieldDescriptor* f = input->FindFieldByName(snake);
    if (f != nullptr && f->real_containing_oneof() != nullptr &&
        f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      found.emplace_back(s->method(i), f->name());
    }
  }
  return found;
}

// Every action word of `s` (see ActionsNamed), kebab case.
std::vector<std::string> ActionWords(const ServiceDescriptor* s) {
  std::vector<std::string> words;
  for (int i = 0; i < s->method_count(); ++i) {
    const Descriptor* input = s->method(i)->input_type();
    for (int o = 0; o < input->real_oneof_decl_count(); ++o) {
      const google::protobuf::OneofDescriptor* oneof = input->oneof_decl(o);
      for (int f = 0; f < oneof->field_count(); ++f) {
        if (oneof->field(f)->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
          continue;
        }
        std::string word = oneof->field(f)->name();
        std::replace(word.begin(), word.end(), '_', '-');
        if (ActionsNamed(s, word).size() == 1 && !FindMethod(s, word)) {
          words.push_back(word);
        }
      }
    }
  }
  return words;
}

const ServiceDescriptor* ServiceNamed(const std::string& name) {
  for (const ServiceDescriptor* s : Services()) {
    if (s->name() == name) return s;
  }
  return nullptr;
}

}  // namespace

bool Resolve(const std::vector<std::string>& words, Resolved* out) {
  *out = Resolved();
  if (words.empty()) return false;
  for (const Shortcut& shortcut : kShortcuts) {
    if (words[0] != shortcut.word) continue;
    const ServiceDescriptor* s = ServiceNamed(shortcut.service);
    if (s == nullptr) break;
    out->service = s;
    if (words.size() >= 2) {
      if (const MethodDescriptor* m = FindMethod(s, words[1])) {
        out->method = m;
        out->consumed = 2;
        return true;
      }
    }
    out->method = s->FindMethodByName(shortcut.method);
    out->consumed = 1;
    return out->method != nullptr;
  }
  const ServiceDescriptor* s = FindService(words[0]);
  if (s == nullptr) return false;
  out->service = s;
  out->consumed = 1;
  if (words.size() >= 2) {
    if (const MethodDescriptor* m = FindMethod(s, words[1])) {
      out->method = m;
      out->consumed = 2;
    } else if (auto actions = ActionsNamed(s, words[1]); actions.size() == 1) {
      out->method = actions[0].first;
      out->presets.push_back(actions[0].second);
      out->consumed = 2;
    }
  }
  return true;
}

bool ResolveMethodFlag(Resolved* resolved, std::vector<std::string>* sets) {
  if (resolved->service == nullptr || resolved->method != nullptr) {
    return resolved->method != nullptr;
  }
  for (auto it = sets->begin(); it != sets->end(); ++it) {
    if (it->find('=') != std::string::npos) continue;
    std::string word = *it;
    std::replace(word.begin(), word.end(), '_', '-');
    if (const MethodDescriptor* m = FindMethod(resolved->service, word)) {
      resolved->method = m;
    } else if (auto actions = ActionsNamed(resolved->service, word);
               actions.size() == 1) {
      resolved->method = actions[0].first;
      resolved->presets.push_back(actions[0].second);
    } else {
      continue;
    }
    sets->erase(it);
    return true;
  }
  return false;
}

std::vector<std::string> Suggest(const std::string& word,
                                 const std::vector<std::string>& candidates) {
  std::vector<std::string> close;
  for (const std::string& c : candidates) {
    const size_t limit = std::max<size_t>(2, word.size() / 3);
    if (EditDistance(word, c) <= limit ||
        (word.size() >= 3 &&
         (absl::StrContains(c, word) || absl::StrContains(word, c)))) {
      close.push_back(c);
    }
  }
  return close.empty() ? candidates : close;
}

std::vector<std::string> CommandWords() {
  std::vector<std::string> words = {"head", "log", "demo"};
  for (const ServiceDescriptor* s : Services()) words.push_back(CommandName(s));
  for (const Shortcut& shortcut : kShortcuts) words.push_back(shortcut.word);
  return words;
}

std::vector<std::string> MethodWords(const ServiceDescriptor* service) {
  std::vector<std::string> words;
  for (int i = 0; i < service->method_count(); ++i) {
    words.push_back(CommandName(service->method(i)));
  }
  return words;
}

std::string ServicesHelp() {
  std::string out = "API commands, one per RPC (ycr <service> <method>):\n";
  size_t width = 0;
  for (const ServiceDescriptor* s : Services()) {
    width = std::max(width, CommandName(s).size());
  }
  for (const ServiceDescriptor* s : Services()) {
    const std::string name = CommandName(s);
    absl::StrAppend(&out, "  ", name, std::string(width - name.size() + 2, ' '),
                    absl::StrJoin(MethodWords(s), " | "), "\n");
  }
  absl::StrAppend(
      &out, "Singular forms work too (ycr referral transition). Shortcuts:\n");
  for (const Shortcut& shortcut : kShortcuts) {
    const ServiceDescriptor* s = ServiceNamed(shortcut.service);
    const MethodDescriptor* m =
        s != nullptr ? s->FindMethodByName(shortcut.method) : nullptr;
    if (m == nullptr) continue;
    absl::StrAppend(&out, "  ycr ", shortcut.word, " = ycr ", CommandName(s),
                    " ", CommandName(m), "\n");
  }
  absl::StrAppend(
      &out,
      "Requests: --data='{protobuf JSON}' or --data=@file.json, and\n"
      "--set field.path=value (repeatable; also --field.path=value).\n"
      "A missing request_id is filled with a fresh UUID, printed to stderr.\n"
      "`ycr <service> --help` lists methods; `ycr <service> <method> --help`\n"
      "the request's fields.");
  return out;
}

std::string ServiceHelp(const ServiceDescriptor* service) {
  std::string out = absl::StrCat("ycr ", CommandName(service), ": service ",
                                 service->full_name(), "\nMethods:\n");
  size_t width = 0;
  for (const std::string& w : MethodWords(service)) {
    width = std::max(width, w.size());
  }
  for (int i = 0; i < service->method_count(); ++i) {
    const MethodDescriptor* m = service->method(i);
    const std::string name = CommandName(m);
    absl::StrAppend(&out, "  ", name, std::string(width - name.size() + 2, ' '),
                    ShortTypeName(m->input_type()->full_name()), " -> ",
                    Streaming(m), ShortTypeName(m->output_type()->full_name()),
                    "\n");
  }
  if (const std::vector<std::string> actions = ActionWords(service);
      !actions.empty()) {
    absl::StrAppend(&out, "Actions (ycr ", CommandName(service),
                    " <action> selects that part of a request):\n");
    for (const std::string& a : actions) {
      const auto named = ActionsNamed(service, a);
      absl::StrAppend(&out, "  ", a, " = ", CommandName(named[0].first),
                      " --set ", named[0].second, "\n");
    }
  }
  absl::StrAppend(&out, "Run `ycr ", CommandName(service),
                  " <method> --help` for a method's request fields.\n");
  return out;
}

std::string MethodHelp(const MethodDescriptor* method) {
  std::string out = absl::StrCat(
      "ycr ", CommandName(method->service()), " ", CommandName(method), ": ",
      method->full_name(), "\n  ",
      ShortTypeName(method->input_type()->full_name()), " -> ",
      Streaming(method), ShortTypeName(method->output_type()->full_name()),
      "\nRequest fields (", ShortTypeName(method->input_type()->full_name()),
      "):\n");
  std::vector<const Descriptor*> stack = {method->input_type()};
  DescribeFields(method->input_type(), 2, &stack, &out);
  absl::StrAppend(
      &out,
      "Set them with --set field.path=value (nested: a.b.c; repeated: "
      "appended, or a[0].b; enums by name; timestamps RFC 3339) or "
      "--data='{JSON}' / --data=@file.json.\n"
      "Flags: --json (protobuf JSON out), --server, --organisation, --user, "
      "--role, --timeout_seconds",
      method->server_streaming() ? ", --follow (-f: no deadline)" : "", ".\n");
  return out;
}

absl::Status ApplyData(const std::string& data, Message* message) {
  std::string json = data;
  if (absl::StartsWith(data, "@")) {
    const std::string path = data.substr(1);
    std::stringstream buffer;
    if (path == "-") {
      buffer << std::cin.rdbuf();
    } else {
      absl::StatusOr<std::string> text = ReadFile(path);
      if (!text.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--data: ", text.status().message()));
      }
      buffer << *text;
    }
    json = buffer.str();
  }
  absl::Status s = MergeJson(json, message);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--data: not a JSON ",
                     ShortTypeName(message->GetDescriptor()->full_name()), ": ",
                     s.message()));
  }
  return absl::OkStatus();
}

void InheritIds(const std::vector<std::string>& parts, Message* request) {
  const Descriptor* d = request->GetDescriptor();
  const auto* r = request->GetReflection();
  for (const std::string& name : parts) {
    const FieldDescriptor* part = d->FindFieldByName(name);
    if (part == nullptr || part->is_repeated() ||
        part->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
        !r->HasField(*request, part)) {
      continue;
    }
    Message* inner = r->MutableMessage(request, part);
    const auto* ir = inner->GetReflection();
    const Descriptor* id = inner->GetDescriptor();
    for (int i = 0; i < id->field_count(); ++i) {
      const FieldDescriptor* f = id->field(i);
      if (f->is_repeated() ||
          f->cpp_type() != FieldDescriptor::CPPTYPE_STRING ||
          !ir->GetString(*inner, f).empty()) {
        continue;
      }
      const FieldDescriptor* outer = d->FindFieldByName(f->name());
      if (outer == nullptr || outer->is_repeated() ||
          outer->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
        continue;
      }
      const std::string value = r->GetString(*request, outer);
      if (!value.empty()) ir->SetString(inner, f, value);
    }
  }
}

absl::Status ApplySet(const std::string& assignment, Message* message) {
  const size_t eq = assignment.find('=');
  const std::string path = assignment.substr(0, eq);
  const bool has_value = eq != std::string::npos;
  const std::string value = has_value ? assignment.substr(eq + 1) : "";
  auto error = [&](const std::string& problem) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set ", path, ": ", problem));
  };
  if (path.empty()) return error("no field named (use --set field=value)");
  std::vector<std::string> segments = absl::StrSplit(path, '.');
  Message* m = message;
  for (size_t i = 0; i < segments.size(); ++i) {
    std::string name = segments[i];
    int index = -1;
    if (const size_t open = name.find('['); open != std::string::npos) {
      if (name.back() != ']' ||
          !absl::SimpleAtoi(name.substr(open + 1, name.size() - open - 2),
                            &index) ||
          index < 0) {
        return error(absl::StrCat("bad index in '", name, "'"));
      }
      name = name.substr(0, open);
    }
    const Descriptor* d = m->GetDescriptor();
    const FieldDescriptor* f = FindField(d, name);
    if (f == nullptr) {
      return error(absl::StrCat("no field '", name, "' in ",
                                ShortTypeName(d->full_name()),
                                " (fields: ", FieldNames(d), ")"));
    }
    const Reflection* r = m->GetReflection();
    const bool last = i + 1 == segments.size();
    if (index >= 0 && !f->is_repeated()) {
      return error(absl::StrCat("'", name, "' is not repeated"));
    }
    if (f->is_map()) return error("a map field: use --data");
    if (last) {
      if (index >= 0)
        return error("an index only selects a message to go into");
      if (!has_value) {
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_BOOL &&
            !f->is_repeated()) {
          r->SetBool(m, f, true);
          return absl::OkStatus();
        }
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
            !IsWellKnownScalar(f->message_type())) {
          // Selects a (oneof) message: `--set accept`.
          f->is_repeated() ? (void)r->AddMessage(m, f)
                           : (void)r->MutableMessage(m, f);
          return absl::OkStatus();
        }
        return error(absl::StrCat("needs a value (", TypeText(f), ")"));
      }
      absl::Status s = SetValue(m, f, value);
      if (!s.ok()) {
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
          return error(std::string(s.message()));
        }
        return error(absl::StrCat(s.message(), " (", TypeText(f), ")"));
      }
      return absl::OkStatus();
    }
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
        IsWellKnownScalar(f->message_type())) {
      return error(absl::StrCat("'", name, "' is a ", TypeText(f),
                                ", not a message to go into"));
    }
    if (!f->is_repeated()) {
      m = r->MutableMessage(m, f);
      continue;
    }
    const int size = r->FieldSize(*m, f);
    if (index < 0) index = size == 0 ? 0 : size - 1;
    if (index > size) {
      return error(absl::StrCat("index ", index, " of '", name, "' skips ",
                                index - size, " element(s); it has ", size));
    }
    m = index == size ? r->AddMessage(m, f)
                      : r->MutableRepeatedMessage(m, f, index);
  }
  return absl::OkStatus();
}

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

void PrepareContext(grpc::ClientContext* context, const CallSettings& settings,
                    bool deadline) {
  if (settings.identity_metadata) {
    context->AddMetadata(kOrganisationMetadata, settings.organisation);
    context->AddMetadata(kUserMetadata, settings.user);
    context->AddMetadata(kRoleMetadata, settings.role);
  }
  if (deadline) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(settings.timeout_seconds));
  }
}

Channels::Channels(std::string target, services::ClientSecurity security,
                   std::string identities)
    : target_(std::move(target)),
      security_(std::move(security)),
      identities_(std::move(identities)),
      own_(services::OpenChannel(target_, security_)) {}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Channels::As(
    const std::string& organisation, const std::string& user) {
  if (security_.insecure) return own_;
  if (identities_.empty()) {
    return absl::InvalidArgumentError(
        "acting as other organisations over mutual TLS needs their "
        "certificates: give --tls_identities DIR (deploy/dev-ca.sh makes "
        "them)");
  }
  const std::string key = absl::StrCat(organisation, "/", user);
  auto it = by_identity_.find(key);
  if (it != by_identity_.end()) return it->second;
  absl::StatusOr<services::ClientSecurity> security =
      services::IdentityFromDirectory(security_, identities_, organisation,
                                      user);
  if (!security.ok()) return security.status();
  std::shared_ptr<grpc::Channel> channel =
      services::OpenChannel(target_, *security);
  by_identity_.emplace(key, channel);
  return channel;
}

int Call(const std::shared_ptr<grpc::Channel>& channel,
         const MethodDescriptor* method, const Message& request,
         const CallSettings& settings, std::ostream& out, std::ostream& err) {
  if (method->client_streaming()) {
    err << "ycr: " << method->full_name()
        << " streams requests; the command line does not\n";
    return 2;
  }
  grpc::ClientContext context;
  const bool streaming = method->server_streaming();
  PrepareContext(&context, settings, !(streaming && settings.follow));
  std::string bytes;
  if (!request.SerializeToString(&bytes)) {
    err << "ycr: the request could not be serialised\n";
    return 2;
  }
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  const std::string path =
      absl::StrCat("/", method->service()->full_name(), "/", method->name());
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, path, &cq);
  // One operation at a time: each is awaited before the next starts.
  auto await = [&cq](void* tag) {
    void* got = nullptr;
    bool ok = false;
    if (!cq.Next(&got, &ok)) return false;
    return ok && got == tag;
  };
  int tag = 0;
  call->StartCall(&tag);
  bool ok = await(&tag);
  if (ok) {
    call->WriteLast(ToBuffer(bytes), grpc::WriteOptions(), &tag);
    ok = await(&tag);
  }
  google::protobuf::DynamicMessageFactory factory;
  const Message* prototype = factory.GetPrototype(method->output_type());
  bool cancelled = false;
  bool unparsable = false;
  size_t received = 0;
  while (ok) {
    grpc::ByteBuffer buffer;
    call->Read(&buffer, &tag);
    if (!await(&tag)) break;
    std::unique_ptr<Message> response(prototype->New());
    if (!response->ParseFromString(FromBuffer(buffer))) {
      err << "ycr: could not parse a " << method->output_type()->full_name()
          << " from the server\n";
      context.TryCancel();
      cancelled = true;
      unparsable = true;
      continue;
    }
    if (cancelled) continue;
    ++received;
    const bool stop = streaming && !settings.follow && CaughtUp(*response);
    if (stop) {
      context.TryCancel();
      cancelled = true;
      continue;
    }
    if (settings.json) {
      out << ToJson(*response) << "\n";
    } else {
      if (streaming && received > 1) out << "\n";
      out << ToHuman(*response);
    }
    out.flush();
  }
  grpc::Status status;
  call->Finish(&status, &tag);
  void* got = nullptr;
  bool finished = false;
  (void)cq.Next(&got, &finished);
  cq.Shutdown();
  while (cq.Next(&got, &finished)) {
  }
  if (unparsable) return 1;
  if (cancelled && status.error_code() == grpc::StatusCode::CANCELLED) {
    return 0;
  }
  if (!status.ok()) {
    err << "ycr: " << StatusCodeName(status.error_code()) << ": "
        << status.error_message() << "\n";
    int code = 0;
    std::string message;
    ErrorDetails details;
    if (settings.json) {
      const std::string json = RpcStatusJson(status.error_details());
      if (!json.empty()) err << json << "\n";
    } else if (ParseRpcStatus(status.error_details(), &code, &message,
                              &details)) {
      err << DescribeDetails(details);
    }
    return 1;
  }
  if (!streaming && received == 0) {
    err << "ycr: the server answered OK without a response\n";
    return 1;
  }
  return 0;
}

}  // namespace ycr::cli
