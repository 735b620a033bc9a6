// Applying one change to the store, and the write-time rules of the deployment settings.
#include <algorithm>
#include <sstream>

#include "sync/engine.h"
#include "sync/errors.h"
#include "sync/src/apply_context.h"
#include "sync/src/registers.h"
#include "sync/src/signing.h"

namespace sitesync::sync {

using storage::ReadTxn;
using storage::WriteTxn;

void Core::applyIn(WriteTxn& txn, ApplyContext& batch, const Change& change,
                   std::string_view encoded) {
  const uint64_t held = batch.vector.get(change.id.origin);
  if (change.id.seq <= held) return;   // already applied: applying is idempotent
  const bool local = encoded.empty();  // made here, in this transaction: to be signed
  if (change.id.seq != held + 1)
    throw ApplyError("change " + siteIdToHex(change.id.origin) + ":" +
                     std::to_string(change.id.seq) + " arrived before seq " +
                     std::to_string(held + 1) + " of its origin");
  if (!local) refuseClockSkew(batch, change);
  // Later local changes must carry a larger HLC than any change seen (causality beats clocks).
  batch.meta.lastHlc = std::max(batch.meta.lastHlc, change.hlc);
  if (change.id.origin == batch.meta.siteId)
    batch.meta.lastSeq = std::max(batch.meta.lastSeq, change.id.seq);

  HistoryEntry history;
  bool touchesCustomer = false;
  switch (change.operation) {
    case Operation::kSettings:
      applySettings(batch, change);
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

  logApplied(txn, batch, change, encoded, local, touchesCustomer ? &history : nullptr);
}

void Core::applySettings(ApplyContext& batch, const Change& change) {
  for (const auto& w : change.writes)
    if (w.field >= kSettingsFieldCount && !batch.settings.keyed(w.field))
      throw ApplyError("settings change writes unknown field " + std::to_string(w.field));
  // Only the hub's settings count (DESIGN.md section 7); another site's are logged, so that its
  // seqs stay dense, and have no effect by themselves. At the hub they are an offer (a site sets
  // them, and its users, only before it joins): the hub keeps or refuses each once this
  // transaction has committed (Core::decideSettingsOffers), as a change of its own.
  if (!fromAuthority(batch.meta, change.id.origin)) {
    if (!batch.meta.isHub) {
      ++batch.meta.unauthorized;
      return;
    }
    for (const auto& w : change.writes)
      batch.settingsOffers.push_back(SettingsOffer{change.id.origin, w.field, w.key, w.value});
    return;
  }
  const Version version = change.version();
  for (const auto& w : change.writes) {
    FieldValue& slot = batch.settings.slot(w.field, w.key);
    if (version > slot.version) slot = FieldValue{w.value, version, change.id.seq, {}};
  }
  batch.settingsDirty = true;
}

void Core::logApplied(WriteTxn& txn, ApplyContext& batch, const Change& change,
                      std::string_view encoded, bool local, const HistoryEntry* history) {
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
  if (history) store_.appendHistory(txn, change.target, position, *history);
  // Whether or not its survivor is still there (an erase may have overtaken it).
  if (change.operation == Operation::kMerge) noteMergedAway(txn, batch, change, position);
  batch.vector.set(change.id.origin, change.id.seq);
  batch.vectorDirty.push_back(change.id.origin);
  ++batch.applied;
  if (batch.localRun.size() >= kMaxRunLength) sealLocalRun(txn, batch);
}

void Core::noteMergedAway(WriteTxn& txn, const ApplyContext& batch, const Change& change,
                          uint64_t position) {
  // The absorbed customers' own history stays as it was: the merge is one more entry in it.
  HistoryEntry entry;
  entry.at = change.hlc;
  entry.site = change.id.origin;
  entry.seq = change.id.seq;
  entry.author = change.author;
  entry.operation = Operation::kMerge;
  entry.note = "merged into " + change.target.toString();
  entry.everyWrite = true;
  for (RecordId id : change.absorbed)
    if (id != change.target && !reflectedInRecord(txn, batch, change, id))
      if (auto c = store_.customer(txn, id); c && c->lifecycle != Lifecycle::kErased)
        store_.appendHistory(txn, id, position, entry);
}

namespace {

// How far past `now` (this node's clock: its wall clock, or the latest stamp it accepted when
// later) a change's stamp goes beyond max_clock_skew, in ms; 0 when it is within.
uint64_t excessSkew(const Change& change, uint64_t now, uint64_t allowedSeconds) {
  const uint64_t stamped = change.hlc.millis();
  return stamped <= now || stamped - now <= allowedSeconds * 1000 ? 0 : stamped - now;
}

}  // namespace

void Core::refuseClockSkew(const ApplyContext& batch, const Change& change) const {
  // A clock far ahead would pull every site's clock after it for good (an HLC never goes back).
  const uint64_t allowedSeconds = batch.settings.getUnsigned(SettingsField::maxClockSkew);
  const uint64_t now = std::max(clock_.nowMillis(), batch.acceptedBefore.millis());
  const uint64_t ahead = excessSkew(change, now, allowedSeconds);
  if (ahead == 0) return;
  throw ClockSkewError(
      "change " + siteIdToHex(change.id.origin) + ":" + std::to_string(change.id.seq) +
      " of site " + siteIdToHex(change.id.origin) + " is stamped " + std::to_string(ahead / 1000) +
      " s ahead of this node's clock (max_clock_skew=" + std::to_string(allowedSeconds) +
      " s): set aside until the clocks agree; check the clock of either site");
}

bool Core::stampedTooFarAhead(const std::vector<Change>& changes) const {
  auto txn = store_.read();
  const uint64_t allowedSeconds = store_.settings(txn).getUnsigned(SettingsField::maxClockSkew);
  const Hlc accepted = store_.meta(txn).value_or(Meta{}).lastHlc;
  const uint64_t now = std::max(clock_.nowMillis(), accepted.millis());
  return std::any_of(changes.begin(), changes.end(),
                     [&](const Change& c) { return excessSkew(c, now, allowedSeconds) != 0; });
}

bool Core::reflectedInRecord(const ReadTxn& txn, const ApplyContext& batch, const Change& change,
                             RecordId id) const {
  if (batch.meta.snapshotReadUpTo.entries().empty() ||
      !batch.meta.snapshotReadUpTo.contains(change.id))
    return false;
  for (const HistoryEntry& e : store_.history(txn, id))
    if (e.site == change.id.origin && e.seq == change.id.seq) return true;
  return false;
}

void Core::finish(WriteTxn& txn, ApplyContext& batch) {
  // Once this node holds every change the snapshot's chunks were read at, none comes again.
  Meta& meta = batch.meta;
  if (!meta.snapshotPending && !meta.snapshotReadUpTo.entries().empty() &&
      std::all_of(meta.snapshotReadUpTo.entries().begin(), meta.snapshotReadUpTo.entries().end(),
                  [&](const auto& e) { return batch.vector.get(e.first) >= e.second; }))
    meta.snapshotReadUpTo.clear();
  sealLocalRun(txn, batch);
  batch.flush(store_, txn);
}

Core::Reached Core::applyToCustomer(WriteTxn& txn, ApplyContext& batch, const Change& change,
                                    HistoryEntry& history) {
  const Version version = change.version();
  std::optional<Customer> before = store_.customer(txn, change.target);
  if (!before && change.operation != Operation::kCreate)
    throw ApplyError(std::string(operationName(change.operation)) + " of unknown customer " +
                     change.target.toString());
  history.at = change.hlc;
  history.site = change.id.origin;
  history.seq = change.id.seq;
  history.author = change.author;
  history.operation = change.operation;
  history.note = change.note;
  history.everyWrite = true;
  if (before && reflectedInRecord(txn, batch, change, change.target)) {
    applyToAbsorbedOf(txn, batch, change);  // each checks its own record
    return Reached::kAbsorbedOnly;          // logged, its history entry already there
  }
  if (before && before->lifecycle == Lifecycle::kErased)
    return applyToErased(txn, batch, change, *before);
  Customer after;
  if (before) {
    after = *before;
  } else {
    after.id = change.target;
    after.created = version;
  }
  if (change.operation == Operation::kMerge) {
    std::string ids;
    for (RecordId id : change.absorbed) ids += (ids.empty() ? "" : ", ") + id.toString();
    history.note = "merged " + ids + " into this customer";
  }
  // The history lists every write with the value it wrote, whatever this node held when it
  // came (the value before it is derived on read, in version order: Reads::history), so it is
  // a function of the set of changes like the register. The writes are read from the change's
  // log entry rather than stored twice (a bulk load writes each value once).
  history.valuesInLog = true;
  std::vector<Head> removed;
  for (const auto& w : change.writes)
    writeRegister(slotFor(after, w.field, w.key), Head{w.value, version, change.id.seq}, w.replaces,
                  batch.vector, removed);

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
  noteNumbering(txn, batch, change, before ? &*before : nullptr, after);
  return Reached::kTarget;
}

Core::Reached Core::applyToErased(WriteTxn& txn, ApplyContext& batch, const Change& change,
                                  const Customer& erased) {
  if (change.operation == Operation::kErase) {
    // Concurrent erasures: the fact kept is the largest, whatever the order they came in, and
    // the history holds the entry of every erasure that named it (nothing else is left).
    if (change.version() > erased.lifecycleVersion) {
      Customer after = erased;
      after.lifecycleVersion = change.version();
      store_.putCustomer(txn, &erased, after);
    }
    applyToAbsorbedOf(txn, batch, change);
    return Reached::kTarget;
  }
  // The customers merged into it are customers of their own: what reaches them still applies.
  if (applyToAbsorbedOf(txn, batch, change)) return Reached::kAbsorbedOnly;
  ++batch.meta.droppedForErased;
  return Reached::kNothing;
}

void Core::noteNumbering(const storage::ReadTxn& txn, ApplyContext& batch, const Change& change,
                         const Customer* before, const Customer& after) const {
  const std::string& number = after.value(CustomerField::number);
  if (batch.meta.isHub && after.isLive() && !number.empty() &&
      (!before || !before->isLive() || before->value(CustomerField::number) != number))
    batch.numberClaims.emplace_back(after.id, number);
  // One of this site's customers is live without a number (created with none left, or
  // restored): it gets one as soon as this site has one.
  if (after.isLive() && number.empty() && after.id.site == batch.meta.siteId)
    batch.fillPending = true;
  if (batch.meta.isHub) noteNumberUse(txn, batch, change, before, after);
}

FieldValue& slotFor(Customer& c, uint16_t field, const std::string& key) {
  if (field == kCustomFieldCode) return c.customFields[key];
  if (field == kTechnicianCode) {
    if (!isValidUserName(key))
      throw ApplyError("change assigns a technician with a malformed name");
    return c.elements[{field, key}];
  }
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
      return Status::invalidArgument("field " + std::string(info(*f).cliName) +
                                     " is required by the settings (required_fields=" + required +
                                     ")");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  const bool contactTouched = touched(CustomerField::phone) || touched(CustomerField::phone2) ||
                              touched(CustomerField::email);
  if (s.getBool(SettingsField::requirePhoneOrEmail) && contactTouched &&
      after.value(CustomerField::phone).empty() && after.value(CustomerField::phone2).empty() &&
      after.value(CustomerField::email).empty())
    return Status::invalidArgument(
        "a phone or an e-mail is required by the settings (require_phone_or_email)");
  return Status::ok();
}

// Once the deployment defines custom fields, each custom field written must be defined, not
// retired, and hold a value of its kind; a required one must be set on a new customer and may
// not be cleared.
Status checkCustomFields(const Settings& s, const Customer& after, const Customer* before) {
  if (s.customFieldDefinitions.empty()) return Status::ok();
  for (const auto& [name, value] : after.customFields) {
    const FieldValue* was = nullptr;
    if (before)
      if (auto it = before->customFields.find(name); it != before->customFields.end())
        was = &it->second;
    if (was && was->value == value.value) continue;  // not written now
    auto held = s.customFieldDefinitions.find(name);
    auto definition =
        held == s.customFieldDefinitions.end() ? std::nullopt : parseDefinition(held->second.value);
    if (!definition)
      return Status::invalidArgument(
          "custom field '" + name +
          "' is not defined (`sitesync fields list` shows those that are)");
    if (definition->retired)
      return Status::invalidArgument("custom field '" + name +
                                     "' is retired: it takes no new values");
    if (auto why = definitionProblem(*definition, value.value); !why.empty())
      return Status::invalidArgument("custom field '" + name + "' " + why);
  }
  for (const auto& [name, held] : s.customFieldDefinitions) {
    auto definition = parseDefinition(held.value);
    if (!definition || !definition->required || definition->retired) continue;
    auto it = after.customFields.find(name);
    const bool set = it != after.customFields.end() && !it->second.value.empty();
    const bool wasSet =
        before && before->customFields.count(name) && !before->customFields.at(name).value.empty();
    if (!set && (!before || wasSet))
      return Status::invalidArgument("custom field '" + name +
                                     "' is required by the deployment (`sitesync fields list`)");
  }
  return Status::ok();
}

// A technician assigned here is a user of the deployment (`sitesync users list`).
Status checkTechnicians(const Settings& s, const Customer& after, const Customer* before) {
  for (auto it = after.elements.lower_bound({kTechnicianCode, ""});
       it != after.elements.end() && it->first.first == kTechnicianCode; ++it) {
    if (it->second.value.empty()) continue;
    const FieldValue* was = before ? findSlot(*before, kTechnicianCode, it->first.second) : nullptr;
    if (was && was->value == it->second.value) continue;  // not written now
    auto user = s.users.find(it->first.second);
    if (user == s.users.end() || user->second.value.empty())
      return Status::invalidArgument("no user '" + it->first.second +
                                     "' to assign (`sitesync users list` at the hub)");
  }
  return Status::ok();
}

// Once the deployment defines customer groups, a customer_group written must be one of them
// that is not retired.
Status checkCustomerGroup(const Settings& s, const Customer& after, const Customer* before) {
  const std::string& group = after.value(CustomerField::customerGroup);
  if (s.customerGroups.empty() || group.empty() ||
      (before && before->value(CustomerField::customerGroup) == group))
    return Status::ok();
  const auto groups = s.catalogue(kSettingsCustomerGroupCode);
  auto it = groups.find(group);
  if (it == groups.end())
    return Status::invalidArgument("customer group '" + group +
                                   "' is not in the catalogue (`sitesync groups list`)");
  if (it->second.retired)
    return Status::invalidArgument("customer group '" + group + "' is retired");
  return Status::ok();
}

}  // namespace

Status Core::validateCustomer(const ReadTxn& txn, const ApplyContext& batch, const Customer& after,
                              const Customer* before, const std::vector<Edit>& edits,
                              bool machineNumbered) const {
  const Settings& s = batch.settings;
  if (after.value(CustomerField::name).empty())
    return Status::invalidArgument("a customer needs a name");
  if (Status required = checkRequiredFields(s, after, before, edits); !required.isOk())
    return required;
  if (Status custom = checkCustomFields(s, after, before); !custom.isOk()) return custom;
  if (Status group = checkCustomerGroup(s, after, before); !group.isOk()) return group;
  if (Status assigned = checkTechnicians(s, after, before); !assigned.isOk()) return assigned;

  const std::string& number = after.value(CustomerField::number);
  // An automatic number was found free just now (or is pending); a typed one must be checked.
  const bool numberChanged =
      !machineNumbered && (!before || before->value(CustomerField::number) != number);
  if (numberChanged) {
    if (number.empty()) return Status::invalidArgument("the customer number cannot be cleared");
    const uint64_t minLen = s.getUnsigned(SettingsField::numberMinLength);
    const uint64_t maxLen = s.getUnsigned(SettingsField::numberMaxLength);
    if (number.size() < minLen || number.size() > maxLen)
      return Status::invalidArgument("customer number " + number + " has " +
                                     std::to_string(number.size()) +
                                     " digits; the settings allow " + std::to_string(minLen) +
                                     " to " + std::to_string(maxLen));
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
        return Status::alreadyExists("social security number is already held by customer " +
                                     other.toString() + " (settings: ssn_unique=true)");
  }
  return Status::ok();
}

}  // namespace sitesync::sync
