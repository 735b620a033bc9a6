// `sitesync fields define|list|retire`: the custom fields a deployment defines (settings, so on
// the hub). Once any is defined, every custom field written must be one of them.
#include <iostream>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

struct FieldArgs {
  std::string data, name, kind, label, user = defaultUser();
  std::vector<std::string> choices;
  bool required = false, json = false;
};

void listFields(const FieldArgs& a);

// Settings belong to the hub: elsewhere a usage error naming it, as `settings set` gives.
void writeDefinition(const FieldArgs& a, const CustomFieldDefinition& d) {
  auto site = openSite(a.data);
  auto written = site->engine->updateSettings(
      {sync::Edit{kSettingsCustomFieldCode, a.name, formatDefinition(d)}}, a.user);
  if (written.status().code() == StatusCode::kFailedPrecondition)
    throw UsageError(written.status().message());
  take(std::move(written));
}

void defineField(const FieldArgs& a) {
  static const std::vector<std::string> kinds = {"text", "number", "date", "bool", "choice"};
  if (std::find(kinds.begin(), kinds.end(), a.kind) == kinds.end())
    throw UsageError("--kind is text, number, date, bool or choice, not '" + a.kind + "'");
  if ((a.kind == "choice") != !a.choices.empty())
    throw UsageError(a.kind == "choice" ? "--kind choice needs --choices A,B,..."
                                        : "--choices goes with --kind choice");
  CustomFieldDefinition d{a.kind, a.required, false, a.label, a.choices};
  if (!parseDefinition(formatDefinition(d)))
    throw UsageError("a label or choice holds a control character, or a choice is empty");
  writeDefinition(a, d);
  if (a.json) return listFields(a);
  std::cout << "custom field '" << a.name << "' defined (" << a.kind
            << (a.required ? ", required" : "") << ")\n";
}

void retireField(const FieldArgs& a) {
  std::optional<CustomFieldDefinition> d;
  {
    auto site = openSite(a.data);
    const Settings s = site->engine->settings();
    if (auto it = s.customFieldDefinitions.find(a.name); it != s.customFieldDefinitions.end())
      d = parseDefinition(it->second.value);
  }
  if (!d) throw UsageError("no custom field '" + a.name + "' is defined (see `fields list`)");
  d->retired = true;
  writeDefinition(a, *d);
  if (a.json) return listFields(a);
  std::cout << "custom field '" << a.name << "' retired: its values stay, it takes no new ones\n";
}

void listFields(const FieldArgs& a) {
  auto site = openSite(a.data);
  const nlohmann::json list = api::customFieldsJson(site->engine->settings());
  if (a.json) return printJson(list);
  if (list.empty())
    std::cout << "no custom fields defined: any custom.NAME is taken (`fields define` adds one)\n";
  for (const auto& f : list) {
    std::cout << f["name"].get<std::string>() << "  " << f["kind"].get<std::string>()
              << (f["required"].get<bool>() ? "  required" : "")
              << (f["retired"].get<bool>() ? "  retired" : "");
    if (!f["label"].get<std::string>().empty())
      std::cout << "  \"" << f["label"].get<std::string>() << "\"";
    for (size_t i = 0; i < f["choices"].size(); ++i)
      std::cout << (i ? "," : "  ") << f["choices"][i].get<std::string>();
    std::cout << "\n";
  }
}

}  // namespace

void addFieldCommands(CLI::App& app) {
  auto* fields = app.add_subcommand(
      "fields", "the deployment's custom fields (on the hub): define, list, retire");
  auto a = std::make_shared<FieldArgs>();
  auto* define = fields->add_subcommand("define", "define a custom field, or change one");
  define->add_option("--data", a->data, "data directory")->required();
  define->add_option("--name", a->name, "the field's name (customer ... --set custom.NAME=V)")
      ->required();
  define->add_option("--kind", a->kind, "text, number, date, bool or choice")->required();
  define->add_option("--choices", a->choices, "the values a choice takes, comma-separated")
      ->delimiter(',');
  define->add_flag("--required", a->required, "every new customer needs it");
  define->add_option("--label", a->label, "what people see it called");
  define->add_option("--user", a->user, "who makes the change (default: $SITESYNC_USER or $USER)");
  define->add_flag("--json", a->json, "print the fields as `fields list --json` does");
  define->callback([a] { defineField(*a); });
  auto* list = fields->add_subcommand("list", "the custom fields defined");
  list->add_option("--data", a->data, "data directory")->required();
  list->add_flag("--json", a->json, "JSON output");
  list->callback([a] { listFields(*a); });
  auto* retire = fields->add_subcommand("retire", "keep a field's values but take no new ones");
  retire->add_option("--data", a->data, "data directory")->required();
  retire->add_option("--name", a->name, "the field's name")->required();
  retire->add_option("--user", a->user, "who makes the change");
  retire->add_flag("--json", a->json, "print the fields as `fields list --json` does");
  retire->callback([a] { retireField(*a); });
}

}  // namespace sitesync::cli
