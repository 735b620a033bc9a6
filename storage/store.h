// storage: the register on disk. One LMDB environment per data directory with named tables for
// customer records, the change log (local apply order), the change-id index, the version vector,
// the search indexes (number, SSN, phone, name tokens), history, settings, number leases and
// meta. It knows records and their indexes, never peers: a node's own bookkeeping is in the
// same environment but not here (storage/local_tables.h). LMDB failures throw StoreError;
// absent data is a value.
//
// Threading: a Store may be shared by threads; each transaction belongs to the thread that began
// it. Several processes may open the same directory (LMDB serialises their writers).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/protocol.h"
#include "storage/normalize.h"
#include "storage/transaction.h"
#include "storage/write_timings.h"

namespace sitesync::storage {

struct TableStats {
  std::string name;
  uint64_t entries = 0;
  uint64_t bytes = 0;  // pages in use * page size
};

struct StoreStats {
  uint64_t mapBytes = 0;
  uint64_t fileBytes = 0;
  std::vector<TableStats> tables;
};

class Store {
 public:
  // Opens (creating files and tables if needed) the environment in `dir`, which must exist.
  static std::unique_ptr<Store> open(const std::string& dir, const Options& options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  ReadTxn read() const;

  // Runs fn(WriteTxn&) in one write transaction and commits it. When LMDB reports the map full,
  // the transaction is aborted, the map doubled and fn run again from scratch: fn must not have
  // effects outside the transaction (or must tolerate a rerun). An exception from fn aborts.
  // REQUIRES: no read transaction of this Store is open in the calling thread.
  template <typename Fn>
  auto write(Fn&& fn) -> decltype(fn(std::declval<WriteTxn&>()));

  // --- meta and settings (settings are replicated; meta is local bookkeeping)
  std::optional<Meta> meta(const ReadTxn& txn) const;
  void putMeta(WriteTxn& txn, const Meta& meta);
  Settings settings(const ReadTxn& txn) const;  // defaults when never written
  void putSettings(WriteTxn& txn, const Settings& settings);
  std::optional<std::string> settingsBytes(const ReadTxn& txn) const;

  // --- customer records and their indexes
  std::optional<Customer> customer(const ReadTxn& txn, RecordId id) const;
  bool hasCustomer(const ReadTxn& txn, RecordId id) const;  // without decoding it
  // The record's stored bytes (valid until the transaction ends).
  std::optional<std::string_view> recordBytes(const ReadTxn& txn, RecordId id) const;
  // Writes `after` and brings every index from `before`'s entries (nullptr: new record) to
  // `after`'s. Numbers and SSNs of live customers are indexed; phones and names of live and
  // merged ones (a merged one is found as its survivor).
  void putCustomer(WriteTxn& txn, const Customer* before, const Customer& after);
  // Takes a record out of this store: the record, its index entries and its history (a field
  // laptop's customer that left its filter). The log is left as it is.
  void removeCustomer(WriteTxn& txn, const Customer& stored);
  // Visits records in id order; fn returns false to stop.
  void forEachCustomer(const ReadTxn& txn, const std::function<bool(const Customer&)>& fn) const;
  void forEachRecordBytes(
      const ReadTxn& txn,
      const std::function<void(std::string_view key, std::string_view value)>& fn) const;
  // The same from the first key after `afterKey` (empty: from the first record), until fn
  // returns false. Keys are the 16-byte record ids.
  void forEachRecordBytesAfter(
      const ReadTxn& txn, std::string_view afterKey,
      const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  // Index lookups (live customers only; phones, e-mails and names of merged ones too). Numbers
  // and SSNs match exactly; e-mail addresses exactly but for case; phones by their significant
  // digits (phoneKey): a number is found by its end, and its national and international forms
  // find each other; names by normalised token prefix, every query token must match a token.
  std::vector<RecordId> findByNumber(const ReadTxn& txn, std::string_view number) const;
  // Of these (customer, number) claims, the customers whose number more than one live customer
  // holds, in the claims' order. One cursor walks the claims in number order: a batch of new
  // customers checks thousands of ascending numbers on a few pages.
  std::vector<RecordId> claimsOnSharedNumbers(
      const ReadTxn& txn, const std::vector<std::pair<RecordId, std::string>>& claims) const;
  std::vector<RecordId> findBySsn(const ReadTxn& txn, std::string_view ssn) const;
  std::vector<RecordId> findByPhone(const ReadTxn& txn, std::string_view phone, size_t limit) const;
  std::vector<RecordId> findByEmail(const ReadTxn& txn, std::string_view email, size_t limit) const;
  std::vector<RecordId> searchName(const ReadTxn& txn, std::string_view query, size_t limit) const;

  // --- change log (local apply order) and the change-id index
  // Appends the encoded change; returns its local log position (dense from 1).
  uint64_t appendLog(WriteTxn& txn, const Change& change, std::string_view encoded);
  // The same at a known position (lastLogPosition + 1), for batches that track it themselves.
  void appendLogAt(WriteTxn& txn, uint64_t position, const Change& change,
                   std::string_view encoded);
  // Rewrites the entry at `position` (the same change, now carrying its run's signature).
  void replaceLogEntry(WriteTxn& txn, uint64_t position, std::string_view encoded);
  std::optional<uint64_t> logPosition(const ReadTxn& txn, ChangeId id) const;
  uint64_t lastLogPosition(const ReadTxn& txn) const;
  void forEachLog(const ReadTxn& txn, uint64_t fromPosition,
                  const std::function<bool(uint64_t position, const Change&)>& fn) const;
  // The positions of `origin`'s changes from seq `fromSeq` on, in seq (and log) order, at most
  // `max`; it stops early at a seq without an entry (compacted, or not held).
  std::vector<uint64_t> logPositionsOf(const ReadTxn& txn, SiteId origin, uint64_t fromSeq,
                                       size_t max) const;
  // The stored bytes of the entry at `position` (valid while `txn` is), if there is one.
  std::optional<std::string_view> logBytesAt(const ReadTxn& txn, uint64_t position) const;
  // The same without decoding: the stored (packed) bytes, valid only during the call.
  void forEachLogBytes(const ReadTxn& txn, uint64_t fromPosition,
                       const std::function<bool(uint64_t position, std::string_view)>& fn) const;

  // --- version vector
  VersionVector vector(const ReadTxn& txn) const;
  void setVectorEntry(WriteTxn& txn, SiteId origin, uint64_t seq);

  // --- history of each customer card, oldest first
  void appendHistory(WriteTxn& txn, RecordId id, uint64_t logPosition, const HistoryEntry& entry);
  // Oldest first: by (hlc, site, seq), whether an entry was written here or came in a snapshot.
  std::vector<HistoryEntry> history(const ReadTxn& txn, RecordId id) const;
  // The stored (packed) entries of one record, as they are kept.
  std::vector<std::string> historyBytes(const ReadTxn& txn, RecordId id) const;
  // An entry that came with a snapshot: keyed by the change that made it (its site and seq),
  // so that a second snapshot of the same record writes it once.
  void putSnapshotHistory(WriteTxn& txn, RecordId id, const HistoryEntry& entry,
                          std::string_view encoded);

  // --- conflicts and erasure
  // Records with an open conflict (some register has several heads), in id order.
  std::vector<RecordId> withOpenConflicts(const ReadTxn& txn) const;
  // Live customers that share a number / a normalised SSN, one group per value (scans the index).
  std::vector<std::vector<RecordId>> sharedNumbers(const ReadTxn& txn) const;
  std::vector<std::vector<RecordId>> sharedSsns(const ReadTxn& txn) const;
  // Live or merged customers that share a phone (its last 9 significant digits, so national and
  // international forms meet) / an e-mail address (as emailKey), one group per value.
  std::vector<std::vector<RecordId>> sharedPhones(const ReadTxn& txn) const;
  std::vector<std::vector<RecordId>> sharedEmails(const ReadTxn& txn) const;
  // Every history entry of every record, by record.
  void forEachHistoryEntry(const ReadTxn& txn,
                           const std::function<void(RecordId, const HistoryEntry&)>& fn) const;
  // The right to be forgotten: removes the record's history and blanks the values and author
  // of every logged change that targets it (the change ids stay, so the log still replicates).
  // Returns how many log entries were rewritten.
  uint64_t purgePersonalData(WriteTxn& txn, RecordId id);

  // --- automatic customer numbers (DESIGN.md section 6)
  // The number blocks the hub leased (replicated), by first number. A lease already held is
  // kept; the same first number from two leases keeps the larger version.
  void putLease(WriteTxn& txn, const NumberLease& lease);
  std::vector<NumberLease> leases(const ReadTxn& txn) const;
  std::optional<NumberLease> leaseHolding(const ReadTxn& txn, uint64_t number) const;
  std::optional<NumberLease> lastLease(const ReadTxn& txn) const;  // the highest block
  // Merges: the customers merged straight into `survivor`; the merged customers that had
  // `number` (their numbers stay reserved, and finding one finds its survivor).
  std::vector<RecordId> absorbedInto(const ReadTxn& txn, RecordId survivor) const;
  std::vector<RecordId> mergeSurvivors(const ReadTxn& txn) const;  // with any absorbed
  std::vector<RecordId> findAbsorbedByNumber(const ReadTxn& txn, std::string_view number) const;
  // Deleted customers (not merged or erased ones) that had `number`: a restore finds them by it.
  std::vector<RecordId> findDeletedByNumber(const ReadTxn& txn, std::string_view number) const;
  // Customers created while their site had no number left (live or merged), in id order.
  std::vector<RecordId> withPendingNumbers(const ReadTxn& txn) const;

  // --- log compaction: removes the log entries before `position` and their change-index
  // entries (the state they produced stays). Returns how many entries went.
  uint64_t compactLogBefore(WriteTxn& txn, uint64_t position);
  uint64_t firstLogPosition(const ReadTxn& txn) const;  // 0 when the log is empty

  // The node's own bookkeeping (peers, allow list, inbox, site key) in this store's environment
  // and transactions, kept apart from the register (storage/local_tables.h).
  LocalTables local() const;

  StoreStats stats() const;
  // This process's write transactions so far; `slow` is called (in the writing thread, after
  // the commit) for each one that took `atLeastSeconds` or more, e.g. to log it.
  WriteTimings writeTimings() const;
  void onSlowWrite(std::function<void(double transactionSeconds, double commitSeconds)> slow,
                   double atLeastSeconds = 0.1);
  const std::string& directory() const { return dir_; }

 private:
  friend class LocalTables;
  friend class Maintenance;
  struct Impl;
  Store(std::string dir, std::unique_ptr<Impl> impl);
  MDB_txn* begin(unsigned flags) const;
  WriteTxn beginWrite();
  // The transaction's cursor on `table` (a Table of store_impl.h), opened at its first use.
  lmdb::Cursor& cursor(WriteTxn& txn, size_t table);
  // Writes the transaction's deferred phone and name index entries (in key order), then
  // folds the phone runs when they reached a bound.
  void writeDeferred(WriteTxn& txn);
  void commit(WriteTxn& txn);
  // After a commit that started from `base` and wrote these vector entries: the cached vector
  // (Store::vector) moves on to it, if it was current.
  void moveVectorCache(uint64_t base, const std::map<SiteId, uint64_t>& written);
  void noteWrite(double transactionSeconds, double commitSeconds);
  void abort(WriteTxn& txn);
  static bool isMapFull(const StoreError& e);
  uint64_t mapBytes() const;
  void resizeMap(uint64_t bytes) const;
  void growMap(uint64_t fullAt);
  // Moves the phone runs into the phone index once they hold `atLeast` entries or there are
  // kMaxPhoneRuns of them.
  void foldPhoneRuns(WriteTxn& txn, uint64_t atLeast);

  std::string dir_;
  std::unique_ptr<Impl> impl_;
};

template <typename Fn>
auto Store::write(Fn&& fn) -> decltype(fn(std::declval<WriteTxn&>())) {
  for (;;) {
    const uint64_t mapAtStart = mapBytes();
    WriteTxn txn = beginWrite();
    try {
      if constexpr (std::is_void_v<decltype(fn(txn))>) {
        fn(txn);
        commit(txn);
        return;
      } else {
        auto result = fn(txn);
        commit(txn);
        return result;
      }
    } catch (const StoreError& e) {
      abort(txn);
      if (!isMapFull(e)) throw;
      growMap(mapAtStart);
    } catch (...) {
      abort(txn);
      throw;
    }
  }
}

}  // namespace sitesync::storage
