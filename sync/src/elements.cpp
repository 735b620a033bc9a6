// The card's collections: contacts, journal entries, discount cards and linked records. Each
// attribute of an element is a register of its own (protocol.h, kContactCode...), so the rules of
// fields hold for them unchanged: concurrent edits of one attribute are a conflict, elements added
// at two sites both stay, a merge moves them to the survivor through the view's join, an erase
// removes them. Journal edits are allowed only within the settings' windows, checked where they are
// made.
#include <algorithm>
#include <charconv>

#include "sync/engine.h"
#include "sync/src/apply_context.h"
#include "sync/src/catalogues.h"
#include "sync/src/linked_records.h"
#include "sync/src/registers.h"

namespace sitesync::sync {

using storage::WriteTxn;

namespace {

// A usage's value: "<cents>|<visit>".
bool parseUsage(std::string_view value, int64_t& cents, std::string& visit) {
  const auto bar = value.find('|');
  const std::string_view amount = value.substr(0, bar);
  auto [end, ec] = std::from_chars(amount.data(), amount.data() + amount.size(), cents);
  if (ec != std::errc() || end != amount.data() + amount.size() || cents <= 0) return false;
  visit = bar == std::string_view::npos ? std::string() : std::string(value.substr(bar + 1));
  return true;
}

int64_t cents(const std::map<std::string, std::string>& attributes, const char* name) {
  auto it = attributes.find(name);
  int64_t v = 0;
  if (it != attributes.end())
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  return v;
}

// Attributes a user may set on each kind (the machine writes a journal entry's author and at).
bool userSettable(uint16_t kind, const std::string& attribute) {
  if (attribute == "usage" || attribute == "author" || attribute == "at") return false;
  return parseElementKey(kind, RecordId{1, 1}.toString() + "/" + attribute).has_value();
}

std::string money(int64_t cents) {
  const uint64_t magnitude = cents < 0 ? uint64_t(-cents) : uint64_t(cents);
  // Appended piece by piece: GCC 12 at -O3 sees a false overlap (-Wrestrict) in an operator+
  // chain that starts with a literal.
  std::string text = cents < 0 ? "-" : "";
  text += std::to_string(magnitude / 100);
  text += '.';
  text += std::to_string(100 + magnitude % 100).substr(1);
  return text;
}

std::string today(uint64_t nowMillis) {
  return Hlc::from(nowMillis, 0).toIso8601().substr(0, 10);
}

}  // namespace

bool CardElement::gone() const {
  auto flag = [&](const char* name) {
    auto it = attributes.find(name);
    return it != attributes.end() && it->second == "true";
  };
  return (kind == kContactCode && flag("removed")) ||
         ((kind == kJournalCode || kind == kRecordCode) && flag("deleted"));
}

std::string CardElement::attribute(const std::string& name) const {
  auto it = attributes.find(name);
  return it == attributes.end() ? std::string() : it->second;
}

std::vector<CardElement> cardElements(const Customer& customer) {
  std::vector<CardElement> out;
  for (const auto& [where, r] : customer.elements) {
    auto key = parseElementKey(where.first, where.second);
    if (!key) continue;
    if (out.empty() || out.back().kind != key->code || out.back().id != key->element) {
      out.push_back(CardElement{});
      out.back().kind = key->code;
      out.back().id = key->element;
    }
    CardElement& e = out.back();
    e.inConflict |= r.inConflict();
    if (key->attribute == "usage") {
      CardElement::Usage u;
      u.id = key->usage;
      u.at = r.version.hlc;
      u.site = r.version.origin;
      if (parseUsage(r.value, u.amountCents, u.visit)) e.usages.push_back(std::move(u));
    } else if (!r.value.empty()) {
      e.attributes[key->attribute] = r.value;
      if (key->attribute == "kind") e.addedAt = r.version.hlc;
    }
  }
  for (CardElement& e : out) {
    std::sort(e.usages.begin(), e.usages.end(),
              [](const CardElement::Usage& a, const CardElement::Usage& b) { return a.id < b.id; });
    int64_t left = cents(e.attributes, e.kind == kDiscountCode ? "value_cents" : "units");
    for (const auto& u : e.usages) left -= u.amountCents;
    (e.kind == kDiscountCode ? e.balanceCents : e.unitsLeft) = left;
  }
  return out;
}

LocalOp elementOp(RecordId customer, uint16_t kind, RecordId element, std::vector<Edit> attributes,
                  const std::string& author) {
  LocalOp op{LocalOp::Kind::kElement, customer, std::move(attributes), author};
  op.element = element;
  for (Edit& e : op.edits) e.field = kind;
  return op;
}

LocalOp discountUseOp(RecordId customer, RecordId card, uint64_t amountCents,
                      const std::string& visit, const std::string& author) {
  return elementOp(customer, kDiscountCode, card,
                   {Edit{kDiscountCode, "usage", std::to_string(amountCents) + "|" + visit}},
                   author);
}

Result<RecordId> LocalOperations::addElement(RecordId customer, uint16_t kind,
                                             const std::vector<Edit>& attributes,
                                             const std::string& author) {
  auto results = submit({elementOp(customer, kind, RecordId{}, attributes, author)});
  if (!results[0].status.isOk()) return results[0].status;
  return results[0].element;
}

Result<Customer> LocalOperations::editElement(RecordId customer, uint16_t kind, RecordId element,
                                              const std::vector<Edit>& attributes,
                                              const std::string& author) {
  auto results = submit({elementOp(customer, kind, element, attributes, author)});
  if (!results[0].status.isOk()) return results[0].status;
  return *core_.engine_.customer(customer);
}

Result<RecordId> LocalOperations::useDiscount(RecordId customer, RecordId card,
                                              uint64_t amountCents, const std::string& visit,
                                              const std::string& author) {
  auto results = submit({discountUseOp(customer, card, amountCents, visit, author)});
  if (!results[0].status.isOk()) return results[0].status;
  return results[0].element;
}

namespace {

// Spending `value` ("<cents>|<visit>") from `card`: within its balance and its validity.
Status checkUsage(const CardElement& card, const std::string& value, uint64_t now) {
  int64_t amount = 0;
  std::string visit;
  if (!parseUsage(value, amount, visit) || !validateValue(ValueKind::kText, visit).empty() ||
      visit.size() > 200)
    return Status::invalidArgument(
        "a usage needs a positive amount in cents and a visit of at most 200 characters");
  if (amount > card.balanceCents)
    return Status::failedPrecondition("discount card " + card.id.toString() + " has " +
                                      money(card.balanceCents) + " left; cannot use " +
                                      money(amount));
  auto until = card.attributes.find("valid_until");
  if (until != card.attributes.end() && until->second < today(now))
    return Status::failedPrecondition("discount card " + card.id.toString() + " expired on " +
                                      until->second);
  return Status::ok();
}

// Using units of a record: a product with units, within those left and its validity.
Status checkRecordUsage(const CardElement& record, const std::string& value, uint64_t now) {
  int64_t units = 0;
  std::string note;
  const std::string id = "record " + record.id.toString();
  if (!parseUsage(value, units, note) || !validateValue(ValueKind::kText, note).empty() ||
      note.size() > 200)
    return Status::invalidArgument(
        "a usage needs a positive number of units and a note of at most 200 characters");
  if (record.attribute("units").empty())
    return Status::failedPrecondition(id + " has no units to use (set units=N on a product)");
  if (units > record.unitsLeft)
    return Status::failedPrecondition(id + " has " + std::to_string(record.unitsLeft) +
                                      " units left; cannot use " + std::to_string(units));
  const std::string until = record.attribute("valid_until");
  if (!until.empty() && until < today(now))
    return Status::failedPrecondition(id + " expired on " + until);
  return Status::ok();
}

// Editing or deleting a journal entry: only within the settings' windows, which count from when
// the entry was written (its "at" register).
Status checkJournalWindow(const Customer& c, RecordId entry, const std::string& attribute,
                          const Settings& settings, uint64_t now) {
  const FieldValue* at = findSlot(c, kJournalCode, entry.toString() + "/at");
  const uint64_t written = at ? at->version.hlc.millis() : 0;
  const bool deleting = attribute == "deleted";
  const uint64_t hours = settings.getUnsigned(deleting ? SettingsField::journalDeleteWindowHours
                                                       : SettingsField::journalEditWindowHours);
  if (now <= written || now - written <= hours * 3600 * 1000) return Status::ok();
  return Status::failedPrecondition(
      "journal entry " + entry.toString() + " was written " +
      std::to_string((now - written) / 3600000) + " h ago; the settings allow " +
      (deleting ? "deleting" : "editing") + " for " + std::to_string(hours) + " h (" +
      (deleting ? "journal_delete_window_hours" : "journal_edit_window_hours") + ")");
}

// A new element needs its defining attributes: a contact a name, a journal entry a text, a
// discount card a type and a value, a record a kind.
Status checkNewElement(uint16_t kind, const std::string& kindName, const std::vector<Edit>& edits) {
  auto has = [&](const char* attribute) {
    return std::any_of(edits.begin(), edits.end(),
                       [&](const Edit& e) { return e.key == attribute && !e.value.empty(); });
  };
  const char* required = kind == kContactCode   ? "name"
                         : kind == kJournalCode ? "text"
                         : kind == kRecordCode  ? "kind"
                                                : "type";
  if (has(required) && (kind != kDiscountCode || has("value_cents"))) return Status::ok();
  return Status::invalidArgument("a new " + kindName + " needs " +
                                 (kind == kDiscountCode ? "a type and a value" : required));
}

}  // namespace

Result<Customer> Core::elementOwner(const storage::ReadTxn& txn, RecordId id) const {
  std::optional<Customer> stored = store_.customer(txn, id);
  if (!stored) return Status::notFound("no customer " + id.toString());
  Customer c = view(txn, std::move(*stored));
  if (!c.isLive())
    return Status::failedPrecondition(
        "customer " + c.id.toString() + " is deleted, erased or merged" +
        (c.mergedInto.isNull() ? std::string() : ": use " + survivorOf(txn, c.id).toString()));
  return c;
}

OpResult Core::runElementOp(WriteTxn& txn, ApplyContext& batch, const LocalOp& requested) {
  if (requested.edits.empty() || !elementKindName(requested.edits.front().field))
    return OpResult::refused(Status::invalidArgument("nothing to change"));
  const uint16_t kind = requested.edits.front().field;
  LocalOp op = requested;
  if (kind == kDiscountCode && op.element.isNull())
    if (Status typed = applyDiscountType(batch.settings, clock_.nowMillis(), op.edits);
        !typed.isOk())
      return OpResult::refused(typed);
  // A record written for a customer merged here lands on the survivor, as one written before
  // the merge arrived does (through the view's join).
  auto owner = elementOwner(txn, kind == kRecordCode ? survivorOf(txn, op.target) : op.target);
  if (!owner.isOk()) return OpResult::refused(owner.status());
  const Customer& c = owner.value();
  ElementEdit edit;
  edit.kind = kind;
  edit.kindName = elementKindName(kind);
  edit.fresh = RecordId{batch.meta.siteId, batch.meta.lastSeq + 1};
  edit.id = op.element;
  if (edit.id.isNull()) edit.id = edit.fresh;
  edit.operation = kind == kJournalCode ? Operation::kJournal : Operation::kUpdate;
  const auto all = cardElements(c);
  for (const auto& e : all)
    if (e.kind == kind && e.id == edit.id) edit.existing = &e;
  const bool adding = op.element.isNull();
  if (!adding && (!edit.existing || edit.existing->gone()))
    return OpResult::refused(Status::notFound("customer " + c.id.toString() + " has no " +
                                              edit.kindName + " " + edit.id.toString()));
  OpResult result;
  result.id = c.id;
  result.status = planElementWrites(c, op, batch.settings, edit);
  if (result.status.isOk() && kind == kRecordCode) result.status = checkDebtor(txn, c, op.edits);
  if (!result.status.isOk()) return result;
  if (adding) {
    result.status = checkNewElement(kind, edit.kindName, op.edits);
    if (!result.status.isOk()) return result;
    if (kind == kJournalCode) {
      edit.writes.emplace_back(edit.id.toString() + "/author", op.author);
      edit.writes.emplace_back(edit.id.toString() + "/at",
                               Hlc::from(clock_.nowMillis(), 0).toIso8601());
    }
  }
  result.element = edit.usage.isNull() ? (adding ? edit.id : RecordId{}) : edit.usage;
  Change change = makeChange(batch, edit.operation, c.id, op.author);
  for (auto& [key, value] : edit.writes) {
    const FieldValue* cur = findSlot(c, kind, key);
    if (cur && cur->value == value && !cur->inConflict()) continue;  // already so
    if (!cur && value.empty()) continue;
    change.writes.push_back(
        FieldWrite{kind, key, value, cur ? headVersions(*cur) : std::vector<Version>{}});
  }
  if (change.writes.empty()) return result;
  // Writes that reach an element of a customer merged here reach that customer's register too.
  commitToCustomer(txn, batch, change, result);
  return result;
}

Status Core::planElementWrites(const Customer& c, const LocalOp& op, const Settings& settings,
                               ElementEdit& edit) const {
  const uint64_t now = clock_.nowMillis();
  const bool adding = op.element.isNull();
  for (const Edit& e : op.edits) {
    if (e.field != edit.kind) return Status::invalidArgument("one element at a time");
    if (e.key == "usage" && (edit.kind == kDiscountCode || edit.kind == kRecordCode) && !adding) {
      Status ok = edit.kind == kDiscountCode ? checkUsage(*edit.existing, e.value, now)
                                             : checkRecordUsage(*edit.existing, e.value, now);
      if (!ok.isOk()) return ok;
      edit.operation = Operation::kDiscountUsage;
      edit.writes.emplace_back(edit.id.toString() + "/usage/" + edit.fresh.toString(), e.value);
      edit.usage = edit.fresh;
      continue;
    }
    if (!userSettable(edit.kind, e.key))
      return Status::invalidArgument("a " + edit.kindName + " has no attribute '" + e.key +
                                     "' that can be set here");
    if (auto why = validateValue(elementValueKind(edit.kind, e.key), e.value); !why.empty())
      return Status::invalidArgument(edit.kindName + " " + e.key + " " + why);
    if (edit.kind == kRecordCode)
      if (Status ok = checkRecordAttribute(edit.existing, e); !ok.isOk()) return ok;
    if (edit.kind == kJournalCode && !adding)
      if (Status ok = checkJournalWindow(c, edit.id, e.key, settings, now); !ok.isOk()) return ok;
    const std::string key = edit.id.toString() + "/" + e.key;
    edit.writes.emplace_back(key, cipher_ && FieldCipher::sensitive(edit.kind, key)
                                      ? cipher_->seal(edit.kind, e.value)
                                      : e.value);
  }
  return Status::ok();
}

}  // namespace sitesync::sync
