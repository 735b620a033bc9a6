// The LMDB store: environment, transactions, the map's size, meta and settings, and number
// leases. store_records.cpp has the records, store_indexes.cpp their indexes; store_log.cpp the
// log, vector, history and stats; local_tables.cpp the node's own bookkeeping.
#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <optional>

#include "storage/src/lmdb.h"
#include "storage/src/store_impl.h"
#include "storage/store.h"

namespace sitesync::storage {

using lmdb::check;

ReadTxn::ReadTxn(ReadTxn&& other) noexcept : txn_(other.txn_), guard_(other.guard_) {
  other.txn_ = nullptr;
  other.guard_ = nullptr;
}

void ReadTxn::end() {
  if (txn_) mdb_txn_abort(txn_);
  txn_ = nullptr;
  if (guard_) guard_->mutex.unlock_shared();
  guard_ = nullptr;
}
WriteTxn::WriteTxn(MDB_txn* txn, MapGuard* guard)
    : ReadTxn(txn, guard), state_(std::make_unique<State>()) {
  writes_ = true;
}
WriteTxn::WriteTxn(WriteTxn&& other) noexcept = default;
// The cursors close before ~ReadTxn aborts an open transaction: after it, LMDB has freed them.
WriteTxn::~WriteTxn() {
  if (state_) state_->closeCursors();
}

ReadTxn::~ReadTxn() {
  end();
}

uint64_t ReadTxn::snapshotId() const {
  // LMDB numbers a write transaction as the write it will commit.
  return uint64_t(mdb_txn_id(txn_)) - (writes_ ? 1 : 0);
}

Store::Store(std::string dir, std::unique_ptr<Impl> impl)
    : dir_(std::move(dir)), impl_(std::move(impl)) {}
Store::~Store() = default;

std::unique_ptr<Store> Store::open(const std::string& dir, const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->guard.resizeWait = options.mapResizeWait;
  impl->phoneFoldAt = options.phoneFoldAt;
  check(mdb_env_create(&impl->env), "mdb_env_create");
  check(mdb_env_set_maxdbs(impl->env, 32), "mdb_env_set_maxdbs");
  check(mdb_env_set_maxreaders(impl->env, 256), "mdb_env_set_maxreaders");
  // A map never shrinks below what the file already holds: LMDB adopts the larger size.
  check(mdb_env_set_mapsize(impl->env, options.initialMapBytes), "mdb_env_set_mapsize");
  unsigned flags = MDB_NOTLS;
  if (!options.durable) flags |= MDB_NOSYNC;
  if (options.readOnly) flags |= MDB_RDONLY;
  int rc = mdb_env_open(impl->env, dir.c_str(), flags, 0640);
  if (rc != MDB_SUCCESS)
    throw StoreError(rc, "cannot open the store in " + dir + ": " + mdb_strerror(rc));

  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(impl->env, nullptr, options.readOnly ? MDB_RDONLY : 0, &txn),
        "mdb_txn_begin");
  std::array<bool, kTableCount> added{};  // tables this open creates (upgradeTables fills them)
  for (size_t t = 0; t < kTableCount; ++t) {
    const Table table = Table(t);
    rc = mdb_dbi_open(txn, kTableNames[t], tableFlags(table), &impl->dbi[t]);
    if (rc == MDB_NOTFOUND && !options.readOnly) {
      added[t] = true;
      rc = mdb_dbi_open(txn, kTableNames[t], tableFlags(table) | MDB_CREATE, &impl->dbi[t]);
    }
    if (rc != MDB_SUCCESS) {
      mdb_txn_abort(txn);
      throw StoreError(rc, std::string("cannot open table ") + kTableNames[t] + ": " +
                               mdb_strerror(rc) +
                               (rc == MDB_NOTFOUND && options.readOnly
                                    ? " (a store written by an earlier sitesync: open it for "
                                      "writing once, e.g. `sitesync status`, to upgrade it)"
                                    : ""));
    }
  }
  try {
    refuseNewerFormat(txn, impl->dbi[kMetaTable], dir);
  } catch (...) {
    mdb_txn_abort(txn);
    throw;
  }
  if (!options.readOnly) {
    try {
      upgradeTables(txn, impl->dbi, added);
    } catch (...) {
      mdb_txn_abort(txn);
      throw;
    }
  }
  rc = mdb_txn_commit(txn);
  check(rc, "mdb_txn_commit");
  return std::unique_ptr<Store>(new Store(dir, std::move(impl)));
}

MDB_txn* Store::begin(unsigned flags) const {
  MapGuard& guard = impl_->guard;
  guard.mutex.lock_shared();
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(impl_->env, nullptr, flags, &txn);
  if (rc == MDB_MAP_RESIZED) {  // another process grew the map: adopt its size
    guard.mutex.unlock_shared();
    resizeMap(0);
    guard.mutex.lock_shared();
    rc = mdb_txn_begin(impl_->env, nullptr, flags, &txn);
  }
  if (rc != MDB_SUCCESS) {
    guard.mutex.unlock_shared();
    check(rc, flags & MDB_RDONLY ? "mdb_txn_begin(read)" : "mdb_txn_begin(write)");
  }
  return txn;
}

ReadTxn Store::read() const {
  return ReadTxn(begin(MDB_RDONLY), &impl_->guard);
}

WriteTxn Store::beginWrite() {
  return WriteTxn(begin(0), &impl_->guard);
}

lmdb::Cursor& Store::cursor(WriteTxn& txn, size_t table) {
  auto& cursor = txn.state_->cursors[table];
  if (!cursor) cursor.emplace(txn.raw(), impl_->dbi[table]);
  return *cursor;
}

// The map is resized (0: to the size another process gave it) once no other transaction of
// this process is open. One still open past the wait (a long read, or one its own caller holds)
// makes the write fail with a clear error instead of pulling the map from under that reader.
void Store::resizeMap(uint64_t bytes) const {
  MapGuard& guard = impl_->guard;
  std::unique_lock lock(guard.mutex, std::defer_lock);
  if (!lock.try_lock_for(guard.resizeWait)) {
    MDB_envinfo info;
    mdb_env_info(impl_->env, &info);
    throw StoreError(MDB_MAP_FULL,
                     "the store in " + dir_ + " needs a larger map than its " +
                         std::to_string(info.me_mapsize >> 20) +
                         " MiB, and transactions of this process stayed open for " +
                         std::to_string(guard.resizeWait.count()) +
                         " ms, so it could not grow; the write was not made: try it again");
  }
  check(mdb_env_set_mapsize(impl_->env, bytes), "mdb_env_set_mapsize");
}

void Store::commit(WriteTxn& txn) {
  writeDeferred(txn);
  txn.state_->closeCursors();
  MDB_txn* raw = txn.txn_;
  const uint64_t base = txn.snapshotId();
  txn.txn_ = nullptr;  // a failed commit frees the transaction too
  const auto committing = std::chrono::steady_clock::now();
  const int rc = mdb_txn_commit(raw);
  txn.end();
  check(rc, "mdb_txn_commit");
  moveVectorCache(base, txn.state_->vectorWrites);
  const auto done = std::chrono::steady_clock::now();
  noteWrite(std::chrono::duration<double>(done - txn.state_->began).count(),
            std::chrono::duration<double>(done - committing).count());
}

void Store::noteWrite(double transactionSeconds, double commitSeconds) {
  std::function<void(double, double)> slow;
  {
    std::lock_guard lock(impl_->timingsMutex);
    impl_->timings.transaction.add(transactionSeconds);
    impl_->timings.commit.add(commitSeconds);
    if (transactionSeconds >= impl_->slowWriteSeconds) slow = impl_->slowWrite;
  }
  if (slow) slow(transactionSeconds, commitSeconds);
}

WriteTimings Store::writeTimings() const {
  std::lock_guard lock(impl_->timingsMutex);
  return impl_->timings;
}

void Store::onSlowWrite(std::function<void(double, double)> slow, double atLeastSeconds) {
  std::lock_guard lock(impl_->timingsMutex);
  impl_->slowWrite = std::move(slow);
  impl_->slowWriteSeconds = atLeastSeconds;
}

void Store::abort(WriteTxn& txn) {
  txn.state_->closeCursors();
  txn.end();
}

bool Store::isMapFull(const StoreError& e) {
  return e.code() == MDB_MAP_FULL;
}

uint64_t Store::mapBytes() const {
  std::shared_lock lock(impl_->guard.mutex);
  MDB_envinfo info;
  check(mdb_env_info(impl_->env, &info), "mdb_env_info");
  return info.me_mapsize;
}

void Store::growMap(uint64_t fullAt) {
  MDB_envinfo info;
  check(mdb_env_info(impl_->env, &info), "mdb_env_info");
  if (info.me_mapsize > fullAt) return;  // another thread grew it meanwhile
  resizeMap(fullAt * 2);
}

// --- meta and settings -----------------------------------------------------------------------

std::optional<Meta> Store::meta(const ReadTxn& txn) const {
  std::string_view v;
  if (!lmdb::get(txn.raw(), impl_->dbi[kMetaTable], kMetaKey, v)) return std::nullopt;
  return decodeMeta(v);
}

void Store::putMeta(WriteTxn& txn, const Meta& meta) {
  std::string bytes;
  encode(meta, bytes);
  lmdb::put(txn.raw(), impl_->dbi[kMetaTable], kMetaKey, bytes);
}

std::optional<std::string> Store::settingsBytes(const ReadTxn& txn) const {
  std::string_view v;
  if (!lmdb::get(txn.raw(), impl_->dbi[kMetaTable], kSettingsKey, v)) return std::nullopt;
  return std::string(v);
}

Settings Store::settings(const ReadTxn& txn) const {
  std::string_view v;
  if (!lmdb::get(txn.raw(), impl_->dbi[kMetaTable], kSettingsKey, v)) return Settings{};
  return decodeSettings(v);
}

void Store::putSettings(WriteTxn& txn, const Settings& settings) {
  std::string bytes;
  encode(settings, bytes);
  lmdb::put(txn.raw(), impl_->dbi[kMetaTable], kSettingsKey, bytes);
}

namespace {

NumberLease readLease(std::string_view key, std::string_view value) {
  if (key.size() != 8 || value.size() != 40) throw StoreError(0, "malformed number lease entry");
  return NumberLease{
      lmdb::readU64(value, 0), lmdb::readU64(key), lmdb::readU64(value, 8),
      Version{Hlc{lmdb::readU64(value, 16)}, lmdb::readU64(value, 24), lmdb::readU64(value, 32)}};
}

}  // namespace

void Store::putLease(WriteTxn& txn, const NumberLease& lease) {
  const std::string key = lmdb::u64Key(lease.first);
  std::string_view held;
  if (lmdb::get(txn.raw(), impl_->dbi[kLeases], key, held) &&
      !(readLease(key, held).version < lease.version))
    return;  // the same lease again (or, from two hubs, the larger version keeps the block)
  std::string value;
  for (uint64_t v :
       {lease.site, lease.last, lease.version.hlc.packed, lease.version.origin, lease.version.seq})
    lmdb::appendU64(value, v);
  lmdb::put(txn.raw(), impl_->dbi[kLeases], key, value);
}

std::vector<NumberLease> Store::leases(const ReadTxn& txn) const {
  std::vector<NumberLease> out;
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kLeases]);
  for (bool ok = cursor.first(); ok; ok = cursor.next())
    out.push_back(readLease(cursor.key(), cursor.value()));
  return out;
}

std::optional<NumberLease> Store::leaseHolding(const ReadTxn& txn, uint64_t number) const {
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kLeases]);
  // The block with the greatest first number <= number: the one after it starts past number.
  bool ok = cursor.seek(lmdb::u64Key(number));
  if (ok && lmdb::readU64(cursor.key()) == number) return readLease(cursor.key(), cursor.value());
  ok = ok ? cursor.prev() : cursor.last();
  if (!ok) return std::nullopt;
  NumberLease lease = readLease(cursor.key(), cursor.value());
  if (!lease.holds(number)) return std::nullopt;
  return lease;
}

std::optional<NumberLease> Store::lastLease(const ReadTxn& txn) const {
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kLeases]);
  if (!cursor.last()) return std::nullopt;
  return readLease(cursor.key(), cursor.value());
}

}  // namespace sitesync::storage
