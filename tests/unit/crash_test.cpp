// Crash safety: a child process writes batches of customers through Engine::submit (one durable
// commit each) and reports every commit over a pipe; the parent kills it with SIGKILL mid-stream,
// reopens the store and checks that nothing reported is lost and nothing is half written:
// every record has its log entry and its index entries, the log holds exactly one create per
// record, and vector, meta and log agree.
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/protocol.h"
#include "storage/store.h"
#include "sync/engine.h"
#include "tests/unit/test_support.h"

using namespace sitesync;
using sitesync::storage::Store;
using sitesync::sync::Edit;
using sitesync::sync::Engine;
using sitesync::sync::LocalOp;

using sitesync::testing::TempDir;
using sitesync::testing::TestClock;

namespace {

const SiteId kSite = sitesync::testing::testSiteId(0xc4a54);
constexpr uint64_t kT0 = 1'700'000'000'000;
constexpr int kBatch = 200;
constexpr size_t kCommitsBeforeKill = 30;
constexpr auto kDeadline = std::chrono::seconds(60);

// One commit as the child reports it: the id of the last customer it created.
struct Report {
  uint64_t site;
  uint64_t counter;
};

struct CrashFixture {
  TempDir dir;
  TestClock clock;
  pid_t child = -1;
  int readEnd = -1;

  CrashFixture() {
    auto store = Store::open(dir.path());
    auto status =
        Engine::initialize(*store, clock, sitesync::testing::testSiteKey(kSite), "crash", false);
    if (!status.isOk()) throw std::runtime_error(status.message());
  }  // the parent holds no LMDB environment across fork()
  ~CrashFixture() {
    stopChild();
    if (readEnd >= 0) ::close(readEnd);
  }

  // The customer name carries one long, unique token so that a name lookup is selective.
  static std::string nameOf(uint64_t n) {
    char token[32];
    std::snprintf(token, sizeof token, "n%012llu", static_cast<unsigned long long>(n));
    return std::string("Crash ") + token;
  }

  // The child: create customers in batches forever, reporting each durable commit.
  [[noreturn]] static void writeForever(const std::string& dir, int fd) {
    try {
      auto store = Store::open(dir);
      TestClock clock;
      Engine engine(*store, clock);
      uint64_t n = 0;
      for (;;) {
        std::vector<LocalOp> ops;
        for (int i = 0; i < kBatch; ++i, ++n)
          ops.push_back(
              LocalOp{LocalOp::Kind::kCreate,
                      {},
                      {Edit{uint16_t(CustomerField::name), {}, nameOf(n)},
                       Edit{uint16_t(CustomerField::phone), {}, "040 " + std::to_string(n)}},
                      "crash-writer"});
        auto results = engine.submit(ops);
        for (const auto& r : results)
          if (!r.status.isOk()) ::_exit(2);
        Report report{results.back().id.site, results.back().id.counter};
        if (::write(fd, &report, sizeof report) != ssize_t(sizeof report)) ::_exit(3);
      }
    } catch (...) {
      ::_exit(4);
    }
  }

  void startWriter() {
    int fds[2];
    BOOST_REQUIRE(::pipe(fds) == 0);
    child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
      ::close(fds[0]);
      writeForever(dir.path(), fds[1]);
    }
    ::close(fds[1]);
    readEnd = fds[0];
  }

  // Reads reports until `wanted` commits are in, the child stops, or the deadline passes.
  std::vector<RecordId> awaitCommits(size_t wanted) {
    std::vector<RecordId> ids;
    std::string buffer;
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (ids.size() < wanted) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd pfd{readEnd, POLLIN, 0};
      int ready = ::poll(&pfd, 1, int(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;
      char chunk[4096];
      ssize_t got = ::read(readEnd, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;  // the child is gone
      buffer.append(chunk, size_t(got));
      while (buffer.size() >= sizeof(Report)) {
        Report r;
        std::memcpy(&r, buffer.data(), sizeof r);
        buffer.erase(0, sizeof r);
        ids.push_back(RecordId{r.site, r.counter});
      }
    }
    return ids;
  }

  // SIGKILL (not a polite stop: that is the point) and reap; returns the wait status.
  int stopChild() {
    int status = 0;
    if (child > 0) {
      ::kill(child, SIGKILL);
      while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
      }
      child = -1;
    }
    return status;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(crash, CrashFixture)

BOOST_AUTO_TEST_CASE(sigkill_mid_write_loses_no_commit_and_leaves_no_half_written_change) {
  startWriter();
  const std::vector<RecordId> committed = awaitCommits(kCommitsBeforeKill);
  const int status = stopChild();
  BOOST_REQUIRE_MESSAGE(
      committed.size() == kCommitsBeforeKill,
      "the writer reported " << committed.size() << " commits; wait status " << status);
  BOOST_TEST((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL), "killed, not exited");

  auto store = Store::open(dir.path());
  auto txn = store->read();
  const Meta meta = store->meta(txn).value();

  // Every commit the child reported is there, with the ids of its whole batch.
  for (RecordId id : committed) {
    BOOST_TEST(id.site == kSite);
    BOOST_TEST(store->customer(txn, id).has_value(), id.toString());
  }
  BOOST_TEST(meta.lastSeq >= committed.back().counter);

  // Every record is whole: its create is in the log, its indexes find it.
  uint64_t records = 0, withoutLog = 0, numberMisses = 0, nameMisses = 0, phoneMisses = 0;
  std::set<std::string> numbers;
  store->forEachCustomer(txn, [&](const Customer& c) {
    ++records;
    if (!store->logPosition(txn, ChangeId{c.id.site, c.id.counter})) ++withoutLog;
    if (store->findByNumber(txn, c.value(CustomerField::number)) != std::vector<RecordId>{c.id})
      ++numberMisses;
    auto byName = store->searchName(txn, c.value(CustomerField::name), 10);
    if (std::find(byName.begin(), byName.end(), c.id) == byName.end()) ++nameMisses;
    auto byPhone = store->findByPhone(txn, c.value(CustomerField::phone), 1000);
    if (std::find(byPhone.begin(), byPhone.end(), c.id) == byPhone.end()) ++phoneMisses;
    numbers.insert(c.value(CustomerField::number));
    return true;
  });
  BOOST_TEST_MESSAGE(records << " records after SIGKILL; " << committed.size()
                             << " commits reported");
  BOOST_TEST(withoutLog == 0u);
  BOOST_TEST(numberMisses == 0u);
  BOOST_TEST(nameMisses == 0u);
  BOOST_TEST(phoneMisses == 0u);
  BOOST_TEST(numbers.size() == records);
  BOOST_TEST(records >= committed.size() * kBatch);
  BOOST_TEST(records % kBatch == 0u);  // whole batches only

  // The log holds exactly one create per record, and nothing else.
  uint64_t creates = 0, others = 0;
  store->forEachLog(txn, 1, [&](uint64_t, const Change& ch) {
    (ch.operation == Operation::kCreate ? creates : others)++;
    return true;
  });
  BOOST_TEST(creates == records);
  BOOST_TEST(others == 0u);
  BOOST_TEST(store->vector(txn).get(kSite) == meta.lastSeq);
  BOOST_TEST(store->lastLogPosition(txn) == meta.lastSeq);
  BOOST_TEST(meta.lastSeq == records);
}

BOOST_AUTO_TEST_CASE(store_accepts_writes_after_a_sigkill) {
  startWriter();
  const size_t commits = awaitCommits(3).size();
  const int status = stopChild();
  BOOST_REQUIRE_MESSAGE(commits == 3u,
                        "the writer reported " << commits << " commits; wait status " << status);

  auto store = Store::open(dir.path());
  Engine engine(*store, clock);
  const Meta before = engine.meta();
  auto r = engine.create({Edit{uint16_t(CustomerField::name), {}, "After the crash"}}, "u");
  BOOST_REQUIRE_MESSAGE(r.isOk(), r.status().message());
  BOOST_TEST((r->id == RecordId{kSite, before.lastSeq + 1}));
  auto txn = store->read();
  BOOST_TEST(
      (store->findByNumber(txn, r->value(CustomerField::number)) == std::vector<RecordId>{r->id}));
}

BOOST_AUTO_TEST_SUITE_END()
