// Custom field definitions (`sitesync fields`): deployment settings written at the hub that the
// site where a customer is written enforces: defined names only, values of their kind, required
// ones on new customers, retired ones kept but closed.
#include "tests/unit/sync_fixture.h"

namespace {

Edit definition(const std::string& name, CustomFieldDefinition d) {
  return Edit{kSettingsCustomFieldCode, name, formatDefinition(d)};
}

struct DefinitionsFixture {
  Member hub{kSiteD, kSiteD};
  Member branch{kSiteA, kSiteD};
  DefinitionsFixture() {
    auto r = hub.engine.updateSettings(
        {definition("shoe_size", {"number", false, false, "Shoe size", {}}),
         definition("tier", {"choice", true, false, "", {"gold", "silver"}})},
        "admin");
    BOOST_REQUIRE_MESSAGE(r.isOk(), r.status().message());
    ship(hub.engine, branch.engine);
  }
  Result<Customer> add(const std::vector<Edit>& custom) {
    std::vector<Edit> edits{set(CustomerField::name, "Anna")};
    edits.insert(edits.end(), custom.begin(), custom.end());
    return branch.engine.create(edits, "tester");
  }
};

std::string why(const Result<Customer>& r) {
  return r.isOk() ? std::string("accepted") : r.status().message();
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(sync_engine, DefinitionsFixture)

BOOST_AUTO_TEST_CASE(definitions_made_at_the_hub_are_enforced_where_a_customer_is_written) {
  BOOST_TEST(why(add({setCustom("tier", "gold"), setCustom("shoe_size", "42.5")})) == "accepted");
  BOOST_TEST(why(add({setCustom("shoe_size", "42")})).find("'tier' is required") !=
             std::string::npos);
  BOOST_TEST(why(add({setCustom("tier", "bronze")})).find("not one of its choices") !=
             std::string::npos);
  BOOST_TEST(
      why(add({setCustom("tier", "gold"), setCustom("shoe_size", "big")})).find("not a number") !=
      std::string::npos);
  BOOST_TEST(
      why(add({setCustom("tier", "gold"), setCustom("colour", "red")})).find("not defined") !=
      std::string::npos);
  BOOST_TEST(hub.engine.digestHex() != branch.engine.digestHex());  // the branch's customer
  ship(branch.engine, hub.engine);
  ship(hub.engine, branch.engine);  // and what the hub wrote on receiving (a number lease)
  ship(branch.engine, hub.engine);  // what the branch wrote on receiving (its numbers)
  BOOST_TEST(hub.engine.digestHex() == branch.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(a_retired_field_keeps_its_values_and_takes_no_new_ones) {
  auto kept = add({setCustom("tier", "gold"), setCustom("shoe_size", "41")});
  BOOST_REQUIRE(kept.isOk());
  BOOST_REQUIRE(
      hub.engine.updateSettings({definition("shoe_size", {"number", false, true, "", {}})}, "admin")
          .isOk());
  ship(hub.engine, branch.engine);
  BOOST_TEST(why(add({setCustom("tier", "gold"), setCustom("shoe_size", "40")})).find("retired") !=
             std::string::npos);
  BOOST_TEST(branch.engine.customer(kept->id)->customFields.at("shoe_size").value == "41");
  // An edit of something else leaves the retired value alone and is accepted.
  BOOST_TEST(branch.engine.update(kept->id, {set(CustomerField::phone, "040 1")}, "t").isOk());
}

BOOST_AUTO_TEST_CASE(a_branch_cannot_define_fields_and_a_malformed_definition_is_refused) {
  auto refused =
      branch.engine.updateSettings({definition("colour", {"text", false, false, "", {}})}, "admin");
  BOOST_TEST((refused.status().code() == StatusCode::kFailedPrecondition));
  auto malformed = hub.engine.updateSettings({Edit{kSettingsCustomFieldCode, "x", "shape"}}, "a");
  BOOST_TEST((malformed.status().code() == StatusCode::kInvalidArgument));
  BOOST_TEST(!parseDefinition(formatDefinition({"choice", false, false, "", {}})));
  BOOST_TEST(!parseDefinition(formatDefinition({"text", false, false, "", {"a"}})));
}

BOOST_AUTO_TEST_SUITE_END()
