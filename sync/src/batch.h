// Private to sync/: per-transaction state of the apply path.
#pragma once

#include <algorithm>
#include <string>
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

  Batch(const storage::Store& store, const storage::ReadTxn& txn) {
    auto m = store.meta(txn);
    if (!m) throw ApplyError("the store is not initialised: run `sitesync init` first");
    meta = std::move(*m);
    settings = store.settings(txn);
    vector = store.vector(txn);
    lastLogPosition = store.lastLogPosition(txn);
  }

  void flush(storage::Store& store, storage::WriteTxn& txn) {
    store.putMeta(txn, meta);
    if (settingsDirty) store.putSettings(txn, settings);
    std::sort(vectorDirty.begin(), vectorDirty.end());
    vectorDirty.erase(std::unique(vectorDirty.begin(), vectorDirty.end()), vectorDirty.end());
    for (SiteId origin : vectorDirty) store.setVectorEntry(txn, origin, vector.get(origin));
  }
};

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

}  // namespace sitesync::sync
