// The card's collections as registers: the kinds of element, their register keys
// ("<element>/<attribute>", a usage "<element>/usage/<usage>") and the kind of value each holds.
#include <algorithm>
#include <vector>

#include "protocol/protocol.h"

namespace sitesync {

const char* elementKindName(uint16_t code) {
  switch (code) {
    case kContactCode:
      return "contact";
    case kJournalCode:
      return "journal";
    case kDiscountCode:
      return "discount";
    case kRecordCode:
      return "record";
    default:
      return nullptr;
  }
}

std::optional<ElementKey> parseElementKey(uint16_t code, std::string_view key) {
  static const std::vector<std::string_view> contact = {
      "name", "phone", "email", "send_service_protocol", "send_work_orders", "removed"};
  static const std::vector<std::string_view> journal = {"text", "author", "at", "deleted"};
  static const std::vector<std::string_view> discount = {"type", "value_cents", "price_paid_cents",
                                                         "valid_until"};
  static const std::vector<std::string_view> record = {
      "kind",     "title", "text",        "status", "date",   "starts_at",  "amount_cents",
      "due_date", "paid",  "valid_until", "units",  "debtor", "technician", "deleted"};
  const auto slash = key.find('/');
  if (slash == std::string_view::npos || key.size() > 128) return std::nullopt;
  auto element = RecordId::parse(key.substr(0, slash));
  if (!element || element->isNull()) return std::nullopt;
  ElementKey out{code, *element, std::string(key.substr(slash + 1)), {}};
  const std::vector<std::string_view>* names = code == kContactCode    ? &contact
                                               : code == kJournalCode  ? &journal
                                               : code == kDiscountCode ? &discount
                                               : code == kRecordCode   ? &record
                                                                       : nullptr;
  if (!names) return std::nullopt;
  if ((code == kDiscountCode || code == kRecordCode) && out.attribute.rfind("usage/", 0) == 0) {
    auto usage = RecordId::parse(std::string_view(out.attribute).substr(6));
    if (!usage || usage->isNull()) return std::nullopt;
    out.attribute = "usage";
    out.usage = *usage;
    return out;
  }
  if (std::find(names->begin(), names->end(), out.attribute) == names->end()) return std::nullopt;
  return out;
}

ValueKind elementValueKind(uint16_t code, std::string_view attribute) {
  if (attribute == "phone") return ValueKind::kPhone;
  if (attribute == "email") return ValueKind::kEmail;
  if (attribute == "valid_until" || attribute == "date" || attribute == "due_date")
    return ValueKind::kDate;
  if (attribute == "at" || attribute == "starts_at") return ValueKind::kTimestamp;
  if (attribute == "value_cents" || attribute == "price_paid_cents" ||
      attribute == "amount_cents" || attribute == "units")
    return ValueKind::kUnsigned;
  if (attribute == "send_service_protocol" || attribute == "send_work_orders" ||
      attribute == "removed" || attribute == "deleted" || attribute == "paid")
    return ValueKind::kBool;
  if ((code == kJournalCode || code == kRecordCode) && attribute == "text") return ValueKind::kNote;
  return ValueKind::kText;
}

std::string ElementKey::toString() const {
  // Appended piece by piece: GCC 12 at -O3 sees a false overlap (-Wrestrict) in the chain of
  // operator+ on temporaries this used to be.
  std::string text = element.toString();
  text += '/';
  text += attribute;
  if (!usage.isNull()) {
    text += '/';
    text += usage.toString();
  }
  return text;
}

}  // namespace sitesync
