// Customers to CSV, read twice: once for the custom fields' names, once to write the rows.
#include "transfer/transfer.h"

#include <set>

#include "transfer/src/csv.h"

namespace sitesync::transfer {

namespace {

bool exported(const Customer& c, const ExportOptions& options) {
  if (c.lifecycle == Lifecycle::kDeleted) return options.includeDeleted;
  return options.includeDeactivated || c.value(CustomerField::status) != "deactivated";
}

Result<std::vector<std::string>> columnsFor(const sync::Engine& engine,
                                            const ExportOptions& options) {
  std::vector<std::string> columns;
  if (!options.fields.empty()) {
    for (const std::string& name : options.fields) {
      const bool known = name == "id" || name == "deleted" || name.starts_with("custom.") ||
                         customerFieldByName(name).has_value();
      if (!known)
        return Status::invalidArgument("--fields: no field named '" + name +
                                       "' (see `sitesync customer add --help`)");
      columns.push_back(name);
    }
    return columns;
  }
  columns.push_back("id");
  for (const FieldInfo& f : customerFields()) columns.push_back(f.cliName);
  std::set<std::string> custom;
  engine.forEachCustomer([&](const Customer& c) {
    if (exported(c, options))
      for (const auto& [name, value] : c.customFields)
        if (!value.value.empty()) custom.insert(name);
    return true;
  });
  for (const std::string& name : custom) columns.push_back("custom." + name);
  if (options.includeDeleted) columns.push_back("deleted");
  return columns;
}

std::string cell(const Customer& c, const std::string& column) {
  if (column == "id") return c.id.toString();
  if (column == "deleted") return c.lifecycle == Lifecycle::kDeleted ? "true" : "false";
  if (column.starts_with("custom.")) {
    auto it = c.customFields.find(column.substr(7));
    return it == c.customFields.end() ? std::string() : it->second.value;
  }
  return c.value(*customerFieldByName(column));
}

}  // namespace

Result<uint64_t> exportCustomers(const sync::Engine& engine, std::ostream& out,
                                 const ExportOptions& options) {
  auto columns = columnsFor(engine, options);
  if (!columns.isOk()) return columns.status();
  CsvWriter writer(out, options.excel ? ';' : ',', options.excel);
  writer.write(columns.value());
  uint64_t written = 0;
  std::vector<std::string> row;
  engine.forEachCustomer([&](const Customer& c) {
    if (!exported(c, options)) return true;
    row.clear();
    for (const std::string& column : columns.value()) row.push_back(cell(c, column));
    writer.write(row);
    ++written;
    return true;
  });
  return written;
}

}  // namespace sitesync::transfer
