// Field laptops end to end (docs/filtered-sync.md): `join --filter`, `sync` and `digest --filter`
// through the built binary, a hub served on 127.0.0.1.
#include <set>

#include "tests/cli/cli_support.h"
#include "tests/cli/serve_process.h"

namespace {

// A hub with technicians bob and ann and six customers numbered 1000..1005: bob serves 1000 and
// 1001, ann 1002; a laptop directory beside it.
struct FieldService : Cli {
  std::string hub = (root / "hub").string();

  FieldService() {
    BOOST_TEST_REQUIRE(run("init", "--data", hub, "--site", "HQ", "--hub").status == 0);
    for (const char* user : {"bob", "ann"})
      BOOST_TEST_REQUIRE(
          run("users", "add", "--data", hub, "--name", user, "--role", "technician").status == 0);
    for (int i = 0; i < 6; ++i)
      BOOST_TEST_REQUIRE(run("customer", "add", "--data", hub, "--name",
                             "Customer " + std::to_string(i), "--phone",
                             "040 100 00" + std::to_string(i))
                             .status == 0);
    assign("#1000", "bob");
    assign("#1001", "bob");
    assign("#1002", "ann");
  }
  void assign(const std::string& ref, const std::string& technician, bool on = true) {
    RunResult r =
        run("customer", on ? "assign" : "unassign", "--data", hub, ref, "--technician", technician);
    BOOST_TEST_REQUIRE(r.status == 0, r);
  }
  // The customer numbers a site holds.
  std::set<std::string> numbers(const std::string& dir) {
    std::set<std::string> out;
    for (const json& c : runJson("customer", "list", "--data", dir, "--json"))
      out.insert(c["number"].get<std::string>());
    return out;
  }
  std::string digest(const std::string& dir, const std::string& filter = "") {
    RunResult r = filter.empty() ? run("digest", "--data", dir)
                                 : run("digest", "--data", dir, "--filter", filter);
    BOOST_TEST_REQUIRE(r.status == 0, r);
    return trimNewline(r.out);
  }
  // `join --filter` of the laptop in `data` from the served hub; must succeed.
  void joinFiltered(const ServeProcess& serving, std::vector<std::string> filters) {
    std::vector<std::string> args{"join",  "--data",          data, "--site", "Field laptop",
                                  "--hub", serving.endpoint()};
    for (auto& f : filters) args.insert(args.end(), {"--filter", f});
    RunResult r = runv(args);
    BOOST_TEST_REQUIRE(r.status == 0, r);
  }
  json show(const std::string& dir, const std::string& ref) {
    return runJson("customer", "show", "--data", dir, ref, "--json");
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(replication)

BOOST_FIXTURE_TEST_CASE(a_laptop_joined_for_a_technician_holds_their_customers_and_no_others,
                        FieldService) {
  ServeProcess serving(hub);
  RunResult joined = run("join", "--data", data, "--site", "Bob laptop", "--hub",
                         serving.endpoint(), "--filter", "technician=bob");
  BOOST_TEST_REQUIRE(joined.status == 0, joined);
  BOOST_TEST((numbers(data) == std::set<std::string>{"1000", "1001"}));
  BOOST_TEST(digest(data) == digest(hub, "technician=bob"));
  BOOST_TEST(digest(hub, "technician=bob") != digest(hub, "technician=ann"));
  const json status = runJson("status", "--data", data, "--json");
  BOOST_TEST(status["customers"] == 2);
}

BOOST_FIXTURE_TEST_CASE(assigned_customers_arrive_unassigned_ones_leave_and_edits_flow_both_ways,
                        FieldService) {
  ServeProcess serving(hub);
  joinFiltered(serving, {"technician=bob"});
  // At the hub: 1003 assigned, 1001 unassigned, 1000 edited, 1005 merged into 1000.
  assign("#1003", "bob");
  assign("#1001", "bob", false);
  BOOST_TEST_REQUIRE(
      run("customer", "edit", "--data", hub, "#1000", "--set", "email=c0@example.fi").status == 0);
  BOOST_TEST_REQUIRE(run("customer", "merge", "--data", hub, "#1005", "--into", "#1000").status ==
                     0);
  // On the laptop, offline: 1000's phone, and a customer of its own.
  BOOST_TEST_REQUIRE(
      run("customer", "edit", "--data", data, "#1000", "--set", "phone=040 999 0000").status == 0);
  const std::string made = add("Met On Site");

  RunResult synced = run("sync", "--data", data, "--peer", serving.endpoint());
  BOOST_TEST_REQUIRE(synced.status == 0, synced);
  const std::set<std::string> held = numbers(data);
  BOOST_TEST(held.count("1000") == 1u);
  BOOST_TEST(held.count("1003") == 1u);  // entered whole
  BOOST_TEST(held.count("1001") == 0u);  // left
  BOOST_TEST(held.size() == 3u);         // and the laptop's own customer
  const json laptopView = show(data, "#1000");
  BOOST_TEST(laptopView["email"] == "c0@example.fi");
  BOOST_TEST(laptopView["phone"] == "040 999 0000");
  // The merged customer came with its survivor: its id still finds it on the laptop.
  const json merged = show(data, show(hub, "#1005")["id"].get<std::string>());
  BOOST_TEST(merged["number"] == "1000");
  // The hub has the laptop's edit and its customer.
  BOOST_TEST(show(hub, "#1000")["phone"] == "040 999 0000");
  BOOST_TEST(show(hub, made)["name"] == "Met On Site");
  BOOST_TEST(digest(data) == digest(hub, "technician=bob"));
  // The laptop's notifications name what was assigned to bob.
  const json notes =
      runJson("notifications", "list", "--data", data, "--technician", "bob", "--json");
  BOOST_TEST(notes.dump().find(show(hub, "#1003")["id"].get<std::string>()) != std::string::npos,
             notes.dump());
}

BOOST_FIXTURE_TEST_CASE(a_laptops_edit_to_a_customer_unassigned_meanwhile_still_reaches_the_hub,
                        FieldService) {
  ServeProcess serving(hub);
  joinFiltered(serving, {"technician=bob"});
  BOOST_TEST_REQUIRE(
      run("customer", "edit", "--data", data, "#1001", "--set", "email=late@example.fi").status ==
      0);
  assign("#1001", "bob", false);  // while the laptop was offline
  BOOST_TEST_REQUIRE(run("sync", "--data", data, "--peer", serving.endpoint()).status == 0);
  BOOST_TEST(show(hub, "#1001")["email"] == "late@example.fi");
  BOOST_TEST(numbers(data).count("1001") == 0u);
  BOOST_TEST(digest(data) == digest(hub, "technician=bob"));
}

BOOST_FIXTURE_TEST_CASE(a_laptop_syncs_with_a_branch_directly_and_the_branch_relays_to_the_hub,
                        FieldService) {
  ServeProcess serving(hub);
  const std::string branch = (root / "branch").string();
  BOOST_TEST_REQUIRE(
      run("join", "--data", branch, "--site", "Branch", "--hub", serving.endpoint()).status == 0);
  joinFiltered(serving, {"technician=bob"});
  BOOST_TEST_REQUIRE(
      run("customer", "edit", "--data", data, "#1000", "--set", "email=van@example.fi").status ==
      0);
  assign("#1003", "bob");
  BOOST_TEST_REQUIRE(run("sync", "--data", branch, "--peer", serving.endpoint()).status == 0);
  ServeProcess atBranch(branch);
  RunResult p2p = run("sync", "--data", data, "--peer", atBranch.endpoint());
  BOOST_TEST_REQUIRE(p2p.status == 0, p2p);
  BOOST_TEST(show(branch, "#1000")["email"] == "van@example.fi");
  BOOST_TEST(numbers(data).count("1003") == 1u);  // assigned at the hub, caught up at the branch
  BOOST_TEST(digest(data) == digest(branch, "technician=bob"));
  BOOST_TEST_REQUIRE(run("sync", "--data", branch, "--peer", serving.endpoint()).status == 0);
  BOOST_TEST(show(hub, "#1000")["email"] == "van@example.fi");
  BOOST_TEST(digest(data) == digest(hub, "technician=bob"));
}

BOOST_FIXTURE_TEST_CASE(a_laptops_edit_to_a_customer_a_branch_has_not_seen_waits_for_the_hub,
                        FieldService) {
  ServeProcess serving(hub);
  const std::string branch = (root / "branch").string();
  BOOST_TEST_REQUIRE(
      run("join", "--data", branch, "--site", "Branch", "--hub", serving.endpoint()).status == 0);
  BOOST_TEST_REQUIRE(run("customer", "add", "--data", hub, "--name", "New Customer").status == 0);
  assign("#1006", "bob");  // after the branch synced: the branch has not seen 1006
  joinFiltered(serving, {"technician=bob"});
  for (const char* ref : {"#1000", "#1006"})
    BOOST_TEST_REQUIRE(run("customer", "edit", "--data", data, ref, "--set",
                           "email=" + std::string(ref + 1) + "@example.fi")
                           .status == 0);
  ServeProcess atBranch(branch);
  RunResult p2p = run("sync", "--data", data, "--peer", atBranch.endpoint(), "--json");
  BOOST_TEST_REQUIRE(p2p.status == 0, p2p);
  const json report = json::parse(p2p.out);
  BOOST_TEST(report["sent"] == 1, report.dump());  // the edit the branch can take went
  const std::string heldBack = report["held_back"].get<std::string>();
  BOOST_TEST(contains(heldBack, "1 of this site's changes wait"), heldBack);
  BOOST_TEST(show(branch, "#1000")["email"] == "1000@example.fi");
  // The other goes to the hub, which holds the customer.
  RunResult toHub = run("sync", "--data", data, "--peer", serving.endpoint(), "--json");
  BOOST_TEST_REQUIRE(toHub.status == 0, toHub);
  BOOST_TEST(json::parse(toHub.out)["held_back"] == "");
  BOOST_TEST(show(hub, "#1006")["email"] == "1006@example.fi");
  BOOST_TEST(digest(data) == digest(hub, "technician=bob"));
}

BOOST_FIXTURE_TEST_CASE(a_laptop_filtered_by_group_follows_the_customers_group, FieldService) {
  for (const char* group : {"north", "south"})
    BOOST_TEST_REQUIRE(run("groups", "define", "--data", hub, "--name", group).status == 0);
  for (const char* ref : {"#1003", "#1004"})
    BOOST_TEST_REQUIRE(run("customer", "edit", "--data", hub, ref, "--group", "north").status == 0);
  ServeProcess serving(hub);
  joinFiltered(serving, {"group=north", "technician=ann"});
  BOOST_TEST((numbers(data) == std::set<std::string>{"1002", "1003", "1004"}));
  BOOST_TEST_REQUIRE(run("customer", "edit", "--data", hub, "#1004", "--group", "south").status ==
                     0);
  BOOST_TEST_REQUIRE(run("sync", "--data", data, "--peer", serving.endpoint()).status == 0);
  BOOST_TEST((numbers(data) == std::set<std::string>{"1002", "1003"}));
  BOOST_TEST(digest(data) == digest(hub, "technician=ann,group=north"));
}

BOOST_FIXTURE_TEST_CASE(a_filter_naming_an_unknown_technician_or_group_is_refused_with_exit_2,
                        FieldService) {
  ServeProcess serving(hub);
  for (const char* filter : {"technician=zed", "group=nowhere"}) {
    RunResult r = run("join", "--data", data, "--site", "Laptop", "--hub", serving.endpoint(),
                      "--filter", filter);
    BOOST_TEST(r.status == 2, r);
    BOOST_TEST(contains(r.err, std::string(filter).substr(std::string(filter).find('=') + 1)), r);
    BOOST_TEST(!fs::exists(data), "a refused join keeps nothing");
  }
  RunResult malformed = run("join", "--data", data, "--site", "Laptop", "--hub", serving.endpoint(),
                            "--filter", "colour=red");
  BOOST_TEST(malformed.status == 2, malformed);
  BOOST_TEST(contains(malformed.err, "colour"), malformed);
  RunResult digestOfNobody = run("digest", "--data", hub, "--filter", "technician=zed");
  BOOST_TEST(digestOfNobody.status == 2, digestOfNobody);
}

BOOST_FIXTURE_TEST_CASE(a_filtered_sites_status_names_its_filter_and_its_digest_is_the_filtered_one,
                        FieldService) {
  ServeProcess serving(hub);
  joinFiltered(serving, {"technician=bob"});
  // Its plain digest is the filtered one; asking it for another filter is refused.
  RunResult other = run("digest", "--data", data, "--filter", "technician=ann");
  BOOST_TEST(other.status == 2, other);
  const json status = runJson("status", "--data", data, "--json");
  BOOST_TEST(status["filter"] == "technician=bob", status.dump());
}

BOOST_AUTO_TEST_SUITE_END()
