// Sync engine: the hybrid logical clock, site initialisation, and local operations under the
// deployment settings (numbering, required fields, SSN uniqueness, value formats, parsing).
#include "tests/unit/sync_fixture.h"

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
  auto again =
      Engine::initialize(*a.store, a.clock, sitesync::testing::testSiteKey(kSiteB), "other", true);
  BOOST_TEST(!again.isOk());
  BOOST_TEST((again.code() == StatusCode::kFailedPrecondition));
  Meta meta = a.engine.meta();
  BOOST_TEST(meta.siteId == kSiteA);
  BOOST_TEST(meta.siteName == "branch-a");
  BOOST_TEST(!meta.isHub);
}

BOOST_AUTO_TEST_CASE(initialize_refuses_a_bad_name_and_a_hub_of_another_deployment) {
  TempDir dir;
  auto store = Store::open(dir.path(), Options{.durable = false});
  TestClock clock(kT0);
  const sync::SiteKey& key = sitesync::testing::testSiteKey(kSiteB);
  BOOST_TEST(
      (Engine::initialize(*store, clock, key, "", false).code() == StatusCode::kInvalidArgument));
  BOOST_TEST((Engine::initialize(*store, clock, key, "bad \xc3", false).code() ==
              StatusCode::kInvalidArgument));
  BOOST_TEST((Engine::initialize(*store, clock, key, "hub", true, kSiteA).code() ==
              StatusCode::kInvalidArgument));
  BOOST_TEST(!Engine::isInitialized(*store));
}

BOOST_AUTO_TEST_CASE(is_initialized_reports_whether_a_store_holds_a_site) {
  TempDir dir;
  auto store = Store::open(dir.path(), Options{.durable = false});
  TestClock clock(kT0);
  BOOST_TEST(!Engine::isInitialized(*store));
  BOOST_TEST(
      Engine::initialize(*store, clock, sitesync::testing::testSiteKey(kSiteB), "b", true).isOk());
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

BOOST_AUTO_TEST_CASE(age_alert_years_flags_customers_younger_than_it_by_this_nodes_clock) {
  // The clock stands at 2023-11-14.
  Customer minor = created(a, "Minor", {set(CustomerField::birthDate, "2005-11-15")});
  Customer adult = created(a, "Adult", {set(CustomerField::birthDate, "2005-11-14")});
  Customer unknown = created(a, "Unknown");
  auto flagged = [&](const Customer& c) {
    const auto flags = a.engine.flags(current(a, c.id));
    return std::find(flags.begin(), flags.end(), "age_alert") != flags.end();
  };
  BOOST_TEST(!flagged(minor));  // 0: off
  configure(a, {setting(SettingsField::ageAlertYears, "18")});
  BOOST_TEST(flagged(minor));   // 18 tomorrow
  BOOST_TEST(!flagged(adult));  // 18 today
  BOOST_TEST(!flagged(unknown));
}

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

// Regression: `edit #1000 --set gender=male` was refused because e-mail had become required
// after the customer was created.
BOOST_AUTO_TEST_CASE(a_field_required_after_a_customer_was_made_binds_only_edits_that_write_it) {
  Customer c = created(a, "Anna", {set(CustomerField::phone, "040 123")});
  configure(a, {setting(SettingsField::requiredFields, "email,phone")});
  updated(a, c.id, {set(CustomerField::gender, "female")});
  auto cleared = update(a, c.id, {set(CustomerField::phone, "")});
  BOOST_TEST((cleared.status().code() == StatusCode::kInvalidArgument));
  BOOST_TEST(cleared.status().message().find("phone") != std::string::npos);
  auto emptied = update(a, c.id, {set(CustomerField::email, "")});  // already empty: no change
  BOOST_TEST(emptied.isOk());
  updated(a, c.id, {set(CustomerField::email, "anna@example.fi")});
  BOOST_TEST((update(a, c.id, {set(CustomerField::email, "")}).status().code() ==
              StatusCode::kInvalidArgument));
}

BOOST_AUTO_TEST_CASE(require_phone_or_email_binds_only_edits_that_write_a_phone_or_the_email) {
  Customer c = created(a, "Anna");
  configure(a, {setting(SettingsField::requirePhoneOrEmail, "true")});
  updated(a, c.id, {set(CustomerField::gender, "female")});
  BOOST_TEST((update(a, c.id, {set(CustomerField::phone2, "")}).isOk()));  // no change
  updated(a, c.id, {set(CustomerField::phone, "040 123")});
  BOOST_TEST((update(a, c.id, {set(CustomerField::phone, "")}).status().code() ==
              StatusCode::kInvalidArgument));
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

BOOST_AUTO_TEST_SUITE_END()
