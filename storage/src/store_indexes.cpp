// The LMDB store, indexes: the index entries a write transaction defers to its commit (in key
// order), the phone runs and their fold into the contact index, and the index lookups
// (store_records.cpp has the records and which index entries each has).
#include <algorithm>
#include <functional>
#include <memory>
#include <optional>

#include "storage/src/lmdb.h"
#include "storage/src/store_impl.h"
#include "storage/store.h"

namespace sitesync::storage {

using lmdb::check;

namespace {

// kContactRuns: run 0 holds small commits' entries, appended runs are numbered from 1 in the
// order they were written; each fold empties the table. Keys: run (4, big-endian), then the
// index key.
constexpr size_t kRunBytes = 4;

std::string runPrefix(uint32_t run) {
  std::string prefix;
  lmdb::appendU32(prefix, run);
  return prefix;
}

uint32_t lastRun(MDB_txn* txn, MDB_dbi runs) {
  lmdb::Cursor cursor(txn, runs);
  if (!cursor.last() || cursor.key().size() < kRunBytes) return 0;
  return lmdb::readU32(cursor.key());
}

// One sorted sequence of index keys: a table, or one run of kContactRuns (its keys prefixed).
struct IndexSource {
  IndexSource(MDB_txn* txn, MDB_dbi dbi, std::string runPrefix)
      : cursor(txn, dbi), prefix(std::move(runPrefix)) {}
  lmdb::Cursor cursor;
  std::string prefix;
  bool ok = false;  // on a key of its own (not past its end, nor in the next run)
  std::string_view key() const { return cursor.key().substr(prefix.size()); }
  bool inRun() const {
    return cursor.key().size() > prefix.size() && cursor.key().substr(0, prefix.size()) == prefix;
  }
};

// The phone runs, each at its first key >= `from`.
std::vector<std::unique_ptr<IndexSource>> phoneRuns(MDB_txn* txn, MDB_dbi runs,
                                                    std::string_view from) {
  std::vector<std::unique_ptr<IndexSource>> sources;
  for (uint32_t run = 0, last = lastRun(txn, runs); run <= last; ++run) {
    auto source = std::make_unique<IndexSource>(txn, runs, runPrefix(run));
    source->ok = source->cursor.seek(source->prefix + std::string(from)) && source->inRun();
    sources.push_back(std::move(source));
  }
  return sources;
}

// The source with the smallest key, or null once all are spent.
IndexSource* smallest(const std::vector<std::unique_ptr<IndexSource>>& sources) {
  IndexSource* at = nullptr;
  for (const auto& s : sources)
    if (s->ok && (!at || s->key() < at->key())) at = s.get();
  return at;
}

// Where each of a write transaction's deferred index operations (WriteTxn::State::deferred)
// goes in key order: their positions in `ops`, by table and key, a key's in the order they came.
template <typename DeferredOps>
std::vector<uint32_t> keyOrder(const DeferredOps& ops) {
  // Sort small references, not the operations themselves (moving strings is most of a sort).
  // The first 8 key bytes, big-endian, decide most comparisons without touching the strings.
  struct Ref {
    uint32_t table;
    uint64_t prefix;
    std::string_view key;
    uint32_t order;
  };
  std::vector<Ref> refs;
  refs.reserve(ops.size());
  for (const auto& op : ops) {
    uint64_t prefix = 0;
    for (size_t i = 0; i < 8; ++i)
      prefix = (prefix << 8) | (i < op.key.size() ? static_cast<unsigned char>(op.key[i]) : 0);
    refs.push_back({uint32_t(op.table), prefix, op.key, op.order});
  }
  // Integers first; then only runs sharing a prefix need their strings compared, and those are
  // usually in order already (one name token's entries come in the order customers were
  // created), which one linear pass confirms. (Comparing strings was 8% of the applier's time.)
  std::sort(refs.begin(), refs.end(), [](const Ref& a, const Ref& b) {
    if (a.table != b.table) return a.table < b.table;
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return a.order < b.order;
  });
  auto byKey = [](const Ref& a, const Ref& b) {
    if (int c = a.key.compare(b.key); c != 0) return c < 0;
    return a.order < b.order;
  };
  for (auto run = refs.begin(); run != refs.end();) {
    auto end = std::find_if(run + 1, refs.end(), [&](const Ref& r) {
      return r.table != run->table || r.prefix != run->prefix;
    });
    if (end - run > 1 && !std::is_sorted(run, end, byKey)) std::sort(run, end, byKey);
    run = end;
  }
  std::vector<uint32_t> order;
  order.reserve(refs.size());
  for (const Ref& ref : refs) order.push_back(ref.order);
  return order;
}

}  // namespace

void Store::writeDeferred(WriteTxn& txn) {
  auto& ops = txn.state_->deferred;
  // One cursor per table: in key order, each insert usually lands on the cursor's current leaf
  // page, and LMDB then skips the search from the root. New phone entries make this commit's
  // run (appended in key order), or go into run 0 when there are few; one removed is removed
  // from the index and from every run.
  const size_t newPhones = std::count_if(ops.begin(), ops.end(), [](const WriteTxn::State::Op& op) {
    return op.table == kContactIndex && !op.erase;
  });
  std::optional<uint32_t> runsBefore;  // read once, when the first phone entry comes
  std::string runKey;
  for (const uint32_t at : keyOrder(ops)) {
    const auto& op = ops[at];
    if (op.table == kNameIndex) {  // sorted duplicates: the token, then the id
      const auto [token, id] = splitIndexKey(op.key);
      if (op.erase)
        cursor(txn, kNameIndex).eraseDuplicate(token, id);
      else
        cursor(txn, kNameIndex).putDuplicate(token, id);
      continue;
    }
    if (op.table != kContactIndex) {
      if (op.erase)
        cursor(txn, op.table).erase(op.key);
      else
        cursor(txn, op.table).put(op.key, {});
      continue;
    }
    if (!runsBefore) runsBefore = lastRun(txn.raw(), impl_->dbi[kContactRuns]);
    const uint32_t thisRun = newPhones >= kPhoneRunFrom ? *runsBefore + 1 : 0;
    if (!op.erase) {
      runKey = runPrefix(thisRun);
      runKey += op.key;
      if (thisRun == 0)
        cursor(txn, kContactRuns).put(runKey, {});
      else
        cursor(txn, kContactRuns).append(runKey, {});
      continue;
    }
    cursor(txn, kContactIndex).erase(op.key);
    for (uint32_t run = 0; run <= std::max(*runsBefore, thisRun); ++run) {
      runKey = runPrefix(run);
      runKey += op.key;
      cursor(txn, kContactRuns).erase(runKey);
    }
  }
  txn.state_->closeCursors();  // the fold drops the runs' table
  ops.clear();
  if (newPhones > 0) foldPhoneRuns(txn, impl_->phoneFoldAt);  // only new entries reach a bound
}

void Store::foldPhoneRuns(WriteTxn& txn, uint64_t atLeast) {
  const MDB_dbi runs = impl_->dbi[kContactRuns];
  MDB_stat held;
  check(mdb_stat(txn.raw(), runs, &held), "mdb_stat");
  if (held.ms_entries == 0) return;
  if (held.ms_entries < atLeast && lastRun(txn.raw(), runs) < kMaxPhoneRuns) return;
  {
    // The runs merged into one key order: then most inserts land on the page the cursor is on,
    // and LMDB skips the search from the root (run after run, nearly every insert searched).
    auto sources = phoneRuns(txn.raw(), runs, "");
    lmdb::Cursor into(txn.raw(), impl_->dbi[kContactIndex]);
    while (IndexSource* at = smallest(sources)) {
      into.put(at->key(), {});
      at->ok = at->cursor.next() && at->inRun();
    }
  }
  check(mdb_drop(txn.raw(), runs, 0), "mdb_drop");
}

namespace {

// The ids under `term` (a prefix of it unless `exact`) in key order, over one index table or,
// given `runsDbi`, the phone index and each of its runs (their key sequences merged).
std::vector<RecordId> scanIndex(MDB_txn* txn, MDB_dbi dbi, std::string_view term, bool exact,
                                size_t limit, std::optional<MDB_dbi> runsDbi = std::nullopt) {
  std::vector<RecordId> ids;
  if (term.empty()) return ids;
  std::string start(term);
  if (exact) start.push_back('\0');
  const size_t minSize = start.size() + (exact ? 16 : 17);  // term \0 id(16)
  auto matches = [&](const IndexSource& s) {
    const std::string_view key = s.key();
    return key.size() >= minSize && key.substr(0, start.size()) == start;
  };
  std::vector<std::unique_ptr<IndexSource>> sources;
  if (runsDbi) sources = phoneRuns(txn, *runsDbi, start);
  sources.push_back(std::make_unique<IndexSource>(txn, dbi, ""));
  sources.back()->ok = sources.back()->cursor.seek(start);
  for (auto& s : sources) s->ok = s->ok && matches(*s);
  while (ids.size() < limit) {
    IndexSource* at = smallest(sources);
    if (!at) break;
    const std::string_view key = at->key();
    RecordId id = lmdb::readId(key, key.size() - 16);
    // One customer can match twice (phone and phone2): count it once toward the limit.
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    at->ok = at->cursor.next() && at->inRun() && matches(*at);
  }
  return ids;
}

}  // namespace

std::vector<RecordId> Store::findByNumber(const ReadTxn& txn, std::string_view number) const {
  return scanIndex(txn.raw(), impl_->dbi[kNumberIndex], number, true, SIZE_MAX);
}

std::vector<RecordId> Store::claimsOnSharedNumbers(
    const ReadTxn& txn, const std::vector<std::pair<RecordId, std::string>>& claims) const {
  std::vector<size_t> byNumber(claims.size());
  for (size_t i = 0; i < claims.size(); ++i) byNumber[i] = i;
  std::sort(byNumber.begin(), byNumber.end(),
            [&](size_t a, size_t b) { return claims[a].second < claims[b].second; });
  std::vector<bool> shared(claims.size(), false);
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kNumberIndex]);
  std::string start;
  for (size_t i : byNumber) {
    const std::string& number = claims[i].second;
    if (number.empty()) continue;
    start.assign(number);
    start.push_back('\0');
    size_t holders = 0;
    for (bool ok = cursor.seek(start); ok && holders < 2; ok = cursor.next()) {
      const std::string_view key = cursor.key();
      if (key.size() < start.size() + 16 || key.substr(0, start.size()) != start) break;
      ++holders;
    }
    shared[i] = holders > 1;
  }
  std::vector<RecordId> out;
  for (size_t i = 0; i < claims.size(); ++i)
    if (shared[i]) out.push_back(claims[i].first);
  return out;
}

std::vector<RecordId> Store::findBySsn(const ReadTxn& txn, std::string_view ssn) const {
  return scanIndex(txn.raw(), impl_->dbi[kSsnIndex], normalizeSsn(ssn), true, SIZE_MAX);
}

std::vector<RecordId> Store::findByPhone(const ReadTxn& txn, std::string_view phone,
                                         size_t limit) const {
  // The numbers that end with the query's significant digits (its national form finds the
  // international one; its last digits find the number): keys that start with its key.
  const std::string key = phoneKey(phone);
  const MDB_dbi index = impl_->dbi[kContactIndex], runs = impl_->dbi[kContactRuns];
  std::vector<RecordId> ids = scanIndex(txn.raw(), index, key, false, limit, runs);
  // And the numbers the query ends with, of kMinPhoneMatch digits or more (an international
  // query finds the national form): keys that are a prefix of its key, longest first.
  for (size_t n = key.size() - std::min<size_t>(key.size(), 1);
       n >= kMinPhoneMatch && ids.size() < limit; --n)
    for (RecordId id : scanIndex(txn.raw(), index, key.substr(0, n), true, limit, runs))
      if (ids.size() < limit && std::find(ids.begin(), ids.end(), id) == ids.end())
        ids.push_back(id);
  return ids;
}

std::vector<RecordId> Store::findByEmail(const ReadTxn& txn, std::string_view email,
                                         size_t limit) const {
  return scanIndex(txn.raw(), impl_->dbi[kContactIndex], emailKey(email), true, limit,
                   impl_->dbi[kContactRuns]);
}

std::vector<RecordId> Store::searchName(const ReadTxn& txn, std::string_view query,
                                        size_t limit) const {
  auto tokens = nameTokens(query);
  if (tokens.empty()) return {};
  // Candidates come from the longest (most selective) token; the others filter them.
  std::stable_sort(tokens.begin(), tokens.end(),
                   [](const auto& a, const auto& b) { return a.size() > b.size(); });
  std::vector<RecordId> out;
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kNameIndex]);
  // Every token starting with the first, each with its ids (sorted duplicates), in order.
  for (bool ok = cursor.seek(tokens[0]); ok && out.size() < limit; ok = cursor.next()) {
    if (cursor.key().substr(0, tokens[0].size()) != tokens[0]) break;
    if (cursor.value().size() != 16) continue;
    RecordId id = lmdb::readId(cursor.value());
    if (tokens.size() > 1) {
      auto c = customer(txn, id);
      if (!c) continue;
      auto have = nameTokens(c->value(CustomerField::name));
      bool all = std::all_of(tokens.begin() + 1, tokens.end(), [&](const std::string& t) {
        return std::any_of(have.begin(), have.end(),
                           [&](const std::string& h) { return h.compare(0, t.size(), t) == 0; });
      });
      if (!all) continue;
    }
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return out;
}

namespace {
// Groups of records that share one term of an index (key: term \0 id), in term order, over one
// table or, given `runs`, the contact index and each of its runs merged; `termOf` says what of a
// key's term is compared (nullopt: the key is left out). Keys sharing what is compared are
// neighbours in key order when it is a prefix of the term.
std::vector<std::vector<RecordId>> sharedTerms(
    MDB_txn* txn, MDB_dbi dbi, std::optional<MDB_dbi> runs = std::nullopt,
    const std::function<std::optional<std::string_view>(std::string_view)>& termOf = {}) {
  std::vector<std::unique_ptr<IndexSource>> sources;
  if (runs) sources = phoneRuns(txn, *runs, "");
  sources.push_back(std::make_unique<IndexSource>(txn, dbi, ""));
  sources.back()->ok = sources.back()->cursor.first();
  std::vector<std::vector<RecordId>> groups;
  std::string term;
  std::vector<RecordId> group;
  auto close = [&] {
    if (group.size() > 1) groups.push_back(group);
    group.clear();
  };
  while (IndexSource* at = smallest(sources)) {
    const std::string_view key = at->key();
    std::optional<std::string_view> t;
    if (key.size() >= 17) t = key.substr(0, key.size() - 17);
    if (t && termOf) t = termOf(*t);
    if (t && *t != term) {
      close();
      term.assign(*t);
    }
    if (t) group.push_back(lmdb::readId(key, key.size() - 16));
    at->ok = at->cursor.next() && at->inRun();
  }
  close();
  return groups;
}
}  // namespace

std::vector<std::vector<RecordId>> Store::sharedNumbers(const ReadTxn& txn) const {
  return sharedTerms(txn.raw(), impl_->dbi[kNumberIndex]);
}

std::vector<std::vector<RecordId>> Store::sharedSsns(const ReadTxn& txn) const {
  return sharedTerms(txn.raw(), impl_->dbi[kSsnIndex]);
}

std::vector<std::vector<RecordId>> Store::sharedPhones(const ReadTxn& txn) const {
  return sharedTerms(txn.raw(), impl_->dbi[kContactIndex], impl_->dbi[kContactRuns],
                     [](std::string_view t) -> std::optional<std::string_view> {
                       if (t.empty() || t[0] == '@') return std::nullopt;
                       return phoneIdentity(t);
                     });
}

std::vector<std::vector<RecordId>> Store::sharedEmails(const ReadTxn& txn) const {
  return sharedTerms(txn.raw(), impl_->dbi[kContactIndex], impl_->dbi[kContactRuns],
                     [](std::string_view t) -> std::optional<std::string_view> {
                       if (t.empty() || t[0] != '@') return std::nullopt;
                       return t;
                     });
}

std::vector<RecordId> Store::findAbsorbedByNumber(const ReadTxn& txn,
                                                  std::string_view number) const {
  return scanIndex(txn.raw(), impl_->dbi[kAbsorbedNumbers], number, true, SIZE_MAX);
}

std::vector<RecordId> Store::findDeletedByNumber(const ReadTxn& txn,
                                                 std::string_view number) const {
  return scanIndex(txn.raw(), impl_->dbi[kDeletedNumbers], number, true, SIZE_MAX);
}

}  // namespace sitesync::storage
