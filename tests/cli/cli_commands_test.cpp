// End-to-end tests of the built `sitesync` binary: every command of the CLI contract.
#define BOOST_TEST_MODULE sitesync_cli
#include <sstream>

#include <pwd.h>

#include "tests/cli/cli_support.h"

BOOST_AUTO_TEST_SUITE(commands)

BOOST_FIXTURE_TEST_CASE(init_makes_the_directory_a_named_site, Cli) {
  RunResult r = run("init", "--data", data, "--site", "Branch Tampere");
  BOOST_TEST(r.status == 0, r);
  BOOST_TEST(contains(r.out, "Branch Tampere"), r);
  BOOST_TEST(r.err.empty(), r);
  json s = runJson("status", "--data", data, "--json");
  BOOST_TEST(s["site"] == "Branch Tampere");
  BOOST_TEST(s["hub"] == false);
}

BOOST_FIXTURE_TEST_CASE(init_with_hub_makes_a_hub, Cli) {
  json j = runJson("init", "--data", data, "--site", "HQ", "--hub", "--json");
  BOOST_TEST(j["site"] == "HQ");
  BOOST_TEST(j["hub"] == true);
  BOOST_TEST(runJson("status", "--data", data, "--json")["hub"] == true);
}

BOOST_FIXTURE_TEST_CASE(customer_add_prints_the_new_id, Cli) {
  init();
  RunResult r = run("customer", "add", "--data", data, "--name", "Anna Virtanen");
  BOOST_TEST(r.status == 0, r);
  BOOST_TEST(isRecordId(trimNewline(r.out)), r);
  BOOST_TEST(std::count(r.out.begin(), r.out.end(), '\n') == 1, r);
  BOOST_TEST(show(trimNewline(r.out))["name"] == "Anna Virtanen");
}

BOOST_FIXTURE_TEST_CASE(customer_add_with_json_prints_the_record_with_the_required_keys, Cli) {
  init();
  json c = runJson("customer", "add", "--data", data, "--name", "Anna Virtanen", "--number", "4711",
                   "--phone", "040 123 4567", "--email", "anna@example.fi", "--ssn", "010190-123A",
                   "--set", "birth_date=1990-01-01", "--json");
  for (const char* key : kRequiredCustomerKeys) BOOST_TEST(c.contains(key), "missing " << key);
  BOOST_TEST(isRecordId(c["id"].get<std::string>()));
  BOOST_TEST(c["number"] == "4711");
  BOOST_TEST(c["name"] == "Anna Virtanen");
  BOOST_TEST(c["phone"] == "040 123 4567");
  BOOST_TEST(c["email"] == "anna@example.fi");
  BOOST_TEST(c["ssn"] == "010190-123A");
  BOOST_TEST(c["birth_date"] == "1990-01-01");
  BOOST_TEST(c["status"] == "active");
  BOOST_TEST(c["merged_into"].is_null());
  BOOST_TEST(c["flags"].is_array());
  BOOST_TEST(show(c["id"].get<std::string>()) == c);
}

BOOST_FIXTURE_TEST_CASE(customer_add_without_number_gets_an_automatic_number, Cli) {
  init();
  json a = show(add("First"));
  json b = show(add("Second"));
  BOOST_TEST(a["number"] == "1000");
  BOOST_TEST(b["number"] == "1001");
}

BOOST_FIXTURE_TEST_CASE(customer_add_sets_custom_fields_and_keeps_equals_signs_in_values, Cli) {
  init();
  std::string id = add("Anna", "--set", "custom.note=a=b c", "--set", "invoice_city=Jyväskylä");
  json c = show(id);
  BOOST_TEST(c["custom"]["note"] == "a=b c");
  BOOST_TEST(c["invoice_city"] == "Jyväskylä");
}

BOOST_FIXTURE_TEST_CASE(customer_edit_by_id_changes_the_field, Cli) {
  init();
  std::string id = add("Anna Virtanen", "--phone", "040 111");
  RunResult r = run("customer", "edit", "--data", data, id, "--set", "phone=040 222", "--set",
                    "invoice_street=Hämeenkatu 1");
  BOOST_TEST(r.status == 0, r);
  BOOST_TEST(contains(r.out, "040 222"), r);
  json c = show(id);
  BOOST_TEST(c["phone"] == "040 222");
  BOOST_TEST(c["invoice_street"] == "Hämeenkatu 1");
  BOOST_TEST(c["name"] == "Anna Virtanen");
}

BOOST_FIXTURE_TEST_CASE(customer_edit_by_number_reference_changes_the_field, Cli) {
  init();
  std::string id = add("Anna Virtanen", "--number", "5000");
  json c = runJson("customer", "edit", "--data", data, "#5000", "--set", "email=anna@example.fi",
                   "--json");
  BOOST_TEST(c["id"] == id);
  BOOST_TEST(c["email"] == "anna@example.fi");
  BOOST_TEST(show(id)["email"] == "anna@example.fi");
}

BOOST_FIXTURE_TEST_CASE(customer_show_prints_the_fields_as_text, Cli) {
  init();
  std::string id = add("Åke Öberg", "--number", "4711", "--phone", "040 123");
  RunResult r = run("customer", "show", "--data", data, id);
  BOOST_TEST(r.status == 0, r);
  BOOST_TEST(contains(r.out, id), r);
  BOOST_TEST(contains(r.out, "Åke Öberg"), r);
  BOOST_TEST(contains(r.out, "4711"), r);
  BOOST_TEST(contains(r.out, "040 123"), r);
  BOOST_TEST(contains(r.out, "active"), r);
}

BOOST_FIXTURE_TEST_CASE(customer_show_json_prints_the_record, Cli) {
  init();
  std::string id = add("Åke Öberg", "--number", "4711");
  json c = runJson("customer", "show", "--data", data, "#4711", "--json");
  for (const char* key : kRequiredCustomerKeys) BOOST_TEST(c.contains(key), "missing " << key);
  BOOST_TEST(c["id"] == id);
  BOOST_TEST(c["name"] == "Åke Öberg");
  BOOST_TEST(c["phone"].is_null());
}

BOOST_FIXTURE_TEST_CASE(customer_history_shows_old_and_new_values_with_user_and_site, Cli) {
  init("Branch Tampere");
  std::string id = add("Anna", "--phone", "040 111", "--user", "alice");
  RunResult e =
      run("customer", "edit", "--data", data, id, "--set", "phone=040 222", "--user", "bob");
  BOOST_TEST_REQUIRE(e.status == 0, e);
  RunResult r = run("customer", "history", "--data", data, id);
  BOOST_TEST(r.status == 0, r);
  BOOST_TEST(contains(r.out, "by alice at Branch Tampere"), r);
  BOOST_TEST(contains(r.out, "by bob at Branch Tampere"), r);
  BOOST_TEST(contains(r.out, "phone: \"\" -> \"040 111\""), r);
  BOOST_TEST(contains(r.out, "phone: \"040 111\" -> \"040 222\""), r);

  json h = runJson("customer", "history", "--data", data, id, "--json");
  BOOST_TEST_REQUIRE(h.is_array());
  BOOST_TEST_REQUIRE(h.size() == 2u);
  BOOST_TEST(h[1]["user"] == "bob");
  BOOST_TEST(h[1]["site"] == "Branch Tampere");
  bool found = false;
  for (const auto& ch : h[1]["changes"])
    if (ch["field"] == "phone" && ch["old"] == "040 111" && ch["new"] == "040 222") found = true;
  BOOST_TEST(found, h.dump());
}

BOOST_FIXTURE_TEST_CASE(customer_history_records_the_default_user_from_the_environment, Cli) {
  init();
  std::string id = add("Anna");
  json h = runJson("customer", "history", "--data", data, id, "--json");
  BOOST_TEST_REQUIRE(h.size() == 1u);
  BOOST_TEST(h[0]["user"] == "tester");
}

BOOST_FIXTURE_TEST_CASE(a_merge_leaves_the_absorbed_customers_history_as_it_was_plus_one_entry,
                        Cli) {
  init();
  std::string survivor = add("Anna Lind");
  std::string absorbed = add("Anna Lindh", "--email", "anna@example.fi");
  BOOST_TEST_REQUIRE(
      run("customer", "edit", "--data", data, survivor, "--set", "name=Changed Name").status == 0);
  json before = runJson("customer", "history", "--data", data, absorbed, "--json");
  BOOST_TEST_REQUIRE(
      run("customer", "merge", "--data", data, "--into", survivor, absorbed).status == 0);

  json after = runJson("customer", "history", "--data", data, absorbed, "--json");
  BOOST_TEST_REQUIRE(after.size() == before.size() + 1);
  for (size_t i = 0; i < before.size(); ++i) BOOST_TEST(after[i] == before[i], after.dump());
  BOOST_TEST(after.back()["operation"] == "merge");
  BOOST_TEST(contains(after.back()["note"].get<std::string>(), survivor), after.dump());
  // Its create still says what it wrote, not the survivor's current values.
  BOOST_TEST(contains(after[0].dump(), "Anna Lindh"), after.dump());
  BOOST_TEST(!contains(after[0].dump(), "Changed Name"), after.dump());

  json merged = runJson("customer", "history", "--data", data, survivor, "--json");
  size_t merges = 0, marked = 0;
  for (const auto& e : merged) {
    merges += e["operation"] == "merge";
    marked += e.contains("customer") && e["customer"] == absorbed;
  }
  BOOST_TEST(merges == 1u, merged.dump());
  BOOST_TEST(marked == 1u, merged.dump());  // the absorbed one's create, marked
}

BOOST_FIXTURE_TEST_CASE(without_a_user_variable_history_names_the_os_account, Cli) {
  init();
  RunResult added = runBinary({"customer", "add", "--data", data, "--name", "Anna"}, false);
  BOOST_TEST_REQUIRE(added.status == 0, added);
  json h = runJson("customer", "history", "--data", data, trimNewline(added.out), "--json");
  BOOST_TEST_REQUIRE(h.size() == 1u);
  const passwd* account = getpwuid(geteuid());
  BOOST_TEST_REQUIRE(account != nullptr);
  BOOST_TEST(h[0]["user"] == account->pw_name);
}

BOOST_FIXTURE_TEST_CASE(customer_deactivate_and_reactivate_change_the_status, Cli) {
  init();
  std::string id = add("Anna");
  RunResult d = run("customer", "deactivate", "--data", data, id);
  BOOST_TEST(d.status == 0, d);
  BOOST_TEST(contains(d.out, "deactivated"), d);
  BOOST_TEST(show(id)["status"] == "deactivated");
  json r = runJson("customer", "reactivate", "--data", data, id, "--json");
  BOOST_TEST(r["status"] == "active");
  BOOST_TEST(show(id)["status"] == "active");
}

BOOST_FIXTURE_TEST_CASE(customer_list_excludes_deactivated_customers_unless_all, Cli) {
  init();
  std::string kept = add("Kept Customer");
  std::string gone = add("Gone Customer");
  BOOST_TEST_REQUIRE(run("customer", "deactivate", "--data", data, gone).status == 0);

  json active = runJson("customer", "list", "--data", data, "--json");
  BOOST_TEST_REQUIRE(active.size() == 1u);
  BOOST_TEST(active[0]["id"] == kept);

  json all = runJson("customer", "list", "--data", data, "--all", "--json");
  BOOST_TEST_REQUIRE(all.size() == 2u);
  bool sawDeactivated = false;
  for (const auto& c : all)
    if (c["id"] == gone && c["status"] == "deactivated") sawDeactivated = true;
  BOOST_TEST(sawDeactivated, all.dump());

  RunResult text = run("customer", "list", "--data", data);
  BOOST_TEST(text.status == 0, text);
  BOOST_TEST(contains(text.out, "Kept Customer"), text);
  BOOST_TEST(!contains(text.out, "Gone Customer"), text);
  RunResult textAll = run("customer", "list", "--data", data, "--all");
  BOOST_TEST(contains(textAll.out, "Gone Customer"), textAll);
}

// Regression: deleted customers could not be listed or searched, and `restore #NUMBER` said no
// live customer had the number.
BOOST_FIXTURE_TEST_CASE(deleted_customers_are_listed_searched_and_restored_by_their_old_number,
                        Cli) {
  init();
  std::string kept = add("Kept Customer", "--phone", "040 555 0101");
  std::string gone = add("Gone Customer", "--phone", "040 555 0202");
  const std::string number = show(gone)["number"];
  BOOST_TEST_REQUIRE(run("customer", "delete", "--data", data, gone).status == 0);

  json deleted = runJson("customer", "list", "--data", data, "--deleted", "--json");
  BOOST_TEST_REQUIRE(deleted.size() == 1u, deleted.dump());
  BOOST_TEST(deleted[0]["id"] == gone);
  BOOST_TEST(deleted[0]["status"] == "deleted");
  BOOST_TEST(runJson("customer", "list", "--data", data, "--json").size() == 1u);
  for (const std::string& query :
       std::vector<std::string>{"gone", "#" + number, "040 555 0202", "Customer"}) {
    json found = runJson("customer", "search", "--data", data, query, "--deleted", "--json");
    BOOST_TEST_REQUIRE(found.size() == 1u, query << ": " << found.dump());
    BOOST_TEST(found[0]["id"] == gone);
  }
  BOOST_TEST(runJson("customer", "search", "--data", data, "gone", "--json").empty());
  BOOST_TEST(runJson("customer", "search", "--data", data, "kept", "--deleted", "--json").empty());

  RunResult restored = run("customer", "restore", "--data", data, "#" + number);
  BOOST_TEST(restored.status == 0, restored);
  BOOST_TEST(contains(restored.out, gone + " active"), restored);
  BOOST_TEST(runJson("customer", "list", "--data", data, "--deleted", "--json").empty());
  BOOST_TEST(show("#" + number)["id"] == gone);
}

BOOST_FIXTURE_TEST_CASE(customer_search_finds_by_number, Cli) {
  init();
  std::string id = add("Anna", "--number", "4711");
  add("Other", "--number", "4712");
  json found = runJson("customer", "search", "--data", data, "4711", "--json");
  BOOST_TEST_REQUIRE(found.size() == 1u, found.dump());
  BOOST_TEST(found[0]["id"] == id);
  RunResult text = run("customer", "search", "--data", data, "4711");
  BOOST_TEST(text.status == 0, text);
  BOOST_TEST(contains(text.out, id), text);
}

// Regression: `040 123 4567` did not find `+358 40 123 4567`, nor did the number's end or the
// customer's e-mail address.
BOOST_FIXTURE_TEST_CASE(customer_search_finds_a_phone_in_any_form_and_an_email_address, Cli) {
  init();
  std::string id =
      add("Anna Virtanen", "--phone", "+358 40 123 4567", "--email", "anna.virtanen@example.fi");
  add("Bertil", "--phone", "050 999 0000");
  for (const char* query :
       {"040 123 4567", "+358401234567", "1234567", "4567", "Anna.Virtanen@Example.fi"}) {
    json found = runJson("customer", "search", "--data", data, query, "--json");
    BOOST_TEST_REQUIRE(found.size() == 1u, query << ": " << found.dump());
    BOOST_TEST(found[0]["id"] == id, query);
  }
  BOOST_TEST(runJson("customer", "search", "--data", data, "041 123 4567", "--json").empty());
}

BOOST_FIXTURE_TEST_CASE(customer_search_finds_by_phone_digits, Cli) {
  init();
  std::string id = add("Anna", "--phone", "040-123 4567");
  add("Other", "--phone", "050 999 8888");
  json full = runJson("customer", "search", "--data", data, "0401234567", "--json");
  BOOST_TEST_REQUIRE(full.size() == 1u, full.dump());
  BOOST_TEST(full[0]["id"] == id);
  json spaced = runJson("customer", "search", "--data", data, "123 4567", "--json");
  BOOST_TEST_REQUIRE(spaced.size() == 1u, spaced.dump());
  BOOST_TEST(spaced[0]["id"] == id);
}

BOOST_FIXTURE_TEST_CASE(customer_search_finds_by_name_prefix_folding_non_ascii_letters, Cli) {
  init();
  std::string id = add("Åke Öberg");
  add("Anna Virtanen");
  for (const char* query : {"ake", "Öb", "öberg", "ÅKE"}) {
    json found = runJson("customer", "search", "--data", data, query, "--json");
    BOOST_TEST_REQUIRE(found.size() == 1u, query << ": " << found.dump());
    BOOST_TEST(found[0]["id"] == id);
    BOOST_TEST(found[0]["name"] == "Åke Öberg");
  }
  BOOST_TEST(runJson("customer", "search", "--data", data, "zzz", "--json").empty());
}

BOOST_FIXTURE_TEST_CASE(settings_show_prints_every_setting_with_its_default, Cli) {
  init();
  RunResult r = run("settings", "show", "--data", data);
  BOOST_TEST(r.status == 0, r);
  BOOST_TEST(contains(r.out, "number_min_length=1"), r);
  BOOST_TEST(contains(r.out, "required_fields="), r);
  json s = runJson("settings", "show", "--data", data, "--json");
  BOOST_TEST(s["number_min_length"] == "1");
  BOOST_TEST(s["require_phone_or_email"] == "false");
  BOOST_TEST(s.contains("required_fields"));
}

BOOST_FIXTURE_TEST_CASE(settings_set_changes_settings_and_prints_them, Cli) {
  init();
  std::string before = digest();
  RunResult r = run("settings", "set", "--data", data, "number_min_length=4", "ssn_unique=true");
  BOOST_TEST(r.status == 0, r);
  BOOST_TEST(contains(r.out, "number_min_length=4"), r);
  BOOST_TEST(contains(r.out, "ssn_unique=true"), r);
  json j = runJson("settings", "set", "--data", data, "number_max_length=8", "--json");
  BOOST_TEST(j["number_max_length"] == "8");
  BOOST_TEST(j["number_min_length"] == "4");
  json s = runJson("settings", "show", "--data", data, "--json");
  BOOST_TEST(s["number_min_length"] == "4");
  BOOST_TEST(s["number_max_length"] == "8");
  BOOST_TEST(s["ssn_unique"] == "true");
  BOOST_TEST(digest() != before);
}

BOOST_FIXTURE_TEST_CASE(digest_is_one_line_of_64_hex_chars_and_stable, Cli) {
  init();
  add("Anna");
  RunResult a = run("digest", "--data", data);
  RunResult b = run("digest", "--data", data);
  BOOST_TEST(a.status == 0, a);
  BOOST_TEST(std::regex_match(a.out, std::regex("^[0-9a-f]{64}\n$")), a);
  BOOST_TEST(a.out == b.out);
}

BOOST_FIXTURE_TEST_CASE(digest_changes_when_the_register_changes, Cli) {
  init();
  std::string empty = digest();
  std::string id = add("Anna");
  std::string one = digest();
  BOOST_TEST(one != empty);
  BOOST_TEST_REQUIRE(run("customer", "edit", "--data", data, id, "--set", "phone=040 1").status ==
                     0);
  BOOST_TEST(digest() != one);
}

BOOST_FIXTURE_TEST_CASE(status_prints_the_site_name_and_counts, Cli) {
  init("Branch Tampere");
  add("Anna");
  std::string gone = add("Gone");
  BOOST_TEST_REQUIRE(run("customer", "deactivate", "--data", data, gone).status == 0);
  RunResult r = run("status", "--data", data);
  BOOST_TEST(r.status == 0, r);
  BOOST_TEST(contains(r.out, "Branch Tampere"), r);
  BOOST_TEST(contains(r.out, "1 active"), r);
  BOOST_TEST(contains(r.out, "1 deactivated"), r);
  json j = runJson("status", "--data", data, "--json");
  BOOST_TEST(j["site"] == "Branch Tampere");
  BOOST_TEST(std::regex_match(j["site_id"].get<std::string>(), std::regex("^[0-9a-f]{16}$")));
  BOOST_TEST(j["customers"] == 1);
  BOOST_TEST(j["deactivated"] == 1);
  BOOST_TEST(j["hub"] == false);
}

BOOST_FIXTURE_TEST_CASE(bench_local_json_prints_one_object_of_figures, Cli) {
  std::string scratch = (root / "bench").string();
  RunResult r = runBench("local", "--data", scratch, "--customers", "200", "--json");
  BOOST_TEST_REQUIRE(r.status == 0, r);
  BOOST_TEST_REQUIRE(json::accept(r.out), r);
  json j = json::parse(r.out);
  BOOST_TEST_REQUIRE(j.is_object());
  BOOST_TEST(j["customers"] == 200);
  for (const char* key : {"bulk_create_per_s", "raw_lmdb_per_s", "bulk_vs_raw_ratio",
                          "lookup_number_p50_us", "lookup_number_p99_us", "lookup_phone_p99_us",
                          "search_name_prefix_p99_us", "durable_single_writes_per_s",
                          "group_commit_writes_per_s", "digest_seconds", "peak_rss_anon_mb"}) {
    BOOST_TEST_REQUIRE(j.contains(key), "missing " << key);
    BOOST_TEST(j[key].is_number(), key);
    BOOST_TEST(j[key].get<double>() >= 0.0, key);
  }
  BOOST_TEST(j["bulk_create_per_s"].get<double>() > 0.0);
  BOOST_TEST(j["raw_lmdb_per_s"].get<double>() > 0.0);
  BOOST_TEST(!fs::exists(fs::path(scratch) / "bench-apply"));
}

BOOST_FIXTURE_TEST_CASE(bench_sync_json_reports_what_moved_and_what_the_hub_wrote, Cli) {
  std::string scratch = (root / "bench").string();
  RunResult r = runBench("sync", "--data", scratch, "--customers", "3000", "--edits", "40",
                         "--live-edits", "10", "--conflict-customers", "0", "--json");
  BOOST_TEST_REQUIRE(r.status == 0, r);
  BOOST_TEST_REQUIRE(json::accept(r.out), r);
  json j = json::parse(r.out);
  BOOST_TEST(j["bulk_changes"] == 3000);
  BOOST_TEST(j["catch_up_edits"] == 40);
  for (const char* key :
       {"bulk_seconds", "bulk_changes_per_s", "raw_lmdb_per_s", "catch_up_acknowledged_ms",
        "catch_up_applied_ms", "live_p50_ms", "hub_peak_rss_anon_mb", "hub_bulk_written_mb"}) {
    BOOST_TEST_REQUIRE(j.contains(key), "missing " << key);
    BOOST_TEST(j[key].get<double>() > 0.0, key);
  }
  // 3,000 customers of ~400 bytes, each with its log entry, history and index entries.
  BOOST_TEST(j["hub_bulk_written_mb"].get<double>() > 1.0);
  BOOST_TEST(j["signatures_checked"] == true);
}

BOOST_FIXTURE_TEST_CASE(bench_sync_unsigned_runs_a_hub_that_skips_signature_checks, Cli) {
  std::string scratch = (root / "bench").string();
  RunResult r = runBench("sync", "--data", scratch, "--customers", "1000", "--edits", "10",
                         "--live-edits", "0", "--conflict-customers", "0", "--unsigned", "--json");
  BOOST_TEST_REQUIRE(r.status == 0, r);
  BOOST_TEST_REQUIRE(json::accept(r.out), r);
  json j = json::parse(r.out);
  BOOST_TEST(j["signatures_checked"] == false);
  BOOST_TEST(j["bulk_changes"] == 1000);
  BOOST_TEST(j["catch_up_edits"] == 10);
}

BOOST_FIXTURE_TEST_CASE(bench_api_json_prints_the_api_figures, Cli) {
  std::string scratch = (root / "bench").string();
  RunResult r = runBench("api", "--data", scratch, "--customers", "500", "--seconds", "0.2",
                         "--creates-per-client", "3", "--feed-changes", "5", "--bulk-changes",
                         "4000", "--json");
  BOOST_TEST_REQUIRE(r.status == 0, r);
  BOOST_TEST_REQUIRE(json::accept(r.out), r);
  json j = json::parse(r.out);
  BOOST_TEST(j["customers"] == 500);
  for (const char* key :
       {"read_one_connection_p50_us", "reads_per_s", "creates_per_s", "create_one_client_p50_ms",
        "feed_p50_ms", "feed_p99_ms", "bulk_alone_per_s", "bulk_under_reads_per_s",
        "reads_during_bulk_per_s"}) {
    BOOST_TEST_REQUIRE(j.contains(key), "missing " << key);
    BOOST_TEST(j[key].get<double>() > 0.0, key);
  }
}

BOOST_FIXTURE_TEST_CASE(bench_import_json_imports_a_generated_file_twice, Cli) {
  RunResult r = runBench("import", "--data", (root / "bench").string(), "--rows", "300", "--json");
  BOOST_TEST_REQUIRE(r.status == 0, r);
  BOOST_TEST_REQUIRE(json::accept(r.out), r);
  json j = json::parse(r.out);
  BOOST_TEST(j["first"]["created"] == 300);
  BOOST_TEST(j["again"]["unchanged"] == 300);
  BOOST_TEST(j["first"]["rows_per_s"].get<double>() > 0.0);
}

BOOST_FIXTURE_TEST_CASE(bench_filtered_json_measures_a_laptops_join_and_catch_up, Cli) {
  RunResult r =
      runBench("filtered", "--data", (root / "bench").string(), "--customers", "3000", "--assigned",
               "100", "--edits", "300", "--edits-in-filter", "20", "--laptops", "3", "--json");
  BOOST_TEST_REQUIRE(r.status == 0, r);
  BOOST_TEST_REQUIRE(json::accept(r.out), r);
  json j = json::parse(r.out);
  BOOST_TEST(j["join"]["records"] == 100);
  BOOST_TEST(j["catch_up"]["records_received"] == 20);  // its own share of the hub's edits
  BOOST_TEST(j["laptops_at_once"]["hub_cpu_seconds"].get<double>() >= 0.0);
}

// The commands a help text lists under "Subcommands:" (CLI11's layout: two spaces, the name).
std::vector<std::string> subcommandsIn(const std::string& help) {
  std::vector<std::string> names;
  const auto at = help.find("\nSubcommands:\n");
  if (at == std::string::npos) return names;
  std::istringstream lines(help.substr(at + 14));
  std::string line;
  while (std::getline(lines, line) && line.rfind("  ", 0) == 0) {
    std::istringstream words(line);
    std::string name;
    words >> name;
    names.push_back(name);
  }
  return names;
}

BOOST_FIXTURE_TEST_CASE(sitesync_bench_lists_its_benchmarks_and_not_its_hub_process, Cli) {
  RunResult help = runBench("--help");
  BOOST_TEST_REQUIRE(help.status == 0, help);
  std::vector<std::string> expected = {"local",  "sync",     "tables", "api",
                                       "import", "filtered", "mirror", "hub"};
  BOOST_TEST(subcommandsIn(help.out) == expected, help.out);
  expectError(
      runBench(), 2,
      {"sitesync-bench needs a command: local, sync, tables, api, import, filtered, mirror, hub"});
}

BOOST_FIXTURE_TEST_CASE(help_and_every_command_with_help_print_their_usage, Cli) {
  RunResult top = run("help");
  BOOST_TEST_REQUIRE(top.status == 0, top);
  BOOST_TEST(top.out == run("--help").out);
  BOOST_TEST(contains(top.out, "Usage:"), top);
  // Every command and subcommand, found by walking the help texts, answers --help (also as
  // `sitesync help COMMAND...`) with its own usage line.
  std::vector<std::vector<std::string>> pending;
  for (const auto& name : subcommandsIn(top.out)) pending.push_back({name});
  size_t checked = 0;
  while (!pending.empty()) {
    std::vector<std::string> command = pending.back();
    pending.pop_back();
    std::vector<std::string> args = command;
    args.push_back("--help");
    RunResult help = runv(args);
    std::string path;
    for (const auto& word : command) path += " " + word;
    BOOST_TEST(help.status == 0, path << ": " << help);
    BOOST_TEST(contains(help.out, "Usage:"), path << ": " << help);
    BOOST_TEST(contains(help.out, command.back()), path << ": " << help);
    args = command;
    args.insert(args.begin(), "help");
    BOOST_TEST(runv(args).out == help.out, path);
    for (const auto& sub : subcommandsIn(help.out)) {
      pending.push_back(command);
      pending.back().push_back(sub);
    }
    ++checked;
  }
  BOOST_TEST(checked >= 30u);  // customer, its dozen, keys, peers, inbox, ...
  expectError(run("help", "nonexistent"), 2, {"nonexistent"});
}

BOOST_FIXTURE_TEST_CASE(public_keys_are_printed_quoted_and_accepted_quoted_or_not, Cli) {
  init();
  const std::string other = (root / "other").string();
  BOOST_TEST_REQUIRE(run("init", "--data", other, "--site", "HQ", "--hub").status == 0);
  const std::string shown = trimNewline(run("keys", "show", "--data", other).out);
  const std::string key = runJson("keys", "show", "--data", other, "--json")["public_key"];
  BOOST_TEST(key.size() == 40u);
  BOOST_TEST(shown == "'" + key + "'");  // Z85 holds & < > ( ) $ #: quoted for a shell
  BOOST_TEST(run("peers", "add", "--data", data, "--name", "hq", "--key", shown).status == 0);
  BOOST_TEST(run("peers", "add", "--data", data, "--name", "hq", "--key", key).status == 0);
  json list = runJson("peers", "list", "--data", data, "--json");
  BOOST_TEST_REQUIRE(list.size() == 1u);
  BOOST_TEST(list[0]["key"] == key);
  BOOST_TEST(contains(run("peers", "list", "--data", data).out, shown));
}

BOOST_FIXTURE_TEST_CASE(customer_add_help_lists_the_field_names, Cli) {
  RunResult r = run("customer", "add", "--help");
  BOOST_TEST(r.status == 0, r);
  for (const char* field : {"birth_date", "invoice_street", "phone", "email", "custom.NAME"})
    BOOST_TEST(contains(r.out, field), field << " not in: " << r.out);
}

BOOST_FIXTURE_TEST_CASE(ssn_shown_false_hides_social_security_numbers_in_show_and_history, Cli) {
  init();
  std::string id = add("Anna Virtanen", "--ssn", "010190-123A");
  BOOST_TEST(contains(run("customer", "show", "--data", data, id).out, "010190-123A"));
  BOOST_TEST(run("settings", "set", "--data", data, "ssn_shown=false").status == 0);
  RunResult show = run("customer", "show", "--data", data, id, "--json");
  BOOST_TEST(show.status == 0);
  auto j = nlohmann::json::parse(show.out);
  BOOST_TEST(j["ssn"].is_null());
  BOOST_TEST(j["ssn_hidden"] == true);
  BOOST_TEST(!contains(run("customer", "history", "--data", data, id).out, "010190-123A"));
  BOOST_TEST(!contains(run("customer", "show", "--data", data, id).out, "010190-123A"));
}

BOOST_AUTO_TEST_SUITE_END()
