// `sitesync customer ...`: add, edit, show, history, deactivate, reactivate, delete, restore,
// erase, merge, list, search.
#include <iostream>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

struct CustomerArgs {
  std::string data;
  std::string ref;
  std::string user = defaultUser();
  std::string name, number, phone, email, ssn, group;
  std::vector<std::string> sets;
  bool json = false;
  bool all = false;
  bool deleted = false;  // list, search: the deleted customers (to restore) instead
  std::string query;
  size_t limit = 50;
  std::string into;                   // merge: the survivor
  std::vector<std::string> absorbed;  // merge: the customers merged into it
  std::vector<std::string> takes;     // merge: FIELD=REF
};

std::string fieldHelp() {
  std::string text =
      "FIELD names for --set (the schema's register names; camelCase also accepted):\n";
  for (const auto& f : customerFields()) {
    std::string name = f.cliName;
    name.resize(std::max<size_t>(name.size(), 26), ' ');
    text += "  " + name + f.help + "\n";
  }
  text += "  custom.NAME               a deployment-defined custom field\n";
  text += "An empty VALUE clears the field.";
  return text;
}

std::vector<sync::Edit> parseSets(const std::vector<std::string>& sets) {
  std::vector<sync::Edit> edits;
  for (const auto& s : sets) edits.push_back(take(parseCustomerAssignment(s)));
  return edits;
}

Customer displayed(const Site& site, const Customer& c) {
  return api::shownCustomer(*site.engine, c);
}

nlohmann::json displayedJson(const Site& site, const Customer& c) {
  return api::shownCustomerJson(*site.engine, c);
}

void output(const CustomerArgs& a, const Site& site, const Customer& c) {
  if (a.json)
    printJson(displayedJson(site, c));
  else
    printCustomer(displayed(site, c));
}

void addCommand(const CustomerArgs& a) {
  auto site = openSite(a.data);
  std::vector<sync::Edit> edits;
  edits.push_back({uint16_t(CustomerField::name), {}, a.name});
  if (!a.number.empty()) edits.push_back({uint16_t(CustomerField::number), {}, a.number});
  if (!a.phone.empty()) edits.push_back({uint16_t(CustomerField::phone), {}, a.phone});
  if (!a.email.empty()) edits.push_back({uint16_t(CustomerField::email), {}, a.email});
  if (!a.ssn.empty()) edits.push_back({uint16_t(CustomerField::ssn), {}, a.ssn});
  if (!a.group.empty()) edits.push_back({uint16_t(CustomerField::customerGroup), {}, a.group});
  for (auto& e : parseSets(a.sets)) edits.push_back(std::move(e));
  Customer c = take(site->engine->create(edits, a.user));
  warnOfDuplicates(*site->engine, c.id);
  if (a.json)
    printJson(displayedJson(*site, c));
  else
    std::cout << c.id.toString() << "\n";
}

void editCommand(const CustomerArgs& a) {
  if (a.sets.empty() && a.group.empty())
    throw UsageError("customer edit needs at least one --set FIELD=VALUE or --group");
  auto edits = parseSets(a.sets);
  if (!a.group.empty()) edits.push_back({uint16_t(CustomerField::customerGroup), {}, a.group});
  auto site = openSite(a.data);
  RecordId id = take(site->engine->resolve(a.ref));
  output(a, *site, take(site->engine->update(id, edits, a.user)));
}

void showCommand(const CustomerArgs& a) {
  auto site = openSite(a.data);
  RecordId id = take(site->engine->resolve(a.ref));
  output(a, *site, *site->engine->customer(id));
}

void historyCommand(const CustomerArgs& a) {
  auto site = openSite(a.data);
  RecordId id = take(site->engine->resolve(a.ref));
  const auto j = api::customerHistoryJson(*site->engine, id);
  if (a.json) {
    printJson(j);
    return;
  }
  for (const auto& entry : j) {
    std::cout << entry["at"].get<std::string>() << "  " << entry["operation"].get<std::string>()
              << "  by " << entry["user"].get<std::string>() << " at "
              << entry["site"].get<std::string>()
              << (entry.contains("customer")
                      ? "  (customer " + entry["customer"].get<std::string>() + ", merged here)"
                      : std::string())
              << "\n";
    if (entry.contains("note")) std::cout << "    (" << entry["note"].get<std::string>() << ")\n";
    for (const auto& ch : entry["changes"])
      std::cout << "    " << ch["field"].get<std::string>() << ": \""
                << ch["old"].get<std::string>() << "\" -> \"" << ch["new"].get<std::string>()
                << "\"\n";
  }
}

void setActiveCommand(const CustomerArgs& a, bool active) {
  auto site = openSite(a.data);
  RecordId id = take(site->engine->resolve(a.ref));
  output(a, *site, take(site->engine->setActive(id, active, a.user)));
}

void lifecycleCommand(const CustomerArgs& a, Operation op) {
  auto site = openSite(a.data);
  RecordId id = take(site->engine->resolve(a.ref));
  Customer c = op == Operation::kDelete    ? take(site->engine->remove(id, a.user))
               : op == Operation::kRestore ? take(site->engine->restore(id, a.user))
                                           : take(site->engine->erase(id, a.user));
  if (a.json)
    printJson(displayedJson(*site, c));
  else
    std::cout << c.id.toString() << " " << displayStatus(c) << "\n";
}

void mergeCommand(const CustomerArgs& a) {
  auto site = openSite(a.data);
  const RecordId survivor = take(site->engine->resolve(a.into));
  std::vector<RecordId> absorbed;
  for (const auto& ref : a.absorbed) absorbed.push_back(take(site->engine->resolve(ref)));
  std::vector<std::pair<sync::Edit, RecordId>> takes;
  for (const auto& t : a.takes) {
    const size_t eq = t.find('=');
    if (eq == std::string::npos)
      throw UsageError("--take wants FIELD=REF (e.g. phone=#1001), got '" + t + "'");
    const std::string field = t.substr(0, eq);
    sync::Edit edit;
    if (field.rfind("custom.", 0) == 0 && field.size() > 7) {
      edit = sync::Edit{kCustomFieldCode, field.substr(7), {}};
    } else if (auto f = customerFieldByName(field)) {
      edit = sync::Edit{uint16_t(*f), {}, {}};
    } else {
      throw UsageError("unknown field '" + field +
                       "' in --take; fields: " + customerFieldNamesList());
    }
    takes.emplace_back(edit, take(site->engine->resolve(t.substr(eq + 1))));
  }
  Customer merged = take(site->engine->merge(survivor, absorbed, takes, a.user));
  if (a.json)
    printJson(displayedJson(*site, merged));
  else
    std::cout << "merged " << absorbed.size() << " customer" << (absorbed.size() == 1 ? "" : "s")
              << " into " << merged.id.toString() << "\n";
}

void listCommand(const CustomerArgs& a, const Site& site, const std::vector<Customer>& customers) {
  if (a.json) {
    auto arr = nlohmann::json::array();
    for (const auto& c : customers) arr.push_back(displayedJson(site, c));
    printJson(arr);
    return;
  }
  for (const auto& c : customers) printCustomerLine(c);
}

CLI::App* withData(CLI::App* cmd, CustomerArgs& a) {
  cmd->add_option("--data", a.data, "data directory of this site")->required();
  return cmd;
}

using SharedArgs = std::shared_ptr<CustomerArgs>;

void addAddCommand(CLI::App& customer, const SharedArgs& a) {
  auto* add = withData(customer.add_subcommand("add", "add a customer; prints its id"), *a);
  add->add_option("--name", a->name, "full name or company name")->required();
  add->add_option("--number", a->number, "customer number (default: the next automatic one)");
  add->add_option("--phone", a->phone, "phone");
  add->add_option("--email", a->email, "e-mail");
  add->add_option("--ssn", a->ssn, "social security number");
  add->add_option("--group", a->group, "customer group (one of `sitesync groups list`, if any)");
  add->add_option("--set", a->sets, "FIELD=VALUE (repeatable)");
  add->add_option("--user", a->user, "who makes the change (default: $SITESYNC_USER or $USER)");
  add->add_flag("--json", a->json, "print the new customer as JSON");
  add->footer(fieldHelp());
  add->callback([a] { addCommand(*a); });
}

void addEditCommand(CLI::App& customer, const SharedArgs& a) {
  auto* edit = withData(customer.add_subcommand("edit", "change fields of a customer"), *a);
  edit->add_option("REF", a->ref, "customer id or #NUMBER")->required();
  edit->add_option("--group", a->group, "customer group (one of `sitesync groups list`, if any)");
  edit->add_option("--set", a->sets, "FIELD=VALUE (repeatable)");
  edit->add_option("--user", a->user, "who makes the change");
  edit->add_flag("--json", a->json, "print the customer as JSON");
  edit->footer(fieldHelp());
  edit->callback([a] { editCommand(*a); });
}

// The commands that take one customer and nothing else: show, history and the lifecycle steps.
void addOneCustomerCommands(CLI::App& customer, const SharedArgs& a) {
  struct Simple {
    const char* name;
    const char* help;
    void (*run)(const CustomerArgs&);
  };
  static const Simple simple[] = {
      {"show", "show one customer", showCommand},
      {"history", "every change to a customer card: who, where, when, old and new", historyCommand},
      {"deactivate", "deactivate (stays searchable, not pickable for new orders)",
       [](const CustomerArgs& x) { setActiveCommand(x, false); }},
      {"reactivate", "make a deactivated customer active again",
       [](const CustomerArgs& x) { setActiveCommand(x, true); }},
      {"delete", "delete (a tombstone on every site; an admin can restore)",
       [](const CustomerArgs& x) { lifecycleCommand(x, Operation::kDelete); }},
      {"restore", "bring back a deleted customer, with edits made concurrently with the delete",
       [](const CustomerArgs& x) { lifecycleCommand(x, Operation::kRestore); }},
      {"erase",
       "erase the customer's personal data for good (record, history, stored log) on every site",
       [](const CustomerArgs& x) { lifecycleCommand(x, Operation::kErase); }},
  };
  for (const auto& s : simple) {
    auto* cmd = withData(customer.add_subcommand(s.name, s.help), *a);
    cmd->add_option("REF", a->ref, "customer id or #NUMBER")->required();
    cmd->add_flag("--json", a->json, "JSON output");
    if (s.run != showCommand && s.run != historyCommand)
      cmd->add_option("--user", a->user, "who makes the change");
    auto run = s.run;
    cmd->callback([a, run] { run(*a); });
  }
}

void addMergeCommand(CLI::App& customer, const SharedArgs& a) {
  auto* merge = withData(
      customer.add_subcommand("merge",
                              "merge duplicate customers into one (the others become tombstones "
                              "pointing to it; their history and numbers follow it)"),
      *a);
  merge->add_option("--into", a->into, "the customer that stays (id or #NUMBER)")->required();
  merge->add_option("REF", a->absorbed, "the customers merged into it")->required();
  merge->add_option("--take", a->takes,
                    "FIELD=REF: keep that customer's value of FIELD (default: the survivor's "
                    "own, else the first merged one's that is set; repeatable)");
  merge->add_option("--user", a->user, "who makes the change");
  merge->add_flag("--json", a->json, "print the merged customer as JSON");
  merge->callback([a] { mergeCommand(*a); });
}

void addListCommand(CLI::App& customer, const SharedArgs& a) {
  auto* list = withData(customer.add_subcommand("list", "list customers"), *a);
  auto* all = list->add_flag("--all", a->all, "include deactivated customers");
  list->add_flag("--deleted", a->deleted,
                 "list the deleted customers instead (`customer restore` brings one back)")
      ->excludes(all);
  list->add_flag("--json", a->json, "JSON output");
  list->callback([a] {
    auto site = openSite(a->data);
    listCommand(*a, *site, a->deleted ? site->engine->listDeleted() : site->engine->list(a->all));
  });
}

void addSearchCommand(CLI::App& customer, const SharedArgs& a) {
  auto* search = withData(
      customer.add_subcommand("search", "find by customer number, phone, e-mail or name prefix"),
      *a);
  search
      ->add_option("QUERY", a->query,
                   "number; phone (national or international form, or its last digits); "
                   "e-mail address; or the start of name words")
      ->required();
  search->add_option("--limit", a->limit, "at most this many results (default 50)");
  search->add_flag("--deleted", a->deleted, "search the deleted customers instead");
  search->add_flag("--json", a->json, "JSON output");
  search->callback([a] {
    if (!isValidUtf8(a->query)) throw UsageError("the search query is not valid UTF-8");
    auto site = openSite(a->data);
    listCommand(*a, *site,
                a->deleted ? site->engine->searchDeleted(a->query, a->limit)
                           : site->engine->search(a->query, a->limit));
  });
}

}  // namespace

void addCustomerCommands(CLI::App& app) {
  auto* customer = app.add_subcommand("customer", "add, edit, find and show customers");
  auto a = std::make_shared<CustomerArgs>();
  addAddCommand(*customer, a);
  addEditCommand(*customer, a);
  addOneCustomerCommands(*customer, a);
  addMergeCommand(*customer, a);
  addListCommand(*customer, a);
  addSearchCommand(*customer, a);
  addCardCommands(*customer);
  addTransferCommands(*customer);
  addDuplicateCommands(*customer);
  addTechnicianCommands(app, *customer);
}

}  // namespace sitesync::cli
