// The users of the application API as the engine keeps them (sync/trust.h): this node's own,
// beside the allow list, outside the replicated register.
#include "tests/unit/sync_fixture.h"

namespace {

ApiUser user(const std::string& name, const std::string& role, const std::string& hash) {
  return ApiUser{name, role, hash, kT0};
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(security, SyncFixture)

BOOST_AUTO_TEST_CASE(api_users_are_added_rotated_and_removed_outside_the_replicated_register) {
  const std::string digest = a.engine.digestHex();
  BOOST_TEST(a.engine.addApiUser(user("sami", "staff", "hash-1")).isOk());
  BOOST_TEST(a.engine.addApiUser(user("ada", "admin", "hash-2")).isOk());
  BOOST_TEST(
      (a.engine.addApiUser(user("sami", "viewer", "hash-3")).code() == StatusCode::kAlreadyExists));
  auto users = a.engine.apiUsers();
  BOOST_TEST_REQUIRE(users.size() == 2u);
  BOOST_TEST((users[0] == user("ada", "admin", "hash-2")));
  BOOST_TEST((users[1] == user("sami", "staff", "hash-1")));

  BOOST_TEST(a.engine.replaceApiUserToken("sami", "hash-4").isOk());
  BOOST_TEST(a.engine.apiUsers()[1].tokenHash == "hash-4");
  BOOST_TEST((a.engine.replaceApiUserToken("nobody", "hash-5").code() == StatusCode::kNotFound));

  BOOST_TEST(a.engine.removeApiUser("ada").isOk());
  BOOST_TEST((a.engine.removeApiUser("ada").code() == StatusCode::kNotFound));
  BOOST_TEST(a.engine.apiUsers().size() == 1u);
  BOOST_TEST(a.engine.digestHex() == digest);
}

BOOST_AUTO_TEST_SUITE_END()
