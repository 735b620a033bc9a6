// Local record-wide operations: delete, restore, erase, and the resolution of a conflict. Each
// becomes one change that names the heads its author saw (DESIGN.md section 6), so a delete or
// a resolution creates no conflict by itself and a write made without seeing it stays a head.

#include "sync/engine.h"
#include "sync/src/apply_context.h"
#include "sync/src/registers.h"

namespace sitesync::sync {

using storage::WriteTxn;

namespace {

// A delete replaces every value its author saw: an edit made without seeing it stays beside it
// as a conflict, it never resurrects the customer by itself.
std::vector<FieldWrite> deleteWrites(const Customer& c) {
  std::vector<FieldWrite> writes;
  forEachRegister(c, [&](uint16_t f, const std::string& key, const FieldValue& r) {
    writes.push_back(FieldWrite{f, key, r.value, headVersions(r)});
  });
  return writes;
}

// A restore brings back the edits made concurrently with the delete: for each field in
// conflict, the latest head that is not the delete's own.
std::vector<FieldWrite> restoreWrites(const Customer& c) {
  std::vector<FieldWrite> writes;
  forEachRegister(c, [&](uint16_t f, const std::string& key, const FieldValue& r) {
    if (!r.inConflict()) return;
    std::string value = r.value;
    for (const auto& h : headsOf(r))  // largest first
      if (h.version != c.lifecycleVersion) {
        value = h.value;
        break;
      }
    writes.push_back(FieldWrite{f, key, std::move(value), headVersions(r)});
  });
  return writes;
}

}  // namespace

Result<Customer> Core::recordOpTarget(const storage::ReadTxn& txn, RecordId id) const {
  std::optional<Customer> stored = store_.customer(txn, id);
  if (!stored) return Status::notFound("no customer " + id.toString());
  if (stored->lifecycle == Lifecycle::kMerged)
    return Status::failedPrecondition("customer " + id.toString() + " was merged into " +
                                      survivorOf(txn, id).toString() + ": use that customer");
  Customer c = view(txn, std::move(*stored));
  if (c.lifecycle == Lifecycle::kErased)
    return Status::failedPrecondition("customer " + id.toString() + " is erased");
  return c;
}

Result<FieldWrite> Core::resolutionWrite(const Customer& c, const LocalOp& op) const {
  if (op.edits.size() != 1) return Status::invalidArgument("a resolution settles one field");
  const Edit& e = op.edits.front();
  const FieldValue* r = findSlot(c, e.field, e.key);
  if (!r || !r->inConflict())
    return Status::failedPrecondition("that field of customer " + c.id.toString() +
                                      " has no open conflict");
  // A value chosen from the conflict list is plaintext: written sealed like any other.
  const std::string value =
      cipher_ && FieldCipher::sensitive(e.field, e.key) ? cipher_->seal(e.field, e.value) : e.value;
  return FieldWrite{e.field, e.key, value, headVersions(*r)};
}

OpResult Core::runRecordOp(WriteTxn& txn, ApplyContext& batch, const LocalOp& op) {
  auto target = recordOpTarget(txn, op.target);
  if (!target.isOk()) return OpResult::refused(target.status());
  const Customer& c = target.value();
  const std::string name = "customer " + c.id.toString();
  Change change;
  switch (op.kind) {
    case LocalOp::Kind::kDelete:
      if (!c.isLive())
        return OpResult::refused(Status::failedPrecondition(name + " is already deleted"));
      change = makeChange(batch, Operation::kDelete, c.id, op.author);
      change.writes = deleteWrites(c);
      break;
    case LocalOp::Kind::kRestore:
      if (c.lifecycle != Lifecycle::kDeleted)
        return OpResult::refused(Status::failedPrecondition(
            name + " is not deleted (only a deleted customer is restored)"));
      change = makeChange(batch, Operation::kRestore, c.id, op.author);
      change.writes = restoreWrites(c);
      break;
    case LocalOp::Kind::kErase:
      change = makeChange(batch, Operation::kErase, c.id, op.author);
      break;
    case LocalOp::Kind::kResolve: {
      auto write = resolutionWrite(c, op);
      if (!write.isOk()) return OpResult::refused(write.status());
      change = makeChange(batch, Operation::kUpdate, c.id, op.author);
      change.writes.push_back(std::move(write.value()));
      break;
    }
    default:
      return OpResult::refused(Status::internal("not a record operation"));
  }
  change.note = op.note;
  OpResult result;
  result.id = op.target;
  commitToCustomer(txn, batch, change, result);
  return result;
}

void Core::commitToCustomer(WriteTxn& txn, ApplyContext& batch, Change& change, OpResult& result) {
  change.absorbed = absorbedSet(txn, change.target);
  applyIn(txn, batch, change);
  result.changed = true;
  result.change = change.id;
}

}  // namespace sitesync::sync
