// Helpers shared by the unit suites: a temporary directory that cleans up after itself, and a
// clock whose time the test sets (readable from other threads, e.g. a group committer's).
#pragma once

#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "sync/engine.h"

namespace sitesync::testing {

// 2023-11-14T22:13:20Z: the wall-clock time tests start at.
inline constexpr uint64_t kTestEpochMillis = 1'700'000'000'000;

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "sitesync-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class TestClock final : public sync::Clock {
 public:
  explicit TestClock(uint64_t now = kTestEpochMillis) : now_(now) {}
  uint64_t nowMillis() override { return now_.load(); }
  void set(uint64_t now) { now_.store(now); }

 private:
  std::atomic<uint64_t> now_;
};

// Site keys for tests. A site id is derived from its key (DESIGN.md section 7), so tests name
// sites by a label: testSiteId(0xa1) is the id of a key found (deterministically) whose id's top
// byte is the label's low byte, so that sites keep the order of their labels (a tie of clocks is
// broken by site id). testSiteKey gives the key of an id testSiteId made.
SiteId testSiteId(uint64_t label);
const sync::SiteKey& testSiteKey(SiteId id);
// Signs `change` as a run of its own with its origin's test key (for tests that hand changes to
// the apply path one by one, or craft them).
void signAlone(Change& change);

}  // namespace sitesync::testing
