// /v1/customers: search, read, create, edit with If-Match, and the lifecycle steps. Reads go to
// the engine; every write is one LocalOp through the node's group commit, authored by the caller.
#include <algorithm>
#include <array>
#include <charconv>
#include <mutex>

#include "api/register_json.h"
#include "api/src/http.h"

namespace sitesync::api {

namespace {

using nlohmann::json;

constexpr size_t kDefaultLimit = 50;
constexpr size_t kMaxLimit = 500;
// A search pages over at most this many matches (the engine ranks and cuts its results).
constexpr size_t kSearchWindow = 10000;
constexpr const char* kIdPattern = "([0-9a-f]{16}-[0-9]+)";

// A strong validator of the record as stored: its encoded bytes, hashed.
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
  CustomerRoutes(sync::Engine& engine, node::GroupCommitter& committer)
      : engine_(engine), committer_(committer) {}

  void search(const httplib::Request& req, httplib::Response& res) const;
  void get(const httplib::Request& req, httplib::Response& res) const {
    replyRecord(res, 200, existing(req.matches[1]));
  }
  void getByNumber(const httplib::Request& req, httplib::Response& res) const {
    auto id = engine_.resolve("#" + std::string(req.matches[1]));
    if (!id.isOk()) throw failureFor(id.status());
    replyRecord(res, 200, existing(id.value().toString()));
  }
  void create(const httplib::Request& req, httplib::Response& res, const Caller& caller);
  void patch(const httplib::Request& req, httplib::Response& res, const Caller& caller);
  // deactivate, reactivate, delete, restore, erase
  void step(const httplib::Request& req, httplib::Response& res, const Caller& caller,
            sync::LocalOp op);

 private:
  Customer existing(const std::string& idText) const {
    auto id = RecordId::parse(idText);
    auto customer = id ? engine_.customer(*id) : std::nullopt;
    if (!customer) throw HttpFailure(404, "not_found", "no customer " + idText);
    return *customer;
  }
  void replyRecord(httplib::Response& res, int status, const Customer& c) const {
    res.set_header("ETag", etagOf(c));
    replyJson(res, status, shownCustomerJson(engine_, c));
  }
  // Commits `op` (refused: nothing written) and returns the customer as it is now.
  Customer commit(sync::LocalOp op) {
    const sync::OpResult result = committer_.submit(op);
    if (!result.status.isOk()) throw failureFor(result.status);
    return existing((op.kind == sync::LocalOp::Kind::kCreate ? result.id : op.target).toString());
  }

  // API writes to one customer take turns, so that no other API write comes between an
  // If-Match check and the write it guards. (Edits from other processes or peers still can.)
  std::unique_lock<std::mutex> writingTo(const std::string& idText) {
    return std::unique_lock(turns_[std::hash<std::string>{}(idText) % turns_.size()]);
  }

  sync::Engine& engine_;
  node::GroupCommitter& committer_;
  std::array<std::mutex, 64> turns_;  // striped by customer id
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
  const Customer created =
      commit(sync::LocalOp{sync::LocalOp::Kind::kCreate, {}, std::move(edits), caller.name});
  res.set_header("Location", "/v1/customers/" + created.id.toString());
  replyRecord(res, 201, created);
}

void CustomerRoutes::patch(const httplib::Request& req, httplib::Response& res,
                           const Caller& caller) {
  const auto turn = writingTo(req.matches[1]);
  const Customer current = existing(req.matches[1]);
  std::vector<sync::Edit> edits = editsFrom(parseObject(req), caller);
  if (edits.empty()) throw HttpFailure(400, "bad_request", "the body names no field to change");
  if (req.has_header("If-Match") && req.get_header_value("If-Match") != etagOf(current))
    throw HttpFailure(412, "precondition_failed",
                      "the customer changed since it was read (ETag " + etagOf(current) + ")");
  replyRecord(res, 200,
              commit(sync::LocalOp{sync::LocalOp::Kind::kUpdate, current.id, std::move(edits),
                                   caller.name}));
}

void CustomerRoutes::step(const httplib::Request& req, httplib::Response& res, const Caller& caller,
                          sync::LocalOp op) {
  const auto turn = writingTo(req.matches[1]);
  op.target = existing(req.matches[1]).id;
  op.author = caller.name;
  replyRecord(res, 200, commit(std::move(op)));
}

sync::LocalOp statusOp(const char* status) {
  return {sync::LocalOp::Kind::kUpdate, {}, {{uint16_t(CustomerField::status), {}, status}}, {}};
}

}  // namespace

void addCustomerRoutes(const AddRoute& add, sync::Engine& engine, node::GroupCommitter& committer) {
  auto routes = std::make_shared<CustomerRoutes>(engine, committer);
  const std::string one = std::string("/v1/customers/") + kIdPattern;
  add(Method::kGet, "/v1/customers", Role::kViewer,
      [routes](const auto& req, auto& res, const Caller&) { routes->search(req, res); });
  add(Method::kGet, one, Role::kViewer,
      [routes](const auto& req, auto& res, const Caller&) { routes->get(req, res); });
  add(Method::kGet, "/v1/customers/by-number/([^/]+)", Role::kViewer,
      [routes](const auto& req, auto& res, const Caller&) { routes->getByNumber(req, res); });
  add(Method::kPost, "/v1/customers", Role::kStaff,
      [routes](const auto& req, auto& res, const Caller& c) { routes->create(req, res, c); });
  add(Method::kPatch, one, Role::kStaff,
      [routes](const auto& req, auto& res, const Caller& c) { routes->patch(req, res, c); });
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
