// End-to-end tests of `sitesync serve` and `sitesync sync`: real processes, real ZeroMQ on
// 127.0.0.1, an ephemeral port read from the server's first line of output.
#include <csignal>
#include <fstream>
#include <sstream>

#include "tests/cli/cli_support.h"
#include "tests/cli/serve_process.h"

namespace {

// A `sitesync` command running in the background (output discarded), for killing mid-way.
class Background {
 public:
  explicit Background(std::vector<std::string> args) {
    args.insert(args.begin(), SITESYNC_BINARY);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid_, SITESYNC_BINARY, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::system_error(rc, std::generic_category(), "posix_spawn");
  }
  ~Background() {
    if (pid_ > 0) kill9();
  }
  bool running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  void kill9() {
    killAndReap(pid_);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// A node's public key, unquoted (`keys show` prints it quoted for a shell).
std::string publicKeyOf(const std::string& dir) {
  const RunResult r = runBinary({"keys", "show", "--data", dir, "--json"});
  BOOST_TEST_REQUIRE(r.status == 0, r);
  return json::parse(r.out)["public_key"].get<std::string>();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(replication)

BOOST_FIXTURE_TEST_CASE(a_sync_killed_with_sigkill_midway_completes_on_restart_exactly_once, Cli) {
  // A hub holding 30,000 customers (the benchmark's generator, kept as a store).
  const std::string scratch = (root / "scratch").string();
  BOOST_TEST_REQUIRE(
      runBench("local", "--data", scratch, "--customers", "30000", "--keep", "--json").status == 0);
  const std::string hub = scratch + "/bench-apply";
  const json hubStatus = runJson("status", "--data", hub, "--json");
  const uint64_t total = hubStatus["log_entries"];  // the bench also timed some single writes
  BOOST_TEST_REQUIRE(total >= 30000u);
  ServeProcess serving(hub);
  init();
  uint64_t atKill = 0;
  {
    Background receiving({"sync", "--data", data, "--peer", serving.endpoint()});
    // Kill the receiving process once some, but not all, batches are committed.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline && receiving.running()) {
      RunResult st = run("status", "--data", data, "--json");
      if (st.status == 0) atKill = json::parse(st.out)["log_entries"].get<uint64_t>();
      if (atKill > 0) break;
    }
    receiving.kill9();
  }
  BOOST_TEST_MESSAGE("killed the receiving sync at " << atKill << " of " << total);
  BOOST_TEST(atKill > 0u);
  BOOST_TEST(atKill < total);  // it really was mid-way
  BOOST_TEST(run("sync", "--data", data, "--peer", serving.endpoint()).status == 0);
  BOOST_TEST(run("digest", "--data", hub).out == run("digest", "--data", data).out);
  json after = runJson("status", "--data", data, "--json");
  BOOST_TEST(after["log_entries"] == total);  // nothing applied twice, nothing missing
  BOOST_TEST(after["customers"] == hubStatus["customers"]);
}

BOOST_FIXTURE_TEST_CASE(a_serving_node_killed_with_sigkill_mid_push_loses_nothing_it_acknowledged,
                        Cli) {
  const std::string scratch = (root / "scratch").string();
  BOOST_TEST_REQUIRE(
      runBench("local", "--data", scratch, "--customers", "30000", "--keep", "--json").status == 0);
  const std::string sender = scratch + "/bench-apply";
  const uint64_t total = runJson("status", "--data", sender, "--json")["log_entries"];
  init();  // the receiver: a new site, which adopts the sender's deployment
  json atKill;
  {
    ServeProcess receiving(data);
    Background pushing({"sync", "--data", sender, "--peer", receiving.endpoint()});
    // Large batches are acknowledged once staged in the inbox and written after: kill the
    // receiver once anything has arrived, whatever it is doing with it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline && pushing.running()) {
      RunResult st = run("status", "--data", data, "--json");
      if (st.status != 0) continue;
      atKill = json::parse(st.out);
      if (atKill["log_entries"].get<uint64_t>() > 0 || atKill["staged_batches_waiting"] > 0) break;
    }
    receiving.kill9();
  }
  BOOST_TEST_REQUIRE(!atKill.is_null());
  BOOST_TEST_MESSAGE("killed the receiver holding "
                     << atKill["log_entries"] << " of " << total << " changes, "
                     << atKill["staged_batches_waiting"] << " batches staged");
  BOOST_TEST(atKill["log_entries"].get<uint64_t>() < total);  // it really was mid-way
  ServeProcess restarted(data);  // applies what it staged before it was killed, then serves
  if (atKill["staged_batches_waiting"] > 0) {
    const json started = runJson("status", "--data", data, "--json");
    BOOST_TEST(started["log_entries"].get<uint64_t>() > atKill["log_entries"].get<uint64_t>());
    BOOST_TEST(started["staged_batches_waiting"] == 0);
  }
  BOOST_TEST(run("sync", "--data", sender, "--peer", restarted.endpoint()).status == 0);
  BOOST_TEST(restarted.stop() == 0);
  BOOST_TEST(run("digest", "--data", sender).out == run("digest", "--data", data).out);
  const json after = runJson("status", "--data", data, "--json");
  BOOST_TEST(after["log_entries"] == total);  // nothing applied twice, nothing missing
  BOOST_TEST(after["staged_batches_waiting"] == 0);
  BOOST_TEST(after["staged_batches_set_aside"].empty());
}

BOOST_FIXTURE_TEST_CASE(sync_with_a_serving_hub_exchanges_both_ways_and_serve_stops_on_sigterm,
                        Cli) {
  const std::string hub = (root / "hub").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  BOOST_TEST_REQUIRE(run("customer", "add", "--data", hub, "--name", "Hub Customer").status == 0);
  init();
  std::string id = add("Branch Customer");
  ServeProcess serving(hub);
  json report = runJson("sync", "--data", data, "--peer", serving.endpoint(), "--json");
  BOOST_TEST(report["peer"] == "HQ");
  BOOST_TEST(report["sent"] == 1);
  // The branch numbered its customer 1000 alone (it had not joined yet), as did the hub: the
  // hub's customer, the hub's block, the branch's first two blocks and the hub's renumbering
  // of the branch's customer (the later claim) come back.
  BOOST_TEST(report["received"] == 5);
  BOOST_TEST(run("digest", "--data", hub).out == run("digest", "--data", data).out);
  json branchCustomer = runJson("customer", "show", "--data", hub, id, "--json");
  BOOST_TEST(branchCustomer["name"] == "Branch Customer");
  BOOST_TEST(branchCustomer["number"] != "1000");
  // Both sites show the same history, naming the sites by name.
  json atHub = runJson("customer", "history", "--data", hub, id, "--json");
  BOOST_TEST(atHub == runJson("customer", "history", "--data", data, id, "--json"));
  BOOST_TEST_REQUIRE(atHub.size() == 2u);
  BOOST_TEST(atHub[0]["site"] == "Branch Tampere");
  BOOST_TEST(atHub[1]["site"] == "HQ");  // the renumbering
  BOOST_TEST(serving.stop() == 0);
}

BOOST_FIXTURE_TEST_CASE(sync_with_nobody_listening_fails_in_one_line_and_writes_nothing, Cli) {
  init();
  const std::string before = state();
  RunResult r = run("sync", "--data", data, "--peer", "tcp://127.0.0.1:9");
  expectError(r, 1, {"connection refused", "tcp://127.0.0.1:9"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(serve_on_a_malformed_endpoint_is_a_usage_error, Cli) {
  init();
  expectError(run("serve", "--data", data, "--listen", "not-an-endpoint"), 2,
              {"not an endpoint", "not-an-endpoint"});
  // Well formed, but not an address of this machine.
  expectError(run("serve", "--data", data, "--listen", "tcp://192.0.2.1:7400"), 2,
              {"cannot listen", "192.0.2.1"});
}

BOOST_FIXTURE_TEST_CASE(join_json_reports_progress_as_json_lines_on_stderr, Cli) {
  const std::string hub = (root / "hub").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  const std::string csv = (root / "customers.csv").string();
  {
    std::ofstream file(csv);
    file << "name,phone\n";
    for (int i = 0; i < 3000; ++i) file << "Customer " << i << ",040 " << 1000000 + i << "\n";
  }
  BOOST_TEST_REQUIRE(run("customer", "import", "--data", hub, csv).status == 0);
  ServeProcess serving(hub);
  RunResult joined =
      run("join", "--data", data, "--site", "Laptop", "--hub", serving.endpoint(), "--json");
  BOOST_TEST_REQUIRE(joined.status == 0, joined);
  BOOST_TEST(json::parse(joined.out)["snapshot_records"] == 3000);  // stdout: the one report
  std::vector<json> lines;
  std::istringstream err(joined.err);
  for (std::string line; std::getline(err, line);) lines.push_back(json::parse(line));
  BOOST_TEST_REQUIRE(lines.size() >= 2u, joined.err);
  json lastSnapshot;
  for (const json& l : lines)
    if (l["phase"] == "snapshot") lastSnapshot = l;
  BOOST_TEST(lastSnapshot["done"] == true, joined.err);
  BOOST_TEST(lastSnapshot["total"] == 3000, joined.err);
  BOOST_TEST(lastSnapshot["held"] == 3000, joined.err);
  BOOST_TEST(lastSnapshot["bytes"].get<uint64_t>() > 3000u * 100, joined.err);
  BOOST_TEST(lines.back()["phase"] == "catch-up");
  BOOST_TEST(lines.back()["done"] == true);
}

BOOST_FIXTURE_TEST_CASE(join_makes_a_new_site_holding_the_hubs_register, Cli) {
  const std::string hub = (root / "hub").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  BOOST_TEST_REQUIRE(run("customer", "add", "--data", hub, "--name", "Hub Customer").status == 0);
  ServeProcess serving(hub);
  json joined =
      runJson("join", "--data", data, "--site", "Laptop", "--hub", serving.endpoint(), "--json");
  BOOST_TEST(joined["snapshot_records"] == 1);
  BOOST_TEST(joined["received"] == 0);  // the hub had nothing newer than its snapshot
  BOOST_TEST(run("digest", "--data", hub).out == run("digest", "--data", data).out);
  json status = runJson("status", "--data", data, "--json");
  BOOST_TEST(status["site"] == "Laptop");
  BOOST_TEST(status["deployment"] == runJson("status", "--data", hub, "--json")["deployment"]);
  BOOST_TEST(status["snapshot_pending"] == false);
  // The joined site has the customer's history, though its log never held the change.
  json history = runJson("customer", "history", "--data", data, "#1000", "--json");
  BOOST_TEST(history.size() == 1u);
}

// Regression: `settings set` at a branch succeeded and was dropped at the first sync.
BOOST_FIXTURE_TEST_CASE(settings_set_at_a_site_that_joined_is_refused_naming_the_hub, Cli) {
  const std::string hub = (root / "hub").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  RunResult atHub = run("settings", "set", "--data", hub, "number_min_length=4");
  BOOST_TEST(atHub.status == 0, atHub);
  BOOST_TEST(atHub.err.empty(), atHub);
  ServeProcess serving(hub);
  BOOST_TEST_REQUIRE(
      run("join", "--data", data, "--site", "Laptop", "--hub", serving.endpoint()).status == 0);
  const std::string before = state();
  expectError(run("settings", "set", "--data", data, "ssn_unique=true"), 2,
              {"settings belong to the deployment", "on the hub", "'HQ'"});
  BOOST_TEST(state() == before);
  BOOST_TEST(runJson("settings", "show", "--data", data, "--json")["number_min_length"] == "4");
}

// Regression: settings set before a site joined were replaced at the first sync, silently.
BOOST_FIXTURE_TEST_CASE(settings_set_before_joining_are_offered_and_the_hub_keeps_or_refuses_each,
                        Cli) {
  const std::string hub = (root / "hub").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  BOOST_TEST_REQUIRE(run("settings", "set", "--data", hub, "number_min_length=6").status == 0);
  init();
  RunResult set = run("settings", "set", "--data", data, "ssn_unique=true", "number_min_length=4");
  BOOST_TEST(set.status == 0, set);
  BOOST_TEST(contains(set.err, "offered to the hub"), set);
  ServeProcess serving(hub);
  RunResult synced = run("sync", "--data", data, "--peer", serving.endpoint());
  BOOST_TEST(synced.status == 0, synced);
  BOOST_TEST(contains(synced.out, "ssn_unique=true: kept by the hub"), synced);
  BOOST_TEST(contains(synced.out,
                      "number_min_length=4: refused by the hub, the deployment has "
                      "number_min_length=6"),
             synced);
  json settings = runJson("settings", "show", "--data", data, "--json");
  BOOST_TEST(settings["ssn_unique"] == "true");
  BOOST_TEST(settings["number_min_length"] == "6");
  json offered = runJson("status", "--data", data, "--json")["offered_settings"];
  BOOST_TEST_REQUIRE(offered.size() == 2u);
  BOOST_TEST(offered[0]["key"] == "number_min_length");
  BOOST_TEST(offered[0]["outcome"] == "refused");
  BOOST_TEST(offered[1]["outcome"] == "kept");
  json atHub = runJson("status", "--data", hub, "--json");
  BOOST_TEST(atHub["settings_offers_kept"] == 1);
  BOOST_TEST(atHub["settings_offers_refused"] == 1);
  BOOST_TEST(runJson("settings", "show", "--data", hub, "--json")["ssn_unique"] == "true");
}

BOOST_FIXTURE_TEST_CASE(sites_of_two_deployments_refuse_each_other_in_one_line, Cli) {
  const std::string hub = (root / "hub").string(), other = (root / "other-hub").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  BOOST_TEST_REQUIRE(run("init", "--data", other, "--site", "Other HQ", "--hub").status == 0);
  BOOST_TEST_REQUIRE(run("customer", "add", "--data", other, "--name", "Stranger").status == 0);
  const std::string before = run("digest", "--data", hub).out;
  ServeProcess serving(hub);
  expectError(run("sync", "--data", other, "--peer", serving.endpoint(), "--timeout", "5"), 1,
              {"deployment"});
  BOOST_TEST(run("digest", "--data", hub).out == before);  // nothing of it written
  init();  // a fresh branch still syncs with the hub, and adopts its deployment
  BOOST_TEST(run("sync", "--data", data, "--peer", serving.endpoint()).status == 0);
  BOOST_TEST(runJson("status", "--data", data, "--json")["deployment"] ==
             runJson("status", "--data", hub, "--json")["deployment"]);
}

BOOST_FIXTURE_TEST_CASE(a_failed_join_leaves_nothing_behind, Cli) {
  expectError(run("join", "--data", data, "--site", "Laptop", "--hub", "tcp://127.0.0.1:9",
                  "--timeout", "0.3"),
              1, {"join failed"});
  BOOST_TEST(!fs::exists(data));
}

BOOST_FIXTURE_TEST_CASE(a_change_written_by_another_process_reaches_the_peer_of_a_running_node,
                        Cli) {
  const std::string hub = (root / "hub").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  init();
  ServeProcess hubServing(hub);
  ServeProcess branchServing(data, {"--peer", hubServing.endpoint()});
  std::string id = add("Written Elsewhere");  // a separate process, while the node runs
  // Wait for the condition, with a deadline (propagation is expected within milliseconds).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool arrived = false;
  while (!arrived && std::chrono::steady_clock::now() < deadline) {
    arrived = run("customer", "show", "--data", hub, id).status == 0;
    if (!arrived) {
      pollfd none{};
      poll(&none, 0, 20);  // pace the polling; the loop waits for the condition above
    }
  }
  BOOST_TEST(arrived);
  BOOST_TEST(branchServing.stop() == 0);
  BOOST_TEST(hubServing.stop() == 0);
}

BOOST_FIXTURE_TEST_CASE(running_nodes_relay_a_change_from_one_branch_through_the_hub_to_another,
                        Cli) {
  const std::string hub = (root / "hub").string(), other = (root / "other").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  BOOST_TEST_REQUIRE(run("init", "--data", other, "--site", "Branch Turku").status == 0);
  init();
  ServeProcess hubServing(hub);
  ServeProcess branchServing(data, {"--peer", hubServing.endpoint()});
  ServeProcess otherServing(other, {"--peer", hubServing.endpoint()});
  std::string id = add("Relayed Customer");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool arrived = false;
  while (!arrived && std::chrono::steady_clock::now() < deadline) {
    arrived = run("customer", "show", "--data", other, id).status == 0;
    if (!arrived) {
      pollfd none{};
      poll(&none, 0, 20);  // pace the polling; the loop waits for the condition above
    }
  }
  BOOST_TEST(arrived);
  BOOST_TEST(otherServing.stop() == 0);
  BOOST_TEST(branchServing.stop() == 0);
  BOOST_TEST(hubServing.stop() == 0);
}

BOOST_FIXTURE_TEST_CASE(numbers_shows_the_blocks_the_hub_leased_and_pending_numbers_get_filled,
                        Cli) {
  const std::string hub = (root / "hub").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  BOOST_TEST_REQUIRE(run("settings", "set", "--data", hub, "number_block_size=2").status == 0);
  init();
  BOOST_TEST(runJson("numbers", "--data", data, "--json")["standalone"] == true);
  ServeProcess serving(hub);
  // On a plain link a hello alone earns nothing: the site has sent no change of its own yet.
  BOOST_TEST_REQUIRE(run("sync", "--data", data, "--peer", serving.endpoint()).status == 0);
  json numbers = runJson("numbers", "--data", data, "--json");
  BOOST_TEST(numbers["standalone"] == false);
  BOOST_TEST(numbers["blocks"].size() == 0u);
  BOOST_TEST(runJson("numbers", "--data", hub, "--json")["leased_blocks"] == 0);

  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(add("Customer " + std::to_string(i)));
  json waiting = runJson("customer", "show", "--data", data, ids[4], "--json");
  BOOST_TEST(waiting["number"] == "");
  BOOST_TEST(waiting["flags"].dump().find("number_pending") != std::string::npos);
  BOOST_TEST(runJson("numbers", "--data", data, "--json")["pending"].size() == 5u);

  // The hub sees the waiting customers and leases enough; the site numbers them by itself.
  for (int i = 0; i < 2; ++i)
    BOOST_TEST_REQUIRE(run("sync", "--data", data, "--peer", serving.endpoint()).status == 0);
  for (const auto& id : ids) {
    json numbered = runJson("customer", "show", "--data", data, id, "--json");
    BOOST_TEST(numbered["number"] != "");
    BOOST_TEST(numbered["flags"].dump().find("number_pending") == std::string::npos);
  }
  numbers = runJson("numbers", "--data", data, "--json");
  BOOST_TEST(numbers["pending"].empty());
  BOOST_TEST(numbers["blocks"].size() >= 3u);
  BOOST_TEST(run("sync", "--data", data, "--peer", serving.endpoint()).status == 0);
  BOOST_TEST(run("digest", "--data", hub).out == run("digest", "--data", data).out);
  BOOST_TEST(serving.stop() == 0);
}

// --- link security: keys and the allow list ------------------------------------------------

BOOST_FIXTURE_TEST_CASE(init_makes_a_key_pair_that_keys_show_prints, Cli) {
  init();
  RunResult first = run("keys", "show", "--data", data);
  BOOST_TEST(first.status == 0, first);
  BOOST_TEST(trimNewline(first.out).size() == 42u, first);           // in single quotes
  BOOST_TEST(run("keys", "show", "--data", data).out == first.out);  // the same key every time
  BOOST_TEST(((fs::status(fs::path(data) / "node.key").permissions() & fs::perms::all) ==
              (fs::perms::owner_read | fs::perms::owner_write)));
  fs::permissions(fs::path(data) / "node.key", fs::perms::group_read, fs::perm_options::add);
  expectError(run("keys", "show", "--data", data), 1, {"node.key", "chmod 600"});
}

BOOST_FIXTURE_TEST_CASE(peers_add_list_and_remove_keep_the_allow_list, Cli) {
  init();
  const std::string other = (root / "other").string();
  BOOST_TEST_REQUIRE(run("init", "--data", other, "--site", "HQ", "--hub").status == 0);
  const std::string key = publicKeyOf(other);
  BOOST_TEST(run("peers", "add", "--data", data, "--name", "hq", "--key", key, "--endpoint",
                 "tcp://127.0.0.1:7400")
                 .status == 0);
  json list = runJson("peers", "list", "--data", data, "--json");
  BOOST_TEST_REQUIRE(list.size() == 1u);
  BOOST_TEST(list[0]["name"] == "hq");
  BOOST_TEST(list[0]["key"] == key);
  BOOST_TEST(list[0]["endpoint"] == "tcp://127.0.0.1:7400");
  BOOST_TEST(run("peers", "remove", "--data", data, "--name", "hq").status == 0);
  BOOST_TEST(runJson("peers", "list", "--data", data, "--json").empty());
  expectError(run("peers", "remove", "--data", data, "--name", "hq"), 2, {"no peer named 'hq'"});
  expectError(run("peers", "add", "--data", data, "--name", "x", "--key", "not-a-key"), 2,
              {"--key", "40 Z85"});
  const std::string own = publicKeyOf(data);
  expectError(run("peers", "add", "--data", data, "--name", "me", "--key", own), 2, {"own"});
}

// Two nodes that allow each other: every link is CURVE; a stranger is refused in one line.
BOOST_FIXTURE_TEST_CASE(sync_by_peer_name_over_curve_and_a_stranger_refused, Cli) {
  const std::string hub = (root / "hub").string(), stranger = (root / "stranger").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  init();
  BOOST_TEST_REQUIRE(run("init", "--data", stranger, "--site", "Stranger").status == 0);
  const std::string hubKey = publicKeyOf(hub);
  const std::string myKey = publicKeyOf(data);
  BOOST_TEST_REQUIRE(
      run("peers", "add", "--data", hub, "--name", "tampere", "--key", myKey).status == 0);
  ServeProcess serving(hub);
  for (const std::string& site : {data, stranger})
    BOOST_TEST_REQUIRE(run("peers", "add", "--data", site, "--name", "hq", "--key", hubKey,
                           "--endpoint", serving.endpoint())
                           .status == 0);
  add("Anna Virtanen");
  json report = runJson("sync", "--data", data, "--peer", "hq", "--json");
  BOOST_TEST(report["peer"] == "HQ");
  BOOST_TEST(run("digest", "--data", hub).out == run("digest", "--data", data).out);
  const std::string before = run("digest", "--data", hub).out;
  BOOST_TEST_REQUIRE(run("customer", "add", "--data", stranger, "--name", "Mallory").status == 0);
  expectError(run("sync", "--data", stranger, "--peer", "hq", "--timeout", "5"), 1,
              {"key refused by the peer"});
  expectError(run("sync", "--data", data, "--peer", "nowhere"), 2, {"nowhere", "peers add"});
  BOOST_TEST(run("digest", "--data", hub).out == before);
  // The session proved which site holds the key: the hub's list names it.
  const json mine = runJson("status", "--data", data, "--json");
  const json allowed = runJson("peers", "list", "--data", hub, "--json");
  BOOST_TEST(allowed[0]["site_id"] == mine["site_id"]);
  // Revoked: refused from then on, while the hub keeps running; so are its site's later
  // changes, whoever relays them.
  RunResult removed = run("peers", "remove", "--data", hub, "--name", "tampere");
  BOOST_TEST_REQUIRE(removed.status == 0);
  BOOST_TEST(removed.out.find(mine["site_id"].get<std::string>()) != std::string::npos);
  // The running hub re-reads its list every half second; sessions started after that fail.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  bool refused = false;
  while (!refused && std::chrono::steady_clock::now() < deadline)
    refused = run("sync", "--data", data, "--peer", "hq", "--timeout", "2").status != 0;
  BOOST_TEST(refused);
  BOOST_TEST(serving.stop() == 0);
}

BOOST_FIXTURE_TEST_CASE(a_new_laptop_shows_its_key_learns_the_hubs_and_joins_over_curve, Cli) {
  const std::string hub = (root / "hub").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  BOOST_TEST_REQUIRE(run("customer", "add", "--data", hub, "--name", "Hub Customer").status == 0);
  const std::string laptopKey = publicKeyOf(data);
  BOOST_TEST_REQUIRE(laptopKey.size() == 40u);
  BOOST_TEST_REQUIRE(
      run("peers", "add", "--data", hub, "--name", "laptop", "--key", laptopKey).status == 0);
  ServeProcess serving(hub);
  BOOST_TEST_REQUIRE(run("peers", "add", "--data", data, "--name", "hq", "--key", publicKeyOf(hub),
                         "--endpoint", serving.endpoint())
                         .status == 0);
  json joined = runJson("join", "--data", data, "--site", "Laptop", "--hub", "hq", "--json");
  BOOST_TEST(joined["snapshot_records"] == 1);
  BOOST_TEST(publicKeyOf(data) == laptopKey);
  BOOST_TEST(run("digest", "--data", hub).out == run("digest", "--data", data).out);
}

// --- unreachable peers: the cause, at once ---------------------------------------------------

// Where nothing listens: the port of a node that served there and stopped.
std::string deadEndpoint(const std::string& dir) {
  const RunResult made = runBinary({"init", "--data", dir, "--site", "Gone"});
  BOOST_TEST_REQUIRE(made.status == 0, made);
  ServeProcess serving(dir);
  const std::string endpoint = serving.endpoint();
  serving.stop();
  return endpoint;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Regression: `sync` with a peer where nothing listens waited for its 30 s timeout.
BOOST_FIXTURE_TEST_CASE(sync_with_a_port_where_nothing_listens_fails_at_once_as_refused, Cli) {
  init();
  const std::string endpoint = deadEndpoint((root / "gone").string());
  const auto started = std::chrono::steady_clock::now();
  expectError(run("sync", "--data", data, "--peer", endpoint), 1,
              {"cannot reach " + endpoint, "connection refused"});
  BOOST_TEST(secondsSince(started) < 10.0);  // the timeout is 30 s
}

BOOST_FIXTURE_TEST_CASE(sync_with_a_peer_that_refuses_this_nodes_key_fails_at_once, Cli) {
  const std::string hub = (root / "hub").string(), other = (root / "other").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  BOOST_TEST_REQUIRE(run("init", "--data", other, "--site", "Other").status == 0);
  init();
  // The hub allows another node, not this one.
  BOOST_TEST_REQUIRE(
      run("peers", "add", "--data", hub, "--name", "other", "--key", publicKeyOf(other)).status ==
      0);
  ServeProcess serving(hub);
  BOOST_TEST_REQUIRE(run("peers", "add", "--data", data, "--name", "hq", "--key", publicKeyOf(hub),
                         "--endpoint", serving.endpoint())
                         .status == 0);
  const auto started = std::chrono::steady_clock::now();
  expectError(run("sync", "--data", data, "--peer", "hq"), 1, {"key refused by the peer"});
  BOOST_TEST(secondsSince(started) < 10.0);
}

BOOST_FIXTURE_TEST_CASE(serve_logs_why_a_peer_link_cannot_come_up, Cli) {
  init();
  const std::string endpoint = deadEndpoint((root / "gone").string());
  ServeProcess serving(data, {"--peer", endpoint}, true);
  const std::string log = serving.waitForLog("connection refused", std::chrono::seconds(10));
  BOOST_TEST(contains(log, "link with a peer at " + endpoint + " down: connection refused"), log);
}

BOOST_AUTO_TEST_SUITE_END()
