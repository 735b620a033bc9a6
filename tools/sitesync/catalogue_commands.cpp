// `sitesync groups define|list|retire` and `sitesync discount-types define|list|retire`: the
// deployment's catalogues (settings, so on the hub). Once a catalogue has entries, customer_group
// and `discount add --type` take one of them; a discount type fills in a card's value, price and
// validity.
#include <iostream>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

struct CatalogueArgs {
  std::string data, name, label, value, price, user = defaultUser();
  uint64_t validMonths = 6;
  std::vector<std::string> services;
  bool json = false;
};

struct Catalogue {
  uint16_t code;
  const char* command;  // "groups", "discount-types"
  const char* what;     // "customer group", "discount type"
  const char* jsonKey;  // catalogueJson's key
};
constexpr Catalogue kGroups{kSettingsCustomerGroupCode, "groups", "customer group",
                            "customer_groups"};
constexpr Catalogue kDiscountTypes{kSettingsDiscountTypeCode, "discount-types", "discount type",
                                   "discount_types"};

uint64_t centsOf(const std::string& text, const char* option) {
  if (text.empty()) return 0;
  auto cents = api::moneyCents(text);
  if (!cents)
    throw UsageError(std::string(option) + " wants an amount like 12.50, got '" + text + "'");
  return *cents;
}

void list(const CatalogueArgs& a, const Catalogue& c);

// Settings belong to the hub: elsewhere a usage error naming it, as `settings set` gives.
void writeEntry(const CatalogueArgs& a, const Catalogue& c, const CatalogueEntry& e) {
  auto site = openSite(a.data);
  auto written =
      site->engine->updateSettings({sync::Edit{c.code, a.name, formatCatalogueEntry(e)}}, a.user);
  if (written.status().code() == StatusCode::kFailedPrecondition)
    throw UsageError(written.status().message());
  take(std::move(written));
}

void define(const CatalogueArgs& a, const Catalogue& c) {
  CatalogueEntry e;
  e.label = a.label;
  if (c.code == kSettingsDiscountTypeCode) {
    e.valueCents = centsOf(a.value, "--value");
    e.priceCents = centsOf(a.price, "--price");
    e.validMonths = a.validMonths;
    e.services = a.services;
  }
  if (!parseCatalogueEntry(formatCatalogueEntry(e)))
    throw UsageError(
        "a label or service holds a control character, a service is empty, or "
        "--valid-months is over 1200");
  writeEntry(a, c, e);
  if (a.json) return list(a, c);
  std::cout << c.what << " '" << a.name << "' defined\n";
}

void retire(const CatalogueArgs& a, const Catalogue& c) {
  std::optional<CatalogueEntry> e;
  {
    auto site = openSite(a.data);
    auto entries = site->engine->settings().catalogue(c.code);
    if (auto it = entries.find(a.name); it != entries.end()) e = it->second;
  }
  if (!e)
    throw UsageError("no " + std::string(c.what) + " '" + a.name + "' (see `sitesync " + c.command +
                     " list`)");
  e->retired = true;
  writeEntry(a, c, *e);
  if (a.json) return list(a, c);
  std::cout << c.what << " '" << a.name << "' retired: customers and cards keep it, new ones "
            << "cannot choose it\n";
}

void list(const CatalogueArgs& a, const Catalogue& c) {
  auto site = openSite(a.data);
  const nlohmann::json entries = api::catalogueJson(site->engine->settings())[c.jsonKey];
  if (a.json) return printJson(entries);
  if (entries.empty())
    std::cout << "no " << c.what << "s defined: any value is taken (`sitesync " << c.command
              << " define` adds one)\n";
  for (const auto& e : entries) {
    std::cout << e["name"].get<std::string>();
    if (c.code == kSettingsDiscountTypeCode)
      std::cout << "  value " << formatCents(e["value_cents"].get<int64_t>()) << "  price "
                << formatCents(e["price_cents"].get<int64_t>()) << "  valid "
                << e["valid_months"].get<uint64_t>() << " months";
    for (size_t i = 0; c.code == kSettingsDiscountTypeCode && i < e["services"].size(); ++i)
      std::cout << (i ? "," : "  services ") << e["services"][i].get<std::string>();
    if (!e["label"].get<std::string>().empty())
      std::cout << "  \"" << e["label"].get<std::string>() << "\"";
    std::cout << (e["retired"].get<bool>() ? "  retired" : "") << "\n";
  }
}

void addCatalogue(CLI::App& app, const Catalogue& c, const char* help) {
  auto a = std::make_shared<CatalogueArgs>();
  auto* group = app.add_subcommand(c.command, help);
  auto* def =
      group->add_subcommand("define", std::string("define a ") + c.what + ", or change one");
  def->add_option("--data", a->data, "data directory (the hub's)")->required();
  def->add_option("--name", a->name, "its name")->required();
  def->add_option("--label", a->label, "what people see it called");
  if (c.code == kSettingsDiscountTypeCode) {
    def->add_option("--value", a->value, "the suggested value of a card, e.g. 100.00");
    def->add_option("--price", a->price, "its price, e.g. 90.00");
    def->add_option("--valid-months", a->validMonths,
                    "how long a card of this type is valid from its sale (default 6; 0: no end)");
    def->add_option("--services", a->services, "the services it covers, comma-separated")
        ->delimiter(',');
  }
  def->add_option("--user", a->user, "who makes the change (default: $SITESYNC_USER or $USER)");
  def->add_flag("--json", a->json, "print the catalogue as `list --json` does");
  def->callback([a, &c] { define(*a, c); });
  auto* ls = group->add_subcommand("list", std::string("the ") + c.what + "s defined");
  ls->add_option("--data", a->data, "data directory")->required();
  ls->add_flag("--json", a->json, "JSON output");
  ls->callback([a, &c] { list(*a, c); });
  auto* ret = group->add_subcommand("retire", "keep it where it is used, offer it no more");
  ret->add_option("--data", a->data, "data directory (the hub's)")->required();
  ret->add_option("--name", a->name, "its name")->required();
  ret->add_option("--user", a->user, "who makes the change");
  ret->add_flag("--json", a->json, "print the catalogue as `list --json` does");
  ret->callback([a, &c] { retire(*a, c); });
}

}  // namespace

void addCatalogueCommands(CLI::App& app) {
  addCatalogue(app, kGroups, "the deployment's customer groups (on the hub): define, list, retire");
  addCatalogue(app, kDiscountTypes,
               "the deployment's discount types (on the hub): define, list, retire");
}

}  // namespace sitesync::cli
