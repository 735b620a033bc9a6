// Sync engine: history and field versions, and the apply path shared with peers (causality,
// convergence of concurrent writes, idempotence, ordering), plus the read side.
#include "tests/unit/sync_fixture.h"

BOOST_FIXTURE_TEST_SUITE(sync_engine, SyncFixture)

// --- history and versions ------------------------------------------------------------------------

namespace {
// "field: old -> new" for each line of a history entry.
std::vector<std::string> lines(const HistoryEntry& h) {
  std::vector<std::string> out;
  for (const FieldChange& fc : h.changes)
    out.push_back(std::to_string(fc.field) + ":" + fc.key + ": " + fc.oldValue + " -> " +
                  fc.newValue);
  return out;
}
std::string line(CustomerField f, const std::string& old, const std::string& now) {
  return std::to_string(uint16_t(f)) + ":: " + old + " -> " + now;
}
}  // namespace

BOOST_AUTO_TEST_CASE(create_history_lists_every_created_field_with_its_value) {
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
  std::vector<std::string> expected = {
      line(CustomerField::number, "", c.value(CustomerField::number)),
      line(CustomerField::name, "", "Anna"), line(CustomerField::phone, "", "040 123"),
      line(CustomerField::email, "", "anna@example.fi"),
      line(CustomerField::status, "", c.value(CustomerField::status))};
  auto got = lines(h);
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  BOOST_TEST(got == expected, boost::test_tools::per_element());
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
  std::vector<std::string> expected = {line(CustomerField::phone, "040 123", "050 999"),
                                       line(CustomerField::email, "anna@example.fi", "")};
  BOOST_TEST(lines(h) == expected, boost::test_tools::per_element());
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
  a.clock.set(kT0 + 4 * kMinute);  // a's clock runs ahead (within max_clock_skew)
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
  BOOST_REQUIRE(a.engine.setActive(y.id, false, "tester").isOk());

  Site b(kSiteB, "branch-b");
  BOOST_TEST(b.engine.digestHex() != a.engine.digestHex());
  BOOST_TEST(receive(b, log(a)) == 4);
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
  BOOST_TEST((b.engine.list(true) == a.engine.list(true)));
  BOOST_TEST((b.engine.settings() == a.engine.settings()));
  BOOST_TEST(b.engine.history(x.id).size() == 2u);
  auto status = b.engine.status();
  BOOST_TEST(status.vector.get(kSiteA) == 4u);
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
  b.clock.set(kT0 + 4 * kMinute);
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

BOOST_AUTO_TEST_CASE(search_finds_by_number_phone_email_and_name) {
  Customer c = created(a, "Åke Öberg",
                       {set(CustomerField::phone, "+358 40 123 4567"),
                        set(CustomerField::email, "Ake.Oberg@example.fi")});
  created(a, "Bertil", {set(CustomerField::phone, "050 123 4567")});
  for (const char* query :
       {"1000", "#1000", "+358 40 123 4567", "040 123 4567", "040-1234567", "0040 123 4567",
        "ake.oberg@example.fi", "AKE.OBERG@EXAMPLE.FI", "ake", "öberg ÅK"}) {
    auto found = a.engine.search(query, 10);
    BOOST_TEST((found.size() == 1u && found[0].id == c.id), query);
  }
  BOOST_TEST(a.engine.search("cecilia", 10).empty());
  BOOST_TEST(a.engine.search("123 4567", 10).size() == 2u);     // the end of both numbers
  BOOST_TEST(a.engine.search("oberg@example.fi", 10).empty());  // e-mail: the whole address
}

BOOST_AUTO_TEST_CASE(status_counts_kept_by_the_apply_path_match_a_scan_of_the_register) {
  Site b{kSiteB, "branch-b"};
  std::vector<RecordId> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(created(a, "Customer " + std::to_string(i)).id);
  for (int i = 0; i < 12; i += 3) BOOST_REQUIRE(a.engine.setActive(ids[i], false, "t").isOk());
  BOOST_REQUIRE(a.engine.setActive(ids[0], true, "t").isOk());
  receive(b, log(a));  // the peer counts what it applies, too
  for (Site* site : {&a, &b}) {
    uint64_t active = 0, deactivated = 0;
    for (const auto& c : site->engine.list(true))
      (c.value(CustomerField::status) == "deactivated" ? deactivated : active)++;
    auto status = site->engine.status();
    BOOST_TEST(status.customers == active);
    BOOST_TEST(status.deactivated == deactivated);
    BOOST_TEST(status.customers == 9u);
    BOOST_TEST(status.deactivated == 3u);
  }
}

BOOST_AUTO_TEST_SUITE_END()
