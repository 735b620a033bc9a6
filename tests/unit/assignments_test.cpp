// Technicians assigned to customers (kTechnicianCode registers): assigned and unassigned like a
// field, replicated, kept through a merge, refused for someone who is not a user, and read back
// as the technician's notifications.
#include "tests/unit/sync_fixture.h"

namespace {

Edit assignment(const std::string& technician, bool assigned) {
  return Edit{kTechnicianCode, technician, assigned ? "true" : ""};
}

// Users are the deployment's: the hub (a) adds them, and a branch (b) gets them.
struct AssignmentFixture {
  Member a{kSiteD, kSiteD};
  Member b{kSiteA, kSiteD};
  AssignmentFixture() {
    for (const char* name : {"kim", "sam"})
      BOOST_REQUIRE(
          a.engine.addApiUser(ApiUser{name, "technician", std::string(64, 'a'), {}}, "it").isOk());
    exchange();
  }
  void exchange() {
    ship(a.engine, b.engine);
    ship(b.engine, a.engine);
    BOOST_REQUIRE(a.engine.digestHex() == b.engine.digestHex());
  }
  static Customer created(Member& m, const std::string& name) {
    return *m.engine.customer(m.add(name));
  }
  static void updated(Member& m, RecordId id, const std::vector<Edit>& edits) {
    auto r = m.engine.update(id, edits, "tester");
    BOOST_REQUIRE_MESSAGE(r.isOk(), r.status().message());
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(sync_engine, AssignmentFixture)

BOOST_AUTO_TEST_CASE(an_assignment_replicates_and_is_the_technicians_notification) {
  const Customer c = created(a, "Maija Virtanen");
  updated(a, c.id, {assignment("kim", true)});
  exchange();
  const auto atB = b.engine.assignmentsOf("kim");
  BOOST_REQUIRE(atB.size() == 1u);
  BOOST_TEST((atB[0].customer == c.id));
  BOOST_TEST(atB[0].name == "Maija Virtanen");
  BOOST_TEST(atB[0].by == "tester");
  BOOST_TEST(b.engine.assignmentsOf("sam").empty());
  updated(b, c.id, {assignment("kim", false)});
  exchange();
  BOOST_TEST(a.engine.assignmentsOf("kim").empty());
}

BOOST_AUTO_TEST_CASE(only_a_user_of_the_deployment_is_assigned) {
  const Customer c = created(a, "Maija Virtanen");
  const std::string before = a.engine.digestHex();
  auto refused = a.engine.update(c.id, {assignment("nobody", true)}, "tester");
  BOOST_TEST(!refused.isOk());
  BOOST_TEST(refused.status().message().find("no user 'nobody'") != std::string::npos);
  BOOST_TEST(!a.engine.update(c.id, {Edit{kTechnicianCode, "kim", "yes"}}, "tester").isOk());
  BOOST_TEST(a.engine.digestHex() == before);
}

BOOST_AUTO_TEST_CASE(a_customer_keeps_several_technicians_and_a_merge_keeps_them) {
  const Customer kept = created(a, "Maija Virtanen");
  const Customer dup = created(a, "Maija Virtanen (old)");
  updated(a, kept.id, {assignment("kim", true)});
  exchange();
  updated(b, dup.id, {assignment("sam", true)});  // offline, on the one about to be absorbed
  BOOST_REQUIRE(a.engine.merge(kept.id, {dup.id}, {}, "hq").isOk());
  exchange();
  for (Member* site : {&a, &b}) {
    BOOST_TEST(site->engine.assignmentsOf("kim").size() == 1u);
    const auto sam = site->engine.assignmentsOf("sam");
    BOOST_REQUIRE(sam.size() == 1u);
    BOOST_TEST((sam[0].customer == kept.id));
  }
}

BOOST_AUTO_TEST_CASE(a_concurrent_assignment_is_resolved_only_with_true_or_empty) {
  const Customer c = created(a, "Maija Virtanen");
  updated(a, c.id, {assignment("kim", true)});
  exchange();
  updated(a, c.id, {assignment("kim", false)});
  updated(b, c.id, {assignment("kim", false)});  // concurrently: off and on again
  updated(b, c.id, {assignment("kim", true)});
  exchange();
  const auto open = a.engine.conflicts(false);
  auto it = std::find_if(open.begin(), open.end(),
                         [](const auto& conflict) { return conflict.field == kTechnicianCode; });
  BOOST_TEST_REQUIRE((it != open.end()));
  // A value its peers would refuse as malformed is refused here (it would stop this site's
  // stream); "true" settles it and replicates.
  auto refused = a.engine.resolveConflict(it->id, std::string("true (checked)"), "hq");
  BOOST_TEST(!refused.isOk());
  BOOST_TEST(refused.status().message().find("true or empty") != std::string::npos);
  BOOST_TEST_REQUIRE(a.engine.resolveConflict(it->id, std::string("true"), "hq").isOk());
  exchange();
  BOOST_TEST(b.engine.assignmentsOf("kim").size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
