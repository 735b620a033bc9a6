// Internal to api/: what the routes share: failures as HTTP errors, replies, the caller of a
// request, and how a route is registered with the role it needs.
#pragma once

#include <httplib.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "api/api.h"

namespace sitesync::api {

// A request that fails: its HTTP status and error code. Thrown by a handler before it writes
// anything; the route answers {"error": {"code": ..., "message": ...}}.
class HttpFailure : public std::runtime_error {
 public:
  HttpFailure(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }
  // Set on a 429: the seconds to wait (the Retry-After header).
  std::optional<int64_t> retryAfter;

 private:
  int status_;
  std::string code_;
};
// An engine's refusal as an HTTP error: invalid values 422, unknown 404, a number or SSN held
// by another customer 409, a deleted or merged target 409.
HttpFailure failureFor(const Status& status);

void replyJson(httplib::Response& res, int status, const nlohmann::json& body);
// A query flag: absent, 0 or false: false; 1 or true: true; else 400 bad_query.
bool flagParam(const httplib::Request& req, const std::string& name);
void replyError(httplib::Response& res, int status, const std::string& code,
                const std::string& message);

// The authenticated user a request comes from.
struct Caller {
  std::string name;
  Role role = Role::kViewer;
  // Whether the request's token still belongs to this user: a stream, which outlives the check
  // at its start, asks again while it runs.
  std::function<bool()> stillAuthorized;
};

enum class Method { kGet, kPost, kPatch, kPut, kDelete };
using Handler =
    std::function<void(const httplib::Request&, httplib::Response&, const Caller& caller)>;
// Registers `handler` for `pattern` (a regex over the path); callers with a role below `least`
// are refused (403) before it runs.
using AddRoute = std::function<void(Method, const std::string& pattern, Role least, Handler)>;

class Records;
// /v1/customers... (customer_routes.cpp)
void addCustomerRoutes(const AddRoute& add, Records& records);
// /v1/customers/{id}/contacts|journal|cards... (element_routes.cpp)
void addElementRoutes(const AddRoute& add, Records& records);
// /v1/status, /v1/settings, /v1/conflicts... (site_routes.cpp)
void addSiteRoutes(const AddRoute& add, Records& records);
// /v1/catalogue and the admin's PUTs of custom fields and catalogue entries (catalogue_routes.cpp)
void addCatalogueRoutes(const AddRoute& add, Records& records);
// /v1/customers/{id}/technicians and /v1/notifications (technician_routes.cpp)
void addTechnicianRoutes(const AddRoute& add, Records& records);
// /v1/customers/import and /v1/customers/export: CSV (transfer_routes.cpp)
void addTransferRoutes(const AddRoute& add, Records& records);

class LogWatch;
// /v1/changes and /v1/changes/stream (change_feed.cpp); `watch` wakes the requests that wait.
void addChangeRoutes(const AddRoute& add, sync::Engine& engine, LogWatch& watch);

// Encodings used by tokens and cursors.
std::string base64url(std::string_view bytes);
std::optional<std::string> fromBase64url(std::string_view text);
std::string sha256Hex(std::string_view bytes);

}  // namespace sitesync::api
