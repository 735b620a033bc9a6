// `sitesync fields define|list|retire`: the deployment's custom fields, and what a site that
// writes customers makes of them.
#include "tests/cli/cli_support.h"
#include "tests/cli/serve_process.h"

BOOST_AUTO_TEST_SUITE(commands)

BOOST_FIXTURE_TEST_CASE(defined_fields_are_listed_enforced_and_retired_with_one_line_errors, Cli) {
  init();
  const std::string legacy = add("Legacy", "--set", "custom.note=kept");
  BOOST_TEST_REQUIRE(run("fields", "define", "--data", data, "--name", "tier", "--kind", "choice",
                         "--choices", "gold,silver", "--required", "--label", "Tier")
                         .status == 0);
  BOOST_TEST_REQUIRE(
      run("fields", "define", "--data", data, "--name", "visits", "--kind", "number").status == 0);
  json fields = runJson("fields", "list", "--data", data, "--json");
  BOOST_TEST_REQUIRE(fields.size() == 2u, fields.dump());
  BOOST_TEST(fields[0]["name"] == "tier");
  BOOST_TEST(fields[0]["choices"] == json::array({"gold", "silver"}));
  BOOST_TEST(fields[0]["required"] == true);

  const std::string before = state();
  expectError(run("customer", "add", "--data", data, "--name", "No Tier"), 2,
              {"custom field 'tier' is required"});
  expectError(run("customer", "add", "--data", data, "--name", "X", "--set", "custom.tier=bronze"),
              2, {"not one of its choices (gold, silver)"});
  expectError(run("customer", "add", "--data", data, "--name", "X", "--set", "custom.tier=gold",
                  "--set", "custom.shoe=42"),
              2, {"custom field 'shoe' is not defined"});
  expectError(run("fields", "define", "--data", data, "--name", "x", "--kind", "colour"), 2,
              {"--kind", "colour"});
  BOOST_TEST(state() == before);
  add("Gold", "--set", "custom.tier=gold", "--set", "custom.visits=3");

  BOOST_TEST_REQUIRE(run("fields", "retire", "--data", data, "--name", "visits").status == 0);
  expectError(run("customer", "add", "--data", data, "--name", "Y", "--set", "custom.tier=gold",
                  "--set", "custom.visits=1"),
              2, {"'visits' is retired"});
  // Retired and undefined values stay readable and exportable.
  RunResult exported = run("customer", "export", "--data", data, "--fields", "name,custom.visits");
  BOOST_TEST(contains(exported.out, "\"Gold\",\"3\""), exported);
  BOOST_TEST(show(legacy)["custom"]["note"] == "kept");
}

BOOST_FIXTURE_TEST_CASE(a_branch_is_told_to_define_fields_on_the_hub, Cli) {
  const std::string hub = (root / "hub").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  BOOST_TEST_REQUIRE(
      run("fields", "define", "--data", hub, "--name", "tier", "--kind", "text").status == 0);
  ServeProcess serving(hub);
  BOOST_TEST_REQUIRE(
      run("join", "--data", data, "--site", "Branch", "--hub", serving.endpoint()).status == 0);
  BOOST_TEST(runJson("fields", "list", "--data", data, "--json").size() == 1u);
  expectError(run("fields", "define", "--data", data, "--name", "x", "--kind", "text"), 2,
              {"settings belong to the deployment", "'HQ'"});
}

BOOST_AUTO_TEST_SUITE_END()
