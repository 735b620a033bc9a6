// The LMDB store: the log and its index, the version vector, history and the personal-data
// purge, compaction and table statistics (store.cpp has the environment and transactions,
// store_records.cpp the records, store_indexes.cpp their indexes).
#include <sys/stat.h>

#include <algorithm>
#include <tuple>

#include "storage/src/lmdb.h"
#include "storage/src/store_impl.h"
#include "storage/store.h"

namespace sitesync::storage {

using lmdb::check;

// --- log ---------------------------------------------------------------------------------------

uint64_t Store::appendLog(WriteTxn& txn, const Change& change, std::string_view encoded) {
  const uint64_t position = lastLogPosition(txn) + 1;
  appendLogAt(txn, position, change, encoded);
  return position;
}

void Store::appendLogAt(WriteTxn& txn, uint64_t position, const Change& change,
                        std::string_view encoded) {
  thread_local std::string positionKey;
  positionKey.clear();
  lmdb::appendU64(positionKey, position);
  cursor(txn, kLog).appendOrFail(positionKey, encoded);
  thread_local std::string idKey;
  idKey.clear();
  lmdb::appendU64(idKey, change.id.origin);
  lmdb::appendU64(idKey, change.id.seq);
  cursor(txn, kChangeIndex).append(idKey, positionKey);
}

void Store::replaceLogEntry(WriteTxn& txn, uint64_t position, std::string_view encoded) {
  lmdb::put(txn.raw(), impl_->dbi[kLog], lmdb::u64Key(position), encoded);
}

std::vector<uint64_t> Store::logPositionsOf(const ReadTxn& txn, SiteId origin, uint64_t fromSeq,
                                            size_t max) const {
  std::vector<uint64_t> out;
  std::string key;
  lmdb::appendU64(key, origin);
  lmdb::appendU64(key, fromSeq);
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kChangeIndex]);
  for (bool ok = cursor.seek(key); ok && out.size() < max; ok = cursor.next()) {
    const std::string_view k = cursor.key();
    if (k.size() != 16 || lmdb::readU64(k) != origin || lmdb::readU64(k, 8) != fromSeq + out.size())
      break;
    out.push_back(lmdb::readU64(cursor.value()));
  }
  return out;
}

std::optional<std::string_view> Store::logBytesAt(const ReadTxn& txn, uint64_t position) const {
  std::string_view v;
  if (!lmdb::get(txn.raw(), impl_->dbi[kLog], lmdb::u64Key(position), v)) return std::nullopt;
  return v;
}

std::optional<uint64_t> Store::logPosition(const ReadTxn& txn, ChangeId id) const {
  std::string key;
  lmdb::appendU64(key, id.origin);
  lmdb::appendU64(key, id.seq);
  std::string_view v;
  if (!lmdb::get(txn.raw(), impl_->dbi[kChangeIndex], key, v)) return std::nullopt;
  return lmdb::readU64(v);
}

uint64_t Store::lastLogPosition(const ReadTxn& txn) const {
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kLog]);
  return cursor.last() ? lmdb::readU64(cursor.key()) : 0;
}

void Store::forEachLog(const ReadTxn& txn, uint64_t fromPosition,
                       const std::function<bool(uint64_t, const Change&)>& fn) const {
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kLog]);
  for (bool ok = cursor.seek(lmdb::u64Key(fromPosition)); ok; ok = cursor.next())
    if (!fn(lmdb::readU64(cursor.key()), decodeChange(cursor.value()))) break;
}

void Store::forEachLogBytes(const ReadTxn& txn, uint64_t fromPosition,
                            const std::function<bool(uint64_t, std::string_view)>& fn) const {
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kLog]);
  for (bool ok = cursor.seek(lmdb::u64Key(fromPosition)); ok; ok = cursor.next())
    if (!fn(lmdb::readU64(cursor.key()), cursor.value())) break;
}

// --- vector ------------------------------------------------------------------------------------

VersionVector Store::vector(const ReadTxn& txn) const {
  // A write transaction that wrote entries sees its own: read them.
  const bool ownWrites =
      txn.writes_ && !static_cast<const WriteTxn&>(txn).state_->vectorWrites.empty();
  const uint64_t at = txn.snapshotId();
  if (!ownWrites) {
    std::lock_guard lock(impl_->vectorMutex);
    if (impl_->vectorAt == at && at != 0) return impl_->vectorCache;
  }
  VersionVector vv;
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kVector]);
  for (bool ok = cursor.first(); ok; ok = cursor.next())
    vv.set(lmdb::readU64(cursor.key()), lmdb::readU64(cursor.value()));
  if (!ownWrites) {
    std::lock_guard lock(impl_->vectorMutex);
    impl_->vectorAt = at;
    impl_->vectorCache = vv;
  }
  return vv;
}

void Store::setVectorEntry(WriteTxn& txn, SiteId origin, uint64_t seq) {
  lmdb::put(txn.raw(), impl_->dbi[kVector], lmdb::u64Key(origin), lmdb::u64Key(seq));
  txn.state_->vectorWrites[origin] = seq;
}

void Store::moveVectorCache(uint64_t base, const std::map<SiteId, uint64_t>& written) {
  // A commit that wrote entries made the write after `base` (LMDB skips committing an empty
  // transaction, and one that wrote nothing may have left that number to another process).
  if (written.empty()) return;
  std::lock_guard lock(impl_->vectorMutex);
  if (impl_->vectorAt != base || base == 0) return;
  for (const auto& [origin, seq] : written) impl_->vectorCache.set(origin, seq);
  impl_->vectorAt = base + 1;
}

// --- history -----------------------------------------------------------------------------------

void Store::appendHistory(WriteTxn& txn, RecordId id, uint64_t logPosition,
                          const HistoryEntry& entry) {
  thread_local std::string bytes;
  encode(entry, bytes);
  thread_local std::string key;
  key.clear();
  lmdb::appendId(key, id);
  lmdb::appendU64(key, logPosition);
  cursor(txn, kHistory).append(key, bytes);
}

std::vector<HistoryEntry> Store::history(const ReadTxn& txn, RecordId id) const {
  std::vector<HistoryEntry> out;
  for (const auto& bytes : historyBytes(txn, id)) out.push_back(decodeHistoryEntry(bytes));
  // Entries from a snapshot are keyed by change, local ones by log position: order by time.
  std::stable_sort(out.begin(), out.end(), [](const HistoryEntry& a, const HistoryEntry& b) {
    return std::tie(a.at, a.site, a.seq) < std::tie(b.at, b.site, b.seq);
  });
  return out;
}

std::vector<std::string> Store::historyBytes(const ReadTxn& txn, RecordId id) const {
  std::vector<std::string> out;
  const std::string prefix(lmdb::idKey(id));
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kHistory]);
  for (bool ok = cursor.seek(prefix); ok; ok = cursor.next()) {
    if (cursor.key().substr(0, 16) != prefix) break;
    out.emplace_back(cursor.value());
  }
  return out;
}

void Store::putSnapshotHistory(WriteTxn& txn, RecordId id, const HistoryEntry& entry,
                               std::string_view encoded) {
  // id, then position 0 (before every local entry), then the change: unique per change.
  std::string key(lmdb::idKey(id));
  lmdb::appendU64(key, 0);
  lmdb::appendU64(key, entry.site);
  lmdb::appendU64(key, entry.seq);
  lmdb::put(txn.raw(), impl_->dbi[kHistory], key, encoded);
}

// --- compaction --------------------------------------------------------------------------------

uint64_t Store::firstLogPosition(const ReadTxn& txn) const {
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kLog]);
  return cursor.first() ? lmdb::readU64(cursor.key()) : 0;
}

uint64_t Store::compactLogBefore(WriteTxn& txn, uint64_t position) {
  uint64_t removed = 0;
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kLog]);
  std::string idKey, historyKey, bytes;
  for (bool ok = cursor.first(); ok && lmdb::readU64(cursor.key()) < position;) {
    const Change change = decodeChange(cursor.value());
    // The history entry that reads its writes from this log entry gets them written in first.
    historyKey.assign(lmdb::idKey(change.target));
    lmdb::appendU64(historyKey, lmdb::readU64(cursor.key()));
    std::string_view stored;
    if (!change.target.isNull() && lmdb::get(txn.raw(), impl_->dbi[kHistory], historyKey, stored)) {
      HistoryEntry entry = decodeHistoryEntry(stored);
      if (entry.valuesInLog) {
        encode(withWritesOf(std::move(entry), change), bytes);
        lmdb::put(txn.raw(), impl_->dbi[kHistory], historyKey, bytes);
      }
    }
    idKey.clear();
    lmdb::appendU64(idKey, change.id.origin);
    lmdb::appendU64(idKey, change.id.seq);
    lmdb::del(txn.raw(), impl_->dbi[kChangeIndex], idKey);
    ok = cursor.eraseCurrent();
    ++removed;
  }
  return removed;
}

// --- stats -------------------------------------------------------------------------------------

StoreStats Store::stats() const {
  StoreStats s;
  MDB_envinfo info;
  check(mdb_env_info(impl_->env, &info), "mdb_env_info");
  s.mapBytes = info.me_mapsize;
  struct stat st {};
  if (::stat((dir_ + "/data.mdb").c_str(), &st) == 0) s.fileBytes = uint64_t(st.st_size);
  auto txn = read();
  for (size_t t = 0; t < kTableCount; ++t) {
    MDB_stat ms;
    check(mdb_stat(txn.raw(), impl_->dbi[t], &ms), "mdb_stat");
    s.tables.push_back(TableStats{
        kTableNames[t], ms.ms_entries,
        uint64_t(ms.ms_psize) * (ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages)});
  }
  return s;
}

void Store::forEachHistoryEntry(
    const ReadTxn& txn, const std::function<void(RecordId, const HistoryEntry&)>& fn) const {
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kHistory]);
  for (bool ok = cursor.first(); ok; ok = cursor.next())
    fn(lmdb::readId(cursor.key()), decodeHistoryEntry(cursor.value()));
}

uint64_t Store::purgePersonalData(WriteTxn& txn, RecordId id) {
  const std::string prefix(lmdb::idKey(id));
  std::vector<std::string> keys;
  {
    lmdb::Cursor cursor(txn.raw(), impl_->dbi[kHistory]);
    for (bool ok = cursor.seek(prefix); ok && cursor.key().substr(0, 16) == prefix;
         ok = cursor.next())
      keys.emplace_back(cursor.key());
  }
  uint64_t rewritten = 0;
  std::string bytes;
  for (const auto& key : keys) {
    // Local entries are keyed id + log position; snapshot entries id + 0 + change.
    const uint64_t position = lmdb::readU64(std::string_view(key).substr(16, 8));
    std::string_view stored;
    if (position != 0 && lmdb::get(txn.raw(), impl_->dbi[kLog], lmdb::u64Key(position), stored)) {
      Change change = decodeChange(stored);
      // A change that also reached customers merged into this one keeps its values: they are
      // those customers' values too, and every node must apply the same ones.
      if (change.target == id && change.absorbed.empty()) {
        stripPersonalData(change);
        encode(change, bytes);
        lmdb::put(txn.raw(), impl_->dbi[kLog], lmdb::u64Key(position), bytes);
        ++rewritten;
      }
    }
    lmdb::del(txn.raw(), impl_->dbi[kHistory], key);
  }
  return rewritten;
}

}  // namespace sitesync::storage
