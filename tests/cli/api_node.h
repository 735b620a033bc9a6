// Shared by the API's end-to-end tests (suite api): `sitesync serve --api 127.0.0.1:0` as a real
// node with users of each role, and real HTTP over loopback (httplib::Client).
#pragma once

#include <httplib.h>

#include <chrono>
#include <thread>

#include "tests/cli/cli_support.h"
#include "tests/cli/serve_process.h"

namespace {

// A node serving the API, with one user of each role that writes.
struct ApiNode {
  Cli cli;
  std::string admin, staff, viewer;  // bearer tokens
  std::unique_ptr<ServeProcess> serve;
  std::string url;

  // A branch ("Branch Tampere"), or with `hub` headquarters ("HQ").
  explicit ApiNode(bool hub = false) {
    if (hub)
      BOOST_TEST_REQUIRE(cli.run("init", "--data", cli.data, "--site", "HQ", "--hub").status == 0);
    else
      cli.init();
    admin = addUser("ada", "admin");
    staff = addUser("sami", "staff");
    viewer = addUser("veera", "viewer");
    start();
  }

  // Starts serving (again, after stop()) with `extra` options; the API gets a new port.
  void start(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--api", "127.0.0.1:0"});
    serve = std::make_unique<ServeProcess>(cli.data, extra);
    const std::string line = serve->nextLine();
    BOOST_TEST_REQUIRE(line.rfind("api on http://127.0.0.1:", 0) == 0, line);
    url = line.substr(std::string("api on ").size());
  }
  // SIGTERM to serve; returns its exit status.
  int stop() {
    const int status = serve->stop();
    serve.reset();
    return status;
  }

  // `users add`; returns the token, alone on the last line.
  std::string addUser(const std::string& name, const std::string& role) {
    RunResult r = cli.run("users", "add", "--data", cli.data, "--name", name, "--role", role);
    BOOST_TEST_REQUIRE(r.status == 0, r);
    const std::string out = trimNewline(r.out);
    return out.substr(out.rfind('\n') + 1);
  }

  httplib::Result send(const std::string& method, const std::string& path, const std::string& token,
                       const std::string& body = "", httplib::Headers headers = {}) {
    httplib::Client client(url);
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    if (method == "GET") return client.Get(path, headers);
    if (method == "PATCH") return client.Patch(path, headers, body, "application/json");
    if (method == "PUT") return client.Put(path, headers, body, "application/json");
    if (method == "DELETE") return client.Delete(path, headers);
    return client.Post(path, headers, body, "application/json");
  }
  httplib::Result get(const std::string& path, const std::string& token) {
    return send("GET", path, token);
  }
  httplib::Result post(const std::string& path, const std::string& token, const json& body) {
    return send("POST", path, token, body.dump());
  }
  // Creates a customer as staff; returns its JSON.
  json create(const json& fields) {
    auto r = post("/v1/customers", staff, fields);
    BOOST_TEST_REQUIRE(r->status == 201, r->body);
    return json::parse(r->body);
  }
};

std::string errorCode(const httplib::Result& r) {
  return json::parse(r->body)["error"]["code"].get<std::string>();
}

// Polls GET `path` until it answers `status` or `within` passes (the node reads its users
// again at most every 500 ms, and nothing signals that it has); returns how long that took.
std::chrono::milliseconds waitForStatus(ApiNode& node, const std::string& path,
                                        const std::string& token, int status,
                                        std::chrono::milliseconds within) {
  const auto start = std::chrono::steady_clock::now();
  while (node.get(path, token)->status != status &&
         std::chrono::steady_clock::now() < start + within)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

}  // namespace
