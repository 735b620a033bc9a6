// End-to-end: the card's collections from the command line (contacts, journal, discount cards).
#include "tests/cli/cli_support.h"

BOOST_AUTO_TEST_SUITE(commands)

BOOST_FIXTURE_TEST_CASE(contacts_journal_entries_and_discount_cards_show_on_the_card, Cli) {
  init();
  const std::string id = add("Acme Oy", "--phone", "040 111");
  RunResult contact = run("customer", "contact", "add", "--data", data, id, "--name", "Pekka Ek",
                          "--phone", "040 222", "--work-orders");
  BOOST_TEST_REQUIRE(contact.status == 0, contact);
  BOOST_TEST(isRecordId(trimNewline(contact.out)), contact);
  RunResult entry = run("customer", "journal", "add", "--data", data, "#1000", "--text",
                        "Serviced the boiler.\nNext visit in May.");
  BOOST_TEST_REQUIRE(entry.status == 0, entry);
  RunResult card = run("customer", "discount", "add", "--data", data, id, "--type", "value card",
                       "--value", "100", "--price", "90.00");
  BOOST_TEST_REQUIRE(card.status == 0, card);
  RunResult use = run("customer", "discount", "use", "--data", data, id, trimNewline(card.out),
                      "--amount", "12.50", "--visit", "2026-11-25 boiler");
  BOOST_TEST_REQUIRE(use.status == 0, use);

  json c = show(id);
  BOOST_TEST_REQUIRE(c["contacts"].size() == 1u);
  BOOST_TEST(c["contacts"][0]["name"] == "Pekka Ek");
  BOOST_TEST(c["contacts"][0]["send_work_orders"] == true);
  BOOST_TEST_REQUIRE(c["journal"].size() == 1u);
  BOOST_TEST(c["journal"][0]["text"] == "Serviced the boiler.\nNext visit in May.");
  BOOST_TEST(c["journal"][0]["id"] == trimNewline(entry.out));
  BOOST_TEST_REQUIRE(c["discounts"].size() == 1u);
  BOOST_TEST(c["discounts"][0]["value_cents"] == 10000);
  BOOST_TEST(c["discounts"][0]["price_paid_cents"] == 9000);
  BOOST_TEST(c["discounts"][0]["balance_cents"] == 8750);
  BOOST_TEST(c["discounts"][0]["usages"][0]["visit"] == "2026-11-25 boiler");

  RunResult text = run("customer", "show", "--data", data, id);
  BOOST_TEST(contains(text.out, "balance 87.50"), text);
  BOOST_TEST(contains(text.out, "    Next visit in May."), text);
}

BOOST_FIXTURE_TEST_CASE(removing_a_contact_and_deleting_an_entry_take_them_off_the_card, Cli) {
  init();
  const std::string id = add("Acme Oy");
  const std::string contact =
      trimNewline(run("customer", "contact", "add", "--data", data, id, "--name", "Pekka").out);
  const std::string entry =
      trimNewline(run("customer", "journal", "add", "--data", data, id, "--text", "oops").out);
  BOOST_TEST(run("customer", "contact", "remove", "--data", data, id, contact).status == 0);
  BOOST_TEST(run("customer", "journal", "delete", "--data", data, id, entry).status == 0);
  json c = show(id);
  BOOST_TEST(c["contacts"].empty());
  BOOST_TEST(c["journal"].empty());
}

BOOST_FIXTURE_TEST_CASE(spending_beyond_a_cards_balance_is_refused_and_changes_nothing, Cli) {
  init();
  const std::string id = add("Acme Oy");
  const std::string card = trimNewline(run("customer", "discount", "add", "--data", data, id,
                                           "--type", "member card", "--value", "20")
                                           .out);
  const std::string contact =
      trimNewline(run("customer", "contact", "add", "--data", data, id, "--name", "Pekka").out);
  const std::string before = state();
  expectError(run("customer", "discount", "use", "--data", data, id, card, "--amount", "20.01"), 1,
              {"20.00 left", "20.01"});
  expectError(run("customer", "discount", "use", "--data", data, id, card, "--amount", "ten"), 2,
              {"--amount", "12.50"});
  expectError(run("customer", "journal", "edit", "--data", data, id, "not-an-id", "--text", "x"), 2,
              {"not-an-id"});
  expectError(
      run("customer", "contact", "edit", "--data", data, id, contact, "--set", "colour=red"), 2,
      {"colour"});
  expectError(run("customer", "contact", "edit", "--data", data, id, card, "--set", "name=X"), 2,
              {"no contact"});
  BOOST_TEST(state() == before);
}

BOOST_AUTO_TEST_SUITE_END()
