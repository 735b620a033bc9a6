// Stores written by an earlier sitesync, brought up to date in the first write transaction that
// opens them: old tables moved into their successors, index tables that did not exist yet filled
// from the records, local entries moved out of meta (format 2).
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "storage/src/lmdb.h"
#include "storage/src/store_impl.h"

namespace sitesync::storage {

using lmdb::check;

namespace {

// A table of an earlier version, moved into its successor: each entry goes to `move`, in key
// order, then the old table is deleted.
template <typename Move>
void moveOldTable(MDB_txn* txn, const char* name, MDB_dbi into, Move move) {
  MDB_dbi old;
  const int rc = mdb_dbi_open(txn, name, 0, &old);
  if (rc == MDB_NOTFOUND) return;
  check(rc, "mdb_dbi_open");
  {
    lmdb::Cursor from(txn, old);
    lmdb::Cursor to(txn, into);
    for (bool ok = from.first(); ok; ok = from.next()) move(to, from.key());
  }
  check(mdb_drop(txn, old, 1), "mdb_drop");
}

// Index tables this open created: their entries for every record (none in a new store), sorted,
// then appended. Only tables whose keys are whole index keys (no duplicates, no runs).
void fillAddedIndexes(MDB_txn* txn, const std::array<MDB_dbi, kTableCount>& dbi,
                      const std::array<bool, kTableCount>& added) {
  constexpr Table kFilled[] = {kContactIndex, kDeletedNumbers};
  if (std::none_of(std::begin(kFilled), std::end(kFilled), [&](Table t) { return added[t]; }))
    return;
  std::vector<IndexEntry> entries;
  {
    lmdb::Cursor records(txn, dbi[kRecords]);
    for (bool ok = records.first(); ok; ok = records.next())
      for (auto& e : indexEntries(decodeCustomer(records.value())))
        if (added[e.table] &&
            std::find(std::begin(kFilled), std::end(kFilled), e.table) != std::end(kFilled))
          entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end());
  for (Table t : kFilled) {
    if (!added[t]) continue;
    lmdb::Cursor to(txn, dbi[t]);
    for (const auto& e : entries)
      if (e.table == t) to.append(e.key, {});
  }
}

// Format 2 keeps the node's local entries out of the meta table, which holds the register's:
// the allow list's flag moves to kLocal, and so does the site key, out of the meta record (its
// retired signingKey), which is rewritten without it.
void moveLocalEntriesOutOfMeta(MDB_txn* txn, const std::array<MDB_dbi, kTableCount>& dbi) {
  std::string_view held;  // valid until the next write
  if (lmdb::get(txn, dbi[kMetaTable], kAllowListKey, held)) {
    lmdb::put(txn, dbi[kLocal], kAllowListKey, std::string(held));
    lmdb::del(txn, dbi[kMetaTable], kAllowListKey);
  }
  if (!lmdb::get(txn, dbi[kMetaTable], kMetaKey, held)) return;  // not a site yet
  Meta meta = decodeMeta(held);
  if (meta.formatVersion >= kStoreFormatVersion) return;
  const std::string siteKey = decodeRetiredSigningKey(held);
  if (!siteKey.empty()) lmdb::put(txn, dbi[kLocal], kSiteKeyKey, siteKey);
  meta.formatVersion = kStoreFormatVersion;
  std::string bytes;
  encode(meta, bytes);  // without the key: Meta has no place for it
  lmdb::put(txn, dbi[kMetaTable], kMetaKey, bytes);
}

}  // namespace

void refuseNewerFormat(MDB_txn* txn, MDB_dbi metaTable, const std::string& dir) {
  std::string_view held;
  if (!lmdb::get(txn, metaTable, kMetaKey, held)) return;  // not a site yet
  const uint32_t format = decodeMeta(held).formatVersion;
  if (format > kStoreFormatVersion)
    throw StoreError(0, "the store in " + dir + " has format " + std::to_string(format) +
                            ", newer than this sitesync's format " +
                            std::to_string(kStoreFormatVersion) +
                            ": run the sitesync that wrote it, or a newer one");
}

void upgradeTables(MDB_txn* txn, const std::array<MDB_dbi, kTableCount>& dbi,
                   const std::array<bool, kTableCount>& added) {
  // The name index as `token \0 id` keys: into sorted duplicates (ids in order: appended).
  moveOldTable(txn, kOldNameIndex, dbi[kNameIndex], [](lmdb::Cursor& to, std::string_view key) {
    if (key.size() < 17) return;  // not an index key: nothing to find it by
    const auto [token, id] = splitIndexKey(key);
    to.putDuplicate(token, id);
  });
  // Phone keys as written (digits in order): the contact index is made again from the records.
  for (const char* name : kOldPhoneTables) {
    MDB_dbi old;
    const int rc = mdb_dbi_open(txn, name, 0, &old);
    if (rc == MDB_NOTFOUND) continue;
    check(rc, "mdb_dbi_open");
    check(mdb_drop(txn, old, 1), "mdb_drop");
  }
  fillAddedIndexes(txn, dbi, added);
  moveLocalEntriesOutOfMeta(txn, dbi);
}

}  // namespace sitesync::storage
