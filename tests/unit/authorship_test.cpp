// Authorship (DESIGN.md section 7): every change is signed by its origin in runs; a node applies
// a peer's change only inside a whole run whose signature verifies, so a relay can neither alter
// nor forge another site's changes; settings and number leases count only from the hub; erasure
// leaves the signed log verifiable.
#include <boost/test/unit_test.hpp>

#include "tests/unit/sync_fixture.h"

using sitesync::sync::BatchReport;
using sitesync::sync::OfferedSetting;
using sitesync::sync::OutgoingBatch;
using sitesync::testing::signAlone;
using sitesync::testing::testSiteId;
using sitesync::testing::testSiteKey;

namespace {

const SiteId kMallory = testSiteId(0xe1);

// Everything the site's log holds, encoded as stored (what a relay would forward).
std::vector<std::string> storedLog(Engine& engine) {
  return engine.changesMissingFrom(VersionVector{}, 1, 1'000'000, size_t(1) << 30).changes;
}

std::string encoded(const Change& change) {
  std::string bytes;
  encode(change, bytes);
  return bytes;
}

// A change made by `origin`, signed by its key (a run of its own).
Change signedCreate(SiteId origin, uint64_t seq, const std::string& name) {
  Change c;
  c.id = ChangeId{origin, seq};
  c.hlc = Hlc::from(kT0, seq);
  c.operation = Operation::kCreate;
  c.target = RecordId{origin, seq};
  c.author = "someone";
  c.writes.push_back(FieldWrite{uint16_t(CustomerField::name), {}, name, {}});
  signAlone(c);
  return c;
}

std::vector<LocalOp> creates(size_t n) {
  std::vector<LocalOp> ops;
  for (size_t i = 0; i < n; ++i)
    ops.push_back(LocalOp{LocalOp::Kind::kCreate,
                          {},
                          {set(CustomerField::name, "Customer " + std::to_string(i))},
                          "tester"});
  return ops;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(security, SyncFixture)

BOOST_AUTO_TEST_CASE(a_site_id_is_the_hash_of_the_public_key_that_signs_its_changes) {
  const sync::SiteKey& key = testSiteKey(kSiteA);
  BOOST_TEST(siteIdOfKey(key.publicKey()) == kSiteA);
  BOOST_TEST(a.engine.meta().siteId == kSiteA);
  created(a, "Anna");
  const Change stored = lastChange(a);
  auto checkpoint = parseCheckpoint(stored.signature);
  BOOST_REQUIRE(checkpoint.has_value());
  BOOST_TEST(checkpoint->publicKey == key.publicKey());
  BOOST_TEST(checkpoint->runStart == 1u);
}

BOOST_AUTO_TEST_CASE(a_relay_that_alters_one_byte_of_a_change_is_caught_and_nothing_is_written) {
  created(a, "Anna Virtanen", {set(CustomerField::phone, "040 123")});
  Site relay(kSiteC, "relay"), b(kSiteB, "branch-b");
  ship(a.engine, relay.engine);  // the relay holds a's change exactly as a signed it
  std::vector<std::string> forwarded = storedLog(relay.engine);
  BOOST_REQUIRE(forwarded.size() == 1u);
  Change altered = decodeChange(forwarded[0]);
  altered.writes[1].value[5] = '9';  // "040 123" -> "040 923": one byte
  const std::string before = b.engine.digestHex();
  try {
    b.engine.applyBatch({encoded(altered)});
    BOOST_FAIL("an altered change was applied");
  } catch (const DecodeError& e) {
    BOOST_TEST(std::string(e.what()).find("altered or forged") != std::string::npos);
  }
  BOOST_TEST(b.engine.digestHex() == before);
  BOOST_TEST(b.engine.status().vector.get(kSiteA) == 0u);
  // The change as signed goes through.
  BOOST_TEST(b.engine.applyBatch(forwarded).applied == 1u);
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(a_large_batch_checked_on_two_threads_catches_one_altered_change) {
  a.engine.submit(creates(3000));  // three runs of 1,000: decoded and hashed in two halves
  Site b(kSiteB, "branch-b");
  std::vector<std::string> batch = storedLog(a.engine);
  BOOST_REQUIRE(batch.size() == 3000u);
  const std::string signedChange = batch[2500];
  Change altered = decodeChange(signedChange);
  altered.writes[0].value = "Customer 2500x";  // in the second half
  batch[2500] = encoded(altered);
  const std::string before = b.engine.digestHex();
  BOOST_CHECK_EXCEPTION(b.engine.applyBatch(batch), DecodeError, [](const DecodeError& e) {
    return std::string(e.what()).find("altered or forged") != std::string::npos;
  });
  BOOST_TEST(b.engine.digestHex() == before);
  batch[2500] = std::string("\x10\x01garbage", 9);  // undecodable, in the second half
  BOOST_CHECK_THROW(b.engine.applyBatch(batch), DecodeError);
  BOOST_TEST(b.engine.digestHex() == before);
  batch[2500] = signedChange;
  BOOST_TEST(b.engine.applyBatch(batch).applied == 3000u);
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(a_change_claiming_another_origin_is_rejected) {
  Site b(kSiteB, "branch-b");
  const std::string before = b.engine.digestHex();
  // Mallory signs, with her own key, a change that says it comes from site A.
  Change forged = signedCreate(kMallory, 1, "Forged");
  forged.id.origin = kSiteA;
  forged.target.site = kSiteA;
  BOOST_CHECK_THROW(b.engine.applyBatch({encoded(forged)}), DecodeError);
  // Or puts A's public key in the checkpoint, with her own signature.
  Change stolenKey = signedCreate(kMallory, 1, "Forged");
  stolenKey.id.origin = kSiteA;
  stolenKey.target.site = kSiteA;
  Checkpoint checkpoint = *parseCheckpoint(stolenKey.signature);
  checkpoint.publicKey = testSiteKey(kSiteA).publicKey();
  stolenKey.signature = encodeCheckpoint(checkpoint);
  BOOST_CHECK_THROW(b.engine.applyBatch({encoded(stolenKey)}), DecodeError);
  BOOST_TEST(b.engine.digestHex() == before);
  // Mallory's own change, under her own name, is a change like any other.
  BOOST_TEST(b.engine.applyBatch({encoded(signedCreate(kMallory, 1, "Mallory"))}).applied == 1u);
}

BOOST_AUTO_TEST_CASE(a_run_whose_checkpoint_has_not_arrived_waits_and_nothing_of_it_is_written) {
  auto results = a.engine.submit(creates(3));  // one transaction: one run, signed on its last
  BOOST_REQUIRE(results[2].status.isOk());
  std::vector<std::string> run = storedLog(a.engine);
  BOOST_REQUIRE(run.size() == 3u);
  Site b(kSiteB, "branch-b");
  const std::string before = b.engine.digestHex();
  const BatchReport partial = b.engine.applyBatch({run[0], run[1]});
  BOOST_TEST(partial.applied == 0u);
  BOOST_TEST(partial.awaitingSignature == 2u);
  BOOST_TEST(b.engine.digestHex() == before);
  BOOST_TEST(b.engine.applyBatch(run).applied == 3u);
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(a_batch_cut_by_its_limits_still_carries_whole_runs) {
  Site b(kSiteB, "branch-b"), relay(kSiteC, "relay"), late(kSiteD, "late");
  a.engine.submit(creates(10));
  b.engine.submit(creates(10));
  // The relay's log interleaves the two origins' runs (a1 b1 a2 b2 ...).
  std::vector<std::string> fromA = storedLog(a.engine), fromB = storedLog(b.engine), mixed;
  for (size_t i = 0; i < 10; ++i) {
    mixed.push_back(fromA[i]);
    mixed.push_back(fromB[i]);
  }
  BOOST_TEST(relay.engine.applyBatch(mixed).applied == 20u);
  // A limit of 3 changes would cut both runs: the batch takes both up to their checkpoints.
  OutgoingBatch batch = relay.engine.changesMissingFrom(VersionVector{}, 1, 3, size_t(1) << 30);
  BOOST_TEST(batch.changes.size() == 20u);
  BOOST_TEST(late.engine.applyBatch(batch.changes).applied == 20u);
  BOOST_TEST(late.engine.digestHex() == relay.engine.digestHex());
  // Two runs in a row: the cut falls after the first one.
  Site serial(kSiteD, "serial");
  serial.engine.applyBatch(fromA);
  serial.engine.applyBatch(fromB);
  batch = serial.engine.changesMissingFrom(VersionVector{}, 1, 3, size_t(1) << 30);
  BOOST_TEST(batch.changes.size() == 10u);
  BOOST_TEST(!batch.complete);
}

BOOST_AUTO_TEST_CASE(settings_and_number_leases_count_only_from_the_hub) {
  Member hub(kSiteD, kSiteD), branch(kSiteA, kSiteD), other(kSiteB, kSiteD);
  // A branch cannot change the settings: the hub would ignore them.
  auto refused = branch.engine.updateSettings({setting(SettingsField::ssnUnique, "true")}, "x");
  BOOST_TEST((refused.status().code() == StatusCode::kFailedPrecondition));
  BOOST_TEST(refused.status().message().find("on the hub") != std::string::npos);
  BOOST_REQUIRE(
      hub.engine.updateSettings({setting(SettingsField::ssnUnique, "false")}, "admin").isOk());

  // A branch that signs a settings change and a lease anyway: logged (its seqs stay dense). The
  // hub takes the settings as an offer and refuses it (the deployment has its own value); the
  // lease has no effect at the hub nor anywhere it is relayed.
  Change settings;
  settings.id = ChangeId{kSiteA, 1};
  settings.hlc = Hlc::from(kT0, 1);
  settings.operation = Operation::kSettings;
  settings.writes.push_back(FieldWrite{uint16_t(SettingsField::ssnUnique), {}, "true", {}});
  signAlone(settings);
  Change lease;
  lease.id = ChangeId{kSiteA, 2};
  lease.hlc = Hlc::from(kT0, 2);
  lease.operation = Operation::kLease;
  lease.lease = NumberLease{kSiteA, 1, 1000, {}};
  signAlone(lease);
  const Settings before = hub.engine.settings();
  BOOST_TEST(hub.engine.applyBatch({encoded(settings), encoded(lease)}).applied == 2u);
  BOOST_TEST((hub.engine.settings() == before));
  BOOST_TEST(hub.engine.numbers().leasedBlocks == 0u);
  BOOST_TEST(hub.engine.meta().unauthorized == 1u);
  BOOST_TEST(hub.engine.meta().settingsOffersRefused == 1u);
  BOOST_TEST(hub.engine.meta().settingsOffersKept == 0u);
  BOOST_TEST(hub.engine.status().vector.get(kSiteA) == 2u);

  // The hub's own settings count everywhere; another site's nowhere else.
  BOOST_TEST(
      hub.engine.updateSettings({setting(SettingsField::ssnUnique, "true")}, "admin").isOk());
  ship(hub.engine, other.engine);
  BOOST_TEST(other.engine.settings().getBool(SettingsField::ssnUnique));
  BOOST_TEST(other.engine.meta().unauthorized == 2u);
  BOOST_TEST(other.engine.digestHex() == hub.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(settings_set_before_joining_are_offered_and_the_hub_keeps_those_it_lacks) {
  Member hub(kSiteD, kSiteD);
  BOOST_REQUIRE(
      hub.engine.updateSettings({setting(SettingsField::numberMinLength, "6")}, "admin").isOk());
  // a alone, before it joins
  configure(
      a, {setting(SettingsField::numberMinLength, "3"), setting(SettingsField::ssnUnique, "true")});
  BOOST_TEST(a.engine.offeredSettings().empty());
  BOOST_TEST(a.engine.acceptDeployment(kSiteD, "hub").isOk());
  // Joined: it holds the deployment's settings only, and remembers what it offered.
  BOOST_TEST(a.engine.settings().getUnsigned(SettingsField::numberMinLength) == 1u);
  auto offers = a.engine.offeredSettings();
  BOOST_REQUIRE(offers.size() == 2u);
  for (const auto& o : offers) BOOST_TEST((o.outcome == OfferedSetting::Outcome::kWaiting));

  ship(a.engine, hub.engine);
  BOOST_TEST(hub.engine.settings().getBool(SettingsField::ssnUnique));                  // kept
  BOOST_TEST(hub.engine.settings().getUnsigned(SettingsField::numberMinLength) == 6u);  // refused
  BOOST_TEST(hub.engine.meta().settingsOffersKept == 1u);
  BOOST_TEST(hub.engine.meta().settingsOffersRefused == 1u);

  ship(hub.engine, a.engine);
  BOOST_TEST(a.engine.digestHex() == hub.engine.digestHex());
  offers = a.engine.offeredSettings();
  BOOST_REQUIRE(offers.size() == 2u);
  BOOST_TEST(
      (offers[0].field == SettingsField::ssnUnique || offers[1].field == SettingsField::ssnUnique));
  for (const auto& o : offers) {
    if (o.field == SettingsField::ssnUnique) {
      BOOST_TEST((o.outcome == OfferedSetting::Outcome::kKept));
    } else {
      BOOST_TEST((o.outcome == OfferedSetting::Outcome::kRefused));
      BOOST_TEST(o.offered == "3");
      BOOST_TEST(o.deploymentValue == "6");
    }
  }
}

BOOST_AUTO_TEST_CASE(an_erased_customers_changes_still_verify_at_a_site_that_never_saw_them) {
  Customer anna = created(a, "Anna Virtanen", {set(CustomerField::phone, "040 123")});
  updated(a, anna.id, {set(CustomerField::email, "anna@example.fi")});
  BOOST_REQUIRE(a.engine.erase(anna.id, "dpo").isOk());
  std::vector<std::string> log = storedLog(a.engine);
  for (const std::string& bytes : log) {
    BOOST_TEST(bytes.find("Anna") == std::string::npos);
    BOOST_TEST(bytes.find("anna@") == std::string::npos);
  }
  Site b(kSiteB, "branch-b");
  BOOST_TEST(b.engine.applyBatch(log).applied == log.size());
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
  // Blanking the personal data is not a way to alter a change: its hash must still match.
  Change first = decodeChange(log[0]);
  BOOST_REQUIRE(!first.personalHash.empty());
  first.personalHash[0] = char(first.personalHash[0] ^ 1);
  Site c(kSiteC, "branch-c");
  BOOST_CHECK_THROW(c.engine.applyBatch({encoded(first)}), DecodeError);
}

BOOST_AUTO_TEST_SUITE_END()
