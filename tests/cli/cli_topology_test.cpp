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

BOOST_AUTO_TEST_SUITE_END()
