// Internal to api/: headquarters' status page. GET /status is a self-contained HTML page (no
// CDN) that refreshes itself from GET /status/data (JSON): every site with its last contact,
// changes pending each way, lag, protocol, allowed or revoked; open conflicts by kind; number
// blocks per site; changes per minute over 24 hours. A browser logs in once, with a form
// (POST /status/login) or by opening /status?token=TOKEN, and keeps an HttpOnly cookie scoped to
// /status; a bearer token works too. Admins, staff and viewers see it.
#pragma once

#include <functional>
#include <optional>

#include "api/src/http.h"

namespace sitesync::api {

struct PageGate {
  std::function<std::optional<Caller>(const std::string& token)> check;
  // Notes a refused token from an address; the seconds it must wait when over its limit.
  std::function<std::optional<int64_t>(const std::string& address)> refused;
  bool https = false;  // the cookie is Secure
};

void addStatusPage(httplib::Server& http, const sync::Engine& engine, PageGate gate);

// The page's HTML and its login form (status_page_html.cpp).
extern const char* const kStatusPageHtml;
std::string loginPageHtml(const std::string& problem);

}  // namespace sitesync::api
