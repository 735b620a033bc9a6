// Replication over real ZeroMQ sockets on 127.0.0.1: sessions converge in both directions, a hub
// relays, and bad peers get typed errors while the server keeps serving.
#include <boost/test/unit_test.hpp>
#include <thread>
#include <zmq.hpp>

#include "node/node.h"
#include "tests/unit/replication_fixture.h"

using namespace sitesync;

namespace {
using Node = sitesync::testing::Site;
using sitesync::testing::Serving;
node::SyncOptions quick() {
  return sitesync::testing::quickSession();
}
}  // namespace

BOOST_AUTO_TEST_SUITE(replication)

BOOST_AUTO_TEST_CASE(two_sites_converge_over_zeromq_in_both_directions) {
  Node branch(0xb1, "branch"), hub(0x4b, "hub");
  for (int i = 0; i < 20; ++i) branch.add("Branch customer " + std::to_string(i));
  for (int i = 0; i < 15; ++i) hub.add("Hub customer " + std::to_string(i));
  Serving serving(hub);
  auto report = node::syncWith(branch.engine, serving.endpoint(), quick());
  BOOST_TEST(report.sent == 20u);
  BOOST_TEST(report.received == 15u);
  BOOST_TEST(report.peerName == "hub");
  BOOST_TEST(branch.engine.digestHex() == hub.engine.digestHex());
  BOOST_TEST((branch.engine.status().vector == hub.engine.status().vector));
  auto again = node::syncWith(branch.engine, serving.endpoint(), quick());
  BOOST_TEST(again.sent + again.received == 0u);  // nothing moves twice
}

BOOST_AUTO_TEST_CASE(a_hub_relays_changes_from_one_branch_to_another) {
  Node a(0xa1, "branch-a"), b(0xb2, "branch-b"), hub(0x4b, "hub");
  RecordId anna = a.add("Anna");
  Serving serving(hub);
  node::syncWith(a.engine, serving.endpoint(), quick());
  node::syncWith(b.engine, serving.endpoint(), quick());
  BOOST_TEST(b.engine.customer(anna).has_value());
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(a_large_batch_acknowledged_before_the_hub_wrote_it_reaches_the_next_branch) {
  Node a(0xa1, "branch-a"), b(0xb2, "branch-b"), hub(0x4b, "hub");
  for (int i = 0; i < 600; ++i) a.add("Customer " + std::to_string(i));
  Serving serving(hub);
  auto large = quick();
  large.batchChanges = 1000;  // staged in the hub's inbox, acknowledged, then written
  BOOST_TEST(node::syncWith(a.engine, serving.endpoint(), large).sent == 600u);
  // At once: a pull that lacks the staged changes waits for their write.
  BOOST_TEST(node::syncWith(b.engine, serving.endpoint(), quick()).received >= 600u);
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
  BOOST_TEST(hub.engine.inboxState().waiting == 0u);
}

BOOST_AUTO_TEST_CASE(a_session_with_nobody_listening_fails_after_its_timeout) {
  Node a(0xa1, "branch-a");
  node::SyncOptions o;
  o.timeout = std::chrono::milliseconds(300);
  BOOST_CHECK_THROW(node::syncWith(a.engine, "tcp://127.0.0.1:9", o), node::SyncError);
}

BOOST_AUTO_TEST_CASE(garbage_and_wrong_versions_get_typed_errors_and_the_server_keeps_serving) {
  Node hub(0x4b, "hub"), a(0xa1, "branch-a");
  hub.add("Hub customer");
  const auto digest = hub.engine.digestHex();
  Serving serving(hub);
  zmq::context_t context;
  zmq::socket_t peer(context, zmq::socket_type::dealer);
  peer.set(zmq::sockopt::linger, 0);
  peer.connect(serving.endpoint());
  auto ask = [&](const std::string& bytes) {
    peer.send(zmq::buffer(bytes), zmq::send_flags::none);
    zmq::message_t reply;
    BOOST_REQUIRE(peer.recv(reply, zmq::recv_flags::none));
    return decodeWireMessage(reply.to_string_view());
  };
  auto garbage = ask(std::string("\x07\x00garbage!", 10));
  BOOST_TEST_REQUIRE(std::holds_alternative<ErrorMsg>(garbage));
  BOOST_TEST(int(std::get<ErrorMsg>(garbage).code) == int(WireError::kMalformed));

  std::string wrongVersion;
  encode(WireMessage{HelloMsg{kProtocolVersion + 1, 0xa1, "future", false, {}}}, wrongVersion);
  auto refused = ask(wrongVersion);
  BOOST_TEST_REQUIRE(std::holds_alternative<ErrorMsg>(refused));
  BOOST_TEST(int(std::get<ErrorMsg>(refused).code) == int(WireError::kVersionMismatch));
  BOOST_TEST(std::get<ErrorMsg>(refused).message.find(
                 "speaks " + std::to_string(kProtocolVersion)) != std::string::npos);

  std::string forged;  // a batch whose change skips ahead of its origin's sequence
  Node other(0xc3, "other");
  other.add("One");
  other.add("Two");
  auto changes = other.engine.changesMissingFrom(VersionVector{}, 1, 10, 1 << 20).changes;
  encode(WireMessage{ChangeBatchMsg{{changes[1]}, true}}, forged);
  auto noSession = ask(forged);  // before any hello on this connection
  BOOST_TEST_REQUIRE(std::holds_alternative<ErrorMsg>(noSession));
  BOOST_TEST(int(std::get<ErrorMsg>(noSession).code) == int(WireError::kNoSession));
  std::string hello;
  encode(WireMessage{HelloMsg{kProtocolVersion, 0xc3, "other", false, {}}}, hello);
  BOOST_TEST_REQUIRE(std::holds_alternative<HelloMsg>(ask(hello)));
  auto cannot = ask(forged);
  BOOST_TEST_REQUIRE(std::holds_alternative<ErrorMsg>(cannot));
  BOOST_TEST(int(std::get<ErrorMsg>(cannot).code) == int(WireError::kCannotApply));
  BOOST_TEST(hub.engine.digestHex() == digest);  // nothing written from any of it

  auto report = node::syncWith(a.engine, serving.endpoint(), quick());  // still serving
  BOOST_TEST(report.received == 1u);
}

BOOST_AUTO_TEST_CASE(both_sides_remember_the_peer_its_vector_and_last_contact) {
  Node branch(0xb1, "branch"), hub(0x4b, "hub");
  branch.add("Anna");
  branch.clock.set(sitesync::testing::kTestEpochMillis + 5000);
  Serving serving(hub);
  node::syncWith(branch.engine, serving.endpoint(), quick());
  auto known = branch.engine.peers();
  BOOST_TEST_REQUIRE(known.size() == 1u);
  BOOST_TEST(known[0].name == "hub");
  BOOST_TEST(known[0].endpoint == serving.endpoint());
  BOOST_TEST(known[0].sent == 1u);
  BOOST_TEST(known[0].lastContactMillis == sitesync::testing::kTestEpochMillis + 5000);
  BOOST_TEST((known[0].vector == branch.engine.status().vector));
  auto seen = hub.engine.peers();
  BOOST_TEST_REQUIRE(seen.size() == 1u);
  BOOST_TEST(seen[0].name == "branch");
  BOOST_TEST(seen[0].endpoint.empty());  // it connected to the hub
}

BOOST_AUTO_TEST_SUITE_END()
