// Private to sync/: per-transaction state of the apply path.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "storage/store.h"
#include "sync/engine.h"
#include "sync/src/apply_error.h"

namespace sitesync::sync {

// State loaded once per transaction and written back once at its end, so a batch of thousands
// of changes reads and writes meta, settings and vector once.
struct Engine::Batch {
  Meta meta;
  Settings settings;
  VersionVector vector;
  std::vector<SiteId> vectorDirty;
  bool settingsDirty = false;
  uint64_t lastLogPosition = 0;
  std::string encoded;  // reused buffer for change bytes
  // Hub only: customers whose number came into use in this transaction (a new number, or a
  // record that became live), to check for a second claim before the commit.
  std::vector<std::pair<RecordId, std::string>> numberClaims;

  Batch(const storage::Store& store, const storage::ReadTxn& txn) {
    auto m = store.meta(txn);
    if (!m) throw ApplyError("the store is not initialised: run `sitesync init` first");
    meta = std::move(*m);
    settings = store.settings(txn);
    vector = store.vector(txn);
    lastLogPosition = store.lastLogPosition(txn);
  }

  // The claims of this transaction on a number another live customer holds too: the hub
  // renumbers the later claims (Engine::renumberDuplicates) once it has committed.
  std::vector<RecordId> sharedNumberClaims(const storage::Store& store,
                                           const storage::ReadTxn& txn) const {
    std::vector<RecordId> shared;
    for (const auto& [id, number] : numberClaims)
      if (store.findByNumber(txn, number).size() > 1) shared.push_back(id);
    return shared;
  }

  void flush(storage::Store& store, storage::WriteTxn& txn) {
    store.putMeta(txn, meta);
    if (settingsDirty) store.putSettings(txn, settings);
    std::sort(vectorDirty.begin(), vectorDirty.end());
    vectorDirty.erase(std::unique(vectorDirty.begin(), vectorDirty.end()), vectorDirty.end());
    for (SiteId origin : vectorDirty) store.setVectorEntry(txn, origin, vector.get(origin));
  }
};

// Lowercase hex of `n` bytes (digests and conflict ids).
inline std::string toHex(const unsigned char* bytes, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string text;
  text.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    text.push_back(digits[bytes[i] >> 4]);
    text.push_back(digits[bytes[i] & 15]);
  }
  return text;
}

// Adds `delta` to the meta counter of the record's state (nothing for no record).
inline void countState(Meta& meta, const Customer* c, int delta) {
  if (!c) return;
  uint64_t& counter = !c->isLive()                                       ? meta.tombstones
                      : c->value(CustomerField::status) == "deactivated" ? meta.deactivatedCustomers
                                                                         : meta.activeCustomers;
  counter += uint64_t(int64_t(delta));
}

// The register a write targets (custom fields by name); throws ApplyError on an unknown field.
FieldValue& slotFor(Customer& c, uint16_t field, const std::string& key);
// The register if the customer has it (a custom field never written: nullptr).
inline const FieldValue* findSlot(const Customer& c, uint16_t field, const std::string& key) {
  if (field == kCustomFieldCode) {
    auto it = c.customFields.find(key);
    return it == c.customFields.end() ? nullptr : &it->second;
  }
  return field < kCustomerFieldCount ? &c.fields[field] : nullptr;
}

}  // namespace sitesync::sync
