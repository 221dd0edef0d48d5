// The generic command line's words and help (cli_generic.h): services and
// methods found in the compiled-in descriptors, their kebab-case command
// words, shortcuts and actions, suggestions for a mistyped word, and the help
// texts.

#include <algorithm>
#include <cctype>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/cli/cli_generic.h"
#include "clients/cli/cli_generic_internal.h"
#include "google/protobuf/descriptor_database.h"

namespace ycr::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::MethodDescriptor;
using google::protobuf::ServiceDescriptor;

using internal::IsWellKnownScalar;
using internal::kDuration;
using internal::kPackage;
using internal::kTimestamp;
using internal::ShortTypeName;
using internal::TypeText;

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

namespace internal {

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

}  // namespace internal

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

}  // namespace ycr::cli
