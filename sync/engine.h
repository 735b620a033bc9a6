// sync: the register's logic as deterministic code over a Store. Local operations (create, edit,
// deactivate, settings) are validated against the deployment settings, turned into changes
// stamped with the site's next seq and a hybrid logical clock, and applied through the same path
// that applies changes from peers: record + log entry + indexes + history + vector + meta in
// one write transaction. Time comes from an injected Clock; nothing here touches the network.
//
// Engine is what callers hold; what it offers is in its parts, one header each:
//   local_operations.h  create, edit, delete, settings, contacts, journal, cards (submit)
//   reads.h             customers, search, history, settings, status, digest
//   merging.h           merging duplicate customers
//   conflicts.h         listing and settling conflicts
//   numbering.h         number blocks, pending numbers, renumbering
//   replication.h       what a peer lacks, applying its batches, inbox, snapshots, compaction
//   trust.h             allow list, hello proofs, at-rest encryption
// and the vocabulary they share: clock.h, keys.h, operations.h, reports.h, errors.h.
#pragma once

#include <memory>
#include <string>

#include "protocol/protocol.h"
#include "sync/clock.h"
#include "sync/conflicts.h"
#include "sync/errors.h"
#include "sync/keys.h"
#include "sync/local_operations.h"
#include "sync/merging.h"
#include "sync/numbering.h"
#include "sync/operations.h"
#include "sync/reads.h"
#include "sync/replication.h"
#include "sync/reports.h"
#include "sync/trust.h"

namespace sitesync::storage {
class Store;
}

namespace sitesync::sync {

class Core;
class Engine;

// Owns the state the parts share; a base of Engine listed first, so that it is made before the
// parts that refer to it and destroyed after them.
class EngineCore {
 protected:
  EngineCore(storage::Store& store, Clock& clock, Engine& engine);
  ~EngineCore();
  std::unique_ptr<Core> shared_;
};

class Engine : private EngineCore,
               public LocalOperations,
               public Reads,
               public Merging,
               public Conflicts,
               public Numbering,
               public Replication,
               public Trust {
 public:
  Engine(storage::Store& store, Clock& clock);
  ~Engine();  // waits for a staged batch still being applied
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Makes a fresh store the site `key` names. Fails if it already is one. `deployment`: the
  // deployment id, which is its hub's site id (the one site whose settings and number leases
  // every site accepts); a hub's is its own; 0 for a site that adopts it from its first peer.
  static Status initialize(storage::Store& store, Clock& clock, const SiteKey& key,
                           const std::string& siteName, bool isHub, uint64_t deployment = 0);
  // Whether the store has been initialised (holds a site).
  static bool isInitialized(const storage::Store& store);

 private:
  friend class EngineTestAccess;  // defined only by tests and benchmarks
};

}  // namespace sitesync::sync
