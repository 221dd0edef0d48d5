#include "services/caller_identity.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/access_policy.h"

namespace ycr::services {
namespace {

absl::StatusOr<std::string> One(const grpc::ServerContextBase& context,
                                const char* key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(key);
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "no caller identity: send metadata ", kOrganisationMetadata, ", ",
        kUserMetadata, " and ", kRoleMetadata, " (", key, " is missing)"));
  }
  std::string value(it->second.data(), it->second.size());
  bool printable = !value.empty() && value.size() <= 128;
  for (char c : value) printable = printable && absl::ascii_isprint(c);
  if (!printable) {
    return absl::UnauthenticatedError(
        absl::StrCat(key, ": must be 1..128 printable ASCII characters"));
  }
  return value;
}

}  // namespace

absl::StatusOr<v1::Actor> ResolveCaller(
    const grpc::ServerContextBase& context) {
  v1::Actor actor;
  absl::StatusOr<std::string> organisation =
      One(context, kOrganisationMetadata);
  if (!organisation.ok()) return organisation.status();
  absl::StatusOr<std::string> user = One(context, kUserMetadata);
  if (!user.ok()) return user.status();
  absl::StatusOr<std::string> role = One(context, kRoleMetadata);
  if (!role.ok()) return role.status();
  actor.set_organisation(*std::move(organisation));
  actor.set_user(*std::move(user));
  actor.set_role(*std::move(role));
  // The policy table's gate (access_policy.h): the method comes from the
  // server's interceptor, never from the client.
  const auto& metadata = context.client_metadata();
  auto method = metadata.find(kMethodMetadata);
  if (method == metadata.end()) {
    return absl::PermissionDeniedError(
        "the called method is unknown (server built without its "
        "interceptor)");
  }
  if (absl::Status allowed = Authorise(
          actor,
          absl::string_view(method->second.data(), method->second.size()));
      !allowed.ok()) {
    return allowed;
  }
  return actor;
}

}  // namespace ycr::services
