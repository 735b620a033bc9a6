// The API server (api/api.h): binding, TLS, authentication, roles and error replies around the
// routes.
#include <sys/socket.h>

#include <atomic>
#include <charconv>
#include <thread>

#include "api/register_json.h"
#include "api/src/log_watch.h"
#include "api/src/records.h"
#include "api/src/status_page.h"
#include "api/src/users.h"

namespace sitesync::api {

namespace {

constexpr size_t kMaxBody = size_t(1) << 20;  // larger bodies are refused with 413
// Server threads. Long polls and streams of the change feed hold one each while they wait, at
// most LogWatch::kSeats of them, so the rest always serve the other requests.
constexpr size_t kThreads = LogWatch::kSeats + 16;
constexpr int kListenBacklog = 512;

bool isLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost";
}

const char* defaultErrorCode(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 404:
      return "not_found";
    case 413:
      return "body_too_large";
    default:
      return status < 500 ? "bad_request" : "internal";
  }
}

std::string defaultErrorMessage(int status) {
  if (status == 404) return "no such resource";
  if (status == 413) return "the request body is over 1 MiB";
  return "the request failed (HTTP " + std::to_string(status) + ")";
}

}  // namespace

Result<ApiOptions> apiOptions(const std::string& hostPort, const std::string& certFile,
                              const std::string& keyFile) {
  ApiOptions options;
  const bool bracketed = hostPort.rfind('[', 0) == 0;
  const size_t colon = bracketed ? hostPort.find("]:") + 1 : hostPort.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= hostPort.size())
    return Status::invalidArgument("--api wants HOST:PORT (e.g. 127.0.0.1:7380), got '" + hostPort +
                                   "'");
  options.host = bracketed ? hostPort.substr(1, colon - 2) : hostPort.substr(0, colon);
  const char* portStart = hostPort.data() + colon + 1;
  const char* end = hostPort.data() + hostPort.size();
  if (auto [at, ec] = std::from_chars(portStart, end, options.port); ec != std::errc() || at != end)
    return Status::invalidArgument("--api: bad port in '" + hostPort + "'");
  if (certFile.empty() != keyFile.empty())
    return Status::invalidArgument("--api-cert and --api-key go together");
  options.certFile = certFile;
  options.keyFile = keyFile;
  if (!isLoopback(options.host) && !options.tls())
    return Status::invalidArgument("the API serves '" + options.host +
                                   "' only over HTTPS: give --api-cert FILE --api-key FILE, or "
                                   "bind 127.0.0.1, ::1 or localhost");
  return options;
}

HttpFailure failureFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return HttpFailure(422, "invalid", status.message());
    case StatusCode::kNotFound:
      return HttpFailure(404, "not_found", status.message());
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return HttpFailure(409, "conflict", status.message());
    default:
      return HttpFailure(500, "internal", status.message());
  }
}

bool flagParam(const httplib::Request& req, const std::string& name) {
  if (!req.has_param(name)) return false;
  const std::string value = req.get_param_value(name);
  if (value == "1" || value == "true") return true;
  if (value == "0" || value == "false") return false;
  throw HttpFailure(400, "bad_query", name + " is 1 or 0");
}

void replyJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void replyError(httplib::Response& res, int status, const std::string& code,
                const std::string& message) {
  replyJson(res, status, {{"error", {{"code", code}, {"message", message}}}});
}

struct ApiServer::Impl {
  Impl(sync::Engine& e, node::GroupCommitter& committer, Log l)
      : engine(e), log(std::move(l)), records(e, committer), users(e), watch([&e] {
          return e.logEnd();
        }) {}
  sync::Engine& engine;
  Log log;
  Records records;
  UserDirectory users;
  BadTokenLimiter badTokens{[this](const std::string& line) {
    if (log) log(line);
  }};
  LogWatch watch;  // outlives `http`, whose waiting requests it wakes
  std::unique_ptr<httplib::Server> http;
  std::string url;
  std::thread thread;
  std::atomic<bool> listenEnded{false};
  std::vector<std::string> endpoints;  // "METHOD pattern", as registered

  void makeServer(const ApiOptions& options);
  void bind(const ApiOptions& options);
  Caller authenticate(const httplib::Request& req);
  [[noreturn]] void refuseToken(const httplib::Request& req, const std::string& message);
  void addRoute(Method method, const std::string& pattern, Role least, Handler handler);
};

void ApiServer::Impl::makeServer(const ApiOptions& options) {
  if (options.tls()) {
    auto tls =
        std::make_unique<httplib::SSLServer>(options.certFile.c_str(), options.keyFile.c_str());
    if (!tls->is_valid())
      throw ApiError("cannot load the API's certificate '" + options.certFile + "' or key '" +
                     options.keyFile + "'");
    http = std::move(tls);
  } else {
    http = std::make_unique<httplib::Server>();
  }
  http->new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  http->set_payload_max_length(kMaxBody);
  // A client that stalls mid-request holds a thread only this long.
  http->set_read_timeout(5, 0);
  http->set_write_timeout(5, 0);
  // A response is written in pieces (headers, body): with Nagle's algorithm the last one waits
  // for the client's delayed ack, 40 ms per request on loopback.
  http->set_tcp_nodelay(true);
  // httplib's own refusals (no route, body too large, unreadable request) get the JSON shape.
  http->set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        replyError(res, res.status, defaultErrorCode(res.status), defaultErrorMessage(res.status));
        return httplib::Server::HandlerResponse::Handled;
      }));
  http->set_exception_handler(
      [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr failure) {
        std::string what = "unknown failure";
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        if (log) log("api: " + req.method + " " + req.path + " failed: " + what);
        replyError(res, 500, "internal", what);
      });
}

void ApiServer::Impl::bind(const ApiOptions& options) {
  // Debian's httplib is a compiled library that listens with a backlog of 5: 32 clients
  // connecting at once lose SYNs and wait for the kernel's 1 s retransmit. Listening again on the
  // bound socket raises it (Linux updates the backlog of a listening socket).
  int listening = -1;
  http->set_socket_options([&listening](socket_t sock) {
    int yes = 1;  // what httplib's default does
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listening = sock;
  });
  int port = options.port;
  if (port == 0)
    port = http->bind_to_any_port(options.host);
  else if (!http->bind_to_port(options.host, port))
    port = -1;
  if (port <= 0)
    throw ApiError("cannot listen on '" + options.host + ":" + std::to_string(options.port) + "'");
  if (listening >= 0) ::listen(listening, kListenBacklog);
  const std::string host =
      options.host.find(':') == std::string::npos ? options.host : "[" + options.host + "]";
  url = std::string(options.tls() ? "https://" : "http://") + host + ":" + std::to_string(port);
}

// 401, or 429 once the client's address sent too many requests with a bad token.
void ApiServer::Impl::refuseToken(const httplib::Request& req, const std::string& message) {
  if (auto wait = badTokens.refused(req.remote_addr, BadTokenLimiter::Clock::now())) {
    HttpFailure limited(429, "rate_limited",
                        "too many requests with a missing or wrong token from this address; try "
                        "again in " +
                            std::to_string(*wait) + " s");
    limited.retryAfter = *wait;
    throw limited;
  }
  throw HttpFailure(401, "unauthorized", message);
}

Caller ApiServer::Impl::authenticate(const httplib::Request& req) {
  const std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.rfind(kBearer, 0) != 0) refuseToken(req, "send Authorization: Bearer TOKEN");
  const std::string token = header.substr(kBearer.size());
  auto caller = users.authenticate(token);
  if (!caller) refuseToken(req, "unknown or revoked token");
  caller->stillAuthorized = [this, token, name = caller->name] {
    auto now = users.authenticate(token);
    return now && now->name == name;
  };
  return *caller;
}

void ApiServer::Impl::addRoute(Method method, const std::string& pattern, Role least,
                               Handler handler) {
  auto guarded = [this, least, handler](const httplib::Request& req, httplib::Response& res) {
    try {
      const Caller caller = authenticate(req);
      if (caller.role < least)
        throw HttpFailure(403, "forbidden",
                          std::string("a ") + roleName(caller.role) +
                              " may not do this; it needs " + roleName(least) + " rights");
      handler(req, res, caller);
    } catch (const HttpFailure& failure) {
      if (failure.status() == 401) res.set_header("WWW-Authenticate", "Bearer");
      if (failure.retryAfter) res.set_header("Retry-After", std::to_string(*failure.retryAfter));
      replyError(res, failure.status(), failure.code(), failure.what());
    }
  };
  static constexpr const char* kMethodNames[] = {"GET", "POST", "PATCH", "PUT", "DELETE"};
  endpoints.push_back(std::string(kMethodNames[size_t(method)]) + " " + pattern);
  switch (method) {
    case Method::kGet:
      http->Get(pattern, guarded);
      break;
    case Method::kPost:
      http->Post(pattern, guarded);
      break;
    case Method::kPatch:
      http->Patch(pattern, guarded);
      break;
    case Method::kPut:
      http->Put(pattern, guarded);
      break;
    case Method::kDelete:
      http->Delete(pattern, guarded);
      break;
  }
}

ApiServer::ApiServer(sync::Engine& engine, node::GroupCommitter& committer,
                     const ApiOptions& options, Log log, Metrics metrics)
    : impl_(std::make_unique<Impl>(engine, committer, std::move(log))) {
  impl_->makeServer(options);
  const AddRoute add = [this](Method method, const std::string& pattern, Role least,
                              Handler handler) {
    impl_->addRoute(method, pattern, least, std::move(handler));
  };
  addSiteRoutes(add, impl_->records);
  addCatalogueRoutes(add, impl_->records);
  addTechnicianRoutes(add, impl_->records);
  addTransferRoutes(add, impl_->records);
  addCustomerRoutes(add, impl_->records);
  addElementRoutes(add, impl_->records);
  addChangeRoutes(add, engine, impl_->watch);
  addStatusPage(
      *impl_->http, engine,
      PageGate{[this](const std::string& token) { return impl_->users.authenticate(token); },
               [this](const std::string& address) {
                 return impl_->badTokens.refused(address, BadTokenLimiter::Clock::now());
               },
               options.tls()});
  if (metrics)
    add(Method::kGet, "/metrics", Role::kViewer, [metrics](const auto&, auto& res, const Caller&) {
      res.status = 200;
      res.set_content(metrics(), "text/plain; version=0.0.4; charset=utf-8");
    });
  impl_->bind(options);
  impl_->thread = std::thread([this] {
    impl_->http->listen_after_bind();
    impl_->listenEnded = true;
  });
  // stop() before the loop runs would be lost, and the destructor would wait for ever.
  while (!impl_->http->is_running() && !impl_->listenEnded) std::this_thread::yield();
}

ApiServer::~ApiServer() {
  // Long polls and streams first, so that every server thread is free to end.
  impl_->watch.stop();
  impl_->http->stop();
  impl_->thread.join();
}

std::string ApiServer::url() const {
  return impl_->url;
}

std::vector<std::string> ApiServer::endpoints() const {
  return impl_->endpoints;
}

}  // namespace sitesync::api
