// The hand-written packer must produce exactly Cap'n Proto's packed encoding.
#include <capnp/message.h>
#include <capnp/serialize-packed.h>

#include <boost/test/unit_test.hpp>
#include <random>

#include "protocol/src/wire.h"

namespace {

std::string referencePacked(capnp::MessageBuilder& mb) {
  std::string out;
  sitesync::wire::StringOutput stream(out);
  capnp::writePackedMessage(stream, mb);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pack)

BOOST_AUTO_TEST_CASE(packed_bytes_equal_capnp_write_packed_message_for_random_customers) {
  std::mt19937_64 rng(1);
  for (int round = 0; round < 200; ++round) {
    capnp::MallocMessageBuilder mb(rng() % 2 ? 8 : 1024);  // small first segment: many segments
    auto c = mb.initRoot<sitesync::schema::Customer>();
    c.initId().setSite(rng());
    c.getId().setCounter(rng() % 1000);
    // Mixed content: zero runs, all-nonzero runs (text), and sparse words.
    std::string text(rng() % 3000, 'x');
    for (auto& ch : text) ch = char(rng() % 3 ? 'a' + rng() % 26 : 0x20);
    c.initName().setValue(text);
    c.getName().setHlc(rng() % 2 ? rng() : 0);
    c.initPhone().setValue(std::string(rng() % 40, '7'));
    std::string out;
    sitesync::wire::toBytes(mb, out);
    BOOST_TEST(out == referencePacked(mb));
  }
}

BOOST_AUTO_TEST_CASE(packed_bytes_round_trip_through_the_capnp_reader) {
  sitesync::Customer c;
  c.id = {7, 9};
  c.created = {sitesync::Hlc{123456}, 7};
  c[sitesync::CustomerField::name] = {"Åke Öberg", c.created};
  c[sitesync::CustomerField::phone] = {std::string(600, '5'), {sitesync::Hlc{999999}, 8}};
  std::string bytes;
  sitesync::encode(c, bytes);
  BOOST_TEST((sitesync::decodeCustomer(bytes) == c));
}

BOOST_AUTO_TEST_CASE(unpacking_restores_the_words_that_were_packed) {
  std::mt19937_64 rng(2);
  for (int round = 0; round < 300; ++round) {
    std::vector<uint64_t> words(rng() % 700);
    for (auto& w : words) {
      switch (rng() % 4) {  // zero words, dense words, sparse words
        case 0:
          w = 0;
          break;
        case 1:
          w = rng() | 0x0101010101010101ULL;
          break;
        default:
          w = rng() & (0xffULL << (8 * (rng() % 8)));
      }
    }
    std::string packed;
    sitesync::wire::packWords(reinterpret_cast<const uint8_t*>(words.data()), words.size(), packed);
    std::vector<uint64_t> out;
    BOOST_TEST(sitesync::wire::unpackWords(reinterpret_cast<const uint8_t*>(packed.data()),
                                           packed.size(), out, 1 << 20));
    BOOST_TEST((out == words));
  }
}

BOOST_AUTO_TEST_CASE(unpacking_refuses_cut_short_or_oversized_input) {
  std::vector<uint64_t> words(300, 0x1122334455667788ULL);
  words[10] = 0;
  std::string packed;
  sitesync::wire::packWords(reinterpret_cast<const uint8_t*>(words.data()), words.size(), packed);
  std::vector<uint64_t> out;
  for (size_t cut = 1; cut < packed.size(); cut += 7) {
    // A prefix either fails or decodes to fewer words; it never reads past its end.
    bool ok = sitesync::wire::unpackWords(reinterpret_cast<const uint8_t*>(packed.data()), cut, out,
                                          1 << 20);
    if (ok) BOOST_TEST(out.size() < words.size());
  }
  BOOST_TEST(!sitesync::wire::unpackWords(reinterpret_cast<const uint8_t*>(packed.data()),
                                          packed.size(), out, 100));
  const std::string zeroRun("\x00\xff\x00\xff\x00\xff", 6);  // 768 zero words from 6 bytes
  BOOST_TEST(!sitesync::wire::unpackWords(reinterpret_cast<const uint8_t*>(zeroRun.data()),
                                          zeroRun.size(), out, 500));
}

BOOST_AUTO_TEST_SUITE_END()
