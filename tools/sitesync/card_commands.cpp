// `sitesync customer contact|journal|discount ...`: the card's collections. Each prints the id
// of what it added (or the customer, with --json), and every refusal is one line.
#include <iostream>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

struct CardArgs {
  std::string data;
  std::string ref;
  std::string element;
  std::string user = defaultUser();
  std::string name, phone, email, text, type, value, price, validUntil, amount, visit;
  bool serviceProtocol = false, workOrders = false;
  std::vector<std::string> sets;
  bool json = false;
};

// "12.50", "12,5" or "12" (currency units) as cents.
std::string parseMoney(const std::string& text, const char* option) {
  auto cents = api::moneyCents(text);
  if (!cents)
    throw UsageError(std::string(option) + " wants an amount like 12.50, got '" + text + "'");
  return std::to_string(*cents);
}

RecordId parseElementId(const std::string& text, const char* what) {
  auto id = RecordId::parse(text);
  if (!id || id->isNull())
    throw UsageError(std::string(what) + " id '" + text +
                     "' is malformed (ids look like 4e99245adb89131f-7; see `customer show`)");
  return *id;
}

std::vector<sync::Edit> parseAttributeSets(uint16_t kind, const std::vector<std::string>& sets) {
  std::vector<sync::Edit> edits;
  for (const auto& s : sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError("--set wants ATTRIBUTE=VALUE, got '" + s + "'");
    edits.push_back(sync::Edit{kind, s.substr(0, eq), s.substr(eq + 1)});
  }
  return edits;
}

void printResult(const CardArgs& a, const Site& site, RecordId customer, RecordId element) {
  if (a.json) {
    auto j = customerJson(*site.engine->customer(customer));
    for (const auto& flag : site.engine->flags(*site.engine->customer(customer)))
      j["flags"].push_back(flag);
    printJson(j);
  } else {
    std::cout << element.toString() << "\n";
  }
}

void run(const CardArgs& a, uint16_t kind, std::vector<sync::Edit> edits, bool adding) {
  auto site = openSite(a.data);
  const RecordId customer = take(site->engine->resolve(a.ref));
  for (auto& e : edits) e.field = kind;
  if (adding) {
    printResult(a, *site, customer, take(site->engine->addElement(customer, kind, edits, a.user)));
    return;
  }
  const RecordId element = parseElementId(a.element, elementKindName(kind));
  take(site->engine->editElement(customer, kind, element, edits, a.user));
  printResult(a, *site, customer, element);
}

sync::Edit attr(const char* name, std::string value) {
  return sync::Edit{0, name, std::move(value)};
}

CLI::App* command(CLI::App& parent, const char* name, const char* help, CardArgs& a,
                  const char* elementName = nullptr) {
  auto* cmd = parent.add_subcommand(name, help);
  cmd->add_option("--data", a.data, "data directory of this site")->required();
  cmd->add_option("REF", a.ref, "customer id or #NUMBER")->required();
  if (elementName)
    cmd->add_option(elementName, a.element, "its id (see `customer show`)")->required();
  cmd->add_option("--user", a.user, "who makes the change (default: $SITESYNC_USER or $USER)");
  cmd->add_flag("--json", a.json, "print the customer as JSON");
  return cmd;
}

using SharedArgs = std::shared_ptr<CardArgs>;

void addContactCommands(CLI::App& customer, const SharedArgs& a) {
  auto* contact = customer.add_subcommand("contact", "people at a customer");
  contact->require_subcommand(1);
  auto* add = command(*contact, "add", "add a contact person; prints its id", *a);
  add->add_option("--name", a->name, "the person's name")->required();
  add->add_option("--phone", a->phone, "phone");
  add->add_option("--email", a->email, "e-mail");
  add->add_flag("--service-protocol", a->serviceProtocol, "send the service protocol");
  add->add_flag("--work-orders", a->workOrders, "send work orders");
  add->callback([a] {
    std::vector<sync::Edit> edits{attr("name", a->name)};
    if (!a->phone.empty()) edits.push_back(attr("phone", a->phone));
    if (!a->email.empty()) edits.push_back(attr("email", a->email));
    if (a->serviceProtocol) edits.push_back(attr("send_service_protocol", "true"));
    if (a->workOrders) edits.push_back(attr("send_work_orders", "true"));
    run(*a, kContactCode, edits, true);
  });
  auto* edit = command(*contact, "edit", "change a contact", *a, "CONTACT");
  edit->add_option("--set", a->sets,
                   "ATTRIBUTE=VALUE: name, phone, email, send_service_protocol, send_work_orders")
      ->required();
  edit->callback([a] { run(*a, kContactCode, parseAttributeSets(kContactCode, a->sets), false); });
  command(*contact, "remove", "remove a contact", *a, "CONTACT")->callback([a] {
    run(*a, kContactCode, {attr("removed", "true")}, false);
  });
}

void addJournalCommands(CLI::App& customer, const SharedArgs& a) {
  auto* journal = customer.add_subcommand("journal", "dated notes on a customer");
  journal->require_subcommand(1);
  auto* write = command(*journal, "add", "write a journal entry; prints its id", *a);
  write->add_option("--text", a->text, "the note (several lines allowed)")->required();
  write->callback([a] { run(*a, kJournalCode, {attr("text", a->text)}, true); });
  auto* change =
      command(*journal, "edit", "correct an entry (within journal_edit_window_hours)", *a, "ENTRY");
  change->add_option("--text", a->text, "the corrected note")->required();
  change->callback([a] { run(*a, kJournalCode, {attr("text", a->text)}, false); });
  command(*journal, "delete", "delete an entry (within journal_delete_window_hours)", *a, "ENTRY")
      ->callback([a] { run(*a, kJournalCode, {attr("deleted", "true")}, false); });
}

void useDiscountCommand(const CardArgs& a) {
  const uint64_t cents = std::stoull(parseMoney(a.amount, "--amount"));
  if (cents == 0) throw UsageError("--amount must be more than 0");
  auto site = openSite(a.data);
  const RecordId who = take(site->engine->resolve(a.ref));
  const RecordId cardId = parseElementId(a.element, "discount card");
  const RecordId usage = take(site->engine->useDiscount(who, cardId, cents, a.visit, a.user));
  printResult(a, *site, who, usage);
}

void addDiscountCommands(CLI::App& customer, const SharedArgs& a) {
  auto* discount = customer.add_subcommand("discount", "prepaid value cards and member cards");
  discount->require_subcommand(1);
  auto* card = command(*discount, "add", "add a card; prints its id", *a);
  card->add_option("--type", a->type,
                   "e.g. \"value card\"; one of `sitesync discount-types list`, if any")
      ->required();
  card->add_option("--value", a->value,
                   "its value, e.g. 100.00 (default: the discount type's suggested value)");
  card->add_option("--price", a->price, "the price paid, e.g. 90.00 (default: the type's)");
  card->add_option("--valid-until", a->validUntil,
                   "last valid day, YYYY-MM-DD (default: the type's validity from today)");
  card->callback([a] {
    std::vector<sync::Edit> edits{attr("type", a->type)};
    if (!a->value.empty()) edits.push_back(attr("value_cents", parseMoney(a->value, "--value")));
    if (!a->price.empty())
      edits.push_back(attr("price_paid_cents", parseMoney(a->price, "--price")));
    if (!a->validUntil.empty()) edits.push_back(attr("valid_until", a->validUntil));
    run(*a, kDiscountCode, edits, true);
  });
  auto* use = command(*discount, "use", "spend from a card; prints the usage's id", *a, "CARD");
  use->add_option("--amount", a->amount, "the amount, e.g. 12.50")->required();
  use->add_option("--visit", a->visit, "the visit it paid for");
  use->callback([a] { useDiscountCommand(*a); });
}

}  // namespace

void addCardCommands(CLI::App& customer) {
  auto a = std::make_shared<CardArgs>();
  addContactCommands(customer, a);
  addJournalCommands(customer, a);
  addDiscountCommands(customer, a);
}

}  // namespace sitesync::cli
