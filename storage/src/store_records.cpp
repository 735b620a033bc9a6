// The LMDB store, records: customer records, the index entries each state of a record has, and
// the tables that list records by a property (open conflicts, merges, pending numbers).
// store_indexes.cpp writes and reads the indexes; store.cpp has the environment and
// transactions, store_log.cpp the log and history, store_upgrade.cpp what stores of earlier
// versions need.
#include <algorithm>
#include <iterator>
#include <optional>

#include "storage/src/lmdb.h"
#include "storage/src/store_impl.h"
#include "storage/store.h"

namespace sitesync::storage {

std::string indexKey(std::string_view term, RecordId id) {
  std::string k;
  k.reserve(term.size() + 17);
  k.append(term);
  k.push_back('\0');
  lmdb::appendId(k, id);
  return k;
}

std::pair<std::string_view, std::string_view> splitIndexKey(std::string_view key) {
  return {key.substr(0, key.size() - 17), key.substr(key.size() - 16)};
}

std::vector<IndexEntry> indexEntries(const Customer& c) {
  std::vector<IndexEntry> out;
  // Open conflicts are listed whatever the record's state (an edit concurrent with a delete).
  if (c.hasOpenConflicts()) out.push_back({kConflicts, std::string(lmdb::idKey(c.id))});
  if (c.lifecycle == Lifecycle::kMerged && !c.mergedInto.isNull()) {
    std::string key;
    lmdb::appendId(key, c.mergedInto);
    lmdb::appendId(key, c.id);
    out.push_back({kAbsorbed, std::move(key)});
    if (const auto& n = c.value(CustomerField::number); !n.empty())
      out.push_back({kAbsorbedNumbers, indexKey(n, c.id)});
    else  // it may be read as the survivor of a merge cycle, which then needs a number
      out.push_back({kPendingNumbers, std::string(lmdb::idKey(c.id))});
  }
  // Phones and names of live and merged customers are searchable: a merged one's are found as
  // its survivor (they may hold values only it has, written offline before the merge was seen,
  // and a merge cycle's survivor is stored as merged).
  const bool searchable = c.isLive() || c.lifecycle == Lifecycle::kMerged;
  if (searchable) {
    for (auto f : {CustomerField::phone, CustomerField::phone2}) {
      auto key = phoneKey(c.value(f));
      if (!key.empty()) out.push_back({kContactIndex, indexKey(key, c.id)});
    }
    if (auto key = emailKey(c.value(CustomerField::email)); !key.empty())
      out.push_back({kContactIndex, indexKey(key, c.id)});
    for (auto& token : nameTokens(c.value(CustomerField::name)))
      out.push_back({kNameIndex, indexKey(token, c.id)});
  }
  // A deleted customer's number no longer counts, but finds it (to restore it).
  if (c.lifecycle == Lifecycle::kDeleted)
    if (const auto& n = c.value(CustomerField::number); !n.empty())
      out.push_back({kDeletedNumbers, indexKey(n, c.id)});
  if (c.isLive()) {  // numbers and SSNs: only live customers claim them
    if (const auto& n = c.value(CustomerField::number); !n.empty())
      out.push_back({kNumberIndex, indexKey(n, c.id)});
    else
      out.push_back({kPendingNumbers, std::string(lmdb::idKey(c.id))});
    if (const auto& s = c.value(CustomerField::ssn); !s.empty())
      out.push_back({kSsnIndex, indexKey(normalizeSsn(s), c.id)});
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// --- records ---------------------------------------------------------------------------------

std::optional<Customer> Store::customer(const ReadTxn& txn, RecordId id) const {
  std::string_view v;
  if (!lmdb::get(txn.raw(), impl_->dbi[kRecords], lmdb::idKey(id), v)) return std::nullopt;
  return decodeCustomer(v);
}

std::optional<std::string_view> Store::recordBytes(const ReadTxn& txn, RecordId id) const {
  std::string_view v;
  if (!lmdb::get(txn.raw(), impl_->dbi[kRecords], lmdb::idKey(id), v)) return std::nullopt;
  return v;
}

bool Store::hasCustomer(const ReadTxn& txn, RecordId id) const {
  std::string_view v;
  return lmdb::get(txn.raw(), impl_->dbi[kRecords], lmdb::idKey(id), v);
}

void Store::putCustomer(WriteTxn& txn, const Customer* before, const Customer& after) {
  thread_local std::string bytes;
  encode(after, bytes);
  if (before)
    cursor(txn, kRecords).put(lmdb::idKey(after.id), bytes);
  else
    cursor(txn, kRecords).append(lmdb::idKey(after.id), bytes);

  auto now = indexEntries(after);
  std::vector<IndexEntry> gone, added;
  if (before) {
    const auto old = indexEntries(*before);
    // Both lists are sorted: remove what is gone, add what is new.
    std::set_difference(old.begin(), old.end(), now.begin(), now.end(), std::back_inserter(gone));
    std::set_difference(now.begin(), now.end(), old.begin(), old.end(), std::back_inserter(added));
  } else {
    added = std::move(now);
  }
  // Number and SSN entries are written now: uniqueness checks read them within the transaction.
  auto& deferred = txn.state_->deferred;
  auto deferrable = [](Table t) { return t == kContactIndex || t == kNameIndex; };
  for (auto& e : gone) {
    if (deferrable(e.table))
      deferred.push_back({e.table, std::move(e.key), true, uint32_t(deferred.size())});
    else
      lmdb::del(txn.raw(), impl_->dbi[e.table], e.key);
  }
  for (auto& e : added) {
    if (deferrable(e.table))
      deferred.push_back({e.table, std::move(e.key), false, uint32_t(deferred.size())});
    else if (e.table == kNumberIndex)  // automatic numbers ascend
      cursor(txn, kNumberIndex).append(e.key, {});
    else
      cursor(txn, e.table).put(e.key, {});
  }
}

void Store::removeCustomer(WriteTxn& txn, const Customer& stored) {
  auto& deferred = txn.state_->deferred;
  for (auto& e : indexEntries(stored)) {
    // Deferred like putCustomer's, so that they apply in the order they were asked for.
    if (e.table == kContactIndex || e.table == kNameIndex)
      deferred.push_back({e.table, std::move(e.key), true, uint32_t(deferred.size())});
    else
      lmdb::del(txn.raw(), impl_->dbi[e.table], e.key);
  }
  const std::string prefix(lmdb::idKey(stored.id));
  std::vector<std::string> keys;
  {
    lmdb::Cursor cursor(txn.raw(), impl_->dbi[kHistory]);
    for (bool ok = cursor.seek(prefix); ok && cursor.key().substr(0, 16) == prefix;
         ok = cursor.next())
      keys.emplace_back(cursor.key());
  }
  for (const auto& key : keys) lmdb::del(txn.raw(), impl_->dbi[kHistory], key);
  lmdb::del(txn.raw(), impl_->dbi[kRecords], lmdb::idKey(stored.id));
}

void Store::forEachCustomer(const ReadTxn& txn,
                            const std::function<bool(const Customer&)>& fn) const {
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kRecords]);
  for (bool ok = cursor.first(); ok; ok = cursor.next())
    if (!fn(decodeCustomer(cursor.value()))) break;
}

void Store::forEachRecordBytes(
    const ReadTxn& txn, const std::function<void(std::string_view, std::string_view)>& fn) const {
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kRecords]);
  for (bool ok = cursor.first(); ok; ok = cursor.next()) fn(cursor.key(), cursor.value());
}

void Store::forEachRecordBytesAfter(
    const ReadTxn& txn, std::string_view afterKey,
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kRecords]);
  bool ok = afterKey.empty() ? cursor.first() : cursor.seek(afterKey);
  if (ok && !afterKey.empty() && cursor.key() == afterKey) ok = cursor.next();
  for (; ok; ok = cursor.next())
    if (!fn(cursor.key(), cursor.value())) break;
}

std::vector<RecordId> Store::withOpenConflicts(const ReadTxn& txn) const {
  std::vector<RecordId> out;
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kConflicts]);
  for (bool ok = cursor.first(); ok; ok = cursor.next()) out.push_back(lmdb::readId(cursor.key()));
  return out;
}

std::vector<RecordId> Store::absorbedInto(const ReadTxn& txn, RecordId survivor) const {
  std::vector<RecordId> out;
  const std::string prefix(lmdb::idKey(survivor));
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kAbsorbed]);
  for (bool ok = cursor.seek(prefix); ok && cursor.key().substr(0, 16) == prefix;
       ok = cursor.next())
    out.push_back(lmdb::readId(cursor.key(), 16));
  return out;
}

std::vector<RecordId> Store::mergeSurvivors(const ReadTxn& txn) const {
  std::vector<RecordId> out;
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kAbsorbed]);
  for (bool ok = cursor.first(); ok; ok = cursor.next()) {
    RecordId survivor = lmdb::readId(cursor.key());
    if (out.empty() || out.back() != survivor) out.push_back(survivor);
  }
  return out;
}

std::vector<RecordId> Store::withPendingNumbers(const ReadTxn& txn) const {
  std::vector<RecordId> out;
  lmdb::Cursor cursor(txn.raw(), impl_->dbi[kPendingNumbers]);
  for (bool ok = cursor.first(); ok; ok = cursor.next()) out.push_back(lmdb::readId(cursor.key()));
  return out;
}

}  // namespace sitesync::storage
