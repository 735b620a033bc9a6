// Local record-wide operations: delete, restore, erase, and the resolution of a conflict. Each
// becomes one change that names the heads its author saw (DESIGN.md section 6), so a delete or
// a resolution creates no conflict by itself and a write made without seeing it stays a head.

#include "sync/engine.h"
#include "sync/src/apply_context.h"
#include "sync/src/registers.h"

namespace sitesync::sync {

using storage::WriteTxn;

namespace {

Status refused(StatusCode code, std::string message) {
  return Status(code, std::move(message));
}

}  // namespace

OpResult Core::runRecordOp(WriteTxn& txn, ApplyContext& batch, const LocalOp& op) {
  OpResult result;
  result.id = op.target;
  std::optional<Customer> before = store_.customer(txn, op.target);
  if (!before) {
    result.status = refused(StatusCode::kNotFound, "no customer " + op.target.toString());
    return result;
  }
  if (before->lifecycle == Lifecycle::kMerged) {
    result.status = refused(StatusCode::kFailedPrecondition,
                            "customer " + op.target.toString() + " was merged into " +
                                survivorOf(txn, op.target).toString() + ": use that customer");
    return result;
  }
  before = view(txn, std::move(*before));
  const Customer& c = *before;
  const std::string name = "customer " + c.id.toString();
  if (c.lifecycle == Lifecycle::kErased) {
    result.status = refused(StatusCode::kFailedPrecondition, name + " is erased");
    return result;
  }
  Operation operation = Operation::kUpdate;
  std::vector<FieldWrite> writes;
  switch (op.kind) {
    case LocalOp::Kind::kDelete:
      if (!c.isLive()) {
        result.status = refused(StatusCode::kFailedPrecondition, name + " is already deleted");
        return result;
      }
      operation = Operation::kDelete;
      // The delete replaces every value its author saw: an edit made without seeing it stays
      // beside it as a conflict, it never resurrects the customer by itself.
      forEachRegister(c, [&](uint16_t f, const std::string& key, const FieldValue& r) {
        writes.push_back(FieldWrite{f, key, r.value, headVersions(r)});
      });
      break;
    case LocalOp::Kind::kRestore:
      if (c.lifecycle != Lifecycle::kDeleted) {
        result.status = refused(StatusCode::kFailedPrecondition,
                                name + " is not deleted (only a deleted customer is restored)");
        return result;
      }
      operation = Operation::kRestore;
      // Edits made concurrently with the delete come back: for each field in conflict, the
      // latest head that is not the delete's own.
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
      break;
    case LocalOp::Kind::kErase:
      operation = Operation::kErase;
      break;
    case LocalOp::Kind::kResolve: {
      if (op.edits.size() != 1) {
        result.status = refused(StatusCode::kInvalidArgument, "a resolution settles one field");
        return result;
      }
      const Edit& e = op.edits.front();
      const FieldValue* r = findSlot(c, e.field, e.key);
      if (!r || !r->inConflict()) {
        result.status = refused(StatusCode::kFailedPrecondition,
                                "that field of " + name + " has no open conflict");
        return result;
      }
      // A value chosen from the conflict list is plaintext: written sealed like any other.
      const std::string value = cipher_ && FieldCipher::sensitive(e.field, e.key)
                                    ? cipher_->seal(e.field, e.value)
                                    : e.value;
      writes.push_back(FieldWrite{e.field, e.key, value, headVersions(*r)});
      break;
    }
    default:
      result.status = refused(StatusCode::kInternal, "not a record operation");
      return result;
  }
  Change change = makeChange(batch, operation, c.id, op.author);
  change.writes = std::move(writes);
  change.note = op.note;
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
