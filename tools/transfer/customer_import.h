// Importing customers from CSV: the header row mapped to fields (by name, with aliases in
// English, Dutch, Swedish and Finnish, or --map), each row made a create or, when it matches a
// customer, an update, written through the engine's group commit in large transactions (signed,
// numbered and replicated like any local write). Rows that fail are reported and skipped.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <optional>
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

}  // namespace sitesync::transfer
