// `sitesync customer assign|unassign` (technicians serving a customer) and `sitesync
// notifications list` (what a technician has been assigned, as their laptop shows it).
#include <iostream>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

struct TechnicianArgs {
  std::string data, ref, technician, user = defaultUser();
  bool json = false;
};

void assign(const TechnicianArgs& a, bool assigned) {
  auto site = openSite(a.data);
  const RecordId id = take(site->engine->resolve(a.ref));
  const Customer c = take(site->engine->update(
      id, {sync::Edit{kTechnicianCode, a.technician, assigned ? "true" : ""}}, a.user));
  if (a.json) return printJson(api::shownCustomerJson(*site->engine, c));
  std::cout << a.technician << (assigned ? " assigned to " : " no longer assigned to ")
            << c.id.toString() << "\n";
}

nlohmann::json assignmentJson(const sync::Assignment& a, const SiteNames& names) {
  return {{"customer", a.customer.toString()},
          {"name", a.name},
          {"number", a.number},
          {"assigned_at", a.at.toIso8601()},
          {"site", siteLabel(names, a.site)},
          {"by", a.by}};
}

void listNotifications(const TechnicianArgs& a) {
  auto site = openSite(a.data);
  const auto assigned = site->engine->assignmentsOf(a.technician);
  const SiteNames names = siteNames(*site->engine);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& n : assigned) list.push_back(assignmentJson(n, names));
  if (a.json) return printJson({{"technician", a.technician}, {"notifications", list}});
  if (assigned.empty()) std::cout << "no customers assigned to " << a.technician << "\n";
  for (const auto& n : list)
    std::cout << n["assigned_at"].get<std::string>() << "  " << n["customer"].get<std::string>()
              << "  " << (n["number"].get<std::string>().empty() ? "" : "#")
              << n["number"].get<std::string>() << "  " << n["name"].get<std::string>()
              << "  assigned by " << n["by"].get<std::string>() << " at "
              << n["site"].get<std::string>() << "\n";
}

}  // namespace

void addTechnicianCommands(CLI::App& app, CLI::App& customer) {
  auto a = std::make_shared<TechnicianArgs>();
  for (const bool assigned : {true, false}) {
    auto* cmd = customer.add_subcommand(
        assigned ? "assign" : "unassign",
        assigned ? "assign a technician to a customer (a notification on their laptop)"
                 : "take a technician off a customer");
    cmd->add_option("--data", a->data, "data directory of this site")->required();
    cmd->add_option("REF", a->ref, "customer id or #NUMBER")->required();
    cmd->add_option("--technician", a->technician, "the technician's user name")->required();
    cmd->add_option("--user", a->user, "who makes the change (default: $SITESYNC_USER or $USER)");
    cmd->add_flag("--json", a->json, "print the customer as JSON");
    cmd->callback([a, assigned] { assign(*a, assigned); });
  }
  auto* notifications = app.add_subcommand("notifications", "what a technician has been assigned");
  auto* list = notifications->add_subcommand("list", "the customers assigned, latest first");
  list->add_option("--data", a->data, "data directory of this site")->required();
  list->add_option("--technician", a->technician, "whose (default: $SITESYNC_USER or $USER)");
  list->add_flag("--json", a->json, "JSON output");
  list->callback([a] {
    if (a->technician.empty()) a->technician = a->user;
    listNotifications(*a);
  });
}

}  // namespace sitesync::cli
