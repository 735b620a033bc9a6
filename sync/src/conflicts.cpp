// The conflict list (DESIGN.md section 6): concurrent heads of one field, edits concurrent with
// a delete, customer numbers claimed twice and shared social security numbers. All of it is
// derived from the replicated state, so every node with the same changes lists the same
// conflicts under the same ids. Also the derived flags and the hub's renumbering.
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>
#include <tuple>

#include "sync/engine.h"
#include "sync/errors.h"
#include "sync/src/apply_context.h"
#include "sync/src/conflict_list.h"
#include "sync/src/history.h"
#include "sync/src/registers.h"

namespace sitesync::sync {

using storage::ReadTxn;
using storage::WriteTxn;

const char* conflictKindName(ConflictKind kind) {
  switch (kind) {
    case ConflictKind::kField:
      return "field";
    case ConflictKind::kNumber:
      return "number";
    case ConflictKind::kSsn:
      return "ssn";
    case ConflictKind::kDelete:
      return "delete";
  }
  return "field";
}

std::string conflictId(std::string_view kind, RecordId customer, uint16_t field,
                       const std::string& key, Version a, Version b) {
  if (b < a) std::swap(a, b);
  std::string text(kind);
  text += '/' + customer.toString() + '/' + std::to_string(field) + '/' + key;
  for (Version v : {a, b}) text += '/' + std::to_string(v.hlc.packed) + ':' + siteIdToHex(v.origin);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    throw Error("OpenSSL SHA-256 unavailable");
  return toHex(digest, 6);
}

std::vector<Customer> byClaim(const storage::Store& store, const ReadTxn& txn,
                              const std::vector<RecordId>& ids, CustomerField field) {
  std::vector<Customer> out;
  for (RecordId id : ids)
    if (auto c = store.customer(txn, id)) out.push_back(std::move(*c));
  std::sort(out.begin(), out.end(), [field](const Customer& a, const Customer& b) {
    return std::tie(a[field].version, a.id) < std::tie(b[field].version, b.id);
  });
  return out;
}

void addClaimConflicts(std::vector<ConflictInfo>& out, const std::vector<Customer>& claimants,
                       ConflictKind kind, CustomerField field) {
  for (size_t i = 1; i < claimants.size(); ++i) {
    const Customer& keeper = claimants.front();
    const Customer& loser = claimants[i];
    ConflictInfo info;
    info.kind = kind;
    info.customer = loser.id;
    info.field = uint16_t(field);
    info.winner = keeper[field].shown();
    info.loser = loser[field].shown();
    info.other = keeper.id;
    info.id = conflictId(conflictKindName(kind), loser.id, info.field, {}, info.winner.version,
                         info.loser.version);
    out.push_back(std::move(info));
  }
}

void addResolved(std::vector<ConflictInfo>& out, RecordId id, const HistoryEntry& entry) {
  for (const auto& closed : entry.closed) {
    ConflictInfo info;
    info.kind =
        entry.operation == Operation::kRestore ? ConflictKind::kDelete : ConflictKind::kField;
    info.customer = id;
    info.field = closed.field;
    info.key = closed.key;
    info.winner = closed.winner;
    info.loser = closed.loser;
    info.id = conflictId("field", id, closed.field, closed.key, closed.winner.version,
                         closed.loser.version);
    info.resolved = true;
    info.resolution = entry;
    info.chosen = closed.winner.value;
    for (const auto& fc : entry.changes)
      if (fc.field == closed.field && fc.key == closed.key) info.chosen = fc.newValue;
    out.push_back(std::move(info));
  }
  if (entry.operation == Operation::kUpdate && !entry.note.empty())
    for (const auto& fc : entry.changes)
      if (fc.field == uint16_t(CustomerField::number)) {
        ConflictInfo info;
        info.kind = ConflictKind::kNumber;
        info.customer = id;
        info.field = fc.field;
        info.loser = Head{fc.oldValue, {}, 0};
        info.resolved = true;
        info.resolution = entry;
        info.chosen = fc.newValue;
        info.id = conflictId("number", id, fc.field, {}, Version{entry.at, entry.site}, {});
        out.push_back(std::move(info));
      }
}

void addFieldConflicts(std::vector<ConflictInfo>& out, const Customer& c) {
  auto list = [&](uint16_t field, const std::string& key, const FieldValue& r) {
    for (const Head& other : r.others) {
      if (other.value == r.value) continue;  // the same value twice is no conflict
      ConflictInfo info;
      info.customer = c.id;
      info.field = field;
      info.key = key;
      info.winner = r.shown();
      info.loser = other;
      if (c.lifecycle == Lifecycle::kDeleted &&
          (info.winner.version == c.lifecycleVersion || info.loser.version == c.lifecycleVersion)) {
        info.kind = ConflictKind::kDelete;
        if (info.loser.version == c.lifecycleVersion) std::swap(info.winner, info.loser);
      }
      info.id = conflictId("field", c.id, field, key, info.winner.version, info.loser.version);
      out.push_back(std::move(info));
    }
  };
  for (uint16_t f = 0; f < kCustomerFieldCount; ++f)
    if (c.fields[f].inConflict()) list(f, {}, c.fields[f]);
  for (const auto& [name, r] : c.customFields)
    if (r.inConflict()) list(kCustomFieldCode, name, r);
  for (const auto& [where, r] : c.elements)
    if (r.inConflict()) list(where.first, where.second, r);
}

namespace {

// Resolved conflicts come from the history, derived as `customer history` shows it: one pass
// notes the writes that resolutions replaced, a second (customer by customer) gathers their
// values and keeps the entries that may have resolved something.
void addResolvedConflicts(const Core& core, const storage::ReadTxn& txn,
                          std::vector<ConflictInfo>& out) {
  ReplacedWrites replaced;
  core.store_.forEachHistoryEntry(
      txn, [&](RecordId, const HistoryEntry& e) { replaced.need(core.withWrites(txn, e)); });
  std::vector<std::pair<RecordId, HistoryEntry>> resolving;
  RecordId current;
  std::vector<HistoryEntry> entries;
  auto endCustomer = [&] {
    orderHistory(entries);
    fillOldValues(entries);
    for (HistoryEntry& e : entries)
      if (mayResolve(e)) resolving.emplace_back(current, std::move(e));
    entries.clear();
  };
  core.store_.forEachHistoryEntry(txn, [&](RecordId id, const HistoryEntry& e) {
    if (id != current && !entries.empty()) endCustomer();
    current = id;
    entries.push_back(core.withWrites(txn, e));
    replaced.offer(id, entries.back());
  });
  if (!entries.empty()) endCustomer();
  for (auto& [id, e] : resolving) {
    replaced.fillClosed(id, e);
    addResolved(out, id, e);
  }
}

}  // namespace

std::vector<ConflictInfo> Conflicts::conflicts(bool includeResolved) const {
  std::vector<ConflictInfo> out;
  auto txn = core_.store_.read();
  // A conflict in a merged customer's register is the survivor's: list each survivor once.
  std::set<RecordId> shown;
  std::vector<RecordId> candidates = core_.store_.withOpenConflicts(txn);
  for (RecordId id : core_.store_.mergeSurvivors(txn)) candidates.push_back(id);
  for (RecordId held : candidates) {
    const RecordId id = core_.survivorOf(txn, held);
    if (!shown.insert(id).second) continue;
    if (auto c = core_.store_.customer(txn, id)) addFieldConflicts(out, core_.view(txn, *c));
  }
  for (const auto& group : core_.store_.sharedNumbers(txn))
    addClaimConflicts(out, byClaim(core_.store_, txn, group, CustomerField::number),
                      ConflictKind::kNumber, CustomerField::number);
  if (core_.store_.settings(txn).getBool(SettingsField::ssnUnique))
    for (const auto& group : core_.store_.sharedSsns(txn))
      addClaimConflicts(out, byClaim(core_.store_, txn, group, CustomerField::ssn),
                        ConflictKind::kSsn, CustomerField::ssn);
  if (includeResolved) addResolvedConflicts(core_, txn, out);
  return core_.revealed(std::move(out));
}

namespace {

// With age_alert_years set and a birth date known: whether the customer has reached that age
// today (UTC); nullopt when there is nothing to tell.
std::optional<bool> olderThanAlert(const Customer& c, const Settings& s, uint64_t nowMillis) {
  const uint64_t years = s.getUnsigned(SettingsField::ageAlertYears);
  const std::string& birth = c.value(CustomerField::birthDate);
  int by = 0, bm = 0, bd = 0;
  if (years == 0 || std::sscanf(birth.c_str(), "%d-%d-%d", &by, &bm, &bd) != 3) return std::nullopt;
  const std::time_t now = std::time_t(nowMillis / 1000);
  std::tm today{};
  gmtime_r(&now, &today);
  const int ty = today.tm_year + 1900, tm = today.tm_mon + 1, td = today.tm_mday;
  const int age = ty - by - ((tm < bm || (tm == bm && td < bd)) ? 1 : 0);
  return age >= int(years);
}

}  // namespace

std::vector<std::string> Reads::flags(const Customer& c) const {
  std::vector<std::string> out;
  if (c.hasOpenConflicts()) out.push_back("in_conflict");
  if (!c.isLive()) return out;
  auto txn = core_.store_.read();
  const std::string& number = c.value(CustomerField::number);
  if (number.empty()) {
    out.push_back("number_pending");
  } else {
    auto claimants =
        byClaim(core_.store_, txn, core_.store_.findByNumber(txn, number), CustomerField::number);
    if (claimants.size() > 1 && claimants.front().id != c.id) out.push_back("duplicate_number");
  }
  const std::string& ssn = c.value(CustomerField::ssn);  // as shown: plaintext when opened
  const std::string ssnTerm =
      core_.cipher_ && !FieldCipher::isSealed(ssn) ? core_.cipher_->ssnToken(ssn) : ssn;
  if (!ssn.empty() && core_.store_.settings(txn).getBool(SettingsField::ssnUnique) &&
      core_.store_.findBySsn(txn, ssnTerm).size() > 1)
    out.push_back("possible_duplicate");
  if (auto reached = olderThanAlert(c, core_.store_.settings(txn), core_.clock_.nowMillis());
      reached && !*reached)
    out.push_back("age_alert");
  // Two sites spending from one card (or a product's units) offline both count: an overdrawn
  // card and an overused product are flagged.
  bool overdrawn = false, overused = false;
  for (const CardElement& e : cardElements(c)) {
    overdrawn |= e.kind == kDiscountCode && e.balanceCents < 0;
    overused |= e.kind == kRecordCode && !e.gone() && e.unitsLeft < 0;
  }
  if (overdrawn) out.push_back("discount_overdrawn");
  if (overused) out.push_back("product_overused");
  return out;
}

Result<LocalOp> Conflicts::resolution(std::string_view conflictId,
                                      const std::optional<std::string>& take,
                                      const std::string& author) const {
  std::optional<ConflictInfo> found;
  for (auto& c : conflicts(false))
    if (c.id == conflictId) found = std::move(c);
  if (!found)
    return Status::notFound("no open conflict " + std::string(conflictId) +
                            " (see `sitesync conflicts list`)");
  const ConflictInfo& c = *found;
  if (take) {
    // As the wire checks it (a value peers would refuse would stop this site's stream).
    if (c.field == kTechnicianCode && !take->empty() && *take != "true")
      return Status::invalidArgument("--take: an assignment is true or empty");
    const auto element = parseElementKey(c.field, c.key);
    const ValueKind kind = c.field < kCustomerFieldCount ? customerFields()[c.field].kind
                           : element ? elementValueKind(c.field, element->attribute)
                           : c.field == kCustomFieldCode ? ValueKind::kNote
                                                         : ValueKind::kText;
    if (auto why = validateValue(kind, *take); !why.empty())
      return Status::invalidArgument("--take: " + why);
  }
  switch (c.kind) {
    case ConflictKind::kField:
    case ConflictKind::kDelete:
      return LocalOp{LocalOp::Kind::kResolve,
                     c.customer,
                     {Edit{c.field, c.key, take ? *take : c.winner.value}},
                     author,
                     {}};
    case ConflictKind::kNumber:
      if (!take)
        return LocalOp{LocalOp::Kind::kRenumber,
                       c.customer,
                       {},
                       author,
                       "conflict " + c.id + ": customer " + c.other.toString() + " keeps number " +
                           c.loser.value};
      break;
    case ConflictKind::kSsn:
      if (!take)
        return Status::invalidArgument(
            "a shared social security number is settled by correcting one "
            "(--take SSN) or by merging the two customers");
      break;
  }
  return LocalOp{LocalOp::Kind::kUpdate, c.customer, {Edit{c.field, {}, *take}}, author, {}};
}

Result<Customer> Conflicts::resolveConflict(std::string_view conflictId,
                                            const std::optional<std::string>& take,
                                            const std::string& author) {
  auto op = resolution(conflictId, take, author);
  if (!op.isOk()) return op.status();
  auto results = core_.engine_.submit({op.value()});
  if (!results[0].status.isOk()) return results[0].status;
  return *core_.engine_.customer(op->target);
}

// Here, not in numbers.cpp: it orders the claims on a number as the number conflicts do (byClaim).
size_t Numbering::renumberDuplicates(const std::vector<RecordId>& touched) {
  // Read first: in the common case (no duplicate) nothing is written.
  std::vector<std::pair<RecordId, std::string>> losers;
  {
    auto txn = core_.store_.read();
    for (RecordId id : touched) {
      auto c = core_.store_.customer(txn, id);
      if (!c || !c->isLive() || c->value(CustomerField::number).empty()) continue;
      const std::string& number = c->value(CustomerField::number);
      auto holders = core_.store_.findByNumber(txn, number);
      if (holders.size() < 2) continue;
      auto claimants = byClaim(core_.store_, txn, holders, CustomerField::number);
      for (size_t i = 1; i < claimants.size(); ++i)
        losers.emplace_back(claimants[i].id, "duplicate number " + number +
                                                 ": the earlier claim, customer " +
                                                 claimants.front().id.toString() +
                                                 ", keeps it; renumbered by the hub");
    }
  }
  std::sort(losers.begin(), losers.end());
  losers.erase(std::unique(losers.begin(), losers.end()), losers.end());
  if (losers.empty()) return 0;
  std::vector<LocalOp> ops;
  for (auto& [id, why] : losers)
    ops.push_back(LocalOp{LocalOp::Kind::kRenumber, id, {}, "hub", std::move(why)});
  size_t renumbered = 0;
  for (const OpResult& r : core_.engine_.submit(ops)) renumbered += r.changed ? 1 : 0;
  return renumbered;
}

}  // namespace sitesync::sync
