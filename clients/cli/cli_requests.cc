// Building requests for the generic command line (cli_generic.h): --data
// (protobuf JSON, a file or stdin), --set field.path=value, and ids
// inherited by the parts of a request.

#include <algorithm>
#include <iostream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "clients/cli/cli_generic.h"
#include "clients/cli/cli_generic_internal.h"
#include "common/files.h"
#include "google/protobuf/util/json_util.h"

namespace ycr::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

using internal::FieldNames;
using internal::FindField;
using internal::IsWellKnownScalar;
using internal::kTimestamp;
using internal::ShortTypeName;
using internal::TypeText;

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

}  // namespace

namespace internal {

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

}  // namespace internal

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

}  // namespace ycr::cli
