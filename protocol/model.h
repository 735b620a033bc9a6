// The data model (DESIGN.md section 3) as plain values: registers, customers, settings,
// changes and their history entries.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/fields.h"
#include "protocol/ids.h"

namespace sitesync {

// One value of a register: the write's value, version and seq at its origin (so its change id is
// (version.origin, seq)).
struct Head {
  std::string value;
  Version version;
  uint64_t seq = 0;
  bool operator==(const Head&) const = default;
};

// A multi-value register (DESIGN.md section 6): the heads are the writes no later write has
// replaced. The one with the largest version is shown (`value`, `version`, `seq`); the others
// are concurrent writes kept until someone resolves them: an open conflict.
struct FieldValue {
  std::string value;  // empty: not set
  Version version;    // null: never written
  uint64_t seq = 0;
  std::vector<Head> others;  // largest version first
  // Writes that a write applied here had replaced before they arrived (a batch can overtake
  // another): when one arrives it is not a head. Empty once every change is in.
  std::vector<Version> replacedEarly = {};
  // Concurrent writes of one value are no conflict: nothing is lost whichever is shown.
  bool inConflict() const {
    for (const Head& h : others)
      if (h.value != value) return true;
    return false;
  }
  Head shown() const { return Head{value, version, seq}; }
  bool operator==(const FieldValue&) const = default;
};

enum class Lifecycle : uint8_t { kLive = 0, kDeleted = 1, kMerged = 2, kErased = 3 };

// A register key of a collection element, parsed: "<element>/<attribute>", or for a usage of a
// discount card "<card>/usage/<usage>" (attribute "usage").
struct ElementKey {
  uint16_t code = 0;
  RecordId element;
  std::string attribute;
  RecordId usage;
  std::string toString() const;  // the register key
};
// Nullopt unless `key` is well-formed for `code` (a known attribute of that kind of element).
std::optional<ElementKey> parseElementKey(uint16_t code, std::string_view key);
// The kind of value an attribute holds (a usage's "<cents>|<visit>" is kText).
ValueKind elementValueKind(uint16_t code, std::string_view attribute);

struct Customer {
  RecordId id;
  Lifecycle lifecycle = Lifecycle::kLive;
  RecordId mergedInto;
  Version lifecycleVersion;
  Version created;
  std::array<FieldValue, kCustomerFieldCount> fields;
  std::map<std::string, FieldValue> customFields;  // name -> register, sorted
  // Contacts, journal and discount cards: (field code, "<element>/<attribute>") -> register.
  std::map<std::pair<uint16_t, std::string>, FieldValue> elements;

  FieldValue& operator[](CustomerField f) { return fields[size_t(f)]; }
  const FieldValue& operator[](CustomerField f) const { return fields[size_t(f)]; }
  const std::string& value(CustomerField f) const { return fields[size_t(f)].value; }
  bool isLive() const { return lifecycle == Lifecycle::kLive; }
  bool hasOpenConflicts() const;
  bool operator==(const Customer&) const = default;
};

struct Settings {
  std::array<FieldValue, kSettingsFieldCount> fields;
  // The application API's users by name (kSettingsUserCode): an empty value is a removed user.
  std::map<std::string, FieldValue> users;
  // Custom field definitions by name (kSettingsCustomFieldCode): formatDefinition's values.
  std::map<std::string, FieldValue> customFieldDefinitions;
  // The catalogues by name (kSettingsCustomerGroupCode, kSettingsDiscountTypeCode):
  // formatCatalogueEntry's values.
  std::map<std::string, FieldValue> customerGroups;
  std::map<std::string, FieldValue> discountTypes;
  // The registers of a keyed settings write code (kKeyedSettingsCodes); null for a field's code.
  std::map<std::string, FieldValue>* keyed(uint16_t code) {
    return code == kSettingsUserCode            ? &users
           : code == kSettingsCustomFieldCode   ? &customFieldDefinitions
           : code == kSettingsCustomerGroupCode ? &customerGroups
           : code == kSettingsDiscountTypeCode  ? &discountTypes
                                                : nullptr;
  }
  // A catalogue's entries that parse, by name (retired ones included).
  std::map<std::string, CatalogueEntry> catalogue(uint16_t code) const;
  const std::map<std::string, FieldValue>* keyed(uint16_t code) const {
    return const_cast<Settings*>(this)->keyed(code);
  }
  // The register a settings write writes: a field, a user's or a definition (added when absent).
  FieldValue& slot(uint16_t field, const std::string& key) {
    auto* registers = keyed(field);
    return registers ? (*registers)[key] : fields[field];
  }
  // That register as held, never written when absent.
  FieldValue held(uint16_t field, const std::string& key) const {
    const auto* registers = keyed(field);
    if (!registers) return fields[field];
    auto it = registers->find(key);
    return it == registers->end() ? FieldValue{} : it->second;
  }
  // The effective value: the written one, or the default.
  std::string get(SettingsField f) const;
  uint64_t getUnsigned(SettingsField f) const;
  bool getBool(SettingsField f) const;
  bool operator==(const Settings&) const = default;
};

// A user of the application API (api/), as Settings::users holds them: who they are, what they
// may do, and the SHA-256 of their bearer token (hex; the token itself is shown once and never
// stored). Set at the hub and replicated, so one token works at every site.
struct ApiUser {
  std::string name;
  std::string role;  // "admin", "staff", "technician", "viewer" (api/ gives them their rights)
  std::string tokenHash;
  Hlc changedAt;  // when the hub last wrote the user (added, or a new token)
  bool operator==(const ApiUser&) const = default;
};

enum class Operation : uint8_t {
  kCreate = 0,
  kUpdate = 1,
  kDelete = 2,
  kRestore = 3,
  kErase = 4,
  kMerge = 5,
  kSettings = 6,
  kJournal = 7,
  kDiscountUsage = 8,
  kLease = 9,  // the hub leases a block of automatic customer numbers to a site
};
const char* operationName(Operation op);

struct FieldWrite {
  uint16_t field = 0;
  std::string key;
  std::string value;
  std::vector<Version> replaces;
  bool operator==(const FieldWrite&) const = default;
};

// A block of automatic customer numbers, first to last inclusive, that the hub leased to one
// site (DESIGN.md section 6). Blocks never overlap: the hub hands them out in ascending order.
struct NumberLease {
  SiteId site = 0;  // 0: none
  uint64_t first = 0;
  uint64_t last = 0;
  Version version;  // the lease change's (unset inside the change itself)
  uint64_t size() const { return last - first + 1; }
  bool holds(uint64_t number) const { return site != 0 && first <= number && number <= last; }
  bool operator==(const NumberLease& o) const = default;
};

struct Change {
  ChangeId id;
  Hlc hlc;
  Operation operation = Operation::kUpdate;
  RecordId target;
  std::string author;
  std::vector<FieldWrite> writes;
  std::vector<RecordId> absorbed;
  std::string signature;
  std::string note;   // why, when a machine made the change (e.g. the hub's renumbering)
  NumberLease lease;  // operation kLease
  // Set once the personal data was erased: what personalDataHash gave before (32 bytes).
  std::string personalHash;
  Version version() const { return Version{hlc, id.origin, id.seq}; }
  bool operator==(const Change&) const = default;
};

// Erasure (the right to be forgotten): blanks the values and the author of a change, keeping
// its id, target and the versions it replaced, so that the log still replicates, and the hash of
// what it blanked, so that the change still verifies against its origin's signature.
void stripPersonalData(Change& change);

struct FieldChange {
  uint16_t field = 0;
  std::string key;
  std::string oldValue;  // stored only by older versions; derived on read (Engine::history)
  std::string newValue;  // the value the change wrote
  std::vector<Version> replaces = {};  // what the write replaced, as its change names them
  bool operator==(const FieldChange&) const = default;
};

// A conflict a change settled: the value that was shown and the concurrent one beside it.
struct ClosedConflict {
  uint16_t field = 0;
  std::string key;
  Head winner;
  Head loser;
  bool operator==(const ClosedConflict&) const = default;
};

struct HistoryEntry {
  Hlc at;
  SiteId site = 0;
  uint64_t seq = 0;
  std::string author;
  Operation operation = Operation::kUpdate;
  std::vector<FieldChange> changes;
  std::vector<uint16_t> createdFields;
  std::vector<ClosedConflict> closed;
  std::string note;
  // Every write of the change is in `changes` with the value it wrote (entries of this
  // version); without it, an entry of an older store (values as seen where it was applied).
  bool everyWrite = false;
  // `changes` are not stored: they are the writes of the change's log entry (withWritesOf).
  bool valuesInLog = false;
  bool operator==(const HistoryEntry&) const = default;
};
// The entry with the writes of its change (`change`) in `changes`, when it keeps them in the log.
inline HistoryEntry withWritesOf(HistoryEntry entry, const Change& change) {
  if (!entry.valuesInLog) return entry;
  entry.changes.clear();
  for (const FieldWrite& w : change.writes)
    entry.changes.push_back(FieldChange{w.field, w.key, {}, w.value, w.replaces});
  entry.valuesInLog = false;
  return entry;
};

}  // namespace sitesync
