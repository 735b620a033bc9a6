// Hostile input (DESIGN.md section 7): each class of bad message is answered with the right
// typed error, nothing of it is written, abuse gets a connection ignored, and the node keeps
// serving a good peer throughout. Crafted with Cap'n Proto's own builder where the project's
// encoders would refuse to produce the bytes.
#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <kj/io.h>
#include <zstd.h>

#include <boost/test/unit_test.hpp>
#include <zmq.hpp>

#include "register.capnp.h"
#include "tests/unit/replication_fixture.h"
#include "wire.capnp.h"

using namespace sitesync;
using namespace sitesync::testing;

namespace {

std::string packed(capnp::MessageBuilder& message) {
  kj::VectorOutputStream out;
  capnp::writePackedMessage(out, message);
  auto bytes = out.getArray();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

const SiteId kMallory = testSiteId(0xe1);

// A change as a hostile peer could write it: valid but for what `spoil` does to it, and signed
// by its origin's key (as a run of its own) when it decodes, so that what the node refuses is
// the spoiled part, not a missing signature.
template <typename Spoil>
std::string craftedChange(Spoil spoil) {
  capnp::MallocMessageBuilder message;
  auto c = message.initRoot<schema::Change>();
  c.setOrigin(kMallory);
  c.setSeq(1);
  c.setHlc(Hlc::from(kTestEpochMillis, 0).packed);
  c.setOperation(schema::Operation::CREATE);
  c.initTarget().setSite(kMallory);
  c.getTarget().setCounter(1);
  c.setAuthor("mallory");
  auto writes = c.initWrites(1);
  writes[0].setField(uint16_t(CustomerField::name));
  writes[0].setValue("Mallory");
  spoil(c);
  try {
    Change change = decodeChange(packed(message));
    if (change.signature.empty() && change.id.origin == kMallory) {
      signAlone(change);
      c.setSignature(capnp::Data::Reader(
          reinterpret_cast<const capnp::byte*>(change.signature.data()), change.signature.size()));
    }
  } catch (const DecodeError&) {
    // Undecodable: sent as it is.
  }
  return packed(message);
}

// A peer that speaks raw frames to a node: hello first, then whatever the test sends.
struct RawPeer {
  zmq::context_t context;
  zmq::socket_t socket{context, zmq::socket_type::dealer};
  explicit RawPeer(const std::string& endpoint) {
    socket.set(zmq::sockopt::linger, 0);
    socket.connect(endpoint);
  }
  // The node's answer, or nothing within the timeout. Heartbeats are skipped: the node sends
  // them on its own clock, so one may come before the answer when the machine is busy.
  std::optional<WireMessage> ask(const std::string& bytes,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
    socket.send(zmq::buffer(bytes), zmq::send_flags::none);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, left);
      if (!(items[0].revents & ZMQ_POLLIN)) return std::nullopt;
      zmq::message_t reply;
      (void)socket.recv(reply, zmq::recv_flags::none);
      auto answer = decodeWireMessage(reply.to_string_view());
      if (!std::holds_alternative<HeartbeatMsg>(answer)) return answer;
    }
  }
  void hello(SiteId id) {
    std::string bytes;
    encode(WireMessage{HelloMsg{kProtocolVersion, id, "raw peer", false, {}}}, bytes);
    auto answer = ask(bytes);
    BOOST_REQUIRE(answer && std::holds_alternative<HelloMsg>(*answer));
  }
  std::optional<WireError> errorFor(const std::string& bytes) {
    auto answer = ask(bytes);
    BOOST_REQUIRE_MESSAGE(answer, "no answer");
    if (auto* e = std::get_if<ErrorMsg>(&*answer)) return e->code;
    return std::nullopt;
  }
  std::optional<WireError> errorForBatch(const std::vector<std::string>& changes) {
    std::string bytes;
    encode(WireMessage{ChangeBatchMsg{changes, true}}, bytes);
    return errorFor(bytes);
  }
};

struct HostileFixture {
  Site hub{0x4b, "hub"};
  Site good{0x90, "good branch"};
  std::string digest;
  std::unique_ptr<Serving> serving;
  HostileFixture() {
    hub.add("Hub customer");
    digest = hub.engine.digestHex();
    serving = std::make_unique<Serving>(hub);
  }
  // The node wrote nothing, and still serves a good peer.
  void stillServingAndUnharmed() {
    BOOST_TEST(hub.engine.digestHex() == digest);
    good.add("Good customer " + std::to_string(good.engine.status().customers));
    auto report = node::syncWith(good.engine, serving->endpoint(), quickSession());
    BOOST_TEST(report.sent >= 1u);
    digest = hub.engine.digestHex();
  }
};

bool is(std::optional<WireError> got, WireError want) {
  return got && *got == want;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(security, HostileFixture)

BOOST_AUTO_TEST_CASE(garbage_and_truncated_frames_are_malformed) {
  RawPeer peer(serving->endpoint());
  BOOST_TEST(
      is(peer.errorFor(std::string("\x13\x37 not capnp at all", 19)), WireError::kMalformed));
  std::string hello;
  encode(WireMessage{HelloMsg{kProtocolVersion, kMallory, "truncated", false, {}}}, hello);
  BOOST_TEST(is(peer.errorFor(hello.substr(0, hello.size() / 2)), WireError::kMalformed));
  stillServingAndUnharmed();
}

BOOST_AUTO_TEST_CASE(a_message_that_unpacks_beyond_the_size_limit_is_malformed) {
  RawPeer peer(serving->endpoint());
  // Packed: a segment table announcing 9,000,000 words (72 MB), then runs of zero words (each
  // pair of bytes stands for 256 of them): 70 KB on the wire.
  std::string bomb("\x70\x40\x54\x89", 4);
  for (int i = 0; i < 9'000'000 / 256 + 1; ++i) bomb += std::string("\x00\xff", 2);
  BOOST_TEST(is(peer.errorFor(bomb), WireError::kMalformed));
  stillServingAndUnharmed();
}

BOOST_AUTO_TEST_CASE(a_change_with_an_unknown_operation_is_malformed) {
  RawPeer peer(serving->endpoint());
  peer.hello(kMallory);
  auto bad = craftedChange([](auto c) { c.setOperation(static_cast<schema::Operation>(99)); });
  BOOST_TEST(is(peer.errorForBatch({bad}), WireError::kMalformed));
  stillServingAndUnharmed();
}

BOOST_AUTO_TEST_CASE(a_change_with_invalid_utf8_or_a_bad_value_is_malformed) {
  RawPeer peer(serving->endpoint());
  peer.hello(kMallory);
  auto utf8 = craftedChange([](auto c) { c.getWrites()[0].setValue("Mall\xff\xfery"); });
  BOOST_TEST(is(peer.errorForBatch({utf8}), WireError::kMalformed));
  auto email = craftedChange([](auto c) {
    c.getWrites()[0].setField(uint16_t(CustomerField::email));
    c.getWrites()[0].setValue("not an address");
  });
  BOOST_TEST(is(peer.errorForBatch({email}), WireError::kMalformed));
  auto field = craftedChange([](auto c) { c.getWrites()[0].setField(999); });
  BOOST_TEST(is(peer.errorForBatch({field}), WireError::kMalformed));
  auto user = craftedChange([](auto c) {  // a user whose token hash is no hash
    c.setOperation(schema::Operation::SETTINGS);
    c.getWrites()[0].setField(kSettingsUserCode);
    c.getWrites()[0].setKey("mallory");
    c.getWrites()[0].setValue("admin secret");
  });
  BOOST_TEST(is(peer.errorForBatch({user}), WireError::kMalformed));
  auto seq = craftedChange([](auto c) { c.setSeq(0); });
  BOOST_TEST(is(peer.errorForBatch({seq}), WireError::kMalformed));
  stillServingAndUnharmed();
}

BOOST_AUTO_TEST_CASE(a_change_altered_after_signing_or_signed_by_another_key_is_malformed) {
  RawPeer peer(serving->endpoint());
  peer.hello(kMallory);
  // Signed, then one byte of its value changed on the way.
  Change change = decodeChange(craftedChange([](auto) {}));
  change.writes[0].value[0] = 'W';
  std::string altered;
  encode(change, altered);
  BOOST_TEST(is(peer.errorForBatch({altered}), WireError::kMalformed));
  // Signed by Mallory's key but claiming the good branch's origin.
  auto claimed = craftedChange([&](auto c) {
    c.setOrigin(good.id());
    c.getTarget().setSite(good.id());
  });
  Change impostor = decodeChange(claimed);
  impostor.id.origin = kMallory;  // sign as Mallory ...
  impostor.target.site = kMallory;
  signAlone(impostor);
  impostor.id.origin = good.id();  // ... and send it as the good branch's
  impostor.target.site = good.id();
  std::string bytes;
  encode(impostor, bytes);
  BOOST_TEST(is(peer.errorForBatch({bytes}), WireError::kMalformed));
  // An unsigned change is not applied (it waits for a checkpoint that never comes).
  Change unsigned_ = decodeChange(craftedChange([](auto) {}));
  unsigned_.signature.clear();
  encode(unsigned_, bytes);
  BOOST_TEST(!peer.errorForBatch({bytes}).has_value());
  stillServingAndUnharmed();
}

BOOST_AUTO_TEST_CASE(a_compressed_batch_that_expands_past_the_limit_is_malformed) {
  RawPeer peer(serving->endpoint());
  peer.hello(kMallory);
  // 65 MiB of zeros in a zstd frame of a few kilobytes: refused from the frame's header.
  const std::string zeros(size_t(65) << 20, '\0');
  std::string frame(ZSTD_compressBound(zeros.size()), '\0');
  frame.resize(ZSTD_compress(frame.data(), frame.size(), zeros.data(), zeros.size(), 1));
  capnp::MallocMessageBuilder message;
  message.initRoot<schema::Message>().initChanges().setCompressed(
      capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(frame.data()), frame.size()));
  BOOST_TEST(is(peer.errorFor(packed(message)), WireError::kMalformed));
  stillServingAndUnharmed();
}

BOOST_AUTO_TEST_CASE(a_seq_gap_cannot_apply_and_a_replayed_batch_changes_nothing) {
  RawPeer peer(serving->endpoint());
  peer.hello(kMallory);
  auto second = craftedChange([](auto c) { c.setSeq(2); });
  BOOST_TEST(is(peer.errorForBatch({second}), WireError::kCannotApply));
  BOOST_TEST(hub.engine.digestHex() == digest);
  auto first = craftedChange([](auto) {});
  BOOST_TEST(!peer.errorForBatch({first}).has_value());  // acknowledged: a valid change
  const std::string once = hub.engine.digestHex();
  BOOST_TEST(once != digest);
  BOOST_TEST(!peer.errorForBatch({first}).has_value());  // the same batch again: harmless
  BOOST_TEST(hub.engine.digestHex() == once);
  digest = once;
  stillServingAndUnharmed();
}

BOOST_AUTO_TEST_CASE(a_connection_that_keeps_sending_malformed_messages_is_ignored) {
  RawPeer abuser(serving->endpoint());
  const uint64_t before = serving->malformedMessages();
  for (int i = 0; i < 5; ++i) BOOST_TEST(abuser.errorFor("garbage").has_value());
  BOOST_TEST(serving->malformedMessages() == before + 5);
  std::string hello;  // even a good message from it is ignored now
  encode(WireMessage{HelloMsg{kProtocolVersion, kMallory, "abuser", false, {}}}, hello);
  BOOST_TEST(!abuser.ask(hello, std::chrono::milliseconds(500)).has_value());
  stillServingAndUnharmed();
}

BOOST_AUTO_TEST_SUITE_END()
