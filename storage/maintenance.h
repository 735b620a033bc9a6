// storage, maintenance: what an operator does to a store beside using it. A consistent copy
// taken while other processes write (a hot backup), and the checks and repairs of the tables
// that are derived from others: the record indexes (from the records) and the change index
// (from the log). What only sync/ understands (counters, signatures) is checked there.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "storage/store.h"

namespace sitesync::storage {

// One derived table against what its sources call for.
struct TableCheck {
  std::string table;      // its name in the store
  uint64_t expected = 0;  // entries its sources call for
  uint64_t missing = 0;   // of those, entries it lacks
  uint64_t extra = 0;     // entries it holds that nothing calls for
  bool ok() const { return missing == 0 && extra == 0; }
};

class Maintenance {
 public:
  explicit Maintenance(Store& store) : store_(store) {}

  // LMDB's compacting copy of the whole environment, written to `fd` from its current offset.
  // It reads in one read transaction, so writers (this or another process) go on meanwhile and
  // the copy is the state of one commit. Returns the bytes written.
  uint64_t copyTo(int fd) const;

  // The record indexes (numbers, SSNs, contacts, names, merges, conflicts, pending and deleted
  // numbers), each against the entries the records call for. One pass over the records per
  // table, so memory stays that of one table's keys.
  std::vector<TableCheck> checkRecordIndexes(const ReadTxn& txn) const;
  // Empties the record indexes and fills them again from the records.
  void rebuildRecordIndexes(WriteTxn& txn);

  // The change index (origin, seq -> log position) against the log.
  TableCheck checkChangeIndex(const ReadTxn& txn) const;
  void rebuildChangeIndex(WriteTxn& txn);

 private:
  Store& store_;
};

}  // namespace sitesync::storage
