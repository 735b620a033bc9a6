// A node's own bookkeeping, never replicated: its meta record, the peers it met and its allow
// list.
#pragma once

#include <cstdint>
#include <string>

#include "protocol/ids.h"

namespace sitesync {

// The layout of a store's local state: 2 keeps the site key out of Meta, in storage's local
// tables (storage/src/store_upgrade.cpp brings a store of format 1 up to it).
inline constexpr uint32_t kStoreFormatVersion = 2;

struct Meta {
  SiteId siteId = 0;
  std::string siteName;
  bool isHub = false;
  uint64_t lastSeq = 0;
  Hlc lastHlc;
  uint64_t nextAutoNumber = 0;
  uint32_t formatVersion = kStoreFormatVersion;
  uint64_t createdAtMillis = 0;
  uint64_t activeCustomers = 0;  // counts by state, kept by the apply path
  uint64_t deactivatedCustomers = 0;
  uint64_t tombstones = 0;
  uint64_t deployment = 0;       // 0: not yet known (adopted from the first peer that has one)
  bool snapshotPending = false;  // a snapshot (a join's, a laptop's catch-up) is not complete
  VersionVector snapshotVector;  // what every chunk so far holds, adopted once the last is in
  std::string snapshotNextKey;   // where the next chunk starts
  // The join of the vectors a snapshot's chunks were read at, while this node's vector does not
  // cover it: a change up to it may already be in a record that came whole (a later chunk), so
  // it is applied to a record only if the record's history does not list it.
  VersionVector snapshotReadUpTo;
  uint64_t droppedForErased = 0;    // changes that arrived for an erased customer (not applied)
  std::string atRestKeyCheck;       // non-empty: sensitive values are sealed (--encrypt)
  uint64_t unauthorized = 0;        // settings or lease changes from a site other than the hub
  VersionVector revokedSites;       // revoked peers' sites: the seq held when each was revoked
  uint64_t refusedFromRevoked = 0;  // changes of those past that seq, not applied
  std::string offeredSettings;      // encoded Settings this site offered its hub when it joined
  uint64_t settingsOffersKept = 0;  // hub: offered settings kept / refused
  uint64_t settingsOffersRefused = 0;
  std::string filter;  // a filtered site's canonical filter (protocol/filter.h); empty: full site
  // Restored from a backup, not yet caught up with its own changes: it originates nothing
  // until then (a seq it sent from the lost copy must never name another change).
  bool restored = false;
  bool operator==(const Meta&) const = default;
};

// A peer as this node last saw it (local bookkeeping).
struct PeerState {
  SiteId siteId = 0;
  std::string name;
  std::string endpoint;
  uint64_t lastContactMillis = 0;
  VersionVector vector;
  uint64_t sent = 0;
  uint64_t received = 0;
  bool operator==(const PeerState&) const = default;
};

// A peer on this node's allow list (local bookkeeping; node/ enforces it on every link).
struct AllowedPeer {
  std::string name;
  std::string publicKey;  // CURVE, Z85 (40 characters)
  std::string endpoint;   // where it listens, when this node connects to it; empty otherwise
  uint64_t addedAtMillis = 0;
  SiteId siteId = 0;  // the site that proved the key is its own; 0: not yet
  bool operator==(const AllowedPeer&) const = default;
};

}  // namespace sitesync
