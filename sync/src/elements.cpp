// The card's collections: contacts, journal entries and discount cards. Each attribute of an
// element is a register of its own (protocol.h, kContactCode...), so the rules of fields hold for
// them unchanged: concurrent edits of one attribute are a conflict, elements added at two sites
// both stay, a merge moves them to the survivor through the view's join, an erase removes them.
// Journal edits are allowed only within the settings' windows, checked where they are made.
#include <algorithm>
#include <charconv>

#include "sync/engine.h"
#include "sync/src/apply_context.h"
#include "sync/src/registers.h"

namespace sitesync::sync {

using storage::WriteTxn;

namespace {

Status refused(StatusCode code, std::string message) {
  return Status(code, std::move(message));
}

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
  return (kind == kContactCode && flag("removed")) || (kind == kJournalCode && flag("deleted"));
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
    }
  }
  for (CardElement& e : out) {
    if (e.kind != kDiscountCode) continue;
    std::sort(e.usages.begin(), e.usages.end(),
              [](const CardElement::Usage& a, const CardElement::Usage& b) { return a.id < b.id; });
    e.balanceCents = cents(e.attributes, "value_cents");
    for (const auto& u : e.usages) e.balanceCents -= u.amountCents;
  }
  return out;
}

Result<RecordId> LocalOperations::addElement(RecordId customer, uint16_t kind,
                                             const std::vector<Edit>& attributes,
                                             const std::string& author) {
  LocalOp op{LocalOp::Kind::kElement, customer, attributes, author};
  for (Edit& e : op.edits) e.field = kind;
  auto results = submit({op});
  if (!results[0].status.isOk()) return results[0].status;
  return results[0].element;
}

Result<Customer> LocalOperations::editElement(RecordId customer, uint16_t kind, RecordId element,
                                              const std::vector<Edit>& attributes,
                                              const std::string& author) {
  LocalOp op{LocalOp::Kind::kElement, customer, attributes, author};
  op.element = element;
  for (Edit& e : op.edits) e.field = kind;
  auto results = submit({op});
  if (!results[0].status.isOk()) return results[0].status;
  return *core_.engine_.customer(customer);
}

Result<RecordId> LocalOperations::useDiscount(RecordId customer, RecordId card,
                                              uint64_t amountCents, const std::string& visit,
                                              const std::string& author) {
  LocalOp op{LocalOp::Kind::kElement,
             customer,
             {Edit{kDiscountCode, "usage", std::to_string(amountCents) + "|" + visit}},
             author};
  op.element = card;
  auto results = submit({op});
  if (!results[0].status.isOk()) return results[0].status;
  return results[0].element;
}

OpResult Core::runElementOp(WriteTxn& txn, ApplyContext& batch, const LocalOp& op) {
  OpResult result;
  result.id = op.target;
  if (op.edits.empty() || !elementKindName(op.edits.front().field)) {
    result.status = refused(StatusCode::kInvalidArgument, "nothing to change");
    return result;
  }
  const uint16_t kind = op.edits.front().field;
  const std::string kindName = elementKindName(kind);
  std::optional<Customer> stored = store_.customer(txn, op.target);
  if (!stored) {
    result.status = refused(StatusCode::kNotFound, "no customer " + op.target.toString());
    return result;
  }
  const Customer c = view(txn, std::move(*stored));
  if (!c.isLive()) {
    result.status = refused(
        StatusCode::kFailedPrecondition,
        "customer " + c.id.toString() + " is deleted, erased or merged" +
            (c.mergedInto.isNull() ? std::string() : ": use " + survivorOf(txn, c.id).toString()));
    return result;
  }
  // The new element's (or usage's) id is made from the change about to be written.
  const RecordId fresh{batch.meta.siteId, batch.meta.lastSeq + 1};
  const bool adding = op.element.isNull();
  const RecordId id = adding ? fresh : op.element;
  const CardElement* existing = nullptr;
  const auto all = cardElements(c);
  for (const auto& e : all)
    if (e.kind == kind && e.id == id) existing = &e;
  if (!adding && (!existing || existing->gone())) {
    result.status = refused(StatusCode::kNotFound, "customer " + c.id.toString() + " has no " +
                                                       kindName + " " + id.toString());
    return result;
  }

  Operation operation = kind == kJournalCode ? Operation::kJournal : Operation::kUpdate;
  std::vector<std::pair<std::string, std::string>> writes;  // attribute key -> value
  const uint64_t now = clock_.nowMillis();
  for (const Edit& e : op.edits) {
    if (e.field != kind) {
      result.status = refused(StatusCode::kInvalidArgument, "one element at a time");
      return result;
    }
    if (e.key == "usage" && kind == kDiscountCode && !adding) {
      int64_t amount = 0;
      std::string visit;
      if (!parseUsage(e.value, amount, visit) || !validateValue(ValueKind::kText, visit).empty() ||
          visit.size() > 200) {
        result.status = refused(StatusCode::kInvalidArgument,
                                "a usage needs a positive amount in cents and a visit of at "
                                "most 200 characters");
        return result;
      }
      if (amount > existing->balanceCents) {
        result.status =
            refused(StatusCode::kFailedPrecondition, "discount card " + id.toString() + " has " +
                                                         money(existing->balanceCents) +
                                                         " left; cannot use " + money(amount));
        return result;
      }
      auto until = existing->attributes.find("valid_until");
      if (until != existing->attributes.end() && until->second < today(now)) {
        result.status = refused(StatusCode::kFailedPrecondition,
                                "discount card " + id.toString() + " expired on " + until->second);
        return result;
      }
      operation = Operation::kDiscountUsage;
      writes.emplace_back(id.toString() + "/usage/" + fresh.toString(), e.value);
      result.element = fresh;
      continue;
    }
    if (!userSettable(kind, e.key)) {
      result.status =
          refused(StatusCode::kInvalidArgument,
                  "a " + kindName + " has no attribute '" + e.key + "' that can be set here");
      return result;
    }
    if (auto why = validateValue(elementValueKind(kind, e.key), e.value); !why.empty()) {
      result.status = refused(StatusCode::kInvalidArgument, kindName + " " + e.key + " " + why);
      return result;
    }
    if (kind == kJournalCode && !adding) {
      // Edit and delete windows count from when the entry was written (its "at" register).
      const FieldValue* at = findSlot(c, kJournalCode, id.toString() + "/at");
      const uint64_t written = at ? at->version.hlc.millis() : 0;
      const bool deleting = e.key == "deleted";
      const uint64_t hours =
          batch.settings.getUnsigned(deleting ? SettingsField::journalDeleteWindowHours
                                              : SettingsField::journalEditWindowHours);
      if (now > written && now - written > hours * 3600 * 1000) {
        result.status = refused(
            StatusCode::kFailedPrecondition,
            "journal entry " + id.toString() + " was written " +
                std::to_string((now - written) / 3600000) + " h ago; the settings allow " +
                (deleting ? "deleting" : "editing") + " for " + std::to_string(hours) + " h (" +
                (deleting ? "journal_delete_window_hours" : "journal_edit_window_hours") + ")");
        return result;
      }
    }
    const std::string key = id.toString() + "/" + e.key;
    writes.emplace_back(
        key, cipher_ && FieldCipher::sensitive(kind, key) ? cipher_->seal(kind, e.value) : e.value);
  }
  if (adding) {
    auto has = [&](const char* attribute) {
      return std::any_of(op.edits.begin(), op.edits.end(),
                         [&](const Edit& e) { return e.key == attribute && !e.value.empty(); });
    };
    const char* required = kind == kContactCode ? "name" : kind == kJournalCode ? "text" : "type";
    if (!has(required) || (kind == kDiscountCode && !has("value_cents"))) {
      result.status = refused(StatusCode::kInvalidArgument,
                              "a new " + kindName + " needs " +
                                  (kind == kDiscountCode ? "a type and a value" : required));
      return result;
    }
    if (kind == kJournalCode) {
      writes.emplace_back(id.toString() + "/author", op.author);
      writes.emplace_back(id.toString() + "/at", Hlc::from(now, 0).toIso8601());
    }
    result.element = id;
  }

  Change change = makeChange(batch, operation, c.id, op.author);
  for (auto& [key, value] : writes) {
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

}  // namespace sitesync::sync
