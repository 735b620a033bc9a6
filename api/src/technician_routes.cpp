// Technicians: POST /v1/customers/{id}/technicians and DELETE .../technicians/{name} (staff)
// assign and unassign one, as `sitesync customer assign|unassign` does; GET /v1/notifications
// lists what a technician has been assigned (their own for a technician, `?technician=NAME` for
// staff and admins), as `sitesync notifications list --json` prints it.
#include "api/register_json.h"
#include "api/src/records.h"

namespace sitesync::api {

namespace {

using nlohmann::json;

void assign(Records& records, const httplib::Request& req, httplib::Response& res,
            const Caller& caller, const std::string& technician, bool assigned) {
  const RecordId id = idIn(req.matches[1]);
  const auto turn = records.writingTo({id});
  checkIfMatch(req, records.existing(id));
  records.replyRecord(res, 200,
                      records.commitRecord(sync::LocalOp{
                          sync::LocalOp::Kind::kUpdate,
                          id,
                          {sync::Edit{kTechnicianCode, technician, assigned ? "true" : ""}},
                          caller.name}));
}

void notifications(const Records& records, const httplib::Request& req, httplib::Response& res,
                   const Caller& caller) {
  std::string technician = caller.name;
  if (req.has_param("technician")) {
    technician = req.get_param_value("technician");
    if (technician != caller.name && caller.role < Role::kStaff)
      throw HttpFailure(403, "forbidden", "a technician reads only their own notifications");
  }
  const SiteNames names = siteNames(records.engine());
  json list = json::array();
  for (const auto& a : records.engine().assignmentsOf(technician))
    list.push_back({{"customer", a.customer.toString()},
                    {"name", a.name},
                    {"number", a.number},
                    {"assigned_at", a.at.toIso8601()},
                    {"site", siteLabel(names, a.site)},
                    {"by", a.by}});
  replyJson(res, 200, {{"technician", technician}, {"notifications", list}});
}

}  // namespace

void addTechnicianRoutes(const AddRoute& add, Records& records) {
  const std::string all = "/v1/customers/([0-9a-f]{16}-[0-9]+)/technicians";
  add(Method::kPost, all, Role::kStaff,
      [&records](const auto& req, auto& res, const Caller& caller) {
        const json body = parseObject(req);
        if (body.size() != 1 || !body.contains("technician") || !body["technician"].is_string())
          throw HttpFailure(400, "bad_request", "the body is {\"technician\": NAME}");
        assign(records, req, res, caller, body["technician"].get<std::string>(), true);
      });
  add(Method::kDelete, all + "/([^/]+)", Role::kStaff,
      [&records](const auto& req, auto& res, const Caller& caller) {
        assign(records, req, res, caller, req.matches[2], false);
      });
  add(Method::kGet, "/v1/notifications", Role::kTechnician,
      [&records](const auto& req, auto& res, const Caller& caller) {
        notifications(records, req, res, caller);
      });
}

}  // namespace sitesync::api
