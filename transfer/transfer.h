// transfer: customers in and out of a site as CSV files (RFC 4180, through libcsv). An import
// maps the header row to fields (by name, with aliases in English, Dutch, Swedish and Finnish,
// or by hand), makes each row a create or, when it matches a customer, an update, and writes
// them through the engine's local operations in large transactions (signed, numbered and
// replicated like any local write); rows that fail are reported and skipped. An export writes
// every field, custom fields and addresses included, in a form the import reads back.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "sync/engine.h"

namespace sitesync::transfer {

enum class MatchBy { kNone, kNumber, kEmail, kExternalId };
// "number", "email", "external_id"; nullopt for anything else.
std::optional<MatchBy> matchByNamed(const std::string& name);
const char* matchByName(MatchBy match);  // "number", ..., "none"

struct ImportOptions {
  std::map<std::string, std::string> columnFields;  // --map COLUMN=FIELD, by the header's text
  std::optional<MatchBy> match;  // nullopt: by number when a column maps to it, else none
  bool dryRun = false;           // check every row, write nothing
  bool strict = false;           // write nothing if any row fails
  std::string author;
  size_t rowsPerTransaction = 5000;
};

struct RowError {
  uint64_t line = 0;
  std::string reason;
};

struct ImportReport {
  char delimiter = ',';
  MatchBy match = MatchBy::kNone;
  std::vector<std::pair<std::string, std::string>> columns;  // header text -> field
  std::vector<std::string> ignoredColumns;
  uint64_t rows = 0, created = 0, updated = 0, unchanged = 0;
  std::vector<RowError> refused;
  bool wrote = false;  // false after --dry-run, or --strict with a refused row
};

struct ImportProgress {
  uint64_t rows = 0;
  uint64_t bytesRead = 0;
};

// Imports the CSV in `in`. Throws Error (one line, naming the line or column) when the file is
// not CSV or its header cannot be used; rows that fail are in the report.
ImportReport importCustomers(sync::Engine& engine, std::istream& in, const ImportOptions& options,
                             const std::function<void(const ImportProgress&)>& progress = {});

// --- export

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
