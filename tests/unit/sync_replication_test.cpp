// Sync engine, replication planning: which changes a peer lacks (in log order, bounded batches,
// catch-up that starts where the peer's knowledge ends) and applying a peer's batch.
#include "tests/unit/sync_fixture.h"

namespace {

// One direction of a session: `from` sends `to` every change it lacks, in bounded batches.
size_t sendMissing(Site& from, Site& to, size_t maxChanges = 3) {
  const VersionVector peer = to.engine.status().vector;
  uint64_t position = from.engine.firstPositionMissingFrom(peer);
  size_t sent = 0;
  for (;;) {
    auto batch = from.engine.changesMissingFrom(peer, position, maxChanges, 1 << 20);
    sent += batch.changes.size();
    if (!batch.changes.empty()) to.engine.applyBatch(batch.changes);
    if (batch.complete) return sent;
    position = batch.nextPosition;
  }
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(sync_engine, SyncFixture)

BOOST_AUTO_TEST_CASE(a_peer_receives_exactly_the_changes_it_lacks_in_log_order) {
  Site b{kSiteB, "branch-b"};
  Customer anna = created(a, "Anna");
  created(a, "Bertil");
  BOOST_TEST(sendMissing(a, b) == 2u);
  updated(a, anna.id, {set(CustomerField::phone, "0401234567")});
  auto batch = a.engine.changesMissingFrom(
      b.engine.status().vector, a.engine.firstPositionMissingFrom(b.engine.status().vector), 100,
      1 << 20);
  BOOST_TEST_REQUIRE(batch.changes.size() == 1u);
  BOOST_TEST(decodeChangeId(batch.changes[0]).seq == 3u);
  BOOST_TEST(batch.complete);
  b.engine.applyBatch(batch.changes);
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
  BOOST_TEST(current(b, anna.id).value(CustomerField::phone) == "0401234567");
}

BOOST_AUTO_TEST_CASE(catch_up_starts_at_the_first_change_the_peer_lacks) {
  for (int i = 0; i < 50; ++i) created(a, "Customer " + std::to_string(i));
  VersionVector peer;
  peer.set(kSiteA, 47);
  BOOST_TEST(a.engine.firstPositionMissingFrom(peer) == 48u);
  peer.set(kSiteA, 50);
  BOOST_TEST(a.engine.firstPositionMissingFrom(peer) == 51u);  // past the end: nothing to send
  BOOST_TEST(a.engine.changesMissingFrom(peer, 51, 10, 1 << 20).changes.empty());
}

BOOST_AUTO_TEST_CASE(batches_respect_the_count_and_byte_bounds_and_resume) {
  for (int i = 0; i < 10; ++i) created(a, "Customer " + std::to_string(i));
  auto first = a.engine.changesMissingFrom(VersionVector{}, 1, 4, 1 << 20);
  BOOST_TEST(first.changes.size() == 4u);
  BOOST_TEST(!first.complete);
  BOOST_TEST(first.nextPosition == 5u);
  auto tiny = a.engine.changesMissingFrom(VersionVector{}, 1, 100, 1);
  BOOST_TEST(tiny.changes.size() == 1u);  // never an empty batch while something is missing
  auto rest = a.engine.changesMissingFrom(VersionVector{}, first.nextPosition, 100, 1 << 20);
  BOOST_TEST(rest.changes.size() == 6u);
  BOOST_TEST(rest.complete);
}

BOOST_AUTO_TEST_CASE(a_relay_forwards_changes_of_other_origins) {
  Site hub{kSiteB, "hub"};
  Site laptop{kSiteC, "laptop"};
  Customer anna = created(a, "Anna");
  sendMissing(a, hub);
  updated(hub, anna.id, {set(CustomerField::email, "anna@example.fi")});
  sendMissing(hub, laptop);
  BOOST_TEST(laptop.engine.status().vector.get(kSiteA) == 1u);
  BOOST_TEST(laptop.engine.status().vector.get(kSiteB) == 1u);
  BOOST_TEST(laptop.engine.digestHex() == hub.engine.digestHex());
  BOOST_TEST(current(laptop, anna.id).value(CustomerField::email) == "anna@example.fi");
}

BOOST_AUTO_TEST_CASE(receiving_a_batch_twice_is_harmless) {
  Site b{kSiteB, "branch-b"};
  created(a, "Anna");
  created(a, "Bertil");
  auto batch = a.engine.changesMissingFrom(VersionVector{}, 1, 100, 1 << 20);
  BOOST_TEST(b.engine.applyBatch(batch.changes).applied == 2u);
  const auto digest = b.engine.digestHex();
  auto again = b.engine.applyBatch(batch.changes);
  BOOST_TEST(again.applied == 0u);
  BOOST_TEST(again.duplicates == 2u);
  BOOST_TEST(b.engine.digestHex() == digest);
  BOOST_TEST(logEntries(b) == 2u);
}

BOOST_AUTO_TEST_CASE(sites_that_edited_offline_converge_after_exchanging_both_ways) {
  Site b{kSiteB, "branch-b"};
  Customer anna = created(a, "Anna");
  sendMissing(a, b);
  b.clock.set(kT0 + 4 * kMinute);  // b's edit is concurrent and has the later clock
  updated(a, anna.id, {set(CustomerField::phone, "0401111111")});
  updated(b, anna.id,
          {set(CustomerField::phone, "0402222222"), set(CustomerField::email, "anna@example.fi")});
  created(b, "Bertil");
  sendMissing(a, b);
  sendMissing(b, a);
  BOOST_TEST(a.engine.digestHex() == b.engine.digestHex());
  BOOST_TEST((a.engine.status().vector == b.engine.status().vector));
  Customer merged = current(a, anna.id);
  BOOST_TEST(merged.value(CustomerField::phone) == "0402222222");       // larger version
  BOOST_TEST(merged.value(CustomerField::email) == "anna@example.fi");  // other field kept
}

BOOST_AUTO_TEST_CASE(a_batch_with_a_gap_is_refused_whole) {
  Site b{kSiteB, "branch-b"};
  for (int i = 0; i < 3; ++i) created(a, "Customer " + std::to_string(i));
  auto all = a.engine.changesMissingFrom(VersionVector{}, 1, 100, 1 << 20).changes;
  const auto before = snapshot(b);
  BOOST_CHECK_THROW(b.engine.applyBatch({all[0], all[2]}), std::runtime_error);
  BOOST_TEST((snapshot(b) == before));
}

BOOST_AUTO_TEST_CASE(a_verified_batch_is_clean_only_when_every_change_is_new_proven_and_in_order) {
  Site b{kSiteB, "branch-b"};
  for (int i = 0; i < 3; ++i) created(a, "Customer " + std::to_string(i));
  auto all = a.engine.changesMissingFrom(VersionVector{}, 1, 100, 1 << 20).changes;
  // What applyBatch reports before writing (a relay passes a clean batch on at that moment).
  auto verified = [&](const std::vector<std::string>& batch) {
    sync::VerifiedBatch seen;
    try {
      b.engine.applyBatch(batch, [&](const sync::VerifiedBatch& v) { seen = v; });
    } catch (const std::runtime_error&) {
      // a gap: refused after the report
    }
    return seen;
  };
  BOOST_TEST(!verified({all[1]}).clean);  // seq 2 while b holds nothing of a: refused
  const auto fresh = verified({all[0], all[1]});
  BOOST_TEST(fresh.clean);
  BOOST_TEST(fresh.first.get(kSiteA) == 1u);
  BOOST_TEST(fresh.last.get(kSiteA) == 2u);
  BOOST_TEST(!verified({all[1], all[2]}).clean);  // the first is held now (the second applies)
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(a_malformed_change_in_a_batch_is_refused_before_any_write) {
  Site b{kSiteB, "branch-b"};
  created(a, "Anna");
  auto good = a.engine.changesMissingFrom(VersionVector{}, 1, 100, 1 << 20).changes;
  const auto before = snapshot(b);
  BOOST_CHECK_THROW(b.engine.applyBatch({good[0], std::string("\x10\x01garbage", 9)}), DecodeError);
  BOOST_TEST((snapshot(b) == before));
}

BOOST_AUTO_TEST_SUITE_END()
