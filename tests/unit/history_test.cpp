// A customer's history is a function of the set of changes (DESIGN.md section 3): the same
// entries and lines on every site, whatever order the changes came in; every write is listed
// with the value it wrote, and a merge adds an entry to its customers without rewriting theirs.
#include <boost/test/unit_test.hpp>

#include "tests/unit/sync_fixture.h"

namespace {

// "field: old -> new" for every write of every entry, in the history's order.
std::vector<std::string> historyLines(Site& site, RecordId id) {
  std::vector<std::string> out;
  for (const HistoryEntry& e : site.engine.history(id)) {
    out.push_back(std::string(operationName(e.operation)) + " by " + siteIdToHex(e.site) + ":" +
                  std::to_string(e.seq) + (e.note.empty() ? "" : " (" + e.note + ")"));
    for (const FieldChange& fc : e.changes)
      out.push_back("  " + std::to_string(fc.field) + fc.key + ": '" + fc.oldValue + "' -> '" +
                    fc.newValue + "'");
  }
  return out;
}

// `a` and `b` (which holds what `a` holds) write `field` of `id` concurrently, `b` with the later
// clock, then exchange their changes both ways.
void writeConcurrently(Site& a, Site& b, RecordId id, CustomerField field, const std::string& atA,
                       const std::string& atB) {
  ship(a.engine, b.engine);
  b.clock.set(kT0 + 1000);
  BOOST_REQUIRE(a.engine.update(id, {set(field, atA)}, "tester").isOk());
  BOOST_REQUIRE(b.engine.update(id, {set(field, atB)}, "tester").isOk());
  ship(a.engine, b.engine);
  ship(b.engine, a.engine);
}

bool listed(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

std::string emailLine(const std::string& old, const std::string& now) {
  return "  " + std::to_string(uint16_t(CustomerField::email)) + ": '" + old + "' -> '" + now + "'";
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(sync_engine, SyncFixture)

BOOST_AUTO_TEST_CASE(history_is_the_same_whatever_order_concurrent_writes_arrive_in) {
  Site b{kSiteB, "b"}, c{kSiteC, "c"}, d{kSiteD, "d"};
  Customer x = created(a, "Anna");
  for (Site* s : {&b, &c, &d}) ship(a.engine, s->engine);
  b.clock.set(kT0 + 1000);
  c.clock.set(kT0 + 2000);
  updated(b, x.id, {set(CustomerField::email, "b@x.dk")});
  updated(c, x.id, {set(CustomerField::email, "c@x.dk")});
  // a hears b first, d hears c (the later version) first: b's write replaces nothing there.
  ship(b.engine, a.engine);
  ship(c.engine, a.engine);
  ship(c.engine, d.engine);
  ship(b.engine, d.engine);
  BOOST_REQUIRE(a.engine.digestHex() == d.engine.digestHex());

  const auto lines = historyLines(a, x.id);
  BOOST_TEST(historyLines(d, x.id) == lines, boost::test_tools::per_element());
  BOOST_TEST((a.engine.history(x.id) == d.engine.history(x.id)));
  // Both writes are there with the values they wrote, "before" taken in version order.
  BOOST_TEST(listed(lines, emailLine("", "b@x.dk")));
  BOOST_TEST(listed(lines, emailLine("b@x.dk", "c@x.dk")));
}

BOOST_AUTO_TEST_CASE(a_write_replaced_before_it_arrived_is_still_in_the_history) {
  Site b{kSiteB, "b"}, c{kSiteC, "c"};
  Customer x = created(a, "Anna");
  ship(a.engine, b.engine);
  b.clock.set(kT0 + 1000);
  updated(b, x.id, {set(CustomerField::email, "first@x.dk")});
  ship(b.engine, c.engine);  // c holds the create and b's write, then overwrites it
  c.clock.set(kT0 + 2000);
  updated(c, x.id, {set(CustomerField::email, "second@x.dk")});
  // a receives c's overwrite with c's copy of b's change in one batch, and b's write afterwards
  // again from b: applying it twice changes nothing, and it is listed once.
  ship(c.engine, a.engine);
  ship(b.engine, a.engine);
  const auto lines = historyLines(a, x.id);
  BOOST_TEST(listed(lines, emailLine("", "first@x.dk")));
  BOOST_TEST(listed(lines, emailLine("first@x.dk", "second@x.dk")));
  BOOST_TEST(historyLines(c, x.id) == lines, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(concurrent_writes_of_the_same_value_are_no_conflict) {
  Site b{kSiteB, "b"};
  Customer x = created(a, "Shared Kund");
  writeConcurrently(a, b, x.id, CustomerField::name, "Shared3 Kund", "Shared3 Kund");
  for (Site* s : {&a, &b}) {
    BOOST_TEST(s->engine.conflicts(false).empty());
    BOOST_TEST(!current(*s, x.id).hasOpenConflicts());
  }
  BOOST_TEST(a.engine.digestHex() == b.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(a_merge_adds_an_entry_to_the_absorbed_history_and_rewrites_none) {
  Customer s = created(a, "Anna Lind");
  Customer x = created(a, "Anna Lindh", {set(CustomerField::email, "anna@example.fi")});
  a.clock.set(kT0 + 1000);
  updated(a, s.id, {set(CustomerField::name, "Changed Name")});
  const auto before = historyLines(a, x.id);
  BOOST_REQUIRE(a.engine.merge(s.id, {x.id}, {}, "tester").isOk());

  const auto after = historyLines(a, x.id);
  BOOST_REQUIRE(after.size() == before.size() + 1);
  BOOST_TEST(std::vector<std::string>(after.begin(), after.end() - 1) == before,
             boost::test_tools::per_element());
  BOOST_TEST(after.back().find("merge") == 0u);
  BOOST_TEST(after.back().find("merged into " + s.id.toString()) != std::string::npos);
  const auto survivor = a.engine.history(s.id);
  BOOST_TEST((survivor.back().operation == Operation::kMerge));
  BOOST_TEST(survivor.back().note.find(x.id.toString()) != std::string::npos);

  // The survivor's history with the absorbed one's entries, each marked, the merge once.
  size_t merges = 0, ofAbsorbed = 0;
  for (const auto& [record, e] : a.engine.historyWithMerged(s.id, true)) {
    merges += e.operation == Operation::kMerge;
    ofAbsorbed += record == x.id;
  }
  BOOST_TEST(merges == 1u);
  BOOST_TEST(ofAbsorbed == 1u);  // x's create
}

BOOST_AUTO_TEST_CASE(a_resolution_lists_the_conflict_it_closed_on_every_site) {
  Site b{kSiteB, "b"};
  Customer x = created(a, "Anna");
  writeConcurrently(a, b, x.id, CustomerField::phone, "040 1", "040 2");
  auto open = a.engine.conflicts(false);
  BOOST_REQUIRE(open.size() == 1u);
  BOOST_REQUIRE(a.engine.resolveConflict(open[0].id, std::string("040 3"), "tester").isOk());
  ship(a.engine, b.engine);
  for (Site* s : {&a, &b}) {
    auto all = s->engine.conflicts(true);
    BOOST_REQUIRE(all.size() == 1u);
    BOOST_TEST(all[0].resolved);
    BOOST_TEST(all[0].id == open[0].id);
    BOOST_TEST(all[0].chosen == "040 3");
    BOOST_TEST(all[0].winner.value == "040 2");  // b's write: the larger version
    BOOST_TEST(all[0].loser.value == "040 1");
  }
}

BOOST_AUTO_TEST_CASE(history_keeps_every_value_once_the_log_is_compacted) {
  Customer x = created(a, "Anna", {set(CustomerField::email, "anna@example.fi")});
  updated(a, x.id, {set(CustomerField::email, "anna@example.se")});
  const auto before = historyLines(a, x.id);
  BOOST_REQUIRE(listed(before, emailLine("", "anna@example.fi")));
  // A peer holds everything: the log entries behind the history may go.
  a.engine.notePeerSessions(
      {sitesync::sync::PeerNote{kSiteB, "b", "", a.engine.status().vector, 2, 0}});
  BOOST_REQUIRE(a.engine.compactLog() == 1u);  // the last entry stays: positions never restart
  BOOST_TEST(historyLines(a, x.id) == before, boost::test_tools::per_element());
  // A later change takes a new position: no entry of the history is written over.
  updated(a, x.id, {set(CustomerField::email, "anna@example.dk")});
  auto after = historyLines(a, x.id);
  BOOST_REQUIRE(after.size() > before.size());
  BOOST_TEST(std::vector<std::string>(after.begin(), after.begin() + long(before.size())) == before,
             boost::test_tools::per_element());
  BOOST_TEST(listed(after, emailLine("anna@example.se", "anna@example.dk")));
}

BOOST_AUTO_TEST_CASE(a_site_made_from_a_snapshot_shows_the_same_history) {
  Site b{kSiteB, "b"};
  Customer x = created(a, "Anna", {set(CustomerField::phone, "040 1")});
  updated(a, x.id, {set(CustomerField::phone, "040 2")});
  bootstrap(a.engine, b.engine);
  BOOST_TEST(logEntries(b) == 0u);  // nothing of the history can come from its own log
  const auto lines = historyLines(b, x.id);
  BOOST_TEST(lines == historyLines(a, x.id), boost::test_tools::per_element());
  BOOST_TEST(lines.size() == 7u);  // two entries: create (number, name, phone, status), update
}

BOOST_AUTO_TEST_CASE(a_chain_of_merges_shows_each_merge_once_in_the_last_survivors_history) {
  Customer x = created(a, "Anna");
  Customer y = created(a, "Anna L");
  Customer z = created(a, "Anna Lind");
  BOOST_REQUIRE(a.engine.merge(y.id, {x.id}, {}, "tester").isOk());  // x into y
  BOOST_REQUIRE(a.engine.merge(z.id, {y.id}, {}, "tester").isOk());  // y into z
  std::set<std::pair<SiteId, uint64_t>> seen;
  size_t merges = 0;
  for (const auto& [record, e] : a.engine.historyWithMerged(z.id, true)) {
    BOOST_TEST(seen.insert({e.site, e.seq}).second, "change " << e.seq << " listed twice");
    merges += e.operation == Operation::kMerge;
  }
  BOOST_TEST(merges == 2u);
  BOOST_TEST(seen.size() == 5u);  // three creates, two merges
}

BOOST_AUTO_TEST_SUITE_END()
