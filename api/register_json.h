// api, the register as JSON: customers, settings and version vectors as `sitesync ... --json`
// prints them and the API serves them, and customer fields named as `--set` and the API take
// them. One implementation for both, so that their field names cannot drift apart.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "sync/engine.h"

namespace sitesync::transfer {
struct ImportReport;
}

namespace sitesync::api {

// A CSV import's report (`customer import --json`, POST /v1/customers/import): counts, the rows
// refused with their lines, the columns as mapped and those left out.
nlohmann::json importReportJson(const transfer::ImportReport& report, bool dryRun);
// Two customers likely to be one person (`customer duplicates --json`, GET
// /v1/customers/duplicates): their ids and names, the score (2 decimals) and the reasons.
nlohmann::json duplicatePairJson(const sync::Engine& engine, const sync::DuplicatePair& pair);
// The deployment's custom field definitions (`fields list --json`, GET /v1/fields): name, kind,
// required, retired, label, choices; by name.
nlohmann::json customFieldsJson(const Settings& s);
// The catalogues: {"customer_groups": [...], "discount_types": [...]}, by name.
nlohmann::json catalogueJson(const Settings& s);

// "active", "deactivated", "deleted", "erased", "merged into ID"
std::string displayStatus(const Customer& c);
nlohmann::json customerJson(const Customer& c);
// Pieces of customerJson, for the PostgreSQL mirror too: {"name": value} of the custom fields
// that are set; the technicians assigned, by name.
nlohmann::json customValuesJson(const Customer& c);
nlohmann::json techniciansJson(const Customer& c);
// The customer as this deployment shows it: with the setting ssn_shown=false the social
// security number is not shown (JSON: null and "ssn_hidden": true; it is still stored, indexed
// and checked for uniqueness); with the engine's derived flags.
Customer shownCustomer(const sync::Engine& engine, Customer c);
nlohmann::json shownCustomerJson(const sync::Engine& engine, const Customer& c);
// A contact, journal entry or discount card as the customer's JSON lists it.
nlohmann::json elementJson(const sync::CardElement& e);
// The key of the customer's JSON that lists elements of `kind`: "contacts", "journal",
// "discounts".
const char* elementsKey(uint16_t kind);
// The site and its register: name, id, hub, counts, clock and vector (what `status --json`
// starts with, and GET /v1/status).
nlohmann::json registerStatusJson(const sync::RegisterStatus& s);
// {"<origin site id in hex>": seq, ...}
nlohmann::json vectorJson(const VersionVector& v);
nlohmann::json settingsJson(const Settings& s);

// Names of the sites this node knows (itself, its peers and allow list), by site id.
using SiteNames = std::map<SiteId, std::string>;
SiteNames siteNames(const sync::Engine& engine);
// A site's name where known, else its id in hex.
std::string siteLabel(const SiteNames& names, SiteId site);
// "phone", "custom.colour", "contact.<id>/phone": a register's name for people (the history's).
std::string fieldDisplayName(uint16_t code, const std::string& key);
// What the history and the change feed show instead of an SSN the setting ssn_shown=false hides.
constexpr const char* kHiddenValue = "(hidden)";

// `customer history --json` and GET /v1/customers/{id}/history: every change of the customer
// and of those merged into it (marked with their own id), oldest first, with old and new
// values; an SSN the setting ssn_shown=false hides is "(hidden)".
nlohmann::json customerHistoryJson(const sync::Engine& engine, RecordId customer);
// `conflicts list --json` and GET /v1/conflicts: the open conflicts, with `includeResolved`
// also those resolved and how.
nlohmann::json conflictsJson(const sync::Engine& engine, bool includeResolved);
// One conflict as `conflicts list --json` shows it.
nlohmann::json conflictJson(const sync::ConflictInfo& c, bool hideSsn, const SiteNames& names);

// "12.50", "12,5" or "12" (currency units) as cents; nullopt when it is not such an amount.
std::optional<uint64_t> moneyCents(std::string_view text);

// FIELD (a field's name or custom.NAME) set to VALUE; an unknown field is kInvalidArgument,
// listing the valid ones.
Result<sync::Edit> customerEdit(std::string_view field, std::string value);
std::string customerFieldNamesList();  // "number, name, phone, ..., custom.NAME"
// KEY (a setting's name) set to VALUE; an unknown setting is kInvalidArgument, listing them.
Result<sync::Edit> settingsEdit(std::string_view key, std::string value);

}  // namespace sitesync::api
