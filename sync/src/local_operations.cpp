// Local operations: each becomes a change validated against the settings and stamped with this
// site's next seq and clock, applied in one transaction with the others submitted with it
// (group commit), then what the commit calls for (the hub's renumbering, leases, offers).
#include <algorithm>

#include "storage/local_tables.h"
#include "sync/engine.h"
#include "sync/errors.h"
#include "sync/src/apply_context.h"
#include "sync/src/registers.h"

namespace sitesync::sync {

using storage::ReadTxn;
using storage::WriteTxn;

void LocalOperations::onLocalCommit(std::function<void()> listener) {
  core_.localCommitListener_ = std::move(listener);
}

Result<Customer> LocalOperations::create(const std::vector<Edit>& edits,
                                         const std::string& author) {
  auto results = submit({LocalOp{LocalOp::Kind::kCreate, {}, edits, author, {}}});
  if (!results[0].status.isOk()) return results[0].status;
  return *core_.engine_.customer(results[0].id);
}

Result<Customer> LocalOperations::update(RecordId id, const std::vector<Edit>& edits,
                                         const std::string& author) {
  auto results = submit({LocalOp{LocalOp::Kind::kUpdate, id, edits, author, {}}});
  if (!results[0].status.isOk()) return results[0].status;
  return *core_.engine_.customer(results[0].id);
}

Result<Customer> LocalOperations::setActive(RecordId id, bool active, const std::string& author) {
  return update(id, {Edit{uint16_t(CustomerField::status), {}, active ? "active" : "deactivated"}},
                author);
}

Result<Customer> LocalOperations::remove(RecordId id, const std::string& author) {
  auto results = submit({LocalOp{LocalOp::Kind::kDelete, id, {}, author, {}}});
  if (!results[0].status.isOk()) return results[0].status;
  return *core_.engine_.customer(id);
}

Result<Customer> LocalOperations::restore(RecordId id, const std::string& author) {
  auto results = submit({LocalOp{LocalOp::Kind::kRestore, id, {}, author, {}}});
  if (!results[0].status.isOk()) return results[0].status;
  return *core_.engine_.customer(id);
}

Result<Customer> LocalOperations::erase(RecordId id, const std::string& author) {
  auto results = submit({LocalOp{LocalOp::Kind::kErase, id, {}, author, {}}});
  if (!results[0].status.isOk()) return results[0].status;
  return *core_.engine_.customer(id);
}

Result<Settings> LocalOperations::updateSettings(const std::vector<Edit>& edits,
                                                 const std::string& author) {
  auto results = submit({LocalOp{LocalOp::Kind::kSettings, {}, edits, author, {}}});
  if (!results[0].status.isOk()) return results[0].status;
  return core_.engine_.settings();
}

std::vector<OpResult> LocalOperations::submit(const std::vector<LocalOp>& ops) {
  FollowUp work;
  bool wrote = false;
  std::vector<OpResult> outcome = core_.store_.write([&](WriteTxn& txn) {
    ApplyContext batch(core_.store_, txn);
    std::vector<OpResult> results;
    results.reserve(ops.size());
    for (const auto& op : ops) results.push_back(core_.runOp(txn, batch, op));
    if (batch.applied > 0) core_.finish(txn, batch);
    wrote = batch.applied > 0;
    work = batch.followUp(core_.store_, txn);
    return results;
  });
  if (wrote && core_.localCommitListener_) core_.localCommitListener_();
  // A restore or a resolution at the hub can bring back a number another customer holds now.
  if (work.any()) core_.followUp(work);
  return outcome;
}

namespace {
// Thrown out of a trial's transaction so that the store abandons it.
struct Abandon {
  std::vector<OpResult> results;
};
}  // namespace

std::vector<OpResult> LocalOperations::trial(const std::vector<LocalOp>& ops) {
  try {
    core_.store_.write([&](WriteTxn& txn) {
      ApplyContext batch(core_.store_, txn);
      Abandon abandon;
      abandon.results.reserve(ops.size());
      for (const auto& op : ops) abandon.results.push_back(core_.runOp(txn, batch, op));
      throw abandon;
    });
  } catch (Abandon& abandoned) {
    return std::move(abandoned.results);
  }
  return {};
}

namespace {
// Why a site restored from a backup makes no change yet (Meta::restored).
std::string restoredRefusal(const Meta& meta) {
  return "site '" + meta.siteName +
         "' was restored from a backup and may not have every change it made before: it makes "
         "no change until it has synced with " +
         (meta.isHub ? std::string("a peer") : std::string("its hub")) +
         " (`sitesync sync --data DIR --peer HUB`, or start `serve`), which gives it back its "
         "own later changes";
}
}  // namespace

Change Core::makeChange(ApplyContext& batch, Operation op, RecordId target,
                        const std::string& author) const {
  if (batch.meta.restored) throw Error(restoredRefusal(batch.meta));
  Change change;
  change.author = author;
  change.id = ChangeId{batch.meta.siteId, batch.meta.lastSeq + 1};
  change.hlc = hlcTick(batch.meta.lastHlc, clock_.nowMillis());
  change.operation = op;
  change.target = target.isNull() ? RecordId{batch.meta.siteId, change.id.seq} : target;
  return change;
}

namespace {

Status checkEditValues(const std::vector<Edit>& edits, bool settings) {
  for (const auto& e : edits) {
    const FieldInfo* fi = nullptr;
    if (settings && e.field == kSettingsUserCode) {
      if (!isValidUserName(e.key))
        return Status::invalidArgument(
            "a user name is 1 to 64 letters, digits, '.', '_', '@' or '-'");
      if (!isValidUserValue(e.value))
        return Status::invalidArgument("a user is written as '<role> <token hash>'");
      continue;
    }
    if (settings && e.field == kSettingsCustomFieldCode) {
      if (e.key.empty() || e.key.size() > 64 || !isValidUtf8(e.key))
        return Status::invalidArgument("custom field names must be 1 to 64 bytes of UTF-8");
      if (!parseDefinition(e.value))
        return Status::invalidArgument("custom field '" + e.key + "': a malformed definition");
      continue;
    }
    if (settings &&
        (e.field == kSettingsCustomerGroupCode || e.field == kSettingsDiscountTypeCode)) {
      if (e.key.empty() || e.key.size() > 64 || !validateValue(ValueKind::kText, e.key).empty())
        return Status::invalidArgument("catalogue names are 1 to 64 characters of one line");
      if (!parseCatalogueEntry(e.value))
        return Status::invalidArgument("'" + e.key + "': a malformed catalogue entry");
      continue;
    }
    if (settings) {
      if (e.field >= kSettingsFieldCount) return Status::invalidArgument("unknown settings field");
      fi = &settingsFields()[e.field];
    } else if (e.field == kTechnicianCode) {
      if (!isValidUserName(e.key))
        return Status::invalidArgument("'" + e.key + "' is not a user name");
      if (!e.value.empty() && e.value != "true")
        return Status::invalidArgument("an assignment is true or empty");
      continue;
    } else if (e.field == kCustomFieldCode) {
      if (e.key.empty() || e.key.size() > 64 || !isValidUtf8(e.key))
        return Status::invalidArgument("custom field names must be 1 to 64 bytes of UTF-8");
      auto why = validateValue(ValueKind::kNote, e.value);  // may hold several lines
      if (!why.empty()) return Status::invalidArgument("custom field '" + e.key + "' " + why);
      continue;
    } else {
      if (e.field >= kCustomerFieldCount) return Status::invalidArgument("unknown customer field");
      fi = &customerFields()[e.field];
    }
    auto why = validateValue(fi->kind, e.value);
    if (!why.empty()) return Status::invalidArgument(std::string(fi->cliName) + " " + why);
  }
  return Status::ok();
}

// A field named twice in one operation ("--phone X --set phone=Y"): the last assignment wins,
// and it is the one validated and written.
std::vector<Edit> lastAssignmentWins(const std::vector<Edit>& edits) {
  std::vector<Edit> out;
  out.reserve(edits.size());
  for (size_t i = 0; i < edits.size(); ++i) {
    bool overridden = false;
    for (size_t k = i + 1; k < edits.size() && !overridden; ++k)
      overridden = edits[k].field == edits[i].field && edits[k].key == edits[i].key;
    if (!overridden) out.push_back(edits[i]);
  }
  return out;
}

}  // namespace

std::string Core::hubName(const storage::ReadTxn& txn, SiteId hub) const {
  std::string name;
  if (auto peer = store_.local().peer(txn, hub)) name = peer->name;
  for (const AllowedPeer& p : store_.local().allowedPeers(txn))
    if (name.empty() && p.siteId == hub) name = p.name;
  return (name.empty() ? "" : "'" + name + "', ") + "site " + siteIdToHex(hub);
}

OpResult Core::runOp(WriteTxn& txn, ApplyContext& batch, const LocalOp& op) {
  if (batch.meta.restored)
    return OpResult::refused(Status::failedPrecondition(restoredRefusal(batch.meta)));
  switch (op.kind) {
    case LocalOp::Kind::kDelete:
    case LocalOp::Kind::kRestore:
    case LocalOp::Kind::kErase:
    case LocalOp::Kind::kResolve:
      return runRecordOp(txn, batch, op);
    case LocalOp::Kind::kMerge:
      return runMerge(txn, batch, op);
    case LocalOp::Kind::kElement:
      return runElementOp(txn, batch, op);
    case LocalOp::Kind::kAssignNumber:  // unless it was numbered meanwhile
      if (auto c = store_.customer(txn, op.target);
          !c || !view(txn, *c).isLive() || !c->value(CustomerField::number).empty())
        return OpResult{};
      break;
    case LocalOp::Kind::kRenumber:
      if (auto c = store_.customer(txn, op.target); !c || !c->isLive()) return OpResult{};
      break;
    default:
      break;
  }
  const bool isSettings = op.kind == LocalOp::Kind::kSettings;
  if (isSettings && !fromAuthority(batch.meta, batch.meta.siteId)) {
    const bool users = std::any_of(op.edits.begin(), op.edits.end(),
                                   [](const Edit& e) { return e.field == kSettingsUserCode; });
    return OpResult::refused(Status::failedPrecondition(
        std::string(users
                        ? "users belong to the deployment: add, remove and rotate them on the hub ("
                        : "settings belong to the deployment: change them on the hub (") +
        hubName(txn, batch.meta.deployment) + "); every site ignores " +
        (users ? "users" : "settings") + " from any other site"));
  }
  auto requested = editsToWrite(op.edits, isSettings);
  if (!requested.isOk()) return OpResult::refused(requested.status());
  if (isSettings) return runSettingsOp(txn, batch, op, requested.value());
  return runCustomerOp(txn, batch, op, std::move(requested.value()));
}

Result<std::vector<Edit>> Core::editsToWrite(const std::vector<Edit>& edits, bool settings) const {
  if (Status valid = checkEditValues(edits, settings); !valid.isOk()) return valid;
  std::vector<Edit> out = lastAssignmentWins(edits);
  if (cipher_)  // validated as typed; written sealed
    for (Edit& e : out)
      if (FieldCipher::sensitive(e.field, e.key)) e.value = cipher_->seal(e.field, e.value);
  return out;
}

OpResult Core::runSettingsOp(WriteTxn& txn, ApplyContext& batch, const LocalOp& op,
                             const std::vector<Edit>& requested) {
  Change change = makeChange(batch, Operation::kSettings, RecordId{}, op.author);
  change.target = RecordId{};
  change.note = op.note;
  for (const auto& e : requested) {
    const FieldValue held = batch.settings.held(e.field, e.key);
    if (held.value == e.value && !held.version.isNull()) continue;  // already so
    FieldWrite write{e.field, e.key, e.value, {}};
    if (!held.version.isNull()) write.replaces.push_back(held.version);
    change.writes.push_back(std::move(write));
  }
  Settings candidate = batch.settings;
  for (const auto& w : change.writes)
    candidate.slot(w.field, w.key) = FieldValue{w.value, change.version(), change.id.seq, {}};
  if (candidate.getUnsigned(SettingsField::numberMinLength) >
      candidate.getUnsigned(SettingsField::numberMaxLength))
    return OpResult::refused(
        Status::invalidArgument("number_min_length must not exceed number_max_length"));
  OpResult result;
  if (change.writes.empty()) return result;
  applyIn(txn, batch, change);
  result.changed = true;
  result.change = change.id;
  return result;
}

Result<Customer> Core::liveView(const storage::ReadTxn& txn, RecordId id) const {
  std::optional<Customer> stored = store_.customer(txn, id);
  if (!stored) return Status::notFound("no customer " + id.toString());
  Customer seen = view(txn, std::move(*stored));  // what the author sees, merged ones included
  if (!seen.isLive())
    return Status::failedPrecondition("customer " + id.toString() + " is deleted or merged");
  return seen;
}

OpResult Core::runCustomerOp(WriteTxn& txn, ApplyContext& batch, const LocalOp& op,
                             std::vector<Edit> requested) {
  OpResult result;
  std::optional<Customer> before;
  const bool assignNumber =
      op.kind == LocalOp::Kind::kAssignNumber || op.kind == LocalOp::Kind::kRenumber;
  if (op.kind == LocalOp::Kind::kUpdate || assignNumber) {
    auto seen = liveView(txn, op.target);
    if (!seen.isOk()) return OpResult::refused(seen.status());
    before = std::move(seen.value());
    result.id = op.target;
  }
  // What the record would look like, to validate it before anything is written.
  Customer after = before ? *before : Customer{};
  std::vector<Edit> edits;
  edits.reserve(requested.size() + 2);
  for (auto& e : requested) {
    const FieldValue* cur = before ? findSlot(*before, e.field, e.key) : nullptr;
    if (before && (cur ? cur->value : std::string()) == e.value) continue;  // already so
    if (!before && e.value.empty()) continue;
    slotFor(after, e.field, e.key).value = e.value;
    edits.push_back(std::move(e));
  }
  // The machine numbers a new customer that has no typed number (or, when the site has no
  // number left, leaves it pending), and one it is asked to renumber.
  const bool machineNumbered =
      assignNumber || (!before && after.value(CustomerField::number).empty());
  const uint64_t savedAutoNumber = batch.meta.nextAutoNumber;
  if (machineNumbered) {
    auto number = nextAutoNumber(txn, batch);
    if (!number.isOk()) return OpResult::refused(number.status());
    if (assignNumber && number->empty()) return result;  // still none left
    if (!number->empty()) {
      edits.push_back(Edit{uint16_t(CustomerField::number), {}, number.value()});
      after[CustomerField::number].value = number.value();
    }
  }
  if (!before && after.value(CustomerField::status).empty()) {
    edits.push_back(Edit{uint16_t(CustomerField::status), {}, "active"});
    after[CustomerField::status].value = "active";
  }
  result.status =
      validateCustomer(txn, batch, after, before ? &*before : nullptr, edits, machineNumbered);
  if (!result.status.isOk()) batch.meta.nextAutoNumber = savedAutoNumber;  // number not used
  if (!result.status.isOk() || edits.empty()) return result;
  writeCustomerChange(txn, batch, op, before ? &*before : nullptr, std::move(edits), result);
  return result;
}

void Core::writeCustomerChange(WriteTxn& txn, ApplyContext& batch, const LocalOp& op,
                               const Customer* before, std::vector<Edit> edits, OpResult& result) {
  Change change = makeChange(batch, before ? Operation::kUpdate : Operation::kCreate,
                             before ? before->id : RecordId{}, op.author);
  change.note = op.note;
  if (before) change.absorbed = absorbedSet(txn, before->id);
  change.writes.reserve(edits.size());
  for (auto& e : edits) {
    FieldWrite w{e.field, std::move(e.key), std::move(e.value), {}};
    // The author saw every head of the field (an open conflict is listed with the customer).
    if (before)
      if (const FieldValue* cur = findSlot(*before, w.field, w.key))
        w.replaces = headVersions(*cur);
    change.writes.push_back(std::move(w));
  }
  applyIn(txn, batch, change);
  result.id = change.target;
  result.changed = true;
  result.change = change.id;
}

}  // namespace sitesync::sync
