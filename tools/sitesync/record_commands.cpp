// `sitesync record add|edit|show|list|delete|use`: a customer's linked records (bookings, work
// orders, invoices, products). They are elements of the customer's card (kRecordCode), so they
// replicate, conflict and follow merges like its contacts and cards.
#include <iostream>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

struct RecordArgs {
  std::string data, kind, customer, record, note, user = defaultUser();
  std::vector<std::string> sets;
  uint64_t units = 0;
  bool json = false;
};

bool isRecordKind(const std::string& kind) {
  for (const char* k : kRecordKinds)
    if (kind == k) return true;
  return false;
}

// --set K=V as the record's attributes: "amount=12.50" is amount_cents, "debtor=REF" the id of
// the customer REF finds (through merges).
std::vector<sync::Edit> recordEdits(const Site& site, const std::vector<std::string>& sets) {
  std::vector<sync::Edit> edits;
  for (const auto& s : sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError("--set wants ATTRIBUTE=VALUE, got '" + s + "'");
    std::string key = s.substr(0, eq), value = s.substr(eq + 1);
    if (key == "amount") {
      auto cents = api::moneyCents(value);
      if (!cents) throw UsageError("amount wants an amount like 12.50, got '" + value + "'");
      key = "amount_cents";
      value = std::to_string(*cents);
    }
    if (key == "debtor" && !value.empty())
      value = site.engine->survivor(take(site.engine->resolve(value))).toString();
    if (key == "kind" || key == "usage" ||
        !parseElementKey(kRecordCode, RecordId{1, 1}.toString() + "/" + key))
      throw UsageError("a record has no attribute '" + key +
                       "' to set (title, text, status, date, starts_at, amount, amount_cents, "
                       "due_date, paid, valid_until, units, debtor, technician)");
    edits.push_back(sync::Edit{kRecordCode, key, value});
  }
  return edits;
}

// The record `a.record` and its customer: of --customer when given, else found by a scan.
std::pair<RecordId, sync::CardElement> findRecord(const Site& site, const RecordArgs& a) {
  auto id = RecordId::parse(a.record);
  if (!id || id->isNull())
    throw UsageError("record id '" + a.record +
                     "' is malformed (ids look like 4e99245adb89131f-7)");
  auto match = [&](const Customer& c) -> std::optional<sync::CardElement> {
    for (auto& e : sync::cardElements(c))
      if (e.kind == kRecordCode && e.id == *id && !e.gone()) return e;
    return std::nullopt;
  };
  std::optional<std::pair<RecordId, sync::CardElement>> found;
  if (!a.customer.empty()) {
    const RecordId owner = take(site.engine->resolve(a.customer));
    if (auto e = match(*site.engine->customer(owner))) found.emplace(owner, *e);
  } else {
    site.engine->forEachCustomer([&](const Customer& c) {
      if (auto e = c.isLive() ? match(c) : std::nullopt) found.emplace(c.id, *e);
      return !found;
    });
  }
  if (!found)
    check(Status::notFound("no record " + a.record +
                           (a.customer.empty() ? "" : " of customer " + a.customer)));
  if (!a.kind.empty() && found->second.attribute("kind") != a.kind)
    throw UsageError("record " + a.record + " is a " + found->second.attribute("kind") +
                     ", not a " + a.kind);
  return *found;
}

void printRecordLine(const sync::CardElement& e) {
  std::string when = e.attribute("starts_at");
  if (when.empty()) when = e.attribute("date");
  if (when.empty()) when = e.addedAt.toIso8601().substr(0, 10);
  std::cout << e.id.toString() << "  " << e.attribute("kind") << "  " << when << "  "
            << e.attribute("title");
  if (!e.attribute("status").empty()) std::cout << "  [" << e.attribute("status") << "]";
  if (!e.attribute("units").empty()) std::cout << "  " << e.unitsLeft << " units left";
  std::cout << (e.inConflict ? "  (in conflict)" : "") << "\n";
}

void printRecord(const Site& site, RecordId owner, const sync::CardElement& e, bool json) {
  if (json) return printJson(api::elementJson(e));
  std::cout << "id: " << e.id.toString() << "\ncustomer: " << owner.toString()
            << "\nadded: " << e.addedAt.toIso8601() << "\n";
  for (const auto& [name, value] : e.attributes) {
    if (name == "amount_cents") {
      std::cout << "amount: " << formatCents(std::stoll(value)) << "\n";
    } else if (name == "debtor") {
      auto payer = site.engine->customer(*RecordId::parse(value));
      const std::string number = payer ? payer->value(CustomerField::number) : "";
      std::cout << "debtor: " << value << (number.empty() ? "" : " (#" + number + ")") << "\n";
    } else {
      std::cout << name << ": " << value << "\n";
    }
  }
  if (!e.attribute("units").empty())
    std::cout << "units left: " << e.unitsLeft << (e.unitsLeft < 0 ? " (OVERUSED)" : "") << "\n";
  for (const auto& u : e.usages)
    std::cout << "used " << u.amountCents << " on " << u.at.toIso8601()
              << (u.visit.empty() ? "" : ": " + u.visit) << "\n";
  if (e.inConflict) std::cout << "in conflict: see `sitesync conflicts list`\n";
}

void addRecord(const RecordArgs& a) {
  if (a.kind.empty()) throw UsageError("record add needs --kind booking|order|invoice|product");
  if (a.customer.empty()) throw UsageError("record add needs --customer REF");
  auto site = openSite(a.data);
  const RecordId owner = site->engine->survivor(take(site->engine->resolve(a.customer)));
  auto edits = recordEdits(*site, a.sets);
  edits.insert(edits.begin(), sync::Edit{kRecordCode, "kind", a.kind});
  const RecordId made = take(site->engine->addElement(owner, kRecordCode, edits, a.user));
  if (!a.json) {
    std::cout << made.toString() << "\n";
    return;
  }
  RecordArgs shown = a;
  shown.record = made.toString();
  shown.customer = owner.toString();
  printRecord(*site, owner, findRecord(*site, shown).second, true);
}

void changeRecord(const RecordArgs& a, std::vector<sync::Edit> edits) {
  auto site = openSite(a.data);
  const auto [owner, record] = findRecord(*site, a);
  take(site->engine->editElement(owner, kRecordCode, record.id, edits, a.user));
  RecordArgs again = a;
  again.customer = owner.toString();
  if (a.json) printRecord(*site, owner, findRecord(*site, again).second, true);
}

void editRecord(const RecordArgs& a) {
  auto site = openSite(a.data);
  auto edits = recordEdits(*site, a.sets);
  site.reset();
  changeRecord(a, std::move(edits));
  if (!a.json) std::cout << "record " << a.record << " changed\n";
}

void useRecord(const RecordArgs& a) {
  if (a.units == 0) throw UsageError("--units must be more than 0");
  auto site = openSite(a.data);
  const auto [owner, record] = findRecord(*site, a);
  const std::string value = std::to_string(a.units) + "|" + a.note;
  auto results = site->engine->submit({sync::elementOp(
      owner, kRecordCode, record.id, {sync::Edit{kRecordCode, "usage", value}}, a.user)});
  check(results[0].status);
  if (a.json) {
    RecordArgs again = a;
    again.customer = owner.toString();
    return printRecord(*site, owner, findRecord(*site, again).second, true);
  }
  std::cout << results[0].element.toString() << "\n";
}

void listRecords(const RecordArgs& a) {
  if (a.customer.empty()) throw UsageError("record list needs --customer REF");
  auto site = openSite(a.data);
  const RecordId owner = take(site->engine->resolve(a.customer));
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : sync::cardElements(*site->engine->customer(owner))) {
    if (e.kind != kRecordCode || e.gone() || (!a.kind.empty() && e.attribute("kind") != a.kind))
      continue;
    if (a.json)
      list.push_back(api::elementJson(e));
    else
      printRecordLine(e);
  }
  if (a.json) printJson({{"customer", owner.toString()}, {"records", list}});
}

CLI::App* recordCommand(CLI::App& record, const char* name, const char* help, RecordArgs& a,
                        bool names) {
  auto* cmd = record.add_subcommand(name, help);
  cmd->add_option("--data", a.data, "data directory of this site")->required();
  cmd->add_option("--customer", a.customer, "the customer: id or #NUMBER");
  cmd->add_option("--kind", a.kind, "booking, order, invoice or product")
      ->check([](const std::string& k) {
        return isRecordKind(k) ? std::string()
                               : "booking, order, invoice or product, not '" + k + "'";
      });
  if (names) cmd->add_option("RECORD", a.record, "the record's id (see `record list`)")->required();
  cmd->add_option("--user", a.user, "who makes the change (default: $SITESYNC_USER or $USER)");
  cmd->add_flag("--json", a.json, "print JSON");
  return cmd;
}

}  // namespace

void addRecordCommands(CLI::App& app) {
  auto a = std::make_shared<RecordArgs>();
  auto* record = app.add_subcommand(
      "record", "a customer's bookings, work orders, invoices and products (linked records)");
  const char* setHelp =
      "ATTRIBUTE=VALUE: title, text (a work order's error report), status, date, starts_at, "
      "amount (12.50) or amount_cents, due_date, paid, valid_until, units, debtor (a customer "
      "REF who pays), technician";
  auto* add = recordCommand(*record, "add", "add a record to --customer; prints its id", *a, false);
  add->add_option("--set", a->sets, setHelp);
  add->callback([a] { addRecord(*a); });
  auto* edit = recordCommand(*record, "edit", "change a record's attributes", *a, true);
  edit->add_option("--set", a->sets, setHelp)->required();
  edit->callback([a] { editRecord(*a); });
  recordCommand(*record, "show", "one record with its usages", *a, true)->callback([a] {
    auto site = openSite(a->data);
    const auto [owner, e] = findRecord(*site, *a);
    printRecord(*site, owner, e, a->json);
  });
  recordCommand(*record, "list", "the records of --customer (of --kind)", *a, false)->callback([a] {
    listRecords(*a);
  });
  recordCommand(*record, "delete", "delete a record (kept as deleted, so sites agree)", *a, true)
      ->callback([a] {
        changeRecord(*a, {sync::Edit{kRecordCode, "deleted", "true"}});
        if (!a->json) std::cout << "record " << a->record << " deleted\n";
      });
  auto* use =
      recordCommand(*record, "use", "use units of a product; prints the usage's id", *a, true);
  use->add_option("--units", a->units, "how many units")->required();
  use->add_option("--note", a->note, "what they were used for");
  use->callback([a] { useRecord(*a); });
}

}  // namespace sitesync::cli
