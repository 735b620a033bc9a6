// A node's local tables (storage/local_tables.h): peers met, the allow list, the inbox and the
// site key, in the Store's environment.
#include "storage/local_tables.h"

#include <charconv>

#include "storage/src/lmdb.h"
#include "storage/src/store_impl.h"

namespace sitesync::storage {

LocalTables Store::local() const {
  return LocalTables(*impl_);
}

// --- peers -------------------------------------------------------------------------------------

void LocalTables::putPeer(WriteTxn& txn, const PeerState& peer) {
  std::string bytes;
  encode(peer, bytes);
  lmdb::put(txn.raw(), store_.dbi[kPeers], lmdb::u64Key(peer.siteId), bytes);
}

std::optional<PeerState> LocalTables::peer(const ReadTxn& txn, SiteId id) const {
  std::string_view v;
  if (!lmdb::get(txn.raw(), store_.dbi[kPeers], lmdb::u64Key(id), v)) return std::nullopt;
  return decodePeerState(v);
}

std::vector<PeerState> LocalTables::peers(const ReadTxn& txn) const {
  std::vector<PeerState> out;
  lmdb::Cursor cursor(txn.raw(), store_.dbi[kPeers]);
  for (bool ok = cursor.first(); ok; ok = cursor.next())
    out.push_back(decodePeerState(cursor.value()));
  return out;
}

// --- the allow list ----------------------------------------------------------------------------

void LocalTables::putAllowedPeer(WriteTxn& txn, const AllowedPeer& peer) {
  std::string bytes;
  encode(peer, bytes);
  lmdb::put(txn.raw(), store_.dbi[kAllowed], peer.name, bytes);
  lmdb::put(txn.raw(), store_.dbi[kLocal], kAllowListKey, "1");
}

bool LocalTables::removeAllowedPeer(WriteTxn& txn, std::string_view name) {
  std::string_view held;
  if (!lmdb::get(txn.raw(), store_.dbi[kAllowed], name, held)) return false;
  lmdb::del(txn.raw(), store_.dbi[kAllowed], name);
  return true;
}

std::vector<AllowedPeer> LocalTables::allowedPeers(const ReadTxn& txn) const {
  std::vector<AllowedPeer> out;
  lmdb::Cursor cursor(txn.raw(), store_.dbi[kAllowed]);
  for (bool ok = cursor.first(); ok; ok = cursor.next())
    out.push_back(decodeAllowedPeer(cursor.value()));
  return out;
}

bool LocalTables::allowListConfigured(const ReadTxn& txn) const {
  std::string_view v;
  return lmdb::get(txn.raw(), store_.dbi[kLocal], kAllowListKey, v);
}

// --- the inbox --------------------------------------------------------------------------------

void LocalTables::putInbox(WriteTxn& txn, uint64_t key, std::string_view bytes) {
  lmdb::put(txn.raw(), store_.dbi[kInbox], lmdb::u64Key(key), bytes);
}

void LocalTables::removeInbox(WriteTxn& txn, uint64_t key) {
  lmdb::del(txn.raw(), store_.dbi[kInbox], lmdb::u64Key(key));
}

std::vector<std::pair<uint64_t, std::string>> LocalTables::inbox(const ReadTxn& txn) const {
  std::vector<std::pair<uint64_t, std::string>> out;
  lmdb::Cursor cursor(txn.raw(), store_.dbi[kInbox]);
  for (bool ok = cursor.first(); ok; ok = cursor.next())
    out.emplace_back(lmdb::readU64(cursor.key()), std::string(cursor.value()));
  return out;
}

uint64_t LocalTables::lastInboxKey(const ReadTxn& txn) const {
  lmdb::Cursor cursor(txn.raw(), store_.dbi[kInbox]);
  return cursor.last() ? lmdb::readU64(cursor.key()) : 0;
}

// --- the site key -------------------------------------------------------------------------

void LocalTables::putSiteKey(WriteTxn& txn, std::string_view privateKey) {
  lmdb::put(txn.raw(), store_.dbi[kLocal], kSiteKeyKey, privateKey);
}

std::string LocalTables::siteKey(const ReadTxn& txn) const {
  std::string_view v;
  if (!lmdb::get(txn.raw(), store_.dbi[kLocal], kSiteKeyKey, v)) return {};
  return std::string(v);
}

}  // namespace sitesync::storage
