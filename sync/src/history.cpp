// A customer's history as a function of the set of changes (DESIGN.md section 3): every entry
// lists the writes of its change with the values they wrote; here, on read, the entries are put
// in version order and each write gets the value its field held just before it in that order,
// and each resolution the conflicts it settled. Every site with the same changes shows the same
// history, whatever order the changes came in.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "sync/engine.h"
#include "sync/src/core.h"
#include "sync/src/history.h"

namespace sitesync::sync {

namespace {

using WriteKey = std::tuple<uint16_t, std::string, uint64_t, SiteId>;  // field, key, version

WriteKey writeKey(uint16_t field, const std::string& key, Version v) {
  return {field, key, v.hlc.packed, v.origin};
}

// A write that settles a conflict names two or more heads it replaces.
bool settles(const FieldChange& fc) {
  return fc.replaces.size() >= 2;
}

}  // namespace

void orderHistory(std::vector<HistoryEntry>& entries) {
  std::stable_sort(entries.begin(), entries.end(),
                   [](const HistoryEntry& a, const HistoryEntry& b) {
                     return std::tie(a.at, a.site, a.seq) < std::tie(b.at, b.site, b.seq);
                   });
}

void fillOldValues(std::vector<HistoryEntry>& entries) {
  std::map<std::pair<uint16_t, std::string>, std::string> held;
  for (HistoryEntry& e : entries)
    for (FieldChange& fc : e.changes) {
      std::string& value = held[{fc.field, fc.key}];
      if (e.everyWrite) fc.oldValue = value;
      value = fc.newValue;
    }
}

bool mayResolve(const HistoryEntry& entry) {
  return (entry.operation == Operation::kUpdate && !entry.note.empty()) ||
         std::any_of(entry.changes.begin(), entry.changes.end(), settles) ||
         !entry.closed.empty();  // an older store's entry, as recorded
}

void ReplacedWrites::need(const HistoryEntry& entry) {
  if (!entry.everyWrite) return;
  for (const FieldChange& fc : entry.changes)
    if (settles(fc))
      for (const Version& v : fc.replaces) needed_[writeKey(fc.field, fc.key, v)];
}

void ReplacedWrites::offer(RecordId record, const HistoryEntry& entry) {
  if (!entry.everyWrite) return;
  const Version version{entry.at, entry.site, entry.seq};
  for (const FieldChange& fc : entry.changes)
    if (auto it = needed_.find(writeKey(fc.field, fc.key, version)); it != needed_.end())
      it->second.push_back(Written{record, Head{fc.newValue, version, entry.seq}});
}

void ReplacedWrites::fillClosed(RecordId record, HistoryEntry& entry) const {
  if (!entry.everyWrite) return;  // an older store's entry keeps what it recorded
  entry.closed.clear();
  for (const FieldChange& fc : entry.changes) {
    if (!settles(fc)) continue;
    // The heads it replaced, as far as this node knows them. A merge's writes replace the
    // absorbed customers' values too: only its survivor's own concurrent heads were a conflict.
    std::vector<Head> heads;
    for (const Version& v : fc.replaces) {
      auto it = needed_.find(writeKey(fc.field, fc.key, v));
      if (it == needed_.end()) continue;
      for (const Written& w : it->second)
        if (entry.operation != Operation::kMerge || w.record == record) {
          heads.push_back(w.head);
          break;
        }
    }
    if (heads.size() < 2) continue;
    std::sort(heads.begin(), heads.end(),
              [](const Head& a, const Head& b) { return a.version > b.version; });
    for (size_t i = 1; i < heads.size(); ++i)
      if (heads[i].value != heads.front().value)  // one value twice was no conflict
        entry.closed.push_back(ClosedConflict{fc.field, fc.key, heads.front(), heads[i]});
  }
}

std::vector<HistoryEntry> Reads::history(RecordId id) const {
  std::vector<HistoryItem> items = historyWithMerged(id, false);
  std::vector<HistoryEntry> out;
  out.reserve(items.size());
  for (auto& item : items) out.push_back(std::move(item.entry));
  return out;
}

std::vector<Reads::HistoryItem> Reads::historyWithMerged(RecordId id, bool withMerged) const {
  auto txn = core_.store_.read();
  // The conflicts a write on the customer settles may be between its values and those of the
  // customers merged into it: their entries hold the values replaced.
  std::vector<RecordId> records{id};
  for (RecordId merged : core_.absorbedSet(txn, id)) records.push_back(merged);
  std::vector<std::vector<HistoryEntry>> perRecord;
  ReplacedWrites replaced;
  for (RecordId r : records) {
    perRecord.push_back(core_.store_.history(txn, r));
    for (HistoryEntry& e : perRecord.back()) {
      e = core_.withWrites(txn, std::move(e));
      replaced.need(e);
    }
  }
  for (size_t i = 0; i < records.size(); ++i)
    for (const HistoryEntry& e : perRecord[i]) replaced.offer(records[i], e);

  std::vector<HistoryItem> out;
  std::set<std::pair<SiteId, uint64_t>> shown;
  for (size_t i = 0; i < records.size() && (i == 0 || withMerged); ++i) {
    auto& entries = perRecord[i];
    orderHistory(entries);
    fillOldValues(entries);
    for (HistoryEntry& e : entries) {
      replaced.fillClosed(records[i], e);
      // A merge is in the survivor's history and in each absorbed one's: shown once (the
      // customer's own entry first, then in the order of the merged customers' ids).
      if (!shown.insert({e.site, e.seq}).second) continue;
      out.push_back(HistoryItem{records[i], core_.revealed(std::move(e))});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const HistoryItem& a, const HistoryItem& b) {
    return std::tie(a.entry.at, a.entry.site, a.entry.seq, a.record) <
           std::tie(b.entry.at, b.entry.site, b.entry.seq, b.record);
  });
  return out;
}

HistoryEntry Core::withWrites(const storage::ReadTxn& txn, HistoryEntry entry) const {
  if (!entry.valuesInLog) return entry;
  const auto position = store_.logPosition(txn, ChangeId{entry.site, entry.seq});
  const auto bytes = position ? store_.logBytesAt(txn, *position) : std::nullopt;
  // Compaction writes the writes into the entry before it removes the log entry: not expected.
  if (!bytes) return entry;
  return withWritesOf(std::move(entry), decodeChange(*bytes));
}

HistoryEntry Core::revealed(HistoryEntry e) const {
  if (!cipher_) return e;
  for (FieldChange& fc : e.changes) {
    fc.oldValue = revealed(fc.field, fc.key, fc.oldValue);
    fc.newValue = revealed(fc.field, fc.key, fc.newValue);
  }
  for (ClosedConflict& cc : e.closed) {
    cc.winner.value = revealed(cc.field, cc.key, cc.winner.value);
    cc.loser.value = revealed(cc.field, cc.key, cc.loser.value);
  }
  return e;
}

}  // namespace sitesync::sync
