// Headquarters' status page and its data (api/src/status_page.h).
#include "api/src/status_page.h"

#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "api/register_json.h"

namespace sitesync::api {

namespace {

using nlohmann::json;
constexpr const char* kCookie = "sitesync_status";
constexpr int64_t kMinutes = 24 * 60;
constexpr size_t kConflictsListed = 50;

int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string isoAt(int64_t millis) {
  return Hlc::from(uint64_t(std::max<int64_t>(millis, 0)), 0).toIso8601();
}

// Changes per minute over the last 24 hours, by the time each was made (its HLC), kept as the log
// is read: each request reads only what was logged since the last one.
class ChangeRate {
 public:
  json counts(const sync::Engine& engine) {
    std::lock_guard lock(mutex_);
    const int64_t thisMinute = nowMillis() / 60000;
    for (;;) {
      const auto page = engine.changesAfter(readTo_, 10000);
      for (const auto& logged : page.changes) {
        const int64_t minute = int64_t(logged.change.hlc.millis() / 60000);
        if (minute > thisMinute - kMinutes) ++perMinute_[minute];
      }
      if (page.changes.empty()) break;
      readTo_ = page.changes.back().position;
    }
    perMinute_.erase(perMinute_.begin(), perMinute_.lower_bound(thisMinute - kMinutes + 1));
    json out = json::array();
    for (int64_t m = thisMinute - kMinutes + 1; m <= thisMinute; ++m) {
      auto it = perMinute_.find(m);
      out.push_back(it == perMinute_.end() ? 0 : it->second);
    }
    return {{"first_minute", isoAt((thisMinute - kMinutes + 1) * 60000)}, {"counts", out}};
  }

 private:
  std::mutex mutex_;
  uint64_t readTo_ = 0;
  std::map<int64_t, uint64_t> perMinute_;
};

struct SiteRow {
  std::string name;
  SiteId id = 0;
  const PeerState* peer = nullptr;
  std::string state = "not on the allow list";
};

json sitesJson(const sync::Engine& engine) {
  const auto meta = engine.meta();
  const auto peers = engine.peers();
  const VersionVector held = engine.heldVector();
  std::map<std::string, SiteRow> rows;  // by name (site id when unnamed)
  std::map<SiteId, SiteRow*> byId;      // the same rows, once their site is known
  auto rowOf = [&](SiteId id, const std::string& name) -> SiteRow& {
    if (auto known = byId.find(id); id && known != byId.end()) return *known->second;
    SiteRow& row = rows[name.empty() ? siteIdToHex(id) : name];
    if (id) byId[id] = &row;
    row.name = name.empty() ? siteIdToHex(id) : name;
    if (id) row.id = id;
    return row;
  };
  for (const auto& p : peers) rowOf(p.siteId, p.name).peer = &p;
  for (const auto& a : engine.allowedPeers()) rowOf(a.siteId, a.name).state = "allowed";
  for (const auto& [site, seq] : meta.revokedSites.entries()) rowOf(site, "").state = "revoked";
  const int64_t now = nowMillis();
  json out = json::array();
  out.push_back({{"name", meta.siteName},
                 {"site_id", siteIdToHex(meta.siteId)},
                 {"this_node", true},
                 {"hub", meta.isHub},
                 {"state", "this node"},
                 {"last_contact", nullptr},
                 {"changes_pending_to_site", 0},
                 {"changes_pending_from_site", 0},
                 {"lag_seconds", 0},
                 {"behind", false},
                 {"protocol_version", kProtocolVersion}});
  for (const auto& [key, row] : rows) {
    if (row.id == meta.siteId) continue;
    const PeerState* p = row.peer;
    const uint64_t toSite = p ? held.countNotIn(p->vector) : 0;
    const int64_t contact = p && p->lastContactMillis ? int64_t(p->lastContactMillis) : 0;
    // Only a peer that spoke this protocol gets as far as a session: a hello of another
    // version is refused before anything is recorded.
    out.push_back({{"name", row.name},
                   {"site_id", row.id ? json(siteIdToHex(row.id)) : json()},
                   {"this_node", false},
                   {"hub", false},
                   {"state", row.state},
                   {"last_contact", contact ? json(isoAt(contact)) : json()},
                   {"changes_pending_to_site", toSite},
                   {"changes_pending_from_site", p ? p->vector.countNotIn(held) : 0},
                   {"lag_seconds", toSite && contact ? (now - contact) / 1000 : 0},
                   {"behind", toSite > 0},
                   {"protocol_version", p ? json(kProtocolVersion) : json()}});
  }
  return out;
}

json conflictsSummary(const sync::Engine& engine) {
  const auto names = siteNames(engine);
  const bool hide = !engine.settings().getBool(SettingsField::ssnShown);
  json byKind = json::object(), listed = json::array();
  const auto open = engine.conflicts(false);
  for (const auto& c : open) {
    const auto j = conflictJson(c, hide, names);
    byKind[j["kind"].get<std::string>()] = byKind.value(j["kind"].get<std::string>(), 0) + 1;
    if (listed.size() < kConflictsListed)
      listed.push_back({{"id", c.id},
                        {"kind", j["kind"]},
                        {"customer", j["customer"]},
                        {"field", j["field"]},
                        {"winner", j["winner"]},
                        {"loser", j["loser"]}});
  }
  return {{"open", open.size()}, {"by_kind", byKind}, {"listed", listed}};
}

json numbersJson(const sync::Engine& engine) {
  const auto names = siteNames(engine);
  json out = json::array();
  for (const auto& site : engine.numbersBySite()) {
    json blocks = json::array();
    for (const auto& b : site.blocks) blocks.push_back({{"first", b.first}, {"last", b.last}});
    out.push_back({{"site", siteLabel(names, site.site)},
                   {"site_id", siteIdToHex(site.site)},
                   {"blocks", blocks},
                   {"left", site.left}});
  }
  return out;
}

// The token of a request: its bearer header, else the page's cookie.
std::string tokenOf(const httplib::Request& req) {
  const std::string header = req.get_header_value("Authorization");
  if (header.rfind("Bearer ", 0) == 0) return header.substr(7);
  const std::string cookies = req.get_header_value("Cookie");
  const std::string prefix = std::string(kCookie) + "=";
  for (size_t at = 0; at < cookies.size();) {
    while (at < cookies.size() && (cookies[at] == ' ' || cookies[at] == ';')) ++at;
    const size_t end = std::min(cookies.find(';', at), cookies.size());
    if (cookies.compare(at, prefix.size(), prefix) == 0)
      return cookies.substr(at + prefix.size(), end - at - prefix.size());
    at = end;
  }
  return "";
}

bool mayRead(const Caller& c) {
  return c.role == Role::kAdmin || c.role == Role::kStaff || c.role == Role::kViewer;
}

}  // namespace

void addStatusPage(httplib::Server& http, const sync::Engine& engine, PageGate gate) {
  auto rate = std::make_shared<ChangeRate>();
  // The caller, or nullopt with the reply (401/403/429) already made.
  auto admitted = [gate](const httplib::Request& req, httplib::Response& res, bool page,
                         const std::string& token) -> std::optional<Caller> {
    auto caller = token.empty() ? std::nullopt : gate.check(token);
    std::string problem;
    int status = 401;
    if (!caller) {
      problem = token.empty() ? "" : "unknown or revoked token";
      if (!token.empty())
        if (auto wait = gate.refused(req.remote_addr)) {
          status = 429;
          problem = "too many wrong tokens from this address; try again in " +
                    std::to_string(*wait) + " s";
        }
    } else if (!mayRead(*caller)) {
      status = 403;
      problem = std::string("a ") + roleName(caller->role) + " may not see the status page";
    } else {
      return caller;
    }
    if (page) {
      res.status = status;
      res.set_content(loginPageHtml(problem), "text/html; charset=utf-8");
    } else {
      replyError(res, status, status == 403 ? "forbidden" : "unauthorized",
                 problem.empty() ? "log in at /status" : problem);
    }
    return std::nullopt;
  };
  auto login = [gate, admitted](const httplib::Request& req, httplib::Response& res,
                                const std::string& token) {
    if (!admitted(req, res, true, token)) return;
    res.set_header("Set-Cookie", std::string(kCookie) + "=" + token +
                                     "; Path=/status; HttpOnly; SameSite=Strict" +
                                     (gate.https ? "; Secure" : ""));
    res.status = 303;
    res.set_header("Location", "/status");
  };
  http.Get("/status", [admitted, login](const httplib::Request& req, httplib::Response& res) {
    if (req.has_param("token")) return login(req, res, req.get_param_value("token"));
    if (!admitted(req, res, true, tokenOf(req))) return;
    res.status = 200;
    res.set_header("Cache-Control", "no-store");
    res.set_content(kStatusPageHtml, "text/html; charset=utf-8");
  });
  http.Post("/status/login", [login](const httplib::Request& req, httplib::Response& res) {
    login(req, res, req.has_param("token") ? req.get_param_value("token") : "");
  });
  http.Get("/status/data",
           [admitted, &engine, rate](const httplib::Request& req, httplib::Response& res) {
             if (!admitted(req, res, false, tokenOf(req))) return;
             res.set_header("Cache-Control", "no-store");
             replyJson(res, 200,
                       {{"site", engine.meta().siteName},
                        {"generated_at", isoAt(nowMillis())},
                        {"protocol_version", kProtocolVersion},
                        {"sites", sitesJson(engine)},
                        {"conflicts", conflictsSummary(engine)},
                        {"numbers", numbersJson(engine)},
                        {"changes_per_minute", rate->counts(engine)}});
           });
}

}  // namespace sitesync::api
