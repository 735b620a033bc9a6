// Reads::changesAfter, what the API's change feed reads: the log in this node's apply order,
// local changes and peers' alike, by position, with the bounds compaction moves.
#include <boost/test/unit_test.hpp>

#include "tests/unit/sync_fixture.h"

namespace {

std::vector<uint64_t> positionsOf(const Engine::LogPage& page) {
  std::vector<uint64_t> out;
  for (const auto& logged : page.changes) out.push_back(logged.position);
  return out;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(sync_engine, SyncFixture)

BOOST_AUTO_TEST_CASE(changes_after_lists_local_and_peer_changes_in_apply_order_by_position) {
  Site b{kSiteB, "b"};
  Customer x = created(a, "Anna");
  updated(a, x.id, {set(CustomerField::phone, "040 1")});
  Customer y = created(b, "Bertil");
  ship(b.engine, a.engine);
  const Engine::LogPage all = a.engine.changesAfter(0, 100);
  BOOST_TEST(all.firstHeld == 1u);
  BOOST_TEST(all.end == a.engine.logEnd());
  BOOST_TEST(positionsOf(all) == (std::vector<uint64_t>{1, 2, 3}));
  BOOST_TEST((all.changes[0].change.target == x.id));
  BOOST_TEST((all.changes[0].change.operation == Operation::kCreate));
  BOOST_TEST((all.changes[1].change.operation == Operation::kUpdate));
  BOOST_TEST((all.changes[2].change.target == y.id));
  BOOST_TEST(all.changes[2].change.id.origin == kSiteB);
  // Pages: at most `max`, starting after the position given; nothing after the end.
  BOOST_TEST(positionsOf(a.engine.changesAfter(1, 1)) == std::vector<uint64_t>{2});
  BOOST_TEST(a.engine.changesAfter(3, 100).changes.empty());
  BOOST_TEST(a.engine.changesAfter(0, 0).changes.empty());
}

BOOST_AUTO_TEST_CASE(changes_after_shows_where_the_log_starts_once_compaction_removed_entries) {
  Customer x = created(a, "Anna");
  updated(a, x.id, {set(CustomerField::phone, "040 1")});
  updated(a, x.id, {set(CustomerField::phone, "040 2")});
  // A peer holds everything: all but the last entry may go.
  a.engine.notePeerSessions(
      {sitesync::sync::PeerNote{kSiteB, "b", "", a.engine.status().vector, 3, 0}});
  BOOST_REQUIRE(a.engine.compactLog() == 2u);
  const Engine::LogPage page = a.engine.changesAfter(0, 100);
  BOOST_TEST(page.firstHeld == 3u);  // a reader after position 0 or 1 missed changes
  BOOST_TEST(page.end == 3u);
  BOOST_TEST(positionsOf(page) == std::vector<uint64_t>{3});
  // Positions go on from where they were.
  updated(a, x.id, {set(CustomerField::phone, "040 3")});
  BOOST_TEST(positionsOf(a.engine.changesAfter(3, 100)) == std::vector<uint64_t>{4});
}

BOOST_AUTO_TEST_SUITE_END()
