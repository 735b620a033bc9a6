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

// --- the users of the application API ---------------------------------------------------------

namespace {

// In kLocal under "api_user/NAME": "ROLE\nTOKEN_HASH\nADDED_AT_MILLIS". Names, roles and hashes
// hold no newline (api/ admits letters, digits and a few marks); a plain layout keeps these
// node-local entries out of the replicated schema.
constexpr std::string_view kApiUserPrefix = "api_user/";

std::string apiUserKey(std::string_view name) {
  return std::string(kApiUserPrefix) + std::string(name);
}

std::string encodeApiUser(const ApiUser& user) {
  return user.role + "\n" + user.tokenHash + "\n" + std::to_string(user.addedAtMillis);
}

ApiUser decodeApiUser(std::string_view name, std::string_view bytes) {
  ApiUser user;
  user.name = std::string(name);
  const size_t first = bytes.find('\n');
  const size_t second = bytes.find('\n', first == std::string_view::npos ? first : first + 1);
  if (second == std::string_view::npos) throw DecodeError("malformed API user '" + user.name + "'");
  user.role = std::string(bytes.substr(0, first));
  user.tokenHash = std::string(bytes.substr(first + 1, second - first - 1));
  const std::string_view added = bytes.substr(second + 1);
  std::from_chars(added.data(), added.data() + added.size(), user.addedAtMillis);
  return user;
}

}  // namespace

void LocalTables::putApiUser(WriteTxn& txn, const ApiUser& user) {
  lmdb::put(txn.raw(), store_.dbi[kLocal], apiUserKey(user.name), encodeApiUser(user));
}

bool LocalTables::removeApiUser(WriteTxn& txn, std::string_view name) {
  std::string_view held;
  if (!lmdb::get(txn.raw(), store_.dbi[kLocal], apiUserKey(name), held)) return false;
  lmdb::del(txn.raw(), store_.dbi[kLocal], apiUserKey(name));
  return true;
}

std::optional<ApiUser> LocalTables::apiUser(const ReadTxn& txn, std::string_view name) const {
  std::string_view v;
  if (!lmdb::get(txn.raw(), store_.dbi[kLocal], apiUserKey(name), v)) return std::nullopt;
  return decodeApiUser(name, v);
}

std::vector<ApiUser> LocalTables::apiUsers(const ReadTxn& txn) const {
  std::vector<ApiUser> out;
  lmdb::Cursor cursor(txn.raw(), store_.dbi[kLocal]);
  for (bool ok = cursor.seek(kApiUserPrefix);
       ok && cursor.key().substr(0, kApiUserPrefix.size()) == kApiUserPrefix; ok = cursor.next())
    out.push_back(decodeApiUser(cursor.key().substr(kApiUserPrefix.size()), cursor.value()));
  return out;
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
