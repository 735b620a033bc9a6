// Applying one change to the store, and the write-time rules of the deployment settings.
#include <algorithm>
#include <sstream>

#include "sync/engine.h"
#include "sync/src/apply_error.h"
#include "sync/src/batch.h"
#include "sync/src/registers.h"
#include "sync/src/signing.h"

namespace sitesync::sync {

using storage::ReadTxn;
using storage::WriteTxn;

void Engine::applyIn(WriteTxn& txn, Batch& batch, const Change& change, std::string_view encoded) {
  const uint64_t held = batch.vector.get(change.id.origin);
  if (change.id.seq <= held) return;   // already applied: applying is idempotent
  const bool local = encoded.empty();  // made here, in this transaction: to be signed
  if (change.id.seq != held + 1)
    throw ApplyError("change " + siteIdToHex(change.id.origin) + ":" +
                     std::to_string(change.id.seq) + " arrived before seq " +
                     std::to_string(held + 1) + " of its origin");
  const Version version = change.version();
  // Later local changes must carry a larger HLC than any change seen (causality beats clocks).
  batch.meta.lastHlc = std::max(batch.meta.lastHlc, change.hlc);
  if (change.id.origin == batch.meta.siteId)
    batch.meta.lastSeq = std::max(batch.meta.lastSeq, change.id.seq);

  HistoryEntry history;
  bool touchesCustomer = false;
  switch (change.operation) {
    case Operation::kSettings:
      // Only the hub's settings count (DESIGN.md section 7); another site's are logged, so that
      // its seqs stay dense, and have no effect anywhere.
      if (!fromAuthority(batch.meta, change.id.origin)) {
        ++batch.meta.unauthorized;
        break;
      }
      for (const auto& w : change.writes) {
        if (w.field >= kSettingsFieldCount)
          throw ApplyError("settings change writes unknown field " + std::to_string(w.field));
        auto& slot = batch.settings.fields[w.field];
        if (version > slot.version) slot = FieldValue{w.value, version, change.id.seq, {}};
      }
      batch.settingsDirty = true;
      break;
    case Operation::kLease:
      if (!fromAuthority(batch.meta, change.id.origin)) {
        ++batch.meta.unauthorized;
        break;
      }
      applyLease(txn, batch, change);
      break;
    case Operation::kCreate:
    case Operation::kUpdate:
    case Operation::kDelete:
    case Operation::kRestore:
    case Operation::kErase:
    case Operation::kMerge:
    case Operation::kJournal:
    case Operation::kDiscountUsage: {
      const Reached reached = applyToCustomer(txn, batch, change, history);
      touchesCustomer = reached == Reached::kTarget;
      if (reached == Reached::kNothing) {
        // A change for an erased customer: dropped and counted, logged without its values so
        // that the log still replicates its id.
        Change blank = change;
        stripPersonalData(blank);
        encode(blank, batch.encoded);
        encoded = batch.encoded;
      }
      break;
    }
    default:
      throw ApplyError(std::string("operation '") + operationName(change.operation) +
                       "' is not supported by this version");
  }

  // A peer's change is logged byte for byte as its origin encoded and signed it; a local one is
  // signed with the others of its run when the transaction ends (or the run is long enough).
  if (encoded.empty()) {
    encode(change, batch.encoded);
    encoded = batch.encoded;
  }
  const uint64_t position = ++batch.lastLogPosition;
  store_.appendLogAt(txn, position, change, encoded);
  if (local) {
    const Digest digest = changeDigest(change);
    batch.localRun.digests.append(reinterpret_cast<const char*>(digest.data()), digest.size());
    batch.localRun.lastPosition = position;
  }
  if (touchesCustomer) store_.appendHistory(txn, change.target, position, history);
  batch.vector.set(change.id.origin, change.id.seq);
  batch.vectorDirty.push_back(change.id.origin);
  ++batch.applied;
  if (batch.localRun.size() >= kMaxRunLength) sealLocalRun(txn, batch);
}

void Engine::finish(WriteTxn& txn, Batch& batch) {
  sealLocalRun(txn, batch);
  batch.flush(store_, txn);
}

Engine::Reached Engine::applyToCustomer(WriteTxn& txn, Batch& batch, const Change& change,
                                        HistoryEntry& history) {
  const Version version = change.version();
  std::optional<Customer> before = store_.customer(txn, change.target);
  if (!before && change.operation != Operation::kCreate)
    throw ApplyError(std::string(operationName(change.operation)) + " of unknown customer " +
                     change.target.toString());
  if (before && before->lifecycle == Lifecycle::kErased) {
    if (change.operation == Operation::kErase && version > before->lifecycleVersion) {
      // Concurrent erasures: the fact kept is the largest, whatever the order they came in.
      Customer after = *before;
      after.lifecycleVersion = version;
      store_.putCustomer(txn, &*before, after);
      applyToAbsorbedOf(txn, batch, change);
      return Reached::kTarget;
    }
    // The customers merged into it are customers of their own: what reaches them still applies.
    if (applyToAbsorbedOf(txn, batch, change)) return Reached::kAbsorbedOnly;
    ++batch.meta.droppedForErased;
    return Reached::kNothing;
  }
  Customer after;
  if (before) {
    after = *before;
  } else {
    after.id = change.target;
    after.created = version;
  }
  history.at = change.hlc;
  history.site = change.id.origin;
  history.seq = change.id.seq;
  history.author = change.author;
  history.operation = change.operation;
  history.note = change.note;
  if (change.operation == Operation::kMerge) {
    std::string ids;
    for (RecordId id : change.absorbed) ids += (ids.empty() ? "" : ", ") + id.toString();
    history.note = "merged " + ids + " into this customer";
  }
  // The customers merged into the target: their registers show on it, so a write that settles
  // a conflict between theirs and its own closes that conflict too (recorded in the history).
  // (A merge itself settles nothing: the customers it absorbs were not merged here before.)
  std::vector<Customer> absorbed;
  if (change.operation != Operation::kMerge)
    for (RecordId id : change.absorbed)
      if (id != change.target)
        if (auto c = store_.customer(txn, id); c && c->lifecycle != Lifecycle::kErased)
          absorbed.push_back(std::move(*c));
  std::vector<Head> removed;
  for (const auto& w : change.writes) {
    FieldValue& slot = slotFor(after, w.field, w.key);
    Head old = slot.shown();
    bool hadConflict = slot.inConflict();
    // Heads of the merged customers' registers that its own lacks (the number stays theirs).
    std::vector<Head> absorbedHeads;
    if (w.field != uint16_t(CustomerField::number) && !absorbed.empty()) {
      std::vector<Head> known = headsOf(slot);
      auto isKnown = [&](const Head& h) {
        return std::any_of(known.begin(), known.end(),
                           [&](const Head& x) { return x.version == h.version; });
      };
      for (const Customer& c : absorbed)
        if (const FieldValue* r = findSlot(c, w.field, w.key))
          for (const Head& h : headsOf(*r))
            if (!isKnown(h)) {
              known.push_back(h);
              absorbedHeads.push_back(h);
              if (old.version.isNull() || old.version < h.version) old = h;  // the one shown
            }
      hadConflict |= !absorbedHeads.empty() && known.size() > 1;
    }
    if (!writeRegister(slot, Head{w.value, version, change.id.seq}, w.replaces, batch.vector,
                       removed))
      continue;
    for (const Head& h : absorbedHeads)
      if (std::find(w.replaces.begin(), w.replaces.end(), h.version) != w.replaces.end() &&
          std::none_of(removed.begin(), removed.end(),
                       [&](const Head& x) { return x.version == h.version; }))
        removed.push_back(h);
    if (change.operation == Operation::kCreate && old.version.isNull() &&
        w.field < kCustomerFieldCount)
      history.createdFields.push_back(w.field);
    else if (slot.value != old.value)
      history.changes.push_back(FieldChange{w.field, w.key, old.value, slot.value});
    if (hadConflict)
      for (const auto& loser : removed)
        if (loser.version != old.version)
          history.closed.push_back(ClosedConflict{w.field, w.key, old, loser});
  }
  std::sort(history.createdFields.begin(), history.createdFields.end());

  // The lifecycle is one last-writer-wins register over delete and restore; erase is final.
  auto setLifecycle = [&](Lifecycle next) {
    if (version > after.lifecycleVersion) {
      after.lifecycle = next;
      after.lifecycleVersion = version;
      after.mergedInto = RecordId{};
    }
  };
  if (change.operation == Operation::kDelete) setLifecycle(Lifecycle::kDeleted);
  if (change.operation == Operation::kRestore) setLifecycle(Lifecycle::kLive);
  if (change.operation == Operation::kErase) {
    after = erasedRecord(after, version);     // a delete or restore before it leaves no trace
    store_.purgePersonalData(txn, after.id);  // the erase's own entry is the fact that remains
  }
  countState(batch.meta, before ? &*before : nullptr, -1);
  countState(batch.meta, &after, +1);
  store_.putCustomer(txn, before ? &*before : nullptr, after);
  applyToAbsorbedOf(txn, batch, change);
  const std::string& number = after.value(CustomerField::number);
  if (batch.meta.isHub && after.isLive() && !number.empty() &&
      (!before || !before->isLive() || before->value(CustomerField::number) != number))
    batch.numberClaims.emplace_back(after.id, number);
  // One of this site's customers is live without a number (created with none left, or
  // restored): it gets one as soon as this site has one.
  if (after.isLive() && number.empty() && after.id.site == batch.meta.siteId)
    batch.fillPending = true;
  if (batch.meta.isHub) noteNumberUse(txn, batch, change, before ? &*before : nullptr, after);
  return Reached::kTarget;
}

FieldValue& slotFor(Customer& c, uint16_t field, const std::string& key) {
  if (field == kCustomFieldCode) return c.customFields[key];
  if (isElementCode(field)) {
    if (!parseElementKey(field, key))
      throw ApplyError("change writes a malformed " + std::string(elementKindName(field)) +
                       " key '" + key.substr(0, 64) + "'");
    return c.elements[{field, key}];
  }
  if (field >= kCustomerFieldCount)
    throw ApplyError("change writes unknown customer field " + std::to_string(field));
  return c.fields[field];
}

// ---------------------------------------------------------------------------------------------
// Settings enforced at write time (local operations only: a peer's change was checked at its
// origin, under the settings that origin had).

namespace {

// required_fields and require_phone_or_email bind a new customer and the fields an edit writes
// (`edits`; clearing one is refused), not every edit of a customer made before a field became
// required.
Status checkRequiredFields(const Settings& s, const Customer& after, const Customer* before,
                           const std::vector<Edit>& edits) {
  auto invalid = [](std::string m) { return Status(StatusCode::kInvalidArgument, std::move(m)); };
  auto touched = [&](CustomerField f) {
    return !before || std::any_of(edits.begin(), edits.end(),
                                  [&](const Edit& e) { return e.field == uint16_t(f); });
  };
  const std::string required = s.get(SettingsField::requiredFields);
  size_t start = 0;
  while (start < required.size()) {
    size_t comma = required.find(',', start);
    std::string name = required.substr(start, comma == std::string::npos ? comma : comma - start);
    if (auto f = customerFieldByName(name); f && touched(*f) && after.value(*f).empty())
      return invalid("field " + std::string(info(*f).cliName) +
                     " is required by the settings (required_fields=" + required + ")");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  const bool contactTouched = touched(CustomerField::phone) || touched(CustomerField::phone2) ||
                              touched(CustomerField::email);
  if (s.getBool(SettingsField::requirePhoneOrEmail) && contactTouched &&
      after.value(CustomerField::phone).empty() && after.value(CustomerField::phone2).empty() &&
      after.value(CustomerField::email).empty())
    return invalid("a phone or an e-mail is required by the settings (require_phone_or_email)");
  return Status::ok();
}

}  // namespace

Status Engine::validateCustomer(const ReadTxn& txn, const Batch& batch, const Customer& after,
                                const Customer* before, const std::vector<Edit>& edits,
                                bool machineNumbered) const {
  const Settings& s = batch.settings;
  auto invalid = [](std::string m) { return Status(StatusCode::kInvalidArgument, std::move(m)); };
  if (after.value(CustomerField::name).empty()) return invalid("a customer needs a name");
  if (Status required = checkRequiredFields(s, after, before, edits); !required.isOk())
    return required;

  const std::string& number = after.value(CustomerField::number);
  // An automatic number was found free just now (or is pending); a typed one must be checked.
  const bool numberChanged =
      !machineNumbered && (!before || before->value(CustomerField::number) != number);
  if (numberChanged) {
    if (number.empty()) return invalid("the customer number cannot be cleared");
    const uint64_t minLen = s.getUnsigned(SettingsField::numberMinLength);
    const uint64_t maxLen = s.getUnsigned(SettingsField::numberMaxLength);
    if (number.size() < minLen || number.size() > maxLen)
      return invalid("customer number " + number + " has " + std::to_string(number.size()) +
                     " digits; the settings allow " + std::to_string(minLen) + " to " +
                     std::to_string(maxLen));
    for (RecordId other : store_.findByNumber(txn, number))
      if (other != after.id)
        return Status(
            StatusCode::kAlreadyExists,
            "customer number " + number + " is already held by customer " + other.toString());
  }
  const std::string& ssn = after.value(CustomerField::ssn);
  if (!ssn.empty() && s.getBool(SettingsField::ssnUnique) &&
      (!before || before->value(CustomerField::ssn) != ssn)) {
    for (RecordId other : store_.findBySsn(txn, ssn))
      if (other != after.id)
        return Status(StatusCode::kAlreadyExists,
                      "social security number is already held by customer " + other.toString() +
                          " (settings: ssn_unique=true)");
  }
  return Status::ok();
}

}  // namespace sitesync::sync
