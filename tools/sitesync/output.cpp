// Customer, history and settings as JSON and as text for people.
#include <iostream>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

using nlohmann::json;

std::string displayStatus(const Customer& c) {
  switch (c.lifecycle) {
    case Lifecycle::kDeleted:
      return "deleted";
    case Lifecycle::kErased:
      return "erased";
    case Lifecycle::kMerged:
      return "merged into " + c.mergedInto.toString();
    case Lifecycle::kLive:
      break;
  }
  return c.value(CustomerField::status) == "deactivated" ? "deactivated" : "active";
}

json customerJson(const Customer& c) {
  json j;
  j["id"] = c.id.toString();
  for (const auto& f : customerFields()) {
    const auto& v = c.fields[f.code].value;
    j[f.cliName] = v.empty() ? json(nullptr) : json(v);
  }
  j["number"] = c.value(CustomerField::number);
  j["name"] = c.value(CustomerField::name);
  j["status"] = displayStatus(c);
  j["merged_into"] = c.mergedInto.isNull() ? json(nullptr) : json(c.mergedInto.toString());
  j["flags"] = json::array();
  if (c.lifecycle == Lifecycle::kErased) j["flags"].push_back("erased");
  json custom = json::object();
  for (const auto& [name, v] : c.customFields)
    if (!v.value.empty()) custom[name] = v.value;
  j["custom"] = custom;
  j["created"] = c.created.hlc.toIso8601();
  j["created_at_site"] = siteIdToHex(c.created.origin);
  j["contacts"] = json::array();
  j["journal"] = json::array();
  j["discounts"] = json::array();
  j["technicians"] = json::array();
  return j;
}

namespace {
std::string fieldName(uint16_t code, const std::string& key) {
  if (code == kCustomFieldCode) return "custom." + key;
  if (code < kCustomerFieldCount) return customerFields()[code].cliName;
  return "field#" + std::to_string(code);
}
}  // namespace

json historyJson(const Customer& current, const std::vector<HistoryEntry>& entries,
                 const Meta& meta) {
  json out = json::array();
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    json changes = json::array();
    // A create stores which fields it set; the value it set is the first later `old` of that
    // field, or the current value if nothing changed it since.
    for (uint16_t field : e.createdFields) {
      std::string value = current.fields[field].value;
      for (size_t k = i + 1; k < entries.size(); ++k) {
        auto it = std::find_if(entries[k].changes.begin(), entries[k].changes.end(),
                               [&](const FieldChange& fc) { return fc.field == field; });
        if (it != entries[k].changes.end()) {
          value = it->oldValue;
          break;
        }
      }
      changes.push_back({{"field", fieldName(field, {})}, {"old", ""}, {"new", value}});
    }
    for (const auto& fc : e.changes)
      changes.push_back(
          {{"field", fieldName(fc.field, fc.key)}, {"old", fc.oldValue}, {"new", fc.newValue}});
    std::string site = e.site == meta.siteId ? meta.siteName : siteIdToHex(e.site);
    out.push_back({{"at", e.at.toIso8601()},
                   {"site", site},
                   {"site_id", siteIdToHex(e.site)},
                   {"seq", e.seq},
                   {"user", e.author},
                   {"operation", operationName(e.operation)},
                   {"changes", changes}});
  }
  return out;
}

json settingsJson(const Settings& s) {
  json j = json::object();
  for (const auto& f : settingsFields()) j[f.cliName] = s.get(static_cast<SettingsField>(f.code));
  return j;
}

void printJson(const json& j) {
  std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

void printCustomer(const Customer& c) {
  std::cout << "id: " << c.id.toString() << "\nstatus: " << displayStatus(c) << "\n";
  for (const auto& f : customerFields()) {
    const auto& v = c.fields[f.code].value;
    if (!v.empty() && f.code != uint16_t(CustomerField::status))
      std::cout << f.cliName << ": " << v << "\n";
  }
  for (const auto& [name, v] : c.customFields)
    if (!v.value.empty()) std::cout << "custom." << name << ": " << v.value << "\n";
  if (c.hasOpenConflicts())
    std::cout << "open conflicts: see `sitesync conflicts list` (concurrent values kept)\n";
}

void printCustomerLine(const Customer& c) {
  const std::string& number = c.value(CustomerField::number);
  std::cout << c.id.toString() << "  " << (number.empty() ? "(number pending)" : "#" + number)
            << "  " << c.value(CustomerField::name) << "  " << c.value(CustomerField::phone) << "  "
            << c.value(CustomerField::email) << "  " << displayStatus(c) << "\n";
}

}  // namespace sitesync::cli
