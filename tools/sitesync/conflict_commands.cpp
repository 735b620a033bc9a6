// `sitesync conflicts list|resolve`: the conflict list every node holds identically.
#include <iostream>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

using nlohmann::json;

struct ConflictArgs {
  std::string data;
  std::string id;
  std::string user = defaultUser();
  std::optional<std::string> take;
  bool keepWinner = false;
  bool all = false;
  bool json = false;
};

void listCommand(const ConflictArgs& a) {
  auto site = openSite(a.data);
  const json arr = api::conflictsJson(*site->engine, a.all);
  if (a.json) {
    printJson(arr);
    return;
  }
  if (arr.empty()) std::cout << (a.all ? "no conflicts\n" : "no open conflicts\n");
  for (const auto& j : arr) {
    std::cout << j["id"].get<std::string>() << "  " << j["kind"].get<std::string>() << "  "
              << j["customer"].get<std::string>() << "  " << j["field"].get<std::string>()
              << (j["resolved"].get<bool>() ? "  resolved" : "  open") << "\n    shown: \""
              << j["winner"]["value"].get<std::string>() << "\"";
    if (!j["winner"]["site"].is_null())
      std::cout << " (site " << j["winner"]["site_name"].get<std::string>() << ", "
                << j["winner"]["time"].get<std::string>() << ")";
    std::cout << "\n    other: \"" << j["loser"]["value"].get<std::string>() << "\"";
    if (!j["loser"]["site"].is_null())
      std::cout << " (site " << j["loser"]["site_name"].get<std::string>() << ", "
                << j["loser"]["time"].get<std::string>() << ")";
    if (!j["other_customer"].is_null())
      std::cout << " of customer " << j["other_customer"].get<std::string>();
    std::cout << "\n";
    if (j["resolved"].get<bool>())
      std::cout << "    resolved: \"" << j["resolution"]["value"].get<std::string>() << "\" by "
                << j["resolution"]["user"].get<std::string>() << " at site "
                << j["resolution"]["site_name"].get<std::string>() << ", "
                << j["resolution"]["time"].get<std::string>() << "\n";
  }
}

void resolveCommand(const ConflictArgs& a) {
  if (a.take.has_value() == a.keepWinner)
    throw UsageError("conflicts resolve needs exactly one of --take VALUE or --keep-winner");
  auto site = openSite(a.data);
  Customer c = take(site->engine->resolveConflict(a.id, a.take, a.user));
  if (a.json)
    printJson(customerJson(c));
  else
    std::cout << "resolved " << a.id << " on customer " << c.id.toString() << "\n";
}

}  // namespace

void addConflictCommands(CLI::App& app) {
  auto* conflicts = app.add_subcommand(
      "conflicts",
      "concurrent values kept, duplicate numbers and SSNs, edits of deleted customers");
  auto a = std::make_shared<ConflictArgs>();

  auto* list = conflicts->add_subcommand("list", "open conflicts (the same list on every site)");
  list->add_option("--data", a->data, "data directory of this site")->required();
  list->add_flag("--all", a->all, "also resolved conflicts, with how they were resolved");
  list->add_flag("--json", a->json, "JSON output");
  list->callback([a] { listCommand(*a); });

  auto* resolve = conflicts->add_subcommand(
      "resolve", "settle a conflict with an ordinary later change that closes it on every site");
  resolve->add_option("--data", a->data, "data directory of this site")->required();
  resolve->add_option("CONFLICT_ID", a->id, "the id `conflicts list` shows")->required();
  resolve->add_option("--take", a->take, "the value to keep (any value, not only the two shown)");
  resolve->add_flag("--keep-winner", a->keepWinner, "keep the value shown now");
  resolve->add_option("--user", a->user, "who resolves it");
  resolve->add_flag("--json", a->json, "print the customer as JSON");
  resolve->callback([a] { resolveCommand(*a); });
}

}  // namespace sitesync::cli
