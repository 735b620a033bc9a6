// Reads: customers (merged ones joined), lists and searches, reference resolution, settings, the
// state of this site, and the digest of the replicated state.
#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <set>

#include "sync/engine.h"
#include "sync/errors.h"
#include "sync/src/apply_context.h"
#include "sync/src/core.h"
#include "sync/src/filtered.h"

namespace sitesync::sync {

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------

std::optional<Customer> Reads::customer(RecordId id) const {
  auto txn = core_.store_.read();
  auto c = core_.store_.customer(txn, id);
  if (!c) return c;
  return core_.revealed(core_.view(txn, std::move(*c)));
}

Result<RecordId> Reads::resolve(std::string_view ref) const {
  if (!ref.empty() && ref[0] == '#') {
    auto number = ref.substr(1);
    auto txn = core_.store_.read();
    auto ids = core_.store_.findByNumber(txn, number);
    if (ids.empty()) {
      // The number of a merged customer finds the customer it went into.
      auto merged = core_.store_.findAbsorbedByNumber(txn, number);
      if (!merged.empty()) return core_.survivorOf(txn, merged.front());
      // A deleted customer is found by its old number (`customer restore #NUMBER`).
      ids = core_.store_.findDeletedByNumber(txn, number);
      if (ids.empty()) return Status::notFound("no customer has number " + std::string(number));
    }
    if (ids.size() > 1) {
      std::string list;
      for (auto id : ids) list += (list.empty() ? "" : ", ") + id.toString();
      return Status::failedPrecondition("number " + std::string(number) +
                                        " is held by several customers (" + list + "): use an id");
    }
    return ids[0];
  }
  auto id = RecordId::parse(ref);
  if (!id)
    return Status(
        StatusCode::kInvalidArgument,
        "'" + std::string(ref) +
            "' is not a customer reference: use an id like 1f3a5c7e9b2d4f60-42 or #NUMBER");
  if (!customer(*id)) return Status::notFound("no customer " + id->toString());
  return *id;
}

RecordId Reads::survivor(RecordId id) const {
  auto txn = core_.store_.read();
  return core_.survivorOf(txn, id);
}

std::vector<Customer> Reads::list(bool includeDeactivated) const {
  std::vector<Customer> out;
  auto txn = core_.store_.read();
  core_.store_.forEachCustomer(txn, [&](const Customer& c) {
    if (!c.isLive() && c.lifecycle != Lifecycle::kMerged) return true;
    Customer shown = core_.view(txn, c);  // a merged customer may be a merge cycle's survivor
    if (shown.isLive() &&
        (includeDeactivated || shown.value(CustomerField::status) != "deactivated"))
      out.push_back(core_.revealed(std::move(shown)));
    return true;
  });
  return out;
}

void Reads::forEachCustomer(const std::function<bool(const Customer&)>& visit) const {
  auto txn = core_.store_.read();
  core_.store_.forEachCustomer(txn, [&](const Customer& c) {
    if (c.lifecycle != Lifecycle::kLive && c.lifecycle != Lifecycle::kDeleted) return true;
    return visit(core_.revealed(core_.view(txn, c)));
  });
}

Result<std::vector<RecordId>> Reads::findLive(CustomerField field, std::string_view value) const {
  auto txn = core_.store_.read();
  std::vector<RecordId> found;
  if (field == CustomerField::number)
    found = core_.store_.findByNumber(txn, value);
  else if (field == CustomerField::email)
    found = core_.store_.findByEmail(txn, value, 16);
  else
    return Status::invalidArgument("customers are matched by number or e-mail");
  std::vector<RecordId> out;
  for (RecordId held : found) {
    const RecordId id = core_.survivorOf(txn, held);
    auto c = core_.store_.customer(txn, id);
    if (c && c->isLive() && std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return out;
}

std::vector<Customer> Reads::search(std::string_view query, size_t limit) const {
  auto txn = core_.store_.read();
  std::vector<RecordId> ids;
  // A merged customer is found as its survivor (a merge cycle's survivor is its own).
  auto add = [&](const std::vector<RecordId>& found) {
    for (auto held : found) {
      const RecordId id = core_.survivorOf(txn, held);
      if (ids.size() < limit && std::find(ids.begin(), ids.end(), id) == ids.end())
        ids.push_back(id);
    }
  };
  std::string trimmed(query);
  if (!trimmed.empty() && trimmed[0] == '#') trimmed.erase(0, 1);
  const bool digitsOnly =
      !trimmed.empty() &&
      std::all_of(trimmed.begin(), trimmed.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digitsOnly) {
    add(core_.store_.findByNumber(txn, trimmed));
    add(core_.store_.findAbsorbedByNumber(txn, trimmed));
  }
  if (storage::phoneDigits(query).size() >= 3 && validateValue(ValueKind::kPhone, query).empty())
    add(core_.store_.findByPhone(txn, query, limit));
  if (query.find('@') != std::string_view::npos) add(core_.store_.findByEmail(txn, query, limit));
  add(core_.store_.searchName(txn, query, limit));
  // A social security number, found through its index (a keyed hash when sealed).
  if (trimmed.size() >= 6 && isValidUtf8(query))
    add(core_.store_.findBySsn(
        txn, core_.cipher_ ? core_.cipher_->ssnToken(query) : std::string(query)));
  std::vector<Customer> out;
  for (auto id : ids)
    if (auto c = core_.store_.customer(txn, id))
      if (Customer shown = core_.view(txn, std::move(*c)); shown.isLive())
        out.push_back(core_.revealed(std::move(shown)));
  return out;
}

namespace {

// What a query asks for, as search reads it: a customer number, a phone (storage::phoneMatches),
// an e-mail address, name tokens (each the start of one of the name's), or an SSN (its index key).
struct Query {
  std::string number, phone, email, ssn;
  std::vector<std::string> tokens;

  bool matches(const Customer& c) const {
    if (!number.empty() && c.value(CustomerField::number) == number) return true;
    if (!phone.empty())
      for (auto f : {CustomerField::phone, CustomerField::phone2})
        if (storage::phoneMatches(c.value(f), phone)) return true;
    if (!email.empty() && storage::emailKey(c.value(CustomerField::email)) == email) return true;
    if (!ssn.empty() && !c.value(CustomerField::ssn).empty() &&
        storage::normalizeSsn(c.value(CustomerField::ssn)) == ssn)
      return true;
    if (tokens.empty()) return false;
    const auto have = storage::nameTokens(c.value(CustomerField::name));
    return std::all_of(tokens.begin(), tokens.end(), [&](const std::string& t) {
      return std::any_of(have.begin(), have.end(),
                         [&](const std::string& h) { return h.starts_with(t); });
    });
  }
};

}  // namespace

std::vector<Customer> Reads::listDeleted() const {
  return searchDeleted({}, SIZE_MAX);
}

std::vector<Customer> Reads::searchDeleted(std::string_view query, size_t limit) const {
  Query q;
  std::string trimmed(query);
  if (!trimmed.empty() && trimmed[0] == '#') trimmed.erase(0, 1);
  q.number = trimmed;
  if (storage::phoneDigits(query).size() >= 3 && validateValue(ValueKind::kPhone, query).empty())
    q.phone = query;
  if (query.find('@') != std::string_view::npos) q.email = storage::emailKey(query);
  if (trimmed.size() >= 6 && isValidUtf8(query))
    q.ssn =
        storage::normalizeSsn(core_.cipher_ ? core_.cipher_->ssnToken(query) : std::string(query));
  q.tokens = storage::nameTokens(query);
  std::vector<Customer> out;
  auto txn = core_.store_.read();
  core_.store_.forEachCustomer(txn, [&](const Customer& c) {
    if (c.lifecycle == Lifecycle::kDeleted && (query.empty() || q.matches(c)))
      out.push_back(core_.revealed(core_.view(txn, c)));
    return out.size() < limit;
  });
  return out;
}

std::vector<RecordId> Reads::mergedInto(RecordId id) const {
  auto txn = core_.store_.read();
  return core_.absorbedSet(txn, id);
}

Settings Reads::settings() const {
  auto txn = core_.store_.read();
  return core_.store_.settings(txn);
}

Meta Reads::meta() const {
  auto txn = core_.store_.read();
  auto m = core_.store_.meta(txn);
  if (!m) throw ApplyError("the store is not initialised: run `sitesync init` first");
  return *m;
}

RegisterStatus Reads::status() const {
  RegisterStatus s;
  auto txn = core_.store_.read();
  auto m = core_.store_.meta(txn);
  if (!m) throw ApplyError("the store is not initialised: run `sitesync init` first");
  s.meta = *m;
  s.vector = core_.store_.vector(txn);
  s.logEntries = core_.store_.lastLogPosition(txn);
  s.customers = m->activeCustomers;
  s.deactivated = m->deactivatedCustomers;
  s.tombstones = m->tombstones;
  return s;
}

namespace {

// Drops from `c`'s registers the writes awaited as "replaced early" that `held` holds: such a
// write can never be applied again (applying is idempotent), so the entry is dead, and whether
// a node ever made it depends on the order changes reached it (a write whose replaced write
// went to another customer of a merge leaves one that nothing clears). Returns whether any went.
bool dropDeadEarlyEntries(Customer& c, const VersionVector& held) {
  bool dropped = false;
  auto prune = [&](FieldValue& r) {
    const size_t before = r.replacedEarly.size();
    std::erase_if(r.replacedEarly, [&](const Version& v) {
      return v.seq != 0 && held.contains(ChangeId{v.origin, v.seq});
    });
    dropped |= r.replacedEarly.size() != before;
  };
  for (FieldValue& r : c.fields) prune(r);
  for (auto& [name, r] : c.customFields) prune(r);
  for (auto& [key, r] : c.elements) prune(r);
  return dropped;
}

}  // namespace

namespace {

// SHA-256 over length-prefixed parts.
class PartHasher {
 public:
  PartHasher() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
      throw Error("OpenSSL SHA-256 unavailable");
  }
  void feed(std::string_view bytes) {
    uint64_t n = bytes.size();
    unsigned char len[8];
    for (int i = 7; i >= 0; --i, n >>= 8) len[i] = static_cast<unsigned char>(n & 0xff);
    EVP_DigestUpdate(ctx_.get(), len, sizeof len);
    EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size());
  }
  // A record as stored, less dead bookkeeping (dropDeadEarlyEntries).
  void feedRecord(std::string_view key, std::string_view value, const VersionVector& held) {
    feed(key);
    Customer c = decodeCustomer(value);
    if (dropDeadEarlyEntries(c, held)) {
      encode(c, canonical_);
      feed(canonical_);
    } else {
      feed(value);
    }
  }
  std::string hex() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int outLen = 0;
    EVP_DigestFinal_ex(ctx_.get(), out, &outLen);
    return toHex(out, outLen);
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
  std::string canonical_;
};

}  // namespace

std::string Reads::digestHex() const {
  {
    auto txn = core_.store_.read();
    auto m = core_.store_.meta(txn);
    if (m && !m->filter.empty()) return digestHex(decodeRecordFilter(m->filter));
  }
  // Records are encoded canonically (one encoder, registers in schema order, custom fields
  // sorted), so hashing their stored bytes in key order hashes the replicated state itself
  // (less dead bookkeeping: dropDeadEarlyEntries).
  PartHasher hash;
  hash.feed("sitesync-register-digest-v1");
  auto txn = core_.store_.read();
  const VersionVector held = core_.store_.vector(txn);
  core_.store_.forEachRecordBytes(txn, [&](std::string_view key, std::string_view value) {
    hash.feedRecord(key, value, held);
  });
  // Settings never written and settings reset to their defaults are the same state.
  std::string settings;
  encode(core_.store_.settings(txn), settings);
  hash.feed(settings);
  for (const NumberLease& l : core_.store_.leases(txn))
    hash.feed(siteIdToHex(l.site) + " " + std::to_string(l.first) + "-" + std::to_string(l.last) +
              " " + std::to_string(l.version.hlc.packed) + " " + siteIdToHex(l.version.origin));
  return hash.hex();
}

std::string Reads::digestHex(const RecordFilter& filter) const {
  PartHasher hash;
  hash.feed("sitesync-filtered-digest-v1");
  hash.feed(filter.canonical());
  auto txn = core_.store_.read();
  const VersionVector held = core_.store_.vector(txn);
  const FilterTrees trees(core_, txn, filter);
  std::set<RecordId> ids;
  for (RecordId root : trees.matchingRoots())
    for (RecordId id : trees.closureOf(root)) ids.insert(id);
  for (RecordId id : ids) {
    const std::string key = recordKey(id);
    if (auto value = core_.store_.recordBytes(txn, id)) hash.feedRecord(key, *value, held);
  }
  std::string settings;
  encode(core_.store_.settings(txn), settings);
  hash.feed(settings);
  return hash.hex();
}

Reads::LogPage Reads::changesAfter(uint64_t position, size_t max) const {
  auto txn = core_.store_.read();
  LogPage page{core_.store_.firstLogPosition(txn), core_.store_.lastLogPosition(txn), {}};
  if (max == 0 || position >= page.end) return page;
  core_.store_.forEachLog(txn, position + 1, [&](uint64_t at, const Change& change) {
    LoggedChange& logged = page.changes.emplace_back(LoggedChange{at, change});
    // Settings and leases write no sealed values, and their field codes are not customers'.
    if (change.operation != Operation::kSettings && change.operation != Operation::kLease)
      for (FieldWrite& w : logged.change.writes) w.value = core_.revealed(w.field, w.key, w.value);
    return page.changes.size() < max;
  });
  return page;
}

}  // namespace sitesync::sync
