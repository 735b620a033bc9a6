// storage, local tables: a node's own bookkeeping beside the replicated register, in the same
// LMDB environment and transactions as the Store: the peers it met, its allow list, its inbox
// and its site key. Nothing here is replicated, digested or sent in a snapshot.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/protocol.h"
#include "storage/store.h"

namespace sitesync::storage {

// A Store's local tables (Store::local()), valid as long as the Store. They are read and
// written in the Store's transactions, so that bookkeeping commits together with the register
// changes it goes with.
class LocalTables {
 public:
  // --- peers this node had sessions with
  void putPeer(WriteTxn& txn, const PeerState& peer);
  std::optional<PeerState> peer(const ReadTxn& txn, SiteId id) const;
  std::vector<PeerState> peers(const ReadTxn& txn) const;

  // --- the allow list: the peers this node accepts, by name (node/ enforces it)
  void putAllowedPeer(WriteTxn& txn, const AllowedPeer& peer);   // adds or replaces
  bool removeAllowedPeer(WriteTxn& txn, std::string_view name);  // false: no such peer
  std::vector<AllowedPeer> allowedPeers(const ReadTxn& txn) const;
  // Whether a peer was ever allowed (removing every one does not open the node again).
  bool allowListConfigured(const ReadTxn& txn) const;

  // --- the inbox: peers' batches made durable and acknowledged before they are applied, in the
  // order they came (sync/ decides what an entry holds).
  void putInbox(WriteTxn& txn, uint64_t key, std::string_view bytes);
  void removeInbox(WriteTxn& txn, uint64_t key);
  std::vector<std::pair<uint64_t, std::string>> inbox(const ReadTxn& txn) const;
  uint64_t lastInboxKey(const ReadTxn& txn) const;  // 0 when empty

  // --- this site's Ed25519 private key (32 bytes), which signs its changes: kept here rather
  // than in Meta, so that reading meta never hands out key material. Empty when none is held.
  void putSiteKey(WriteTxn& txn, std::string_view privateKey);
  std::string siteKey(const ReadTxn& txn) const;

 private:
  friend class Store;
  explicit LocalTables(const Store::Impl& store) : store_(store) {}
  const Store::Impl& store_;
};

}  // namespace sitesync::storage
