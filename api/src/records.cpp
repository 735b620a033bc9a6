// What the customer routes share (api/src/records.h).
#include "api/src/records.h"

#include <algorithm>

#include "api/register_json.h"

namespace sitesync::api {

using nlohmann::json;

std::string etagOf(const Customer& c) {
  std::string bytes;
  encode(c, bytes);
  return "\"" + sha256Hex(bytes).substr(0, 32) + "\"";
}

json parseObject(const httplib::Request& req) {
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) throw HttpFailure(400, "malformed_json", "the body is not valid JSON");
  if (!body.is_object())
    throw HttpFailure(400, "malformed_json", "the body must be a JSON object of fields");
  return body;
}

void checkIfMatch(const httplib::Request& req, const Customer& current) {
  if (req.has_header("If-Match") && req.get_header_value("If-Match") != etagOf(current))
    throw HttpFailure(412, "precondition_failed",
                      "the customer changed since it was read (ETag " + etagOf(current) + ")");
}

std::string textOf(const std::string& name, const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return {};
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number_unsigned()) return std::to_string(value.get<uint64_t>());
  throw HttpFailure(400, "wrong_type", "'" + name + "' wants a string, true/false or a number");
}

RecordId idIn(const std::string& text) {
  auto id = RecordId::parse(text);
  if (!id) throw HttpFailure(404, "not_found", "no customer " + text);
  return *id;
}

void checkAssigned(const Caller& caller, const Customer& c) {
  if (caller.role >= Role::kStaff) return;
  auto it = c.elements.find({kTechnicianCode, caller.name});
  if (it == c.elements.end() || it->second.value != "true")
    throw HttpFailure(403, "not_assigned",
                      "customer " + c.id.toString() + " is not assigned to " + caller.name +
                          ": a technician changes only the customers assigned to them");
}

Customer Records::existing(RecordId id) const {
  auto customer = engine_.customer(id);
  if (!customer) throw HttpFailure(404, "not_found", "no customer " + id.toString());
  return *customer;
}

RecordId Records::resolve(const std::string& ref) const {
  auto id = engine_.resolve(ref);
  if (!id.isOk()) throw failureFor(id.status());
  return id.value();
}

sync::OpResult Records::commit(sync::LocalOp op) {
  sync::OpResult result = committer_.submit(std::move(op));
  if (!result.status.isOk()) throw failureFor(result.status);
  return result;
}

Customer Records::commitRecord(sync::LocalOp op) {
  const bool creates = op.kind == sync::LocalOp::Kind::kCreate;
  const RecordId target = op.target;
  const sync::OpResult result = commit(std::move(op));
  return existing(creates ? result.id : target);
}

void Records::replyRecord(httplib::Response& res, int status, const Customer& c) const {
  res.set_header("ETag", etagOf(c));
  replyJson(res, status, shownCustomerJson(engine_, c));
}

Records::Turns Records::writingTo(const std::vector<RecordId>& ids) {
  std::vector<size_t> stripes;
  for (RecordId id : ids)
    stripes.push_back(std::hash<std::string>{}(id.toString()) % turns_.size());
  std::sort(stripes.begin(), stripes.end());
  stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
  Turns turns;
  for (size_t stripe : stripes) turns.emplace_back(turns_[stripe]);
  return turns;
}

}  // namespace sitesync::api
