// `sitesync backup | restore | doctor` end to end: a hot backup of a branch that is serving, the
// branch lost, restored elsewhere; the restored site re-uses no seq it sent from the lost copy.
#include <fstream>

#include "tests/cli/cli_support.h"
#include "tests/cli/serve_process.h"

namespace {

// Runs `check` until it holds or 10 s pass (paced by 20 ms polls).
template <typename Check>
bool eventually(Check check) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!check()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    pollfd none{};
    poll(&none, 0, 20);
  }
  return true;
}

struct BackupCli : Cli {
  std::string hub = (root / "hub").string();
  std::string backupFile = (root / "branch.backup").string();
  std::string restored = (root / "restored").string();

  BackupCli() {
    BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
    init();
  }
  uint64_t lastSeq(const std::string& dir) {
    return runJson("status", "--data", dir, "--json")["last_seq"].get<uint64_t>();
  }
  std::string digestOf(const std::string& dir) {
    const RunResult r = run("digest", "--data", dir);
    BOOST_TEST_REQUIRE(r.status == 0, r);
    return r.out;
  }
  // The seq of `origin` the vector of `dir` holds.
  uint64_t heldOf(const std::string& dir, const std::string& originHex) {
    const json vector = runJson("status", "--data", dir, "--json")["vector"];
    return vector.contains(originHex) ? vector[originHex].get<uint64_t>() : 0;
  }
  std::string siteIdOf(const std::string& dir) {
    return runJson("status", "--data", dir, "--json")["site_id"].get<std::string>();
  }
  // The restored branch before it synced: it may not originate anything yet.
  void expectRefusesEdits() {
    const RunResult refused = run("customer", "add", "--data", restored, "--name", "Too Early");
    BOOST_TEST(refused.status != 0, refused);
    BOOST_TEST(contains(refused.err, "restored from a backup"), refused);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(commands)

BOOST_FIXTURE_TEST_CASE(a_site_restored_after_it_synced_on_gets_its_later_changes_back_first,
                        BackupCli) {
  add("Before Backup");
  std::string laterId;
  ServeProcess hubServing(hub);
  const std::string self = siteIdOf(data);
  {
    ServeProcess branchServing(data, {"--peer", hubServing.endpoint()});
    const json backup = runJson("backup", "--data", data, "--to", backupFile, "--json");
    BOOST_TEST(backup["last_seq"].get<uint64_t>() == lastSeq(data));
    // The branch goes on after the backup, and its node sends these to the hub.
    add("After Backup One");
    laterId = add("After Backup Two");
    const uint64_t sent = lastSeq(data);
    BOOST_TEST_REQUIRE(eventually([&] { return heldOf(hub, self) == sent; }));
    BOOST_TEST(branchServing.stop() == 0);
  }
  const uint64_t lostSeq = lastSeq(data);
  fs::remove_all(data);  // the branch's disk is lost

  const RunResult restore = run("restore", "--from", backupFile, "--data", restored);
  BOOST_TEST_REQUIRE(restore.status == 0, restore);
  BOOST_TEST(lastSeq(restored) < lostSeq);
  expectRefusesEdits();
  const RunResult sync = run("sync", "--data", restored, "--peer", hubServing.endpoint());
  BOOST_TEST_REQUIRE(sync.status == 0, sync);
  BOOST_TEST(lastSeq(restored) == lostSeq);  // its own later changes came back
  BOOST_TEST(run("customer", "show", "--data", restored, laterId).status == 0);
  // A new change follows on after the lost copy's last seq, and reaches the hub.
  const RunResult added = run("customer", "add", "--data", restored, "--name", "After Restore");
  BOOST_TEST_REQUIRE(added.status == 0, added);
  BOOST_TEST(lastSeq(restored) == lostSeq + 1);
  BOOST_TEST_REQUIRE(run("sync", "--data", restored, "--peer", hubServing.endpoint()).status == 0);
  BOOST_TEST(heldOf(hub, self) == lostSeq + 1);
  BOOST_TEST(digestOf(restored) == digestOf(hub));
  BOOST_TEST(run("doctor", "--data", restored).status == 0);
}

BOOST_FIXTURE_TEST_CASE(a_site_restored_that_had_not_synced_since_continues_from_the_backup,
                        BackupCli) {
  add("Synced Customer");
  ServeProcess hubServing(hub);
  const std::string self = siteIdOf(data);
  BOOST_TEST_REQUIRE(run("sync", "--data", data, "--peer", hubServing.endpoint()).status == 0);
  BOOST_TEST_REQUIRE(run("backup", "--data", data, "--to", backupFile).status == 0);
  const uint64_t backedUp = lastSeq(data);
  add("Never Synced");  // typed after the backup, lost with the disk before any sync
  fs::remove_all(data);

  BOOST_TEST_REQUIRE(run("restore", "--from", backupFile, "--data", restored).status == 0);
  expectRefusesEdits();
  BOOST_TEST_REQUIRE(run("sync", "--data", restored, "--peer", hubServing.endpoint()).status == 0);
  // Nobody holds a seq past the backup's: the site continues right after it, with no fork.
  BOOST_TEST(lastSeq(restored) == backedUp);
  BOOST_TEST(heldOf(hub, self) == backedUp);
  const RunResult added = run("customer", "add", "--data", restored, "--name", "After Restore");
  BOOST_TEST_REQUIRE(added.status == 0, added);
  BOOST_TEST_REQUIRE(run("sync", "--data", restored, "--peer", hubServing.endpoint()).status == 0);
  BOOST_TEST(heldOf(hub, self) == backedUp + 1);
  BOOST_TEST(digestOf(restored) == digestOf(hub));
  BOOST_TEST(run("customer", "show", "--data", hub, trimNewline(added.out)).status == 0);
}

BOOST_FIXTURE_TEST_CASE(a_damaged_backup_is_refused_in_one_line_and_leaves_no_store, BackupCli) {
  add("Someone");
  BOOST_TEST_REQUIRE(run("backup", "--data", data, "--to", backupFile).status == 0);
  const auto size = fs::file_size(backupFile);
  fs::resize_file(backupFile, size - 100);
  expectError(run("restore", "--from", backupFile, "--data", restored), 2, {"damaged"});
  BOOST_TEST(!fs::exists(fs::path(restored) / "data.mdb"));
  {
    std::ofstream out(backupFile, std::ios::binary | std::ios::trunc);
    out << "not a backup\n";
  }
  expectError(run("restore", "--from", backupFile, "--data", restored), 2,
              {"not a sitesync backup"});
  expectError(run("restore", "--from", backupFile, "--data", data), 2, {"not empty"});
}

BOOST_FIXTURE_TEST_CASE(doctor_passes_a_sound_store_and_reports_each_check_as_json, BackupCli) {
  add("Anna Berg", "--phone", "040 123 4567");
  const RunResult text = run("doctor", "--data", data);
  BOOST_TEST(text.status == 0, text);
  BOOST_TEST(contains(text.out, "index_number: ok"), text);
  const json report = runJson("doctor", "--data", data, "--json");
  BOOST_TEST(report["healthy"].get<bool>());
  BOOST_TEST(report["checks"].size() >= 14u);
  expectError(run("doctor", "--data", (root / "nowhere").string()), 2, {"not a sitesync data"});
}

BOOST_AUTO_TEST_SUITE_END()
