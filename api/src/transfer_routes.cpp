// CSV over the API: POST /v1/customers/import (a text/csv body, answered with the import's
// report) and GET /v1/customers/export (text/csv), as `sitesync customer import|export`.
#include <sstream>

#include "api/register_json.h"
#include "api/src/http.h"
#include "api/src/records.h"
#include "storage/transaction.h"
#include "transfer/transfer.h"

namespace sitesync::api {

namespace {

// --map COLUMN=FIELD, as the query's `map` parameters (repeatable).
std::map<std::string, std::string> columnMap(const httplib::Request& req) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < req.get_param_value_count("map"); ++i) {
    const std::string pair = req.get_param_value("map", i);
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0)
      throw HttpFailure(400, "bad_query", "map is COLUMN=FIELD, not '" + pair + "'");
    out[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return out;
}

void importCsv(Records& records, const httplib::Request& req, httplib::Response& res,
               const Caller& caller) {
  transfer::ImportOptions options;
  options.columnFields = columnMap(req);
  options.dryRun = flagParam(req, "dry_run");
  options.strict = flagParam(req, "strict");
  options.author = caller.name;
  if (req.has_param("match")) {
    options.match = transfer::matchByNamed(req.get_param_value("match"));
    if (!options.match)
      throw HttpFailure(400, "bad_query", "match is number, email or external_id");
  }
  std::istringstream body(req.body);
  try {
    const transfer::ImportReport report =
        transfer::importCustomers(records.bulkWriter(), body, options);
    replyJson(res, 200, importReportJson(report, options.dryRun));
  } catch (const storage::StoreError&) {
    throw;
  } catch (const Error& e) {
    throw HttpFailure(422, "invalid_csv", e.what());
  }
}

void exportCsv(const Records& records, const httplib::Request& req, httplib::Response& res) {
  transfer::ExportOptions options;
  options.includeDeactivated = flagParam(req, "all");
  options.includeDeleted = flagParam(req, "deleted");
  options.excel = flagParam(req, "excel");
  if (req.has_param("fields")) {
    std::istringstream list(req.get_param_value("fields"));
    for (std::string field; std::getline(list, field, ',');) options.fields.push_back(field);
  }
  std::ostringstream out;
  auto written = transfer::exportCustomers(records.engine(), out, options);
  if (!written.isOk()) throw HttpFailure(400, "bad_query", written.status().message());
  res.status = 200;
  res.set_header("Content-Disposition", "attachment; filename=\"customers.csv\"");
  res.set_content(out.str(), "text/csv; charset=utf-8");
}

}  // namespace

void addTransferRoutes(const AddRoute& add, Records& records) {
  add(Method::kPost, "/v1/customers/import", Role::kStaff,
      [&records](const auto& req, auto& res, const Caller& c) { importCsv(records, req, res, c); });
  add(Method::kGet, "/v1/customers/export", Role::kStaff,
      [&records](const auto& req, auto& res, const Caller&) { exportCsv(records, req, res); });
}

}  // namespace sitesync::api
