// `sitesync users add|list|remove|token`: the users of the application API (api/api.h) and their
// bearer tokens. A token is printed once, alone on the last line; only its hash is kept.
#include <ctime>
#include <iostream>

#include "api/api.h"
#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

struct UserArgs {
  std::string data;
  std::string name;
  std::string role;
  std::string user = defaultUser();
  bool json = false;
};

// Users are changed at the hub: elsewhere a usage error (exit 2) whose message names the hub.
template <typename T>
T atTheHub(Result<T> done) {
  if (done.status().code() == StatusCode::kFailedPrecondition)
    throw UsageError(done.status().message());
  return take(std::move(done));
}

void addUser(const UserArgs& a) {
  auto role = api::roleNamed(a.role);
  if (!role) throw UsageError("--role is admin, staff, technician or viewer, not '" + a.role + "'");
  auto site = openSite(a.data);
  const std::string token = atTheHub(api::addUser(*site->engine, a.name, *role, a.user));
  std::cout << "added user '" << a.name << "' (" << a.role
            << "); their API token, shown only now:\n"
            << token << "\n";
}

void listUsers(const UserArgs& a) {
  auto site = openSite(a.data);
  const std::vector<ApiUser> users = site->engine->apiUsers();
  if (a.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const ApiUser& u : users)
      list.push_back({{"name", u.name}, {"role", u.role}, {"changed", u.changedAt.toIso8601()}});
    printJson(list);
    return;
  }
  if (users.empty()) std::cout << "no users (`sitesync users add` makes one)\n";
  for (const ApiUser& u : users)
    std::cout << u.name << "  " << u.role << "  since " << u.changedAt.toIso8601() << "\n";
}

void removeUser(const UserArgs& a) {
  auto site = openSite(a.data);
  const Status removed = site->engine->removeApiUser(a.name, a.user);
  if (removed.code() == StatusCode::kFailedPrecondition) throw UsageError(removed.message());
  check(removed);
  std::cout << "removed user '" << a.name << "': their token no longer works\n";
}

void rotateToken(const UserArgs& a) {
  auto site = openSite(a.data);
  const std::string token = atTheHub(api::rotateToken(*site->engine, a.name, a.user));
  std::cout << "new API token for '" << a.name << "' (the old one no longer works):\n"
            << token << "\n";
}

CLI::App* withDataAndName(CLI::App* cmd, UserArgs& a) {
  cmd->add_option("--data", a.data, "data directory")->required();
  cmd->add_option("--name", a.name, "the user's name")->required();
  cmd->add_option("--user", a.user, "who makes the change (default: $SITESYNC_USER or $USER)");
  return cmd;
}

}  // namespace

void addUserCommands(CLI::App& app) {
  auto* users = app.add_subcommand(
      "users", "users of the application API (`serve --api`): add, list, remove, token");
  auto a = std::make_shared<UserArgs>();
  auto* add = withDataAndName(
      users->add_subcommand("add", "add a user; prints their bearer token, once"), *a);
  add->add_option("--role", a->role, "admin, staff, technician or viewer")->required();
  add->callback([a] { addUser(*a); });
  auto* list = users->add_subcommand("list", "the users and their roles (never their tokens)");
  list->add_option("--data", a->data, "data directory")->required();
  list->add_flag("--json", a->json, "JSON output");
  list->callback([a] { listUsers(*a); });
  auto* remove = withDataAndName(
      users->add_subcommand("remove", "remove a user; a running node refuses their token"), *a);
  remove->callback([a] { removeUser(*a); });
  auto* token = withDataAndName(
      users->add_subcommand("token", "a new token for a user; the old one stops working"), *a);
  token->callback([a] { rotateToken(*a); });
}

}  // namespace sitesync::cli
