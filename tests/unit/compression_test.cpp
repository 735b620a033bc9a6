// Compressed change batches (docs/protocol.md, "Compression"): a batch of some size goes as one
// zstd frame and comes back byte for byte; a small one goes plain; and every way a hostile
// frame can be wrong (not zstd, no stated size, a size past the limit, cut-off lengths, both
// forms at once) is a DecodeError before anything is allocated for it.
#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <kj/io.h>
#include <zstd.h>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "protocol/protocol.h"
#include "wire.capnp.h"

using namespace sitesync;

namespace {

// Changes alike the way one origin's are: same origin and author, neighbouring ids and clocks.
std::vector<std::string> similarChanges(size_t count) {
  std::vector<std::string> changes;
  for (size_t i = 0; i < count; ++i)
    changes.push_back("origin=4e99245adb89131f seq=" + std::to_string(1000 + i) +
                      " author=bench phone=+358 50 " + std::to_string(7000000 + 37 * i));
  return changes;
}

schema::Message::Reader unpacked(const std::string& bytes, capnp::MallocMessageBuilder& copy) {
  kj::ArrayInputStream in(
      kj::arrayPtr(reinterpret_cast<const kj::byte*>(bytes.data()), bytes.size()));
  capnp::PackedMessageReader reader(in);
  copy.setRoot(reader.getRoot<schema::Message>());
  return copy.getRoot<schema::Message>().asReader();
}

std::string zstdFrame(const std::string& plain, bool statesSize = true) {
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, statesSize ? 1 : 0);
  std::string out(ZSTD_compressBound(plain.size()), '\0');
  size_t n = ZSTD_compress2(context, out.data(), out.size(), plain.data(), plain.size());
  ZSTD_freeCCtx(context);
  BOOST_REQUIRE(!ZSTD_isError(n));
  out.resize(n);
  return out;
}

// A change batch message whose `compressed` field holds `frame` (and `changes` when asked).
std::string batchWithFrame(const std::string& frame, bool alsoPlain = false) {
  capnp::MallocMessageBuilder message;
  auto batch = message.initRoot<schema::Message>().initChanges();
  batch.setCompressed(
      capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(frame.data()), frame.size()));
  if (alsoPlain) batch.initChanges(1).set(0, capnp::Data::Reader(nullptr, 0));
  kj::VectorOutputStream out;
  capnp::writePackedMessage(out, message);
  auto bytes = out.getArray();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// Decoding fails with a DecodeError whose message says `why`.
void refused(const std::string& bytes, const std::string& why) {
  BOOST_CHECK_EXCEPTION(decodeWireMessage(bytes), DecodeError, [&](const DecodeError& e) {
    return std::string(e.what()).find(why) != std::string::npos;
  });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(protocol)

BOOST_AUTO_TEST_CASE(a_batch_of_similar_changes_goes_compressed_and_round_trips) {
  const auto changes = similarChanges(500);
  size_t plainBytes = 0;
  for (const auto& c : changes) plainBytes += c.size();
  std::string bytes;
  encode(WireMessage{ChangeBatchMsg{changes, true}}, bytes);
  capnp::MallocMessageBuilder copy;
  auto batch = unpacked(bytes, copy).getChanges();
  BOOST_TEST(batch.hasCompressed());
  BOOST_TEST(!batch.hasChanges());
  BOOST_TEST(bytes.size() * 4 < plainBytes);
  auto decoded = std::get<ChangeBatchMsg>(decodeWireMessage(bytes));
  BOOST_TEST(decoded.changes == changes);
  BOOST_TEST(decoded.complete);
}

BOOST_AUTO_TEST_CASE(batches_smaller_and_larger_than_the_kept_buffer_decode_in_turn) {
  // 24 MiB decompressed: past the 17 MiB buffer a thread keeps, so it gets a buffer of its own;
  // the small batch after it decodes into the kept one again.
  const std::vector<std::string> large(24, std::string(size_t(1) << 20, 'x'));
  const auto small = similarChanges(300);
  for (const auto& changes : {small, large, small}) {
    std::string bytes;
    encode(WireMessage{ChangeBatchMsg{changes, true}}, bytes);
    BOOST_TEST((std::get<ChangeBatchMsg>(decodeWireMessage(bytes)).changes == changes));
  }
}

BOOST_AUTO_TEST_CASE(a_small_batch_goes_plain_and_round_trips) {
  const std::vector<std::string> changes = {"one small change"};
  std::string bytes;
  encode(WireMessage{ChangeBatchMsg{changes, false}}, bytes);
  capnp::MallocMessageBuilder copy;
  auto batch = unpacked(bytes, copy).getChanges();
  BOOST_TEST(!batch.hasCompressed());
  auto decoded = std::get<ChangeBatchMsg>(decodeWireMessage(bytes));
  BOOST_TEST(decoded.changes == changes);
  BOOST_TEST(!decoded.complete);
}

BOOST_AUTO_TEST_CASE(empty_changes_survive_compression) {
  std::vector<std::string> changes = similarChanges(20);
  changes.insert(changes.begin() + 5, std::string());
  std::string bytes;
  encode(WireMessage{ChangeBatchMsg{changes, true}}, bytes);
  BOOST_TEST(std::get<ChangeBatchMsg>(decodeWireMessage(bytes)).changes == changes);
}

BOOST_AUTO_TEST_CASE(a_compressed_batch_that_is_not_zstd_is_malformed) {
  refused(batchWithFrame("this is not a zstd frame at all"), "not a zstd frame");
}

BOOST_AUTO_TEST_CASE(a_compressed_batch_cut_short_is_malformed) {
  std::string frame = zstdFrame(std::string(1, char(20)) + std::string(20, 'x'));
  refused(batchWithFrame(frame.substr(0, frame.size() - 3)), "corrupt");
}

BOOST_AUTO_TEST_CASE(a_compressed_batch_that_does_not_state_its_size_is_malformed) {
  refused(batchWithFrame(zstdFrame(std::string(1, char(3)) + "abc", false)),
          "do not state their size");
}

BOOST_AUTO_TEST_CASE(a_compressed_batch_that_would_expand_past_the_limit_is_malformed) {
  // 65 MiB of zeros shrink to a few kilobytes: a decompression bomb.
  const std::string bomb = zstdFrame(std::string(size_t(65) << 20, '\0'));
  BOOST_TEST(bomb.size() < 64u * 1024);
  refused(batchWithFrame(bomb), "would expand past 64 MiB");
}

BOOST_AUTO_TEST_CASE(a_change_length_past_the_end_of_the_frame_is_malformed) {
  refused(batchWithFrame(zstdFrame(std::string(1, char(100)) + "only a few bytes")),
          "a change is cut off");
  refused(batchWithFrame(zstdFrame(std::string(3, char(0x80)))), "a change length is cut off");
}

BOOST_AUTO_TEST_CASE(a_batch_with_both_compressed_and_plain_changes_is_malformed) {
  refused(batchWithFrame(zstdFrame(std::string(1, char(1)) + "a"), true),
          "both compressed and plain");
}

BOOST_AUTO_TEST_SUITE_END()
