// End-to-end tests of the built `sitesync` binary: every command of the CLI contract and every
// error path (exit status, one line on stderr, and nothing written to the store).
#define BOOST_TEST_MODULE sitesync_cli
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct RunResult {
  int status = -1;  // exit status; 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const RunResult& r) {
  return os << "[exit " << r.status << "] stdout: " << r.out << " stderr: " << r.err;
}

// The environment of the child: ours, with a fixed default user for the history.
std::vector<std::string> childEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, "SITESYNC_USER=", 14) != 0) env.emplace_back(*e);
  env.emplace_back("SITESYNC_USER=tester");
  return env;
}

// Runs the sitesync binary with `args` (no shell), stdin from /dev/null; returns its exit status,
// stdout and stderr, both read to the end.
RunResult runBinary(const std::vector<std::string>& args) {
  int outPipe[2], errPipe[2];
  if (pipe2(outPipe, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
  if (pipe2(errPipe, O_CLOEXEC) != 0) {
    int saved = errno;
    close(outPipe[0]);
    close(outPipe[1]);
    throw std::system_error(saved, std::generic_category());
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2);

  std::string program = SITESYNC_BINARY;
  std::vector<std::string> argStore;
  argStore.push_back(program);
  argStore.insert(argStore.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argStore) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> envStore = childEnvironment();
  std::vector<char*> envp;
  for (auto& e : envStore) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(outPipe[1]);
  close(errPipe[1]);
  if (rc != 0) {
    close(outPipe[0]);
    close(errPipe[0]);
    throw std::system_error(rc, std::generic_category(), "posix_spawn " + program);
  }

  RunResult result;
  pollfd fds[2] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open = 2;
  char buf[65536];
  while (open > 0) {
    int n = poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, size_t(got));
      } else if (got == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid");
  if (WIFEXITED(status))
    result.status = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    result.status = 128 + WTERMSIG(status);
  return result;
}

std::string trimNewline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool isRecordId(const std::string& s) {
  static const std::regex re("^[0-9a-f]{16}-[0-9]+$");
  return std::regex_match(s, re);
}

// A fresh temporary directory per test, removed afterwards. The data directory's name holds a
// space, so every command also shows that arguments pass through unsplit.
struct Cli {
  fs::path root;
  std::string data;

  Cli() {
    static std::atomic<unsigned> counter{0};
    std::random_device random;
    root = fs::temp_directory_path() / ("sitesync-cli-" + std::to_string(getpid()) + "-" +
                                        std::to_string(counter++) + "-" + std::to_string(random()));
    fs::create_directories(root);
    data = (root / "site data").string();
  }
  ~Cli() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  Cli(const Cli&) = delete;
  Cli& operator=(const Cli&) = delete;

  template <typename... Args>
  RunResult run(Args&&... args) {
    return runBinary(std::vector<std::string>{std::string(std::forward<Args>(args))...});
  }
  RunResult runv(const std::vector<std::string>& args) { return runBinary(args); }

  // Runs a command that must succeed and print JSON; returns the JSON.
  template <typename... Args>
  json runJson(Args&&... args) {
    RunResult r = run(std::forward<Args>(args)...);
    BOOST_TEST_REQUIRE(r.status == 0, r);
    BOOST_TEST_REQUIRE(json::accept(r.out), "not JSON: " << r.out);
    return json::parse(r.out);
  }

  void init(const std::string& site = "Branch Tampere") {
    RunResult r = run("init", "--data", data, "--site", site);
    BOOST_TEST_REQUIRE(r.status == 0, r);
  }

  // `customer add --name NAME extra...`; returns the printed id.
  template <typename... Extra>
  std::string add(const std::string& name, Extra&&... extra) {
    RunResult r =
        run("customer", "add", "--data", data, "--name", name, std::forward<Extra>(extra)...);
    BOOST_TEST_REQUIRE(r.status == 0, r);
    std::string id = trimNewline(r.out);
    BOOST_TEST_REQUIRE(isRecordId(id), "not an id: " << r.out);
    return id;
  }

  json show(const std::string& ref) {
    return runJson("customer", "show", "--data", data, ref, "--json");
  }

  std::string digest() {
    RunResult r = run("digest", "--data", data);
    BOOST_TEST_REQUIRE(r.status == 0, r);
    return trimNewline(r.out);
  }

  // Everything a failed command must leave as it was: the register digest and the log.
  std::string state() {
    json s = runJson("status", "--data", data, "--json");
    return digest() + " seq=" + s["last_seq"].dump() + " log=" + s["log_entries"].dump();
  }
};

// A failed command: the exit status, one line on stderr naming the problem, nothing on stdout.
void expectError(const RunResult& r, int status, const std::vector<std::string>& mentions) {
  BOOST_TEST(r.status == status, r);
  BOOST_TEST(r.out.empty(), r);
  BOOST_TEST(r.err.size() > 1, r);
  BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, "not one line: " << r.err);
  BOOST_TEST((!r.err.empty() && r.err.back() == '\n'), "not one line: " << r.err);
  for (const auto& m : mentions) BOOST_TEST(contains(r.err, m), "'" << m << "' not in: " << r.err);
}

const char* const kRequiredCustomerKeys[] = {"id",    "number",     "name",          "phone",
                                             "email", "status",     "merged_into",   "flags",
                                             "ssn",   "birth_date", "invoice_street"};

}  // namespace

// =============================================================================================
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

BOOST_FIXTURE_TEST_CASE(customer_search_finds_by_phone_digits, Cli) {
  init();
  std::string id = add("Anna", "--phone", "040-123 4567");
  add("Other", "--phone", "050 999 8888");
  json full = runJson("customer", "search", "--data", data, "0401234567", "--json");
  BOOST_TEST_REQUIRE(full.size() == 1u, full.dump());
  BOOST_TEST(full[0]["id"] == id);
  json spaced = runJson("customer", "search", "--data", data, "040 123", "--json");
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
  RunResult r = run("bench", "local", "--data", scratch, "--customers", "200", "--json");
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

BOOST_FIXTURE_TEST_CASE(customer_add_help_lists_the_field_names, Cli) {
  RunResult r = run("customer", "add", "--help");
  BOOST_TEST(r.status == 0, r);
  for (const char* field : {"birth_date", "invoice_street", "phone", "email", "custom.NAME"})
    BOOST_TEST(contains(r.out, field), field << " not in: " << r.out);
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================================
BOOST_AUTO_TEST_SUITE(errors)

BOOST_FIXTURE_TEST_CASE(customer_add_with_an_unknown_field_is_refused_listing_the_valid_ones, Cli) {
  init();
  add("Existing");
  std::string before = state();
  RunResult r =
      run("customer", "add", "--data", data, "--name", "Anna", "--set", "favourite_colour=blue");
  expectError(r, 2, {"favourite_colour", "phone", "birth_date"});
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

BOOST_FIXTURE_TEST_CASE(bench_local_with_a_non_numeric_customer_count_is_a_usage_error, Cli) {
  std::string scratch = (root / "bench").string();
  expectError(run("bench", "local", "--data", scratch, "--customers", "abc"), 2, {"--customers"});
  BOOST_TEST(!fs::exists(scratch));
}

BOOST_FIXTURE_TEST_CASE(bench_local_with_zero_customers_is_a_usage_error, Cli) {
  std::string scratch = (root / "bench").string();
  expectError(run("bench", "local", "--data", scratch, "--customers", "0", "--json"), 2,
              {"--customers"});
}

BOOST_AUTO_TEST_SUITE_END()
