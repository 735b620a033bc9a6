// The store's maintenance: a hot compacting copy, and the checks and rebuilds of the tables
// derived from others (record indexes from the records, the change index from the log).
#include "storage/maintenance.h"

#include <algorithm>
#include <mutex>
#include <shared_mutex>

#include <unistd.h>

#include "storage/src/lmdb.h"
#include "storage/src/store_impl.h"

namespace sitesync::storage {

using lmdb::check;

namespace {

// The record indexes, in the order a check reports them.
constexpr Table kRecordIndexes[] = {kNumberIndex,     kSsnIndex,       kContactIndex,
                                    kNameIndex,       kConflicts,      kAbsorbed,
                                    kAbsorbedNumbers, kPendingNumbers, kDeletedNumbers};

// The entries the records call for in `table`, sorted.
std::vector<std::string> expectedEntries(MDB_txn* txn, MDB_dbi records, Table table) {
  std::vector<std::string> keys;
  lmdb::Cursor cursor(txn, records);
  for (bool ok = cursor.first(); ok; ok = cursor.next())
    for (auto& e : indexEntries(decodeCustomer(cursor.value())))
      if (e.table == table) keys.push_back(std::move(e.key));
  std::sort(keys.begin(), keys.end());
  return keys;
}

// The entries `table` holds, as index keys (the name index's token and id joined, the contact
// runs' entries without their run number), sorted.
std::vector<std::string> heldEntries(MDB_txn* txn, const std::array<MDB_dbi, kTableCount>& dbi,
                                     Table table) {
  std::vector<std::string> keys;
  {
    lmdb::Cursor cursor(txn, dbi[table]);
    for (bool ok = cursor.first(); ok; ok = cursor.next())
      keys.push_back(table == kNameIndex && cursor.value().size() == 16
                         ? indexKey(cursor.key(), lmdb::readId(cursor.value()))
                         : std::string(cursor.key()));
  }
  if (table == kContactIndex) {
    lmdb::Cursor runs(txn, dbi[kContactRuns]);
    for (bool ok = runs.first(); ok; ok = runs.next())
      if (runs.key().size() > 4) keys.emplace_back(runs.key().substr(4));
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

// `expected` against `held` (both sorted).
TableCheck compare(std::string table, const std::vector<std::string>& expected,
                   const std::vector<std::string>& held) {
  TableCheck check{std::move(table), expected.size(), 0, 0};
  size_t i = 0, j = 0;
  while (i < expected.size() || j < held.size()) {
    if (j == held.size() || (i < expected.size() && expected[i] < held[j])) {
      ++check.missing;
      ++i;
    } else if (i == expected.size() || held[j] < expected[i]) {
      ++check.extra;
      ++j;
    } else {
      ++i;
      ++j;
    }
  }
  return check;
}

std::string changeIndexKey(const Change& change) {
  std::string key;
  lmdb::appendU64(key, change.id.origin);
  lmdb::appendU64(key, change.id.seq);
  return key;
}

}  // namespace

uint64_t Maintenance::copyTo(int fd) const {
  // A resize of this process's map waits for the copy (it reads through the map).
  std::shared_lock lock(store_.impl_->guard.mutex);
  const off_t start = lseek(fd, 0, SEEK_CUR);
  check(mdb_env_copyfd2(store_.impl_->env, fd, MDB_CP_COMPACT), "mdb_env_copyfd2");
  const off_t end = lseek(fd, 0, SEEK_END);
  return start >= 0 && end >= start ? uint64_t(end - start) : 0;
}

std::vector<TableCheck> Maintenance::checkRecordIndexes(const ReadTxn& txn) const {
  const auto& dbi = store_.impl_->dbi;
  std::vector<TableCheck> checks;
  for (Table table : kRecordIndexes)
    checks.push_back(compare(kTableNames[table], expectedEntries(txn.raw(), dbi[kRecords], table),
                             heldEntries(txn.raw(), dbi, table)));
  return checks;
}

void Maintenance::rebuildRecordIndexes(WriteTxn& txn) {
  const auto& dbi = store_.impl_->dbi;
  MDB_txn* raw = txn.raw();
  check(mdb_drop(raw, dbi[kContactRuns], 0), "mdb_drop");
  for (Table table : kRecordIndexes) {
    check(mdb_drop(raw, dbi[table], 0), "mdb_drop");
    const auto keys = expectedEntries(raw, dbi[kRecords], table);
    lmdb::Cursor to(raw, dbi[table]);
    for (const auto& key : keys) {
      if (table == kNameIndex) {
        const auto [token, id] = splitIndexKey(key);
        to.putDuplicate(token, id);
      } else {
        to.append(key, {});
      }
    }
  }
}

TableCheck Maintenance::checkChangeIndex(const ReadTxn& txn) const {
  std::vector<std::string> expected, held;
  const auto& dbi = store_.impl_->dbi;
  store_.forEachLog(txn, 0, [&](uint64_t position, const Change& change) {
    expected.push_back(changeIndexKey(change) + lmdb::u64Key(position));
    return true;
  });
  lmdb::Cursor cursor(txn.raw(), dbi[kChangeIndex]);
  for (bool ok = cursor.first(); ok; ok = cursor.next())
    held.push_back(std::string(cursor.key()) + std::string(cursor.value()));
  std::sort(expected.begin(), expected.end());
  std::sort(held.begin(), held.end());
  return compare(kTableNames[kChangeIndex], expected, held);
}

void Maintenance::rebuildChangeIndex(WriteTxn& txn) {
  const auto& dbi = store_.impl_->dbi;
  std::vector<std::pair<std::string, std::string>> entries;
  store_.forEachLog(txn, 0, [&](uint64_t position, const Change& change) {
    entries.emplace_back(changeIndexKey(change), lmdb::u64Key(position));
    return true;
  });
  std::sort(entries.begin(), entries.end());
  check(mdb_drop(txn.raw(), dbi[kChangeIndex], 0), "mdb_drop");
  lmdb::Cursor to(txn.raw(), dbi[kChangeIndex]);
  for (const auto& [key, position] : entries) to.append(key, position);
}

}  // namespace sitesync::storage
