// Headquarters' status page (GET /status) in a real headless Chromium (Debian's chromium): a hub
// with three sites, one up to date, one behind and one revoked; the page's DOM, built by its
// script from /status/data, shows each as it is, and a screenshot is kept as a test artifact.
// Its login: a form, /status?token=TOKEN once (a cookie), or a bearer token.
#include "tests/cli/api_node.h"

namespace {

std::string publicKey(Cli& cli, const std::string& dir) {
  const json keys = cli.runJson("keys", "show", "--data", dir, "--json");
  return keys["public_key"];
}

// The opening tag of the element whose attributes hold `needle` ("" when none).
std::string tagHolding(const std::string& dom, const std::string& needle) {
  const size_t at = dom.find(needle);
  if (at == std::string::npos) return "";
  const size_t open = dom.rfind('<', at), close = dom.find('>', at);
  return dom.substr(open, close - open + 1);
}

std::string chromium() {
  for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (fs::exists(path)) return path;
  return "";
}

// Chromium, headless, with a profile of its own; `extra` then the URL.
RunResult headless(const fs::path& profile, std::vector<std::string> extra,
                   const std::string& url) {
  std::vector<std::string> args = {"--headless",
                                   "--no-sandbox",  // as root (CI); the page is our own
                                   "--disable-gpu",
                                   "--disable-dev-shm-usage",
                                   "--hide-scrollbars",
                                   "--user-data-dir=" + profile.string(),
                                   "--virtual-time-budget=10000"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(url);
  return runProgram(chromium(), args);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(api)

BOOST_AUTO_TEST_CASE(the_status_page_shows_sites_up_to_date_behind_and_revoked_in_chromium) {
  BOOST_TEST_REQUIRE(!chromium().empty(), "chromium is not installed (tools/install-deps)");
  ApiNode hub(true);
  Cli& cli = hub.cli;
  const std::string hubKey = publicKey(cli, cli.data);
  const std::vector<std::string> names = {"Branch Oulu", "Branch Turku", "Branch Rovaniemi"};
  std::vector<std::string> dirs;
  for (const auto& name : names) {
    dirs.push_back((cli.root / name).string());
    BOOST_TEST_REQUIRE(cli.run("init", "--data", dirs.back(), "--site", name).status == 0);
    BOOST_TEST_REQUIRE(cli.run("peers", "add", "--data", cli.data, "--name", name, "--key",
                               publicKey(cli, dirs.back()))
                           .status == 0);
  }
  BOOST_TEST_REQUIRE(hub.stop() == 0);  // serving again with the allow list: CURVE links
  hub.start();
  for (const auto& dir : dirs)
    BOOST_TEST_REQUIRE(cli.run("peers", "add", "--data", dir, "--name", "hq", "--key", hubKey,
                               "--endpoint", hub.serve->endpoint())
                           .status == 0);
  // Each branch made a customer and synced; then HQ made three more, which only Oulu fetched.
  for (const auto& dir : dirs) {
    BOOST_TEST_REQUIRE(
        cli.run("customer", "add", "--data", dir, "--name", "Customer of " + dir).status == 0);
    const RunResult synced = cli.run("sync", "--data", dir, "--peer", "hq");
    BOOST_TEST_REQUIRE(synced.status == 0, synced);
  }
  for (int i = 0; i < 3; ++i) hub.create({{"name", "HQ Customer " + std::to_string(i)}});
  BOOST_TEST_REQUIRE(cli.run("sync", "--data", dirs[0], "--peer", "hq").status == 0);
  BOOST_TEST_REQUIRE(
      cli.run("peers", "remove", "--data", cli.data, "--name", "Branch Rovaniemi").status == 0);

  // The page's data, as its script reads it. A hub records what a one-shot session left the
  // peer holding when the session ends at its side (the peer's silence, within seconds).
  std::map<std::string, json> sites;
  json d;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    auto data = hub.get("/status/data", hub.viewer);
    BOOST_TEST_REQUIRE(data->status == 200, data->body);
    d = json::parse(data->body);
    for (const auto& s : d["sites"]) sites[s["name"]] = s;
    if (sites["Branch Oulu"]["behind"] == false) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  BOOST_TEST(sites["Branch Oulu"]["behind"] == false, d["sites"].dump());
  BOOST_TEST(sites["Branch Oulu"]["state"] == "allowed");
  BOOST_TEST(sites["Branch Turku"]["behind"] == true);
  BOOST_TEST(sites["Branch Turku"]["changes_pending_to_site"].get<int>() >= 3);
  BOOST_TEST(sites["Branch Rovaniemi"]["state"] == "revoked");
  BOOST_TEST(d["changes_per_minute"]["counts"].size() == 1440u);

  // The page itself, in Chromium: /status?token=... sets the cookie and redirects to /status,
  // whose script fills the tables from /status/data.
  const fs::path profile = cli.root / "chromium";
  const std::string url = hub.url + "/status?token=" + hub.viewer;
  const RunResult dom = headless(profile, {"--dump-dom"}, url);
  BOOST_TEST_REQUIRE(dom.status == 0, dom);
  BOOST_TEST(contains(dom.out, "data-loaded=\"true\""), dom.out);
  BOOST_TEST(contains(dom.out, "<h1 id=\"title\">HQ</h1>"), dom.out);
  BOOST_TEST(contains(tagHolding(dom.out, "data-site=\"Branch Oulu\""), "data-state=\"allowed\""),
             dom.out);
  BOOST_TEST(contains(tagHolding(dom.out, "data-site=\"Branch Turku\""), "class=\"behind\""),
             dom.out);
  BOOST_TEST(contains(tagHolding(dom.out, "data-site=\"Branch Rovaniemi\""), "class=\"revoked\""),
             dom.out);
  BOOST_TEST(contains(dom.out, "<svg id=\"chart\""), dom.out);
  // A phone-sized screenshot, kept beside the build for people to look at.
  fs::create_directories(SITESYNC_ARTIFACT_DIR);
  const std::string shot = std::string(SITESYNC_ARTIFACT_DIR) + "/status-page.png";
  fs::remove(shot);
  const RunResult taken =
      headless(profile, {"--window-size=412,1200", "--screenshot=" + shot}, url);
  BOOST_TEST(taken.status == 0, taken);
  BOOST_TEST((fs::exists(shot) && fs::file_size(shot) > 1000u), shot);
}

BOOST_AUTO_TEST_CASE(the_status_page_asks_for_a_login_and_keeps_it_in_a_cookie) {
  ApiNode hub(true);
  const std::string technician = hub.addUser("tero", "technician");
  httplib::Client client(hub.url);
  auto anonymous = client.Get("/status");
  BOOST_TEST(anonymous->status == 401);
  BOOST_TEST(contains(anonymous->body, "<form method=\"post\" action=\"/status/login\""));
  BOOST_TEST(client.Get("/status/data")->status == 401);
  // A wrong token is said on the form; a right one sets an HttpOnly cookie for /status.
  auto wrong = client.Post("/status/login", "token=nonsense", "application/x-www-form-urlencoded");
  BOOST_TEST(wrong->status == 401);
  BOOST_TEST(contains(wrong->body, "unknown or revoked token"));
  auto right =
      client.Post("/status/login", "token=" + hub.admin, "application/x-www-form-urlencoded");
  BOOST_TEST_REQUIRE(right->status == 303);
  BOOST_TEST(right->get_header_value("Location") == "/status");
  const std::string cookie = right->get_header_value("Set-Cookie");
  BOOST_TEST(contains(cookie, "HttpOnly"));
  BOOST_TEST(contains(cookie, "Path=/status"));
  const std::string pair = cookie.substr(0, cookie.find(';'));
  BOOST_TEST(client.Get("/status", {{"Cookie", pair}})->status == 200);
  BOOST_TEST(client.Get("/status/data", {{"Cookie", pair}})->status == 200);
  // The cookie is for the page only: the API still wants a bearer token.
  BOOST_TEST(client.Get("/v1/status", {{"Cookie", pair}})->status == 401);
  BOOST_TEST(hub.get("/status/data", technician)->status == 403);
}

BOOST_AUTO_TEST_SUITE_END()
