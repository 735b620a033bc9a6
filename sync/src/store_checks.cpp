// `sitesync doctor`: the store's derived tables against their sources (storage::Maintenance),
// and what only sync understands: counters, the log and history against the vector, signatures.
#include "sync/store_checks.h"

#include <algorithm>
#include <map>

#include "storage/maintenance.h"
#include "sync/src/apply_context.h"
#include "sync/src/signing.h"

namespace sitesync::sync {

namespace {

using storage::ReadTxn;
using storage::Store;

StoreFinding tableFinding(const storage::TableCheck& check) {
  StoreFinding f{check.table, check.ok(), {}, true, false};
  f.detail = check.ok()
                 ? std::to_string(check.expected) + " entries"
                 : std::to_string(check.missing) + " missing, " + std::to_string(check.extra) +
                       " extra, of " + std::to_string(check.expected) + " entries";
  return f;
}

// The meta counters against the records' states.
StoreFinding counterFinding(const Store& store, const ReadTxn& txn, Meta* recounted) {
  Meta counted = store.meta(txn).value_or(Meta{});
  const Meta held = counted;
  counted.activeCustomers = counted.deactivatedCustomers = counted.tombstones = 0;
  store.forEachCustomer(txn, [&](const Customer& c) {
    countState(counted, &c, +1);
    return true;
  });
  if (recounted) *recounted = counted;
  const bool ok = counted.activeCustomers == held.activeCustomers &&
                  counted.deactivatedCustomers == held.deactivatedCustomers &&
                  counted.tombstones == held.tombstones;
  auto triple = [](const Meta& m) {
    return std::to_string(m.activeCustomers) + " active, " +
           std::to_string(m.deactivatedCustomers) + " deactivated, " +
           std::to_string(m.tombstones) + " removed";
  };
  return {"counters", ok,
          ok ? triple(held) : "held " + triple(held) + "; records say " + triple(counted), true,
          false};
}

// Every logged change is one the vector says this store holds, and each origin's changes come
// in the log in seq order.
StoreFinding logFinding(const Store& store, const ReadTxn& txn) {
  const VersionVector vector = store.vector(txn);
  std::map<SiteId, uint64_t> lastSeq;
  uint64_t entries = 0, beyond = 0, outOfOrder = 0;
  store.forEachLog(txn, 0, [&](uint64_t, const Change& c) {
    ++entries;
    if (c.id.seq > vector.get(c.id.origin)) ++beyond;
    uint64_t& last = lastSeq[c.id.origin];
    if (c.id.seq <= last) ++outOfOrder;
    last = c.id.seq;
    return true;
  });
  const bool ok = beyond == 0 && outOfOrder == 0;
  return {"log", ok,
          ok ? std::to_string(entries) + " changes, all within the version vector"
             : std::to_string(beyond) + " changes beyond the version vector, " +
                   std::to_string(outOfOrder) + " out of seq order, of " + std::to_string(entries),
          false, false};
}

// Every history entry belongs to a record this store holds and names a change it holds.
StoreFinding historyFinding(const Store& store, const ReadTxn& txn) {
  const VersionVector vector = store.vector(txn);
  uint64_t entries = 0, orphans = 0, unknown = 0;
  RecordId lastRecord;
  bool lastHeld = false;
  store.forEachHistoryEntry(txn, [&](RecordId id, const HistoryEntry& e) {
    ++entries;
    if (entries == 1 || !(id == lastRecord)) {
      lastRecord = id;
      lastHeld = store.hasCustomer(txn, id);
    }
    if (!lastHeld) ++orphans;
    if (e.seq > vector.get(e.site)) ++unknown;
  });
  const bool ok = orphans == 0 && unknown == 0;
  return {"history", ok,
          ok ? std::to_string(entries) + " entries"
             : std::to_string(orphans) + " entries of records not held, " +
                   std::to_string(unknown) + " naming changes beyond the version vector, of " +
                   std::to_string(entries),
          false, false};
}

// The signed runs the log holds, one origin at a time in seq order: each run from its first
// change to its checkpoint must verify. A run whose first changes are no longer logged
// (compacted, or the site joined from a snapshot) cannot be checked.
StoreFinding signatureFinding(const Store& store, const ReadTxn& txn) {
  // Each origin's first logged seq (the log may start later than seq 1), in one pass.
  std::map<SiteId, uint64_t> firstLogged;
  store.forEachLog(txn, 0, [&](uint64_t, const Change& c) {
    firstLogged.emplace(c.id.origin, c.id.seq);
    return true;
  });
  uint64_t verified = 0, unverifiable = 0, failed = 0;
  std::string firstFailure;
  constexpr size_t kChunk = 4096;
  for (auto [origin, fromSeq] : firstLogged) {
    std::vector<Change> run;
    for (;;) {
      const auto positions = store.logPositionsOf(txn, origin, fromSeq, kChunk);
      if (positions.empty()) break;
      for (uint64_t position : positions) {
        const auto bytes = store.logBytesAt(txn, position);
        if (!bytes) continue;
        run.push_back(decodeChange(*bytes));
        if (run.back().signature.empty()) continue;
        std::vector<Digest> digests;
        for (const auto& c : run) digests.push_back(changeDigest(c));
        try {
          const auto proven = provenChanges(run, digests, VersionVector{});
          const auto n = uint64_t(std::count(proven.begin(), proven.end(), true));
          verified += n;
          unverifiable += run.size() - n;
        } catch (const DecodeError& e) {
          failed += run.size();
          if (firstFailure.empty()) firstFailure = e.what();
        }
        run.clear();
      }
      fromSeq += positions.size();
    }
    unverifiable += run.size();  // a run still open (its checkpoint not logged)
  }
  const bool ok = failed == 0;
  std::string detail = std::to_string(verified) + " changes in verified runs, " +
                       std::to_string(unverifiable) + " in runs whose start is not logged";
  if (!ok)
    detail = std::to_string(failed) + " changes in runs that do not verify (" + firstFailure +
             "); " + detail;
  return {"signatures", ok, detail, false, false};
}

std::vector<StoreFinding> findings(Store& store, Meta* recounted) {
  storage::Maintenance maintenance(store);
  std::vector<StoreFinding> out;
  auto txn = store.read();
  for (const auto& check : maintenance.checkRecordIndexes(txn)) out.push_back(tableFinding(check));
  out.push_back(tableFinding(maintenance.checkChangeIndex(txn)));
  out.push_back(counterFinding(store, txn, recounted));
  out.push_back(logFinding(store, txn));
  out.push_back(historyFinding(store, txn));
  out.push_back(signatureFinding(store, txn));
  return out;
}

bool failed(const std::vector<StoreFinding>& found, const std::string& check) {
  return std::any_of(found.begin(), found.end(),
                     [&](const StoreFinding& f) { return f.check == check && !f.ok; });
}

}  // namespace

bool StoreCheckReport::healthy() const {
  return std::all_of(findings.begin(), findings.end(),
                     [](const StoreFinding& f) { return f.ok || f.repaired; });
}

bool StoreCheckReport::unrepaired() const {
  return !healthy();
}

StoreCheckReport checkStore(Store& store, bool repair) {
  Meta recounted;
  StoreCheckReport report{findings(store, &recounted)};
  const bool indexesBad =
      std::any_of(report.findings.begin(), report.findings.end(), [](const StoreFinding& f) {
        return !f.ok && f.repairable && f.check != "counters" && f.check != "change_index";
      });
  const bool changeIndexBad = failed(report.findings, "change_index");
  const bool countersBad = failed(report.findings, "counters");
  if (!repair || !(indexesBad || changeIndexBad || countersBad)) return report;
  store.write([&](storage::WriteTxn& txn) {
    storage::Maintenance maintenance(store);
    if (indexesBad) maintenance.rebuildRecordIndexes(txn);
    if (changeIndexBad) maintenance.rebuildChangeIndex(txn);
    if (countersBad) {
      Meta meta = *store.meta(txn);
      meta.activeCustomers = recounted.activeCustomers;
      meta.deactivatedCustomers = recounted.deactivatedCustomers;
      meta.tombstones = recounted.tombstones;
      store.putMeta(txn, meta);
    }
  });
  // What the repair made, checked again: a finding it fixed is marked repaired.
  const auto after = findings(store, nullptr);
  for (size_t i = 0; i < report.findings.size() && i < after.size(); ++i) {
    StoreFinding& f = report.findings[i];
    if (!f.ok && f.repairable && after[i].ok) {
      f.repaired = true;
      f.detail += "; rebuilt: " + after[i].detail;
    }
  }
  return report;
}

}  // namespace sitesync::sync
