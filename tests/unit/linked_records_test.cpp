// Linked records (bookings, work orders, invoices, products): elements of the customer's card
// that replicate attribute by attribute, count a product's units used at two sites offline,
// follow merges (records and debtor links alike) and keep the kind they were made with.
#include <boost/test/unit_test.hpp>

#include "tests/unit/sync_fixture.h"

namespace {

Edit attr(const std::string& attribute, const std::string& value) {
  return Edit{kRecordCode, attribute, value};
}

std::vector<sync::CardElement> recordsOf(const Customer& c) {
  std::vector<sync::CardElement> out;
  for (auto& e : sync::cardElements(c))
    if (e.kind == kRecordCode && !e.gone()) out.push_back(e);
  return out;
}

bool flagged(sync::Engine& engine, const Customer& c, const std::string& flag) {
  auto flags = engine.flags(c);
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

struct RecordFixture : SyncFixture {
  Site b{kSiteB, "branch-b"};
  Customer customer = created(a, "Maija Virtanen");

  RecordId record(Site& site, RecordId owner, std::vector<Edit> attributes) {
    auto r = site.engine.addElement(owner, kRecordCode, attributes, "tester");
    BOOST_REQUIRE_MESSAGE(r.isOk(), "add refused: " << r.status().message());
    return r.value();
  }
  Status useUnits(Site& site, RecordId owner, RecordId product, int units) {
    auto results = site.engine.submit({sync::elementOp(
        owner, kRecordCode, product, {attr("usage", std::to_string(units) + "|visit")}, "t")});
    return results[0].status;
  }
  void exchange() {
    ship(a.engine, b.engine);
    ship(b.engine, a.engine);
    BOOST_REQUIRE(a.engine.digestHex() == b.engine.digestHex());
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(linked_records, RecordFixture)

BOOST_AUTO_TEST_CASE(records_of_every_kind_replicate_with_their_attributes) {
  record(a, customer.id, {attr("kind", "booking"), attr("starts_at", "2026-12-10T09:00:00Z")});
  record(a, customer.id,
         {attr("kind", "order"), attr("title", "Boiler"), attr("text", "leaks\nwhen hot")});
  record(a, customer.id, {attr("kind", "invoice"), attr("amount_cents", "12050")});
  record(a, customer.id, {attr("kind", "product"), attr("units", "10")});
  exchange();
  const auto held = recordsOf(current(b, customer.id));
  BOOST_REQUIRE(held.size() == 4u);
  std::set<std::string> kinds;
  for (const auto& e : held) kinds.insert(e.attribute("kind"));
  BOOST_TEST(kinds.size() == 4u);
  for (const auto& e : held)
    if (e.attribute("kind") == "order") BOOST_TEST(e.attribute("text") == "leaks\nwhen hot");
}

BOOST_AUTO_TEST_CASE(a_record_needs_a_known_kind_and_keeps_it) {
  BOOST_TEST(!a.engine.addElement(customer.id, kRecordCode, {attr("title", "x")}, "t").isOk());
  BOOST_TEST(!a.engine.addElement(customer.id, kRecordCode, {attr("kind", "visit")}, "t").isOk());
  RecordId booking = record(a, customer.id, {attr("kind", "booking")});
  const auto before = snapshot(a);
  auto changed =
      a.engine.editElement(customer.id, kRecordCode, booking, {attr("kind", "invoice")}, "t");
  BOOST_TEST(!changed.isOk());
  BOOST_TEST(changed.status().message().find("keeps the kind") != std::string::npos);
  BOOST_TEST((snapshot(a) == before));
}

BOOST_AUTO_TEST_CASE(units_used_at_two_sites_offline_both_count_and_an_overuse_is_flagged) {
  RecordId product = record(a, customer.id, {attr("kind", "product"), attr("units", "10")});
  ship(a.engine, b.engine);
  BOOST_REQUIRE(useUnits(a, customer.id, product, 6).isOk());
  BOOST_REQUIRE(useUnits(b, customer.id, product, 7).isOk());
  exchange();
  const auto held = recordsOf(current(a, customer.id));
  BOOST_REQUIRE(held.size() == 1u);
  BOOST_TEST(held[0].usages.size() == 2u);
  BOOST_TEST(held[0].unitsLeft == -3);
  BOOST_TEST(flagged(b.engine, current(b, customer.id), "product_overused"));
}

BOOST_AUTO_TEST_CASE(units_beyond_those_left_or_after_validity_are_refused) {
  RecordId product = record(a, customer.id, {attr("kind", "product"), attr("units", "3")});
  BOOST_TEST(!useUnits(a, customer.id, product, 4).isOk());
  RecordId expired =
      record(a, customer.id,
             {attr("kind", "product"), attr("units", "3"), attr("valid_until", "2020-01-01")});
  BOOST_TEST(useUnits(a, customer.id, expired, 1).message().find("expired") != std::string::npos);
  RecordId booking = record(a, customer.id, {attr("kind", "booking")});
  BOOST_TEST(!useUnits(a, customer.id, booking, 1).isOk());
}

BOOST_AUTO_TEST_CASE(a_record_made_offline_for_an_absorbed_customer_lands_on_the_survivor) {
  Customer duplicate = created(a, "Maija Virtanen (old)");
  exchange();
  BOOST_REQUIRE(a.engine.merge(customer.id, {duplicate.id}, {}, "hq").isOk());
  RecordId offline = record(b, duplicate.id, {attr("kind", "order"), attr("title", "Boiler")});
  exchange();
  for (Site* site : {&a, &b}) {
    const auto held = recordsOf(current(*site, customer.id));
    BOOST_REQUIRE(held.size() == 1u);
    BOOST_TEST((held[0].id == offline));
  }
  // After the merge, a record added for the absorbed customer is written to the survivor.
  record(a, duplicate.id, {attr("kind", "booking")});
  BOOST_TEST(recordsOf(current(a, customer.id)).size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_debtor_link_follows_the_debtor_into_a_merge) {
  Customer payer = created(a, "Virtanen Oy");
  Customer payerCopy = created(a, "Virtanen Oy (copy)");
  RecordId invoice =
      record(a, customer.id, {attr("kind", "invoice"), attr("debtor", payerCopy.id.toString())});
  exchange();
  BOOST_REQUIRE(b.engine.merge(payer.id, {payerCopy.id}, {}, "hq").isOk());
  exchange();
  for (Site* site : {&a, &b}) {
    const auto held = recordsOf(current(*site, customer.id));
    BOOST_REQUIRE(held.size() == 1u);
    BOOST_TEST((held[0].id == invoice));
    BOOST_TEST(held[0].attribute("debtor") == payer.id.toString());
  }
}

BOOST_AUTO_TEST_CASE(a_debtor_must_be_another_live_customer) {
  BOOST_TEST(!a.engine
                  .addElement(customer.id, kRecordCode,
                              {attr("kind", "invoice"), attr("debtor", customer.id.toString())},
                              "t")
                  .isOk());
  BOOST_TEST(!a.engine
                  .addElement(customer.id, kRecordCode,
                              {attr("kind", "invoice"), attr("debtor", "00000000000000ff-9")}, "t")
                  .isOk());
  BOOST_TEST(!a.engine
                  .addElement(customer.id, kRecordCode,
                              {attr("kind", "invoice"), attr("debtor", "someone")}, "t")
                  .isOk());
}

BOOST_AUTO_TEST_CASE(concurrent_edits_of_one_records_status_are_a_conflict) {
  RecordId order = record(a, customer.id, {attr("kind", "order")});
  ship(a.engine, b.engine);
  BOOST_REQUIRE(
      a.engine.editElement(customer.id, kRecordCode, order, {attr("status", "done")}, "a").isOk());
  b.clock.set(kT0 + 1000);
  BOOST_REQUIRE(
      b.engine.editElement(customer.id, kRecordCode, order, {attr("status", "waiting")}, "b")
          .isOk());
  exchange();
  auto open = a.engine.conflicts(false);
  BOOST_REQUIRE(open.size() == 1u);
  BOOST_TEST(open[0].field == kRecordCode);
}

BOOST_AUTO_TEST_CASE(a_deleted_record_is_gone_everywhere_and_erase_removes_records) {
  RecordId booking = record(a, customer.id, {attr("kind", "booking"), attr("title", "private")});
  BOOST_REQUIRE(
      a.engine.editElement(customer.id, kRecordCode, booking, {attr("deleted", "true")}, "t")
          .isOk());
  exchange();
  BOOST_TEST(recordsOf(current(b, customer.id)).empty());
  BOOST_REQUIRE(a.engine.erase(customer.id, "admin").isOk());
  exchange();
  BOOST_TEST(current(b, customer.id).elements.empty());
}

BOOST_AUTO_TEST_SUITE_END()
