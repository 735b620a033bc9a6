// sync::PeerSession on its own: two sessions joined by an in-memory wire (each message encoded
// and decoded as on a socket), with the time handed in. The randomized simulation drives the
// same class under loss, duplication, reordering and restarts; these cases pin its rules down.
#include <boost/test/unit_test.hpp>

#include <deque>

#include "sync/peer_session.h"
#include "tests/unit/sync_fixture.h"

using sitesync::sync::PeerSession;
using sitesync::sync::SessionLink;
using sitesync::sync::SessionOptions;
using sitesync::sync::SessionTime;

namespace {

const SiteId kHub = sitesync::testing::testSiteId(0x4b);
const SiteId kBranch = sitesync::testing::testSiteId(0xb1);

template <typename T>
size_t countOf(const PeerSession::Messages& messages) {
  size_t n = 0;
  for (const auto& m : messages) n += std::holds_alternative<T>(m);
  return n;
}

// A branch connected to its hub: the branch's session initiates, the hub's responds.
struct Connection {
  Member hub{kHub, kHub};
  Member branch{kBranch, kHub};
  SessionTime now{0};
  std::unique_ptr<PeerSession> atBranch, atHub;
  std::deque<WireMessage> toHub, toBranch;

  void open(SessionOptions branchSide = {}, SessionOptions hubSide = {}) {
    atBranch =
        std::make_unique<PeerSession>(branch.engine, SessionLink{true, "mem://hub"}, branchSide);
    atHub = std::make_unique<PeerSession>(hub.engine, SessionLink{false}, hubSide);
    post(toHub, atBranch->start(now));
  }
  static void post(std::deque<WireMessage>& queue, const PeerSession::Messages& messages) {
    for (const auto& m : messages) queue.push_back(overTheWire(m));
  }
  // Delivers every message in flight both ways, then lets both sessions act; until quiet.
  void exchange(int rounds = 100) {
    for (int i = 0; i < rounds && (!toHub.empty() || !toBranch.empty() || i < 2); ++i) {
      while (!toHub.empty()) {
        post(toBranch, atHub->onMessage(toHub.front(), now));
        toHub.pop_front();
      }
      while (!toBranch.empty()) {
        post(toHub, atBranch->onMessage(toBranch.front(), now));
        toBranch.pop_front();
      }
      post(toHub, atBranch->onTick(now));
      post(toBranch, atHub->onTick(now));
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(session)

BOOST_AUTO_TEST_CASE(a_session_streams_both_ways_until_both_sides_hold_the_same_changes) {
  Connection c;
  c.hub.add("At the hub");
  for (int i = 0; i < 3; ++i) c.branch.add("At the branch " + std::to_string(i));
  c.open();
  c.exchange();
  BOOST_TEST(c.atBranch->up());
  BOOST_TEST(c.atBranch->inSync());
  BOOST_TEST(c.branch.engine.digestHex() == c.hub.engine.digestHex());
  BOOST_TEST(c.atBranch->counters().peerName == "hub");
  // Its three creates, and the numbers it gave them once the hub had leased it blocks.
  BOOST_TEST(c.atBranch->counters().sent == c.branch.engine.status().vector.get(kBranch));
}

BOOST_AUTO_TEST_CASE(a_sender_keeps_no_more_batches_unacknowledged_than_the_peer_granted) {
  Connection c;
  for (int i = 0; i < 20; ++i) c.branch.add("Customer " + std::to_string(i));
  SessionOptions small;
  small.batchChanges = 2;
  SessionOptions hubGrants;
  hubGrants.credit = 3;
  c.open(small, hubGrants);
  c.post(c.toBranch, c.atHub->onMessage(c.toHub.front(), c.now));  // the hello
  c.toHub.clear();
  c.post(c.toHub, c.atBranch->onMessage(c.toBranch.front(), c.now));
  c.toBranch.clear();
  const auto sent = c.atBranch->onTick(c.now);
  BOOST_TEST(countOf<ChangeBatchMsg>(sent) == 3u);
  BOOST_TEST(countOf<ChangeBatchMsg>(c.atBranch->onTick(c.now)) == 0u);  // no credit left
  const auto acked = c.atHub->onMessage(overTheWire(sent[0]), c.now);
  BOOST_TEST_REQUIRE(countOf<AckMsg>(acked) == 1u);
  (void)c.atBranch->onMessage(overTheWire(acked[0]), c.now);
  BOOST_TEST(countOf<ChangeBatchMsg>(c.atBranch->onTick(c.now)) == 1u);  // one credit back
}

// A hub acks every batch of every site: its ack names the batch's origins and its own entry,
// not its whole vector (an entry per site). Heartbeats carry the whole vector.
BOOST_AUTO_TEST_CASE(an_ack_names_the_batch_origins_and_the_acker_not_its_whole_vector) {
  Connection c;
  const SiteId kElsewhere = sitesync::testing::testSiteId(0xe1);
  Member elsewhere{kElsewhere, kHub};
  elsewhere.add("At another branch");
  ship(elsewhere.engine, c.hub.engine);
  c.hub.add("At the hub");
  c.open();
  c.exchange();
  c.branch.add("Made at the branch later");
  const auto sent = c.atBranch->onTick(c.now);
  BOOST_TEST_REQUIRE(countOf<ChangeBatchMsg>(sent) == 1u);
  const auto answered = c.atHub->onMessage(overTheWire(sent[0]), c.now);
  BOOST_TEST_REQUIRE(countOf<AckMsg>(answered) == 1u);
  const AckMsg& ack = std::get<AckMsg>(answered[0]);
  const VersionVector atHub = c.hub.engine.status().vector;
  BOOST_TEST(ack.vector.get(kBranch) == atHub.get(kBranch));
  BOOST_TEST(ack.vector.get(kHub) == atHub.get(kHub));
  BOOST_TEST(atHub.get(kElsewhere) > 0u);
  BOOST_TEST(ack.vector.entries().count(kElsewhere) == 0u);
  // The branch completes the batch from it, and the session still ends in sync.
  (void)c.atBranch->onMessage(overTheWire(answered[0]), c.now);
  BOOST_TEST(c.atBranch->inFlight() == 0u);
  c.exchange();
  BOOST_TEST(c.atBranch->inSync());
  BOOST_TEST(c.branch.engine.digestHex() == c.hub.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(a_batch_lost_on_the_way_ends_the_session_once_its_ack_is_overdue) {
  Connection c;
  c.branch.add("Lost on the way");
  c.open();
  c.post(c.toBranch, c.atHub->onMessage(c.toHub.front(), c.now));
  c.toHub.clear();
  c.post(c.toHub, c.atBranch->onMessage(c.toBranch.front(), c.now));
  BOOST_TEST_REQUIRE(countOf<ChangeBatchMsg>(c.atBranch->onTick(c.now)) == 1u);  // dropped
  c.now += SessionOptions{}.deadAfter + SessionTime(1);
  (void)c.atHub->onTick(c.now);
  (void)c.atBranch->onMessage(HeartbeatMsg{c.hub.engine.heldVector()}, c.now);
  (void)c.atBranch->onTick(c.now);
  BOOST_TEST(c.atBranch->ended());
  BOOST_TEST(c.atBranch->endReason().find("not acknowledged") != std::string::npos);
  BOOST_TEST(!c.hub.engine.customer(c.branch.engine.list(true).at(0).id).has_value());
}

BOOST_AUTO_TEST_CASE(a_heartbeat_showing_the_peer_lacks_what_it_acknowledged_streams_it_again) {
  Connection c;
  c.branch.add("Sent twice");
  c.open();
  c.exchange();
  BOOST_TEST_REQUIRE(c.atBranch->inSync());
  // The hub says it holds nothing of the branch's (it lost them in a restore, say).
  const auto again = c.atBranch->onMessage(HeartbeatMsg{VersionVector{}}, c.now);
  BOOST_TEST(countOf<ChangeBatchMsg>(again) + countOf<ChangeBatchMsg>(c.atBranch->onTick(c.now)) ==
             1u);
}

BOOST_AUTO_TEST_CASE(a_hello_in_another_protocol_version_is_refused_and_ends_the_session) {
  Connection c;
  c.open();
  HelloMsg future = std::get<HelloMsg>(c.toHub.front());
  future.protocolVersion = kProtocolVersion + 1;
  const auto answer = c.atHub->onMessage(future, c.now);
  BOOST_TEST_REQUIRE(countOf<ErrorMsg>(answer) == 1u);
  BOOST_TEST(int(std::get<ErrorMsg>(answer[0]).code) == int(WireError::kVersionMismatch));
  BOOST_TEST(c.atHub->ended());
  (void)c.atBranch->onMessage(answer[0], c.now);
  BOOST_TEST(c.atBranch->ended());
  BOOST_TEST(int(c.atBranch->refusal().value()) == int(WireError::kVersionMismatch));
}

BOOST_AUTO_TEST_CASE(a_session_that_grants_no_credit_pushes_and_receives_nothing) {
  Connection c;
  c.hub.add("Stays at the hub");
  c.branch.add("Pushed");
  SessionOptions pushOnly;
  pushOnly.credit = 0;
  c.open(pushOnly);
  c.exchange();
  BOOST_TEST(c.atBranch->inSync());
  BOOST_TEST(c.atBranch->counters().received == 0u);
  BOOST_TEST(c.hub.engine.list(true).size() == 2u);
  BOOST_TEST(c.branch.engine.list(true).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_silent_peer_ends_the_session_after_dead_after) {
  Connection c;
  c.open();
  c.exchange();
  c.now += SessionOptions{}.deadAfter + SessionTime(1);
  (void)c.atHub->onTick(c.now);
  BOOST_TEST(c.atHub->ended());
  BOOST_TEST(c.atHub->endReason().find("silent") != std::string::npos);
}

// The hub's allow list learns the branch's site, then revokes it.
void revokeBranchAtHub(Connection& c) {
  const AllowedPeer laptop{"laptop", std::string(40, 'k'), "", 0, kBranch};
  BOOST_REQUIRE(c.hub.engine.allowPeer(laptop).isOk());
  BOOST_REQUIRE(c.hub.engine.revokePeer("laptop").value() == kBranch);
}

BOOST_AUTO_TEST_CASE(a_revoked_site_is_refused_at_its_hello) {
  Connection c;
  revokeBranchAtHub(c);
  c.open();
  c.exchange();
  BOOST_TEST(c.atHub->ended());
  BOOST_TEST(c.atBranch->ended());
  BOOST_TEST(int(c.atBranch->refusal().value()) == int(WireError::kNotAllowed));
  BOOST_TEST(c.atBranch->endReason().find("was revoked here") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_session_up_when_its_peer_is_revoked_ends_at_the_next_message) {
  Connection c;
  c.open();
  c.exchange();
  BOOST_TEST_REQUIRE(c.atHub->up());
  revokeBranchAtHub(c);
  c.branch.add("Made after the revocation");
  const std::string before = c.hub.engine.digestHex();
  c.exchange();
  BOOST_TEST(c.atHub->ended());
  BOOST_TEST(c.atBranch->ended());
  BOOST_TEST(c.hub.engine.digestHex() == before);
}

BOOST_AUTO_TEST_SUITE_END()
