// Possible duplicates (Reads::possibleDuplicates, duplicatesOf): customers likely to be one
// person, found through the indexes and scored by what they share.
#include "tests/unit/sync_fixture.h"

namespace {

// The reasons given for the pair (a, b), joined; "" when the pair is not listed.
std::string reasonsFor(const std::vector<sitesync::sync::DuplicatePair>& pairs, RecordId a,
                       RecordId b) {
  if (b < a) std::swap(a, b);
  for (const auto& d : pairs)
    if (d.first == a && d.second == b) {
      std::string text;
      for (const auto& r : d.reasons) text += (text.empty() ? "" : ", ") + r;
      return text;
    }
  return "";
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(sync_engine, SyncFixture)

BOOST_AUTO_TEST_CASE(customers_sharing_a_phone_in_two_forms_or_an_email_are_possible_duplicates) {
  RecordId p = created(a, "Aino Virtanen", {set(CustomerField::phone, "040 123 4567")}).id;
  RecordId q = created(a, "A. Virtanen", {set(CustomerField::phone, "+358 40 123 4567")}).id;
  RecordId r = created(a, "Bo Ek", {set(CustomerField::email, "bo@example.se")}).id;
  RecordId s = created(a, "Bosse Ek", {set(CustomerField::email, "BO@example.se")}).id;
  created(a, "Someone Else", {set(CustomerField::phone, "040 765 4321")});
  const auto pairs = a.engine.possibleDuplicates(100);
  BOOST_TEST(reasonsFor(pairs, p, q) == "same phone");
  BOOST_TEST(reasonsFor(pairs, r, s) == "same e-mail address");
  BOOST_TEST(pairs.size() == 2u);
}

BOOST_AUTO_TEST_CASE(the_same_name_in_another_order_with_the_birth_date_scores_above_the_name) {
  const Edit born = set(CustomerField::birthDate, "1970-01-02");
  RecordId p = created(a, "\xC3\x85ke Berg", {born}).id;
  RecordId q = created(a, "berg ake", {born}).id;
  RecordId r = created(a, "Ake Berg").id;
  const auto pairs = a.engine.possibleDuplicates(100);
  BOOST_TEST(reasonsFor(pairs, p, q) == "same name and birth date");
  BOOST_TEST(reasonsFor(pairs, p, r) == "same name");
  BOOST_TEST_REQUIRE(pairs.size() == 3u);
  BOOST_TEST(pairs[0].score > pairs[1].score);
  BOOST_TEST((pairs[0].first == std::min(p, q)));
}

BOOST_AUTO_TEST_CASE(names_one_letter_apart_are_possible_duplicates_and_a_new_one_is_found) {
  RecordId p = created(a, "Maija Virtanen", {set(CustomerField::phone, "040 111 2222")}).id;
  RecordId q = created(a, "Maija Virtamen", {set(CustomerField::phone, "040 111 2222")}).id;
  RecordId r = created(a, "Maija Vitranen").id;     // two letters swapped
  RecordId s = created(a, "Maija Virtanen Oy").id;  // a word more: not one letter
  const auto pairs = a.engine.possibleDuplicates(100);
  BOOST_TEST(reasonsFor(pairs, p, q) == "same phone, nearly the same name (one letter apart)");
  BOOST_TEST(reasonsFor(pairs, p, r) == "nearly the same name (one letter apart)");
  BOOST_TEST(reasonsFor(pairs, p, s) == "");
  BOOST_TEST(pairs[0].score > pairs.back().score);
  const auto ofNew = a.engine.duplicatesOf(created(a, "Maija Virtanenn").id);
  BOOST_TEST(ofNew.size() == 1u);  // Virtanen; Virtamen and Vitranen are two edits away
}

BOOST_AUTO_TEST_CASE(a_value_shared_by_many_says_nothing_and_merged_customers_are_not_listed) {
  for (int i = 0; i < 25; ++i)  // a switchboard
    created(a, "Staff " + std::to_string(i), {set(CustomerField::phone, "09 123 456")});
  RecordId p = created(a, "Kim Lee", {set(CustomerField::email, "kim@example.com")}).id;
  RecordId q = created(a, "K Lee", {set(CustomerField::email, "kim@example.com")}).id;
  BOOST_TEST(a.engine.possibleDuplicates(100).size() == 1u);
  BOOST_REQUIRE(a.engine.merge(p, {q}, {}, "tester").isOk());
  BOOST_TEST(a.engine.possibleDuplicates(100).empty());
}

BOOST_AUTO_TEST_CASE(duplicates_of_one_customer_name_those_it_shares_a_value_with) {
  RecordId p = created(a, "Aino Virtanen", {set(CustomerField::ssn, "010170-123A")}).id;
  RecordId q = created(a, "Aino V", {set(CustomerField::ssn, "010170-123a")}).id;
  created(a, "Unrelated");
  const auto of = a.engine.duplicatesOf(q);
  BOOST_TEST_REQUIRE(of.size() == 1u);
  BOOST_TEST(reasonsFor(of, p, q) == "same social security number");
}

BOOST_AUTO_TEST_SUITE_END()
