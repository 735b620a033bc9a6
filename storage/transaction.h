// storage's transactions and options: a read snapshot, a write transaction only Store::write
// hands out, what opening a store takes, and the error every LMDB failure becomes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "protocol/status.h"

struct MDB_txn;

namespace sitesync::storage {

namespace lmdb {
class Cursor;
}

class StoreError : public Error {
 public:
  StoreError(int code, const std::string& what) : Error(what), code_(code) {}
  int code() const { return code_; }  // LMDB or errno code

 private:
  int code_;
};

struct Options {
  // Address space only (the file grows with the data), so start large: growing the map waits
  // until no other transaction is open in this process (mapResizeWait), and a write that cannot
  // wait that long fails with a clear error. 16 GiB holds ~10M customers with their log; past it
  // the map doubles.
  uint64_t initialMapBytes = uint64_t(16) << 30;
  std::chrono::milliseconds mapResizeWait{30000};
  // New phone index entries wait in sorted runs (one per bulk-size commit, run 0 for the
  // others) until there are this many (or 16 runs), then go into the index in one pass (see
  // kPhoneRuns in storage/src/store_impl.h).
  uint64_t phoneFoldAt = 262144;
  bool durable = true;  // fsync on every commit
  bool readOnly = false;
};

class Store;
class LocalTables;

// Held shared by every open transaction of a Store and exclusively while its map is resized.
struct MapGuard;

// A read snapshot. Move-only; aborted when it goes out of scope. Values read through it are
// copies, valid after it ends.
class ReadTxn {
 public:
  ReadTxn(ReadTxn&& other) noexcept;
  ReadTxn& operator=(ReadTxn&&) = delete;
  ReadTxn(const ReadTxn&) = delete;
  ~ReadTxn();

 protected:
  friend class Store;
  // The committed write this transaction started from: two read transactions with the same id
  // see the same contents (Store::vector's cache is keyed by it); a write transaction adds its
  // own.
  uint64_t snapshotId() const;
  ReadTxn(MDB_txn* txn, MapGuard* guard) : txn_(txn), guard_(guard) {}
  void end();  // aborts the transaction if still open, and lets the map be resized
  MDB_txn* txn_;
  MapGuard* guard_;
  bool writes_ = false;  // a WriteTxn

 private:
  // Only storage's own code reaches LMDB: nothing above storage/ may depend on it.
  friend class LocalTables;
  friend class Maintenance;
  MDB_txn* raw() const { return txn_; }
};

// A write transaction, only handed out by Store::write, which commits it. Phone and name index
// entries are collected and written sorted just before the commit (random keys in key order cost
// far less), so they become visible at commit, not within the transaction that writes them.
class WriteTxn : public ReadTxn {
 public:
  WriteTxn(WriteTxn&& other) noexcept;
  ~WriteTxn();

 private:
  friend class Store;
  struct State;
  WriteTxn(MDB_txn* txn, MapGuard* guard);
  std::unique_ptr<State> state_;
};

}  // namespace sitesync::storage
