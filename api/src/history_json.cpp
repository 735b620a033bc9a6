// The register's history and conflicts as JSON, shared by `sitesync customer history --json`,
// `sitesync conflicts list --json` and the API (api/register_json.h); amounts of money.
#include <algorithm>

#include "api/register_json.h"

namespace sitesync::api {

namespace {

using nlohmann::json;

json historyChangesJson(const HistoryEntry& e, bool hideSsn) {
  json changes = json::array();
  // Entries of stores written before every write was recorded list a create's fields only.
  for (uint16_t field : e.createdFields)
    changes.push_back(
        {{"field", fieldDisplayName(field, {})}, {"old", ""}, {"new", "(not recorded)"}});
  // A delete or merge restates every value its author saw (so that edits made without seeing
  // it stay beside it): only the values it changed are worth a line.
  const bool restates = e.operation == Operation::kDelete || e.operation == Operation::kMerge;
  auto shown = [&](const FieldChange& fc, const std::string& value) {
    const bool hidden = hideSsn && fc.field == uint16_t(CustomerField::ssn) && !value.empty();
    return hidden ? std::string(kHiddenValue) : value;
  };
  for (const auto& fc : e.changes)
    if (!restates || fc.oldValue != fc.newValue)
      changes.push_back({{"field", fieldDisplayName(fc.field, fc.key)},
                         {"old", shown(fc, fc.oldValue)},
                         {"new", shown(fc, fc.newValue)}});
  return changes;
}

json headJson(const Head& h, bool hide, const SiteNames& names) {
  json j;
  j["value"] = hide && !h.value.empty() ? json(kHiddenValue) : json(h.value);
  j["site"] = h.version.isNull() ? json(nullptr) : json(siteIdToHex(h.version.origin));
  j["site_name"] = h.version.isNull() ? json(nullptr) : json(siteLabel(names, h.version.origin));
  j["time"] = h.version.isNull() ? json(nullptr) : json(h.version.hlc.toIso8601());
  return j;
}

}  // namespace

json conflictJson(const sync::ConflictInfo& c, bool hideSsn, const SiteNames& names) {
  const bool hide = hideSsn && c.field == uint16_t(CustomerField::ssn);
  json j;
  j["id"] = c.id;
  j["kind"] = sync::conflictKindName(c.kind);
  j["customer"] = c.customer.toString();
  j["field"] = fieldDisplayName(c.field, c.key);
  j["winner"] = headJson(c.winner, hide, names);
  j["loser"] = headJson(c.loser, hide, names);
  j["other_customer"] = c.other.isNull() ? json(nullptr) : json(c.other.toString());
  j["resolved"] = c.resolved;
  if (c.resolved) {
    j["resolution"] = {{"value", hide ? kHiddenValue : c.chosen},
                       {"site", siteIdToHex(c.resolution.site)},
                       {"site_name", siteLabel(names, c.resolution.site)},
                       {"time", c.resolution.at.toIso8601()},
                       {"user", c.resolution.author},
                       {"note", c.resolution.note}};
  }
  return j;
}

json customerHistoryJson(const sync::Engine& engine, RecordId customer) {
  const SiteNames names = siteNames(engine);
  const bool hideSsn = !engine.settings().getBool(SettingsField::ssnShown);
  json out = json::array();
  // The history of the customers merged into this one moves with them.
  for (const auto& [record, e] : engine.historyWithMerged(customer, true)) {
    json entry = {{"at", e.at.toIso8601()},
                  {"site", siteLabel(names, e.site)},
                  {"site_id", siteIdToHex(e.site)},
                  {"seq", e.seq},
                  {"user", e.author},
                  {"operation", operationName(e.operation)},
                  {"changes", historyChangesJson(e, hideSsn)}};
    if (!e.note.empty()) entry["note"] = e.note;
    if (record != customer) entry["customer"] = record.toString();
    out.push_back(std::move(entry));
  }
  return out;
}

json conflictsJson(const sync::Engine& engine, bool includeResolved) {
  const bool hideSsn = !engine.settings().getBool(SettingsField::ssnShown);
  const SiteNames names = siteNames(engine);
  json out = json::array();
  for (const auto& c : engine.conflicts(includeResolved))
    out.push_back(conflictJson(c, hideSsn, names));
  return out;
}

std::optional<uint64_t> moneyCents(std::string_view text) {
  const auto sep = text.find_first_of(".,");
  const std::string_view whole = text.substr(0, sep);
  std::string fraction(sep == std::string_view::npos ? "" : text.substr(sep + 1));
  auto digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || whole.size() > 12 || !digits(whole) || fraction.size() > 2 ||
      !digits(fraction))
    return std::nullopt;
  fraction.resize(2, '0');
  return std::stoull(std::string(whole)) * 100 + std::stoull(fraction);
}

}  // namespace sitesync::api
