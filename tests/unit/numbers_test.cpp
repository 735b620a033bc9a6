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
    // The sites proved their keys (a hello alone earns no numbers).
    for (SiteId site : {kSiteA, kSiteB, kSiteC}) allow(hub, site);
  }
  static void allow(Member& hub, SiteId site) {
    std::string key = siteIdToHex(site);
    key.resize(40, 'k');
    BOOST_REQUIRE(hub.engine.allowPeer(AllowedPeer{siteIdToHex(site), key, "", 0, site}).isOk());
  }
};

SiteId testSiteIdForStranger() {
  return sitesync::testing::testSiteId(0x5e);
}

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

BOOST_AUTO_TEST_CASE(
    the_hub_leases_another_block_when_a_site_numbers_from_its_newest_last_quarter) {
  session(hub, a);
  for (int i = 0; i < 5; ++i) a.add("D" + std::to_string(i));  // one left of blocks of 3
  session(hub, a);
  BOOST_TEST(a.engine.numbers().blocks.size() == 2u);
  a.add("D5");  // the last number of its newest block
  session(hub, a);
  BOOST_TEST(a.engine.numbers().blocks.size() == 3u);
  BOOST_TEST(a.engine.numbers().left == 3u);
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
  bootstrap(hub.engine, c.engine);
  BOOST_TEST(c.engine.digestHex() == hub.engine.digestHex());
  BOOST_TEST(c.engine.numbers().blocks.size() == 2u);
  BOOST_TEST(c.numberOf(c.add("Laptop customer")) ==
             std::to_string(c.engine.numbers().blocks[0].lease.first));
}

BOOST_AUTO_TEST_CASE(a_hello_from_a_stranger_leases_nothing) {
  const std::string before = hub.engine.digestHex();
  BOOST_TEST(hub.engine.ensureLeases(testSiteIdForStranger()) == 0u);
  BOOST_TEST(hub.engine.digestHex() == before);
  BOOST_TEST(hub.engine.numbers().leasedBlocks == 0u);
}

BOOST_AUTO_TEST_CASE(a_site_that_sent_a_change_of_its_own_gets_blocks_without_an_allow_entry) {
  Member d{testSiteIdForStranger(), kSiteD};
  BOOST_TEST(hub.engine.ensureLeases(d.engine.meta().siteId) == 0u);
  const RecordId waiting = d.add("Waits for a number");  // no blocks yet: pending
  BOOST_TEST(d.numberOf(waiting).empty());
  session(hub, d);  // the hub sees d's customer wait and leases to it
  session(hub, d);
  BOOST_TEST(!d.numberOf(waiting).empty());
  BOOST_TEST(d.engine.numbers().pending.empty());
}

BOOST_AUTO_TEST_CASE(a_site_low_on_numbers_gets_a_block_at_its_next_contact) {
  BOOST_REQUIRE(
      hub.engine.updateSettings({setting(SettingsField::numberBlockSize, "100")}, "admin").isOk());
  session(hub, a);
  BOOST_REQUIRE(a.engine.numbers().blocks.size() == 2u);
  for (int i = 0; i < 160; ++i) a.add("E" + std::to_string(i));  // 40 of 200 left
  session(hub, a);
  BOOST_TEST(a.engine.numbers().blocks.size() == 2u);  // a quarter of a block left, or more
  for (int i = 0; i < 20; ++i) a.add("F" + std::to_string(i));  // 20 left: below a quarter
  ship(a.engine, hub.engine);
  ship(hub.engine, a.engine);
  hub.engine.ensureLeases(kSiteA);  // the next hello
  ship(hub.engine, a.engine);
  BOOST_TEST(a.engine.numbers().blocks.size() == 3u);
  BOOST_TEST(a.engine.numbers().left == 120u);
}

BOOST_AUTO_TEST_CASE(a_thousand_customers_over_twenty_syncs_with_blocks_of_100_are_all_numbered) {
  BOOST_REQUIRE(
      hub.engine.updateSettings({setting(SettingsField::numberBlockSize, "100")}, "admin").isOk());
  std::vector<RecordId> made;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 50; ++i) made.push_back(a.add("G" + std::to_string(made.size())));
    session(hub, a);
  }
  session(hub, a);
  std::set<std::string> numbers;
  for (RecordId id : made) {
    const std::string number = a.numberOf(id);
    BOOST_TEST(!number.empty(), "customer " << id.toString() << " has no number");
    numbers.insert(number);
  }
  BOOST_TEST(numbers.size() == made.size());  // unique
  BOOST_TEST(a.engine.numbers().pending.empty());
  BOOST_TEST(hub.engine.digestHex() == a.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(a_site_that_numbered_alone_before_joining_numbers_from_its_blocks_after) {
  Member alone{testSiteIdForStranger(), 0};  // no deployment yet: numbers from next_number
  BOOST_REQUIRE(
      alone.engine.updateSettings({setting(SettingsField::nextNumber, "50000")}, "admin").isOk());
  // The deployment numbers from its own next_number: the one the site offers is refused.
  BOOST_REQUIRE(
      hub.engine.updateSettings({setting(SettingsField::nextNumber, "1000")}, "admin").isOk());
  std::vector<RecordId> made;
  for (int i = 0; i < 3; ++i) made.push_back(alone.add("H" + std::to_string(i)));
  BOOST_TEST(alone.numberOf(made[0]) == "50000");
  BOOST_REQUIRE(alone.engine.acceptDeployment(kSiteD, "hub").isOk());
  session(hub, alone);
  session(hub, alone);  // its changes arrived: it is worth blocks now
  for (int i = 0; i < 3; ++i) made.push_back(alone.add("J" + std::to_string(i)));
  for (RecordId id : made) BOOST_TEST(!alone.numberOf(id).empty());
  auto report = alone.engine.numbers();
  BOOST_REQUIRE(!report.blocks.empty());
  BOOST_TEST(report.left > 0u);  // its blocks are not skipped by the cursor of next_number
  BOOST_TEST(report.pending.empty());
  // The numbers it gave alone stay its customers' (claimed like typed numbers); no block burnt.
  BOOST_TEST(alone.numberOf(made[0]) == "50000");
  BOOST_TEST(report.blocks.front().lease.first < 50000u);
}

BOOST_AUTO_TEST_CASE(blocks_a_site_used_up_numbering_alone_are_passed_over_and_leasing_stops) {
  Member alone{testSiteIdForStranger(), 0};  // numbers from next_number (1000) before it joins
  for (int i = 0; i < 9; ++i) alone.add("K" + std::to_string(i));  // 1000 to 1008
  BOOST_REQUIRE(alone.engine.acceptDeployment(kSiteD, "hub").isOk());
  for (int i = 0; i < 4; ++i) session(hub, alone);  // every hello: no new block once it has two
  auto report = alone.engine.numbers();
  BOOST_REQUIRE(report.blocks.size() == 2u);
  BOOST_TEST(report.blocks.front().lease.first == 1009u);  // the blocks it filled are skipped
  BOOST_TEST(alone.numberOf(alone.add("L")) == "1009");
}

BOOST_AUTO_TEST_CASE(a_typed_number_at_the_top_of_a_sites_block_does_not_make_the_hub_lease_more) {
  session(hub, a);
  const uint64_t top = a.engine.numbers().blocks.back().lease.last;
  auto typed = hub.engine.create(
      {set(CustomerField::name, "Typed"), set(CustomerField::number, std::to_string(top))}, "t");
  BOOST_REQUIRE(typed.isOk());
  for (int i = 0; i < 3; ++i) session(hub, a);  // plenty left: no block at any hello
  BOOST_TEST(a.engine.numbers().blocks.size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
