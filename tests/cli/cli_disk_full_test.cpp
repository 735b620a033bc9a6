// A full disk, for real: a small tmpfs mounted for the test (root only: elsewhere the test says
// it did not run). A write that finds no space fails in one line, the store stays usable, and
// once space returns the same site writes and syncs again.
#include <sys/mount.h>

#include <fstream>

#include "tests/cli/cli_support.h"
#include "tests/cli/serve_process.h"

namespace {

// A tmpfs of `megabytes` at `path`, unmounted with its scope; mounted() is false where this
// process may not mount (not root, no CAP_SYS_ADMIN).
class SmallDisk {
 public:
  SmallDisk(const fs::path& path, int megabytes) : path_(path) {
    fs::create_directories(path);
    const std::string options = "size=" + std::to_string(megabytes) + "m";
    mounted_ = ::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  bool mounted() const { return mounted_; }
  // Fills what is left with a file, until the disk refuses more.
  void fill() {
    std::ofstream filler(path_ / "filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (filler.write(block.data(), std::streamsize(block.size())) && filler.flush()) {
    }
  }
  void freeSpace() { fs::remove(path_ / "filler"); }

 private:
  fs::path path_;
  bool mounted_ = false;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(errors)

BOOST_FIXTURE_TEST_CASE(
    a_full_disk_fails_a_write_in_one_line_and_the_site_resumes_when_space_returns, Cli) {
  SmallDisk disk(root / "small", 8);
  if (!disk.mounted()) {
    BOOST_TEST_MESSAGE("not run: this process may not mount a tmpfs (run the tests as root)");
    return;
  }
  const std::string site = (root / "small" / "site").string();
  const std::string hub = (root / "hub").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  BOOST_TEST_REQUIRE(run("init", "--data", site, "--site", "Small Branch").status == 0);
  // The hub holds more than the small disk has room for once it is filled.
  {
    std::ofstream csv(root / "many.csv");
    csv << "name,phone,email\n";
    for (int i = 0; i < 3000; ++i)
      csv << "Person Number " << i << ",040 555 " << 10000 + i << ",person" << i << "@example.fi\n";
    std::ofstream more(root / "more.csv");
    more << "name,phone,email\n";
    for (int i = 0; i < 3000; ++i)
      more << "Moved Person " << i << ",050 666 " << 10000 + i << ",moved" << i << "@example.fi\n";
  }
  BOOST_TEST_REQUIRE(
      run("customer", "import", "--data", hub, (root / "many.csv").string()).status == 0);
  ServeProcess serving(hub);
  const std::string before = runJson("status", "--data", site, "--json").dump();

  disk.fill();
  const RunResult full = run("sync", "--data", site, "--peer", serving.endpoint());
  BOOST_TEST(full.status == 1, full);
  BOOST_TEST_MESSAGE("full disk: " << full.err);
  BOOST_TEST(contains(full.err, "disk is full"), full);
  BOOST_TEST(std::count(full.err.begin(), full.err.end(), '\n') == 1, full);
  // Nothing of the failed write is in the store, and it still reads.
  BOOST_TEST(runJson("status", "--data", site, "--json").dump() == before);

  disk.freeSpace();
  const RunResult resumed = run("sync", "--data", site, "--peer", serving.endpoint());
  BOOST_TEST_REQUIRE(resumed.status == 0, resumed);
  BOOST_TEST(run("digest", "--data", site).out == run("digest", "--data", hub).out);
  BOOST_TEST(run("doctor", "--data", site).status == 0);

  // A running node: it logs the refused write, keeps its link, and catches up once space returns.
  ServeProcess branch(site, {"--peer", serving.endpoint()}, true);
  disk.fill();
  BOOST_TEST_REQUIRE(
      run("customer", "import", "--data", hub, (root / "more.csv").string()).status == 0);
  BOOST_TEST(contains(branch.waitForLog("disk is full", std::chrono::seconds(20)), "disk is full"));
  disk.freeSpace();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (run("digest", "--data", site).out != run("digest", "--data", hub).out &&
         std::chrono::steady_clock::now() < deadline) {
    pollfd none{};
    poll(&none, 0, 50);  // paces the polling of the condition above
  }
  BOOST_TEST(run("digest", "--data", site).out == run("digest", "--data", hub).out);
  BOOST_TEST(branch.stop() == 0);
  BOOST_TEST(serving.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
