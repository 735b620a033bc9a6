// Operating a node (issue 23): `serve --config FILE` (TOML, keys named as the long options),
// `config check`, the log's formats and SIGHUP, `--version`.
#include <fstream>
#include <sstream>

#include "tests/cli/cli_support.h"
#include "tests/cli/serve_process.h"

namespace {

struct Configured : Cli {
  std::string config = (root / "site.toml").string();
  void write(const std::string& text) { std::ofstream(config) << text; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(commands)

BOOST_FIXTURE_TEST_CASE(config_check_reports_each_unknown_key_and_bad_value_with_its_line,
                        Configured) {
  write(
      "data = \"/var/lib/sitesync\"\n"
      "listen = \"tcp://0.0.0.0:7400\"\n"
      "log_level = \"loud\"\n"
      "compact_every = -3\n"
      "colour = \"blue\"\n"
      "peer = [\"hq\", \"tcp://10.0.0.1:7400\"]\n");
  RunResult r = run("config", "check", "--config", config);
  BOOST_TEST(r.status == 2, r);
  BOOST_TEST(contains(r.err, config + ":3: 'log_level'"), r.err);
  BOOST_TEST(contains(r.err, config + ":4: 'compact_every'"), r.err);
  BOOST_TEST(contains(r.err, config + ":5: unknown key 'colour' (serve has no --colour)"), r.err);
  BOOST_TEST(!contains(r.err, ":6:"), r.err);  // a list of peers is fine
  BOOST_TEST(contains(r.err, "3 problems"), r.err);
}

BOOST_FIXTURE_TEST_CASE(config_check_names_the_line_of_a_toml_syntax_error_and_missing_keys,
                        Configured) {
  write("listen = \"tcp://0.0.0.0:7400\"\n");
  RunResult missing = run("config", "check", "--config", config);
  BOOST_TEST(missing.status == 2, missing);
  BOOST_TEST(contains(missing.err, "no 'data'"), missing.err);
  write("data = \"/var/lib/sitesync\"\nlisten = tcp://0.0.0.0:7400\n");
  RunResult broken = run("config", "check", "--config", config);
  BOOST_TEST(broken.status == 2, broken);
  BOOST_TEST(contains(broken.err, config + ":2:"), broken.err);
}

BOOST_AUTO_TEST_CASE(the_packaged_example_config_passes_the_check) {
  RunResult r = runBinary(
      {"config", "check", "--config", std::string(SITESYNC_SOURCE_DIR) + "/packaging/site.toml"});
  BOOST_TEST(r.status == 0, r);
}

BOOST_FIXTURE_TEST_CASE(serve_refuses_a_config_with_an_unknown_key_in_one_line, Configured) {
  init();
  write("data = \"" + data + "\"\nlisten = \"tcp://127.0.0.1:0\"\nlisten_backlog = 5\n");
  expectError(run("serve", "--config", config), 2, {config + ":3:", "listen_backlog"});
}

BOOST_FIXTURE_TEST_CASE(serve_takes_its_settings_from_the_file_and_the_flags_win, Configured) {
  init("Branch Oulu");
  // The file's data and listen would fail; the flags ServeProcess passes win over them. Its log
  // format is the file's.
  write(
      "data = \"/nonexistent/sitesync\"\nlisten = \"tcp://192.0.2.1:7400\"\n"
      "log_format = \"json\"\nlog_level = \"info\"\ncompact_every = 5\n");
  ServeProcess serving(data, {"--config", config}, true);
  const std::string log = serving.waitForLog("not encrypted", std::chrono::seconds(10));
  const std::string first = log.substr(0, log.find('\n'));
  BOOST_TEST_REQUIRE(json::accept(first), log);
  const json line = json::parse(first);
  BOOST_TEST(line["level"] == "info");
  BOOST_TEST(contains(line["message"].get<std::string>(), "not encrypted"));
  BOOST_TEST(line["time"].get<std::string>().size() == 24u);  // 2026-12-06T05:17:23.236Z
}

BOOST_FIXTURE_TEST_CASE(json_log_lines_name_the_peer_as_a_field_and_a_session_end_its_counts,
                        Configured) {
  const std::string hub = (root / "hub").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  init("Branch Oulu");
  add("Aino Virtanen");
  ServeProcess serving(hub, {"--log-format", "json"}, true);
  BOOST_TEST_REQUIRE(run("sync", "--data", data, "--peer", serving.endpoint()).status == 0);
  const std::string log = serving.waitForLog("changes)", std::chrono::seconds(30));
  bool up = false, down = false;
  std::istringstream lines(log);
  for (std::string text; std::getline(lines, text);) {
    BOOST_TEST_REQUIRE(json::accept(text), text);
    const json line = json::parse(text);
    const std::string message = line["message"];
    if (contains(message, "link with 'Branch Oulu'")) {
      BOOST_TEST(line.value("peer", "") == "Branch Oulu", text);
      up |= contains(message, " up");
      down |= contains(message, "down") && contains(message, "received 1 changes");
    }
  }
  BOOST_TEST(up, log);
  BOOST_TEST(down, log);
}

BOOST_FIXTURE_TEST_CASE(sighup_reads_the_config_again_and_the_new_log_level_applies, Configured) {
  init();
  write("log_level = \"warn\"\n");
  ServeProcess serving(data, {"--config", config}, true);
  write("log_level = \"info\"\n");
  serving.signal(SIGHUP);
  const std::string log = serving.waitForLog("reloaded", std::chrono::seconds(10));
  BOOST_TEST(contains(log, " info reloaded " + config + ": log level info"), log);
  // At warn, the start's information line was not written.
  BOOST_TEST(!contains(log, "not encrypted"), log);
}

BOOST_FIXTURE_TEST_CASE(version_names_the_release_the_protocol_and_the_store_format, Cli) {
  RunResult r = run("--version");
  BOOST_TEST_REQUIRE(r.status == 0, r);
  std::smatch m;
  const std::string line = trimNewline(r.out);
  const std::regex form(R"(sitesync \d+\.\d+\.\d+ \(protocol \d+, store format (\d+)\))");
  BOOST_TEST_REQUIRE(std::regex_match(line, m, form), r.out);
  init();  // a new store is of the format the binary names
  BOOST_TEST(runJson("status", "--data", data, "--json")["format_version"] == std::stoi(m[1]));
}

BOOST_AUTO_TEST_SUITE_END()
