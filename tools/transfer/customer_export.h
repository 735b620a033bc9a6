// Exporting customers as CSV: every field, custom fields and addresses included, one row per
// customer; what `customer import` reads back into another site.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "sync/engine.h"

namespace sitesync::transfer {

struct ExportOptions {
  bool includeDeactivated = false;  // --all
  bool includeDeleted = false;      // --deleted (adds a `deleted` column)
  std::vector<std::string> fields;  // --fields: these columns, in this order (empty: all)
  bool excel = false;               // byte-order mark and ';', as spreadsheet programs expect
};

// The columns: `id`, every customer field by its CLI name, then `custom.NAME` for each custom
// field any exported customer has (sorted), then `deleted` with includeDeleted; or `fields`.
// Returns the number of customers written. kInvalidArgument for an unknown name in `fields`.
Result<uint64_t> exportCustomers(const sync::Engine& engine, std::ostream& out,
                                 const ExportOptions& options);

}  // namespace sitesync::transfer
