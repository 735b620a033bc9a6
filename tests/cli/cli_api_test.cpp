// End-to-end tests of the application API: `sitesync serve --api 127.0.0.1:0` as a real node,
// real HTTP over loopback (httplib::Client), users made with `sitesync users`.
#include <httplib.h>

#include <thread>

#include "tests/cli/api_node.h"

BOOST_AUTO_TEST_SUITE(api)

BOOST_AUTO_TEST_CASE(creating_a_customer_answers_201_with_its_location_an_etag_and_the_cli_json) {
  ApiNode node;
  auto r = node.post("/v1/customers", node.staff,
                     {{"name", "Aino Virtanen"}, {"phone", "+358401234567"}});
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  const json created = json::parse(r->body);
  const std::string id = created["id"];
  BOOST_TEST(r->get_header_value("Location") == "/v1/customers/" + id);
  BOOST_TEST(!r->get_header_value("ETag").empty());
  auto read = node.get("/v1/customers/" + id, node.viewer);
  BOOST_TEST_REQUIRE(read->status == 200, read->body);
  BOOST_TEST(read->get_header_value("ETag") == r->get_header_value("ETag"));
  // One implementation of the customer's JSON: the API's is the CLI's.
  BOOST_TEST(json::parse(read->body) == node.cli.show(id));
  auto byNumber =
      node.get("/v1/customers/by-number/" + created["number"].get<std::string>(), node.viewer);
  BOOST_TEST(byNumber->status == 200, byNumber->body);
  BOOST_TEST(node.get("/v1/customers/0000000000000000-9", node.viewer)->status == 404);
}

BOOST_AUTO_TEST_CASE(the_history_names_the_api_user_who_made_the_change) {
  ApiNode node;
  const json created = node.create({{"name", "Eero Salo"}});
  json history = node.cli.runJson("customer", "history", "--data", node.cli.data,
                                  created["id"].get<std::string>(), "--json");
  BOOST_TEST(history[0]["user"] == "sami");
}

BOOST_AUTO_TEST_CASE(a_search_pages_through_its_matches_with_an_opaque_cursor) {
  ApiNode node;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(node.create({{"name", "Paging Person " + std::to_string(i)}})["id"]);
  node.create({{"name", "Someone Else"}});
  std::vector<std::string> seen;
  std::string path = "/v1/customers?q=Paging&limit=2";
  for (int page = 0; page < 10; ++page) {
    auto r = node.get(path, node.viewer);
    BOOST_TEST_REQUIRE(r->status == 200, r->body);
    const json j = json::parse(r->body);
    BOOST_TEST(j["customers"].size() <= 2u);
    for (const auto& c : j["customers"]) seen.push_back(c["id"]);
    if (j["next"].is_null()) break;
    path = "/v1/customers?q=Paging&limit=2&after=" + j["next"].get<std::string>();
  }
  std::sort(ids.begin(), ids.end());
  BOOST_TEST(seen == ids, "pages gave each match once, in id order");
  BOOST_TEST(node.get("/v1/customers?limit=0", node.viewer)->status == 400);
  BOOST_TEST(node.get("/v1/customers?after=%21%21", node.viewer)->status == 400);
  BOOST_TEST(node.get("/v1/customers?status=gone", node.viewer)->status == 400);
}

BOOST_AUTO_TEST_CASE(a_patch_with_a_stale_if_match_is_refused_with_412_and_nothing_written) {
  ApiNode node;
  auto created = node.post("/v1/customers", node.staff, {{"name", "Liisa Koski"}});
  const std::string path = created->get_header_value("Location");
  const std::string firstTag = created->get_header_value("ETag");
  auto first =
      node.send("PATCH", path, node.staff, R"({"invoice_city": "Oulu"})", {{"If-Match", firstTag}});
  BOOST_TEST_REQUIRE(first->status == 200, first->body);
  BOOST_TEST(first->get_header_value("ETag") != firstTag);
  const std::string before = node.cli.state();
  auto stale = node.send("PATCH", path, node.staff, R"({"invoice_city": "Turku"})",
                         {{"If-Match", firstTag}});
  BOOST_TEST(stale->status == 412, stale->body);
  BOOST_TEST(errorCode(stale) == "precondition_failed");
  BOOST_TEST(node.cli.state() == before);
  BOOST_TEST(json::parse(node.get(path, node.viewer)->body)["invoice_city"] == "Oulu");
}

BOOST_AUTO_TEST_CASE(of_concurrent_patches_with_the_same_if_match_exactly_one_is_written) {
  ApiNode node;
  auto created = node.post("/v1/customers", node.staff, {{"name", "Contested"}});
  const std::string path = created->get_header_value("Location");
  const std::string tag = created->get_header_value("ETag");
  std::vector<int> statuses(8);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < statuses.size(); ++i)
    clients.emplace_back([&, i] {
      const std::string body = json{{"invoice_city", "City " + std::to_string(i)}}.dump();
      auto r = node.send("PATCH", path, node.staff, body, {{"If-Match", tag}});
      statuses[i] = r ? r->status : -1;
    });
  for (auto& client : clients) client.join();
  BOOST_TEST(std::count(statuses.begin(), statuses.end(), 200) == 1);
  BOOST_TEST(std::count(statuses.begin(), statuses.end(), 412) == 7);
}

BOOST_AUTO_TEST_CASE(staff_may_not_change_a_number_an_admin_may_and_a_held_number_is_409) {
  ApiNode node;
  const std::string path =
      "/v1/customers/" + node.create({{"name", "Numbered"}})["id"].get<std::string>();
  auto byStaff = node.send("PATCH", path, node.staff, R"({"number": "9001"})");
  BOOST_TEST(byStaff->status == 403, byStaff->body);
  BOOST_TEST(errorCode(byStaff) == "forbidden");
  auto byAdmin = node.send("PATCH", path, node.admin, R"({"number": "9001"})");
  BOOST_TEST_REQUIRE(byAdmin->status == 200, byAdmin->body);
  BOOST_TEST(json::parse(byAdmin->body)["number"] == "9001");
  const std::string other =
      "/v1/customers/" + node.create({{"name", "Other"}})["id"].get<std::string>();
  auto held = node.send("PATCH", other, node.admin, R"({"number": "9001"})");
  BOOST_TEST(held->status == 409, held->body);
}

BOOST_AUTO_TEST_CASE(a_viewer_reads_but_may_not_create) {
  ApiNode node;
  BOOST_TEST(node.get("/v1/customers", node.viewer)->status == 200);
  BOOST_TEST(node.get("/v1/status", node.viewer)->status == 200);
  BOOST_TEST(node.get("/v1/settings", node.viewer)->status == 200);
  auto r = node.post("/v1/customers", node.viewer, {{"name", "Not Allowed"}});
  BOOST_TEST(r->status == 403, r->body);
  BOOST_TEST(json::parse(node.get("/v1/status", node.viewer)->body)["customers"] == 0);
}

BOOST_AUTO_TEST_CASE(staff_deactivates_and_only_an_admin_deletes_restores_and_erases) {
  ApiNode node;
  const std::string path =
      "/v1/customers/" + node.create({{"name", "Lifecycle"}})["id"].get<std::string>();
  auto deactivated = node.post(path + "/deactivate", node.staff, json::object());
  BOOST_TEST(json::parse(deactivated->body)["status"] == "deactivated", deactivated->body);
  BOOST_TEST(node.post(path + "/delete", node.staff, json::object())->status == 403);
  auto deleted = node.post(path + "/delete", node.admin, json::object());
  BOOST_TEST(json::parse(deleted->body)["status"] == "deleted", deleted->body);
  auto editDeleted = node.send("PATCH", path, node.staff, R"({"invoice_city": "Oulu"})");
  BOOST_TEST(editDeleted->status == 409, editDeleted->body);
  auto restored = node.post(path + "/restore", node.admin, json::object());
  BOOST_TEST(restored->status == 200, restored->body);
  BOOST_TEST(json::parse(restored->body)["status"] == "deactivated", restored->body);
  BOOST_TEST(node.post(path + "/erase", node.staff, json::object())->status == 403);
  auto erased = node.post(path + "/erase", node.admin, json::object());
  BOOST_TEST(json::parse(erased->body)["status"] == "erased", erased->body);
}

BOOST_AUTO_TEST_CASE(requests_without_a_valid_token_are_refused_with_401) {
  ApiNode node;
  auto none = node.get("/v1/customers", "");
  BOOST_TEST(none->status == 401);
  BOOST_TEST(errorCode(none) == "unauthorized");
  BOOST_TEST(node.get("/v1/customers", "not-a-token")->status == 401);
  BOOST_TEST(node.get("/v1/customers", node.admin + "x")->status == 401);
}

BOOST_AUTO_TEST_CASE(past_a_hundred_bad_tokens_a_minute_an_address_gets_429_but_good_tokens_pass) {
  ApiNode node;
  const std::string digest = node.cli.digest();
  httplib::Client client(node.url);
  client.set_keep_alive(true);
  const httplib::Headers bad = {{"Authorization", "Bearer guessed-token"}};
  int unauthorized = 0;
  for (int i = 0; i < 100; ++i)
    unauthorized += client.Post("/v1/customers", bad, "{}", "application/json")->status == 401;
  BOOST_TEST(unauthorized == 100);
  auto limited = client.Post("/v1/customers", bad, R"({"name": "Mallory"})", "application/json");
  BOOST_TEST(limited->status == 429);
  BOOST_TEST(errorCode(limited) == "rate_limited");
  const int wait = std::stoi(limited->get_header_value("Retry-After"));
  BOOST_TEST((wait >= 1 && wait <= 60));
  BOOST_TEST(node.get("/v1/status", node.viewer)->status == 200);  // the same address
  BOOST_TEST(node.cli.digest() == digest);
}

BOOST_AUTO_TEST_CASE(a_removed_users_token_is_refused_within_a_second) {
  ApiNode node;
  BOOST_TEST_REQUIRE(node.get("/v1/customers", node.viewer)->status == 200);
  RunResult removed = node.cli.run("users", "remove", "--data", node.cli.data, "--name", "veera");
  BOOST_TEST_REQUIRE(removed.status == 0, removed);
  const auto took = waitForStatus(node, "/v1/customers", node.viewer, 401, std::chrono::seconds(3));
  BOOST_TEST(node.get("/v1/customers", node.viewer)->status == 401);
  BOOST_TEST(took.count() < 1000);
}

BOOST_AUTO_TEST_CASE(a_user_added_at_the_hub_signs_in_at_a_branch_until_removed_there) {
  Cli branch;
  const std::string hub = (branch.root / "hub").string();
  BOOST_TEST_REQUIRE(branch.run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
  RunResult added =
      branch.run("users", "add", "--data", hub, "--name", "ada", "--role", "admin", "--user", "it");
  BOOST_TEST_REQUIRE(added.status == 0, added);
  const std::string token = trimNewline(added.out).substr(trimNewline(added.out).rfind('\n') + 1);
  ServeProcess hubServe(hub);
  BOOST_TEST_REQUIRE(
      branch.run("join", "--data", branch.data, "--site", "Branch", "--hub", hubServe.endpoint())
          .status == 0);
  expectError(branch.run("users", "add", "--data", branch.data, "--name", "kim", "--role", "staff"),
              2, {"users belong to the deployment", "on the hub", "'HQ'"});

  // What the branch's API answers the hub's user, serving from its own store.
  auto statusAtBranch = [&] {
    ServeProcess branchServe(branch.data, {"--api", "127.0.0.1:0"});
    const std::string line = branchServe.nextLine();
    httplib::Client client(line.substr(std::string("api on ").size()));
    return client.Get("/v1/status", {{"Authorization", "Bearer " + token}})->status;
  };
  BOOST_TEST(statusAtBranch() == 200);
  RunResult removed = branch.run("users", "remove", "--data", hub, "--name", "ada");
  BOOST_TEST_REQUIRE(removed.status == 0, removed);
  BOOST_TEST_REQUIRE(
      branch.run("sync", "--data", branch.data, "--peer", hubServe.endpoint()).status == 0);
  BOOST_TEST(statusAtBranch() == 401);
  BOOST_TEST(branch.run("digest", "--data", hub).out ==
             branch.run("digest", "--data", branch.data).out);
}

BOOST_AUTO_TEST_CASE(csv_is_imported_as_the_user_with_a_report_and_exported_back) {
  ApiNode node;
  auto csv = [&](const std::string& token, const std::string& query, const std::string& body) {
    return node.send("POST", "/v1/customers/import" + query, token, body,
                     {{"Content-Type", "text/csv"}});
  };
  const std::string file = "Nimi;Puhelin\nTyyne Tuonti;040 111 2222\nVilho Virhe;no phone\n";
  BOOST_TEST(csv(node.viewer, "", file)->status == 403);
  auto imported = csv(node.staff, "", file);
  BOOST_TEST_REQUIRE(imported->status == 200, imported->body);
  const json report = json::parse(imported->body);
  BOOST_TEST(report["created"] == 1);
  BOOST_TEST_REQUIRE(report["refused"].size() == 1u);
  BOOST_TEST(report["refused"][0]["line"] == 3);
  const json found =
      node.cli.runJson("customer", "search", "--data", node.cli.data, "Tyyne", "--json");
  BOOST_TEST_REQUIRE(found.size() == 1u);
  const json history = node.cli.runJson("customer", "history", "--data", node.cli.data,
                                        found[0]["id"].get<std::string>(), "--json");
  BOOST_TEST(history[0]["user"] == "sami");

  BOOST_TEST(csv(node.staff, "?match=shoe_size", file)->status == 400);
  BOOST_TEST(csv(node.staff, "", "name\n\"never closed\n")->status == 422);
  auto exported = node.get("/v1/customers/export?fields=name,phone", node.staff);
  BOOST_TEST_REQUIRE(exported->status == 200, exported->body);
  BOOST_TEST(exported->get_header_value("Content-Type").rfind("text/csv", 0) == 0u);
  BOOST_TEST(contains(exported->body, "\"Tyyne Tuonti\",\"040 111 2222\""), exported->body);
}

BOOST_AUTO_TEST_CASE(defined_custom_fields_are_listed_and_an_undefined_one_is_refused_with_422) {
  ApiNode node;
  BOOST_TEST_REQUIRE(node.cli
                         .run("fields", "define", "--data", node.cli.data, "--name", "tier",
                              "--kind", "choice", "--choices", "gold,silver")
                         .status == 0);
  auto fields = node.get("/v1/fields", node.viewer);
  BOOST_TEST_REQUIRE(fields->status == 200, fields->body);
  BOOST_TEST(json::parse(fields->body)["fields"][0]["choices"] == json::array({"gold", "silver"}));
  auto refused = node.post("/v1/customers", node.staff, {{"name", "X"}, {"custom.shoe", "42"}});
  BOOST_TEST(refused->status == 422, refused->body);
  BOOST_TEST(contains(refused->body, "not defined"), refused->body);
  BOOST_TEST(
      node.post("/v1/customers", node.staff, {{"name", "Y"}, {"custom.tier", "gold"}})->status ==
      201);
}

BOOST_AUTO_TEST_CASE(a_rotated_token_replaces_the_old_one_and_users_list_shows_no_token) {
  ApiNode node;
  RunResult rotated = node.cli.run("users", "token", "--data", node.cli.data, "--name", "sami");
  BOOST_TEST_REQUIRE(rotated.status == 0, rotated);
  const std::string out = trimNewline(rotated.out);
  const std::string fresh = out.substr(out.rfind('\n') + 1);
  waitForStatus(node, "/v1/customers", fresh, 200, std::chrono::seconds(3));
  BOOST_TEST(node.get("/v1/customers", fresh)->status == 200);
  BOOST_TEST(node.get("/v1/customers", node.staff)->status == 401);
  json users = node.cli.runJson("users", "list", "--data", node.cli.data, "--json");
  BOOST_TEST(users.size() == 3u);
  BOOST_TEST(!contains(users.dump(), fresh));
  BOOST_TEST(!contains(users.dump(), node.admin));
}

BOOST_AUTO_TEST_CASE(malformed_json_and_unknown_fields_are_refused_with_400_and_nothing_written) {
  ApiNode node;
  const std::string before = node.cli.state();
  auto malformed = node.send("POST", "/v1/customers", node.staff, R"({"name": "Half)");
  BOOST_TEST(malformed->status == 400, malformed->body);
  BOOST_TEST(errorCode(malformed) == "malformed_json");
  auto unknown = node.post("/v1/customers", node.staff, {{"name", "X"}, {"colour", "red"}});
  BOOST_TEST(unknown->status == 400, unknown->body);
  BOOST_TEST(errorCode(unknown) == "unknown_field");
  BOOST_TEST(contains(unknown->body, "colour"));
  auto wrongType = node.post("/v1/customers", node.staff, {{"name", 5}});
  BOOST_TEST(wrongType->status == 400, wrongType->body);
  BOOST_TEST(node.cli.state() == before);
}

BOOST_AUTO_TEST_CASE(an_invalid_value_is_refused_with_422_and_the_clis_message) {
  ApiNode node;
  const std::string before = node.cli.state();
  auto r =
      node.post("/v1/customers", node.staff, {{"name", "Bad Date"}, {"birth_date", "yesterday"}});
  BOOST_TEST(r->status == 422, r->body);
  RunResult cli = node.cli.run("customer", "add", "--data", node.cli.data, "--name", "Bad Date",
                               "--set", "birth_date=yesterday");
  BOOST_TEST(cli.status == 2, cli);
  BOOST_TEST(contains(cli.err, json::parse(r->body)["error"]["message"].get<std::string>()), cli);
  BOOST_TEST(node.cli.state() == before);
}

BOOST_AUTO_TEST_CASE(a_body_over_one_mebibyte_is_refused_with_413) {
  ApiNode node;
  const std::string huge = json{{"name", std::string(size_t(1) << 20, 'a')}}.dump();
  auto r = node.send("POST", "/v1/customers", node.staff, huge);
  BOOST_TEST(r->status == 413);
  BOOST_TEST(errorCode(r) == "body_too_large");
  BOOST_TEST(json::parse(node.get("/v1/status", node.viewer)->body)["customers"] == 0);
}

BOOST_AUTO_TEST_CASE(serve_refuses_an_api_beyond_loopback_without_tls_in_one_line) {
  Cli cli;
  cli.init();
  RunResult r =
      cli.run("serve", "--data", cli.data, "--listen", "tcp://127.0.0.1:*", "--api", "0.0.0.0:0");
  expectError(r, 2, {"0.0.0.0", "--api-cert"});
}

BOOST_AUTO_TEST_SUITE_END()
