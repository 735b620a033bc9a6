// Store formats: a store written by the previous format (a fixture made by that sitesync) is
// upgraded in place by this one and keeps everything: records, history, numbers, the allow list,
// the site's key (it signs new changes), and every check of `doctor`.
#include "tests/cli/cli_support.h"

BOOST_AUTO_TEST_SUITE(commands)

BOOST_FIXTURE_TEST_CASE(a_store_of_the_previous_format_is_upgraded_in_place_and_keeps_everything,
                        Cli) {
  fs::create_directories(data);
  fs::copy_file(fs::path(SITESYNC_SOURCE_DIR) / "tests/fixtures/store-format-1/data.mdb",
                fs::path(data) / "data.mdb");
  const json status = runJson("status", "--data", data, "--json");
  BOOST_TEST(status["format_version"].get<int>() == 2);
  BOOST_TEST(status["site"] == "Fixture HQ");
  BOOST_TEST(status["customers"].get<int>() == 2);
  BOOST_TEST(status["tombstones"].get<int>() == 1);
  BOOST_TEST(status["last_seq"].get<int>() == 6);

  const json eino = show("cc40e3d9161cac18-3");
  BOOST_TEST(eino["name"] == "Eino Leino");
  BOOST_TEST(eino["number"] == "1001");
  BOOST_TEST(eino["invoice_city"] == "Tampere");
  BOOST_TEST(
      runJson("customer", "history", "--data", data, "cc40e3d9161cac18-3", "--json").size() == 2u);
  const RunResult found = run("customer", "search", "--data", data, "040 123 4567");
  BOOST_TEST(contains(found.out, "Aino Virtanen"), found);
  BOOST_TEST(contains(run("peers", "list", "--data", data).out, "Fixture Branch"));

  // The site key moved out of the meta record still signs: a new change, and doctor verifies it.
  const std::string added = add("After The Upgrade");
  BOOST_TEST(show(added)["number"] == "1003");
  const json doctor = runJson("doctor", "--data", data, "--json");
  BOOST_TEST(doctor["healthy"].get<bool>(), doctor.dump());
}

BOOST_AUTO_TEST_SUITE_END()
