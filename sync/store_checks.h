// sync, store checks: what `sitesync doctor` verifies of a store, and what it can rebuild. The
// indexes against the records, the change index against the log, the register's counters, the
// log and history against the version vector, and the signatures of the runs the log holds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sitesync::storage {
class Store;
}

namespace sitesync::sync {

struct StoreFinding {
  std::string check;  // e.g. "index_number", "counters", "signatures"
  bool ok = true;
  std::string detail;       // what was found, for people ("3 missing, 1 extra of 1200")
  bool repairable = false;  // derived from other tables: --repair makes it again
  bool repaired = false;
};

struct StoreCheckReport {
  std::vector<StoreFinding> findings;
  bool healthy() const;     // every check passed (or was repaired)
  bool unrepaired() const;  // some check failed and is still wrong
};

// Checks every table it can against what it is derived from; with `repair`, rebuilds the failed
// derived tables (indexes, change index, counters) in one transaction and checks them again.
// What is not derived (the log, the vector, history, signatures) it reports, never changes.
// REQUIRES: no transaction of `store` is open in this thread.
StoreCheckReport checkStore(storage::Store& store, bool repair);

}  // namespace sitesync::sync
