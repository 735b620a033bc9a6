// Running nodes with streaming links over real ZeroMQ on 127.0.0.1 and real LMDB: star, chain
// and peer-to-peer topologies converge after offline edits everywhere; a link that drops comes
// back and catches up; snapshots bootstrap new nodes, resume, merge without loss, and rescue a
// peer that a compacted log can no longer serve.
#include <boost/test/unit_test.hpp>

#include <optional>

#include "tests/unit/replication_fixture.h"

using namespace sitesync;
using sitesync::testing::eventually;
using sitesync::testing::quickLinks;
using sitesync::testing::quickSession;
using sitesync::testing::Serving;
using sitesync::testing::Site;

namespace {

bool allEqual(const std::vector<Site*>& sites) {
  for (Site* s : sites)
    if (s->engine.digestHex() != sites[0]->engine.digestHex() ||
        !(s->engine.status().vector == sites[0]->engine.status().vector))
      return false;
  return true;
}

bool linksUp(const Serving& serving) {
  auto links = serving.links();
  return !links.empty() && std::all_of(links.begin(), links.end(), [](auto& l) { return l.up; });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(streaming)

BOOST_AUTO_TEST_CASE(a_star_of_a_hub_and_three_branches_converges_after_offline_edits_everywhere) {
  Site hub(0x4b, "hub", 0xd1), a(0xa1, "branch-a"), b(0xb2, "branch-b"), c(0xc3, "branch-c");
  std::vector<RecordId> ids;
  for (Site* s : {&hub, &a, &b, &c})
    for (int i = 0; i < 12; ++i)
      ids.push_back(s->add(s->engine.meta().siteName + " " + std::to_string(i)));
  a.edit(ids[12], CustomerField::phone, "+358 40 111");  // one of A's own, edited again
  Serving hubNode(hub);
  Serving nodeA(a, quickLinks({hubNode.endpoint()}));
  Serving nodeB(b, quickLinks({hubNode.endpoint()}));
  Serving nodeC(c, quickLinks({hubNode.endpoint()}));
  BOOST_TEST(eventually([&] { return allEqual({&hub, &a, &b, &c}); }));
  BOOST_TEST(hub.engine.status().customers == 48u);
  // Live: a write at one branch reaches the others through the hub while the links are up.
  RecordId live = a.add("Written live at A");
  BOOST_TEST(eventually([&] { return c.engine.customer(live).has_value(); }));
  BOOST_TEST(eventually([&] { return allEqual({&hub, &a, &b, &c}); }));
  // Every branch adopted the hub's deployment.
  BOOST_TEST(b.engine.meta().deployment == 0xd1u);
}

BOOST_AUTO_TEST_CASE(a_hub_passes_live_changes_on_before_writing_them_and_sends_none_twice) {
  Site hub(0x4b, "hub"), a(0xa1, "branch-a"), b(0xb2, "branch-b");
  Serving hubNode(hub);
  Serving nodeA(a, quickLinks({hubNode.endpoint()}));
  Serving nodeB(b, quickLinks({hubNode.endpoint()}));
  BOOST_TEST_REQUIRE(eventually([&] { return linksUp(nodeA) && linksUp(nodeB); }));
  BOOST_TEST_REQUIRE(eventually([&] { return allEqual({&hub, &a, &b}); }));
  auto linkTo = [](const Serving& serving, SiteId peer) {
    for (const auto& l : serving.links())
      if (l.peerId == peer) return l;
    return node::LinkState{};
  };
  const node::LinkState before = linkTo(hubNode, b.id());
  const uint64_t receivedBefore = linkTo(nodeB, hub.id()).received;
  RecordId last;
  for (int i = 0; i < 20; ++i) {  // one commit each, written while the links are up
    last = a.add("Live " + std::to_string(i));
    BOOST_TEST_REQUIRE(eventually([&] { return b.engine.customer(last).has_value(); }));
  }
  BOOST_TEST(eventually([&] { return allEqual({&hub, &a, &b}); }));
  BOOST_TEST(eventually([&] { return linkTo(hubNode, b.id()).inFlight == 0; }));
  const node::LinkState after = linkTo(hubNode, b.id());
  BOOST_TEST(after.relayedAhead > before.relayedAhead);
  // What the hub counts as sent to B is exactly what B applied from it: nothing went twice.
  BOOST_TEST(after.sent - before.sent == linkTo(nodeB, hub.id()).received - receivedBefore);
  BOOST_TEST(after.sent - before.sent >= 20u);
}

BOOST_AUTO_TEST_CASE(a_chain_hub_branch_laptop_relays_in_both_directions) {
  Site hub(0x4b, "hub"), branch(0xb1, "branch"), laptop(0x1a, "laptop");
  RecordId fromHub = hub.add("Hub customer");
  RecordId fromLaptop = laptop.add("Laptop customer");
  branch.add("Branch customer");
  Serving hubNode(hub);
  Serving branchNode(branch, quickLinks({hubNode.endpoint()}));
  Serving laptopNode(laptop, quickLinks({branchNode.endpoint()}));  // never talks to the hub
  BOOST_TEST(eventually([&] { return allEqual({&hub, &branch, &laptop}); }));
  BOOST_TEST(laptop.engine.customer(fromHub).has_value());
  BOOST_TEST(hub.engine.customer(fromLaptop).has_value());
  hub.edit(fromLaptop, CustomerField::email, "seen@hq.example");
  BOOST_TEST(eventually([&] {
    auto c = laptop.engine.customer(fromLaptop);
    return c && c->value(CustomerField::email) == "seen@hq.example";
  }));
}

BOOST_AUTO_TEST_CASE(two_branches_converge_peer_to_peer_without_a_hub) {
  Site a(0xa1, "branch-a"), b(0xb2, "branch-b");
  RecordId shared = a.add("Shared customer");
  a.add("Only at A");
  b.add("Only at B");
  {
    Serving nodeB(b);
    Serving nodeA(a, quickLinks({nodeB.endpoint()}));
    BOOST_TEST(eventually([&] { return allEqual({&a, &b}); }));
    // Different fields of one customer edited at both ends both survive.
    a.edit(shared, CustomerField::phone, "+358 40 1");
    b.edit(shared, CustomerField::email, "both@example.com");
    BOOST_TEST(eventually([&] { return allEqual({&a, &b}); }));
  }
  auto merged = b.engine.customer(shared);
  BOOST_TEST(merged->value(CustomerField::phone) == "+358 40 1");
  BOOST_TEST(merged->value(CustomerField::email) == "both@example.com");
  BOOST_TEST(b.engine.status().customers == 3u);
}

BOOST_AUTO_TEST_CASE(a_link_that_drops_reconnects_with_backoff_and_catches_up) {
  Site hub(0x4b, "hub"), branch(0xb1, "branch");
  branch.add("Before the outage");
  std::string endpoint;
  std::optional<Serving> hubNode;
  hubNode.emplace(hub);
  endpoint = hubNode->endpoint();
  Serving branchNode(branch, quickLinks({endpoint}));
  BOOST_TEST(eventually([&] { return allEqual({&hub, &branch}); }));
  hubNode.reset();  // the hub goes away: the branch's link times out
  BOOST_TEST(eventually([&] { return !linksUp(branchNode); }));
  RecordId offlineAtBranch = branch.add("Typed during the outage");
  RecordId offlineAtHub = hub.add("Typed at HQ meanwhile");
  hubNode.emplace(hub, quickLinks(), endpoint);  // back on the same port
  BOOST_TEST(eventually([&] { return allEqual({&hub, &branch}); }));
  BOOST_TEST(hub.engine.customer(offlineAtBranch).has_value());
  BOOST_TEST(branch.engine.customer(offlineAtHub).has_value());
  BOOST_TEST(linksUp(branchNode));
  // Nothing applied twice: each log holds every change exactly once.
  BOOST_TEST(hub.engine.status().logEntries == 3u);
  BOOST_TEST(branch.engine.status().logEntries == 3u);
}

BOOST_AUTO_TEST_CASE(a_new_node_bootstraps_from_a_snapshot_with_history_then_streams) {
  Site hub(0x4b, "hub", 0xd1), laptop(0x1a, "laptop");
  std::vector<RecordId> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(hub.add("Customer " + std::to_string(i)));
  hub.edit(ids[3], CustomerField::phone, "+358 40 3");
  hub.edit(ids[3], CustomerField::status, "deactivated");
  Serving hubNode(hub);
  auto report = node::bootstrapFrom(laptop.engine, hubNode.endpoint(), quickSession());
  BOOST_TEST(report.records == 40u);
  BOOST_TEST(allEqual({&hub, &laptop}));
  BOOST_TEST(laptop.engine.status().logEntries == 0u);  // state came whole, not replayed
  BOOST_TEST(laptop.engine.status().deactivated == 1u);
  BOOST_TEST(laptop.engine.history(ids[3]).size() == hub.engine.history(ids[3]).size());
  BOOST_TEST(laptop.engine.meta().deployment == 0xd1u);
  Serving laptopNode(laptop, quickLinks({hubNode.endpoint()}));
  RecordId later = hub.add("After the snapshot");
  BOOST_TEST(eventually([&] { return laptop.engine.customer(later).has_value(); }));
}

BOOST_AUTO_TEST_CASE(an_interrupted_snapshot_claims_nothing_and_resumes_where_it_stopped) {
  Site hub(0x4b, "hub"), laptop(0x1a, "laptop");
  for (int i = 0; i < 60; ++i) hub.add("Customer " + std::to_string(i));
  // The first chunk arrives, then the link breaks.
  laptop.engine.mergeSnapshotChunk(hub.engine.snapshotChunk("", 2000));
  BOOST_TEST(laptop.engine.meta().snapshotPending);
  BOOST_TEST(laptop.engine.status().vector.entries().empty());  // nothing claimed yet
  const uint64_t partial = laptop.engine.status().customers;
  BOOST_TEST(partial > 0u);
  BOOST_TEST(partial < 60u);
  Serving hubNode(hub);
  auto report = node::bootstrapFrom(laptop.engine, hubNode.endpoint(), quickSession());
  BOOST_TEST(report.records == 60u - partial);  // only the rest moved
  BOOST_TEST(!laptop.engine.meta().snapshotPending);
  BOOST_TEST(allEqual({&hub, &laptop}));
}

BOOST_AUTO_TEST_CASE(a_snapshot_merges_into_a_store_without_losing_its_own_changes) {
  Site hub(0x4b, "hub"), branch(0xb1, "branch");
  RecordId atHub = hub.add("At the hub");
  RecordId atBranch = branch.add("Typed offline at the branch");
  branch.engine.mergeSnapshotChunk(hub.engine.snapshotChunk("", 1 << 20));
  BOOST_TEST(branch.engine.customer(atHub).has_value());
  BOOST_TEST(branch.engine.customer(atBranch).has_value());
  BOOST_TEST(branch.engine.status().vector.get(branch.id()) == 1u);  // its own change still counted
  BOOST_TEST(branch.engine.status().vector.get(hub.id()) == 1u);
}

BOOST_AUTO_TEST_CASE(
    a_peer_too_far_behind_a_compacted_log_sends_its_changes_then_takes_a_snapshot) {
  Site hub(0x4b, "hub"), a(0xa1, "branch-a"), late(0x1a, "late-laptop");
  for (int i = 0; i < 30; ++i) a.add("From A " + std::to_string(i));
  RecordId offline = late.add("Typed offline on the late laptop");
  Serving hubNode(hub);
  node::syncWith(a.engine, hubNode.endpoint(), quickSession());  // A is the hub's only peer
  // Every registered peer holds them; the last stays, so that log positions never start over.
  BOOST_TEST(hub.engine.compactLog() == 29u);
  BOOST_TEST(!hub.engine.logReaches(late.engine.status().vector));
  Serving lateNode(late, quickLinks({hubNode.endpoint()}));
  BOOST_TEST(eventually([&] { return allEqual({&hub, &late}); }));
  BOOST_TEST(hub.engine.customer(offline).has_value());  // its offline work was not discarded
  BOOST_TEST(late.engine.status().customers == 31u);
}

BOOST_AUTO_TEST_CASE(compaction_keeps_what_a_registered_peer_still_lacks) {
  Site hub(0x4b, "hub"), a(0xa1, "branch-a");
  Serving hubNode(hub);
  a.add("First");
  node::syncWith(a.engine, hubNode.endpoint(), quickSession());
  hub.add("Made at the hub after A's last session");
  BOOST_TEST(hub.engine.compactLog() == 1u);  // A's change: A holds it
  BOOST_TEST(hub.engine.logReaches(a.engine.status().vector));
  auto report = node::syncWith(a.engine, hubNode.endpoint(), quickSession());
  BOOST_TEST(report.received == 1u);
  BOOST_TEST(allEqual({&hub, &a}));
}

BOOST_AUTO_TEST_SUITE_END()
