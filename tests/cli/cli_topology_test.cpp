// Beyond one hub: regional hubs run the same node, serve their branches and keep a link to
// headquarters as a peer; a change made at a branch of one region reaches headquarters and the
// branches of another region, and back.
#include "tests/cli/serve_process.h"

namespace {

// Waits up to 20 s until `data` shows the customer `id`.
bool arrives(Cli& cli, const std::string& data, const std::string& id) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cli.run("customer", "show", "--data", data, id).status == 0) return true;
    pollfd none{};
    poll(&none, 0, 20);  // pace the polling; the loop waits for the condition above
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(replication)

BOOST_FIXTURE_TEST_CASE(two_regions_behind_headquarters_exchange_changes_through_their_hubs, Cli) {
  auto dir = [&](const char* name) { return (root / name).string(); };
  BOOST_TEST_REQUIRE(run("init", "--data", dir("hq"), "--site", "HQ", "--hub").status == 0);
  ServeProcess hq(dir("hq"));
  // Two regional hubs join headquarters; each region's branches join their regional hub.
  for (const char* region : {"north", "south"})
    BOOST_TEST_REQUIRE(run("join", "--data", dir(region), "--site", std::string("Region ") + region,
                           "--hub", hq.endpoint())
                           .status == 0);
  ServeProcess north(dir("north"), {"--peer", hq.endpoint()});
  ServeProcess south(dir("south"), {"--peer", hq.endpoint()});
  BOOST_TEST_REQUIRE(
      run("join", "--data", dir("oulu"), "--site", "Branch Oulu", "--hub", north.endpoint())
          .status == 0);
  BOOST_TEST_REQUIRE(
      run("join", "--data", dir("turku"), "--site", "Branch Turku", "--hub", south.endpoint())
          .status == 0);
  ServeProcess oulu(dir("oulu"), {"--peer", north.endpoint()});
  ServeProcess turku(dir("turku"), {"--peer", south.endpoint()});

  const RunResult made = run("customer", "add", "--data", dir("oulu"), "--name", "Made In Oulu");
  BOOST_TEST_REQUIRE(made.status == 0, made);
  const std::string oulusCustomer = trimNewline(made.out);
  BOOST_TEST(arrives(*this, dir("hq"), oulusCustomer));
  BOOST_TEST(arrives(*this, dir("turku"), oulusCustomer));
  // Numbered from a block headquarters leased to Oulu through its regional hub.
  const json shown = runJson("customer", "show", "--data", dir("turku"), oulusCustomer, "--json");
  BOOST_TEST(shown["number"].get<std::string>().size() > 0u, shown.dump());

  const RunResult atHq = run("customer", "add", "--data", dir("hq"), "--name", "Made At HQ");
  BOOST_TEST_REQUIRE(atHq.status == 0, atHq);
  BOOST_TEST(arrives(*this, dir("oulu"), trimNewline(atHq.out)));
  BOOST_TEST(arrives(*this, dir("turku"), trimNewline(atHq.out)));
}

// The hub-sizing benchmark on a small run: forty sites stay connected through an idle spell
// longer than a session's patience (only heartbeats keep them up), then every change each site
// makes is acknowledged by the hub.
BOOST_FIXTURE_TEST_CASE(the_hub_benchmark_keeps_every_site_connected_and_acknowledges_each_change,
                        Cli) {
  const RunResult r =
      runBench("hub", "--data", (root / "hub").string(), "--sites-data", (root / "sites").string(),
               "--sites", "40", "--seconds", "2", "--idle-seconds", "5", "--json");
  BOOST_TEST_REQUIRE(r.status == 0, r);
  const json figures = json::parse(r.out);
  BOOST_TEST(figures["changes"]["made"] == 80);
  BOOST_TEST(figures["changes"]["acknowledged"] == 80);
  BOOST_TEST(figures["driver"]["sites_up_at_end"] == 40);
  BOOST_TEST(figures["driver"]["reconnects"] == 0);
  BOOST_TEST(figures["changes"]["latency_ms"]["p99"].get<double>() > 0);
  BOOST_TEST(figures["hub"]["kb_per_connected_site"].get<double>() > 0);
  BOOST_TEST(figures["hub"]["cpu_us_per_change"].get<double>() > 0);
}

BOOST_AUTO_TEST_SUITE_END()
