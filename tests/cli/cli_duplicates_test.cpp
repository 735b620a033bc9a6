// `sitesync customer duplicates` and the note `customer add` gives about a likely duplicate.
#include "tests/cli/cli_support.h"

BOOST_AUTO_TEST_SUITE(commands)

BOOST_FIXTURE_TEST_CASE(duplicates_lists_likely_pairs_best_first_with_their_reasons, Cli) {
  init();
  const std::string a =
      add("Aino Virtanen", "--phone", "040 123 4567", "--set", "birth_date=1980-12-31");
  const std::string b =
      add("Virtanen Aino", "--phone", "+358 40 123 4567", "--set", "birth_date=1980-12-31");
  const std::string c = add("Bo Ek", "--email", "bo@example.se");
  const std::string d = add("Bosse Ek", "--email", "BO@example.se");
  add("Someone Else");
  json pairs = runJson("customer", "duplicates", "--data", data, "--json");
  BOOST_TEST_REQUIRE(pairs.size() == 2u, pairs.dump());
  BOOST_TEST(pairs[0]["customers"] == json::array({a, b}));
  BOOST_TEST(pairs[0]["reasons"] == json::array({"same name and birth date", "same phone"}));
  BOOST_TEST(pairs[0]["score"] == 0.9);
  BOOST_TEST(pairs[1]["customers"] == json::array({c, d}));
  BOOST_TEST(pairs[1]["names"] == json::array({"Bo Ek", "Bosse Ek"}));
  RunResult text = run("customer", "duplicates", "--data", data, "--limit", "1");
  BOOST_TEST(text.status == 0, text);
  BOOST_TEST(std::count(text.out.begin(), text.out.end(), '\n') == 1, text.out);
}

BOOST_FIXTURE_TEST_CASE(adding_a_likely_duplicate_succeeds_with_a_note_naming_the_other, Cli) {
  init();
  const std::string first = add("Maija Meik\xC3\xA4l\xC3\xA4inen", "--email", "maija@example.fi");
  RunResult second = run("customer", "add", "--data", data, "--name",
                         "M. Meik\xC3\xA4l\xC3\xA4inen", "--email", "Maija@Example.fi");
  BOOST_TEST(second.status == 0, second);
  BOOST_TEST(isRecordId(trimNewline(second.out)), second);
  BOOST_TEST(contains(second.err, "may be the same person as " + first), second.err);
  BOOST_TEST(contains(second.err, "same e-mail address"), second.err);
  RunResult unrelated = run("customer", "add", "--data", data, "--name", "Pekka Puupää");
  BOOST_TEST(unrelated.err.empty(), unrelated.err);
}

BOOST_AUTO_TEST_SUITE_END()
