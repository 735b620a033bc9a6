// What one change did to the conflict list (Conflicts::movedBy), for the API's change feed: the
// field, delete, number and SSN conflicts it opened and those it resolved.
#include <algorithm>
#include <set>
#include <tuple>

#include "sync/engine.h"
#include "sync/src/apply_context.h"
#include "sync/src/conflict_list.h"
#include "sync/src/history.h"

namespace sitesync::sync {

using storage::ReadTxn;

namespace {

bool writtenBy(const Head& head, const Change& change) {
  return head.version.origin == change.id.origin && head.seq == change.id.seq;
}

// Whether `change` may have closed a conflict: a write that replaced two heads, or a restore.
bool mayClose(const Change& change) {
  if (change.operation == Operation::kRestore || !change.note.empty()) return true;
  for (const FieldWrite& w : change.writes)
    if (w.replaces.size() >= 2) return true;
  return false;
}

// The conflicts `change` resolved, found as addResolvedConflicts() finds them, over the history
// of the customer `id` (and of the change's target, if it was merged into `id` since) instead of
// the whole store's.
void addResolvedBy(const Core& core, const ReadTxn& txn, RecordId id, const Change& change,
                   std::vector<ConflictInfo>& out) {
  ReplacedWrites replaced;
  std::vector<std::pair<RecordId, HistoryEntry>> entries;
  for (RecordId record : std::set<RecordId>{id, change.target})
    for (const HistoryEntry& e : core.store_.history(txn, record)) {
      entries.emplace_back(record, core.withWrites(txn, e));
      replaced.need(entries.back().second);
    }
  for (const auto& [record, e] : entries) replaced.offer(record, e);
  for (auto& [record, e] : entries)
    if (e.site == change.id.origin && e.seq == change.id.seq && mayResolve(e)) {
      replaced.fillClosed(record, e);
      addResolved(out, record, e);
    }
}

// Of the conflicts open now, those `change` (logged at `position`) opened: it wrote one side,
// and the other side was applied here before it (or came by snapshot).
void keepOpenedBy(const Core& core, const ReadTxn& txn, const Change& change, uint64_t position,
                  std::vector<ConflictInfo>& open, ConflictMoves& moves) {
  for (ConflictInfo& c : open) {
    const bool winner = writtenBy(c.winner, change), loser = writtenBy(c.loser, change);
    if (!winner && !loser) continue;
    const Head& other = winner ? c.loser : c.winner;
    const auto otherAt = core.store_.logPosition(txn, ChangeId{other.version.origin, other.seq});
    if (!otherAt || *otherAt < position) moves.opened.push_back(std::move(c));
  }
}

// The value the write `version` gave `field`, read from the log ("" once compacted away).
std::string valueWritten(const Core& core, const ReadTxn& txn, Version version, uint16_t field) {
  const auto at = core.store_.logPosition(txn, ChangeId{version.origin, version.seq});
  std::string value;
  if (!at) return value;
  core.store_.forEachLog(txn, *at, [&](uint64_t, const Change& change) {
    for (const FieldWrite& w : change.writes)
      if (w.field == field && w.key.empty()) value = w.value;
    return false;
  });
  return value;
}

// What `change` did to the claims on a number or SSN: the conflicts its write of `field` opened
// (still open, and the other claim was applied here before it) and those it resolved by giving
// up the value it replaced. `customer` is as stored, so SSN index terms match.
void addClaimMoves(const Core& core, const ReadTxn& txn, const Customer& customer,
                   const Change& change, uint64_t position, CustomerField field,
                   ConflictMoves& moves) {
  const uint16_t code = uint16_t(field);
  const auto written = std::find_if(change.writes.begin(), change.writes.end(),
                                    [&](const FieldWrite& w) { return w.field == code; });
  if (written == change.writes.end()) return;
  const ConflictKind kind =
      field == CustomerField::number ? ConflictKind::kNumber : ConflictKind::kSsn;
  auto claimantsOf = [&](const std::string& value) {
    return byClaim(core.store_, txn,
                   field == CustomerField::number ? core.store_.findByNumber(txn, value)
                                                  : core.store_.findBySsn(txn, value),
                   field);
  };
  const std::string& now = customer.value(field);
  std::vector<ConflictInfo> open;
  if (!now.empty() && customer.isLive()) addClaimConflicts(open, claimantsOf(now), kind, field);
  keepOpenedBy(core, txn, change, position, open, moves);
  for (const Version& replaced : written->replaces) {
    const std::string before = valueWritten(core, txn, replaced, code);
    if (before.empty() || before == now) continue;
    // The claims on `before` as they stood with this customer's, and as they stand without it.
    std::vector<Customer> stood = claimantsOf(before);
    std::vector<ConflictInfo> then, still;
    addClaimConflicts(still, stood, kind, field);
    std::erase_if(stood, [&](const Customer& c) { return c.id == customer.id; });
    Customer was = customer;
    was[field] = FieldValue{before, replaced, replaced.seq, {}};
    stood.push_back(std::move(was));
    std::sort(stood.begin(), stood.end(), [field](const Customer& a, const Customer& b) {
      return std::tie(a[field].version, a.id) < std::tie(b[field].version, b.id);
    });
    addClaimConflicts(then, stood, kind, field);
    for (ConflictInfo& c : then) {
      if (std::any_of(still.begin(), still.end(), [&](const auto& s) { return s.id == c.id; }))
        continue;
      c.resolved = true;
      c.chosen = now;
      c.resolution.at = change.hlc;
      c.resolution.site = change.id.origin;
      c.resolution.seq = change.id.seq;
      c.resolution.author = change.author;
      c.resolution.operation = change.operation;
      c.resolution.note = change.note;
      moves.resolved.push_back(std::move(c));
    }
  }
}

}  // namespace

ConflictMoves Conflicts::movedBy(const Change& change, uint64_t position) const {
  ConflictMoves moves;
  if (change.target.isNull()) return moves;
  auto txn = core_.store_.read();
  const RecordId id = core_.survivorOf(txn, change.target);
  const std::optional<Customer> customer = core_.store_.customer(txn, id);
  if (!customer) return moves;
  if (customer->hasOpenConflicts()) {
    std::vector<ConflictInfo> open;
    addFieldConflicts(open, core_.view(txn, *customer));
    keepOpenedBy(core_, txn, change, position, open, moves);
  }
  if (mayClose(change)) addResolvedBy(core_, txn, id, change, moves.resolved);
  // A renumbering is listed among resolved conflicts under an id of its own; here it closes the
  // number conflict the feed reported open, under that one's id (addClaimMoves).
  std::erase_if(moves.resolved,
                [](const ConflictInfo& c) { return c.kind == ConflictKind::kNumber; });
  addClaimMoves(core_, txn, *customer, change, position, CustomerField::number, moves);
  if (core_.store_.settings(txn).getBool(SettingsField::ssnUnique))
    addClaimMoves(core_, txn, *customer, change, position, CustomerField::ssn, moves);
  moves.opened = core_.revealed(std::move(moves.opened));
  moves.resolved = core_.revealed(std::move(moves.resolved));
  return moves;
}

}  // namespace sitesync::sync
