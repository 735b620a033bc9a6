// Unit tests for the sync engine: HLC rules, site initialisation, local operations under the
// deployment settings (numbering, required fields, SSN uniqueness), history and versions, and
// the apply path shared with peers (idempotence, ordering, convergence of concurrent writes).
#include <stdlib.h>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/protocol.h"
#include "storage/store.h"
#include "sync/engine.h"

using namespace sitesync;
using sitesync::storage::Options;
using sitesync::storage::Store;
using sitesync::storage::WriteTxn;
using sitesync::sync::Edit;
using sitesync::sync::Engine;
using sitesync::sync::LocalOp;

namespace {

constexpr SiteId kSiteA = 0x00000000000000a1;
constexpr SiteId kSiteB = 0x00000000000000b2;
constexpr SiteId kSiteC = 0x00000000000000c3;
constexpr SiteId kSiteD = 0x00000000000000d4;
constexpr uint64_t kT0 = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
constexpr uint64_t kHour = 3'600'000;

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "sitesync-sync-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Wall-clock time is whatever the test says it is.
class TestClock final : public sync::Clock {
 public:
  explicit TestClock(uint64_t now) : now_(now) {}
  uint64_t nowMillis() override { return now_; }
  void set(uint64_t now) { now_ = now; }

 private:
  uint64_t now_;
};

// One node's state: a store in its own directory, its clock and its engine.
struct Site {
  TempDir dir;
  std::unique_ptr<Store> store = Store::open(dir.path(), Options{.durable = false});
  TestClock clock{kT0};
  Engine engine{*store, clock};

  Site(SiteId id, const std::string& name) {
    auto status = Engine::initialize(*store, clock, id, name, false);
    if (!status.isOk()) throw std::runtime_error(status.message());
  }
};

Edit set(CustomerField field, const std::string& value) {
  return Edit{uint16_t(field), {}, value};
}
Edit setCustom(const std::string& name, const std::string& value) {
  return Edit{kCustomFieldCode, name, value};
}
Edit setting(SettingsField field, const std::string& value) {
  return Edit{uint16_t(field), {}, value};
}

struct SyncFixture {
  Site a{kSiteA, "branch-a"};

  static Result<Customer> create(Site& site, const std::vector<Edit>& edits) {
    return site.engine.create(edits, "tester");
  }
  // A create that must succeed.
  static Customer created(Site& site, const std::string& name, std::vector<Edit> more = {}) {
    more.insert(more.begin(), set(CustomerField::name, name));
    auto r = create(site, more);
    BOOST_REQUIRE_MESSAGE(r.isOk(), "create refused: " << r.status().message());
    return r.value();
  }
  static Result<Customer> update(Site& site, RecordId id, const std::vector<Edit>& edits) {
    return site.engine.update(id, edits, "tester");
  }
  static Customer updated(Site& site, RecordId id, const std::vector<Edit>& edits) {
    auto r = update(site, id, edits);
    BOOST_REQUIRE_MESSAGE(r.isOk(), "update refused: " << r.status().message());
    return r.value();
  }
  static void configure(Site& site, const std::vector<Edit>& edits) {
    auto r = site.engine.updateSettings(edits, "admin");
    BOOST_REQUIRE_MESSAGE(r.isOk(), "settings refused: " << r.status().message());
  }
  static Customer current(Site& site, RecordId id) {
    auto c = site.engine.customer(id);
    BOOST_REQUIRE(c.has_value());
    return *c;
  }

  // The site's log, in its local order.
  static std::vector<Change> log(Site& site) {
    std::vector<Change> out;
    auto txn = site.store->read();
    site.store->forEachLog(txn, 1, [&](uint64_t, const Change& ch) {
      out.push_back(ch);
      return true;
    });
    return out;
  }
  static Change lastChange(Site& site) {
    auto all = log(site);
    BOOST_REQUIRE(!all.empty());
    return all.back();
  }
  // Applies each change in its own transaction, as a peer session would; returns how many applied.
  static int receive(Site& site, const std::vector<Change>& changes) {
    int applied = 0;
    for (const auto& ch : changes) applied += applyOne(site, ch) ? 1 : 0;
    return applied;
  }
  static bool applyOne(Site& site, const Change& change) {
    return site.store->write([&](WriteTxn& txn) { return site.engine.apply(txn, change); });
  }

  static uint64_t lastSeq(Site& site) { return site.engine.status().meta.lastSeq; }
  static uint64_t logEntries(Site& site) { return site.engine.status().logEntries; }
  static size_t historyEntries(Site& site) {
    size_t n = 0;
    for (const auto& c : site.engine.list(true)) n += site.engine.history(c.id).size();
    return n;
  }

  // Everything a refused operation must leave alone.
  struct Snapshot {
    std::string digest;
    uint64_t lastSeq, logEntries;
    size_t history;
    bool operator==(const Snapshot&) const = default;
  };
  static Snapshot snapshot(Site& site) {
    return Snapshot{site.engine.digestHex(), lastSeq(site), logEntries(site), historyEntries(site)};
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(sync_engine, SyncFixture)

// --- hybrid logical clock ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(hlc_tick_takes_the_wall_clock_when_it_is_ahead) {
  BOOST_TEST((sync::hlcTick(Hlc::from(100, 5), 200) == Hlc::from(200, 0)));
  BOOST_TEST((sync::hlcTick(Hlc{}, kT0) == Hlc::from(kT0, 0)));
}

BOOST_AUTO_TEST_CASE(hlc_tick_counts_logically_when_the_wall_clock_is_not_ahead) {
  BOOST_TEST((sync::hlcTick(Hlc::from(200, 5), 200) == Hlc::from(200, 6)));
  BOOST_TEST((sync::hlcTick(Hlc::from(200, 5), 150) == Hlc::from(200, 6)));
}

BOOST_AUTO_TEST_CASE(hlc_tick_is_strictly_monotonic_while_the_clock_jumps_around) {
  Hlc last{};
  for (uint64_t now : {kT0, kT0, kT0 - kHour, kT0 + 5, kT0 + 1, kT0 + 5, uint64_t(0), kT0 + 6}) {
    Hlc next = sync::hlcTick(last, now);
    BOOST_TEST((next > last));
    BOOST_TEST(next.millis() >= now);
    last = next;
  }
}

BOOST_AUTO_TEST_CASE(hlc_observe_of_a_remote_far_ahead_of_the_wall_clock_gives_a_larger_hlc) {
  const Hlc remote = Hlc::from(kT0 + 10 * kHour, 3);
  const Hlc got = sync::hlcObserve(Hlc::from(kT0, 0), remote, kT0);
  BOOST_TEST((got > remote));
  BOOST_TEST((got == Hlc::from(kT0 + 10 * kHour, 4)));
}

BOOST_AUTO_TEST_CASE(hlc_observe_stays_after_the_last_local_hlc) {
  const Hlc last = Hlc::from(kT0 + 50, 7);
  BOOST_TEST((sync::hlcObserve(last, Hlc::from(kT0, 0), kT0) == Hlc::from(kT0 + 50, 8)));
}

BOOST_AUTO_TEST_CASE(hlc_observe_takes_the_wall_clock_when_it_is_ahead_of_both) {
  BOOST_TEST((sync::hlcObserve(Hlc::from(10, 1), Hlc::from(20, 9), 30) == Hlc::from(30, 0)));
}

BOOST_AUTO_TEST_CASE(logical_counter_overflow_borrows_a_millisecond) {
  const Hlc full = Hlc::from(500, 0xffff);
  BOOST_TEST((sync::hlcTick(full, 400) == Hlc::from(501, 0)));
  BOOST_TEST((sync::hlcObserve(Hlc::from(1, 0), full, 400) == Hlc::from(501, 0)));
  BOOST_TEST((sync::hlcTick(full, 501) == Hlc::from(501, 0)));
}

// --- initialisation ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(initialize_twice_fails_and_keeps_the_first_site) {
  auto again = Engine::initialize(*a.store, a.clock, kSiteB, "other", true);
  BOOST_TEST(!again.isOk());
  BOOST_TEST((again.code() == StatusCode::kFailedPrecondition));
  Meta meta = a.engine.meta();
  BOOST_TEST(meta.siteId == kSiteA);
  BOOST_TEST(meta.siteName == "branch-a");
  BOOST_TEST(!meta.isHub);
}

BOOST_AUTO_TEST_CASE(initialize_refuses_site_zero_and_a_bad_name) {
  TempDir dir;
  auto store = Store::open(dir.path(), Options{.durable = false});
  TestClock clock(kT0);
  BOOST_TEST(
      (Engine::initialize(*store, clock, 0, "x", false).code() == StatusCode::kInvalidArgument));
  BOOST_TEST((Engine::initialize(*store, clock, kSiteB, "", false).code() ==
              StatusCode::kInvalidArgument));
  BOOST_TEST((Engine::initialize(*store, clock, kSiteB, "bad \xc3", false).code() ==
              StatusCode::kInvalidArgument));
  BOOST_TEST(!Engine::isInitialized(*store));
}

BOOST_AUTO_TEST_CASE(is_initialized_reports_whether_a_store_holds_a_site) {
  TempDir dir;
  auto store = Store::open(dir.path(), Options{.durable = false});
  TestClock clock(kT0);
  BOOST_TEST(!Engine::isInitialized(*store));
  BOOST_TEST(Engine::initialize(*store, clock, kSiteB, "b", true).isOk());
  BOOST_TEST(Engine::isInitialized(*store));
  Engine engine(*store, clock);
  BOOST_TEST(engine.meta().isHub);
  BOOST_TEST((engine.meta().lastHlc == Hlc::from(kT0, 0)));
  BOOST_TEST(engine.meta().createdAtMillis == kT0);
}

BOOST_AUTO_TEST_CASE(operations_on_an_uninitialised_store_throw) {
  TempDir dir;
  auto store = Store::open(dir.path(), Options{.durable = false});
  TestClock clock(kT0);
  Engine engine(*store, clock);
  BOOST_CHECK_THROW(engine.create({set(CustomerField::name, "Anna")}, "u"), std::runtime_error);
  BOOST_CHECK_THROW(engine.status(), std::runtime_error);
}

// --- customer numbers --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(create_assigns_automatic_numbers_from_next_number) {
  BOOST_TEST(created(a, "Anna").value(CustomerField::number) == "1000");
  BOOST_TEST(created(a, "Bertil").value(CustomerField::number) == "1001");
  configure(a, {setting(SettingsField::nextNumber, "5000")});
  BOOST_TEST(created(a, "Cecilia").value(CustomerField::number) == "5000");
  BOOST_TEST(created(a, "David").value(CustomerField::number) == "5001");
}

BOOST_AUTO_TEST_CASE(automatic_numbering_skips_numbers_taken_by_typed_numbers) {
  BOOST_TEST(created(a, "Anna").value(CustomerField::number) == "1000");
  created(a, "Typed", {set(CustomerField::number, "1001")});
  created(a, "Typed too", {set(CustomerField::number, "1003")});
  BOOST_TEST(created(a, "Bertil").value(CustomerField::number) == "1002");
  BOOST_TEST(created(a, "Cecilia").value(CustomerField::number) == "1004");
}

BOOST_AUTO_TEST_CASE(typed_duplicate_number_is_refused_and_writes_nothing) {
  created(a, "Anna", {set(CustomerField::number, "1234")});
  const Snapshot before = snapshot(a);
  auto r = create(a, {set(CustomerField::name, "Bertil"), set(CustomerField::number, "1234")});
  BOOST_TEST(!r.isOk());
  BOOST_TEST((r.status().code() == StatusCode::kAlreadyExists));
  BOOST_TEST(r.status().message().find("1234") != std::string::npos);
  BOOST_TEST((snapshot(a) == before));
}

BOOST_AUTO_TEST_CASE(changing_a_number_to_one_already_held_is_refused) {
  created(a, "Anna", {set(CustomerField::number, "1234")});
  Customer bertil = created(a, "Bertil");
  const Snapshot before = snapshot(a);
  auto r = update(a, bertil.id, {set(CustomerField::number, "1234")});
  BOOST_TEST((r.status().code() == StatusCode::kAlreadyExists));
  BOOST_TEST((snapshot(a) == before));
}

BOOST_AUTO_TEST_CASE(duplicate_numbers_within_one_batch_are_refused) {
  auto op = [](const std::string& name) {
    return LocalOp{LocalOp::Kind::kCreate,
                   {},
                   {set(CustomerField::name, name), set(CustomerField::number, "5555")},
                   "tester"};
  };
  auto results = a.engine.submit({op("Anna"), op("Bertil")});
  BOOST_REQUIRE(results.size() == 2u);
  BOOST_TEST(results[0].status.isOk());
  BOOST_TEST(results[0].changed);
  BOOST_TEST((results[1].status.code() == StatusCode::kAlreadyExists));
  BOOST_TEST(!results[1].changed);
  BOOST_TEST(a.engine.status().customers == 1u);
  BOOST_TEST(lastSeq(a) == 1u);
}

BOOST_AUTO_TEST_CASE(number_length_outside_the_settings_range_is_refused) {
  configure(a, {setting(SettingsField::numberMinLength, "4"),
                setting(SettingsField::numberMaxLength, "6")});
  const Snapshot before = snapshot(a);
  for (const char* bad : {"123", "1234567"}) {
    auto r = create(a, {set(CustomerField::name, "Anna"), set(CustomerField::number, bad)});
    BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument), bad);
  }
  BOOST_TEST((snapshot(a) == before));
  created(a, "Anna", {set(CustomerField::number, "1234")});
  created(a, "Bertil", {set(CustomerField::number, "123456")});
}

BOOST_AUTO_TEST_CASE(automatic_numbers_start_at_the_minimum_length) {
  configure(
      a, {setting(SettingsField::nextNumber, "7"), setting(SettingsField::numberMinLength, "3")});
  BOOST_TEST(created(a, "Anna").value(CustomerField::number) == "100");
  BOOST_TEST(created(a, "Bertil").value(CustomerField::number) == "101");
}

BOOST_AUTO_TEST_CASE(automatic_numbering_stops_past_the_maximum_length) {
  configure(a, {setting(SettingsField::nextNumber, "9999"),
                setting(SettingsField::numberMaxLength, "4")});
  BOOST_TEST(created(a, "Anna").value(CustomerField::number) == "9999");
  auto r = create(a, {set(CustomerField::name, "Bertil")});
  BOOST_TEST((r.status().code() == StatusCode::kFailedPrecondition));
  created(a, "Typed", {set(CustomerField::number, "42")});
}

BOOST_AUTO_TEST_CASE(refused_create_does_not_use_up_an_automatic_number) {
  auto r = create(a, {set(CustomerField::phone, "040 123")});  // no name
  BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument));
  BOOST_TEST(created(a, "Anna").value(CustomerField::number) == "1000");
}

BOOST_AUTO_TEST_CASE(auto_number_off_requires_a_typed_number) {
  configure(a, {setting(SettingsField::autoNumber, "false")});
  auto r = create(a, {set(CustomerField::name, "Anna")});
  BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument));
  BOOST_TEST(r.status().message().find("auto_number") != std::string::npos);
  BOOST_TEST(created(a, "Anna", {set(CustomerField::number, "77")}).value(CustomerField::number) ==
             "77");
}

BOOST_AUTO_TEST_CASE(settings_refuse_a_minimum_length_above_the_maximum) {
  auto r = a.engine.updateSettings({setting(SettingsField::numberMinLength, "13")}, "admin");
  BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument));
  BOOST_TEST(a.engine.settings().get(SettingsField::numberMinLength) == "1");
  BOOST_TEST(lastSeq(a) == 0u);
}

BOOST_AUTO_TEST_CASE(a_number_cannot_be_cleared) {
  Customer c = created(a, "Anna");
  auto r = update(a, c.id, {set(CustomerField::number, "")});
  BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument));
  BOOST_TEST(current(a, c.id).value(CustomerField::number) == "1000");
}

// --- other settings rules ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_customer_needs_a_name) {
  auto r = create(a, {set(CustomerField::email, "anna@example.fi")});
  BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument));
  Customer c = created(a, "Anna");
  BOOST_TEST((update(a, c.id, {set(CustomerField::name, "")}).status().code() ==
              StatusCode::kInvalidArgument));
}

BOOST_AUTO_TEST_CASE(required_fields_are_enforced_at_create) {
  configure(a, {setting(SettingsField::requiredFields, "phone,email")});
  auto r = create(a, {set(CustomerField::name, "Anna"), set(CustomerField::phone, "040 123")});
  BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument));
  BOOST_TEST(r.status().message().find("email") != std::string::npos);
  created(a, "Anna",
          {set(CustomerField::phone, "040 123"), set(CustomerField::email, "anna@example.fi")});
}

BOOST_AUTO_TEST_CASE(clearing_a_required_field_is_refused) {
  configure(a, {setting(SettingsField::requiredFields, "phone")});
  Customer c = created(a, "Anna", {set(CustomerField::phone, "040 123")});
  const Snapshot before = snapshot(a);
  auto r = update(a, c.id, {set(CustomerField::phone, "")});
  BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument));
  BOOST_TEST((snapshot(a) == before));
  BOOST_TEST(current(a, c.id).value(CustomerField::phone) == "040 123");
  updated(a, c.id, {set(CustomerField::phone, "050 999")});  // changing it is fine
}

BOOST_AUTO_TEST_CASE(require_phone_or_email_is_enforced_at_create_and_edit) {
  configure(a, {setting(SettingsField::requirePhoneOrEmail, "true")});
  auto r = create(a, {set(CustomerField::name, "Anna")});
  BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument));
  Customer byEmail = created(a, "Anna", {set(CustomerField::email, "anna@example.fi")});
  created(a, "Bertil", {set(CustomerField::phone2, "050 123")});
  BOOST_TEST((update(a, byEmail.id, {set(CustomerField::email, "")}).status().code() ==
              StatusCode::kInvalidArgument));
  updated(a, byEmail.id,
          {set(CustomerField::phone, "040 123"), set(CustomerField::email, "")});  // swap
}

BOOST_AUTO_TEST_CASE(ssn_unique_is_enforced_only_when_on) {
  created(a, "Anna", {set(CustomerField::ssn, "121212-1212")});
  Customer twin = created(a, "Anna Twin", {set(CustomerField::ssn, "121212-1212")});  // off
  configure(a, {setting(SettingsField::ssnUnique, "true")});
  for (const char* spelling : {"121212-1212", " 121212-1212"}) {
    auto r = create(a, {set(CustomerField::name, "Third"), set(CustomerField::ssn, spelling)});
    BOOST_TEST((r.status().code() == StatusCode::kAlreadyExists), spelling);
  }
  Customer other = created(a, "Other", {set(CustomerField::ssn, "010101-0101")});
  BOOST_TEST((update(a, other.id, {set(CustomerField::ssn, "121212-1212")}).status().code() ==
              StatusCode::kAlreadyExists));
  // A customer already sharing an SSN can still be edited when the SSN stays.
  updated(a, twin.id, {set(CustomerField::phone, "040 123")});
}

BOOST_AUTO_TEST_CASE(invalid_values_are_refused_naming_the_field) {
  auto r = create(a, {set(CustomerField::name, "Anna"), set(CustomerField::email, "not-mail")});
  BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument));
  BOOST_TEST(r.status().message().find("email") != std::string::npos);
  Customer c = created(a, "Anna");
  r = update(a, c.id, {set(CustomerField::birthDate, "2023-02-30")});
  BOOST_TEST(r.status().message().find("birth_date") != std::string::npos);
  r = update(a, c.id, {Edit{999, {}, "x"}});
  BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument));
}

// --- assignments -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(parse_customer_assignment_reads_field_and_value) {
  auto phone = sync::parseCustomerAssignment("phone=040 123");
  BOOST_REQUIRE(phone.isOk());
  BOOST_TEST(phone->field == uint16_t(CustomerField::phone));
  BOOST_TEST(phone->key == "");
  BOOST_TEST(phone->value == "040 123");
  BOOST_TEST(sync::parseCustomerAssignment("birthDate=1990-01-01")->field ==
             uint16_t(CustomerField::birthDate));
  BOOST_TEST(sync::parseCustomerAssignment("name=a=b")->value == "a=b");
  BOOST_TEST(sync::parseCustomerAssignment("email=")->value == "");
  auto custom = sync::parseCustomerAssignment("custom.shoe size=42");
  BOOST_REQUIRE(custom.isOk());
  BOOST_TEST(custom->field == kCustomFieldCode);
  BOOST_TEST(custom->key == "shoe size");
}

BOOST_AUTO_TEST_CASE(unknown_field_is_rejected_with_a_list_of_valid_fields) {
  auto r = sync::parseCustomerAssignment("nope=1");
  BOOST_TEST(!r.isOk());
  BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument));
  const std::string& m = r.status().message();
  BOOST_TEST(m.find("nope") != std::string::npos);
  for (const auto& f : customerFields()) BOOST_TEST(m.find(f.cliName) != std::string::npos);
  BOOST_TEST(m.find("custom.NAME") != std::string::npos);
  BOOST_TEST(sync::customerFieldNamesList().rfind("number, name, phone", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(malformed_assignment_is_rejected) {
  for (const char* bad : {"name", "=Anna", "", "custom.=x"})
    BOOST_TEST(!sync::parseCustomerAssignment(bad).isOk(), bad);
}

BOOST_AUTO_TEST_CASE(parse_settings_assignment_reads_field_or_lists_settings) {
  auto r = sync::parseSettingsAssignment("next_number=5000");
  BOOST_REQUIRE(r.isOk());
  BOOST_TEST(r->field == uint16_t(SettingsField::nextNumber));
  BOOST_TEST(r->value == "5000");
  auto bad = sync::parseSettingsAssignment("number=1");
  BOOST_TEST(!bad.isOk());
  BOOST_TEST(bad.status().message().find("number_block_size") != std::string::npos);
}

// --- edits ---------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(edit_that_sets_the_same_value_writes_no_change) {
  Customer c = created(a, "Anna", {set(CustomerField::phone, "040 123")});
  const Snapshot before = snapshot(a);
  Customer same = updated(a, c.id,
                          {set(CustomerField::name, "Anna"), set(CustomerField::phone, "040 123"),
                           set(CustomerField::email, "")});
  BOOST_TEST((same == c));
  BOOST_TEST((snapshot(a) == before));
  auto results = a.engine.submit(
      {LocalOp{LocalOp::Kind::kUpdate, c.id, {set(CustomerField::name, "Anna")}, "tester"}});
  BOOST_TEST(results[0].status.isOk());
  BOOST_TEST(!results[0].changed);
  BOOST_TEST((results[0].id == c.id));
}

BOOST_AUTO_TEST_CASE(clearing_an_unset_custom_field_writes_no_change) {
  Customer c = created(a, "Anna");
  const Snapshot before = snapshot(a);
  auto results =
      a.engine.submit({LocalOp{LocalOp::Kind::kUpdate, c.id, {setCustom("colour", "")}, "tester"}});
  BOOST_TEST(results[0].status.isOk());
  BOOST_TEST(!results[0].changed);  // the value is already as requested: not set
  BOOST_TEST((snapshot(a) == before));
  BOOST_TEST(current(a, c.id).customFields.empty());
}

BOOST_AUTO_TEST_CASE(custom_fields_are_set_changed_and_kept_by_name) {
  Customer c = created(a, "Anna", {setCustom("colour", "blue")});
  BOOST_TEST(c.customFields.at("colour").value == "blue");
  c = updated(a, c.id, {setCustom("colour", "red"), setCustom("size", "42")});
  BOOST_TEST(c.customFields.at("colour").value == "red");
  BOOST_TEST(c.customFields.at("size").value == "42");
}

BOOST_AUTO_TEST_CASE(update_of_an_unknown_customer_is_not_found) {
  auto r = update(a, RecordId{kSiteA, 999}, {set(CustomerField::name, "Ghost")});
  BOOST_TEST((r.status().code() == StatusCode::kNotFound));
  BOOST_TEST(lastSeq(a) == 0u);
}

// A field named twice in one operation must end with the value that was validated (the last),
// or be refused; here the first write would bypass number uniqueness.
BOOST_AUTO_TEST_CASE(a_field_named_twice_in_one_edit_cannot_bypass_number_uniqueness) {
  Customer anna = created(a, "Anna");      // 1000
  Customer bertil = created(a, "Bertil");  // 1001
  auto r = update(a, bertil.id,
                  {set(CustomerField::number, "1000"), set(CustomerField::number, "2000")});
  if (r.isOk()) {
    BOOST_TEST(current(a, bertil.id).value(CustomerField::number) == "2000");
  }
  auto txn = a.store->read();
  BOOST_TEST((a.store->findByNumber(txn, "1000") == std::vector<RecordId>{anna.id}));
}

BOOST_AUTO_TEST_CASE(a_field_named_twice_in_one_create_keeps_the_last_value) {
  // As `sitesync customer add --phone 040 111 --set phone=050 222` does. (Refusing is fine too.)
  auto r = create(a, {set(CustomerField::name, "Anna"), set(CustomerField::phone, "040 111"),
                      set(CustomerField::phone, "050 222")});
  if (r.isOk()) {
    BOOST_TEST(r->value(CustomerField::phone) == "050 222");
  }
}

BOOST_AUTO_TEST_CASE(a_setting_named_twice_in_one_change_keeps_the_last_value) {
  auto r = a.engine.updateSettings(
      {setting(SettingsField::nextNumber, "5000"), setting(SettingsField::nextNumber, "6000")},
      "admin");
  if (r.isOk()) {  // (refusing is fine too)
    BOOST_TEST(r->get(SettingsField::nextNumber) == "6000");
  }
}

// --- history and versions ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(create_history_lists_the_created_fields) {
  Customer c =
      created(a, "Anna",
              {set(CustomerField::email, "anna@example.fi"), set(CustomerField::phone, "040 123")});
  auto history = a.engine.history(c.id);
  BOOST_REQUIRE(history.size() == 1u);
  const HistoryEntry& h = history[0];
  BOOST_TEST((h.operation == Operation::kCreate));
  BOOST_TEST(h.author == "tester");
  BOOST_TEST(h.site == kSiteA);
  BOOST_TEST(h.seq == 1u);
  BOOST_TEST((h.at == c.created.hlc));
  BOOST_TEST(h.changes.empty());
  std::vector<uint16_t> expected = {uint16_t(CustomerField::number), uint16_t(CustomerField::name),
                                    uint16_t(CustomerField::phone), uint16_t(CustomerField::email),
                                    uint16_t(CustomerField::status)};
  BOOST_TEST(h.createdFields == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(update_history_holds_old_and_new_values) {
  Customer c =
      created(a, "Anna",
              {set(CustomerField::email, "anna@example.fi"), set(CustomerField::phone, "040 123")});
  a.clock.set(kT0 + 1000);
  updated(a, c.id, {set(CustomerField::phone, "050 999"), set(CustomerField::email, "")});
  auto history = a.engine.history(c.id);
  BOOST_REQUIRE(history.size() == 2u);
  const HistoryEntry& h = history[1];
  BOOST_TEST((h.operation == Operation::kUpdate));
  BOOST_TEST(h.seq == 2u);
  BOOST_TEST(h.createdFields.empty());
  std::vector<FieldChange> expected = {
      FieldChange{uint16_t(CustomerField::phone), "", "040 123", "050 999"},
      FieldChange{uint16_t(CustomerField::email), "", "anna@example.fi", ""}};
  BOOST_TEST((h.changes == expected));
}

BOOST_AUTO_TEST_CASE(every_local_change_writes_a_log_entry_a_vector_advance_and_history) {
  Customer x = created(a, "Anna");                                  // 1
  updated(a, x.id, {set(CustomerField::phone, "040 1")});           // 2
  Customer y = created(a, "Bertil");                                // 3
  BOOST_REQUIRE(a.engine.setActive(y.id, false, "tester").isOk());  // 4
  configure(a, {setting(SettingsField::nextNumber, "2000")});       // 5: no customer history
  updated(a, x.id, {set(CustomerField::phone, "040 1")});           // no change

  auto status = a.engine.status();
  BOOST_TEST(status.logEntries == 5u);
  BOOST_TEST(status.meta.lastSeq == 5u);
  BOOST_TEST(status.vector.get(kSiteA) == 5u);
  BOOST_TEST(a.engine.history(x.id).size() == 2u);
  BOOST_TEST(a.engine.history(y.id).size() == 2u);
  auto txn = a.store->read();
  for (uint64_t seq = 1; seq <= 5; ++seq)
    BOOST_TEST(a.store->logPosition(txn, ChangeId{kSiteA, seq}).value_or(0) == seq);
  for (const Change& ch : log(a)) {
    if (ch.operation == Operation::kSettings) continue;
    size_t matching = 0;
    for (const auto& h : a.store->history(txn, ch.target)) matching += h.seq == ch.id.seq;
    BOOST_TEST(matching == 1u, "history entries for change " << ch.id.seq);
  }
}

BOOST_AUTO_TEST_CASE(field_versions_are_the_hlc_and_origin_of_their_change) {
  Customer c = created(a, "Anna", {set(CustomerField::phone, "040 1")});
  const Change create = lastChange(a);
  BOOST_TEST((create.version() == Version{Hlc::from(kT0, 1), kSiteA}));  // after init's tick
  BOOST_TEST((c.created == create.version()));
  for (auto f :
       {CustomerField::number, CustomerField::name, CustomerField::phone, CustomerField::status})
    BOOST_TEST((c[f].version == create.version()));
  BOOST_TEST(c[CustomerField::email].version.isNull());

  a.clock.set(kT0 + 500);
  c = updated(a, c.id, {set(CustomerField::phone, "040 2")});
  const Change edit = lastChange(a);
  BOOST_TEST((edit.version() == Version{Hlc::from(kT0 + 500, 0), kSiteA}));
  BOOST_TEST((c[CustomerField::phone].version == edit.version()));
  BOOST_TEST((c[CustomerField::name].version == create.version()));
  BOOST_REQUIRE(edit.writes.size() == 1u);
  BOOST_TEST((edit.writes[0].replaces == std::vector<Version>{create.version()}));
}

BOOST_AUTO_TEST_CASE(local_changes_get_increasing_hlcs_when_the_clock_goes_back) {
  Customer c = created(a, "Anna");
  const Hlc first = lastChange(a).hlc;
  a.clock.set(kT0 - kHour);
  updated(a, c.id, {set(CustomerField::phone, "040 1")});
  const Hlc second = lastChange(a).hlc;
  BOOST_TEST((second > first));
  BOOST_TEST(second.millis() == first.millis());
}

BOOST_AUTO_TEST_CASE(a_write_made_after_seeing_another_wins_whatever_the_clocks_say) {
  Site b(kSiteB, "branch-b");
  Customer c = created(a, "Anna");
  a.clock.set(kT0 + 10 * kHour);  // a's clock runs far ahead
  updated(a, c.id, {set(CustomerField::customerGroup, "group from a")});
  receive(b, log(a));
  b.clock.set(kT0 - kHour);  // b's clock is far behind, but b has seen a's write
  updated(b, c.id, {set(CustomerField::customerGroup, "group from b")});
  BOOST_TEST((lastChange(b).hlc > lastChange(a).hlc));
  receive(a, log(b));
  BOOST_TEST(current(a, c.id).value(CustomerField::customerGroup) == "group from b");
  BOOST_TEST(current(b, c.id).value(CustomerField::customerGroup) == "group from b");
  BOOST_TEST(a.engine.digestHex() == b.engine.digestHex());
}

// --- apply: replication ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(stores_that_apply_the_same_changes_have_equal_digests) {
  Customer x = created(a, "Anna", {set(CustomerField::phone, "040 1")});
  Customer y = created(a, "Bertil", {setCustom("colour", "blue")});
  a.clock.set(kT0 + 100);
  updated(a, x.id, {set(CustomerField::email, "anna@example.fi")});
  configure(a, {setting(SettingsField::nextNumber, "2000")});
  BOOST_REQUIRE(a.engine.setActive(y.id, false, "tester").isOk());

  Site b(kSiteB, "branch-b");
  BOOST_TEST(b.engine.digestHex() != a.engine.digestHex());
  BOOST_TEST(receive(b, log(a)) == 5);
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
  BOOST_TEST((b.engine.list(true) == a.engine.list(true)));
  BOOST_TEST((b.engine.settings() == a.engine.settings()));
  BOOST_TEST(b.engine.history(x.id).size() == 2u);
  auto status = b.engine.status();
  BOOST_TEST(status.vector.get(kSiteA) == 5u);
  BOOST_TEST(status.meta.lastSeq == 0u);  // b originated nothing
  BOOST_TEST(status.deactivated == 1u);
}

BOOST_AUTO_TEST_CASE(concurrent_writes_converge_in_any_interleaving_and_the_larger_version_wins) {
  Site b(kSiteB, "branch-b"), c(kSiteC, "observer-c"), d(kSiteD, "observer-d");
  Customer x = created(a, "Anna", {set(CustomerField::phone, "111")});
  receive(b, log(a));
  // Neither a nor b sees the other's writes below: they are concurrent.
  a.clock.set(kT0 + 300);
  updated(a, x.id, {set(CustomerField::phone, "222")});
  created(a, "Yrjö", {set(CustomerField::number, "7001")});
  b.clock.set(kT0 + 200);
  updated(b, x.id, {set(CustomerField::phone, "333")});
  updated(b, x.id, {set(CustomerField::email, "b@example.fi")});
  created(b, "Zacharias", {set(CustomerField::number, "7002")});
  const auto logA = log(a), logB = log(b);  // logB starts with a's create

  receive(c, logA);
  receive(c, logB);
  receive(d, {logA.front()});
  receive(d, logB);
  receive(d, logA);
  receive(a, logB);
  receive(b, logA);

  const std::string digest = a.engine.digestHex();
  for (Site* s : {&b, &c, &d}) {
    BOOST_TEST(s->engine.digestHex() == digest);
    Customer got = current(*s, x.id);
    BOOST_TEST(got.value(CustomerField::phone) == "222");  // (kT0+300, a) > (kT0+200, b)
    BOOST_TEST(got.value(CustomerField::email) == "b@example.fi");
    BOOST_TEST(s->engine.status().customers == 3u);
  }
}

BOOST_AUTO_TEST_CASE(concurrent_writes_with_equal_hlcs_are_decided_by_origin) {
  Site b(kSiteB, "branch-b");
  Customer x = created(a, "Anna");
  receive(b, log(a));
  a.clock.set(kT0 + 100);
  b.clock.set(kT0 + 100);
  updated(a, x.id, {set(CustomerField::customerGroup, "group from a")});
  updated(b, x.id, {set(CustomerField::customerGroup, "group from b")});
  BOOST_REQUIRE((lastChange(a).hlc == lastChange(b).hlc));
  receive(a, log(b));
  receive(b, log(a));
  BOOST_TEST(current(a, x.id).value(CustomerField::customerGroup) ==
             "group from b");  // kSiteB > kSiteA
  BOOST_TEST(current(b, x.id).value(CustomerField::customerGroup) == "group from b");
  BOOST_TEST(a.engine.digestHex() == b.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(concurrent_edits_of_different_fields_both_survive) {
  Site b(kSiteB, "branch-b");
  Customer x = created(a, "Anna");
  receive(b, log(a));
  a.clock.set(kT0 + 100);
  b.clock.set(kT0 + 200);
  updated(a, x.id, {set(CustomerField::phone, "040 123")});
  updated(b, x.id, {set(CustomerField::email, "anna@example.fi")});
  receive(a, log(b));
  receive(b, log(a));
  for (Site* s : {&a, &b}) {
    BOOST_TEST(current(*s, x.id).value(CustomerField::phone) == "040 123");
    BOOST_TEST(current(*s, x.id).value(CustomerField::email) == "anna@example.fi");
  }
  BOOST_TEST(a.engine.digestHex() == b.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(apply_is_idempotent) {
  created(a, "Anna");
  Site b(kSiteB, "branch-b");
  const auto changes = log(a);
  BOOST_TEST(receive(b, changes) == 1);
  const Snapshot before = snapshot(b);
  BOOST_TEST(!applyOne(b, changes[0]));
  BOOST_TEST(!applyOne(a, changes[0]));  // its own change, too
  BOOST_TEST((snapshot(b) == before));
  BOOST_TEST(logEntries(a) == 1u);
}

BOOST_AUTO_TEST_CASE(change_with_a_seq_gap_throws_and_writes_nothing) {
  Customer x = created(a, "Anna");
  updated(a, x.id, {set(CustomerField::phone, "040 1")});
  updated(a, x.id, {set(CustomerField::phone, "040 2")});
  const auto changes = log(a);
  Site b(kSiteB, "branch-b");
  receive(b, {changes[0]});
  const Snapshot before = snapshot(b);
  BOOST_CHECK_THROW(applyOne(b, changes[2]), std::runtime_error);
  BOOST_TEST((snapshot(b) == before));
  BOOST_TEST(b.engine.status().vector.get(kSiteA) == 1u);
  BOOST_TEST(applyOne(b, changes[1]));  // the stream resumes in order
  BOOST_TEST(applyOne(b, changes[2]));
}

BOOST_AUTO_TEST_CASE(change_that_cannot_apply_throws_and_writes_nothing) {
  Change ghost;
  ghost.id = ChangeId{kSiteC, 1};
  ghost.hlc = Hlc::from(kT0, 5);
  ghost.operation = Operation::kUpdate;
  ghost.target = RecordId{kSiteC, 99};
  ghost.writes.push_back(FieldWrite{uint16_t(CustomerField::name), "", "Ghost", {}});
  const Snapshot before = snapshot(a);
  BOOST_CHECK_THROW(applyOne(a, ghost), std::runtime_error);  // unknown customer
  ghost.operation = Operation::kDelete;
  BOOST_CHECK_THROW(applyOne(a, ghost), std::runtime_error);  // not supported yet
  ghost.operation = Operation::kCreate;
  ghost.writes[0].field = 200;
  BOOST_CHECK_THROW(applyOne(a, ghost), std::runtime_error);  // unknown field
  BOOST_TEST((snapshot(a) == before));
}

BOOST_AUTO_TEST_CASE(applying_a_peers_change_advances_its_vector_entry_and_the_hlc) {
  Site b(kSiteB, "branch-b");
  b.clock.set(kT0 + 10 * kHour);
  created(b, "From the future");
  receive(a, log(b));
  auto status = a.engine.status();
  BOOST_TEST(status.vector.get(kSiteB) == 1u);
  BOOST_TEST(status.meta.lastSeq == 0u);
  BOOST_TEST((status.meta.lastHlc == lastChange(b).hlc));
  Customer mine = created(a, "Local");
  BOOST_TEST((mine.id == RecordId{kSiteA, 1}));
  BOOST_TEST((lastChange(a).hlc > lastChange(b).hlc));
}

// --- reads ---------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(deactivated_customer_is_counted_and_listed_only_on_request) {
  created(a, "Anna");
  Customer b = created(a, "Bertil");
  Customer off = a.engine.setActive(b.id, false, "tester").value();
  BOOST_TEST(off.value(CustomerField::status) == "deactivated");
  auto status = a.engine.status();
  BOOST_TEST(status.customers == 1u);
  BOOST_TEST(status.deactivated == 1u);
  BOOST_TEST(status.tombstones == 0u);
  BOOST_TEST(a.engine.list(false).size() == 1u);
  BOOST_TEST(a.engine.list(true).size() == 2u);
  BOOST_TEST(a.engine.search("bertil", 10).size() == 1u);  // still searchable
}

BOOST_AUTO_TEST_CASE(resolve_accepts_an_id_or_a_number) {
  Customer c = created(a, "Anna");
  BOOST_TEST((a.engine.resolve("#1000").value() == c.id));
  BOOST_TEST((a.engine.resolve(c.id.toString()).value() == c.id));
  BOOST_TEST((a.engine.resolve("#9999").status().code() == StatusCode::kNotFound));
  BOOST_TEST(
      (a.engine.resolve(RecordId{kSiteA, 77}.toString()).status().code() == StatusCode::kNotFound));
  BOOST_TEST((a.engine.resolve("anna").status().code() == StatusCode::kInvalidArgument));
}

BOOST_AUTO_TEST_CASE(resolve_of_a_number_held_twice_asks_for_an_id) {
  Site b(kSiteB, "branch-b");
  created(a, "Anna");  // both sites hand out 1000 while apart
  created(b, "Bertil");
  receive(a, log(b));
  BOOST_TEST((a.engine.resolve("#1000").status().code() == StatusCode::kFailedPrecondition));
}

BOOST_AUTO_TEST_CASE(search_finds_by_number_phone_and_name) {
  Customer c = created(a, "Åke Öberg", {set(CustomerField::phone, "+358 40 123 4567")});
  created(a, "Bertil");
  for (const char* query : {"1000", "#1000", "358 40 123", "+358 40", "ake", "öberg ÅK"}) {
    auto found = a.engine.search(query, 10);
    BOOST_TEST((found.size() == 1u && found[0].id == c.id), query);
  }
  BOOST_TEST(a.engine.search("cecilia", 10).empty());
}

BOOST_AUTO_TEST_SUITE_END()
