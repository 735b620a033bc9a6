// `sitesync record ...` (a customer's bookings, work orders, invoices and products) and the
// catalogues (`sitesync groups|discount-types ...`): what a user types and sees, and what
// reaches another site.
#include "tests/cli/cli_support.h"
#include "tests/cli/serve_process.h"

BOOST_AUTO_TEST_SUITE(commands)

BOOST_FIXTURE_TEST_CASE(records_are_added_used_listed_and_counted_on_the_customer, Cli) {
  init();
  const std::string customer = add("Maija Virtanen");
  const std::string payer = add("Virtanen Oy");
  RunResult product = run("record", "add", "--data", data, "--kind", "product", "--customer",
                          customer, "--set", "title=10 visits", "--set", "units=10", "--set",
                          "amount=120.00", "--set", "debtor=" + payer);
  BOOST_TEST_REQUIRE(product.status == 0, product);
  const std::string id = product.out.substr(0, product.out.find('\n'));
  BOOST_TEST_REQUIRE(run("record", "use", "--data", data, "--customer", customer, id, "--units",
                         "3", "--note", "massage")
                         .status == 0);
  BOOST_TEST_REQUIRE(run("record", "add", "--data", data, "--kind", "order", "--customer", customer,
                         "--set", "text=boiler leaks\nwhen hot")
                         .status == 0);

  json shown = runJson("record", "show", "--data", data, id, "--json");  // no --customer: found
  BOOST_TEST(shown["units_left"] == 7);
  BOOST_TEST(shown["amount_cents"] == 12000);
  BOOST_TEST(shown["debtor"] == payer);
  BOOST_TEST(shown["usages"][0]["note"] == "massage");
  json card = show(customer);
  BOOST_TEST(card["record_counts"]["product"] == 1);
  BOOST_TEST(card["record_counts"]["order"] == 1);
  RunResult text = run("customer", "show", "--data", data, customer);
  BOOST_TEST(contains(text.out, "records product: 1, latest " + id), text);
  json orders = runJson("record", "list", "--data", data, "--customer", customer, "--kind", "order",
                        "--json");
  BOOST_TEST_REQUIRE(orders["records"].size() == 1u);
  BOOST_TEST(orders["records"][0]["text"] == "boiler leaks\nwhen hot");

  BOOST_TEST_REQUIRE(run("record", "delete", "--data", data, "--customer", customer,
                         orders["records"][0]["id"].get<std::string>())
                         .status == 0);
  BOOST_TEST(show(customer)["record_counts"].count("order") == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_bad_record_is_refused_with_one_line_and_writes_nothing, Cli) {
  init();
  const std::string customer = add("Maija Virtanen");
  const RunResult product = run("record", "add", "--data", data, "--kind", "product", "--customer",
                                customer, "--set", "units=2");
  const std::string id = product.out.substr(0, product.out.find('\n'));
  const std::string before = state();
  expectError(run("record", "add", "--data", data, "--kind", "visit", "--customer", customer), 2,
              {"--kind", "visit"});
  expectError(run("record", "add", "--data", data, "--kind", "order", "--customer", customer,
                  "--set", "colour=red"),
              2, {"no attribute 'colour'"});
  expectError(run("record", "add", "--data", data, "--kind", "invoice", "--customer", customer,
                  "--set", "due_date=tomorrow"),
              2, {"due_date"});
  expectError(run("record", "use", "--data", data, id, "--units", "3"), 1, {"2 units left"});
  expectError(run("record", "show", "--data", data, "ffffffffffffffff-1"), 2, {"no record"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(catalogues_choose_groups_and_fill_in_a_discount_types_card, Cli) {
  init();
  BOOST_TEST_REQUIRE(
      run("groups", "define", "--data", data, "--name", "vip", "--label", "VIP").status == 0);
  BOOST_TEST_REQUIRE(run("discount-types", "define", "--data", data, "--name", "10-card", "--value",
                         "100", "--price", "90", "--services", "massage,sauna")
                         .status == 0);
  json types = runJson("discount-types", "list", "--data", data, "--json");
  BOOST_TEST_REQUIRE(types.size() == 1u);
  BOOST_TEST(types[0]["valid_months"] == 6);
  BOOST_TEST(types[0]["services"] == json::array({"massage", "sauna"}));

  const std::string before = state();
  expectError(run("customer", "add", "--data", data, "--name", "X", "--group", "gold"), 2,
              {"customer group 'gold' is not in the catalogue"});
  BOOST_TEST(state() == before);
  const std::string customer = add("Maija Virtanen", "--group", "vip");
  BOOST_TEST(show(customer)["customer_group"] == "vip");
  json card = runJson("customer", "discount", "add", "--data", data, customer, "--type", "10-card",
                      "--json")["discounts"][0];
  BOOST_TEST(card["value_cents"] == 10000);
  BOOST_TEST(card["price_paid_cents"] == 9000);
  BOOST_TEST(card["valid_until"].get<std::string>().size() == 10u);  // six months on
  expectError(run("customer", "discount", "add", "--data", data, customer, "--type", "other",
                  "--value", "5"),
              2, {"discount type 'other' is not in the catalogue"});
  BOOST_TEST_REQUIRE(run("groups", "retire", "--data", data, "--name", "vip").status == 0);
  expectError(run("customer", "add", "--data", data, "--name", "Y", "--group", "vip"), 2,
              {"'vip' is retired"});
  BOOST_TEST(show(customer)["customer_group"] == "vip");  // kept where it is used
}

BOOST_FIXTURE_TEST_CASE(a_technician_is_assigned_notified_and_unassigned, Cli) {
  init();
  BOOST_TEST_REQUIRE(
      run("users", "add", "--data", data, "--name", "kim", "--role", "technician").status == 0);
  const std::string customer = add("Maija Virtanen");
  const std::string before = state();
  expectError(run("customer", "assign", "--data", data, customer, "--technician", "nobody"), 2,
              {"no user 'nobody'"});
  BOOST_TEST(state() == before);
  BOOST_TEST_REQUIRE(run("customer", "assign", "--data", data, customer, "--technician", "kim",
                         "--user", "dispatcher")
                         .status == 0);
  BOOST_TEST(show(customer)["technicians"] == json::array({"kim"}));
  json notes = runJson("notifications", "list", "--data", data, "--technician", "kim", "--json");
  BOOST_TEST_REQUIRE(notes["notifications"].size() == 1u);
  BOOST_TEST(notes["notifications"][0]["customer"] == customer);
  BOOST_TEST(notes["notifications"][0]["by"] == "dispatcher");
  BOOST_TEST_REQUIRE(
      run("customer", "unassign", "--data", data, customer, "--technician", "kim").status == 0);
  BOOST_TEST(runJson("notifications", "list", "--data", data, "--technician", "kim",
                     "--json")["notifications"]
                 .empty());
}

BOOST_FIXTURE_TEST_CASE(a_record_and_the_catalogue_reach_a_branch_through_sync, Cli) {
  const std::string hub = (root / "hub").string();
  BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  BOOST_TEST_REQUIRE(run("groups", "define", "--data", hub, "--name", "vip").status == 0);
  ServeProcess serving(hub);
  BOOST_TEST_REQUIRE(
      run("join", "--data", data, "--site", "Branch", "--hub", serving.endpoint()).status == 0);
  const std::string customer = add("Maija Virtanen", "--group", "vip");
  BOOST_TEST_REQUIRE(run("record", "add", "--data", data, "--kind", "booking", "--customer",
                         customer, "--set", "starts_at=2026-12-10T09:00:00Z")
                         .status == 0);
  BOOST_TEST_REQUIRE(run("sync", "--data", data, "--peer", serving.endpoint()).status == 0);
  expectError(run("groups", "define", "--data", data, "--name", "x"), 2,
              {"settings belong to the deployment"});
  json atHub = runJson("customer", "show", "--data", hub, customer, "--json");
  BOOST_TEST(atHub["record_counts"]["booking"] == 1);
  BOOST_TEST(atHub["records"][0]["starts_at"] == "2026-12-10T09:00:00Z");
  BOOST_TEST(run("digest", "--data", hub).out == run("digest", "--data", data).out);
}

BOOST_AUTO_TEST_SUITE_END()
