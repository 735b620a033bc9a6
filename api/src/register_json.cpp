// The register as JSON and customer fields by name (api/register_json.h).
#include "api/register_json.h"

#include <cmath>

#include "transfer/transfer.h"

namespace sitesync::api {

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
  j["custom"] = customValuesJson(c);
  j["created"] = c.created.hlc.toIso8601();
  j["created_at_site"] = siteIdToHex(c.created.origin);
  j["contacts"] = json::array();
  j["journal"] = json::array();
  j["discounts"] = json::array();
  j["records"] = json::array();
  json counts = json::object();
  for (const auto& e : sync::cardElements(c)) {
    if (e.gone()) continue;
    j[elementsKey(e.kind)].push_back(elementJson(e));
    if (e.kind == kRecordCode)
      counts[e.attribute("kind")] = counts.value(e.attribute("kind"), 0) + 1;
  }
  j["record_counts"] = counts;
  j["technicians"] = techniciansJson(c);
  return j;
}

json customValuesJson(const Customer& c) {
  json custom = json::object();
  for (const auto& [name, v] : c.customFields)
    if (!v.value.empty()) custom[name] = v.value;
  return custom;
}

json techniciansJson(const Customer& c) {
  json technicians = json::array();
  for (auto it = c.elements.lower_bound({kTechnicianCode, ""});
       it != c.elements.end() && it->first.first == kTechnicianCode; ++it)
    if (it->second.value == "true") technicians.push_back(it->first.second);
  return technicians;
}

json elementJson(const sync::CardElement& e) {
  json element = {{"id", e.id.toString()}};
  for (const auto& [attribute, value] : e.attributes) switch (elementValueKind(e.kind, attribute)) {
      case ValueKind::kBool:
        element[attribute] = value == "true";
        break;
      case ValueKind::kUnsigned:
        element[attribute] = std::stoll(value);
        break;
      default:
        element[attribute] = value;
    }
  if (e.inConflict) element["in_conflict"] = true;
  if (e.kind == kRecordCode) {
    element["added_at"] = e.addedAt.toIso8601();
    if (e.attributes.count("units")) {
      element["units_left"] = e.unitsLeft;
      element["overused"] = e.unitsLeft < 0;
    }
    element["usages"] = json::array();
    for (const auto& u : e.usages)
      element["usages"].push_back({{"id", u.id.toString()},
                                   {"units", u.amountCents},
                                   {"note", u.visit},
                                   {"at", u.at.toIso8601()},
                                   {"site", siteIdToHex(u.site)}});
  }
  if (e.kind == kDiscountCode) {
    element["balance_cents"] = e.balanceCents;
    element["overdrawn"] = e.balanceCents < 0;
    element["usages"] = json::array();
    for (const auto& u : e.usages)
      element["usages"].push_back({{"id", u.id.toString()},
                                   {"amount_cents", u.amountCents},
                                   {"visit", u.visit},
                                   {"at", u.at.toIso8601()},
                                   {"site", siteIdToHex(u.site)}});
  }
  return element;
}

const char* elementsKey(uint16_t kind) {
  return kind == kContactCode   ? "contacts"
         : kind == kJournalCode ? "journal"
         : kind == kRecordCode  ? "records"
                                : "discounts";
}

Customer shownCustomer(const sync::Engine& engine, Customer c) {
  if (!c.value(CustomerField::ssn).empty() && !engine.settings().getBool(SettingsField::ssnShown))
    c[CustomerField::ssn].value.clear();
  return c;
}

json shownCustomerJson(const sync::Engine& engine, const Customer& c) {
  auto j = customerJson(shownCustomer(engine, c));
  if (!c.value(CustomerField::ssn).empty() && j["ssn"].is_null()) j["ssn_hidden"] = true;
  for (const auto& flag : engine.flags(c)) j["flags"].push_back(flag);
  return j;
}

json registerStatusJson(const sync::RegisterStatus& s) {
  return {{"site", s.meta.siteName},
          {"site_id", siteIdToHex(s.meta.siteId)},
          {"hub", s.meta.isHub},
          {"deployment", s.meta.deployment ? json(siteIdToHex(s.meta.deployment)) : json(nullptr)},
          {"snapshot_pending", s.meta.snapshotPending},
          {"restored", s.meta.restored},
          {"customers", s.customers},
          {"deactivated", s.deactivated},
          {"tombstones", s.tombstones},
          {"log_entries", s.logEntries},
          {"last_seq", s.meta.lastSeq},
          {"hlc", s.meta.lastHlc.toIso8601()},
          {"vector", vectorJson(s.vector)}};
}

json vectorJson(const VersionVector& v) {
  json j = json::object();
  for (const auto& [origin, seq] : v.entries()) j[siteIdToHex(origin)] = seq;
  return j;
}

json settingsJson(const Settings& s) {
  json j = json::object();
  for (const auto& f : settingsFields()) j[f.cliName] = s.get(static_cast<SettingsField>(f.code));
  return j;
}

std::string fieldDisplayName(uint16_t code, const std::string& key) {
  if (code == kCustomFieldCode) return "custom." + key;
  if (isElementCode(code)) return std::string(elementKindName(code)) + "." + key;
  if (code == kTechnicianCode) return "technician." + key;
  if (code < kCustomerFieldCount) return customerFields()[code].cliName;
  return "field#" + std::to_string(code);
}

SiteNames siteNames(const sync::Engine& engine) {
  SiteNames names;
  for (const AllowedPeer& p : engine.allowedPeers())
    if (p.siteId != 0) names[p.siteId] = p.name;
  for (const PeerState& p : engine.peers())
    if (!p.name.empty()) names[p.siteId] = p.name;
  const Meta meta = engine.meta();
  names[meta.siteId] = meta.siteName;
  return names;
}

std::string siteLabel(const SiteNames& names, SiteId site) {
  auto it = names.find(site);
  return it == names.end() ? siteIdToHex(site) : it->second;
}

std::string customerFieldNamesList() {
  std::string out;
  for (const auto& f : customerFields()) {
    if (!out.empty()) out += ", ";
    out += f.cliName;
  }
  return out + ", custom.NAME";
}

Result<sync::Edit> customerEdit(std::string_view field, std::string value) {
  if (field.rfind("custom.", 0) == 0 && field.size() > 7)
    return sync::Edit{kCustomFieldCode, std::string(field.substr(7)), std::move(value)};
  auto code = customerFieldByName(field);
  if (!code)
    return Status::invalidArgument("unknown field '" + std::string(field) +
                                   "'; valid fields: " + customerFieldNamesList());
  return sync::Edit{uint16_t(*code), {}, std::move(value)};
}

Result<sync::Edit> settingsEdit(std::string_view key, std::string value) {
  auto field = settingsFieldByName(key);
  if (field) return sync::Edit{uint16_t(*field), {}, std::move(value)};
  std::string valid;
  for (const auto& f : settingsFields())
    valid += (valid.empty() ? "" : ", ") + std::string(f.cliName);
  return Status::invalidArgument("unknown setting '" + std::string(key) +
                                 "'; valid settings: " + valid);
}

nlohmann::json importReportJson(const transfer::ImportReport& r, bool dryRun) {
  nlohmann::json refused = nlohmann::json::array();
  for (const auto& e : r.refused) refused.push_back({{"line", e.line}, {"reason", e.reason}});
  nlohmann::json columns = nlohmann::json::object();
  for (const auto& [text, field] : r.columns) columns[text] = field;
  return {{"rows", r.rows},
          {"created", r.created},
          {"updated", r.updated},
          {"unchanged", r.unchanged},
          {"refused", refused},
          {"match", transfer::matchByName(r.match)},
          {"delimiter", std::string(1, r.delimiter)},
          {"columns", columns},
          {"ignored_columns", r.ignoredColumns},
          {"dry_run", dryRun},
          {"written", r.wrote}};
}

nlohmann::json duplicatePairJson(const sync::Engine& engine, const sync::DuplicatePair& d) {
  auto nameOf = [&](RecordId id) {
    auto c = engine.customer(id);
    return c ? c->value(CustomerField::name) : std::string();
  };
  return {{"customers", {d.first.toString(), d.second.toString()}},
          {"names", {nameOf(d.first), nameOf(d.second)}},
          {"score", std::round(d.score * 100) / 100},
          {"reasons", d.reasons}};
}

nlohmann::json customFieldsJson(const Settings& s) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [name, held] : s.customFieldDefinitions)
    if (auto d = parseDefinition(held.value))
      list.push_back({{"name", name},
                      {"kind", d->kind},
                      {"required", d->required},
                      {"retired", d->retired},
                      {"label", d->label},
                      {"choices", d->choices}});
  return list;
}

nlohmann::json catalogueJson(const Settings& s) {
  nlohmann::json groups = nlohmann::json::array(), types = nlohmann::json::array();
  for (const auto& [name, e] : s.catalogue(kSettingsCustomerGroupCode))
    groups.push_back({{"name", name}, {"label", e.label}, {"retired", e.retired}});
  for (const auto& [name, e] : s.catalogue(kSettingsDiscountTypeCode))
    types.push_back({{"name", name},
                     {"label", e.label},
                     {"retired", e.retired},
                     {"value_cents", e.valueCents},
                     {"price_cents", e.priceCents},
                     {"valid_months", e.validMonths},
                     {"services", e.services}});
  return {{"customer_groups", groups}, {"discount_types", types}};
}

}  // namespace sitesync::api
