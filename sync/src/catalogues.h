// The deployment's catalogues (customer groups, discount types) as they bind what is written
// here: the rules of protocol/fields.h's CatalogueEntry applied to a new discount card.
#pragma once

#include <cstdint>
#include <vector>

#include "protocol/model.h"
#include "protocol/status.h"
#include "sync/operations.h"

namespace sitesync::sync {

// A new discount card's attributes (`edits`, of kDiscountCode): once the deployment has discount
// types, its type must be one that is not retired, and the value, price and validity it leaves
// out are the type's (valid until the day `validMonths` months after today, UTC).
Status applyDiscountType(const Settings& settings, uint64_t nowMillis, std::vector<Edit>& edits);

// "YYYY-MM-DD" `months` months after the day of `nowMillis` (UTC), the day clamped to the month.
std::string dateMonthsAfter(uint64_t nowMillis, uint64_t months);

}  // namespace sitesync::sync
