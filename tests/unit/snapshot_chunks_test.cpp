// A snapshot taken in chunks while its source keeps writing: each later chunk is read at a later
// vector, and the catch-up after it sends again what those records already hold. Nothing may
// come back as a second value, and the joined site ends with the source's digest.
#include "tests/unit/sync_fixture.h"

namespace {

// The rest of `from`'s snapshot after `first`, chunk by chunk, into `to`.
void takeRest(Engine& from, Engine& to, const SnapshotChunkMsg& first) {
  std::string next = first.nextKey;
  for (;;) {
    auto chunk = from.snapshotChunk(next, 1 << 20);
    to.mergeSnapshotChunk(chunk);
    if (chunk.complete) return;
    next = chunk.nextKey;
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sync_engine)

BOOST_AUTO_TEST_CASE(a_snapshot_in_chunks_taken_while_the_hub_writes_leaves_no_false_conflict) {
  Member hub{kSiteD, kSiteD};
  Member laptop{kSiteA, kSiteD};
  for (int i = 0; i < 10; ++i) hub.add("Customer " + std::to_string(i));
  const RecordId last = hub.add("Last");
  auto first = hub.engine.snapshotChunk("", 200);  // a small chunk: not every record
  BOOST_REQUIRE(!first.complete);
  laptop.engine.mergeSnapshotChunk(first);
  // The hub writes the last customer's phone twice while the laptop takes its chunks.
  BOOST_REQUIRE(hub.engine.update(last, {set(CustomerField::phone, "040 1")}, "t").isOk());
  BOOST_REQUIRE(hub.engine.update(last, {set(CustomerField::phone, "040 2")}, "t").isOk());
  takeRest(hub.engine, laptop.engine, first);
  BOOST_TEST(!laptop.engine.meta().snapshotReadUpTo.entries().empty());  // a later chunk was later
  ship(hub.engine, laptop.engine);  // the catch-up after the snapshot's first vector
  BOOST_TEST(laptop.engine.conflicts(false).empty());
  BOOST_TEST(laptop.engine.customer(last)->value(CustomerField::phone) == "040 2");
  BOOST_TEST(laptop.engine.history(last).size() == 3u);  // create and two edits, each once
  BOOST_TEST(laptop.engine.digestHex() == hub.engine.digestHex());
  BOOST_TEST(laptop.engine.meta().snapshotReadUpTo.entries().empty());  // caught up
}

BOOST_AUTO_TEST_CASE(a_merge_made_while_a_snapshot_is_taken_in_chunks_arrives_once) {
  Member hub{kSiteD, kSiteD};
  Member laptop{kSiteA, kSiteD};
  const RecordId kept = hub.add("Maija Virtanen");
  for (int i = 0; i < 10; ++i) hub.add("Customer " + std::to_string(i));
  const RecordId absorbed = hub.add("Maija Virtanen (old)");
  auto first = hub.engine.snapshotChunk("", 200);
  BOOST_REQUIRE(!first.complete);
  laptop.engine.mergeSnapshotChunk(first);
  BOOST_REQUIRE(hub.engine.update(absorbed, {set(CustomerField::phone, "040 9")}, "t").isOk());
  BOOST_REQUIRE(hub.engine.merge(kept, {absorbed}, {}, "hq").isOk());
  takeRest(hub.engine, laptop.engine, first);
  ship(hub.engine, laptop.engine);
  BOOST_TEST(laptop.engine.conflicts(false).empty());
  BOOST_TEST(laptop.engine.customer(kept)->value(CustomerField::phone) == "040 9");
  BOOST_TEST(laptop.engine.history(absorbed).size() == hub.engine.history(absorbed).size());
  BOOST_TEST(laptop.engine.digestHex() == hub.engine.digestHex());
}

BOOST_AUTO_TEST_SUITE_END()
