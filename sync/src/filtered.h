// Filtered sites (docs/filtered-sync.md), inside sync/: which customer trees a filter wants.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/protocol.h"
#include "storage/store.h"
#include "storage/transaction.h"

namespace sitesync::sync {

class Core;

// Whether a customer, as it shows (Core::view), matches the filter: live, and a technician of
// the filter shown assigned ("true"), or its customer group one of the filter's.
bool matchesFilter(const Customer& shown, const RecordFilter& filter);

// The trees of customers a filter is about: each root (a customer not merged, or the survivor
// read for a merge cycle) with the customers merged into it.
class FilterTrees {
 public:
  FilterTrees(const Core& core, const storage::ReadTxn& txn, const RecordFilter& filter);
  RecordId rootOf(RecordId id) const;
  std::vector<RecordId> closureOf(RecordId root) const;  // ascending, the root included
  // The root's tree matches the filter (live root, its view matching).
  bool matches(RecordId root) const;
  // A filtered site `site` holds the tree: it matches, or `site` created one of its customers.
  bool wantedBy(RecordId root, const std::vector<RecordId>& closure, SiteId site) const;
  bool wantedBy(const Customer& root, const std::vector<RecordId>& closure, SiteId site) const;
  // Whether a record's stored bytes hold a term of the filter (matchingRoots says why that is
  // enough): a record without any cannot make its tree match.
  bool holdsATerm(std::string_view bytes) const;
  // Every root whose tree matches, by one pass over the records.
  std::set<RecordId> matchingRoots() const;

 private:
  bool rootAlive(const Customer& root) const;
  bool createdBy(const std::vector<RecordId>& closure, SiteId site) const;
  bool matchesView(const Customer& root, const std::vector<RecordId>& closure) const;
  bool mayMatch(const std::vector<RecordId>& closure) const;
  const Core& core_;
  const storage::ReadTxn& txn_;
  const RecordFilter& filter_;
  std::vector<std::string> needles_;  // each term's first 8 bytes
};

// A snapshot chunk with the store's vector, clock, deployment, settings and record count, read
// in `txn`, and nothing else yet (sync/src/snapshot.cpp).
SnapshotChunkMsg chunkOfState(const storage::Store& store, const storage::ReadTxn& txn);

// 16-byte record keys (site, counter, big-endian), as stores and snapshot requests hold them.
std::string recordKey(RecordId id);
RecordId recordFromKey(std::string_view key);

}  // namespace sitesync::sync
