// The card's collections (DESIGN.md sections 3 and 6): contacts, journal entries and discount
// cards replicate element by element; concurrent edits of one attribute are conflicts, elements
// added at two sites both stay, usages are append-only, merges move them, erase removes them.
#include <boost/test/unit_test.hpp>

#include "tests/unit/sync_fixture.h"

namespace {

Edit attr(uint16_t kind, const std::string& attribute, const std::string& value) {
  return Edit{kind, attribute, value};
}

const sync::CardElement* find(const Customer& c, uint16_t kind, RecordId id) {
  static std::vector<sync::CardElement> held;
  held = sync::cardElements(c);
  for (const auto& e : held)
    if (e.kind == kind && e.id == id) return &e;
  return nullptr;
}

size_t countOf(const Customer& c, uint16_t kind) {
  size_t n = 0;
  for (const auto& e : sync::cardElements(c)) n += e.kind == kind && !e.gone() ? 1 : 0;
  return n;
}

struct CardFixture : SyncFixture {
  Site b{kSiteB, "branch-b"};
  Customer customer = created(a, "Acme Oy");

  RecordId added(Site& site, uint16_t kind, const std::vector<Edit>& attributes) {
    auto r = site.engine.addElement(customer.id, kind, attributes, "tester");
    BOOST_REQUIRE_MESSAGE(r.isOk(), "add refused: " << r.status().message());
    return r.value();
  }
  RecordId card(Site& site, const std::string& valueCents) {
    return added(site, kDiscountCode,
                 {attr(kDiscountCode, "type", "value card"),
                  attr(kDiscountCode, "value_cents", valueCents)});
  }
  void exchange() {
    ship(a.engine, b.engine);
    ship(b.engine, a.engine);
    BOOST_REQUIRE(a.engine.digestHex() == b.engine.digestHex());
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(sync_engine, CardFixture)

BOOST_AUTO_TEST_CASE(contacts_added_at_two_sites_offline_both_stay) {
  ship(a.engine, b.engine);
  added(a, kContactCode, {attr(kContactCode, "name", "Pekka")});
  added(b, kContactCode, {attr(kContactCode, "name", "Liisa")});
  exchange();
  BOOST_TEST(countOf(current(a, customer.id), kContactCode) == 2u);
  BOOST_TEST(a.engine.conflicts(false).empty());
}

BOOST_AUTO_TEST_CASE(concurrent_edits_of_one_contacts_phone_are_a_conflict_a_resolution_closes) {
  RecordId pekka = added(a, kContactCode, {attr(kContactCode, "name", "Pekka")});
  ship(a.engine, b.engine);
  BOOST_REQUIRE(a.engine
                    .editElement(customer.id, kContactCode, pekka,
                                 {attr(kContactCode, "phone", "040 111")}, "a")
                    .isOk());
  b.clock.set(kT0 + 1000);
  BOOST_REQUIRE(b.engine
                    .editElement(customer.id, kContactCode, pekka,
                                 {attr(kContactCode, "phone", "040 222")}, "b")
                    .isOk());
  exchange();
  auto open = a.engine.conflicts(false);
  BOOST_REQUIRE(open.size() == 1u);
  BOOST_TEST(open[0].field == kContactCode);
  BOOST_TEST(open[0].winner.value == "040 222");
  BOOST_TEST(open[0].loser.value == "040 111");
  BOOST_REQUIRE(a.engine.resolveConflict(open[0].id, std::string("040 333"), "admin").isOk());
  exchange();
  BOOST_TEST(b.engine.conflicts(false).empty());
  BOOST_TEST(find(current(b, customer.id), kContactCode, pekka)->attributes.at("phone") ==
             "040 333");
}

BOOST_AUTO_TEST_CASE(two_sites_spending_from_one_card_offline_both_count_and_it_is_flagged) {
  RecordId c = card(a, "5000");
  ship(a.engine, b.engine);
  BOOST_REQUIRE(a.engine.useDiscount(customer.id, c, 3000, "visit 1", "a").isOk());
  BOOST_REQUIRE(b.engine.useDiscount(customer.id, c, 4000, "visit 2", "b").isOk());
  exchange();
  const Customer shown = current(a, customer.id);
  const auto* e = find(shown, kDiscountCode, c);
  BOOST_REQUIRE(e);
  BOOST_TEST(e->usages.size() == 2u);
  BOOST_TEST(e->balanceCents == -2000);
  auto flags = b.engine.flags(current(b, customer.id));
  BOOST_TEST((std::find(flags.begin(), flags.end(), "discount_overdrawn") != flags.end()));
}

BOOST_AUTO_TEST_CASE(a_usage_beyond_the_balance_is_refused_and_writes_nothing) {
  RecordId c = card(a, "5000");
  BOOST_REQUIRE(a.engine.useDiscount(customer.id, c, 3000, "", "a").isOk());
  const auto before = snapshot(a);
  auto r = a.engine.useDiscount(customer.id, c, 2001, "", "a");
  BOOST_TEST(!r.isOk());
  BOOST_TEST(r.status().message().find("20.00 left") != std::string::npos);
  BOOST_TEST((snapshot(a) == before));
}

BOOST_AUTO_TEST_CASE(a_journal_entry_is_editable_only_within_the_edit_window) {
  configure(a, {setting(SettingsField::journalEditWindowHours, "2")});
  RecordId entry = added(a, kJournalCode, {attr(kJournalCode, "text", "first visit\nall fine")});
  a.clock.set(kT0 + kHour);
  BOOST_TEST(a.engine
                 .editElement(customer.id, kJournalCode, entry,
                              {attr(kJournalCode, "text", "first visit, all fine")}, "tester")
                 .isOk());
  a.clock.set(kT0 + 3 * kHour);
  const auto before = snapshot(a);
  auto late = a.engine.editElement(customer.id, kJournalCode, entry,
                                   {attr(kJournalCode, "text", "rewritten")}, "tester");
  BOOST_TEST(!late.isOk());
  BOOST_TEST(late.status().message().find("journal_edit_window_hours") != std::string::npos);
  BOOST_TEST((snapshot(a) == before));
  const auto* e = find(current(a, customer.id), kJournalCode, entry);
  BOOST_TEST(e->attributes.at("text") == "first visit, all fine");
  BOOST_TEST(e->attributes.at("author") == "tester");
}

BOOST_AUTO_TEST_CASE(a_deleted_journal_entry_is_gone_from_the_card_on_every_site) {
  RecordId entry = added(a, kJournalCode, {attr(kJournalCode, "text", "wrong customer")});
  BOOST_REQUIRE(a.engine
                    .editElement(customer.id, kJournalCode, entry,
                                 {attr(kJournalCode, "deleted", "true")}, "tester")
                    .isOk());
  exchange();
  BOOST_TEST(countOf(current(b, customer.id), kJournalCode) == 0u);
  BOOST_TEST(!b.engine
                  .editElement(customer.id, kJournalCode, entry,
                               {attr(kJournalCode, "text", "again")}, "tester")
                  .isOk());
}

BOOST_AUTO_TEST_CASE(an_unknown_attribute_or_a_bad_value_is_refused) {
  BOOST_TEST(
      !a.engine.addElement(customer.id, kContactCode, {attr(kContactCode, "colour", "x")}, "t")
           .isOk());
  BOOST_TEST(!a.engine
                  .addElement(customer.id, kContactCode,
                              {attr(kContactCode, "name", "P"), attr(kContactCode, "email", "x")},
                              "t")
                  .isOk());
  BOOST_TEST(
      !a.engine
           .addElement(customer.id, kDiscountCode, {attr(kDiscountCode, "type", "value card")}, "t")
           .isOk());  // no value
}

BOOST_AUTO_TEST_CASE(a_merge_moves_the_absorbed_customers_contacts_journal_and_cards) {
  Customer dup = created(a, "Acme Oy (old)");
  BOOST_REQUIRE(
      a.engine.addElement(dup.id, kContactCode, {attr(kContactCode, "name", "Pekka")}, "t").isOk());
  BOOST_REQUIRE(
      a.engine.addElement(dup.id, kJournalCode, {attr(kJournalCode, "text", "note")}, "t").isOk());
  auto cardId = a.engine.addElement(
      dup.id, kDiscountCode,
      {attr(kDiscountCode, "type", "member card"), attr(kDiscountCode, "value_cents", "1000")},
      "t");
  BOOST_REQUIRE(cardId.isOk());
  ship(a.engine, b.engine);
  BOOST_REQUIRE(a.engine.merge(customer.id, {dup.id}, {}, "hq").isOk());
  // A usage made offline at b on the absorbed customer's card still counts on the survivor.
  BOOST_REQUIRE(b.engine.useDiscount(dup.id, cardId.value(), 400, "", "b").isOk());
  exchange();
  const Customer survivor = current(a, customer.id);
  BOOST_TEST(countOf(survivor, kContactCode) == 1u);
  BOOST_TEST(countOf(survivor, kJournalCode) == 1u);
  BOOST_TEST(find(survivor, kDiscountCode, cardId.value())->balanceCents == 600);
  // ... and the survivor's card can be spent from after the merge.
  BOOST_TEST(a.engine.useDiscount(customer.id, cardId.value(), 600, "", "a").isOk());
}

BOOST_AUTO_TEST_CASE(erase_removes_contacts_journal_and_cards_everywhere) {
  added(a, kJournalCode, {attr(kJournalCode, "text", "diagnosis: private")});
  added(a, kContactCode, {attr(kContactCode, "name", "Pekka")});
  exchange();
  BOOST_REQUIRE(a.engine.erase(customer.id, "admin").isOk());
  exchange();
  BOOST_TEST(current(b, customer.id).elements.empty());
  for (const auto& ch : log(b))
    for (const auto& w : ch.writes) BOOST_TEST(w.value.find("private") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_peers_change_with_a_malformed_element_key_is_refused_and_writes_nothing) {
  ship(a.engine, b.engine);
  RecordId entry = added(a, kJournalCode, {attr(kJournalCode, "text", "ok")});
  Change bad = lastChange(a);
  bad.writes[0].key = entry.toString() + "/password";
  std::string bytes;
  encode(bad, bytes);
  const auto before = snapshot(b);
  BOOST_CHECK_THROW(b.engine.applyBatch({bytes}), std::exception);
  BOOST_TEST((snapshot(b) == before));
}

BOOST_AUTO_TEST_SUITE_END()
