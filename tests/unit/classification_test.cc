// Every string and bytes field of the contract (package ycr.v1) says what
// kind of data it holds (proto/ycr/v1/classification.proto), and free text
// about a person (FIELD_CLASS_PERSONAL) is only in PersonalData, the part
// sealed per subject and erased with the subject's key.

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"
#include "ycr/v1/classification.pb.h"
#include "ycr/v1/personal.pb.h"

namespace ycr {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;

constexpr char kPackage[] = "ycr.v1";

bool IsText(const FieldDescriptor* f) {
  return f->type() == FieldDescriptor::TYPE_STRING ||
         f->type() == FieldDescriptor::TYPE_BYTES;
}

// A field that holds strings or bytes: itself, or a map with string or
// bytes keys or values (the class is on the map field).
bool HoldsText(const FieldDescriptor* f) {
  if (f->is_map()) {
    const Descriptor* entry = f->message_type();
    return IsText(entry->map_key()) || IsText(entry->map_value());
  }
  return IsText(f);
}

void CheckMessage(const Descriptor* m, const std::string& personal_message,
                  std::vector<std::string>* out) {
  if (m->options().map_entry()) return;  // Classified on the map field.
  for (int i = 0; i < m->field_count(); ++i) {
    const FieldDescriptor* f = m->field(i);
    if (!HoldsText(f)) continue;
    const v1::FieldClass c = f->options().GetExtension(v1::classification);
    if (c == v1::FIELD_CLASS_UNSPECIFIED) {
      out->push_back(absl::StrCat(f->full_name(), ": unclassified"));
    } else if (c == v1::FIELD_CLASS_PERSONAL &&
               m->full_name() != personal_message) {
      out->push_back(absl::StrCat(
          f->full_name(), ": free text about a person outside ",
          personal_message, " (it would not be sealed or erased)"));
    }
  }
  for (int i = 0; i < m->nested_type_count(); ++i) {
    CheckMessage(m->nested_type(i), personal_message, out);
  }
}

// What is wrong with the string and bytes fields of `file`.
std::vector<std::string> Violations(
    const FileDescriptor* file,
    const std::string& personal_message = "ycr.v1.PersonalData") {
  std::vector<std::string> out;
  for (int i = 0; i < file->message_type_count(); ++i) {
    CheckMessage(file->message_type(i), personal_message, &out);
  }
  return out;
}

// The contract's files, from the source tree (so a new file is checked
// without a change here), as the generated pool knows them.
std::vector<const FileDescriptor*> ContractFiles() {
  std::vector<std::string> names;
  for (const auto& entry :
       std::filesystem::directory_iterator(YCR_PROTO_SOURCE_DIR "/ycr/v1")) {
    if (entry.path().extension() == ".proto") {
      names.push_back(
          absl::StrCat("ycr/v1/", entry.path().filename().string()));
    }
  }
  std::sort(names.begin(), names.end());
  std::vector<const FileDescriptor*> files;
  for (const std::string& name : names) {
    const FileDescriptor* file =
        DescriptorPool::generated_pool()->FindFileByName(name);
    EXPECT_NE(file, nullptr)
        << name << " is not linked into the test (ycr_proto is linked whole)";
    if (file != nullptr) files.push_back(file);
  }
  return files;
}

TEST(ClassificationTest, EveryTextFieldOfTheContractIsClassified) {
  const std::vector<const FileDescriptor*> files = ContractFiles();
  // Every file, the events and the services alike.
  ASSERT_GE(files.size(), 29u);
  std::vector<std::string> violations;
  size_t fields = 0;
  for (const FileDescriptor* file : files) {
    EXPECT_EQ(file->package(), kPackage) << file->name();
    for (std::string& v : Violations(file)) violations.push_back(std::move(v));
    for (int i = 0; i < file->message_type_count(); ++i) {
      std::vector<const Descriptor*> todo = {file->message_type(i)};
      while (!todo.empty()) {
        const Descriptor* m = todo.back();
        todo.pop_back();
        for (int j = 0; j < m->field_count(); ++j) {
          fields += !m->options().map_entry() && HoldsText(m->field(j));
        }
        for (int j = 0; j < m->nested_type_count(); ++j) {
          todo.push_back(m->nested_type(j));
        }
      }
    }
  }
  EXPECT_TRUE(violations.empty()) << absl::StrJoin(violations, "\n");
  // The walk reached the contract's text fields (over 200 of them).
  EXPECT_GT(fields, 200u);
}

TEST(ClassificationTest, PersonalDataHoldsTheFreeText) {
  const Descriptor* personal = v1::PersonalData::descriptor();
  for (const char* name :
       {"notes", "facts", "childs_words", "risk_statement", "not_told_reason",
        "needs", "recommendations_in_school", "recommendations_outside_school",
        "reason", "outcome", "verification"}) {
    const FieldDescriptor* f = personal->FindFieldByName(name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_EQ(f->options().GetExtension(v1::classification),
              v1::FIELD_CLASS_PERSONAL)
        << name;
  }
  EXPECT_EQ(personal->FindFieldByName("subject_id")
                ->options()
                .GetExtension(v1::classification),
            v1::FIELD_CLASS_IDENTIFIER);
}

// The check itself: a contract with an unclassified field, a PERSONAL field
// outside PersonalData and an unclassified map is refused, field by field.
TEST(ClassificationTest, TheCheckFindsUnclassifiedAndMisplacedFields) {
  google::protobuf::FileDescriptorProto proto;
  proto.set_name("probe.proto");
  proto.set_package("probe");
  proto.set_syntax("proto3");
  auto add_field = [](google::protobuf::DescriptorProto* m,
                      const std::string& name, int number,
                      google::protobuf::FieldDescriptorProto::Type type,
                      v1::FieldClass c) {
    auto* f = m->add_field();
    f->set_name(name);
    f->set_number(number);
    f->set_type(type);
    f->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
    if (c != v1::FIELD_CLASS_UNSPECIFIED) {
      f->mutable_options()->SetExtension(v1::classification, c);
    }
    return f;
  };
  using Field = google::protobuf::FieldDescriptorProto;
  google::protobuf::DescriptorProto* event = proto.add_message_type();
  event->set_name("Event");
  add_field(event, "id", 1, Field::TYPE_STRING, v1::FIELD_CLASS_IDENTIFIER);
  add_field(event, "reason", 2, Field::TYPE_STRING, v1::FIELD_CLASS_PERSONAL);
  add_field(event, "note", 3, Field::TYPE_STRING, v1::FIELD_CLASS_UNSPECIFIED);
  add_field(event, "blob", 4, Field::TYPE_BYTES, v1::FIELD_CLASS_UNSPECIFIED);
  add_field(event, "count", 5, Field::TYPE_UINT32, v1::FIELD_CLASS_UNSPECIFIED);
  // map<string, uint64> tags = 6; unclassified.
  google::protobuf::DescriptorProto* entry = event->add_nested_type();
  entry->set_name("TagsEntry");
  entry->mutable_options()->set_map_entry(true);
  add_field(entry, "key", 1, Field::TYPE_STRING, v1::FIELD_CLASS_UNSPECIFIED);
  add_field(entry, "value", 2, Field::TYPE_UINT64, v1::FIELD_CLASS_UNSPECIFIED);
  auto* tags = add_field(event, "tags", 6, Field::TYPE_MESSAGE,
                         v1::FIELD_CLASS_UNSPECIFIED);
  tags->set_label(google::protobuf::FieldDescriptorProto::LABEL_REPEATED);
  tags->set_type_name(".probe.Event.TagsEntry");
  google::protobuf::DescriptorProto* personal = proto.add_message_type();
  personal->set_name("Personal");
  add_field(personal, "text", 1, Field::TYPE_STRING, v1::FIELD_CLASS_PERSONAL);

  DescriptorPool pool;
  const FileDescriptor* file = pool.BuildFile(proto);
  ASSERT_NE(file, nullptr);
  const std::vector<std::string> found = Violations(file, "probe.Personal");
  EXPECT_EQ(found, (std::vector<std::string>{
                       "probe.Event.reason: free text about a person outside "
                       "probe.Personal (it would not be sealed or erased)",
                       "probe.Event.note: unclassified",
                       "probe.Event.blob: unclassified",
                       "probe.Event.tags: unclassified"}));
}

}  // namespace
}  // namespace ycr
