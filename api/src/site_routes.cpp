// /v1/status, /v1/settings (read, and changed by an admin) and /v1/conflicts (listed, resolved by
// an admin). Writes are one LocalOp each through the node's group commit, authored by the caller.
#include "api/register_json.h"
#include "api/src/records.h"

namespace sitesync::api {

namespace {

using nlohmann::json;

class SiteRoutes {
 public:
  explicit SiteRoutes(Records& records) : records_(records), engine_(records.engine()) {}

  void status(httplib::Response& res) const {
    replyJson(res, 200, registerStatusJson(engine_.status()));
  }
  void settings(httplib::Response& res) const {
    replyJson(res, 200, settingsJson(engine_.settings()));
  }
  void conflicts(const httplib::Request& req, httplib::Response& res) const {
    replyJson(res, 200, {{"conflicts", conflictsJson(engine_, flagParam(req, "all"))}});
  }
  void putSettings(const httplib::Request& req, httplib::Response& res, const Caller& caller);
  void resolve(const httplib::Request& req, httplib::Response& res, const Caller& caller);

 private:
  Records& records_;
  const sync::Engine& engine_;
};

void SiteRoutes::putSettings(const httplib::Request& req, httplib::Response& res,
                             const Caller& caller) {
  std::vector<sync::Edit> edits;
  const json body = parseObject(req);
  for (const auto& [key, value] : body.items()) {
    auto edit = settingsEdit(key, textOf(key, value));
    if (!edit.isOk()) throw HttpFailure(400, "unknown_field", edit.status().message());
    edits.push_back(std::move(edit.value()));
  }
  if (edits.empty()) throw HttpFailure(400, "bad_request", "the body names no setting to change");
  records_.commit(sync::LocalOp{sync::LocalOp::Kind::kSettings, {}, std::move(edits), caller.name});
  settings(res);
}

// {"take": VALUE} or {"keep_winner": true}, as `conflicts resolve --take|--keep-winner`.
std::optional<std::string> resolutionChoice(const json& body) {
  for (const auto& [key, value] : body.items()) {
    if (key != "take" && key != "keep_winner")
      throw HttpFailure(400, "unknown_field",
                        "a resolution takes \"take\" or \"keep_winner\", not '" + key + "'");
    if (key == "take" && !value.is_string())
      throw HttpFailure(400, "wrong_type", "take wants the value to keep, a string");
    if (key == "keep_winner" && !value.is_boolean())
      throw HttpFailure(400, "wrong_type", "keep_winner wants true");
  }
  if (body.contains("take") == body.value("keep_winner", false))
    throw HttpFailure(400, "bad_request", "resolve needs exactly one of take or keep_winner: true");
  if (!body.contains("take")) return std::nullopt;
  return body["take"].get<std::string>();
}

void SiteRoutes::resolve(const httplib::Request& req, httplib::Response& res,
                         const Caller& caller) {
  const std::optional<std::string> take = resolutionChoice(parseObject(req));
  auto op = engine_.resolution(std::string(req.matches[1]), take, caller.name);
  if (!op.isOk()) throw failureFor(op.status());
  const auto turn = records_.writingTo({op->target});
  records_.replyRecord(res, 200, records_.commitRecord(std::move(op.value())));
}

}  // namespace

void addSiteRoutes(const AddRoute& add, Records& records) {
  auto routes = std::make_shared<SiteRoutes>(records);
  add(Method::kGet, "/v1/status", Role::kViewer,
      [routes](const auto&, auto& res, const Caller&) { routes->status(res); });
  add(Method::kGet, "/v1/settings", Role::kViewer,
      [routes](const auto&, auto& res, const Caller&) { routes->settings(res); });
  add(Method::kGet, "/v1/fields", Role::kViewer, [&records](const auto&, auto& res, const Caller&) {
    replyJson(res, 200, {{"fields", customFieldsJson(records.engine().settings())}});
  });
  add(Method::kPut, "/v1/settings", Role::kAdmin,
      [routes](const auto& req, auto& res, const Caller& c) { routes->putSettings(req, res, c); });
  add(Method::kGet, "/v1/conflicts", Role::kViewer,
      [routes](const auto& req, auto& res, const Caller&) { routes->conflicts(req, res); });
  add(Method::kPost, "/v1/conflicts/([^/]+)/resolve", Role::kAdmin,
      [routes](const auto& req, auto& res, const Caller& c) { routes->resolve(req, res, c); });
}

}  // namespace sitesync::api
