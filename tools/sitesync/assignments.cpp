// FIELD=VALUE arguments (`--set`, `settings set`) read into the engine's Edits.
#include <string>
#include <string_view>
#include <utility>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

Result<std::pair<std::string, std::string>> splitAssignment(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return Status::invalidArgument("expected FIELD=VALUE, got '" + std::string(text) + "'");
  return std::pair{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}
}  // namespace

Result<sync::Edit> parseCustomerAssignment(std::string_view assignment) {
  auto parts = splitAssignment(assignment);
  if (!parts.isOk()) return parts.status();
  auto& [name, value] = parts.value();
  return api::customerEdit(name, std::move(value));
}

Result<sync::Edit> parseSettingsAssignment(std::string_view assignment) {
  auto parts = splitAssignment(assignment);
  if (!parts.isOk()) return parts.status();
  auto& [name, value] = parts.value();
  return api::settingsEdit(name, std::move(value));
}

}  // namespace sitesync::cli
