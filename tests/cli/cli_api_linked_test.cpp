// End-to-end tests of the API's linked records (/v1/customers/{id}/records), catalogues
// (/v1/catalogue) and the admin's definitions (PUT /v1/fields/{name}): a real `sitesync serve
// --api` node, real HTTP, and the CLI's JSON as the reference for every shape.
#include <httplib.h>

#include "tests/cli/api_node.h"

namespace {

std::string idOf(const json& customer) {
  return customer["id"].get<std::string>();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(api)

BOOST_AUTO_TEST_CASE(a_product_is_sold_used_and_listed_as_the_cli_shows_it) {
  ApiNode node;
  const std::string id = idOf(node.create({{"name", "Maija Virtanen"}}));
  const json payer = node.create({{"name", "Virtanen Oy"}});
  const std::string payerRef = "#" + payer["number"].get<std::string>();
  auto sold =
      node.post("/v1/customers/" + id + "/records", node.staff,
                {{"kind", "product"}, {"title", "10 visits"}, {"units", 10}, {"debtor", payerRef}});
  BOOST_TEST_REQUIRE(sold->status == 201, sold->body);
  const std::string path = sold->get_header_value("Location");
  BOOST_TEST(json::parse(sold->body)["debtor"] == idOf(payer));
  auto used = node.post(path + "/use", node.staff, {{"units", 4}, {"note", "massage"}});
  BOOST_TEST_REQUIRE(used->status == 200, used->body);
  const json record = json::parse(used->body);
  BOOST_TEST(record["units_left"] == 6);
  BOOST_TEST(record == node.cli.show(id)["records"][0]);
  const std::string before = node.cli.state();
  auto beyond = node.post(path + "/use", node.staff, {{"units", 7}});
  BOOST_TEST(beyond->status == 409, beyond->body);
  auto changeKind = node.send("PATCH", path, node.staff, R"({"kind": "invoice"})");
  BOOST_TEST(changeKind->status == 422, changeKind->body);
  auto byViewer = node.post("/v1/customers/" + id + "/records", node.viewer, {{"kind", "order"}});
  BOOST_TEST(byViewer->status == 403, byViewer->body);
  BOOST_TEST(node.cli.state() == before);
  auto listed = json::parse(node.get("/v1/customers/" + id + "/records", node.viewer)->body);
  BOOST_TEST(listed["records"].size() == 1u);
  BOOST_TEST(node.send("DELETE", path, node.staff, "")->status == 204);
  BOOST_TEST(node.cli.show(id)["records"].empty());
}

BOOST_AUTO_TEST_CASE(an_admin_defines_fields_and_catalogue_entries_that_bind_writes) {
  ApiNode node;
  auto field = node.send("PUT", "/v1/fields/tier", node.admin,
                         R"({"kind": "choice", "choices": ["gold", "silver"]})");
  BOOST_TEST_REQUIRE(field->status == 200, field->body);
  BOOST_TEST(json::parse(field->body)["fields"][0]["choices"].size() == 2u);
  auto group = node.send("PUT", "/v1/catalogue/groups/vip", node.admin, R"({"label": "VIP"})");
  BOOST_TEST_REQUIRE(group->status == 200, group->body);
  auto type = node.send("PUT", "/v1/catalogue/discount-types/10-card", node.admin,
                        R"({"value_cents": 10000, "price_cents": 9000, "valid_months": 12})");
  BOOST_TEST_REQUIRE(type->status == 200, type->body);
  const json catalogue = json::parse(node.get("/v1/catalogue", node.viewer)->body);
  BOOST_TEST(catalogue["customer_groups"][0]["name"] == "vip");
  BOOST_TEST(catalogue["discount_types"][0]["valid_months"] == 12);
  BOOST_TEST(catalogue["discount_types"] ==
             node.cli.runJson("discount-types", "list", "--data", node.cli.data, "--json"));

  BOOST_TEST(node.send("PUT", "/v1/catalogue/groups/x", node.staff, "{}")->status == 403);
  BOOST_TEST(node.send("PUT", "/v1/fields/x", node.admin, R"({"kind": "colour"})")->status == 422);
  auto refused = node.post("/v1/customers", node.staff,
                           {{"name", "X"}, {"customer_group", "gold"}, {"custom.tier", "gold"}});
  BOOST_TEST(refused->status == 422, refused->body);
  const std::string id = idOf(node.create(
      {{"name", "Maija Virtanen"}, {"customer_group", "vip"}, {"custom.tier", "gold"}}));
  auto card = node.post("/v1/customers/" + id + "/cards", node.staff, {{"type", "10-card"}});
  BOOST_TEST_REQUIRE(card->status == 201, card->body);
  BOOST_TEST(json::parse(card->body)["value_cents"] == 10000);
}

BOOST_AUTO_TEST_CASE(staff_assign_a_technician_who_reads_the_notification_and_no_one_elses) {
  ApiNode node;
  const std::string tech = node.addUser("kim", "technician");
  node.stop();  // the users are read when serving starts; a new one is seen within 500 ms too
  node.start();
  const std::string id = idOf(node.create({{"name", "Maija Virtanen"}}));
  auto assigned =
      node.post("/v1/customers/" + id + "/technicians", node.staff, {{"technician", "kim"}});
  BOOST_TEST_REQUIRE(assigned->status == 200, assigned->body);
  BOOST_TEST(json::parse(assigned->body)["technicians"] == json::array({"kim"}));
  auto mine = node.get("/v1/notifications", tech);
  BOOST_TEST_REQUIRE(mine->status == 200, mine->body);
  const json notes = json::parse(mine->body)["notifications"];
  BOOST_TEST_REQUIRE(notes.size() == 1u);
  BOOST_TEST(notes[0]["customer"] == id);
  BOOST_TEST(notes[0]["by"] == "sami");
  BOOST_TEST(node.get("/v1/notifications?technician=sami", tech)->status == 403);
  BOOST_TEST(
      node.post("/v1/customers/" + id + "/technicians", node.staff, {{"technician", "nobody"}})
          ->status == 422);
  // The technician writes to the customer assigned to them: a field, a work order, its units.
  auto phone = node.send("PATCH", "/v1/customers/" + id, tech, R"({"phone": "040 555"})");
  BOOST_TEST(phone->status == 200, phone->body);
  auto order = node.post("/v1/customers/" + id + "/records", tech,
                         {{"kind", "order"}, {"text", "boiler serviced"}});
  BOOST_TEST(order->status == 201, order->body);
  const std::string other = idOf(node.create({{"name", "Someone Else"}}));
  const std::string before = node.cli.state();
  auto refused = node.send("PATCH", "/v1/customers/" + other, tech, R"({"phone": "040 1"})");
  BOOST_TEST(refused->status == 403, refused->body);
  BOOST_TEST(errorCode(refused) == "not_assigned");
  BOOST_TEST(node.post("/v1/customers/" + other + "/journal", tech, {{"text", "x"}})->status ==
             403);
  BOOST_TEST(node.cli.state() == before);

  auto removed = node.send("DELETE", "/v1/customers/" + id + "/technicians/kim", node.staff);
  BOOST_TEST_REQUIRE(removed->status == 200, removed->body);
  BOOST_TEST(json::parse(node.get("/v1/notifications", tech)->body)["notifications"].empty());
  BOOST_TEST(node.send("PATCH", "/v1/customers/" + id, tech, R"({"phone": "040 6"})")->status ==
             403);
}

BOOST_AUTO_TEST_SUITE_END()
