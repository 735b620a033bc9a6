// Unit tests for the node's group committer: many threads' local writes share durable commits,
// each caller gets its own result, and everything acknowledged survives reopening the store.
#include <stdlib.h>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "node/node.h"
#include "protocol/protocol.h"
#include "storage/store.h"
#include "sync/engine.h"
#include "tests/unit/test_support.h"

using namespace sitesync;
using sitesync::node::GroupCommitter;
using sitesync::storage::Store;
using sitesync::sync::Edit;
using sitesync::sync::Engine;
using sitesync::sync::LocalOp;
using sitesync::sync::OpResult;

using sitesync::testing::TempDir;
using sitesync::testing::TestClock;

namespace {

const SiteId kSite = sitesync::testing::testSiteId(0xe01);
constexpr uint64_t kT0 = 1'700'000'000'000;

struct NodeFixture {
  TempDir dir;
  TestClock clock;
  std::unique_ptr<Store> store;
  std::unique_ptr<Engine> engine;

  NodeFixture() {
    open();
    auto status =
        Engine::initialize(*store, clock, sitesync::testing::testSiteKey(kSite), "node", false);
    if (!status.isOk()) throw std::runtime_error(status.message());
  }
  void open() {
    store = Store::open(dir.path());  // durable: fsync on every commit
    engine = std::make_unique<Engine>(*store, clock);
  }
  void reopen() {
    engine.reset();
    store.reset();
    open();
  }

  static LocalOp createOp(const std::string& name) {
    return LocalOp{
        LocalOp::Kind::kCreate, {}, {Edit{uint16_t(CustomerField::name), {}, name}}, "tester"};
  }

  // Runs `perThread` ops from each of `threads` threads at once; results by thread, in order.
  static std::vector<std::vector<OpResult>> hammer(
      GroupCommitter& committer, int threads, int perThread,
      const std::function<LocalOp(int thread, int i)>& makeOp) {
    std::vector<std::vector<OpResult>> results(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&, t] {
        for (int i = 0; i < perThread; ++i) results[t].push_back(committer.submit(makeOp(t, i)));
      });
    for (auto& w : workers) w.join();
    return results;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(node, NodeFixture)

BOOST_AUTO_TEST_CASE(concurrent_creates_from_eight_threads_all_commit_with_distinct_numbers) {
  constexpr int kThreads = 8, kPerThread = 50, kTotal = kThreads * kPerThread;
  uint64_t commits = 0;
  std::set<RecordId> ids;
  {
    GroupCommitter committer(*engine);
    auto results = hammer(committer, kThreads, kPerThread, [](int t, int i) {
      return createOp("Thread" + std::to_string(t) + " Customer" + std::to_string(i));
    });
    for (const auto& perThread : results)
      for (const auto& r : perThread) {
        BOOST_TEST(r.status.isOk(), r.status.message());
        BOOST_TEST(r.changed);
        ids.insert(r.id);
      }
    commits = committer.commits();
  }
  BOOST_TEST(ids.size() == size_t(kTotal));
  BOOST_TEST(commits >= 1u);
  BOOST_TEST(commits <= uint64_t(kTotal));
  BOOST_TEST_MESSAGE("400 creates took " << commits << " commits");

  reopen();  // durable: everything acknowledged is on disk
  auto all = engine->list(true);
  BOOST_TEST(all.size() == size_t(kTotal));
  std::set<std::string> numbers;
  for (const auto& c : all) {
    numbers.insert(c.value(CustomerField::number));
    BOOST_TEST(ids.count(c.id) == 1u);
  }
  BOOST_TEST(numbers.size() == size_t(kTotal));
  auto status = engine->status();
  BOOST_TEST(status.meta.lastSeq == uint64_t(kTotal));
  BOOST_TEST(status.logEntries == uint64_t(kTotal));
  BOOST_TEST(status.vector.get(kSite) == uint64_t(kTotal));
}

BOOST_AUTO_TEST_CASE(refused_ops_in_a_shared_batch_leave_the_others_committed) {
  GroupCommitter committer(*engine);
  auto results = hammer(committer, 4, 20, [](int t, int i) {
    return createOp(i % 2 ? "" : "T" + std::to_string(t) + " C" + std::to_string(i));
  });
  size_t ok = 0;
  for (const auto& perThread : results)
    for (size_t i = 0; i < perThread.size(); ++i) {
      if (i % 2) {
        BOOST_TEST((perThread[i].status.code() == StatusCode::kInvalidArgument));
        BOOST_TEST(!perThread[i].changed);
      } else {
        BOOST_TEST(perThread[i].status.isOk());
        ok += perThread[i].status.isOk();
      }
    }
  BOOST_TEST(ok == 40u);
  BOOST_TEST(engine->status().customers == 40u);
  BOOST_TEST(engine->status().meta.lastSeq == 40u);
}

BOOST_AUTO_TEST_CASE(a_submitted_write_is_visible_when_submit_returns) {
  GroupCommitter committer(*engine);
  OpResult r = committer.submit(createOp("Anna"));
  BOOST_REQUIRE(r.status.isOk());
  auto c = engine->customer(r.id);
  BOOST_REQUIRE(c.has_value());
  BOOST_TEST(c->value(CustomerField::name) == "Anna");
  BOOST_TEST((r.change == ChangeId{kSite, 1}));
}

BOOST_AUTO_TEST_CASE(sequential_submits_commit_one_transaction_each) {
  GroupCommitter committer(*engine);
  for (int i = 0; i < 5; ++i) committer.submit(createOp("C" + std::to_string(i)));
  BOOST_TEST(committer.commits() == 5u);
}

BOOST_AUTO_TEST_CASE(max_batch_of_one_commits_every_op_alone) {
  GroupCommitter committer(*engine, 1);
  hammer(committer, 4, 10,
         [](int t, int i) { return createOp("T" + std::to_string(t) + " C" + std::to_string(i)); });
  BOOST_TEST(committer.commits() == 40u);
  BOOST_TEST(engine->status().customers == 40u);
}

BOOST_AUTO_TEST_CASE(a_failing_commit_reaches_the_submitter_as_an_exception) {
  TempDir empty;
  auto bare = Store::open(empty.path());
  Engine uninitialised(*bare, clock);
  GroupCommitter committer(uninitialised);
  BOOST_CHECK_THROW(committer.submit(createOp("Anna")), std::runtime_error);
  BOOST_TEST(committer.commits() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
