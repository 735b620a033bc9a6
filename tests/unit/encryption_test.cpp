// At-rest encryption (DESIGN.md section 7): social security numbers and journal text are sealed
// with AES-256-GCM before they are stored, logged or sent; the key opens them for reads, the SSN
// index still finds them, and a store sealed under one key refuses another.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <iterator>

#include "tests/unit/sync_fixture.h"

namespace {

std::array<uint8_t, 32> keyOf(uint8_t seed) {
  std::array<uint8_t, 32> key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = uint8_t(seed + 7 * i);
  return key;
}

// Every byte of the site's LMDB file, as `strings` would read it.
std::string fileBytes(const Site& site) {
  std::ifstream in(site.dir.path() + "/data.mdb", std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Whether any 6 consecutive characters of `secret` are in `bytes`. (Records are packed, which
// cuts a text between its words; a word of plain text stays whole, so a leak shows here.)
bool leaks(const std::string& bytes, const std::string& secret) {
  for (size_t i = 0; i + 6 <= secret.size(); ++i)
    if (bytes.find(secret.substr(i, 6)) != std::string::npos) return true;
  return false;
}

struct SealedFixture : SyncFixture {
  sync::FieldCipher cipher{keyOf(1)};  // the deployment key every sealed site here shares
  SealedFixture() { seal(a); }
  void seal(Site& site) {
    BOOST_REQUIRE(site.engine.initializeEncryption(cipher).isOk());
    BOOST_REQUIRE(site.engine.useCipher(&cipher).isOk());
  }
  RecordId journal(Site& site, RecordId customer, const std::string& text) {
    auto r =
        site.engine.addElement(customer, kJournalCode, {Edit{kJournalCode, "text", text}}, "t");
    BOOST_REQUIRE_MESSAGE(r.isOk(), r.status().message());
    return r.value();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(sync_engine, SealedFixture)

BOOST_AUTO_TEST_CASE(sealed_ssns_and_journal_text_never_reach_the_lmdb_file_in_plaintext) {
  Customer c = created(
      a, "Anna Virtanen",
      {set(CustomerField::ssn, "010190-123A"), setCustom("note", "Visiblemarker in the clear")});
  journal(a, c.id, "Diagnosis: Plaintextdiagnosis");
  updated(a, c.id, {set(CustomerField::ssn, "020290-456B")});
  const std::string bytes = fileBytes(a);
  for (const char* secret : {"010190-123A", "020290-456B", "Diagnosis: Plaintextdiagnosis"})
    BOOST_TEST(!leaks(bytes, secret), secret << " leaks into data.mdb");
  BOOST_TEST(leaks(bytes, "Visiblemarker in the clear"));  // the check does see plaintext
  const Customer shown = current(a, c.id);
  BOOST_TEST(shown.value(CustomerField::ssn) == "020290-456B");
  BOOST_TEST(sync::cardElements(shown)[0].attributes.at("text") == "Diagnosis: Plaintextdiagnosis");
  for (const auto& ch : log(a))
    for (const auto& w : ch.writes)
      if (w.field == uint16_t(CustomerField::ssn)) BOOST_TEST(sync::FieldCipher::isSealed(w.value));
}

BOOST_AUTO_TEST_CASE(the_ssn_index_finds_sealed_numbers_and_keeps_them_unique) {
  configure(a, {setting(SettingsField::ssnUnique, "true")});
  Customer c = created(a, "Anna Virtanen", {set(CustomerField::ssn, "010190-123A")});
  auto found = a.engine.search("010190-123a", 10);  // normalised like any SSN
  BOOST_REQUIRE(found.size() == 1u);
  BOOST_TEST((found[0].id == c.id));
  auto twin =
      create(a, {set(CustomerField::name, "Anna V"), set(CustomerField::ssn, "010190-123a")});
  BOOST_TEST(!twin.isOk());
  BOOST_TEST(int(twin.status().code()) == int(StatusCode::kAlreadyExists));
}

BOOST_AUTO_TEST_CASE(sites_that_share_the_key_replicate_sealed_values_and_read_them) {
  Site b{kSiteB, "branch-b"};
  seal(b);
  Customer c = created(a, "Anna", {set(CustomerField::ssn, "010190-123A")});
  journal(a, c.id, "note");
  ship(a.engine, b.engine);
  BOOST_TEST(a.engine.digestHex() == b.engine.digestHex());
  BOOST_TEST(current(b, c.id).value(CustomerField::ssn) == "010190-123A");
  // A site without the key holds and relays the sealed value, and cannot read it.
  Site c3{kSiteC, "unkeyed"};
  ship(b.engine, c3.engine);
  BOOST_TEST(c3.engine.digestHex() == a.engine.digestHex());
  BOOST_TEST(sync::FieldCipher::isSealed(current(c3, c.id).value(CustomerField::ssn)));
}

BOOST_AUTO_TEST_CASE(another_key_is_refused_and_a_plain_store_takes_none) {
  sync::FieldCipher other{keyOf(2)};
  Engine again(*a.store, a.clock);
  auto refused = again.useCipher(&other);
  BOOST_TEST(!refused.isOk());
  BOOST_TEST(refused.message().find("another key") != std::string::npos);
  Site plain{kSiteB, "plain"};
  BOOST_TEST(!plain.engine.useCipher(&cipher).isOk());
  BOOST_TEST(!plain.engine.encrypted());
  BOOST_TEST(a.engine.encrypted());
}

BOOST_AUTO_TEST_CASE(a_conflict_on_a_sealed_field_lists_plaintext_and_its_resolution_is_sealed) {
  Site b{kSiteB, "branch-b"};
  seal(b);
  Customer c = created(a, "Anna", {set(CustomerField::ssn, "010190-123A")});
  ship(a.engine, b.engine);
  updated(a, c.id, {set(CustomerField::ssn, "010190-111A")});
  b.clock.set(kT0 + 1000);
  updated(b, c.id, {set(CustomerField::ssn, "010190-222B")});
  ship(a.engine, b.engine);
  ship(b.engine, a.engine);
  auto open = a.engine.conflicts(false);
  BOOST_REQUIRE(open.size() == 1u);
  BOOST_TEST(open[0].winner.value == "010190-222B");
  BOOST_TEST(open[0].loser.value == "010190-111A");
  BOOST_REQUIRE(a.engine.resolveConflict(open[0].id, std::string("010190-333C"), "t").isOk());
  BOOST_TEST(current(a, c.id).value(CustomerField::ssn) == "010190-333C");
  BOOST_TEST(!leaks(fileBytes(a), "010190-333C"));
}

BOOST_AUTO_TEST_CASE(the_log_read_in_apply_order_shows_sealed_values_opened) {
  Customer c = created(a, "Anna Virtanen", {set(CustomerField::ssn, "010190-123A")});
  std::string ssn;
  for (const auto& logged : a.engine.changesAfter(0, 100).changes)
    for (const FieldWrite& w : logged.change.writes)
      if (logged.change.target == c.id && w.field == uint16_t(CustomerField::ssn)) ssn = w.value;
  BOOST_TEST(ssn == "010190-123A");
}

BOOST_AUTO_TEST_SUITE_END()
