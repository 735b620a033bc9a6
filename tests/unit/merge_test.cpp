// Merges (DESIGN.md section 6): survivor, absorbed tombstones, late edits, chains and cycles.
#include <boost/test/unit_test.hpp>

#include "tests/unit/sync_fixture.h"

BOOST_FIXTURE_TEST_SUITE(sync_engine, SyncFixture)

BOOST_AUTO_TEST_CASE(
    a_merge_keeps_the_survivors_values_fills_its_empty_ones_and_leaves_a_tombstone) {
  Customer s = created(a, "Anna Lind", {set(CustomerField::phone, "040 111")});
  Customer x = created(a, "Anna Lindh", {set(CustomerField::email, "anna@example.fi")});
  auto merged = a.engine.merge(s.id, {x.id}, {}, "tester");
  BOOST_REQUIRE(merged.isOk());
  BOOST_TEST(merged->value(CustomerField::name) == "Anna Lind");
  BOOST_TEST(merged->value(CustomerField::email) == "anna@example.fi");
  BOOST_TEST(!merged->hasOpenConflicts());
  Customer tomb = *a.engine.customer(x.id);
  BOOST_TEST(int(tomb.lifecycle) == int(Lifecycle::kMerged));
  BOOST_TEST((tomb.mergedInto == s.id));
  BOOST_TEST(a.engine.list(true).size() == 1u);
  BOOST_TEST((a.engine.resolve("#" + x.value(CustomerField::number)).value() == s.id));
  BOOST_TEST(!a.engine.update(x.id, {set(CustomerField::phone, "040 9")}, "t").isOk());
}

BOOST_AUTO_TEST_CASE(take_picks_an_absorbed_customers_value) {
  Customer s = created(a, "Anna Lind", {set(CustomerField::phone, "040 111")});
  Customer x = created(a, "Anna Lindh", {set(CustomerField::phone, "040 222")});
  auto merged = a.engine.merge(s.id, {x.id}, {{set(CustomerField::phone, ""), x.id}}, "tester");
  BOOST_REQUIRE(merged.isOk());
  BOOST_TEST(merged->value(CustomerField::phone) == "040 222");
}

BOOST_AUTO_TEST_CASE(an_edit_made_offline_to_a_customer_merged_meanwhile_shows_on_the_survivor) {
  Site b{kSiteB, "laptop"};
  Customer s = created(a, "Anna Lind");
  Customer x = created(a, "Anna Lindh", {set(CustomerField::phone, "040 111")});
  ship(a.engine, b.engine);
  BOOST_REQUIRE(a.engine.merge(s.id, {x.id}, {}, "hq").isOk());
  b.clock.set(kT0 + 1000);
  updated(b, x.id, {set(CustomerField::phone, "040 999"), set(CustomerField::language, "sv")});
  ship(a.engine, b.engine);
  ship(b.engine, a.engine);
  BOOST_TEST(a.engine.digestHex() == b.engine.digestHex());
  Customer shown = *a.engine.customer(s.id);
  BOOST_TEST(shown.value(CustomerField::language) == "sv");  // nothing typed offline is lost
  BOOST_TEST(shown[CustomerField::phone].inConflict());      // concurrent with the merge
  BOOST_TEST(a.engine.conflicts(false).size() == 1u);
  BOOST_TEST(b.engine.conflicts(false).size() == 1u);
}

BOOST_AUTO_TEST_CASE(resolving_a_conflict_with_a_late_edit_of_a_merged_customer_is_recorded) {
  Site b{kSiteB, "laptop"};
  Customer s = created(a, "Anna Lind", {set(CustomerField::phone, "040 111")});
  Customer x = created(a, "Anna Lindh");
  ship(a.engine, b.engine);
  BOOST_REQUIRE(a.engine.merge(s.id, {x.id}, {}, "hq").isOk());
  b.clock.set(kT0 + 1000);
  updated(b, x.id, {set(CustomerField::phone, "040 999")});
  ship(b.engine, a.engine);
  ship(a.engine, b.engine);
  auto open = a.engine.conflicts(false);
  BOOST_REQUIRE(open.size() == 1u);
  BOOST_REQUIRE(a.engine.resolveConflict(open[0].id, std::nullopt, "hq").isOk());
  ship(a.engine, b.engine);
  for (Site* site : {&a, &b}) {
    BOOST_TEST(site->engine.conflicts(false).empty());
    auto all = site->engine.conflicts(true);
    BOOST_REQUIRE(all.size() == 1u);
    BOOST_TEST(all[0].resolved);
    BOOST_TEST(all[0].id == open[0].id);
    BOOST_TEST(all[0].chosen == "040 999");
  }
  BOOST_TEST(a.engine.customer(s.id)->value(CustomerField::phone) == "040 999");
}

BOOST_AUTO_TEST_CASE(concurrent_merges_a_into_b_and_b_into_a_leave_one_survivor_everywhere) {
  Site b{kSiteB, "branch-b"};
  Customer x = created(a, "Anna Lind");
  Customer y = created(a, "Anna Lindh");
  ship(a.engine, b.engine);
  BOOST_REQUIRE(a.engine.merge(x.id, {y.id}, {}, "a").isOk());
  b.clock.set(kT0 + 1000);  // b's merge is the newer: it is the void one
  BOOST_REQUIRE(b.engine.merge(y.id, {x.id}, {}, "b").isOk());
  ship(a.engine, b.engine);
  ship(b.engine, a.engine);
  BOOST_TEST(a.engine.digestHex() == b.engine.digestHex());
  for (Site* site : {&a, &b}) {
    auto live = site->engine.list(true);
    BOOST_REQUIRE(live.size() == 1u);
    BOOST_TEST((live[0].id == x.id));
    // Stored as merged, it is still found by name, once.
    auto found = site->engine.search("lind", 10);
    BOOST_REQUIRE(found.size() == 1u);
    BOOST_TEST((found[0].id == x.id));
  }
}

BOOST_AUTO_TEST_CASE(a_phone_typed_offline_on_a_customer_merged_meanwhile_finds_the_survivor) {
  Site b{kSiteB, "laptop"};
  Customer s = created(a, "Anna Lind");
  Customer x = created(a, "Anna Lindh");
  ship(a.engine, b.engine);
  BOOST_REQUIRE(a.engine.merge(s.id, {x.id}, {}, "hq").isOk());
  updated(b, x.id, {set(CustomerField::phone, "040 765 4321")});
  ship(b.engine, a.engine);
  auto found = a.engine.search("0407654321", 10);
  BOOST_REQUIRE(found.size() == 1u);
  BOOST_TEST((found[0].id == s.id));
  BOOST_REQUIRE(a.engine.remove(s.id, "hq").isOk());  // a deleted survivor is not found
  BOOST_TEST(a.engine.search("0407654321", 10).empty());
  BOOST_TEST(a.engine.search("lindh", 10).empty());
}

BOOST_AUTO_TEST_CASE(a_chain_of_merges_resolves_to_the_last_survivor) {
  Customer x = created(a, "A");
  Customer y = created(a, "B");
  Customer z = created(a, "C");
  BOOST_REQUIRE(a.engine.merge(y.id, {x.id}, {}, "t").isOk());
  BOOST_REQUIRE(a.engine.merge(z.id, {y.id}, {}, "t").isOk());
  BOOST_TEST((a.engine.resolve("#" + x.value(CustomerField::number)).value() == z.id));
  BOOST_TEST(a.engine.mergedInto(z.id).size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
