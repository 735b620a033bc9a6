// End-to-end tests of the built `sitesync` binary: every error path (exit status, one line on
// stderr, and nothing written to the store).
#include "tests/cli/cli_support.h"

BOOST_AUTO_TEST_SUITE(errors)

BOOST_FIXTURE_TEST_CASE(bench_tables_of_a_store_that_is_not_there_is_refused, Cli) {
  expectError(runBench("tables", "--store", data + "/missing", "--data", data), 2,
              {"cannot open the store", "missing"});
}

BOOST_FIXTURE_TEST_CASE(inbox_drop_of_a_batch_that_is_not_there_is_refused, Cli) {
  init();
  RunResult list = run("inbox", "list", "--data", data);
  BOOST_TEST(list.status == 0);
  BOOST_TEST(list.out.find("the inbox is empty") != std::string::npos);
  std::string before = state();
  expectError(run("inbox", "drop", "--data", data, "5"), 2, {"no staged batch 5", "inbox list"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_add_with_an_unknown_field_is_refused_listing_the_valid_ones, Cli) {
  init();
  add("Existing");
  std::string before = state();
  RunResult r =
      run("customer", "add", "--data", data, "--name", "Anna", "--set", "favourite_colour=blue");
  expectError(r, 2, {"favourite_colour", "phone", "birth_date"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(a_malformed_assignment_is_refused_saying_what_was_expected, Cli) {
  init();
  const std::string before = state();
  for (const char* bad : {"name", "=Anna"})
    expectError(run("customer", "add", "--data", data, "--name", "Anna", "--set", bad), 2,
                {"FIELD=VALUE"});
  expectError(run("customer", "add", "--data", data, "--name", "Anna", "--set", "custom.=x"), 2,
              {"unknown field 'custom.'", "custom.NAME"});
  expectError(run("settings", "set", "--data", data, "number=1"), 2,
              {"unknown setting 'number'", "number_block_size"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_edit_with_an_unknown_field_is_refused_listing_the_valid_ones,
                        Cli) {
  init();
  std::string id = add("Anna");
  std::string before = state();
  RunResult r = run("customer", "edit", "--data", data, id, "--set", "phone=040 1", "--set",
                    "favourite_colour=blue");
  expectError(r, 2, {"favourite_colour", "phone", "invoice_street"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_add_with_a_number_shorter_than_the_minimum_is_refused, Cli) {
  init();
  BOOST_TEST_REQUIRE(run("settings", "set", "--data", data, "number_min_length=4").status == 0);
  std::string before = state();
  expectError(run("customer", "add", "--data", data, "--name", "Anna", "--number", "12"), 2,
              {"12", "4"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_edit_to_a_number_shorter_than_the_minimum_is_refused, Cli) {
  init();
  std::string id = add("Anna", "--number", "12345");
  BOOST_TEST_REQUIRE(run("settings", "set", "--data", data, "number_min_length=4").status == 0);
  std::string before = state();
  expectError(run("customer", "edit", "--data", data, id, "--set", "number=12"), 2, {"12"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_add_with_a_non_digit_number_is_refused, Cli) {
  init();
  std::string before = state();
  expectError(run("customer", "add", "--data", data, "--name", "Anna", "--number", "12ab"), 2,
              {"number"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_add_with_a_duplicate_local_number_is_refused, Cli) {
  init();
  std::string first = add("Anna", "--number", "4711");
  std::string before = state();
  expectError(run("customer", "add", "--data", data, "--name", "Bert", "--number", "4711"), 2,
              {"4711", first});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_edit_to_a_duplicate_local_number_is_refused, Cli) {
  init();
  add("Anna", "--number", "4711");
  std::string second = add("Bert", "--number", "4712");
  std::string before = state();
  expectError(run("customer", "edit", "--data", data, second, "--set", "number=4711"), 2, {"4711"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_add_without_a_required_field_is_refused, Cli) {
  init();
  BOOST_TEST_REQUIRE(run("settings", "set", "--data", data, "required_fields=phone").status == 0);
  std::string before = state();
  expectError(run("customer", "add", "--data", data, "--name", "Anna"), 2, {"phone"});
  BOOST_TEST(state() == before);
  add("Anna", "--phone", "040 123");  // with it, the add goes through
}

BOOST_FIXTURE_TEST_CASE(customer_edit_clearing_a_required_field_is_refused, Cli) {
  init();
  std::string id = add("Anna", "--phone", "040 123");
  BOOST_TEST_REQUIRE(run("settings", "set", "--data", data, "required_fields=phone").status == 0);
  std::string before = state();
  expectError(run("customer", "edit", "--data", data, id, "--set", "phone="), 2, {"phone"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_add_without_phone_or_email_when_required_is_refused, Cli) {
  init();
  BOOST_TEST_REQUIRE(run("settings", "set", "--data", data, "require_phone_or_email=true").status ==
                     0);
  std::string before = state();
  expectError(run("customer", "add", "--data", data, "--name", "Anna"), 2, {"phone", "e-mail"});
  BOOST_TEST(state() == before);
  add("Anna", "--email", "anna@example.fi");
}

BOOST_FIXTURE_TEST_CASE(customer_add_with_an_empty_name_is_refused, Cli) {
  init();
  std::string before = state();
  expectError(run("customer", "add", "--data", data, "--name", ""), 2, {"name"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_add_with_a_non_utf8_name_is_refused, Cli) {
  init();
  add("Existing");
  std::string before = state();
  expectError(run("customer", "add", "--data", data, "--name", "Bad\xffName"), 2, {"UTF-8"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_edit_with_a_non_utf8_value_is_refused, Cli) {
  init();
  std::string id = add("Anna");
  std::string before = state();
  expectError(run("customer", "edit", "--data", data, id, "--set", "invoice_city=Jyv\xe4skyl\xe4"),
              2, {"UTF-8"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_search_with_a_non_utf8_query_is_refused, Cli) {
  init();
  add("Anna");
  expectError(run("customer", "search", "--data", data, "\xff"), 2, {"UTF-8"});
}

BOOST_FIXTURE_TEST_CASE(customer_show_of_an_unknown_number_is_refused, Cli) {
  init();
  add("Anna", "--number", "4711");
  expectError(run("customer", "show", "--data", data, "#99999"), 2, {"99999"});
}

BOOST_FIXTURE_TEST_CASE(customer_show_of_an_unknown_well_formed_id_is_refused, Cli) {
  init();
  std::string id = add("Anna");
  std::string unknown = id.substr(0, 17) + "999999";
  expectError(run("customer", "show", "--data", data, unknown), 2, {unknown});
  expectError(run("customer", "history", "--data", data, unknown), 2, {unknown});
}

BOOST_FIXTURE_TEST_CASE(customer_show_of_a_malformed_id_is_refused, Cli) {
  init();
  add("Anna");
  expectError(run("customer", "show", "--data", data, "not-an-id"), 2, {"not-an-id", "#NUMBER"});
}

BOOST_FIXTURE_TEST_CASE(customer_edit_deactivate_and_reactivate_of_unknown_refs_write_nothing,
                        Cli) {
  init();
  std::string id = add("Anna", "--number", "4711");
  std::string unknown = id.substr(0, 17) + "999999";
  std::string before = state();
  for (const std::string& ref : {std::string("#99999"), unknown, std::string("garbage")}) {
    expectError(run("customer", "edit", "--data", data, ref, "--set", "phone=040 1"), 2, {});
    expectError(run("customer", "deactivate", "--data", data, ref), 2, {});
    expectError(run("customer", "reactivate", "--data", data, ref), 2, {});
  }
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_add_with_an_invalid_birth_date_is_refused, Cli) {
  init();
  std::string before = state();
  expectError(
      run("customer", "add", "--data", data, "--name", "Anna", "--set", "birth_date=2026-13-01"), 2,
      {"birth_date"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_add_with_an_invalid_email_is_refused, Cli) {
  init();
  std::string before = state();
  expectError(run("customer", "add", "--data", data, "--name", "Anna", "--email", "foo"), 2,
              {"email"});
  expectError(run("customer", "add", "--data", data, "--name", "Anna", "--set", "email=foo"), 2,
              {"email"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_edit_with_invalid_value_kinds_is_refused, Cli) {
  init();
  std::string id = add("Anna");
  std::string before = state();
  expectError(run("customer", "edit", "--data", data, id, "--set", "birth_date=2026-13-01"), 2,
              {"birth_date"});
  expectError(run("customer", "edit", "--data", data, id, "--set", "email=foo"), 2, {"email"});
  expectError(run("customer", "edit", "--data", data, id, "--set", "newsletter=maybe"), 2,
              {"newsletter"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(customer_edit_without_set_is_a_usage_error, Cli) {
  init();
  std::string id = add("Anna");
  std::string before = state();
  expectError(run("customer", "edit", "--data", data, id), 2, {"--set"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(an_unknown_command_is_a_usage_error, Cli) {
  init();
  std::string before = state();
  expectError(run("frobnicate", "--data", data), 2, {"frobnicate"});
  expectError(run("customer", "frobnicate", "--data", data), 2, {"frobnicate"});
  expectError(run(), 2, {});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(an_unknown_flag_is_a_usage_error, Cli) {
  init();
  std::string before = state();
  expectError(run("customer", "list", "--data", data, "--bogus"), 2, {"--bogus"});
  expectError(run("customer", "add", "--data", data, "--name", "Anna", "--bogus"), 2, {"--bogus"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(a_missing_data_option_is_a_usage_error, Cli) {
  expectError(run("customer", "list"), 2, {"--data"});
  expectError(run("digest"), 2, {"--data"});
}

BOOST_FIXTURE_TEST_CASE(a_data_directory_that_does_not_exist_is_a_usage_error_and_not_created,
                        Cli) {
  std::string missing = (root / "no such dir").string();
  const std::vector<std::vector<std::string>> commands = {
      {"customer", "add", "--data", missing, "--name", "Anna"},
      {"customer", "list", "--data", missing},
      {"customer", "show", "--data", missing, "#1000"},
      {"customer", "search", "--data", missing, "anna"},
      {"settings", "show", "--data", missing},
      {"settings", "set", "--data", missing, "number_min_length=4"},
      {"digest", "--data", missing},
      {"status", "--data", missing},
  };
  for (const auto& args : commands) {
    expectError(runv(args), 2, {"not a sitesync data directory"});
    BOOST_TEST(!fs::exists(missing), args[0] << " " << args[1] << " created " << missing);
  }
}

BOOST_FIXTURE_TEST_CASE(an_empty_directory_is_not_a_data_directory_and_stays_empty, Cli) {
  std::string empty = (root / "empty").string();
  fs::create_directories(empty);
  expectError(run("customer", "add", "--data", empty, "--name", "Anna"), 2,
              {"not a sitesync data directory"});
  expectError(run("status", "--data", empty), 2, {"not a sitesync data directory"});
  expectError(run("digest", "--data", empty), 2, {"not a sitesync data directory"});
  BOOST_TEST(fs::is_empty(empty));
}

BOOST_FIXTURE_TEST_CASE(init_twice_on_the_same_directory_fails_and_leaves_the_site_untouched, Cli) {
  init("Branch Tampere");
  add("Anna");
  std::string before = state();
  json statusBefore = runJson("status", "--data", data, "--json");
  expectError(run("init", "--data", data, "--site", "Imposter", "--hub"), 1,
              {"already holds a site"});
  BOOST_TEST(state() == before);
  json statusAfter = runJson("status", "--data", data, "--json");
  BOOST_TEST(statusAfter["site"] == "Branch Tampere");
  BOOST_TEST(statusAfter["site_id"] == statusBefore["site_id"]);
  BOOST_TEST(statusAfter["hub"] == false);
}

BOOST_FIXTURE_TEST_CASE(init_with_an_invalid_site_name_is_refused_and_writes_nothing, Cli) {
  expectError(run("init", "--data", data, "--site", ""), 2, {"site name"});
  BOOST_TEST(!fs::exists(data), "a failed init left " << data << " behind");
  expectError(run("init", "--data", data, "--site", "Bad\xffSite"), 2, {"site name"});
  BOOST_TEST(!fs::exists(data), "a failed init left " << data << " behind");
}

BOOST_FIXTURE_TEST_CASE(settings_set_with_an_unknown_key_is_refused_listing_the_valid_ones, Cli) {
  init();
  std::string before = state();
  expectError(run("settings", "set", "--data", data, "colour=blue"), 2,
              {"colour", "number_min_length"});
  // One bad key refuses the whole command, the good key included.
  expectError(run("settings", "set", "--data", data, "number_min_length=4", "colour=blue"), 2,
              {"colour"});
  BOOST_TEST(state() == before);
  BOOST_TEST(runJson("settings", "show", "--data", data, "--json")["number_min_length"] == "1");
}

BOOST_FIXTURE_TEST_CASE(settings_set_with_a_bad_value_is_refused, Cli) {
  init();
  std::string before = state();
  expectError(run("settings", "set", "--data", data, "auto_number=maybe"), 2, {"auto_number"});
  expectError(run("settings", "set", "--data", data, "number_min_length=abc"), 2,
              {"number_min_length"});
  expectError(run("settings", "set", "--data", data, "required_fields=favourite_colour"), 2,
              {"favourite_colour"});
  expectError(run("settings", "set", "--data", data, "number_min_length=20"), 2,
              {"number_max_length"});
  expectError(run("settings", "set", "--data", data, "number_min_length"), 2, {"=VALUE"});
  expectError(run("settings", "set", "--data", data), 2, {});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(a_missing_required_option_or_argument_is_a_usage_error, Cli) {
  init();
  std::string before = state();
  expectError(run("customer", "add", "--data", data), 2, {"--name"});
  expectError(run("customer", "show", "--data", data), 2, {"REF"});
  expectError(run("init", "--data", (root / "other").string()), 2, {"--site"});
  BOOST_TEST(!fs::exists(root / "other"));
  BOOST_TEST(state() == before);
}

// The benchmarks are sitesync-bench's; the product has neither them nor a way to skip checks.
BOOST_FIXTURE_TEST_CASE(sitesync_has_no_bench_command_and_serve_no_signature_bypass, Cli) {
  std::string scratch = (root / "bench").string();
  expectError(run("bench", "local", "--data", scratch, "--customers", "10"), 2, {"bench"});
  BOOST_TEST(!fs::exists(scratch));
  init();
  expectError(
      run("serve", "--data", data, "--listen", "tcp://127.0.0.1:*", "--bench-unchecked-signatures"),
      2, {"--bench-unchecked-signatures"});
}

BOOST_FIXTURE_TEST_CASE(bench_local_with_a_non_numeric_customer_count_is_a_usage_error, Cli) {
  std::string scratch = (root / "bench").string();
  expectError(runBench("local", "--data", scratch, "--customers", "abc"), 2, {"--customers"});
  BOOST_TEST(!fs::exists(scratch));
}

BOOST_FIXTURE_TEST_CASE(bench_local_with_zero_customers_is_a_usage_error, Cli) {
  std::string scratch = (root / "bench").string();
  expectError(runBench("local", "--data", scratch, "--customers", "0", "--json"), 2,
              {"--customers"});
}

BOOST_AUTO_TEST_SUITE_END()
