// Engine: making a site's store, and the engine over it (its parts built on the shared Core).
#include <algorithm>

#include "storage/local_tables.h"
#include "sync/engine.h"
#include "sync/errors.h"
#include "sync/src/apply_context.h"
#include "sync/src/registers.h"

namespace sitesync::sync {

using storage::ReadTxn;
using storage::Store;
using storage::WriteTxn;

Status validateSiteName(const std::string& name) {
  if (name.empty() || name.size() > 100 || !validateValue(ValueKind::kText, name).empty())
    return Status::invalidArgument(
        "site name must be 1 to 100 bytes of UTF-8 without control characters");
  return Status::ok();
}

EngineCore::EngineCore(storage::Store& store, Clock& clock, Engine& engine)
    : shared_(std::make_unique<Core>(store, clock, engine)) {}

EngineCore::~EngineCore() = default;

Engine::Engine(storage::Store& store, Clock& clock)
    : EngineCore(store, clock, *this),
      LocalOperations(*shared_),
      Reads(*shared_),
      Merging(*shared_),
      Conflicts(*shared_),
      Numbering(*shared_),
      Replication(*shared_),
      Trust(*shared_) {}

Engine::~Engine() {
  try {
    settleStaged();
  } catch (const std::exception&) {
    // The batch stays staged in the inbox: the next start applies it.
  }
}

Status Engine::initialize(Store& store, Clock& clock, const SiteKey& key,
                          const std::string& siteName, bool isHub, uint64_t deployment) {
  const SiteId siteId = key.siteId();
  if (siteId == 0) return Status::invalidArgument("site id must not be 0");
  // The hub is the deployment's authority: its site id names the deployment, so that "from the
  // hub" is a check of a signed change's origin.
  if (isHub && deployment != 0 && deployment != siteId)
    return Status::invalidArgument("a hub's deployment id is its own site id");
  if (isHub) deployment = siteId;
  if (auto status = validateSiteName(siteName); !status.isOk()) return status;
  return store.write([&](WriteTxn& txn) -> Status {
    if (store.meta(txn))
      return Status::failedPrecondition("this data directory already holds site '" +
                                        store.meta(txn)->siteName + "'");
    Meta meta;
    meta.siteId = siteId;
    meta.siteName = siteName;
    meta.isHub = isHub;
    meta.deployment = deployment;
    meta.createdAtMillis = clock.nowMillis();
    meta.lastHlc = hlcTick(Hlc{}, meta.createdAtMillis);
    store.putMeta(txn, meta);
    store.local().putSiteKey(txn, key.privateKey());
    return Status::ok();
  });
}

bool Engine::isInitialized(const Store& store) {
  auto txn = store.read();
  return store.meta(txn).has_value();
}

// ---------------------------------------------------------------------------------------------
// Local operations

}  // namespace sitesync::sync
