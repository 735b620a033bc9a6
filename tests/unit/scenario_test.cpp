// The conflict rules of DESIGN.md section 6, one multi-site scenario each: a hub and two branches,
// each a running node over real ZeroMQ on 127.0.0.1 and real LMDB, that go offline (their node
// stops), work, and come back (their node starts again with a streaming link to the hub). Every
// case ends with all three nodes holding the same changes and the same state digest.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>

#include "tests/unit/replication_fixture.h"

using namespace sitesync;
using sitesync::testing::eventually;
using sitesync::testing::kTestEpochMillis;
using sitesync::testing::quickLinks;
using sitesync::testing::Serving;
using sitesync::testing::Site;

namespace {

constexpr uint64_t kMinute = 60'000;
constexpr uint64_t kHour = 60 * kMinute;

bool sameState(const Site& x, const Site& y) {
  return x.engine.digestHex() == y.engine.digestHex() &&
         x.engine.status().vector == y.engine.status().vector;
}

// What identifies a listed conflict (ConflictInfo has no ==).
auto identity(const sync::ConflictInfo& c) {
  return std::tie(c.id, c.kind, c.customer, c.field, c.key, c.winner, c.loser, c.other, c.resolved);
}

// A hub that is always online and two branches, each online (a running node with a streaming
// link to the hub) or offline (no node: it neither sends nor receives).
struct Deployment {
  Site hub{0x4b, "hub", 0xd1, /*isHub=*/true};
  Site a{0xa1, "branch-a"};
  Site b{0xb2, "branch-b"};
  Serving hubNode{hub};
  std::optional<Serving> nodeA, nodeB;  // destroyed before the hub's node and the sites

  std::vector<Site*> everyone() { return {&hub, &a, &b}; }
  std::optional<Serving>& nodeOf(Site& site) { return &site == &a ? nodeA : nodeB; }

  void goOffline(Site& site) { nodeOf(site).reset(); }
  // Starts the branch's node and waits until it and the hub hold the same changes.
  void comeOnline(Site& site) {
    if (!nodeOf(site)) nodeOf(site).emplace(site, quickLinks({hubNode.endpoint()}));
    BOOST_REQUIRE(eventually([&] { return sameState(hub, site); }));
  }
  // Both branches online, and all three nodes hold the same changes and the same digest.
  void syncEveryone() {
    comeOnline(a);
    comeOnline(b);
    BOOST_REQUIRE(eventually([&] { return sameState(hub, a) && sameState(hub, b); }));
  }

  RecordId created(Site& site, const std::string& name, std::vector<sync::Edit> more = {}) {
    more.insert(more.begin(), sync::Edit{uint16_t(CustomerField::name), {}, name});
    auto r = site.engine.create(more, "tester");
    BOOST_REQUIRE(r.isOk());
    return r->id;
  }
  // The head shown for a field at one site, as its last write there made it.
  Head edited(Site& site, RecordId id, CustomerField field, const std::string& value) {
    site.edit(id, field, value);
    return (*site.engine.customer(id))[field].shown();
  }
  // The open (or with `includeResolved`, all) conflicts, after checking that every node lists
  // exactly the same ones.
  std::vector<sync::ConflictInfo> conflictsListedEverywhere(bool includeResolved = false) {
    auto listed = hub.engine.conflicts(includeResolved);
    for (Site* site : {&a, &b}) {
      auto there = site->engine.conflicts(includeResolved);
      BOOST_TEST_CONTEXT(site->engine.meta().siteName) {
        BOOST_TEST_REQUIRE(there.size() == listed.size());
        for (size_t i = 0; i < listed.size(); ++i)
          BOOST_TEST((identity(there[i]) == identity(listed[i])));
      }
    }
    return listed;
  }
};

sync::Edit set(CustomerField field, const std::string& value) {
  return sync::Edit{uint16_t(field), {}, value};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(scenarios)

BOOST_FIXTURE_TEST_CASE(concurrent_edits_of_one_field_keep_the_loser_in_the_conflict_list,
                        Deployment) {
  const RecordId anna = created(a, "Anna", {set(CustomerField::phone, "040 100")});
  syncEveryone();
  goOffline(a);
  goOffline(b);
  a.clock.set(kTestEpochMillis + 1 * kMinute);
  b.clock.set(kTestEpochMillis + 2 * kMinute);
  const Head atA = edited(a, anna, CustomerField::phone, "040 111");
  const Head atB = edited(b, anna, CustomerField::phone, "050 222");
  syncEveryone();

  // The larger (hlc, origin) is shown everywhere; the other stays listed beside it.
  const Head& winner = std::max(atA, atB, [](auto& x, auto& y) { return x.version < y.version; });
  const Head& loser = winner == atA ? atB : atA;
  auto open = conflictsListedEverywhere();
  BOOST_TEST_REQUIRE(open.size() == 1u);
  const sync::ConflictInfo& conflict = open.front();
  BOOST_TEST((conflict.kind == sync::ConflictKind::kField));
  BOOST_TEST((conflict.customer == anna));
  BOOST_TEST(conflict.field == uint16_t(CustomerField::phone));
  BOOST_TEST((conflict.winner == winner));
  BOOST_TEST((conflict.loser == loser));
  BOOST_TEST(conflict.winner.version.origin == b.engine.meta().siteId);  // the later edit
  BOOST_TEST(conflict.loser.version.origin == a.engine.meta().siteId);
  for (Site* site : everyone()) {
    auto shown = *site->engine.customer(anna);
    BOOST_TEST(shown.value(CustomerField::phone) == winner.value);
    auto flags = site->engine.flags(shown);
    BOOST_TEST((std::find(flags.begin(), flags.end(), "in_conflict") != flags.end()));
  }

  // Resolving it at one branch (keeping the loser's value) is an ordinary write for everyone.
  BOOST_REQUIRE(a.engine.resolveConflict(conflict.id, loser.value, "clerk").isOk());
  BOOST_REQUIRE(eventually([&] { return sameState(hub, a) && sameState(hub, b); }));
  BOOST_TEST(conflictsListedEverywhere().empty());
  auto resolved = conflictsListedEverywhere(/*includeResolved=*/true);
  BOOST_TEST_REQUIRE(resolved.size() == 1u);
  BOOST_TEST(resolved.front().id == conflict.id);
  BOOST_TEST(resolved.front().chosen == loser.value);
  for (Site* site : everyone())
    BOOST_TEST(site->engine.customer(anna)->value(CustomerField::phone) == loser.value);
}

BOOST_FIXTURE_TEST_CASE(edits_of_different_fields_at_two_sites_both_survive, Deployment) {
  const RecordId bertil = created(hub, "Bertil");
  syncEveryone();
  goOffline(a);
  goOffline(b);
  edited(a, bertil, CustomerField::phone, "040 123");
  edited(b, bertil, CustomerField::email, "bertil@example.com");
  syncEveryone();
  for (Site* site : everyone()) {
    auto merged = *site->engine.customer(bertil);
    BOOST_TEST(merged.value(CustomerField::phone) == "040 123");
    BOOST_TEST(merged.value(CustomerField::email) == "bertil@example.com");
    BOOST_TEST(!merged.hasOpenConflicts());
  }
  BOOST_TEST(conflictsListedEverywhere().empty());
}

BOOST_FIXTURE_TEST_CASE(a_site_with_its_clock_minutes_behind_editing_after_a_sync_wins,
                        Deployment) {
  const uint64_t now = kTestEpochMillis + kHour;
  hub.clock.set(now);
  a.clock.set(now);
  b.clock.set(now - 4 * kHour / 60);  // four minutes behind: within max_clock_skew
  const RecordId cecilia = created(a, "Cecilia", {set(CustomerField::phone, "040 100")});
  syncEveryone();
  const Head atA = edited(a, cecilia, CustomerField::phone, "040 111");
  BOOST_REQUIRE(eventually(
      [&] { return b.engine.customer(cecilia)->value(CustomerField::phone) == "040 111"; }));
  // B has seen A's edit; its own edit of the same field comes after it, whatever its clock says.
  const Head atB = edited(b, cecilia, CustomerField::phone, "050 222");
  BOOST_TEST(b.clock.nowMillis() < atA.version.hlc.millis());
  BOOST_TEST((atB.version > atA.version));
  BOOST_REQUIRE(eventually([&] { return sameState(hub, a) && sameState(hub, b); }));
  for (Site* site : everyone()) {
    auto shown = *site->engine.customer(cecilia);
    BOOST_TEST(shown.value(CustomerField::phone) == "050 222");
    BOOST_TEST(!shown.hasOpenConflicts());
  }
  BOOST_TEST(conflictsListedEverywhere().empty());
}

BOOST_FIXTURE_TEST_CASE(an_edit_concurrent_with_a_delete_is_a_conflict_not_a_resurrection,
                        Deployment) {
  const RecordId david = created(a, "David", {set(CustomerField::phone, "040 100")});
  syncEveryone();
  goOffline(b);
  BOOST_REQUIRE(a.engine.remove(david, "clerk").isOk());
  comeOnline(a);                                                       // the hub holds the delete
  const Head atB = edited(b, david, CustomerField::phone, "050 222");  // B had not seen it
  syncEveryone();

  for (Site* site : everyone()) {
    BOOST_TEST((site->engine.customer(david)->lifecycle == Lifecycle::kDeleted));
    BOOST_TEST(site->engine.status().customers == 0u);
  }
  auto open = conflictsListedEverywhere();
  BOOST_TEST_REQUIRE(open.size() == 1u);
  BOOST_TEST((open.front().kind == sync::ConflictKind::kDelete));
  BOOST_TEST((open.front().customer == david));
  BOOST_TEST(open.front().winner.version.origin == a.engine.meta().siteId);  // the delete stands
  BOOST_TEST((open.front().loser == atB));  // and the edit is kept beside it

  // An admin at the hub restores the customer: it comes back everywhere, with B's edit.
  BOOST_REQUIRE(hub.engine.restore(david, "admin").isOk());
  BOOST_REQUIRE(eventually([&] { return sameState(hub, a) && sameState(hub, b); }));
  for (Site* site : everyone()) {
    auto back = *site->engine.customer(david);
    BOOST_TEST(back.isLive());
    BOOST_TEST(back.value(CustomerField::phone) == "050 222");
  }
  BOOST_TEST(conflictsListedEverywhere().empty());
}

BOOST_FIXTURE_TEST_CASE(two_branches_typing_number_5000_offline_for_two_people, Deployment) {
  a.clock.set(kTestEpochMillis + 1 * kMinute);
  b.clock.set(kTestEpochMillis + 2 * kMinute);
  const RecordId erik = created(a, "Erik", {set(CustomerField::number, "5000")});
  const RecordId frida = created(b, "Frida", {set(CustomerField::number, "5000")});
  // The later claim reaches the hub first, so the hub has to take 5000 from a customer it
  // already holds when the earlier claim arrives.
  BOOST_TEST((b.engine.customer(frida)->created > a.engine.customer(erik)->created));
  comeOnline(b);
  comeOnline(a);
  // The hub renumbers in a transaction of its own after the one that brought the second claim:
  // all three can hold the same state for a moment before it.
  BOOST_REQUIRE(eventually([&] {
    return hub.engine.customer(frida)->value(CustomerField::number) != "5000" &&
           sameState(hub, a) && sameState(hub, b);
  }));

  for (Site* site : everyone()) {
    BOOST_TEST_CONTEXT(site->engine.meta().siteName) {
      std::set<std::string> numbers;
      for (const Customer& c : site->engine.list(true))
        BOOST_TEST(numbers.insert(c.value(CustomerField::number)).second,
                   "number " + c.value(CustomerField::number) + " held twice");
      BOOST_TEST(site->engine.customer(erik)->value(CustomerField::number) == "5000");
      const Customer renumbered = *site->engine.customer(frida);
      BOOST_TEST(!renumbered.value(CustomerField::number).empty());
      BOOST_TEST(renumbered.value(CustomerField::number) != "5000");
      BOOST_TEST(site->engine.flags(renumbered).empty());
      auto history = site->engine.history(frida);
      BOOST_TEST(std::any_of(history.begin(), history.end(), [&](const HistoryEntry& e) {
        return e.site == hub.engine.meta().siteId &&
               e.note.find("duplicate number 5000") != std::string::npos;
      }));
    }
  }
  BOOST_TEST(conflictsListedEverywhere().empty());
}

BOOST_FIXTURE_TEST_CASE(an_erase_reaches_every_node_and_later_edits_are_dropped, Deployment) {
  const RecordId gustav = created(
      a, "Gustav Forgotten",
      {set(CustomerField::phone, "040 100"), set(CustomerField::email, "gustav@example.com")});
  syncEveryone();
  goOffline(b);
  BOOST_REQUIRE(a.engine.erase(gustav, "dpo").isOk());
  comeOnline(a);                                           // the hub holds the erasure
  edited(b, gustav, CustomerField::phone, "050 999 999");  // made before B saw it
  syncEveryone();

  for (Site* site : everyone()) {
    BOOST_TEST_CONTEXT(site->engine.meta().siteName) {
      const Customer erased = *site->engine.customer(gustav);
      BOOST_TEST((erased.lifecycle == Lifecycle::kErased));
      BOOST_TEST(erased.value(CustomerField::name).empty());
      for (const FieldValue& f : erased.fields) BOOST_TEST(f.value.empty());
      for (const HistoryEntry& e : site->engine.history(gustav)) BOOST_TEST(e.changes.empty());
      // The stored log payloads keep ids and versions only (and who erased).
      const auto log = site->engine.changesMissingFrom(
          {}, site->engine.firstPositionMissingFrom({}), 1000, size_t(1) << 24);
      size_t logged = 0;  // the create, the erasure and B's edit, on every node
      for (const std::string& bytes : log.changes) {
        const Change change = decodeChange(bytes);
        if (change.target != gustav) continue;
        ++logged;
        if (change.operation != Operation::kErase) BOOST_TEST(change.author.empty());
        for (const FieldWrite& w : change.writes) BOOST_TEST(w.value.empty());
      }
      BOOST_TEST(logged == 3u);
      BOOST_TEST(!site->engine.update(gustav, {set(CustomerField::phone, "1")}, "x").isOk());
    }
  }
  // The hub and A held the erasure when B's edit arrived: dropped there, and counted.
  BOOST_TEST(hub.engine.meta().droppedForErased == 1u);
  BOOST_TEST(a.engine.meta().droppedForErased == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
