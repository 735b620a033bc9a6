// The clock is bounded (docs/protocol.md, "Clocks"): a peer's change stamped more than
// max_clock_skew ahead of this node's clock is set aside in the inbox, not applied, so one site's
// wrong clock cannot pull every site's clock after it.
#include <boost/test/unit_test.hpp>

#include "tests/unit/sync_fixture.h"

namespace {

constexpr uint64_t kYear = 365 * 24 * kHour;

// Everything `from` holds that `to` lacks, as one batch, with what applying it reported.
sync::BatchReport offer(Engine& from, Engine& to) {
  const VersionVector lacks = to.status().vector;
  auto batch =
      from.changesMissingFrom(lacks, from.firstPositionMissingFrom(lacks), 1000, size_t(1) << 30);
  BOOST_REQUIRE(!batch.changes.empty());
  return to.applyBatch(batch.changes);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(sync_engine, SyncFixture)

BOOST_AUTO_TEST_CASE(a_change_stamped_a_year_ahead_is_set_aside_and_the_clock_does_not_follow) {
  Site b{kSiteB, "b"};
  b.clock.set(kT0 + kYear);
  created(b, "From next year");
  const Snapshot before = snapshot(a);

  const sync::BatchReport report = offer(b.engine, a.engine);
  BOOST_TEST(report.applied == 0u);
  BOOST_TEST(report.setAside.find(siteIdToHex(kSiteB)) != std::string::npos, report.setAside);
  BOOST_TEST(report.setAside.find("31536000 s ahead") != std::string::npos, report.setAside);
  BOOST_TEST(report.setAside.find("max_clock_skew=300") != std::string::npos, report.setAside);
  BOOST_TEST((snapshot(a) == before));
  BOOST_TEST(a.engine.status().vector.get(kSiteB) == 0u);
  const auto inbox = a.engine.inboxEntries();
  BOOST_REQUIRE(inbox.size() == 1u);
  BOOST_TEST(inbox[0].setAside);
  BOOST_TEST(inbox[0].reason == report.setAside);

  // The node's own next change keeps its own time.
  created(a, "Today");
  BOOST_TEST(lastChange(a).hlc.millis() < kT0 + kHour);
  // Offered again, it is refused with the same reason, not kept twice.
  BOOST_CHECK_EXCEPTION(offer(b.engine, a.engine), std::exception, [&](const std::exception& e) {
    return std::string(e.what()) == report.setAside;
  });
  BOOST_TEST(a.engine.inboxEntries().size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_batch_set_aside_for_its_clock_applies_once_the_clocks_agree) {
  Site b{kSiteB, "b"};
  b.clock.set(kT0 + kHour);
  const Customer early = created(b, "An hour early");
  BOOST_TEST(!offer(b.engine, a.engine).setAside.empty());
  BOOST_TEST(!a.engine.customer(early.id));

  a.clock.set(kT0 + kHour);  // the clock of this node was the wrong one
  BOOST_TEST(a.engine.applyStagedBatches() == 1u);
  BOOST_TEST(a.engine.customer(early.id).has_value());
  BOOST_TEST(a.engine.inboxEntries().empty());
  BOOST_TEST(a.engine.digestHex() == b.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(a_stamp_within_max_clock_skew_applies_at_once) {
  Site b{kSiteB, "b"};
  configure(a, {setting(SettingsField::maxClockSkew, "7200")});  // two hours
  b.clock.set(kT0 + kHour);
  created(b, "An hour early");
  const sync::BatchReport report = offer(b.engine, a.engine);
  BOOST_TEST(report.setAside.empty());
  BOOST_TEST(report.applied == 1u);
  BOOST_TEST(a.engine.status().meta.lastHlc.millis() == kT0 + kHour);
}

BOOST_AUTO_TEST_CASE(a_batch_stamped_too_far_ahead_is_neither_acknowledged_early_nor_relayed) {
  Site b{kSiteB, "b"};
  a.engine.stageBatchesFrom(1);  // a clean batch is acknowledged early, then written
  b.clock.set(kT0 + kHour);
  created(b, "An hour early");
  const VersionVector lacks = a.engine.status().vector;
  auto batch = b.engine.changesMissingFrom(lacks, b.engine.firstPositionMissingFrom(lacks), 1000,
                                           size_t(1) << 30);
  bool acknowledged = false, relayable = true;
  const auto report = a.engine.applyBatch(
      batch.changes, [&](const sync::VerifiedBatch& v) { relayable = v.clean; },
      [&](const VersionVector&) { acknowledged = true; });
  BOOST_TEST(!acknowledged);  // its sender keeps it: nothing is promised that is not applied
  BOOST_TEST(!relayable);     // nor passed on to other peers before it is written
  BOOST_TEST(!report.setAside.empty());
  BOOST_TEST(a.engine.settleStaged().empty());
  BOOST_TEST(a.engine.status().vector.get(kSiteB) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
