// End-to-end tests of the API's merges, a customer's contacts, journal entries and discount
// cards, the history, the conflicts and the settings: a real `sitesync serve --api` node, real
// HTTP, and the CLI's JSON as the reference for every shape.
#include <httplib.h>

#include "tests/cli/api_node.h"

namespace {

std::string idOf(const json& customer) {
  return customer["id"].get<std::string>();
}

std::string errorMessage(const httplib::Result& r) {
  return json::parse(r->body)["error"]["message"].get<std::string>();
}

// A customer whose phone has two concurrent values at `node`: written through the API there,
// and at another site that synced the customer from it, then synced its own edit back.
std::string customerInFieldConflict(ApiNode& node, Cli& other) {
  const std::string id = idOf(node.create({{"name", "Disputed"}, {"phone", "040 100"}}));
  other.init("Branch Oulu");
  BOOST_TEST_REQUIRE(
      other.run("sync", "--data", other.data, "--peer", node.serve->endpoint()).status == 0);
  auto here = node.send("PATCH", "/v1/customers/" + id, node.staff, R"({"phone": "040 200"})");
  BOOST_TEST_REQUIRE(here->status == 200, here->body);
  BOOST_TEST_REQUIRE(
      other.run("customer", "edit", "--data", other.data, id, "--set", "phone=040 300").status ==
      0);
  BOOST_TEST_REQUIRE(
      other.run("sync", "--data", other.data, "--peer", node.serve->endpoint()).status == 0);
  return id;
}

// GET /v1/conflicts (`query`: "?all=1" for the resolved too): the list.
json conflicts(ApiNode& node, const std::string& query = "") {
  auto r = node.get("/v1/conflicts" + query, node.viewer);
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  return json::parse(r->body)["conflicts"];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(api)

BOOST_AUTO_TEST_CASE(
    a_merge_absorbs_the_duplicates_takes_the_chosen_values_and_answers_the_survivor) {
  ApiNode node;
  const std::string kept = idOf(node.create({{"name", "Aino Virtanen"}, {"phone", "040 1"}}));
  const std::string dup = idOf(node.create({{"name", "Aino Virtanen-Ek"}, {"email", "a@b.fi"}}));
  auto r = node.post("/v1/customers/" + kept + "/merge", node.staff,
                     {{"absorb", {dup}}, {"take", {{"name", dup}}}});
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  const json survivor = json::parse(r->body);
  BOOST_TEST(survivor["id"] == kept);
  BOOST_TEST(survivor["name"] == "Aino Virtanen-Ek");  // taken from the absorbed one
  BOOST_TEST(survivor["phone"] == "040 1");            // the survivor's own
  BOOST_TEST(survivor["email"] == "a@b.fi");           // set only on the absorbed one
  BOOST_TEST(!r->get_header_value("ETag").empty());
  BOOST_TEST(survivor == node.cli.show(kept));
  BOOST_TEST(node.cli.show(dup)["status"] == "merged into " + kept);
  BOOST_TEST(node.cli.runJson("customer", "history", "--data", node.cli.data, kept, "--json")
                 .back()["user"] == "sami");
}

BOOST_AUTO_TEST_CASE(
    a_merge_into_a_deleted_customer_is_409_an_unknown_one_404_and_nothing_written) {
  ApiNode node;
  const std::string a = idOf(node.create({{"name", "First"}}));
  const std::string b = idOf(node.create({{"name", "Second"}}));
  BOOST_TEST_REQUIRE(
      node.post("/v1/customers/" + a + "/delete", node.admin, json::object())->status == 200);
  const std::string before = node.cli.state();
  auto deleted = node.post("/v1/customers/" + a + "/merge", node.staff, {{"absorb", {b}}});
  BOOST_TEST(deleted->status == 409, deleted->body);
  BOOST_TEST(errorCode(deleted) == "conflict");
  auto absorbDeleted = node.post("/v1/customers/" + b + "/merge", node.staff, {{"absorb", {a}}});
  BOOST_TEST(absorbDeleted->status == 409, absorbDeleted->body);
  auto unknown =
      node.post("/v1/customers/" + b + "/merge", node.staff, {{"absorb", {"0000000000000001-99"}}});
  BOOST_TEST(unknown->status == 404, unknown->body);
  auto unknownTarget =
      node.post("/v1/customers/0000000000000001-99/merge", node.staff, {{"absorb", {b}}});
  BOOST_TEST(unknownTarget->status == 404, unknownTarget->body);
  BOOST_TEST(node.cli.state() == before);
}

BOOST_AUTO_TEST_CASE(a_merge_without_customers_or_into_itself_is_422_with_the_clis_message) {
  ApiNode node;
  const std::string a = idOf(node.create({{"name", "Alone"}}));
  const std::string before = node.cli.state();
  auto none = node.post("/v1/customers/" + a + "/merge", node.staff, {{"absorb", json::array()}});
  BOOST_TEST(none->status == 422, none->body);
  BOOST_TEST(errorCode(none) == "invalid");
  auto itself = node.post("/v1/customers/" + a + "/merge", node.staff, {{"absorb", {a}}});
  BOOST_TEST(itself->status == 422, itself->body);
  RunResult cli = node.cli.run("customer", "merge", "--data", node.cli.data, "--into", a, a);
  BOOST_TEST(contains(cli.err, errorMessage(itself)), cli);
  auto unknownField = node.post("/v1/customers/" + a + "/merge", node.staff,
                                {{"absorb", {a}}, {"take", {{"colour", a}}}});
  BOOST_TEST(unknownField->status == 400, unknownField->body);
  BOOST_TEST(node.cli.state() == before);
}

BOOST_AUTO_TEST_CASE(a_merge_that_takes_a_number_needs_an_admin_and_a_viewer_may_not_merge) {
  ApiNode node;
  const std::string a = idOf(node.create({{"name", "Kept"}}));
  const std::string b = idOf(node.create({{"name", "Absorbed"}}));
  const std::string path = "/v1/customers/" + a + "/merge";
  BOOST_TEST(node.post(path, node.viewer, {{"absorb", {b}}})->status == 403);
  auto staff = node.post(path, node.staff, {{"absorb", {b}}, {"take", {{"number", b}}}});
  BOOST_TEST(staff->status == 403, staff->body);
  BOOST_TEST(errorCode(staff) == "forbidden");
  BOOST_TEST(node.cli.show(b)["status"] == "active");
}

BOOST_AUTO_TEST_CASE(a_contact_is_added_listed_edited_and_removed_as_the_customers_json_shows_it) {
  ApiNode node;
  const std::string id = idOf(node.create({{"name", "Acme Oy"}}));
  const std::string contacts = "/v1/customers/" + id + "/contacts";
  auto added = node.post(contacts, node.staff,
                         {{"name", "Pekka Ek"}, {"phone", "040 222"}, {"send_work_orders", true}});
  BOOST_TEST_REQUIRE(added->status == 201, added->body);
  const json contact = json::parse(added->body);
  BOOST_TEST(added->get_header_value("Location") ==
             contacts + "/" + contact["id"].get<std::string>());
  BOOST_TEST(contact == node.cli.show(id)["contacts"][0]);
  BOOST_TEST(contact["send_work_orders"] == true);
  const std::string one = added->get_header_value("Location");
  auto edited = node.send("PATCH", one, node.staff, R"({"phone": "040 333"})");
  BOOST_TEST_REQUIRE(edited->status == 200, edited->body);
  BOOST_TEST(json::parse(edited->body)["phone"] == "040 333");
  const json listed = json::parse(node.get(contacts, node.viewer)->body);
  BOOST_TEST(listed == json({{"contacts", node.cli.show(id)["contacts"]}}));
  BOOST_TEST(node.send("DELETE", one, node.staff)->status == 204);
  BOOST_TEST(node.cli.show(id)["contacts"].empty());
  BOOST_TEST(node.get(one, node.viewer)->status == 404);
  BOOST_TEST(node.send("DELETE", one, node.staff)->status == 404);
}

BOOST_AUTO_TEST_CASE(a_journal_entry_names_its_api_author_and_is_corrected_and_deleted) {
  ApiNode node;
  const std::string id = idOf(node.create({{"name", "Acme Oy"}}));
  auto written =
      node.post("/v1/customers/" + id + "/journal", node.staff, {{"text", "Serviced the boiler."}});
  BOOST_TEST_REQUIRE(written->status == 201, written->body);
  BOOST_TEST(json::parse(written->body)["author"] == "sami");
  const std::string entry = written->get_header_value("Location");
  auto corrected = node.send("PATCH", entry, node.staff, R"({"text": "Serviced the heat pump."})");
  BOOST_TEST_REQUIRE(corrected->status == 200, corrected->body);
  BOOST_TEST(node.cli.show(id)["journal"][0]["text"] == "Serviced the heat pump.");
  BOOST_TEST(node.send("DELETE", entry, node.staff)->status == 204);
  BOOST_TEST(json::parse(node.get("/v1/customers/" + id + "/journal", node.viewer)->body) ==
             json({{"journal", json::array()}}));
}

BOOST_AUTO_TEST_CASE(a_discount_card_is_added_and_used_and_a_use_beyond_its_balance_is_409) {
  ApiNode node;
  const std::string id = idOf(node.create({{"name", "Acme Oy"}}));
  auto card = node.post("/v1/customers/" + id + "/cards", node.staff,
                        {{"type", "value card"}, {"value_cents", 10000}});
  BOOST_TEST_REQUIRE(card->status == 201, card->body);
  const std::string path = card->get_header_value("Location");
  auto used = node.post(path + "/use", node.staff, {{"amount", "12.50"}, {"visit", "boiler"}});
  BOOST_TEST_REQUIRE(used->status == 200, used->body);
  const json after = json::parse(used->body);
  BOOST_TEST(after["balance_cents"] == 8750);
  BOOST_TEST(after["usages"][0]["visit"] == "boiler");
  BOOST_TEST(after == node.cli.show(id)["discounts"][0]);
  const std::string before = node.cli.state();
  auto beyond = node.post(path + "/use", node.staff, {{"amount_cents", 9000}});
  BOOST_TEST(beyond->status == 409, beyond->body);
  BOOST_TEST(contains(errorMessage(beyond), "87.50 left"), beyond->body);
  BOOST_TEST(node.cli.state() == before);
  auto listed = json::parse(node.get("/v1/customers/" + id + "/cards", node.viewer)->body);
  BOOST_TEST(listed["discounts"].size() == 1u);
  // The customer's JSON calls them discounts: that path is the same collection.
  BOOST_TEST(json::parse(node.get("/v1/customers/" + id + "/discounts", node.viewer)->body) ==
             listed);
}

BOOST_AUTO_TEST_CASE(a_new_contact_without_a_name_is_422_and_a_viewer_may_not_add_one) {
  ApiNode node;
  const std::string id = idOf(node.create({{"name", "Acme Oy"}}));
  const std::string before = node.cli.state();
  auto nameless = node.post("/v1/customers/" + id + "/contacts", node.staff, {{"phone", "040"}});
  BOOST_TEST(nameless->status == 422, nameless->body);
  BOOST_TEST(errorMessage(nameless) == "a new contact needs name");
  auto byViewer = node.post("/v1/customers/" + id + "/contacts", node.viewer, {{"name", "X"}});
  BOOST_TEST(byViewer->status == 403, byViewer->body);
  auto unknownCustomer =
      node.post("/v1/customers/0000000000000001-99/contacts", node.staff, {{"name", "X"}});
  BOOST_TEST(unknownCustomer->status == 404, unknownCustomer->body);
  BOOST_TEST(node.cli.state() == before);
}

BOOST_AUTO_TEST_CASE(the_history_is_the_clis_with_the_api_users_names) {
  ApiNode node;
  const std::string id = idOf(node.create({{"name", "Eero Salo"}}));
  BOOST_TEST_REQUIRE(
      node.send("PATCH", "/v1/customers/" + id, node.admin, R"({"number": "77"})")->status == 200);
  auto r = node.get("/v1/customers/" + id + "/history", node.viewer);
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  const json history = json::parse(r->body)["history"];
  BOOST_TEST(history ==
             node.cli.runJson("customer", "history", "--data", node.cli.data, id, "--json"));
  BOOST_TEST_REQUIRE(history.size() == 2u);
  BOOST_TEST(history[0]["user"] == "sami");
  BOOST_TEST(history[1]["user"] == "ada");
  BOOST_TEST(node.get("/v1/customers/0000000000000001-99/history", node.viewer)->status == 404);
}

BOOST_AUTO_TEST_CASE(a_conflict_is_listed_as_the_cli_lists_it_and_an_admin_resolves_it) {
  ApiNode node;
  Cli other;
  const std::string id = customerInFieldConflict(node, other);
  const json open = conflicts(node);
  BOOST_TEST_REQUIRE(open.size() == 1u, open.dump());
  BOOST_TEST(open == node.cli.runJson("conflicts", "list", "--data", node.cli.data, "--json"));
  BOOST_TEST(open[0]["customer"] == id);
  const std::string resolve = "/v1/conflicts/" + open[0]["id"].get<std::string>() + "/resolve";
  BOOST_TEST(node.post(resolve, node.staff, {{"take", "040 400"}})->status == 403);
  auto resolved = node.post(resolve, node.admin, {{"take", "040 400"}});
  BOOST_TEST_REQUIRE(resolved->status == 200, resolved->body);
  BOOST_TEST(json::parse(resolved->body)["phone"] == "040 400");
  BOOST_TEST(conflicts(node).empty());
  const json all = conflicts(node, "?all=1");
  BOOST_TEST_REQUIRE(all.size() == 1u, all.dump());
  BOOST_TEST(all[0]["resolution"]["user"] == "ada");
}

BOOST_AUTO_TEST_CASE(the_change_feed_has_an_event_for_a_conflict_opened_and_one_for_it_resolved) {
  ApiNode node;
  Cli other;
  customerInFieldConflict(node, other);
  auto page = node.get("/v1/changes?limit=1000", node.viewer);
  BOOST_TEST_REQUIRE(page->status == 200, page->body);
  const json events = json::parse(page->body)["events"];
  const json open = conflicts(node);
  BOOST_TEST_REQUIRE(open.size() == 1u, open.dump());
  std::vector<json> opened;
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i]["kind"] == "conflict_opened") {
      opened.push_back(events[i]);
      BOOST_TEST_REQUIRE(i > 0u);  // right after the change that opened it, with its cursor
      BOOST_TEST(events[i - 1]["cursor"] == events[i]["cursor"]);
      const json phone = events[i - 1]["fields"]["phone"];
      BOOST_TEST((phone == open[0]["loser"]["value"] || phone == open[0]["winner"]["value"]));
    }
  BOOST_TEST_REQUIRE(opened.size() == 1u, events.dump());
  BOOST_TEST(opened[0]["conflict"] == open[0]);
  const std::string next = json::parse(page->body)["next"];
  auto resolved = node.post("/v1/conflicts/" + open[0]["id"].get<std::string>() + "/resolve",
                            node.admin, {{"take", "040 400"}});
  BOOST_TEST_REQUIRE(resolved->status == 200, resolved->body);
  const json after =
      json::parse(node.get("/v1/changes?after=" + next, node.viewer)->body)["events"];
  BOOST_TEST_REQUIRE(after.size() == 2u, after.dump());
  BOOST_TEST(after[0]["kind"] == "update");
  BOOST_TEST(after[1]["kind"] == "conflict_resolved");
  BOOST_TEST(after[1]["cursor"] == after[0]["cursor"]);
  BOOST_TEST(after[1]["conflict"]["id"] == open[0]["id"]);
  BOOST_TEST(after[1]["conflict"]["resolution"]["user"] == "ada");
}

BOOST_AUTO_TEST_CASE(the_change_feed_has_events_for_a_number_conflict_opened_and_resolved) {
  ApiNode node;
  const json here = node.create({{"name", "Numbered Here"}});
  Cli other;
  other.init("Branch Oulu");
  other.add("Numbered There", "--number", here["number"].get<std::string>());
  BOOST_TEST_REQUIRE(
      other.run("sync", "--data", other.data, "--peer", node.serve->endpoint()).status == 0);
  const json open = conflicts(node);
  BOOST_TEST_REQUIRE(open.size() == 1u, open.dump());
  auto page = json::parse(node.get("/v1/changes?limit=1000", node.viewer)->body);
  std::vector<json> opened;
  for (const json& e : page["events"])
    if (e["kind"] == "conflict_opened") opened.push_back(e);
  BOOST_TEST_REQUIRE(opened.size() == 1u, page.dump());
  BOOST_TEST(opened[0]["conflict"] == open[0]);  // the id and shape GET /v1/conflicts lists
  BOOST_TEST(opened[0]["conflict"]["kind"] == "number");

  auto kept = node.post("/v1/conflicts/" + open[0]["id"].get<std::string>() + "/resolve",
                        node.admin, {{"keep_winner", true}});
  BOOST_TEST_REQUIRE(kept->status == 200, kept->body);
  const json after = json::parse(
      node.get("/v1/changes?after=" + page["next"].get<std::string>(), node.viewer)->body);
  std::vector<json> resolved;
  for (const json& e : after["events"])
    if (e["kind"] == "conflict_resolved") resolved.push_back(e);
  BOOST_TEST_REQUIRE(resolved.size() == 1u, after.dump());
  BOOST_TEST(resolved[0]["conflict"]["id"] == open[0]["id"]);
  BOOST_TEST(resolved[0]["conflict"]["resolution"]["user"] == "ada");
  BOOST_TEST(resolved[0]["conflict"]["resolution"]["value"] == json::parse(kept->body)["number"]);
}

BOOST_AUTO_TEST_CASE(keeping_the_winner_of_a_conflict_closes_it_with_the_value_shown) {
  ApiNode node;
  Cli other;
  customerInFieldConflict(node, other);
  const json open = conflicts(node);
  BOOST_TEST_REQUIRE(open.size() == 1u, open.dump());
  auto kept = node.post("/v1/conflicts/" + open[0]["id"].get<std::string>() + "/resolve",
                        node.admin, {{"keep_winner", true}});
  BOOST_TEST_REQUIRE(kept->status == 200, kept->body);
  BOOST_TEST(json::parse(kept->body)["phone"] == open[0]["winner"]["value"]);
  BOOST_TEST(conflicts(node).empty());
}

BOOST_AUTO_TEST_CASE(keeping_the_winner_of_a_number_conflict_renumbers_the_loser_as_the_api_user) {
  ApiNode node;
  const json here = node.create({{"name", "Numbered Here"}});
  Cli other;
  other.init("Branch Oulu");
  const std::string there =
      other.add("Numbered There", "--number", here["number"].get<std::string>());
  BOOST_TEST_REQUIRE(
      other.run("sync", "--data", other.data, "--peer", node.serve->endpoint()).status == 0);
  const json open = conflicts(node);
  BOOST_TEST_REQUIRE(open.size() == 1u, open.dump());
  BOOST_TEST_REQUIRE(open[0]["kind"] == "number");
  const std::string loser = open[0]["customer"];
  auto kept = node.post("/v1/conflicts/" + open[0]["id"].get<std::string>() + "/resolve",
                        node.admin, {{"keep_winner", true}});
  BOOST_TEST_REQUIRE(kept->status == 200, kept->body);
  const json renumbered = json::parse(kept->body);
  BOOST_TEST(renumbered["id"] == loser);
  BOOST_TEST(renumbered["number"] != here["number"]);
  BOOST_TEST(conflicts(node).empty());
  const json history =
      json::parse(node.get("/v1/customers/" + loser + "/history", node.viewer)->body);
  BOOST_TEST(history["history"].back()["user"] == "ada");
}

BOOST_AUTO_TEST_CASE(resolving_an_unknown_conflict_is_404_and_a_resolution_needs_one_choice) {
  ApiNode node;
  auto unknown = node.post("/v1/conflicts/0123456789ab/resolve", node.admin, {{"take", "x"}});
  BOOST_TEST(unknown->status == 404, unknown->body);
  auto both = node.post("/v1/conflicts/0123456789ab/resolve", node.admin,
                        {{"take", "x"}, {"keep_winner", true}});
  BOOST_TEST(both->status == 400, both->body);
  auto neither = node.post("/v1/conflicts/0123456789ab/resolve", node.admin, json::object());
  BOOST_TEST(neither->status == 400, neither->body);
}

BOOST_AUTO_TEST_CASE(an_admin_changes_a_setting_and_staff_may_not) {
  ApiNode node;
  auto byStaff = node.send("PUT", "/v1/settings", node.staff, R"({"ssn_unique": "true"})");
  BOOST_TEST(byStaff->status == 403, byStaff->body);
  auto byAdmin = node.send("PUT", "/v1/settings", node.admin,
                           R"({"ssn_unique": true, "journal_edit_window_hours": 48})");
  BOOST_TEST_REQUIRE(byAdmin->status == 200, byAdmin->body);
  const json settings = json::parse(byAdmin->body);
  BOOST_TEST(settings["ssn_unique"] == "true");
  BOOST_TEST(settings["journal_edit_window_hours"] == "48");
  BOOST_TEST(settings == node.cli.runJson("settings", "show", "--data", node.cli.data, "--json"));
  BOOST_TEST(json::parse(node.get("/v1/settings", node.viewer)->body) == settings);
}

BOOST_AUTO_TEST_CASE(a_bad_setting_value_is_422_with_the_clis_message_and_nothing_written) {
  ApiNode node;
  const std::string before = node.cli.state();
  auto bad = node.send("PUT", "/v1/settings", node.admin, R"({"number_min_length": "many"})");
  BOOST_TEST(bad->status == 422, bad->body);
  BOOST_TEST(errorCode(bad) == "invalid");
  RunResult cli =
      node.cli.run("settings", "set", "--data", node.cli.data, "number_min_length=many");
  BOOST_TEST(contains(cli.err, errorMessage(bad)), cli);
  auto crossed = node.send("PUT", "/v1/settings", node.admin,
                           R"({"number_min_length": "9", "number_max_length": "3"})");
  BOOST_TEST(crossed->status == 422, crossed->body);
  auto unknown = node.send("PUT", "/v1/settings", node.admin, R"({"colour": "red"})");
  BOOST_TEST(unknown->status == 400, unknown->body);
  BOOST_TEST(errorCode(unknown) == "unknown_field");
  BOOST_TEST(node.cli.state() == before);
}

BOOST_AUTO_TEST_SUITE_END()
