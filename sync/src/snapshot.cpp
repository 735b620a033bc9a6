// Snapshots, deployment identity and log compaction: the parts of replication that move state
// rather than changes.
#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "storage/local_tables.h"
#include "sync/engine.h"
#include "sync/errors.h"
#include "sync/src/apply_context.h"
#include "sync/src/filtered.h"
#include "sync/src/registers.h"

namespace sitesync::sync {

using storage::ReadTxn;
using storage::WriteTxn;

namespace {

// The join of two states of one record, each with the vector of changes its side had seen: a
// register keeps the heads both hold and the heads one side holds that the other has not seen
// (a head the other side saw and no longer holds was replaced there); the lifecycle keeps the
// larger version, erasure is final. Applying a change to either side and then joining gives what
// joining and then applying gives, so a snapshot read at any moment merges into any store
// without losing what that store holds.
Customer joinRecords(const Customer& mine, const VersionVector& mineSeen, const Customer& theirs,
                     const VersionVector& theirsSeen) {
  Customer out = mine;
  if (out.created.isNull()) out.created = theirs.created;
  if (mine.lifecycle == Lifecycle::kErased || theirs.lifecycle == Lifecycle::kErased) {
    // Erasure is final: only the id and the fact remain.
    Customer erased;
    erased.id = mine.id;
    erased.created = out.created;
    erased.lifecycle = Lifecycle::kErased;
    const bool both = mine.lifecycle == theirs.lifecycle;
    erased.lifecycleVersion = both ? std::max(mine.lifecycleVersion, theirs.lifecycleVersion)
                              : mine.lifecycle == Lifecycle::kErased ? mine.lifecycleVersion
                                                                     : theirs.lifecycleVersion;
    return erased;
  }
  for (size_t i = 0; i < kCustomerFieldCount; ++i)
    out.fields[i] = joinRegisters(mine.fields[i], mineSeen, theirs.fields[i], theirsSeen);
  for (const auto& [name, value] : theirs.customFields) {
    static const FieldValue kNever;
    auto it = mine.customFields.find(name);
    out.customFields[name] = joinRegisters(it == mine.customFields.end() ? kNever : it->second,
                                           mineSeen, value, theirsSeen);
  }
  for (const auto& [where, value] : theirs.elements) {
    static const FieldValue kNever;
    auto it = mine.elements.find(where);
    out.elements[where] =
        joinRegisters(it == mine.elements.end() ? kNever : it->second, mineSeen, value, theirsSeen);
  }
  if (theirs.lifecycleVersion > out.lifecycleVersion) {
    out.lifecycle = theirs.lifecycle;
    out.mergedInto = theirs.mergedInto;
    out.lifecycleVersion = theirs.lifecycleVersion;
  }
  return out;
}

// A site that joins a deployment holds only the settings and users its hub wrote: what it set
// alone has no effect at the other sites, so it must have none here (the replicas must converge).
// Its own values are not dropped silently: they are remembered as offered (they reach the hub with
// this site's log, and the hub keeps or refuses each), so that `status` tells what became of them.
bool offerOwnSettings(Meta& meta, Settings& settings, SiteId hub) {
  Settings offered;
  if (!meta.offeredSettings.empty()) offered = decodeSettings(meta.offeredSettings);
  bool changed = false;
  for (size_t i = 0; i < kSettingsFieldCount; ++i) {
    FieldValue& field = settings.fields[i];
    if (field.version.isNull() || field.version.origin == hub) continue;
    if (field.version.origin == meta.siteId) offered.fields[i] = field;
    field = FieldValue{};
    changed = true;
  }
  for (uint16_t code : kKeyedSettingsCodes) {
    auto& registers = *settings.keyed(code);
    for (auto it = registers.begin(); it != registers.end();) {
      if (it->second.version.origin == hub) {
        ++it;
        continue;
      }
      if (it->second.version.origin == meta.siteId) (*offered.keyed(code))[it->first] = it->second;
      it = registers.erase(it);
      changed = true;
    }
  }
  if (changed) encode(offered, meta.offeredSettings);
  return changed;
}

}  // namespace

Status Replication::acceptDeployment(uint64_t peerDeployment, const std::string& peerName) {
  if (peerDeployment == 0) return Status::ok();
  const uint64_t mine = core_.engine_.meta().deployment;
  if (mine == peerDeployment) return Status::ok();
  if (mine != 0)
    return Status::failedPrecondition("peer '" + peerName + "' belongs to deployment " +
                                      siteIdToHex(peerDeployment) + ", this node to deployment " +
                                      siteIdToHex(mine) + ": they never exchange changes");
  core_.store_.write([&](WriteTxn& txn) {
    auto m = core_.store_.meta(txn);
    if (m && m->deployment == 0) {
      m->deployment = peerDeployment;
      Settings settings = core_.store_.settings(txn);
      if (offerOwnSettings(*m, settings, peerDeployment)) core_.store_.putSettings(txn, settings);
      core_.store_.putMeta(txn, *m);
    }
  });
  return Status::ok();
}

uint64_t Replication::logEnd() const {
  auto txn = core_.store_.read();
  return core_.store_.lastLogPosition(txn);
}

bool Replication::logReaches(const VersionVector& peer) const {
  auto txn = core_.store_.read();
  const VersionVector mine = core_.store_.vector(txn);
  for (const auto& [origin, held] : mine.entries()) {
    const uint64_t peerHeld = peer.get(origin);
    if (held > peerHeld && !core_.store_.logPosition(txn, ChangeId{origin, peerHeld + 1}))
      return false;
  }
  return true;
}

SnapshotChunkMsg chunkOfState(const storage::Store& store, const ReadTxn& txn) {
  SnapshotChunkMsg chunk;
  auto m = store.meta(txn);
  if (!m) throw ApplyError("the store is not initialised: run `sitesync init` first");
  chunk.vector = store.vector(txn);
  chunk.lastHlc = m->lastHlc;
  chunk.deployment = m->deployment;
  chunk.totalRecords = m->activeCustomers + m->deactivatedCustomers + m->tombstones;
  chunk.settings = store.settingsBytes(txn).value_or(std::string());
  return chunk;
}

SnapshotChunkMsg Replication::snapshotChunk(std::string_view afterKey, size_t maxBytes) const {
  auto txn = core_.store_.read();
  SnapshotChunkMsg chunk = chunkOfState(core_.store_, txn);
  chunk.nextKey = std::string(afterKey);
  chunk.complete = true;
  if (afterKey.empty()) chunk.leases = core_.store_.leases(txn);
  size_t bytes = 0;
  core_.store_.forEachRecordBytesAfter(
      txn, afterKey, [&](std::string_view key, std::string_view value) {
        if (!chunk.records.empty() && bytes >= maxBytes) {
          chunk.complete = false;
          return false;
        }
        chunk.records.emplace_back(value);
        bytes += value.size() + key.size();
        const RecordId id = recordFromKey(key);
        for (auto& entry : core_.store_.historyBytes(txn, id)) {
          // The new node has no log: an entry that reads its writes from there takes them along.
          if (HistoryEntry e = decodeHistoryEntry(entry); e.valuesInLog)
            encode(core_.withWrites(txn, std::move(e)), entry);
          bytes += entry.size() + 16;
          chunk.history.push_back(SnapshotHistoryItem{id, std::move(entry)});
        }
        chunk.nextKey = std::string(key);
        return true;
      });
  return chunk;
}

namespace {

// A snapshot chunk decoded and checked whole, before anything of it is written.
struct DecodedChunk {
  std::vector<Customer> records;
  std::vector<HistoryEntry> history;
  std::optional<Settings> settings;
};

DecodedChunk decodeChunk(const SnapshotChunkMsg& chunk) {
  DecodedChunk out;
  out.records.reserve(chunk.records.size());
  for (const auto& bytes : chunk.records) out.records.push_back(decodeCustomer(bytes));
  out.history.reserve(chunk.history.size());
  for (const auto& item : chunk.history) out.history.push_back(decodeHistoryEntry(item.entry));
  if (!chunk.settings.empty()) out.settings = decodeSettings(chunk.settings);
  for (size_t i = 1; i < out.records.size(); ++i)
    if (!(out.records[i - 1].id < out.records[i].id))
      throw ApplyError("snapshot records are not in id order");
  for (const NumberLease& l : chunk.leases)
    if (l.site == 0 || l.first == 0 || l.first > l.last || l.version.isNull())
      throw ApplyError("the snapshot holds a malformed number lease");
  return out;
}

VersionVector leastOf(const VersionVector& a, const VersionVector& b) {
  VersionVector least;
  for (const auto& [origin, seq] : a.entries())
    if (const uint64_t both = std::min(seq, b.get(origin)); both > 0) least.set(origin, both);
  return least;
}

// The chunk's deployment, clock and settings, joined into this node's.
void adoptChunkState(ApplyContext& batch, const SnapshotChunkMsg& chunk,
                     const std::optional<Settings>& settings) {
  Meta& meta = batch.meta;
  if (chunk.deployment != 0) {
    if (meta.deployment != 0 && meta.deployment != chunk.deployment)
      throw ApplyError("the snapshot belongs to deployment " + siteIdToHex(chunk.deployment) +
                       ", this node to " + siteIdToHex(meta.deployment));
    if (meta.deployment == 0)
      batch.settingsDirty |= offerOwnSettings(meta, batch.settings, chunk.deployment);
    meta.deployment = chunk.deployment;
  }
  // What the snapshot holds is what every chunk of it holds: the first chunk's vector, or less
  // where a later one was read at a vector that lacks some of it (another session's peer).
  if (!meta.snapshotPending) {
    meta.snapshotPending = true;
    meta.snapshotVector = chunk.vector;
  } else {
    meta.snapshotVector = leastOf(meta.snapshotVector, chunk.vector);
  }
  // A later chunk may be read at a later vector: its records hold changes the snapshot's vector
  // does not claim, which the catch-up then sends again (Core::reflectedInRecord).
  for (const auto& [origin, seq] : chunk.vector.entries())
    if (seq > meta.snapshotReadUpTo.get(origin)) meta.snapshotReadUpTo.set(origin, seq);
  meta.lastHlc = std::max(meta.lastHlc, chunk.lastHlc);
  if (!settings) return;
  for (size_t i = 0; i < kSettingsFieldCount; ++i)
    if (settings->fields[i].version > batch.settings.fields[i].version) {
      batch.settings.fields[i] = settings->fields[i];
      batch.settingsDirty = true;
    }
  for (uint16_t code : kKeyedSettingsCodes)
    for (const auto& [name, theirs] : *settings->keyed(code))
      if (theirs.version > batch.settings.held(code, name).version) {
        batch.settings.slot(code, name) = theirs;
        batch.settingsDirty = true;
      }
}

// The hub checks a record a snapshot brought as it checks one a batch brought: a second live
// claim on its number is renumbered, and a site whose customer waits for a number gets blocks.
void noteNumbersAtHub(ApplyContext& batch, const Customer* before, const Customer& after) {
  if (!after.isLive()) return;
  const std::string& number = after.value(CustomerField::number);
  const bool wasLive = before && before->isLive();
  if (!number.empty()) {
    if (!wasLive || before->value(CustomerField::number) != number)
      batch.numberClaims.emplace_back(after.id, number);
  } else if (after.id.site != batch.meta.siteId &&
             !(wasLive && before->value(CustomerField::number).empty())) {
    ++batch.leaseDemand[after.id.site].pending;
  }
}

// Each record joined field by field with what this node holds (nothing it holds is lost), and
// the history entries it does not record yet.
void mergeChunkRecords(storage::Store& store, WriteTxn& txn, ApplyContext& batch,
                       const SnapshotChunkMsg& chunk, const DecodedChunk& decoded) {
  // For records this node held before: the changes its history already records.
  std::map<RecordId, std::set<std::pair<SiteId, uint64_t>>> recorded;
  // An erased record's history holds its erasures only (an erase purges the rest, and no later
  // change is recorded): so does the join's, whichever side erased it.
  std::set<RecordId> erased;
  for (const Customer& theirs : decoded.records) {
    std::optional<Customer> before = store.customer(txn, theirs.id);
    if (before) {
      auto& changes = recorded[theirs.id];
      for (const auto& e : store.history(txn, theirs.id)) changes.insert({e.site, e.seq});
    }
    Customer after = before ? joinRecords(*before, batch.vector, theirs, chunk.vector) : theirs;
    if (after.lifecycle == Lifecycle::kErased) erased.insert(theirs.id);
    if (before && after == *before) continue;
    if (before && before->lifecycle != Lifecycle::kErased &&
        after.lifecycle == Lifecycle::kErased) {
      store.purgePersonalData(txn, theirs.id);  // as the erase does where it applies
      recorded[theirs.id].clear();
    }
    countState(batch.meta, before ? &*before : nullptr, -1);
    countState(batch.meta, &after, +1);
    store.putCustomer(txn, before ? &*before : nullptr, after);
    if (batch.meta.isHub) noteNumbersAtHub(batch, before ? &*before : nullptr, after);
  }
  for (size_t i = 0; i < decoded.history.size(); ++i) {
    const RecordId id = chunk.history[i].record;
    const HistoryEntry& entry = decoded.history[i];
    auto it = recorded.find(id);
    if (it != recorded.end() && it->second.count({entry.site, entry.seq})) continue;
    if (erased.count(id) && entry.operation != Operation::kErase) continue;
    store.putSnapshotHistory(txn, id, entry, chunk.history[i].entry);
  }
}

// The last chunk is in: the snapshot's vector joins this node's.
void completeSnapshot(ApplyContext& batch) {
  Meta& meta = batch.meta;
  for (const auto& [origin, seq] : meta.snapshotVector.entries())
    if (seq > batch.vector.get(origin)) {
      batch.vector.set(origin, seq);
      batch.vectorDirty.push_back(origin);
    }
  meta.lastSeq = std::max(meta.lastSeq, batch.vector.get(meta.siteId));
  meta.snapshotPending = false;
  meta.snapshotVector.clear();
  meta.snapshotNextKey.clear();
}

// A filtered site takes a customer it does not hold only from a peer that has seen all it has
// (its own changes aside, which the peer may not hold yet): a state read by a site that lacks
// something this one saw (an unassignment, say) could bring back what is gone here.
void checkFilteredSource(const ApplyContext& batch, const SnapshotChunkMsg& chunk) {
  for (const auto& [origin, seq] : batch.vector.entries())
    if (origin != batch.meta.siteId && seq > chunk.vector.get(origin))
      throw ApplyError("the peer lacks changes of site " + siteIdToHex(origin) +
                       " that this filtered site holds: sync with the hub first");
}

}  // namespace

namespace {

bool continues(const Meta& meta, std::string_view askedAfter) {
  return askedAfter.empty() || (meta.snapshotPending && askedAfter <= meta.snapshotNextKey);
}

}  // namespace

bool Replication::continuesSnapshot(std::string_view askedAfter) const {
  auto txn = core_.store_.read();
  const auto meta = core_.store_.meta(txn);
  return meta && continues(*meta, askedAfter);
}

bool Replication::mergeSnapshotChunk(const SnapshotChunkMsg& chunk, std::string_view askedAfter) {
  const DecodedChunk decoded = decodeChunk(chunk);  // a malformed chunk writes nothing
  bool leaseArrived = false, merged = false;
  FollowUp work;
  core_.store_.write([&](WriteTxn& txn) {
    ApplyContext batch(core_.store_, txn);
    if (!continues(batch.meta, askedAfter)) return;
    merged = true;
    const bool filtered = !batch.meta.filter.empty();
    if (filtered) checkFilteredSource(batch, chunk);
    for (const NumberLease& l : chunk.leases) {
      core_.store_.putLease(txn, l);
      leaseArrived |= l.site == batch.meta.siteId;
    }
    adoptChunkState(batch, chunk, decoded.settings);
    mergeChunkRecords(core_.store_, txn, batch, chunk, decoded);
    // The chunks so far cover every key up to the furthest one reached (a chunk may begin again
    // from the start, or from a key behind it).
    batch.meta.snapshotNextKey = std::max(batch.meta.snapshotNextKey, chunk.nextKey);
    if (chunk.complete) completeSnapshot(batch);
    if (filtered && chunk.complete)
      core_.keepOnlyWanted(txn, batch, chunk.vector.get(batch.meta.siteId));
    core_.finish(txn, batch);
    work = batch.followUp(core_.store_, txn);
  });
  if (work.any()) core_.followUp(work);  // the hub's renumbering and leases
  if (leaseArrived) core_.engine_.fillPendingNumbers();
  return merged;
}

size_t Replication::dropUnwanted(uint64_t ownHeldByPeer) {
  return core_.store_.write([&](WriteTxn& txn) -> size_t {
    ApplyContext batch(core_.store_, txn);
    if (batch.meta.filter.empty()) return 0;
    const size_t dropped = core_.keepOnlyWanted(txn, batch, ownHeldByPeer);
    core_.finish(txn, batch);
    return dropped;
  });
}

uint64_t Replication::compactLog() {
  return core_.store_.write([&](WriteTxn& txn) -> uint64_t {
    auto peers = core_.store_.local().peers(txn);
    if (peers.empty()) return 0;
    // The longest prefix of the log that every registered peer holds.
    uint64_t until = 0;
    core_.store_.forEachLogBytes(txn, 1, [&](uint64_t position, std::string_view encoded) {
      const ChangeId id = decodeChangeId(encoded);
      for (const auto& peer : peers)
        if (!peer.vector.contains(id)) return false;
      until = position + 1;
      return true;
    });
    // The last entry stays: log positions (which key the history too) must never start over.
    until = std::min(until, core_.store_.lastLogPosition(txn));
    return until > 1 ? core_.store_.compactLogBefore(txn, until) : 0;
  });
}

}  // namespace sitesync::sync
