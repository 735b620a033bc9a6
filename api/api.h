// api: the application HTTP/JSON API of a running node (docs/api.md). Applications (a booking
// back end, a CRM) read and write this site's register over HTTP as named users with roles;
// every write goes through the node's group commit. `sitesync serve --api HOST:PORT` runs it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/node.h"
#include "sync/engine.h"

namespace sitesync::api {

// What a user may do; each role has the rights of those before it. A technician reads only
// until customers can be assigned to technicians.
enum class Role { kViewer, kTechnician, kStaff, kAdmin };
std::optional<Role> roleNamed(std::string_view name);  // "admin", "staff", ...
const char* roleName(Role role);

// --- users (`sitesync users ...`). Their tokens are 32 random bytes, base64url; only a token's
// SHA-256 is stored. Users are deployment-wide (sync::Trust::apiUsers): written at the hub in
// `author`'s name and replicated, so a token works at every site the change has reached.
// Adds a user; returns their bearer token, which nothing can show again.
Result<std::string> addUser(sync::Engine& engine, const std::string& name, Role role,
                            const std::string& author);
// A new token for the user; the old one stops working.
Result<std::string> rotateToken(sync::Engine& engine, const std::string& name,
                                const std::string& author);

// Where the API listens: loopback over HTTP, anything else only over HTTPS.
struct ApiOptions {
  std::string host;      // "127.0.0.1", "::1", "localhost", or an address to serve TLS on
  uint16_t port = 0;     // 0: a free port
  std::string certFile;  // both set: HTTPS (PEM files)
  std::string keyFile;
  bool tls() const { return !certFile.empty(); }
};
// "HOST:PORT" ("[::1]:7380" for IPv6) with the TLS files; kInvalidArgument (one line) when
// malformed, when only one of the files is given, or when HOST is not loopback without TLS.
Result<ApiOptions> apiOptions(const std::string& hostPort, const std::string& certFile,
                              const std::string& keyFile);

// Cannot serve: the address cannot be bound, or the certificate or key cannot be loaded.
class ApiError : public Error {
 public:
  using Error::Error;
};

// Serves the API on threads of its own from construction to destruction. Reads go to `engine`,
// writes through `committer`; both must outlive the server. Users added or removed by another
// process are honoured within half a second.
class ApiServer {
 public:
  using Log = std::function<void(const std::string&)>;
  // The node's metrics in Prometheus' text format, served at GET /metrics (any role).
  using Metrics = std::function<std::string()>;
  // Binds and starts serving; throws ApiError.
  ApiServer(sync::Engine& engine, node::GroupCommitter& committer, const ApiOptions& options,
            Log log = {}, Metrics metrics = {});
  ~ApiServer();  // stops serving; requests in progress finish first
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  std::string url() const;  // "http://127.0.0.1:PORT", with the port bound
  // What it serves, one "METHOD PATH-REGEX" each ("GET /v1/customers/([0-9a-f]{16}-[0-9]+)"):
  // docs/openapi.yaml must describe exactly these (tests/unit/api_endpoints_test.cpp).
  std::vector<std::string> endpoints() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sitesync::api
