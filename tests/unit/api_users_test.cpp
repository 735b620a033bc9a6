// The users of the application API (sync/trust.h): deployment-wide, written at the hub as
// settings changes and replicated, refused at a branch; a site's users from before it joined
// are offered to the hub like its settings.
#include "tests/unit/sync_fixture.h"

namespace {

// A token hash as the API stores it: 64 hex digits.
std::string hash(char digit) {
  return std::string(64, digit);
}

ApiUser user(const std::string& name, const std::string& role, char digit) {
  return ApiUser{name, role, hash(digit), {}};
}

// The users as name:role:first digit of the hash, by name.
std::string usersOf(const Engine& engine) {
  std::string out;
  for (const ApiUser& u : engine.apiUsers())
    out += (out.empty() ? "" : " ") + u.name + ":" + u.role + ":" + u.tokenHash.substr(0, 1);
  return out;
}

struct DeploymentFixture {
  Member hub{kSiteD, kSiteD};
  Member branch{kSiteA, kSiteD};
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(security, DeploymentFixture)

BOOST_AUTO_TEST_CASE(api_users_added_rotated_and_removed_at_the_hub_reach_the_branches) {
  BOOST_TEST(hub.engine.addApiUser(user("sami", "staff", '1'), "root").isOk());
  BOOST_TEST(hub.engine.addApiUser(user("ada", "admin", '2'), "root").isOk());
  BOOST_TEST((hub.engine.addApiUser(user("sami", "viewer", '3'), "root").code() ==
              StatusCode::kAlreadyExists));
  ship(hub.engine, branch.engine);
  BOOST_TEST(usersOf(branch.engine) == "ada:admin:2 sami:staff:1");

  BOOST_TEST(hub.engine.replaceApiUserToken("sami", hash('4'), "root").isOk());
  BOOST_TEST((hub.engine.replaceApiUserToken("nobody", hash('5'), "root").code() ==
              StatusCode::kNotFound));
  BOOST_TEST(hub.engine.removeApiUser("ada", "root").isOk());
  BOOST_TEST((hub.engine.removeApiUser("ada", "root").code() == StatusCode::kNotFound));
  ship(hub.engine, branch.engine);
  BOOST_TEST(usersOf(branch.engine) == "sami:staff:4");
  BOOST_TEST(hub.engine.digestHex() == branch.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(a_branch_refuses_to_change_users_and_names_the_hub) {
  const Status refused = branch.engine.addApiUser(user("kim", "staff", '1'), "root");
  BOOST_TEST((refused.code() == StatusCode::kFailedPrecondition));
  BOOST_TEST(refused.message().find("users belong to the deployment") != std::string::npos);
  BOOST_TEST(usersOf(branch.engine).empty());
}

BOOST_AUTO_TEST_CASE(users_a_site_added_before_joining_are_kept_by_the_hub_unless_names_clash) {
  Member alone{sitesync::testing::testSiteId(0x5e), 0};
  BOOST_REQUIRE(hub.engine.addApiUser(user("ada", "admin", '1'), "root").isOk());
  BOOST_REQUIRE(alone.engine.addApiUser(user("ada", "staff", '2'), "local").isOk());
  BOOST_REQUIRE(alone.engine.addApiUser(user("kim", "staff", '3'), "local").isOk());
  BOOST_REQUIRE(alone.engine.acceptDeployment(kSiteD, "hub").isOk());
  BOOST_TEST(usersOf(alone.engine).empty());  // until the hub decides, only its users count

  ship(alone.engine, hub.engine);
  BOOST_TEST(usersOf(hub.engine) == "ada:admin:1 kim:staff:3");  // kim keeps their token
  ship(hub.engine, alone.engine);
  BOOST_TEST(usersOf(alone.engine) == "ada:admin:1 kim:staff:3");
  BOOST_TEST(hub.engine.digestHex() == alone.engine.digestHex());
}

BOOST_AUTO_TEST_SUITE_END()
