// /v1/customers: search, read, create, edit with If-Match, the lifecycle steps, merges and the
// history. Reads go to the engine; every write is one LocalOp through the node's group commit,
// authored by the caller.
#include <algorithm>
#include <charconv>

#include "api/register_json.h"
#include "api/src/records.h"

namespace sitesync::api {

namespace {

using nlohmann::json;

constexpr size_t kDefaultLimit = 50;
constexpr size_t kMaxLimit = 500;
// A search pages over at most this many matches (the engine ranks and cuts its results).
constexpr size_t kSearchWindow = 10000;
constexpr const char* kIdPattern = "([0-9a-f]{16}-[0-9]+)";

// {"field": "value" | null, ...} as edits (null clears). Only an admin sets numbers.
std::vector<sync::Edit> editsFrom(const json& body, const Caller& caller) {
  std::vector<sync::Edit> edits;
  for (const auto& [field, value] : body.items()) {
    if (!value.is_string() && !value.is_null())
      throw HttpFailure(400, "wrong_type", "field '" + field + "' wants a string or null");
    auto edit = customerEdit(field, value.is_null() ? "" : value.get<std::string>());
    if (!edit.isOk()) throw HttpFailure(400, "unknown_field", edit.status().message());
    if (edit.value().field == uint16_t(CustomerField::number) && caller.role < Role::kAdmin)
      throw HttpFailure(403, "forbidden", "only an admin sets customer numbers");
    edits.push_back(std::move(edit.value()));
  }
  return edits;
}

size_t limitParam(const httplib::Request& req) {
  if (!req.has_param("limit")) return kDefaultLimit;
  const std::string text = req.get_param_value("limit");
  size_t limit = 0;
  auto [at, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
  if (ec != std::errc() || at != text.data() + text.size() || limit == 0 || limit > kMaxLimit)
    throw HttpFailure(400, "bad_query", "limit is a number from 1 to 500");
  return limit;
}

std::optional<RecordId> cursorParam(const httplib::Request& req) {
  if (!req.has_param("after")) return std::nullopt;
  auto text = fromBase64url(req.get_param_value("after"));
  auto id = text ? RecordId::parse(*text) : std::nullopt;
  if (!id) throw HttpFailure(400, "bad_query", "after is not a cursor this API gave");
  return id;
}

class CustomerRoutes {
 public:
  explicit CustomerRoutes(Records& records) : records_(records), engine_(records.engine()) {}

  void search(const httplib::Request& req, httplib::Response& res) const;
  void get(const httplib::Request& req, httplib::Response& res) const {
    records_.replyRecord(res, 200, records_.existing(req.matches[1]));
  }
  void getByNumber(const httplib::Request& req, httplib::Response& res) const {
    const RecordId id = records_.resolve("#" + std::string(req.matches[1]));
    records_.replyRecord(res, 200, records_.existing(id));
  }
  void duplicates(const httplib::Request& req, httplib::Response& res) const {
    nlohmann::json pairs = nlohmann::json::array();
    for (const auto& d : engine_.possibleDuplicates(limitParam(req)))
      pairs.push_back(duplicatePairJson(engine_, d));
    replyJson(res, 200, {{"duplicates", std::move(pairs)}});
  }
  void history(const httplib::Request& req, httplib::Response& res) const {
    const Customer c = records_.existing(req.matches[1]);
    replyJson(res, 200, {{"history", customerHistoryJson(engine_, c.id)}});
  }
  void create(const httplib::Request& req, httplib::Response& res, const Caller& caller);
  void patch(const httplib::Request& req, httplib::Response& res, const Caller& caller);
  // deactivate, reactivate, delete, restore, erase
  void step(const httplib::Request& req, httplib::Response& res, const Caller& caller,
            sync::LocalOp op);
  void merge(const httplib::Request& req, httplib::Response& res, const Caller& caller);

 private:
  sync::LocalOp mergeOp(RecordId survivor, const nlohmann::json& body, const Caller& caller) const;

  Records& records_;
  const sync::Engine& engine_;
};

std::vector<Customer> candidates(const sync::Engine& engine, const std::string& query,
                                 const std::string& status) {
  std::vector<Customer> found;
  if (status != "deleted")
    found = query.empty() ? engine.list(true) : engine.search(query, kSearchWindow);
  std::erase_if(found, [&](const Customer& c) {
    const std::string shown = displayStatus(c);
    return status == "all" ? shown != "active" && shown != "deactivated" : shown != status;
  });
  if (status == "deleted" || status == "all")
    for (Customer& c :
         query.empty() ? engine.listDeleted() : engine.searchDeleted(query, kSearchWindow))
      found.push_back(std::move(c));
  return found;
}

void CustomerRoutes::search(const httplib::Request& req, httplib::Response& res) const {
  const std::string query = req.get_param_value("q");
  const std::string status = req.has_param("status") ? req.get_param_value("status") : "active";
  if (status != "active" && status != "deactivated" && status != "deleted" && status != "all")
    throw HttpFailure(400, "bad_query", "status is active, deactivated, deleted or all");
  if (!isValidUtf8(query)) throw HttpFailure(400, "bad_query", "q is not valid UTF-8");
  const size_t limit = limitParam(req);
  const std::optional<RecordId> after = cursorParam(req);
  std::vector<Customer> found = candidates(engine_, query, status);
  // Pages run in id order, so that a cursor (the last id, opaque) finds where the next begins.
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  auto from = after ? std::upper_bound(found.begin(), found.end(), *after,
                                       [](RecordId id, const Customer& c) { return id < c.id; })
                    : found.begin();
  json page = json::array();
  for (auto it = from; it != found.end() && page.size() < limit; ++it)
    page.push_back(shownCustomerJson(engine_, *it));
  const bool more = size_t(found.end() - from) > limit;
  replyJson(res, 200,
            {{"customers", page},
             {"next", more ? json(base64url(page.back()["id"].get<std::string>())) : json()}});
}

void CustomerRoutes::create(const httplib::Request& req, httplib::Response& res,
                            const Caller& caller) {
  std::vector<sync::Edit> edits = editsFrom(parseObject(req), caller);
  const Customer created = records_.commitRecord(
      sync::LocalOp{sync::LocalOp::Kind::kCreate, {}, std::move(edits), caller.name});
  res.set_header("Location", "/v1/customers/" + created.id.toString());
  records_.replyRecord(res, 201, created);
}

void CustomerRoutes::patch(const httplib::Request& req, httplib::Response& res,
                           const Caller& caller) {
  const RecordId id = idIn(req.matches[1]);
  const auto turn = records_.writingTo({id});
  const Customer current = records_.existing(id);
  checkAssigned(caller, current);
  std::vector<sync::Edit> edits = editsFrom(parseObject(req), caller);
  if (edits.empty()) throw HttpFailure(400, "bad_request", "the body names no field to change");
  checkIfMatch(req, current);
  records_.replyRecord(res, 200,
                       records_.commitRecord(sync::LocalOp{sync::LocalOp::Kind::kUpdate, current.id,
                                                           std::move(edits), caller.name}));
}

void CustomerRoutes::step(const httplib::Request& req, httplib::Response& res, const Caller& caller,
                          sync::LocalOp op) {
  op.target = idIn(req.matches[1]);
  const auto turn = records_.writingTo({op.target});
  checkIfMatch(req, records_.existing(op.target));
  op.author = caller.name;
  records_.replyRecord(res, 200, records_.commitRecord(std::move(op)));
}

// {"absorb": [REF, ...], "take": {"FIELD": REF, ...}} (REF: an id or #NUMBER) as the op
// `customer merge` makes.
sync::LocalOp CustomerRoutes::mergeOp(RecordId survivor, const json& body,
                                      const Caller& caller) const {
  std::vector<RecordId> absorbed;
  std::vector<std::pair<sync::Edit, RecordId>> takes;
  for (const auto& [key, value] : body.items()) {
    if (key != "absorb" && key != "take")
      throw HttpFailure(400, "unknown_field",
                        "a merge takes \"absorb\" and \"take\", not '" + key + "'");
    if (key == "absorb" && !value.is_array())
      throw HttpFailure(400, "wrong_type", "absorb wants an array of customer ids");
    if (key == "take" && !value.is_object())
      throw HttpFailure(400, "wrong_type", "take wants an object of FIELD: customer id");
  }
  const json absorb = body.value("absorb", json::array());
  const json take = body.value("take", json::object());
  for (const auto& ref : absorb) {
    if (!ref.is_string()) throw HttpFailure(400, "wrong_type", "absorb wants customer ids");
    absorbed.push_back(records_.resolve(ref.get<std::string>()));
  }
  for (const auto& [field, ref] : take.items()) {
    if (!ref.is_string())
      throw HttpFailure(400, "wrong_type", "take." + field + " wants a customer id");
    auto edit = customerEdit(field, {});
    if (!edit.isOk()) throw HttpFailure(400, "unknown_field", edit.status().message());
    if (edit->field == uint16_t(CustomerField::number) && caller.role < Role::kAdmin)
      throw HttpFailure(403, "forbidden", "only an admin sets customer numbers");
    takes.emplace_back(edit.value(), records_.resolve(ref.get<std::string>()));
  }
  auto op = engine_.mergeOp(survivor, absorbed, takes, caller.name);
  if (!op.isOk()) throw failureFor(op.status());
  return op.value();
}

void CustomerRoutes::merge(const httplib::Request& req, httplib::Response& res,
                           const Caller& caller) {
  const RecordId survivor = idIn(req.matches[1]);
  const json body = parseObject(req);
  records_.existing(survivor);  // 404 before anything else
  sync::LocalOp op = mergeOp(survivor, body, caller);
  std::vector<RecordId> parties = op.absorbed;
  parties.push_back(survivor);
  const auto turns = records_.writingTo(parties);
  checkIfMatch(req, records_.existing(survivor));
  records_.replyRecord(res, 200, records_.commitRecord(std::move(op)));
}

sync::LocalOp statusOp(const char* status) {
  return {sync::LocalOp::Kind::kUpdate, {}, {{uint16_t(CustomerField::status), {}, status}}, {}};
}

}  // namespace

void addCustomerRoutes(const AddRoute& add, Records& records) {
  auto routes = std::make_shared<CustomerRoutes>(records);
  const std::string one = std::string("/v1/customers/") + kIdPattern;
  add(Method::kGet, "/v1/customers", Role::kViewer,
      [routes](const auto& req, auto& res, const Caller&) { routes->search(req, res); });
  add(Method::kGet, one, Role::kViewer,
      [routes](const auto& req, auto& res, const Caller&) { routes->get(req, res); });
  add(Method::kGet, "/v1/customers/duplicates", Role::kViewer,
      [routes](const auto& req, auto& res, const Caller&) { routes->duplicates(req, res); });
  add(Method::kGet, "/v1/customers/by-number/([^/]+)", Role::kViewer,
      [routes](const auto& req, auto& res, const Caller&) { routes->getByNumber(req, res); });
  add(Method::kPost, "/v1/customers", Role::kStaff,
      [routes](const auto& req, auto& res, const Caller& c) { routes->create(req, res, c); });
  add(Method::kPatch, one, Role::kTechnician,
      [routes](const auto& req, auto& res, const Caller& c) { routes->patch(req, res, c); });
  add(Method::kGet, one + "/history", Role::kViewer,
      [routes](const auto& req, auto& res, const Caller&) { routes->history(req, res); });
  add(Method::kPost, one + "/merge", Role::kStaff,
      [routes](const auto& req, auto& res, const Caller& c) { routes->merge(req, res, c); });
  using Kind = sync::LocalOp::Kind;
  const std::pair<const char*, std::pair<Role, sync::LocalOp>> steps[] = {
      {"deactivate", {Role::kStaff, statusOp("deactivated")}},
      {"reactivate", {Role::kStaff, statusOp("active")}},
      {"delete", {Role::kAdmin, sync::LocalOp{Kind::kDelete, {}, {}, {}}}},
      {"restore", {Role::kAdmin, sync::LocalOp{Kind::kRestore, {}, {}, {}}}},
      {"erase", {Role::kAdmin, sync::LocalOp{Kind::kErase, {}, {}, {}}}},
  };
  for (const auto& [name, step] : steps) {
    const sync::LocalOp op = step.second;
    add(Method::kPost, one + "/" + name, step.first,
        [routes, op](const auto& req, auto& res, const Caller& c) {
          routes->step(req, res, c, op);
        });
  }
}

}  // namespace sitesync::api
