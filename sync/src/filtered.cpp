// Filtered sites (field laptops, docs/filtered-sync.md): the customer trees a filter wants, the
// filtered snapshot a full site answers a laptop's request with, and what a laptop keeps after
// one.
#include "sync/src/filtered.h"

#include <algorithm>
#include <climits>
#include <map>
#include <optional>

#include "sync/engine.h"
#include "sync/errors.h"
#include "sync/src/apply_context.h"
#include "sync/src/core.h"

namespace sitesync::sync {

using storage::ReadTxn;
using storage::WriteTxn;

bool matchesFilter(const Customer& shown, const RecordFilter& filter) {
  if (shown.lifecycle != Lifecycle::kLive && shown.lifecycle != Lifecycle::kMerged) return false;
  if (filter.groups.count(shown.value(CustomerField::customerGroup))) return true;
  return std::any_of(filter.technicians.begin(), filter.technicians.end(), [&](const auto& t) {
    auto it = shown.elements.find({kTechnicianCode, t});
    return it != shown.elements.end() && it->second.value == "true";
  });
}

std::string recordKey(RecordId id) {
  std::string key(16, '\0');
  for (int i = 0; i < 8; ++i) {
    key[size_t(i)] = char((id.site >> (56 - 8 * i)) & 0xff);
    key[size_t(8 + i)] = char((id.counter >> (56 - 8 * i)) & 0xff);
  }
  return key;
}

RecordId recordFromKey(std::string_view key) {
  if (key.size() != 16) throw ApplyError("a record key is not 16 bytes");
  uint64_t v[2] = {0, 0};
  for (size_t i = 0; i < 16; ++i) v[i / 8] = (v[i / 8] << 8) | static_cast<unsigned char>(key[i]);
  return RecordId{v[0], v[1]};
}

FilterTrees::FilterTrees(const Core& core, const ReadTxn& txn, const RecordFilter& filter)
    : core_(core), txn_(txn), filter_(filter) {
  // A tree matches through a register some customer of it holds: the technician's name as a
  // key, or the group as a value. Every text of a record starts at a word boundary and the
  // packed encoding keeps a word's non-zero bytes together, so a record that holds one has the
  // term's first 8 bytes as they are.
  for (const auto& t : filter_.technicians) needles_.push_back(t.substr(0, 8));
  for (const auto& g : filter_.groups) needles_.push_back(g.substr(0, 8));
}

bool FilterTrees::holdsATerm(std::string_view bytes) const {
  return std::any_of(needles_.begin(), needles_.end(), [&](const std::string& needle) {
    return bytes.find(needle) != std::string_view::npos;
  });
}

bool FilterTrees::mayMatch(const std::vector<RecordId>& closure) const {
  return std::any_of(closure.begin(), closure.end(), [&](RecordId id) {
    auto bytes = core_.store_.recordBytes(txn_, id);
    return bytes && holdsATerm(*bytes);
  });
}

RecordId FilterTrees::rootOf(RecordId id) const {
  return core_.survivorOf(txn_, id);
}

std::vector<RecordId> FilterTrees::closureOf(RecordId root) const {
  std::vector<RecordId> out = core_.absorbedSet(txn_, root);
  out.insert(std::lower_bound(out.begin(), out.end(), root), root);
  return out;
}

// A merge cycle's survivor is stored as merged and shows as the live customer of the cycle.
bool FilterTrees::rootAlive(const Customer& root) const {
  return root.lifecycle == Lifecycle::kLive || root.lifecycle == Lifecycle::kMerged;
}

bool FilterTrees::matches(RecordId root) const {
  auto stored = core_.store_.customer(txn_, root);
  return stored && rootAlive(*stored) && matchesFilter(core_.view(txn_, *stored), filter_);
}

bool FilterTrees::wantedBy(RecordId root, const std::vector<RecordId>& closure, SiteId site) const {
  // The cheap tests first: most trees a hub looks at are neither the site's nor hold a term.
  const bool its = createdBy(closure, site);
  if (!its && !mayMatch(closure)) return false;
  auto stored = core_.store_.customer(txn_, root);
  return stored && rootAlive(*stored) && (its || matchesView(*stored, closure));
}

bool FilterTrees::wantedBy(const Customer& root, const std::vector<RecordId>& closure,
                           SiteId site) const {
  if (!rootAlive(root)) return false;
  if (createdBy(closure, site)) return true;
  return mayMatch(closure) && matchesView(root, closure);
}

bool FilterTrees::createdBy(const std::vector<RecordId>& closure, SiteId site) const {
  return std::any_of(closure.begin(), closure.end(), [&](RecordId id) { return id.site == site; });
}

bool FilterTrees::matchesView(const Customer& root, const std::vector<RecordId>& closure) const {
  // A live customer with none merged into it shows as stored (but for its debtor links).
  const bool alone = closure.size() == 1 && root.lifecycle == Lifecycle::kLive;
  return matchesFilter(alone ? root : core_.view(txn_, root), filter_);
}

std::set<RecordId> FilterTrees::matchingRoots() const {
  // Records without a term of the filter are not decoded (holdsATerm).
  std::set<RecordId> roots, looked;
  core_.store_.forEachRecordBytes(txn_, [&](std::string_view, std::string_view bytes) {
    if (!holdsATerm(bytes)) return;
    const Customer c = decodeCustomer(bytes);
    if (c.lifecycle != Lifecycle::kLive && c.lifecycle != Lifecycle::kMerged) return;
    const RecordId root = c.lifecycle == Lifecycle::kLive ? c.id : rootOf(c.id);
    if (looked.insert(root).second && matches(root)) roots.insert(root);
  });
  return roots;
}

namespace {

std::set<RecordId> heldSet(std::string_view held) {
  std::set<RecordId> out;
  for (size_t at = 0; at + 16 <= held.size(); at += 16)
    out.insert(recordFromKey(held.substr(at, 16)));
  return out;
}

// The customers the changes after `since` name, or nothing when this node's log no longer holds
// all of them (the caller then looks at every record).
std::optional<std::set<RecordId>> touchedSince(const storage::Store& store, const ReadTxn& txn,
                                               const VersionVector& since) {
  const VersionVector mine = store.vector(txn);
  uint64_t first = store.lastLogPosition(txn) + 1;
  for (const auto& [origin, held] : mine.entries()) {
    if (held <= since.get(origin)) continue;
    // Every one of them must be in the log: a snapshot this node took brings changes without
    // their log entries (and compaction removes entries).
    const uint64_t missing = held - since.get(origin);
    auto positions = store.logPositionsOf(txn, origin, since.get(origin) + 1, missing);
    if (positions.size() != missing) return std::nullopt;
    first = std::min(first, positions.front());
  }
  std::set<RecordId> touched;
  store.forEachLogBytes(txn, first, [&](uint64_t, std::string_view bytes) {
    const ChangeScope change = decodeChangeScope(bytes);
    if (since.contains(change.id)) return true;
    if (change.operation == Operation::kSettings || change.operation == Operation::kLease)
      return true;
    touched.insert(change.target);
    touched.insert(change.absorbed.begin(), change.absorbed.end());
    return true;
  });
  return touched;
}

}  // namespace

Status Replication::checkFilter(const RecordFilter& filter) const {
  auto txn = core_.store_.read();
  const Settings settings = core_.store_.settings(txn);
  for (const auto& user : filter.technicians) {
    auto it = settings.users.find(user);
    if (it == settings.users.end() || it->second.value.empty())
      return Status::invalidArgument("no technician '" + user +
                                     "' in this deployment (`sitesync users list` at the hub)");
  }
  const auto groups = settings.catalogue(kSettingsCustomerGroupCode);
  for (const auto& group : filter.groups)
    if (!groups.count(group))
      return Status::invalidArgument("no customer group '" + group +
                                     "' in the catalogue (`sitesync groups list` at the hub)");
  return Status::ok();
}

Status Replication::setFilter(const RecordFilter& filter) {
  const std::string canonical = filter.canonical();
  return core_.store_.write([&](WriteTxn& txn) -> Status {
    auto m = core_.store_.meta(txn);
    if (!m) return Status::failedPrecondition("the store is not initialised");
    if (m->filter == canonical) return Status::ok();
    const bool fresh = m->filter.empty() && m->lastSeq == 0 &&
                       core_.store_.vector(txn).entries().empty() &&
                       core_.store_.lastLogPosition(txn) == 0 &&
                       m->activeCustomers + m->deactivatedCustomers + m->tombstones == 0;
    if (!fresh)
      return Status::failedPrecondition(
          m->filter.empty() ? "this site holds the whole register: a filter is set at join only"
                            : "this site joined with filter '" + m->filter +
                                  "': another filter means joining as a new site");
    m->filter = canonical;
    core_.store_.putMeta(txn, *m);
    return Status::ok();
  });
}

namespace {

// The customers a filtered request is about, each with the root of its tree: those the changes
// since the requester's vector touched (what can have entered, left or changed); or, for a join
// or a log that no longer holds every change since, every matching root, what the requester
// holds, and what it created (its ids are one range of keys). Keyed by the customer, not the
// root: a merge between two chunks moves a tree to another root, never a customer to another
// key, so a chunk that goes on after a key still finds every tree the first would have sent.
std::map<RecordId, RecordId> treesToLookAt(const Core& core, const ReadTxn& txn,
                                           const FilterTrees& trees, const VersionVector& since,
                                           const std::set<RecordId>& held, SiteId requester) {
  std::map<RecordId, RecordId> keys;
  auto touched = since.entries().empty() ? std::nullopt : touchedSince(core.store_, txn, since);
  if (touched) {
    // A tree enters the filter only by a change that puts a term in one of its customers (an
    // assignment, a group, a merge with one that holds it) or by the requester's own; any other
    // tree that matters is one the requester holds.
    for (RecordId id : *touched) {
      const auto bytes = core.store_.recordBytes(txn, id);
      if (bytes && (held.count(id) || id.site == requester || trees.holdsATerm(*bytes)))
        keys.emplace(id, trees.rootOf(id));
    }
    return keys;
  }
  for (RecordId root : trees.matchingRoots()) keys.emplace(root, root);
  for (RecordId id : held) keys.emplace(id, trees.rootOf(id));
  core.store_.forEachRecordBytesAfter(txn, recordKey(RecordId{requester, 0}),
                                      [&](std::string_view key, std::string_view) {
                                        const RecordId id = recordFromKey(key);
                                        if (id.site != requester) return false;
                                        keys.emplace(id, trees.rootOf(id));
                                        return true;
                                      });
  return keys;
}

// Adds a tree's records to `records` and their history to `chunk` (for a record the requester
// holds, only the entries its vector lacks); returns the bytes added.
size_t addTree(const Core& core, const ReadTxn& txn, const std::vector<RecordId>& closure,
               const std::set<RecordId>& held, const VersionVector& since,
               std::vector<std::pair<RecordId, std::string>>& records, SnapshotChunkMsg& chunk) {
  size_t bytes = 0;
  for (RecordId id : closure) {
    auto record = core.store_.customer(txn, id);
    if (!record) continue;
    encode(*record, records.emplace_back(id, std::string()).second);
    bytes += records.back().second.size() + 16;
    const bool known = held.count(id) > 0;
    for (auto& entry : core.store_.historyBytes(txn, id)) {
      HistoryEntry e = decodeHistoryEntry(entry);
      if (known && since.contains(ChangeId{e.site, e.seq})) continue;
      if (e.valuesInLog) encode(core.withWrites(txn, std::move(e)), entry);
      bytes += entry.size() + 16;
      chunk.history.push_back(SnapshotHistoryItem{id, std::move(entry)});
    }
  }
  return bytes;
}

}  // namespace

SnapshotChunkMsg Replication::filteredChunk(const SnapshotRequestMsg& request, SiteId requester,
                                            size_t maxBytes) const {
  const RecordFilter filter = decodeRecordFilter(request.filter);
  const std::set<RecordId> held = heldSet(request.held);
  auto txn = core_.store_.read();
  SnapshotChunkMsg chunk = chunkOfState(core_.store_, txn);
  chunk.totalRecords = 0;  // counted below: the trees sent
  for (const NumberLease& l : core_.store_.leases(txn))
    if (l.site == requester) chunk.leases.push_back(l);
  const FilterTrees trees(core_, txn, filter);
  const std::map<RecordId, RecordId> keys =
      treesToLookAt(core_, txn, trees, request.since, held, requester);
  // A join and a catch-up alike go in chunks of about maxBytes, by key, resumable after any
  // of them. Each chunk looks again at what changed since `since`, as of its own vector; the
  // requester claims the least of its chunks' vectors (Meta::snapshotVector), which every chunk
  // covers for its range of keys.
  const RecordId after = request.afterKey.empty() ? RecordId{} : recordFromKey(request.afterKey);
  chunk.complete = true;
  chunk.nextKey = request.afterKey;
  size_t bytes = 0;
  std::vector<std::pair<RecordId, std::string>> records;  // sent in id order
  std::set<RecordId> looked;                              // roots, once a chunk
  for (auto it = keys.upper_bound(after); it != keys.end(); ++it) {
    const RecordId root = it->second;
    if (!looked.insert(root).second) {
      chunk.nextKey = recordKey(it->first);
      continue;
    }
    const std::vector<RecordId> closure = trees.closureOf(root);
    const bool holds = std::any_of(closure.begin(), closure.end(),
                                   [&](RecordId id) { return held.count(id) > 0; });
    if (holds || trees.wantedBy(root, closure, requester)) {
      if (!records.empty() && bytes >= maxBytes) {
        chunk.complete = false;
        break;
      }
      ++chunk.totalRecords;
      bytes += addTree(core_, txn, closure, held, request.since, records, chunk);
    }
    chunk.nextKey = recordKey(it->first);
  }
  if (!chunk.complete) chunk.totalRecords = keys.size();
  std::sort(records.begin(), records.end());
  chunk.records.reserve(records.size());
  for (auto& [id, encoded] : records) chunk.records.push_back(std::move(encoded));
  return chunk;
}

namespace {

// Whether a tree of customers was ever the laptop's: a write in its history assigned one of
// the filter's technicians or set one of its groups, here or in a customer it was merged with
// (trees change with merges, concurrent ones form cycles), or one of those customers is the
// laptop's own (a tree it held as its own until a restore took its customer out again). A
// laptop may edit what it held until it saw it leave; that edit reaches the hub after the
// unassignment. Where the history cannot say (a merge no longer in the log), it is given the
// benefit of the doubt.
bool everWanted(const Core& core, const ReadTxn& txn, std::vector<RecordId> toVisit,
                const RecordFilter& filter, SiteId peer) {
  constexpr size_t kMaxVisited = 256;
  std::set<RecordId> seen(toVisit.begin(), toVisit.end());
  while (!toVisit.empty()) {
    const RecordId id = toVisit.back();
    toVisit.pop_back();
    if (id.site == peer) return true;
    for (HistoryEntry e : core.store_.history(txn, id)) {
      if (e.operation == Operation::kMerge) {  // the customers of that merge count too
        const auto at = core.store_.logPosition(txn, ChangeId{e.site, e.seq});
        const auto bytes = at ? core.store_.logBytesAt(txn, *at) : std::nullopt;
        if (!bytes || seen.size() > kMaxVisited) return true;
        const Change merge = decodeChange(*bytes);
        std::vector<RecordId> parties = merge.absorbed;
        parties.push_back(merge.target);
        for (RecordId p : parties)
          if (seen.insert(p).second) toVisit.push_back(p);
      }
      if (e.valuesInLog) e = core.withWrites(txn, std::move(e));
      for (const FieldChange& fc : e.changes) {
        if (fc.field == kTechnicianCode && fc.newValue == "true" &&
            filter.technicians.count(fc.key))
          return true;
        if (fc.field == uint16_t(CustomerField::customerGroup) && filter.groups.count(fc.newValue))
          return true;
      }
    }
  }
  return false;
}

}  // namespace

std::string Replication::outsideRights(const std::vector<std::string>& encodedChanges, SiteId peer,
                                       const RecordFilter& filter) const {
  auto txn = core_.store_.read();
  const FilterTrees trees(core_, txn, filter);
  std::map<RecordId, bool> allowed;  // by customer named
  auto within = [&](RecordId id) {
    if (id.site == peer) return true;  // its own
    // Unknown (the apply path refuses it), deleted or erased (a laptop may still edit what it
    // held until it saw it go; an erased one's history is gone): nothing to judge.
    const auto record = core_.store_.customer(txn, id);
    if (!record || record->lifecycle == Lifecycle::kErased ||
        record->lifecycle == Lifecycle::kDeleted)
      return true;
    const RecordId root = trees.rootOf(id);
    auto [it, fresh] = allowed.try_emplace(id, true);
    if (fresh) {
      auto closure = trees.closureOf(root);
      if (!std::binary_search(closure.begin(), closure.end(), id))
        closure.insert(std::lower_bound(closure.begin(), closure.end(), id), id);
      it->second =
          std::any_of(closure.begin(), closure.end(), [&](RecordId c) { return c.site == peer; }) ||
          trees.matches(root) || everWanted(core_, txn, closure, filter, peer);
    }
    return it->second;
  };
  for (const std::string& encoded : encodedChanges) {
    Change c;
    try {
      c = decodeChange(encoded);
    } catch (const DecodeError&) {
      return {};  // the apply path refuses it as malformed
    }
    const std::string which = siteIdToHex(c.id.origin) + ":" + std::to_string(c.id.seq);
    if (c.id.origin != peer) return "change " + which + " is not the field laptop's own";
    if (c.operation == Operation::kSettings || c.operation == Operation::kLease) continue;
    if (c.operation == Operation::kCreate && c.target.site != peer)
      return "change " + which + " creates a customer under another site's id";
    // A merge's parties are the laptop's choice; any other change names the customers merged
    // into its target as the laptop saw them, which the hub may have moved since: the target
    // decides.
    std::vector<RecordId> named{c.target};
    if (c.operation == Operation::kMerge)
      named.insert(named.end(), c.absorbed.begin(), c.absorbed.end());
    for (RecordId id : named)
      if (!within(id))
        return "change " + which + " changes customer " + id.toString() +
               ", which is outside the filter " + filter.canonical() + " of its laptop";
  }
  return {};
}

bool Replication::setAsideOutsideRights(const std::vector<std::string>& encodedChanges,
                                        const std::string& reason) {
  return core_.setAsideOnce(encodedChanges, reason);
}

std::string Replication::heldIds() const {
  std::string out;
  auto txn = core_.store_.read();
  core_.store_.forEachRecordBytes(txn,
                                  [&](std::string_view key, std::string_view) { out.append(key); });
  return out;
}

// After a filtered snapshot is in: the customers this site no longer wants leave it, except
// those its own changes not yet held by the peer touch (they stay until a full site has them).
size_t Core::keepOnlyWanted(WriteTxn& txn, ApplyContext& batch, uint64_t ownHeldByPeer) {
  const RecordFilter filter = decodeRecordFilter(batch.meta.filter);
  const SiteId self = batch.meta.siteId;
  const FilterTrees trees(*this, txn, filter);
  std::set<RecordId> pending;
  const auto from = store_.logPosition(txn, ChangeId{self, ownHeldByPeer + 1});
  if (from)
    store_.forEachLog(txn, *from, [&](uint64_t, const Change& change) {
      if (change.id.origin != self || change.id.seq <= ownHeldByPeer) return true;
      if (change.operation == Operation::kSettings || change.operation == Operation::kLease)
        return true;
      pending.insert(trees.rootOf(change.target));
      for (RecordId a : change.absorbed) pending.insert(trees.rootOf(a));
      return true;
    });
  std::vector<Customer> records;
  store_.forEachCustomer(txn, [&](const Customer& c) {
    records.push_back(c);
    return true;
  });
  std::map<RecordId, bool> keep;  // by root
  size_t left = 0;
  for (const Customer& c : records) {
    // Most held customers are roots (not merged): decoded once.
    const RecordId root = c.lifecycle == Lifecycle::kMerged ? trees.rootOf(c.id) : c.id;
    auto [it, fresh] = keep.try_emplace(root, true);
    if (fresh) {
      const auto closure = trees.closureOf(root);
      it->second = pending.count(root) || (root == c.id ? trees.wantedBy(c, closure, self)
                                                        : trees.wantedBy(root, closure, self));
    }
    if (it->second) continue;
    countState(batch.meta, &c, -1);
    store_.removeCustomer(txn, c);
    ++left;
  }
  return left;
}

}  // namespace sitesync::sync
