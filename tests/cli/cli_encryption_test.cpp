// End-to-end: a store made with --encrypt keeps SSNs and journal text sealed on disk, and every
// command that opens it needs the deployment key (--key-file or SITESYNC_KEY_FILE).
#include <fstream>
#include <iterator>

#include "tests/cli/cli_support.h"

namespace {

// Whether any 6 consecutive characters of `secret` are in the file (records are packed, which
// cuts texts between words; a word of plaintext stays whole).
bool leaksInto(const fs::path& file, const std::string& secret) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t i = 0; i + 6 <= secret.size(); ++i)
    if (bytes.find(secret.substr(i, 6)) != std::string::npos) return true;
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(commands)

BOOST_FIXTURE_TEST_CASE(an_encrypted_store_keeps_ssns_and_journal_text_off_the_disk, Cli) {
  const std::string key = (root / "deployment.key").string();
  RunResult init = run("init", "--data", data, "--site", "Clinic", "--encrypt", "--key-file", key);
  BOOST_TEST_REQUIRE(init.status == 0, init);
  BOOST_TEST(((fs::status(key).permissions() & fs::perms::all) ==
              (fs::perms::owner_read | fs::perms::owner_write)));
  const std::string id =
      trimNewline(run("customer", "add", "--data", data, "--name", "Anna", "--ssn", "010190-123A",
                      "--set", "custom.note=Visiblemarker here", "--key-file", key)
                      .out);
  BOOST_TEST_REQUIRE(isRecordId(id));
  BOOST_TEST(run("customer", "journal", "add", "--data", data, id, "--text",
                 "Diagnosis: Plaintextdiagnosis", "--key-file", key)
                 .status == 0);
  json c = runJson("customer", "show", "--data", data, id, "--json", "--key-file", key);
  BOOST_TEST(c["ssn"] == "010190-123A");
  BOOST_TEST(c["journal"][0]["text"] == "Diagnosis: Plaintextdiagnosis");
  const fs::path file = fs::path(data) / "data.mdb";
  BOOST_TEST(!leaksInto(file, "010190-123A"));
  BOOST_TEST(!leaksInto(file, "Diagnosis: Plaintextdiagnosis"));
  BOOST_TEST(leaksInto(file, "Visiblemarker here"));  // the check does see plaintext
  // Found by its SSN through the keyed index; the key also comes from the environment.
  setenv("SITESYNC_KEY_FILE", key.c_str(), 1);
  RunResult found = run("customer", "search", "--data", data, "010190-123A");
  unsetenv("SITESYNC_KEY_FILE");
  BOOST_TEST(contains(found.out, id), found);
}

BOOST_FIXTURE_TEST_CASE(an_encrypted_store_without_its_key_or_with_another_says_so, Cli) {
  const std::string key = (root / "deployment.key").string();
  BOOST_TEST_REQUIRE(
      run("init", "--data", data, "--site", "Clinic", "--encrypt", "--key-file", key).status == 0);
  expectError(run("customer", "list", "--data", data), 2, {"encrypted", "--key-file"});
  const std::string other = (root / "other.key").string();
  {
    std::ofstream out(other);
    out << std::string(64, 'a') << "\n";
  }
  fs::permissions(other, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  expectError(run("customer", "list", "--data", data, "--key-file", other), 1, {"another key"});
  expectError(run("init", "--data", (root / "second").string(), "--site", "X", "--encrypt"), 2,
              {"--key-file"});
  expectError(run("init", "--data", (root / "third").string(), "--site", "X", "--encrypt",
                  "--key-file", (root / "third" / "k").string()),
              2, {"outside the data directory"});
}

BOOST_AUTO_TEST_SUITE_END()
