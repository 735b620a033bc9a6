// `sitesync doctor` (sync/store_checks.h): a sound store passes every check; each derived table
// damaged by hand (raw LMDB, as a disk or a bug would) is found and rebuilt by --repair; what
// cannot be derived (the log against the vector, an altered logged change) is found and left.
#include <lmdb.h>

#include <algorithm>

#include "sync/store_checks.h"
#include "tests/unit/sync_fixture.h"

namespace {

using sitesync::sync::checkStore;
using sitesync::sync::StoreCheckReport;
using sitesync::sync::StoreFinding;

// A branch whose store has an entry in every derived table: the hub's customers (numbers,
// SSNs, phones, e-mails, names), a deleted one, a merge, its own customers waiting for a number,
// and a conflict of concurrent edits.
struct DoctorFixture {
  Member hub{kSiteA, kSiteA};
  Member branch{kSiteB, kSiteA};
  RecordId kept;

  DoctorFixture() {
    std::vector<RecordId> ids;
    for (int i = 0; i < 6; ++i) {
      auto c = hub.engine.create({set(CustomerField::name, "Anna Berg " + std::to_string(i)),
                                  set(CustomerField::phone, "040 123 45" + std::to_string(i)),
                                  set(CustomerField::email, "anna" + std::to_string(i) + "@x.fi"),
                                  set(CustomerField::ssn, "010190-12" + std::to_string(i) + "A")},
                                 "tester");
      BOOST_REQUIRE_MESSAGE(c.isOk(), c.status().message());
      ids.push_back(c->id);
    }
    BOOST_REQUIRE(hub.engine.remove(ids[0], "tester").isOk());
    BOOST_REQUIRE(hub.engine.merge(ids[1], {ids[2]}, {}, "tester").isOk());
    ship(hub.engine, branch.engine);
    branch.add("Bertil Ek");  // the branch has no number block: it waits for a number
    kept = ids[3];
    BOOST_REQUIRE(hub.engine.update(kept, {set(CustomerField::invoiceCity, "Turku")}, "t").isOk());
    BOOST_REQUIRE(
        branch.engine.update(kept, {set(CustomerField::invoiceCity, "Oulu")}, "t").isOk());
    ship(hub.engine, branch.engine);
    ship(branch.engine, hub.engine);
  }

  const StoreFinding& finding(const StoreCheckReport& report, const std::string& check) {
    auto it = std::find_if(report.findings.begin(), report.findings.end(),
                           [&](const StoreFinding& f) { return f.check == check; });
    BOOST_REQUIRE_MESSAGE(it != report.findings.end(), "no check " << check);
    return *it;
  }
};

// Removes the first entry of `table` and adds one nothing calls for, with LMDB alone.
void damage(const std::string& dir, const std::string& table) {
  MDB_env* env = nullptr;
  BOOST_REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 32);
  BOOST_REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0600) == 0);
  MDB_txn* txn = nullptr;
  BOOST_REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  MDB_dbi dbi;
  BOOST_REQUIRE(mdb_dbi_open(txn, table.c_str(), 0, &dbi) == 0);
  MDB_cursor* cursor = nullptr;
  BOOST_REQUIRE(mdb_cursor_open(txn, dbi, &cursor) == 0);
  MDB_val key, value;
  if (mdb_cursor_get(cursor, &key, &value, MDB_FIRST) == 0) mdb_cursor_del(cursor, 0);
  mdb_cursor_close(cursor);
  std::string bogusKey = table == "change_index" ? std::string(16, '\x7f') : "zz-bogus";
  std::string bogusValue = table == "index_name_tokens" || table == "change_index"
                               ? std::string(table == "change_index" ? 8 : 16, '\x01')
                               : std::string();
  if (table != "index_name_tokens" && table != "change_index") bogusKey.append(17, '\x02');
  key = MDB_val{bogusKey.size(), bogusKey.data()};
  value = MDB_val{bogusValue.size(), bogusValue.data()};
  BOOST_REQUIRE(mdb_put(txn, dbi, &key, &value, 0) == 0);
  BOOST_REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(storage)

BOOST_FIXTURE_TEST_CASE(doctor_finds_a_sound_store_sound_and_verifies_its_signed_runs,
                        DoctorFixture) {
  const auto report = checkStore(*branch.store, false);
  for (const auto& f : report.findings) BOOST_TEST(f.ok, f.check << ": " << f.detail);
  BOOST_TEST(report.healthy());
  BOOST_TEST(finding(report, "signatures").detail.find("0 changes in verified") ==
             std::string::npos);
  BOOST_TEST(finding(report, "conflicts").detail == "1 entries");
}

BOOST_FIXTURE_TEST_CASE(doctor_repair_rebuilds_each_damaged_derived_table, DoctorFixture) {
  const std::string dir = branch.dir.path();
  branch.store.reset();  // (the engine is not used again: only the tables are)
  for (const std::string table :
       {"index_number", "index_ssn", "index_contact", "index_name_tokens", "conflicts", "absorbed",
        "index_absorbed_number", "pending_numbers", "index_deleted_number", "change_index"}) {
    BOOST_TEST_CONTEXT(table) {
      damage(dir, table);
      auto store = Store::open(dir, Options{.durable = false});
      const auto found = checkStore(*store, false);
      BOOST_TEST(!found.healthy());
      BOOST_TEST(!finding(found, table).ok);
      const auto repaired = checkStore(*store, true);
      BOOST_TEST(finding(repaired, table).repaired);
      BOOST_TEST(repaired.healthy());
      BOOST_TEST(checkStore(*store, false).healthy());
    }
  }
  auto store = Store::open(dir, Options{.durable = false});
  auto txn = store->read();
  BOOST_TEST(store->findByPhone(txn, "040 123 453", 10).size() == 1u);
  BOOST_TEST(store->searchName(txn, "bertil", 10).size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(doctor_repair_recounts_the_register_counters, DoctorFixture) {
  branch.store->write([&](WriteTxn& txn) {
    Meta meta = *branch.store->meta(txn);
    meta.activeCustomers += 7;
    branch.store->putMeta(txn, meta);
  });
  BOOST_TEST(!finding(checkStore(*branch.store, false), "counters").ok);
  BOOST_TEST(finding(checkStore(*branch.store, true), "counters").repaired);
  BOOST_TEST(checkStore(*branch.store, false).healthy());
}

BOOST_FIXTURE_TEST_CASE(doctor_reports_a_log_beyond_the_vector_and_an_altered_change_unrepaired,
                        DoctorFixture) {
  Change altered;
  uint64_t position = 0;
  {
    auto txn = branch.store->read();
    branch.store->forEachLog(txn, 1, [&](uint64_t at, const Change& c) {
      if (c.id.origin != kSiteA || c.writes.empty()) return true;
      altered = c;
      position = at;
      return false;
    });
  }
  BOOST_REQUIRE(position != 0);
  altered.writes.front().value = "forged";
  std::string bytes;
  encode(altered, bytes);
  branch.store->write([&](WriteTxn& txn) {
    branch.store->replaceLogEntry(txn, position, bytes);
    branch.store->setVectorEntry(txn, kSiteB, 0);
  });
  const auto report = checkStore(*branch.store, true);
  BOOST_TEST(!finding(report, "signatures").ok);
  BOOST_TEST(!finding(report, "signatures").repaired);
  BOOST_TEST(!finding(report, "log").ok);
  BOOST_TEST(!finding(report, "log").repairable);
  BOOST_TEST(report.unrepaired());
}

BOOST_AUTO_TEST_SUITE_END()
