// Merges of duplicate customers (DESIGN.md section 6). A merge is a change on the survivor
// whose writes (the chosen value of every field, replacing every value its author saw on the
// survivor and on the absorbed customers) reach the absorbed customers too, and which makes
// them tombstones pointing to the survivor. The absorbed keep their registers: a write made
// to one of them without seeing the merge lands there beside the merge's own and shows on the
// survivor as a conflict. Every rule here is a function of the set of changes.
#include <algorithm>
#include <map>
#include <set>

#include "sync/engine.h"
#include "sync/errors.h"
#include "sync/src/apply_context.h"
#include "sync/src/registers.h"

namespace sitesync::sync {

using storage::ReadTxn;
using storage::WriteTxn;

namespace {

// Merge chains are short; a bound keeps a corrupt store from looping.
constexpr size_t kMaxChain = 1000;

}  // namespace

std::vector<RecordId> Core::absorbedSet(const ReadTxn& txn, RecordId id) const {
  std::vector<RecordId> out;
  std::set<RecordId> seen{id};
  std::vector<RecordId> todo{id};
  while (!todo.empty() && out.size() < kMaxChain) {
    RecordId next = todo.back();
    todo.pop_back();
    for (RecordId a : store_.absorbedInto(txn, next))
      if (seen.insert(a).second) {
        out.push_back(a);
        todo.push_back(a);
      }
  }
  std::sort(out.begin(), out.end());
  return out;
}

RecordId Core::survivorOf(const ReadTxn& txn, RecordId id) const {
  std::vector<Customer> chain;
  RecordId at = id;
  for (size_t i = 0; i < kMaxChain; ++i) {
    auto c = store_.customer(txn, at);
    if (!c || c->lifecycle != Lifecycle::kMerged || c->mergedInto.isNull()) return at;
    auto again =
        std::find_if(chain.begin(), chain.end(), [&](const Customer& x) { return x.id == c->id; });
    if (again != chain.end()) {
      // Concurrent merges formed a cycle, [again, end): taken in version order, a merge whose
      // survivor was already absorbed follows it, so the customer absorbed by the cycle's
      // newest merge stays.
      return std::max_element(again, chain.end(),
                              [](const Customer& a, const Customer& b) {
                                return a.lifecycleVersion < b.lifecycleVersion;
                              })
          ->id;
    }
    chain.push_back(std::move(*c));
    at = chain.back().mergedInto;
  }
  return at;
}

Customer Core::view(const ReadTxn& txn, Customer record) const {
  if (record.lifecycle == Lifecycle::kErased) return record;
  if (record.lifecycle == Lifecycle::kMerged && survivorOf(txn, record.id) == record.id) {
    record.lifecycle = Lifecycle::kLive;  // the survivor of a merge cycle (see survivorOf)
    record.mergedInto = RecordId{};
  }
  for (RecordId id : absorbedSet(txn, record.id)) {
    auto absorbed = store_.customer(txn, id);
    if (!absorbed || absorbed->lifecycle == Lifecycle::kErased) continue;
    forEachRegister(*absorbed, [&](uint16_t f, const std::string& key, const FieldValue& r) {
      if (f == uint16_t(CustomerField::number)) return;  // reserved, not the survivor's
      FieldValue& mine = slotFor(record, f, key);
      std::vector<Head> heads = headsOf(mine);
      for (const Head& h : headsOf(r)) heads.push_back(h);
      setHeads(mine, std::move(heads));  // one head per version
    });
  }
  followDebtors(txn, record);
  return record;
}

bool Core::applyToAbsorbedOf(WriteTxn& txn, ApplyContext& batch, const Change& change) {
  bool reached = false;
  for (RecordId id : change.absorbed)
    if (id != change.target) reached |= applyToAbsorbed(txn, batch, change, id);
  // A merge can close a cycle whose survivor still waits for a number (see survivorOf).
  if (change.operation == Operation::kMerge) batch.fillPending = true;
  return reached;
}

bool Core::applyToAbsorbed(WriteTxn& txn, ApplyContext& batch, const Change& change, RecordId id) {
  if (reflectedInRecord(txn, batch, change, id)) return true;  // it came whole with the change
  const Version version = change.version();
  std::optional<Customer> before = store_.customer(txn, id);
  if (!before)
    throw ApplyError(std::string(operationName(change.operation)) + " names unknown customer " +
                     id.toString());
  if (before->lifecycle == Lifecycle::kErased) {  // erase is final; the largest one is kept
    if (change.operation == Operation::kErase && version > before->lifecycleVersion) {
      Customer after = *before;
      after.lifecycleVersion = version;
      store_.putCustomer(txn, &*before, after);
    }
    return false;
  }
  Customer after = *before;
  std::vector<Head> removed;
  for (const auto& w : change.writes)
    if (w.field != uint16_t(CustomerField::number))  // an absorbed number stays reserved
      writeRegister(slotFor(after, w.field, w.key), Head{w.value, version, change.id.seq},
                    w.replaces, batch.vector, removed);
  if (change.operation == Operation::kMerge && version > after.lifecycleVersion) {
    after.lifecycle = Lifecycle::kMerged;
    after.lifecycleVersion = version;
    after.mergedInto = change.target;
  }
  if (change.operation == Operation::kErase) {
    after = erasedRecord(after, version);
    store_.purgePersonalData(txn, after.id);
  }
  if (after == *before) return true;
  countState(batch.meta, &*before, -1);
  countState(batch.meta, &after, +1);
  store_.putCustomer(txn, &*before, after);
  return true;
}

namespace {

// A register of the merged customers, with the value the survivor takes and every version the
// author sees there (the merge's write replaces them all).
struct MergeSlot {
  std::string chosen;
  bool chosenSet = false;
  std::vector<Version> replaces;
  bool absorbedHolds = false;
};

// The merge's writes: every register any of them holds, with the survivor's own value, else the
// first absorbed customer's that is set, unless `chosen` names another.
std::vector<FieldWrite> mergeWrites(const Customer& survivor, const std::vector<Customer>& absorbed,
                                    const std::vector<Edit>& chosen) {
  std::map<std::pair<uint16_t, std::string>, MergeSlot> slots;
  auto collect = [&](const Customer& c, bool isSurvivor) {
    forEachRegister(c, [&](uint16_t f, const std::string& key, const FieldValue& r) {
      if (!isSurvivor && f == uint16_t(CustomerField::number)) return;  // stays reserved
      // Contacts, journal entries and cards move to the survivor by the view's join (their
      // ids are unique): the merge writes none of them.
      if (isElementCode(f)) return;
      MergeSlot& slot = slots[{f, key}];
      for (const Version& v : headVersions(r)) slot.replaces.push_back(v);
      if (!isSurvivor) slot.absorbedHolds = true;
      if (!slot.chosenSet && !r.value.empty()) {  // the survivor's own, else the first set
        slot.chosen = r.value;
        slot.chosenSet = true;
      }
    });
  };
  collect(survivor, true);
  for (const auto& c : absorbed) collect(c, false);
  for (const Edit& e : chosen) {
    MergeSlot& slot = slots[{e.field, e.key}];
    slot.chosen = e.value;
    slot.chosenSet = true;
  }
  std::vector<FieldWrite> writes;
  for (auto& [where, slot] : slots) {
    const FieldValue* mine = findSlot(survivor, where.first, where.second);
    const bool unchanged = mine && mine->value == slot.chosen && !mine->inConflict();
    if (unchanged && !slot.absorbedHolds) continue;
    std::sort(slot.replaces.begin(), slot.replaces.end());
    slot.replaces.erase(std::unique(slot.replaces.begin(), slot.replaces.end()),
                        slot.replaces.end());
    writes.push_back(FieldWrite{where.first, where.second, slot.chosen, slot.replaces});
  }
  return writes;
}

}  // namespace

Result<std::vector<Customer>> Core::mergeParties(const storage::ReadTxn& txn,
                                                 const LocalOp& op) const {
  auto load = [&](RecordId id) -> Result<Customer> {
    auto c = store_.customer(txn, id);
    if (!c) return Status::notFound("no customer " + id.toString());
    Customer shown = view(txn, std::move(*c));
    if (!shown.isLive())
      return Status::failedPrecondition("customer " + id.toString() +
                                        " is deleted, erased or merged");
    return shown;
  };
  if (op.absorbed.empty()) return Status::invalidArgument("name the customers to merge");
  std::vector<Customer> parties;
  auto survivor = load(op.target);
  if (!survivor.isOk()) return survivor.status();
  parties.push_back(std::move(survivor.value()));
  for (RecordId id : op.absorbed) {
    if (id == op.target)
      return Status::invalidArgument("customer " + id.toString() + " cannot be merged into itself");
    if (std::any_of(parties.begin() + 1, parties.end(),
                    [&](const Customer& c) { return c.id == id; }))
      continue;
    auto c = load(id);
    if (!c.isOk()) return c.status();
    parties.push_back(std::move(c.value()));
  }
  return parties;
}

OpResult Core::runMerge(WriteTxn& txn, ApplyContext& batch, const LocalOp& op) {
  auto parties = mergeParties(txn, op);
  if (!parties.isOk()) return OpResult::refused(parties.status());
  const Customer& survivor = parties.value().front();
  const std::vector<Customer> absorbed(parties.value().begin() + 1, parties.value().end());
  Change change = makeChange(batch, Operation::kMerge, op.target, op.author);
  change.note = op.note;
  change.writes = mergeWrites(survivor, absorbed, op.edits);
  // The writes reach everything the author sees on these customers: the absorbed and the
  // customers merged into any of them before.
  std::set<RecordId> reach;
  for (const auto& c : absorbed) {
    reach.insert(c.id);
    for (RecordId id : absorbedSet(txn, c.id)) reach.insert(id);
  }
  for (RecordId id : absorbedSet(txn, op.target)) reach.insert(id);
  change.absorbed.assign(reach.begin(), reach.end());
  applyIn(txn, batch, change);
  OpResult result;
  result.id = op.target;
  result.changed = true;
  result.change = change.id;
  return result;
}

Result<LocalOp> Merging::mergeOp(RecordId survivor, const std::vector<RecordId>& absorbed,
                                 const std::vector<std::pair<Edit, RecordId>>& take,
                                 const std::string& author) const {
  LocalOp op{LocalOp::Kind::kMerge, survivor, {}, author, {}, absorbed};
  auto txn = core_.store_.read();
  for (const auto& [edit, from] : take) {
    if (from != survivor && std::find(absorbed.begin(), absorbed.end(), from) == absorbed.end())
      return Status::invalidArgument("--take names customer " + from.toString() +
                                     ", which is not merged here");
    auto c = core_.store_.customer(txn, from);
    if (!c) return Status::notFound("no customer " + from.toString());
    const Customer shown = core_.view(txn, std::move(*c));
    const FieldValue* r = findSlot(shown, edit.field, edit.key);
    op.edits.push_back(Edit{edit.field, edit.key, r ? r->value : std::string()});
  }
  return op;
}

Result<Customer> Merging::merge(RecordId survivor, const std::vector<RecordId>& absorbed,
                                const std::vector<std::pair<Edit, RecordId>>& take,
                                const std::string& author) {
  auto op = mergeOp(survivor, absorbed, take, author);
  if (!op.isOk()) return op.status();
  auto results = core_.engine_.submit({op.value()});
  if (!results[0].status.isOk()) return results[0].status;
  return *core_.engine_.customer(survivor);
}

}  // namespace sitesync::sync
