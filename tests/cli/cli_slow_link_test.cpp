// A branch joining over a slow, lossy link (tests/cli/throttled_proxy.h: 1 Mbit/s, 200 ms each
// way): the join shows its progress, takes up again by itself after a disconnect, and a join or
// a catch-up (a branch's, a field laptop's) killed part way resumes from what it had durably
// received when run again.
#include <fstream>
#include <sstream>

#include "tests/cli/cli_support.h"
#include "tests/cli/serve_process.h"
#include "tests/cli/throttled_proxy.h"

namespace {

constexpr int kCustomers = 1500;

// A hub with kCustomers customers, served; the branch's directory beside it.
struct SlowLink : Cli {
  std::string hub = (root / "hub").string();
  std::string branch = (root / "branch").string();

  SlowLink() {
    BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
    std::ostringstream csv;
    csv << "name,phone,email\n";
    for (int i = 0; i < kCustomers; ++i)
      csv << "Customer " << i << ",040 5" << 100000 + i << ",customer" << i << "@example.com\n";
    const std::string path = (root / "customers.csv").string();
    std::ofstream(path) << csv.str();
    RunResult imported = run("customer", "import", "--data", hub, path);
    BOOST_TEST_REQUIRE(imported.status == 0, imported);
  }
  // `rounds` new phone numbers for every customer at the hub: kCustomers changes each.
  void editAtHub(int rounds) {
    for (int round = 0; round < rounds; ++round) {
      std::ostringstream csv;
      csv << "email,phone\n";
      for (int i = 0; i < kCustomers; ++i)
        csv << "customer" << i << "@example.com,040 " << 6 + round << 100000 + i << "\n";
      const std::string path = (root / "edits.csv").string();
      std::ofstream(path) << csv.str();
      RunResult r = run("customer", "import", "--data", hub, path, "--match", "email");
      BOOST_TEST_REQUIRE(r.status == 0, r);
    }
  }
  std::vector<std::string> join(const ThrottledProxy& link) const {
    return {"join",  "--data",        branch,      "--site", "Branch",
            "--hub", link.endpoint(), "--timeout", "5",      "--json"};
  }
  std::string digestOf(const std::string& dir) {
    RunResult r = run("digest", "--data", dir);
    BOOST_TEST_REQUIRE(r.status == 0, r);
    return trimNewline(r.out);
  }
};

// The JSON lines of a join's stderr (progress and resumption events).
std::vector<json> eventsOf(const std::string& err) {
  std::vector<json> out;
  std::istringstream lines(err);
  for (std::string line; std::getline(lines, line);)
    if (json::accept(line)) out.push_back(json::parse(line));
  return out;
}

// A command in the background whose stderr is read as it comes.
class Background {
 public:
  explicit Background(const std::vector<std::string>& args) {
    int err[2];
    if (pipe2(err, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    std::vector<std::string> all{SITESYNC_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, SITESYNC_BINARY, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(err[1]);
    err_ = err[0];
    if (rc != 0) throw std::system_error(rc, std::generic_category(), "posix_spawn");
  }
  ~Background() {
    if (pid_ > 0) killAndReap(pid_);
    close(err_);
  }
  // Reads stderr until `done(events so far)` holds; false if the command ended or `within`
  // passed first.
  template <typename Done>
  bool waitFor(Done done, std::chrono::seconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (!done(eventsOf(err))) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd fd{err_, POLLIN, 0};
      if (left.count() <= 0 || poll(&fd, 1, int(left.count())) <= 0) return false;
      char buf[4096];
      const ssize_t n = read(err_, buf, sizeof buf);
      if (n <= 0) return false;
      err.append(buf, size_t(n));
    }
    return true;
  }
  void kill9() {
    killAndReap(pid_);
    pid_ = -1;
  }
  std::string err;

 private:
  pid_t pid_ = -1;
  int err_ = -1;
};

// Runs `args` in the background and SIGKILLs it once a progress event's `count` is above 0:
// some of what it receives is durably in.
void killOnceSomeIsIn(const std::vector<std::string>& args, const std::string& count) {
  Background running(args);
  const bool someIn = running.waitFor(
      [&](const std::vector<json>& events) {
        return std::any_of(events.begin(), events.end(), [&](const json& e) {
          return e.value("event", "") == "progress" && e.value(count, 0) > 0;
        });
      },
      std::chrono::seconds(60));
  BOOST_TEST_REQUIRE(someIn, running.err);
  running.kill9();
}

// `sync` of `data` through a slow link to the served hub, SIGKILLed once some of what it receives
// is durably in, then run again to the end: what the second run received.
int syncKilledThenAgain(Cli& cli, const std::string& data, const ServeProcess& serving) {
  ThrottledProxy link(ThrottledProxy::portOf(serving.endpoint()),
                      {125000, std::chrono::milliseconds(200), 0});
  const std::vector<std::string> sync{"sync",          "--data",    data, "--peer",
                                      link.endpoint(), "--timeout", "5",  "--json"};
  killOnceSomeIsIn(sync, "received");
  RunResult again = cli.runv(sync);
  BOOST_TEST_REQUIRE(again.status == 0, again);
  return json::parse(again.out)["received"].get<int>();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(replication)

BOOST_FIXTURE_TEST_CASE(a_join_over_a_slow_link_that_drops_takes_up_again_and_shows_progress,
                        SlowLink) {
  ServeProcess serving(hub);
  // The link drops once, part way through the snapshot.
  ThrottledProxy link(ThrottledProxy::portOf(serving.endpoint()),
                      {125000, std::chrono::milliseconds(200), 400000});
  RunResult joined = runv(join(link));
  BOOST_TEST_REQUIRE(joined.status == 0, joined);
  BOOST_TEST(link.cut());
  const json report = json::parse(joined.out);
  const auto events = eventsOf(joined.err);
  // Taken up from what it held, not from the start.
  auto resumed = std::find_if(events.begin(), events.end(),
                              [](const json& e) { return e.value("event", "") == "resuming"; });
  BOOST_TEST_REQUIRE((resumed != events.end()), joined.err);
  BOOST_TEST((*resumed)["held"].get<int>() > 0);
  BOOST_TEST(report["snapshot_records"].get<int>() < kCustomers, report.dump());
  // Progress while it came: customers, bytes, rate and an estimate of the time left.
  const auto progress = std::count_if(events.begin(), events.end(), [](const json& e) {
    return e.value("event", "") == "progress" && e.contains("eta_seconds") &&
           e.value("bytes", 0) > 0 && e.value("total", 0) >= kCustomers;
  });
  BOOST_TEST(progress >= 2, joined.err);
  BOOST_TEST(events.back().value("done", false), joined.err);
  BOOST_TEST(digestOf(branch) == digestOf(hub));
}

BOOST_FIXTURE_TEST_CASE(a_join_killed_part_way_resumes_from_what_it_had_received, SlowLink) {
  ServeProcess serving(hub);
  ThrottledProxy link(ThrottledProxy::portOf(serving.endpoint()),
                      {125000, std::chrono::milliseconds(200), 0});
  killOnceSomeIsIn(join(link), "held");
  RunResult again = runv(join(link));
  BOOST_TEST_REQUIRE(again.status == 0, again);
  const json report = json::parse(again.out);
  BOOST_TEST(report["resumed"] == true);
  BOOST_TEST(report["snapshot_records"].get<int>() < kCustomers, report.dump());
  BOOST_TEST(digestOf(branch) == digestOf(hub));
}

BOOST_FIXTURE_TEST_CASE(a_catch_up_killed_part_way_resumes_from_the_batches_it_had_applied,
                        SlowLink) {
  ServeProcess serving(hub);
  BOOST_TEST_REQUIRE(
      run("join", "--data", branch, "--site", "Branch", "--hub", serving.endpoint()).status == 0);
  editAtHub(3);
  constexpr int kChanges = 3 * kCustomers;
  const int received = syncKilledThenAgain(*this, branch, serving);
  BOOST_TEST(received > 0);
  BOOST_TEST(received < kChanges);
  BOOST_TEST(digestOf(branch) == digestOf(hub));
}

BOOST_FIXTURE_TEST_CASE(a_field_laptops_catch_up_killed_part_way_resumes_from_the_chunks_it_had,
                        SlowLink) {
  // Every customer in the group the laptop follows; the hub then edits each of them.
  BOOST_TEST_REQUIRE(run("groups", "define", "--data", hub, "--name", "north").status == 0);
  std::ostringstream csv;
  csv << "email,group\n";
  for (int i = 0; i < kCustomers; ++i) csv << "customer" << i << "@example.com,north\n";
  const std::string path = (root / "groups.csv").string();
  std::ofstream(path) << csv.str();
  RunResult grouped = run("customer", "import", "--data", hub, path, "--match", "email");
  BOOST_TEST_REQUIRE(grouped.status == 0, grouped);
  ServeProcess serving(hub);
  RunResult joined = run("join", "--data", branch, "--site", "Laptop", "--hub", serving.endpoint(),
                         "--filter", "group=north");
  BOOST_TEST_REQUIRE(joined.status == 0, joined);
  editAtHub(1);
  const int received = syncKilledThenAgain(*this, branch, serving);
  BOOST_TEST(received > 0);
  BOOST_TEST(received < kCustomers);  // the customers' states it had not taken yet
  RunResult filtered = run("digest", "--data", hub, "--filter", "group=north");
  BOOST_TEST_REQUIRE(filtered.status == 0, filtered);
  BOOST_TEST(digestOf(branch) == trimNewline(filtered.out));
}

BOOST_AUTO_TEST_SUITE_END()
