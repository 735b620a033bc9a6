// Private to sync/: per-transaction state of the apply path.
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/store.h"
#include "sync/errors.h"
#include "sync/src/core.h"

namespace sitesync::sync {

// Hub only: a value another site offered for a setting (written there before it joined).
struct SettingsOffer {
  SiteId origin = 0;
  uint16_t field = 0;
  std::string key;  // a user's name (kSettingsUserCode)
  std::string value;
};

struct LeaseDemand {
  uint64_t pending = 0;     // its customers that became live without a number here
  bool runningLow = false;  // it numbered a customer from the last quarter of its newest block
};

// State loaded once per transaction and written back once at its end, so a batch of thousands
// of changes reads and writes meta, settings and vector once.
struct ApplyContext {
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
  size_t applied = 0;  // changes applied in this transaction
  // The latest HLC this node had accepted when the transaction began: with the wall clock, the
  // reference a peer's stamp is checked against (Core::refuseClockSkew). Fixed for the whole
  // batch, so a batch cannot walk the clock forward a step at a time.
  Hlc acceptedBefore;
  // Hub only: per site, the blocks of numbers it needs: customers of it that wait for a number
  // (pending), and whether it numbers from the last quarter of its newest block; each site's is
  // read once per transaction when first needed.
  std::map<SiteId, LeaseDemand> leaseDemand;
  std::optional<std::map<SiteId, NumberLease>> newestLeases;
  // A block for this site arrived, or one of its customers waits for a number: number them.
  bool fillPending = false;
  std::vector<SettingsOffer> settingsOffers;  // hub only, in the order they were applied
  // Local changes this transaction wrote that no checkpoint signs yet (Core::sealLocalRun).
  // Their seqs are consecutive, so the run is named by its last change (at lastPosition).
  struct LocalRun {
    std::string digests;  // their changeDigest, concatenated
    uint64_t lastPosition = 0;
    size_t size() const { return digests.size() / sizeof(Digest); }
  } localRun;

  ApplyContext(const storage::Store& store, const storage::ReadTxn& txn) {
    auto m = store.meta(txn);
    if (!m) throw ApplyError("the store is not initialised: run `sitesync init` first");
    meta = std::move(*m);
    acceptedBefore = meta.lastHlc;
    settings = store.settings(txn);
    vector = store.vector(txn);
    lastLogPosition = store.lastLogPosition(txn);
  }

  // What is left to do once this transaction has committed (Core::followUp): the claims on
  // a number another live customer holds too (the hub renumbers the later claims), the leases
  // sites need, and pending numbers.
  FollowUp followUp(const storage::Store& store, const storage::ReadTxn& txn) const;

  const std::map<SiteId, NumberLease>& newestLeaseBySite(const storage::Store& store,
                                                         const storage::ReadTxn& txn) {
    if (!newestLeases) {
      newestLeases.emplace();
      for (const NumberLease& l : store.leases(txn)) (*newestLeases)[l.site] = l;
    }
    return *newestLeases;
  }

  void flush(storage::Store& store, storage::WriteTxn& txn) {
    store.putMeta(txn, meta);
    if (settingsDirty) store.putSettings(txn, settings);
    std::sort(vectorDirty.begin(), vectorDirty.end());
    vectorDirty.erase(std::unique(vectorDirty.begin(), vectorDirty.end()), vectorDirty.end());
    for (SiteId origin : vectorDirty) store.setVectorEntry(txn, origin, vector.get(origin));
  }
};

struct FollowUp {
  std::vector<RecordId> sharedNumbers;
  std::map<SiteId, LeaseDemand> leaseDemand;
  bool fillPending = false;
  std::vector<SettingsOffer> settingsOffers;
  bool any() const {
    return !sharedNumbers.empty() || !leaseDemand.empty() || fillPending || !settingsOffers.empty();
  }
};

inline FollowUp ApplyContext::followUp(const storage::Store& store,
                                       const storage::ReadTxn& txn) const {
  FollowUp work;
  if (!numberClaims.empty()) work.sharedNumbers = store.claimsOnSharedNumbers(txn, numberClaims);
  work.leaseDemand = leaseDemand;
  work.fillPending = fillPending;
  work.settingsOffers = settingsOffers;
  return work;
}

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

// What an erasure leaves of a customer: its id and the fact of erasure.
inline Customer erasedRecord(const Customer& c, Version erasure) {
  Customer after;
  after.id = c.id;
  after.created = c.created;
  after.lifecycle = Lifecycle::kErased;
  after.lifecycleVersion = erasure;
  return after;
}

// The register a write targets (custom fields by name); throws ApplyError on an unknown field.
FieldValue& slotFor(Customer& c, uint16_t field, const std::string& key);
// The register if the customer has it (a custom field never written: nullptr).
inline const FieldValue* findSlot(const Customer& c, uint16_t field, const std::string& key) {
  if (field == kCustomFieldCode) {
    auto it = c.customFields.find(key);
    return it == c.customFields.end() ? nullptr : &it->second;
  }
  if (isElementCode(field) || field == kTechnicianCode) {
    auto it = c.elements.find({field, key});
    return it == c.elements.end() ? nullptr : &it->second;
  }
  return field < kCustomerFieldCount ? &c.fields[field] : nullptr;
}

}  // namespace sitesync::sync
