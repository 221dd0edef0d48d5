#pragma once

// Shared by the files of the generic command line (cli_generic.h): the
// package's name, the well-known types shown as one value, field lookup by
// the names users type, and a field's type as help and errors name it.
// Internal to clients/cli.

#include <string>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace ycr::cli {
namespace internal {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

constexpr char kPackage[] = "ycr.v1";
constexpr char kTimestamp[] = "google.protobuf.Timestamp";
constexpr char kDuration[] = "google.protobuf.Duration";

bool IsWellKnownScalar(const Descriptor* d);

// A field shown as one value: not a message, or a timestamp or duration.
bool IsScalarLike(const FieldDescriptor* f);

std::string ShortTypeName(const std::string& full_name);

const FieldDescriptor* FindField(const Descriptor* d, const std::string& name);

std::string FieldNames(const Descriptor* d);

std::string TypeText(const FieldDescriptor* f);

}  // namespace internal
}  // namespace ycr::cli
