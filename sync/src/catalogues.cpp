// Discount types from the catalogue: a card sold of a type gets the type's value, price and
// validity unless the seller gives others.
#include "sync/src/catalogues.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace sitesync::sync {

std::string dateMonthsAfter(uint64_t nowMillis, uint64_t months) {
  using namespace std::chrono;
  const year_month_day today{floor<days>(sys_time<milliseconds>(milliseconds(nowMillis)))};
  const year_month target = year_month(today.year(), today.month()) + std::chrono::months(months);
  const year_month_day_last last{target.year(), month_day_last(target.month())};
  const unsigned day = std::min(unsigned(today.day()), unsigned(last.day()));
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", int(target.year()), unsigned(target.month()),
                day);
  return text;
}

Status applyDiscountType(const Settings& settings, uint64_t nowMillis, std::vector<Edit>& edits) {
  if (settings.discountTypes.empty()) return Status::ok();
  auto given = [&](const char* attribute) {
    return std::find_if(edits.begin(), edits.end(),
                        [&](const Edit& e) { return e.key == attribute; });
  };
  auto type = given("type");
  if (type == edits.end()) return Status::ok();  // refused later: a card needs a type
  const auto types = settings.catalogue(kSettingsDiscountTypeCode);
  auto entry = types.find(type->value);
  if (entry == types.end())
    return Status::invalidArgument("discount type '" + type->value +
                                   "' is not in the catalogue (`sitesync discount-types list`)");
  const CatalogueEntry& t = entry->second;
  if (t.retired) return Status::invalidArgument("discount type '" + type->value + "' is retired");
  auto fill = [&](const char* attribute, const std::string& value) {
    if (given(attribute) == edits.end() && !value.empty())
      edits.push_back(Edit{kDiscountCode, attribute, value});
  };
  fill("value_cents", t.valueCents ? std::to_string(t.valueCents) : "");
  fill("price_paid_cents", t.priceCents ? std::to_string(t.priceCents) : "");
  fill("valid_until", t.validMonths ? dateMonthsAfter(nowMillis, t.validMonths) : "");
  return Status::ok();
}

}  // namespace sitesync::sync
