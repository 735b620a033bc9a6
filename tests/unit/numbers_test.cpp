// Automatic customer numbers (DESIGN.md section 6): the hub leases blocks as replicated changes,
// sites number from their own blocks, and a site out of numbers leaves them pending.
#include <boost/test/unit_test.hpp>

#include "tests/unit/sync_fixture.h"

namespace {

// A session with the hub: hello (the hub leases a newcomer its first blocks), both directions.
void session(Member& hub, Member& site) {
  hub.engine.ensureLeases(site.engine.meta().siteId);
  ship(site.engine, hub.engine);
  ship(hub.engine, site.engine);
  ship(site.engine, hub.engine);  // what the site wrote on receiving (numbers for waiting ones)
}

struct NumbersFixture {
  Member hub{kSiteD, kSiteD};
  Member a{kSiteA, kSiteD};
  Member b{kSiteB, kSiteD};
  NumbersFixture() {
    auto r = hub.engine.updateSettings({setting(SettingsField::numberBlockSize, "3")}, "admin");
    BOOST_REQUIRE(r.isOk());
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(sync_engine, NumbersFixture)

BOOST_AUTO_TEST_CASE(a_site_meeting_the_hub_gets_two_blocks_and_numbers_from_them) {
  session(hub, a);
  auto report = a.engine.numbers();
  BOOST_TEST(!report.standalone);
  BOOST_REQUIRE(report.blocks.size() == 2u);
  BOOST_TEST(report.left == 6u);
  BOOST_TEST(a.numberOf(a.add("Anna")) == std::to_string(report.blocks[0].lease.first));
  BOOST_TEST(a.engine.numbers().left == 5u);
  BOOST_TEST(hub.engine.digestHex() != a.engine.digestHex());  // a's customer is not there yet
  session(hub, a);
  BOOST_TEST(hub.engine.digestHex() == a.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(automatic_numbers_of_two_sites_typing_offline_never_collide) {
  session(hub, a);
  session(hub, b);
  std::vector<RecordId> made;
  for (int i = 0; i < 3; ++i) made.push_back(a.add("A" + std::to_string(i)));
  for (int i = 0; i < 3; ++i) made.push_back(b.add("B" + std::to_string(i)));
  hub.add("At the hub");
  session(hub, a);
  session(hub, b);
  session(hub, a);
  auto txn = hub.store->read();
  BOOST_TEST(hub.store->sharedNumbers(txn).empty());
  for (RecordId id : made) BOOST_TEST(hub.engine.history(id).size() == 1u);  // never renumbered
  BOOST_TEST(a.engine.digestHex() == hub.engine.digestHex());
  BOOST_TEST(b.engine.digestHex() == hub.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(a_site_out_of_numbers_offline_leaves_them_pending_until_its_next_block) {
  session(hub, a);
  std::vector<RecordId> made;
  for (int i = 0; i < 8; ++i) made.push_back(a.add("C" + std::to_string(i)));
  BOOST_TEST(a.numberOf(made[5]) != "");
  BOOST_TEST(a.numberOf(made[6]) == "");
  auto flags = a.engine.flags(*a.engine.customer(made[7]));
  BOOST_TEST((std::find(flags.begin(), flags.end(), "number_pending") != flags.end()));
  BOOST_TEST(a.engine.numbers().pending.size() == 2u);

  session(hub, a);  // the hub sees two waiting customers and leases enough, plus a spare block
  BOOST_TEST(a.engine.numbers().pending.empty());
  BOOST_TEST(a.numberOf(made[6]) != "");
  BOOST_TEST(a.numberOf(made[7]) != "");
  BOOST_TEST(a.engine.history(made[7]).back().note.find("block") != std::string::npos);
  BOOST_TEST(a.engine.numbers().left >= 3u);
  BOOST_TEST(hub.engine.digestHex() == a.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(the_hub_leases_another_block_when_a_site_starts_its_newest) {
  session(hub, a);
  for (int i = 0; i < 4; ++i) a.add("D" + std::to_string(i));  // the 4th opens block two
  session(hub, a);
  BOOST_TEST(a.engine.numbers().blocks.size() == 3u);
  BOOST_TEST(a.engine.numbers().left == 5u);
}

BOOST_AUTO_TEST_CASE(the_hub_numbers_from_a_block_it_leases_itself) {
  const RecordId id = hub.add("Hub customer");
  auto report = hub.engine.numbers();
  BOOST_REQUIRE(report.blocks.size() == 1u);
  BOOST_TEST(hub.numberOf(id) == std::to_string(report.blocks[0].lease.first));
  session(hub, a);
  BOOST_TEST(a.engine.numbers().blocks.front().lease.first > report.blocks[0].lease.last);
}

BOOST_AUTO_TEST_CASE(a_snapshot_carries_the_leases_so_a_joining_site_matches_the_hub) {
  session(hub, a);
  hub.add("Hub customer");
  hub.engine.ensureLeases(kSiteC);
  Member c{kSiteC, kSiteD};
  std::string next;
  for (;;) {
    auto chunk = hub.engine.snapshotChunk(next, 1 << 20);
    c.engine.mergeSnapshotChunk(chunk);
    if (chunk.complete) break;
    next = chunk.nextKey;
  }
  BOOST_TEST(c.engine.digestHex() == hub.engine.digestHex());
  BOOST_TEST(c.engine.numbers().blocks.size() == 2u);
  BOOST_TEST(c.numberOf(c.add("Laptop customer")) ==
             std::to_string(c.engine.numbers().blocks[0].lease.first));
}

BOOST_AUTO_TEST_SUITE_END()
