// Unit tests for the LMDB store: records and their search indexes, the change log and its id
// index, the version vector, history, transactions (abort on exception) and map growth.
#include <lmdb.h>
#include <stdlib.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "protocol/protocol.h"
#include "storage/store.h"
#include "tests/unit/test_support.h"

using namespace sitesync;
using sitesync::storage::Options;
using sitesync::storage::ReadTxn;
using sitesync::storage::Store;
using sitesync::storage::StoreError;
using sitesync::storage::WriteTxn;

using sitesync::testing::TempDir;
using sitesync::testing::TestClock;

namespace {

constexpr SiteId kSite = 0x5170a6e000000001;
using Ids = std::vector<RecordId>;

// A fresh directory under the system temp dir, removed with everything in it at the end.

struct StorageFixture {
  TempDir dir;
  std::unique_ptr<Store> store = Store::open(dir.path(), Options{.durable = false});

  static Version v(uint64_t millis) { return Version{Hlc::from(millis, 0), kSite}; }

  static Customer customer(uint64_t counter, const std::string& number, const std::string& name,
                           const std::string& phone = "", const std::string& ssn = "") {
    Customer c;
    c.id = RecordId{kSite, counter};
    c.created = v(counter);
    c[CustomerField::number] = FieldValue{number, v(counter)};
    c[CustomerField::name] = FieldValue{name, v(counter)};
    if (!phone.empty()) c[CustomerField::phone] = FieldValue{phone, v(counter)};
    if (!ssn.empty()) c[CustomerField::ssn] = FieldValue{ssn, v(counter)};
    c[CustomerField::status] = FieldValue{"active", v(counter)};
    return c;
  }

  void put(const Customer& c) {
    store->write([&](WriteTxn& txn) { store->putCustomer(txn, nullptr, c); });
  }
  void replace(const Customer& before, const Customer& after) {
    store->write([&](WriteTxn& txn) { store->putCustomer(txn, &before, after); });
  }
  std::optional<Customer> get(RecordId id) {
    auto txn = store->read();
    return store->customer(txn, id);
  }

  Ids byNumber(const std::string& number) {
    auto txn = store->read();
    return store->findByNumber(txn, number);
  }
  Ids byDeletedNumber(const std::string& number) {
    auto txn = store->read();
    return store->findDeletedByNumber(txn, number);
  }
  Ids bySsn(const std::string& ssn) {
    auto txn = store->read();
    return store->findBySsn(txn, ssn);
  }
  Ids byPhone(const std::string& phone, size_t limit = 100) {
    auto txn = store->read();
    return store->findByPhone(txn, phone, limit);
  }
  Ids byName(const std::string& query, size_t limit = 100) {
    auto txn = store->read();
    return store->searchName(txn, query, limit);
  }

  static Change change(SiteId origin, uint64_t seq) {
    Change ch;
    ch.id = ChangeId{origin, seq};
    ch.hlc = Hlc::from(1000 + seq, 0);
    ch.operation = Operation::kUpdate;
    ch.target = RecordId{origin, 1};
    ch.writes.push_back(
        FieldWrite{uint16_t(CustomerField::name), "", "name " + std::to_string(seq), {}});
    return ch;
  }
  uint64_t append(const Change& ch) {
    std::string bytes;
    encode(ch, bytes);
    return store->write([&](WriteTxn& txn) { return store->appendLog(txn, ch, bytes); });
  }
  std::vector<std::pair<uint64_t, Change>> logFrom(uint64_t position) {
    std::vector<std::pair<uint64_t, Change>> out;
    auto txn = store->read();
    store->forEachLog(txn, position, [&](uint64_t p, const Change& ch) {
      out.emplace_back(p, ch);
      return true;
    });
    return out;
  }
  uint64_t lastPosition() {
    auto txn = store->read();
    return store->lastLogPosition(txn);
  }

  static HistoryEntry historyEntry(uint64_t seq, const std::string& author) {
    HistoryEntry h;
    h.at = Hlc::from(2000 + seq, 0);
    h.site = kSite;
    h.seq = seq;
    h.author = author;
    h.operation = Operation::kUpdate;
    h.changes.push_back(FieldChange{uint16_t(CustomerField::phone), "", "1", "2"});
    return h;
  }

  uint64_t tableEntries(const std::string& name) {
    for (const auto& t : store->stats().tables)
      if (t.name == name) return t.entries;
    BOOST_FAIL("no table " << name);
    return 0;
  }
  // Phone entries are in the index or, until they are folded into it, in its runs.
  uint64_t phoneEntries() {
    return tableEntries("index_contact") + tableEntries("index_contact_runs");
  }

  // The store's directory edited through raw LMDB, as an earlier sitesync would have left it:
  // `fn(txn, table)` in one write transaction, table(name, flags) opening a table (the store
  // must be closed).
  template <typename Fn>
  void editRawly(Fn fn) {
    MDB_env* env = nullptr;
    BOOST_REQUIRE(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, 32);
    BOOST_REQUIRE(mdb_env_open(env, dir.path().c_str(), 0, 0640) == 0);
    MDB_txn* txn = nullptr;
    BOOST_REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
    auto table = [&](const char* name, unsigned flags) {
      MDB_dbi dbi = 0;
      BOOST_REQUIRE(mdb_dbi_open(txn, name, flags, &dbi) == 0);
      return dbi;
    };
    fn(txn, table);
    BOOST_REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
  }
  // An index key of the earlier layout: term \0 id(16).
  static std::string oldIndexKey(const std::string& term, uint64_t counter) {
    std::string key = term + '\0';
    for (uint64_t part : {kSite, counter})
      for (int shift = 56; shift >= 0; shift -= 8) key.push_back(char((part >> shift) & 0xff));
    return key;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(storage, StorageFixture)

// --- records ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(put_customer_then_customer_returns_it) {
  Customer c = customer(1, "1000", "Anna Virtanen", "040 123 4567", "010203-123A");
  c.customFields["colour"] = FieldValue{"blue", v(5)};
  put(c);
  auto back = get(c.id);
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST((*back == c));
}

BOOST_AUTO_TEST_CASE(customer_of_an_unknown_id_is_absent) {
  put(customer(1, "1000", "Anna"));
  BOOST_TEST(!get(RecordId{kSite, 2}).has_value());
  BOOST_TEST(!get(RecordId{kSite + 1, 1}).has_value());
}

BOOST_AUTO_TEST_CASE(records_survive_closing_and_reopening_the_store) {
  Customer c = customer(1, "1000", "Anna");
  put(c);
  store.reset();
  store = Store::open(dir.path());
  BOOST_TEST((get(c.id) == c));
}

BOOST_AUTO_TEST_CASE(for_each_customer_visits_in_id_order_and_can_stop) {
  for (uint64_t counter : {3, 1, 300, 2}) put(customer(counter, std::to_string(counter), "N"));
  std::vector<uint64_t> seen;
  {
    auto txn = store->read();
    store->forEachCustomer(txn, [&](const Customer& c) {
      seen.push_back(c.id.counter);
      return true;
    });
  }
  BOOST_TEST(seen == (std::vector<uint64_t>{1, 2, 3, 300}), boost::test_tools::per_element());
  seen.clear();
  auto txn = store->read();
  store->forEachCustomer(txn, [&](const Customer& c) {
    seen.push_back(c.id.counter);
    return seen.size() < 2;
  });
  BOOST_TEST(seen.size() == 2u);
}

// --- indexes ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(live_customer_is_found_by_number_ssn_phone_and_name) {
  Customer c = customer(1, "1000", "Åke Öberg", "+358 40 123 4567", "010203-123a");
  put(c);
  BOOST_TEST((byNumber("1000") == Ids{c.id}));
  BOOST_TEST((bySsn("010203-123A") == Ids{c.id}));  // normalised: upper case
  BOOST_TEST((bySsn(" 010203-123a ") == Ids{c.id}));
  BOOST_TEST((byPhone("358401234567") == Ids{c.id}));
  BOOST_TEST((byPhone("040 123 4567") == Ids{c.id}));      // its national form
  BOOST_TEST((byPhone("00358 40 1234567") == Ids{c.id}));  // and an international prefix
  BOOST_TEST((byPhone("4567") == Ids{c.id}));              // its last digits
  BOOST_TEST((byName("oberg") == Ids{c.id}));
  BOOST_TEST((byName("Öb") == Ids{c.id}));  // token prefix, folded
  BOOST_TEST((byName("AKE") == Ids{c.id}));
}

BOOST_AUTO_TEST_CASE(number_and_ssn_match_exactly_not_by_prefix) {
  put(customer(1, "1000", "Anna", "", "ABC123"));
  BOOST_TEST(byNumber("100").empty());
  BOOST_TEST(byNumber("10000").empty());
  BOOST_TEST(bySsn("ABC12").empty());
}

BOOST_AUTO_TEST_CASE(claims_on_shared_numbers_names_the_customers_whose_number_another_holds) {
  put(customer(1, "5001", "Anna"));
  put(customer(2, "5001", "Bertil"));    // shares 5001 with Anna
  put(customer(3, "50011", "Cecilia"));  // 5001 is a prefix of hers, not her number
  put(customer(4, "4999", "David"));
  auto txn = store->read();
  const std::vector<std::pair<RecordId, std::string>> claims = {
      {RecordId{kSite, 3}, "50011"},
      {RecordId{kSite, 2}, "5001"},
      {RecordId{kSite, 4}, "4999"},
      {RecordId{kSite, 1}, "5001"},
      {RecordId{kSite, 9}, "7000"}};  // nobody holds it
  BOOST_TEST(
      (store->claimsOnSharedNumbers(txn, claims) == Ids{RecordId{kSite, 2}, RecordId{kSite, 1}}));
}

BOOST_AUTO_TEST_CASE(second_phone_is_indexed_too) {
  Customer c = customer(1, "1000", "Anna", "040 111 111");
  c[CustomerField::phone2] = FieldValue{"050 222 222", v(1)};
  put(c);
  BOOST_TEST((byPhone("050 222 222") == Ids{c.id}));
  BOOST_TEST((byPhone("111 111") == Ids{c.id}));
}

// A number stored in its national form is found by its international form and the other way
// round; a query shorter than kMinPhoneMatch digits finds only the numbers it ends.
BOOST_AUTO_TEST_CASE(national_and_international_forms_of_a_number_find_each_other) {
  Customer national = customer(1, "1000", "Anna", "040 123 4567");
  Customer international = customer(2, "1001", "Bertil", "+358 50 765 4321");
  Customer short_ = customer(3, "1002", "Cecilia", "4567");
  put(national);
  put(international);
  put(short_);
  BOOST_TEST((byPhone("+358 40 123 4567") == Ids{national.id}));
  BOOST_TEST((byPhone("00358401234567") == Ids{national.id}));
  BOOST_TEST((byPhone("050 765 4321") == Ids{international.id}));
  BOOST_TEST(byPhone("+46 50 765 4321").empty());  // another country's number
  BOOST_TEST((byPhone("4567") == Ids{short_.id, national.id}));
  BOOST_TEST(byPhone("041 123 4567").empty());
}

BOOST_AUTO_TEST_CASE(an_email_address_is_found_exactly_whatever_its_case) {
  Customer c = customer(1, "1000", "Anna");
  c[CustomerField::email] = FieldValue{"Anna.Virtanen@Example.fi", v(1)};
  put(c);
  auto byEmail = [&](const std::string& email) {
    auto txn = store->read();
    return store->findByEmail(txn, email, 10);
  };
  BOOST_TEST((byEmail("anna.virtanen@example.fi") == Ids{c.id}));
  BOOST_TEST((byEmail(" ANNA.VIRTANEN@EXAMPLE.FI ") == Ids{c.id}));
  BOOST_TEST(byEmail("anna.virtanen@example").empty());
  BOOST_TEST(byEmail("virtanen@example.fi").empty());
  BOOST_TEST(byPhone("anna").empty());
}

// The limit counts customers: one customer whose two phones share the prefix is one result.
BOOST_AUTO_TEST_CASE(find_by_phone_counts_each_customer_once_toward_the_limit) {
  Customer both = customer(1, "1000", "Anna", "040 1 77");
  both[CustomerField::phone2] = FieldValue{"050 2 77", v(1)};
  Customer other = customer(2, "1001", "Bertil", "060 3 77");
  put(both);
  put(other);
  BOOST_TEST((byPhone("77", 2) == Ids{both.id, other.id}));
  BOOST_TEST((byPhone("77", 1).size() == 1u));
}

// New phone entries wait in runs (one per commit) and are folded into the index in one pass;
// lookups read the index and every run, in key order, and an update or delete finds an entry
// wherever it is.
BOOST_AUTO_TEST_CASE(phones_are_found_before_and_after_their_entries_are_folded_into_the_index) {
  TempDir own;
  store = Store::open(own.path(), Options{.phoneFoldAt = 4, .durable = false});
  for (uint64_t i = 1; i <= 6; ++i)  // one commit each: the 4th folds, the 5th and 6th wait
    put(customer(i, std::to_string(1000 + i), "Customer", std::to_string(7 - i) + " 400"));
  BOOST_TEST(tableEntries("index_contact") == 4u);
  BOOST_TEST(tableEntries("index_contact_runs") == 2u);
  // Key order (reversed digits) across the index and the runs: 1 400 (id 6, run 2), 2 400 (id 5,
  // run 1), 3 400 (id 4, index), ...
  BOOST_TEST((byPhone("400") == Ids{RecordId{kSite, 6}, RecordId{kSite, 5}, RecordId{kSite, 4},
                                    RecordId{kSite, 3}, RecordId{kSite, 2}, RecordId{kSite, 1}}));
  BOOST_TEST(
      (byPhone("400", 3) == Ids{RecordId{kSite, 6}, RecordId{kSite, 5}, RecordId{kSite, 4}}));
  BOOST_TEST((byPhone("6400") == Ids{RecordId{kSite, 1}}));

  // A phone changed in the index and one changed while recent: the old entries go from both.
  Customer folded = *get(RecordId{kSite, 1}), waiting = *get(RecordId{kSite, 6});
  Customer foldedAfter = folded, waitingAfter = waiting;
  foldedAfter[CustomerField::phone].value = "1 500";
  waitingAfter[CustomerField::phone].value = "2 500";
  replace(folded, foldedAfter);
  replace(waiting, waitingAfter);
  BOOST_TEST(byPhone("6400").empty());
  BOOST_TEST(byPhone("1400").empty());
  BOOST_TEST((byPhone("500") == Ids{folded.id, waiting.id}));
  BOOST_TEST(phoneEntries() == 6u);
  store.reset();
}

// A commit of 4,096 new phones or more appends them as a run; the 16th run folds every run into
// the index. Smaller commits share run 0, however many there are.
BOOST_AUTO_TEST_CASE(phone_runs_are_folded_into_the_index_at_the_sixteenth_appended_run) {
  TempDir own;
  store = Store::open(own.path(), Options{.durable = false});
  uint64_t counter = 0;
  auto commitOf = [&](size_t customers) {
    store->write([&](WriteTxn& txn) {
      for (size_t i = 0; i < customers; ++i, ++counter)
        store->putCustomer(txn, nullptr,
                           customer(counter + 1, std::to_string(100000 + counter), "Customer",
                                    std::to_string(1000000 + counter) + " 777"));
    });
  };
  for (int i = 0; i < 20; ++i) commitOf(1);  // live edits: all in run 0
  commitOf(4095);                            // a catch-up: run 0 too
  const uint64_t inRunZero = 20 + 4095;
  BOOST_TEST(tableEntries("index_contact") == 0u);
  BOOST_TEST(tableEntries("index_contact_runs") == inRunZero);
  for (int run = 1; run <= 15; ++run) commitOf(4096);
  BOOST_TEST(tableEntries("index_contact") == 0u);
  BOOST_TEST(tableEntries("index_contact_runs") == inRunZero + 15 * 4096);
  BOOST_TEST(byPhone("777").size() == 100u);  // the page asked for, across the runs
  BOOST_TEST((byPhone("1000007 777") == Ids{RecordId{kSite, 8}}));      // run 0
  BOOST_TEST((byPhone("1050000 777") == Ids{RecordId{kSite, 50001}}));  // run 12
  commitOf(4096);  // the 16th run: all go into the index
  BOOST_TEST(tableEntries("index_contact") == inRunZero + 16 * 4096);
  BOOST_TEST(tableEntries("index_contact_runs") == 0u);
  BOOST_TEST((byPhone("1050000 777") == Ids{RecordId{kSite, 50001}}));
  BOOST_TEST(byPhone("777", 100000).size() == inRunZero + 16 * 4096);
  store.reset();
}

BOOST_AUTO_TEST_CASE(a_store_with_an_earlier_phone_index_gets_the_contact_index_when_opened) {
  // An earlier sitesync kept phone digits as written in "index_phone", its runs, and (earlier
  // still) entries not yet folded in "index_phone_recent": all dropped, the contact index made
  // from the records.
  Customer anna = customer(1, "1000", "Anna", "040 123 4567");
  anna[CustomerField::email] = FieldValue{"anna@example.fi", v(1)};
  put(anna);
  store.reset();
  editRawly([&](MDB_txn* txn, auto table) {
    BOOST_REQUIRE(mdb_drop(txn, table("index_contact", 0), 1) == 0);
    BOOST_REQUIRE(mdb_drop(txn, table("index_contact_runs", 0), 1) == 0);
    std::string key = oldIndexKey("0401234567", 1);
    MDB_val k{key.size(), key.data()}, v{0, nullptr};
    for (const char* old : {"index_phone", "index_phone_runs", "index_phone_recent"})
      BOOST_REQUIRE(mdb_put(txn, table(old, MDB_CREATE), &k, &v, 0) == 0);
  });
  store = Store::open(dir.path(), Options{.durable = false});
  BOOST_TEST((byPhone("+358 40 123 4567") == Ids{anna.id}));
  BOOST_TEST(tableEntries("index_contact") == 2u);  // the phone and the e-mail address
  BOOST_TEST(tableEntries("index_contact_runs") == 0u);
  store.reset();
  editRawly([&](MDB_txn* txn, auto) {  // and the old tables are gone
    MDB_dbi old;
    for (const char* name : {"index_phone", "index_phone_runs", "index_phone_recent"})
      BOOST_TEST(mdb_dbi_open(txn, name, 0, &old) == MDB_NOTFOUND);
  });
}

BOOST_AUTO_TEST_CASE(lookups_of_what_is_not_there_find_nothing) {
  put(customer(1, "1000", "Anna", "040 123"));
  BOOST_TEST(byNumber("").empty());
  BOOST_TEST(byNumber("2000").empty());
  BOOST_TEST(byPhone("").empty());
  BOOST_TEST(byPhone("0501").empty());
  BOOST_TEST(byName("").empty());
  BOOST_TEST(byName("  -- ").empty());
  BOOST_TEST(byName("bertil").empty());
}

BOOST_AUTO_TEST_CASE(update_moves_number_phone_and_name_index_entries) {
  Customer before = customer(1, "1000", "Anna Virtanen", "040 111", "SSN-1");
  put(before);
  Customer after = before;
  after[CustomerField::number].value = "2000";
  after[CustomerField::phone].value = "050 222";
  after[CustomerField::name].value = "Bertil Nyström";
  after[CustomerField::ssn].value = "SSN-2";
  replace(before, after);

  BOOST_TEST(byNumber("1000").empty());
  BOOST_TEST(byPhone("040 111").empty());
  BOOST_TEST(byName("anna").empty());
  BOOST_TEST(byName("virtanen").empty());
  BOOST_TEST(bySsn("SSN-1").empty());
  BOOST_TEST((byNumber("2000") == Ids{after.id}));
  BOOST_TEST((byPhone("050 222") == Ids{after.id}));
  BOOST_TEST((byName("nystrom") == Ids{after.id}));
  BOOST_TEST((bySsn("SSN-2") == Ids{after.id}));
}

BOOST_AUTO_TEST_CASE(update_keeping_a_name_token_keeps_its_entry) {
  Customer before = customer(1, "1000", "Anna Virtanen");
  put(before);
  Customer after = before;
  after[CustomerField::name].value = "Anna Korhonen";
  replace(before, after);
  BOOST_TEST((byName("anna") == Ids{after.id}));
  BOOST_TEST((byName("korhonen") == Ids{after.id}));
  BOOST_TEST(byName("virtanen").empty());
}

BOOST_AUTO_TEST_CASE(non_live_customer_is_not_indexed) {
  Customer c = customer(1, "1000", "Anna", "040 123", "SSN-1");
  c.lifecycle = Lifecycle::kDeleted;
  put(c);
  BOOST_TEST(get(c.id).has_value());
  BOOST_TEST(byNumber("1000").empty());
  BOOST_TEST(bySsn("SSN-1").empty());
  BOOST_TEST(byPhone("040 123").empty());
  BOOST_TEST(byName("anna").empty());
}

BOOST_AUTO_TEST_CASE(deleting_a_live_customer_removes_its_index_entries) {
  Customer live = customer(1, "1000", "Anna", "040 123", "SSN-1");
  put(live);
  Customer deleted = live;
  deleted.lifecycle = Lifecycle::kDeleted;
  replace(live, deleted);
  BOOST_TEST(byNumber("1000").empty());
  BOOST_TEST(bySsn("SSN-1").empty());
  BOOST_TEST(byPhone("040 123").empty());
  BOOST_TEST(byName("anna").empty());
  BOOST_TEST(tableEntries("index_name_tokens") == 0u);
  BOOST_TEST(tableEntries("index_number") == 0u);
  replace(deleted, live);  // restored: indexed again
  BOOST_TEST((byNumber("1000") == Ids{live.id}));
}

BOOST_AUTO_TEST_CASE(a_deleted_customer_is_found_by_its_old_number_until_restored) {
  Customer live = customer(1, "1000", "Anna");
  put(live);
  Customer deleted = live;
  deleted.lifecycle = Lifecycle::kDeleted;
  replace(live, deleted);
  BOOST_TEST((byDeletedNumber("1000") == Ids{live.id}));
  replace(deleted, live);
  BOOST_TEST(byDeletedNumber("1000").empty());
  BOOST_TEST(tableEntries("index_deleted_number") == 0u);
}

BOOST_AUTO_TEST_CASE(a_store_from_before_the_deleted_number_index_gets_it_when_opened) {
  Customer deleted = customer(1, "1000", "Anna");
  deleted.lifecycle = Lifecycle::kDeleted;
  put(deleted);
  put(customer(2, "1001", "Bertil"));
  store.reset();
  editRawly([&](MDB_txn* txn, auto table) {  // as an earlier sitesync left it: no such table
    BOOST_REQUIRE(mdb_drop(txn, table("index_deleted_number", 0), 1) == 0);
  });
  store = Store::open(dir.path(), Options{.durable = false});
  BOOST_TEST((byDeletedNumber("1000") == Ids{deleted.id}));
  BOOST_TEST(tableEntries("index_deleted_number") == 1u);
}

BOOST_AUTO_TEST_CASE(customers_sharing_a_number_are_all_found) {
  Customer a = customer(1, "1000", "Anna");
  Customer b = customer(2, "1000", "Bertil");
  put(a);
  put(b);
  BOOST_TEST((byNumber("1000") == Ids{a.id, b.id}));
}

BOOST_AUTO_TEST_CASE(search_name_needs_every_query_token) {
  Customer ake = customer(1, "1000", "Åke Öberg");
  Customer anna = customer(2, "1001", "Anna Öberg");
  put(ake);
  put(anna);
  BOOST_TEST((byName("ake ob") == Ids{ake.id}));
  BOOST_TEST((byName("ob ake") == Ids{ake.id}));  // order does not matter
  BOOST_TEST(byName("ake x").empty());
  BOOST_TEST(byName("x ake").empty());
  BOOST_TEST(byName("ake oberg2").empty());
  auto both = byName("oberg");
  BOOST_TEST((std::set<RecordId>(both.begin(), both.end()) == std::set<RecordId>{ake.id, anna.id}));
}

BOOST_AUTO_TEST_CASE(search_name_lists_a_customer_once_when_several_tokens_match) {
  Customer c = customer(1, "1000", "Anna Annika Annala");
  put(c);
  BOOST_TEST((byName("ann") == Ids{c.id}));
}

BOOST_AUTO_TEST_CASE(customers_sharing_a_name_token_are_found_whatever_order_they_came_in) {
  // Ids of one token are sorted duplicates: appended when they ascend, inserted otherwise.
  for (uint64_t i : {5, 9, 2, 7, 1, 8}) put(customer(i, std::to_string(1000 + i), "Virtanen"));
  put(customer(7, "1007", "Virtanen"));  // written again: still one entry
  BOOST_TEST(
      (byName("virtanen") == Ids{RecordId{kSite, 1}, RecordId{kSite, 2}, RecordId{kSite, 5},
                                 RecordId{kSite, 7}, RecordId{kSite, 8}, RecordId{kSite, 9}}));
  Customer seven = customer(7, "1007", "Virtanen");
  Customer renamed = seven;
  renamed[CustomerField::name].value = "Korhonen";
  replace(seven, renamed);
  BOOST_TEST(byName("virtanen").size() == 5u);
  BOOST_TEST((byName("korhonen") == Ids{RecordId{kSite, 7}}));
  BOOST_TEST(tableEntries("index_name_tokens") == 6u);
}

BOOST_AUTO_TEST_CASE(a_store_with_the_earlier_name_index_is_upgraded_when_opened) {
  // An earlier sitesync kept `token \0 id` keys in a table "index_name"; remake one by hand.
  Customer anna = customer(1, "1000", "Anna Virtanen");
  put(anna);
  store.reset();
  editRawly([&](MDB_txn* txn, auto table) {
    BOOST_REQUIRE(mdb_drop(txn, table("index_name_tokens", MDB_DUPSORT | MDB_DUPFIXED), 0) == 0);
    const MDB_dbi old = table("index_name", MDB_CREATE);
    for (const std::string token : {"anna", "virtanen"}) {
      std::string key = oldIndexKey(token, 1);
      MDB_val k{key.size(), key.data()}, v{0, nullptr};
      BOOST_REQUIRE(mdb_put(txn, old, &k, &v, 0) == 0);
    }
  });
  store = Store::open(dir.path(), Options{.durable = false});
  BOOST_TEST((byName("virtanen") == Ids{anna.id}));
  BOOST_TEST((byName("anna virt") == Ids{anna.id}));
  BOOST_TEST(tableEntries("index_name_tokens") == 2u);
  store.reset();
  editRawly([&](MDB_txn* txn, auto) {  // and the old table is gone
    MDB_dbi old;
    BOOST_TEST(mdb_dbi_open(txn, "index_name", 0, &old) == MDB_NOTFOUND);
  });
}

BOOST_AUTO_TEST_CASE(a_store_of_a_newer_format_is_refused_naming_both_formats_and_left_as_it_was) {
  Meta meta;
  meta.siteName = "From the future";
  meta.formatVersion = kStoreFormatVersion + 1;
  store->write([&](WriteTxn& txn) { store->putMeta(txn, meta); });
  store.reset();
  for (bool readOnly : {false, true}) {
    try {
      Store::open(dir.path(), Options{.durable = false, .readOnly = readOnly});
      BOOST_FAIL("a newer store was opened");
    } catch (const StoreError& e) {
      const std::string what = e.what();
      BOOST_TEST(
          what.find("format " + std::to_string(kStoreFormatVersion + 1)) != std::string::npos,
          what);
      BOOST_TEST(
          what.find("format " + std::to_string(kStoreFormatVersion) + ":") != std::string::npos,
          what);
    }
  }
  editRawly([&](MDB_txn* txn, auto table) {  // its meta record is untouched
    MDB_val key{4, const_cast<char*>("meta")}, value;
    BOOST_REQUIRE(mdb_get(txn, table("meta", 0), &key, &value) == 0);
    const Meta kept = decodeMeta({static_cast<const char*>(value.mv_data), value.mv_size});
    BOOST_TEST(kept.formatVersion == kStoreFormatVersion + 1);
  });
}

BOOST_AUTO_TEST_CASE(search_name_stops_at_the_limit) {
  for (uint64_t i = 1; i <= 10; ++i) put(customer(i, std::to_string(1000 + i), "Virtanen"));
  BOOST_TEST(byName("virtanen", 3).size() == 3u);
  BOOST_TEST(byName("virtanen").size() == 10u);
}

// --- log ----------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(append_log_positions_are_dense_from_one) {
  BOOST_TEST(lastPosition() == 0u);
  BOOST_TEST(append(change(kSite, 1)) == 1u);
  BOOST_TEST(append(change(kSite + 1, 1)) == 2u);
  BOOST_TEST(append(change(kSite, 2)) == 3u);
  BOOST_TEST(lastPosition() == 3u);
}

BOOST_AUTO_TEST_CASE(log_position_finds_a_change_by_its_id) {
  append(change(kSite, 1));
  append(change(kSite + 1, 1));
  append(change(kSite, 2));
  auto txn = store->read();
  BOOST_TEST(store->logPosition(txn, ChangeId{kSite, 1}).value() == 1u);
  BOOST_TEST(store->logPosition(txn, ChangeId{kSite + 1, 1}).value() == 2u);
  BOOST_TEST(store->logPosition(txn, ChangeId{kSite, 2}).value() == 3u);
  BOOST_TEST(!store->logPosition(txn, ChangeId{kSite, 3}).has_value());
  BOOST_TEST(!store->logPosition(txn, ChangeId{kSite + 2, 1}).has_value());
}

BOOST_AUTO_TEST_CASE(for_each_log_visits_from_a_position_in_order) {
  std::vector<Change> changes;
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    changes.push_back(change(kSite, seq));
    append(changes.back());
  }
  auto from3 = logFrom(3);
  BOOST_REQUIRE(from3.size() == 3u);
  for (size_t i = 0; i < from3.size(); ++i) {
    BOOST_TEST(from3[i].first == 3 + i);
    BOOST_TEST((from3[i].second == changes[2 + i]));
  }
  BOOST_TEST(logFrom(0).size() == 5u);
  BOOST_TEST(logFrom(1).size() == 5u);
  BOOST_TEST(logFrom(6).empty());
}

BOOST_AUTO_TEST_CASE(for_each_log_stops_when_told) {
  for (uint64_t seq = 1; seq <= 5; ++seq) append(change(kSite, seq));
  std::vector<uint64_t> seen;
  auto txn = store->read();
  store->forEachLog(txn, 2, [&](uint64_t p, const Change&) {
    seen.push_back(p);
    return p < 3;
  });
  BOOST_TEST(seen == (std::vector<uint64_t>{2, 3}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(log_positions_beyond_255_keep_numeric_order) {
  std::string bytes;
  store->write([&](WriteTxn& txn) {
    for (uint64_t seq = 1; seq <= 300; ++seq) {
      Change ch = change(kSite, seq);
      encode(ch, bytes);
      store->appendLog(txn, ch, bytes);
    }
  });
  auto all = logFrom(1);
  BOOST_REQUIRE(all.size() == 300u);
  for (size_t i = 0; i < all.size(); ++i) BOOST_TEST(all[i].second.id.seq == i + 1);
  auto txn = store->read();
  BOOST_TEST(store->logPosition(txn, ChangeId{kSite, 256}).value() == 256u);
}

// --- vector, meta, settings --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(vector_entries_are_set_and_overwritten) {
  {
    auto txn = store->read();
    BOOST_TEST(store->vector(txn).entries().empty());
  }
  store->write([&](WriteTxn& txn) {
    store->setVectorEntry(txn, kSite, 5);
    store->setVectorEntry(txn, kSite + 1, 7);
  });
  store->write([&](WriteTxn& txn) { store->setVectorEntry(txn, kSite, 6); });
  VersionVector expected;
  expected.set(kSite, 6);
  expected.set(kSite + 1, 7);
  auto txn = store->read();
  BOOST_TEST((store->vector(txn) == expected));
}

// The vector is kept in memory between commits (a hub reads it for every batch): each
// transaction still sees its own snapshot, and a write its own entries.
BOOST_AUTO_TEST_CASE(vector_reads_see_their_own_snapshot_and_a_write_its_own_entries) {
  store->write([&](WriteTxn& txn) { store->setVectorEntry(txn, kSite, 1); });
  auto before = store->read();  // open across the next write (MDB_NOTLS)
  BOOST_TEST(store->vector(before).get(kSite) == 1u);
  store->write([&](WriteTxn& txn) {
    BOOST_TEST(store->vector(txn).get(kSite) == 1u);
    store->setVectorEntry(txn, kSite, 2);
    store->setVectorEntry(txn, kSite + 1, 9);
    BOOST_TEST(store->vector(txn).get(kSite) == 2u);
    BOOST_TEST(store->vector(txn).get(kSite + 1) == 9u);
  });
  BOOST_TEST(store->vector(before).get(kSite) == 1u);
  auto after = store->read();
  BOOST_TEST(store->vector(after).get(kSite) == 2u);
  BOOST_TEST(store->vector(after).get(kSite + 1) == 9u);
  store->write([&](WriteTxn& txn) { store->putMeta(txn, Meta{}); });  // no vector entry
  auto later = store->read();
  BOOST_TEST(store->vector(later).get(kSite + 1) == 9u);
}

BOOST_AUTO_TEST_CASE(meta_is_absent_until_written_then_round_trips) {
  {
    auto txn = store->read();
    BOOST_TEST(!store->meta(txn).has_value());
  }
  Meta m;
  m.siteId = kSite;
  m.siteName = "branch";
  m.lastSeq = 3;
  store->write([&](WriteTxn& txn) { store->putMeta(txn, m); });
  auto txn = store->read();
  BOOST_TEST((store->meta(txn) == m));
}

BOOST_AUTO_TEST_CASE(settings_are_defaults_until_written_then_round_trip) {
  {
    auto txn = store->read();
    BOOST_TEST((store->settings(txn) == Settings{}));
    BOOST_TEST(!store->settingsBytes(txn).has_value());
  }
  Settings s;
  s.fields[size_t(SettingsField::nextNumber)] = FieldValue{"5000", v(1)};
  store->write([&](WriteTxn& txn) { store->putSettings(txn, s); });
  auto txn = store->read();
  BOOST_TEST((store->settings(txn) == s));
  BOOST_TEST(store->settingsBytes(txn).has_value());
}

// --- history -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(history_reads_a_customers_entries_in_log_order) {
  RecordId id{kSite, 1};
  RecordId neighbour{kSite, 2};
  store->write([&](WriteTxn& txn) {
    store->appendHistory(txn, id, 300, historyEntry(3, "c"));
    store->appendHistory(txn, neighbour, 2, historyEntry(9, "other"));
    store->appendHistory(txn, id, 2, historyEntry(1, "a"));
    store->appendHistory(txn, id, 10, historyEntry(2, "b"));
  });
  auto txn = store->read();
  auto entries = store->history(txn, id);
  BOOST_REQUIRE(entries.size() == 3u);
  BOOST_TEST((entries[0] == historyEntry(1, "a")));
  BOOST_TEST((entries[1] == historyEntry(2, "b")));
  BOOST_TEST((entries[2] == historyEntry(3, "c")));
  BOOST_TEST(store->history(txn, neighbour).size() == 1u);
  BOOST_TEST(store->history(txn, RecordId{kSite, 3}).empty());
}

// --- transactions ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(write_that_throws_leaves_nothing) {
  Customer c = customer(1, "1000", "Anna", "040 123");
  BOOST_CHECK_THROW(store->write([&](WriteTxn& txn) {
    store->putCustomer(txn, nullptr, c);
    Change ch = change(kSite, 1);
    std::string bytes;
    encode(ch, bytes);
    store->appendLog(txn, ch, bytes);
    store->setVectorEntry(txn, kSite, 1);
    throw std::runtime_error("refused halfway");
  }),
                    std::runtime_error);
  BOOST_TEST(!get(c.id).has_value());
  BOOST_TEST(byNumber("1000").empty());
  BOOST_TEST(byName("anna").empty());
  BOOST_TEST(lastPosition() == 0u);
  auto txn = store->read();
  BOOST_TEST(!store->logPosition(txn, ChangeId{kSite, 1}).has_value());
  BOOST_TEST(store->vector(txn).entries().empty());
}

BOOST_AUTO_TEST_CASE(write_returns_what_its_function_returns) {
  int result = store->write([&](WriteTxn& txn) {
    store->setVectorEntry(txn, kSite, 1);
    return 42;
  });
  BOOST_TEST(result == 42);
}

BOOST_AUTO_TEST_CASE(read_only_store_refuses_writes) {
  put(customer(1, "1000", "Anna"));
  store.reset();
  store = Store::open(dir.path(), Options{.readOnly = true});
  BOOST_TEST(get(RecordId{kSite, 1}).has_value());
  BOOST_CHECK_THROW(put(customer(2, "1001", "Bertil")), StoreError);
}

BOOST_AUTO_TEST_CASE(open_of_a_missing_directory_throws_store_error) {
  BOOST_CHECK_THROW(Store::open(dir.path() + "/does/not/exist"), StoreError);
}

BOOST_AUTO_TEST_CASE(map_full_grows_the_map_and_retries) {
  TempDir tiny;  // a directory never opened with the default (large) map
  const uint64_t initial = 256 * 1024;
  store = Store::open(tiny.path(), Options{.initialMapBytes = initial, .durable = false});
  const uint64_t total = 5000, perWrite = 1000;
  for (uint64_t first = 1; first <= total; first += perWrite)
    store->write([&](WriteTxn& txn) {
      for (uint64_t i = first; i < first + perWrite; ++i)
        store->putCustomer(txn, nullptr,
                           customer(i, std::to_string(100000 + i), "Customer N" + std::to_string(i),
                                    "040 " + std::to_string(i)));
    });
  BOOST_TEST(store->stats().mapBytes > initial);
  BOOST_TEST(tableEntries("records") == total);
  BOOST_TEST(tableEntries("index_number") == total);
  BOOST_TEST(phoneEntries() == total);
  BOOST_TEST(tableEntries("index_name_tokens") == 2 * total);
  {
    auto txn = store->read();
    for (uint64_t i = 1; i <= total; ++i) {
      auto c = store->customer(txn, RecordId{kSite, i});
      BOOST_REQUIRE(c.has_value());
      BOOST_TEST(c->value(CustomerField::name) == "Customer N" + std::to_string(i));
      BOOST_TEST((store->findByNumber(txn, std::to_string(100000 + i)) == Ids{c->id}));
    }
  }
  BOOST_TEST((byName("customer n4999") == Ids{RecordId{kSite, 4999}}));
  store.reset();  // before `tiny` goes
}

BOOST_AUTO_TEST_CASE(the_map_grows_under_a_write_while_other_threads_keep_reading) {
  TempDir tiny;
  const uint64_t initial = 256 * 1024;
  store = Store::open(tiny.path(), Options{.initialMapBytes = initial, .durable = false});
  put(customer(1, "100001", "First Customer"));
  std::atomic<bool> writing = true;
  std::atomic<uint64_t> reads = 0;
  std::string readerError;
  // Without the resize waiting for it, this reader's pages would be unmapped under it.
  std::thread reader([&] {
    try {
      while (writing) {
        auto txn = store->read();
        auto first = store->customer(txn, RecordId{kSite, 1});
        if (!first || first->value(CustomerField::name) != "First Customer")
          throw std::runtime_error("the first customer read back wrong");
        ++reads;
        std::this_thread::yield();
      }
    } catch (const std::exception& e) {
      readerError = e.what();
    }
  });
  const uint64_t total = 5000, perWrite = 500;
  for (uint64_t first = 2; first <= total; first += perWrite)
    store->write([&](WriteTxn& txn) {
      for (uint64_t i = first; i < std::min(total + 1, first + perWrite); ++i)
        store->putCustomer(txn, nullptr, customer(i, std::to_string(100000 + i), "Customer"));
    });
  writing = false;
  reader.join();
  BOOST_TEST(readerError == "");
  BOOST_TEST(reads > 0u);
  BOOST_TEST(store->stats().mapBytes > initial);
  BOOST_TEST(tableEntries("records") == total);
  store.reset();
}

BOOST_AUTO_TEST_CASE(a_map_that_cannot_grow_past_an_open_read_fails_the_write_clearly) {
  TempDir tiny;
  const uint64_t initial = 256 * 1024;
  store = Store::open(tiny.path(), Options{.initialMapBytes = initial,
                                           .mapResizeWait = std::chrono::milliseconds(20),
                                           .durable = false});
  put(customer(1, "100001", "First Customer"));
  auto fill = [&] {
    store->write([&](WriteTxn& txn) {
      for (uint64_t i = 2; i <= 3000; ++i)
        store->putCustomer(txn, nullptr, customer(i, std::to_string(100000 + i), "Customer"));
    });
  };
  {
    auto open = store->read();  // held by the writing thread itself: the map cannot move
    try {
      fill();
      BOOST_FAIL("the write needed a larger map and should have failed");
    } catch (const StoreError& e) {
      BOOST_TEST(std::string(e.what()).find("could not grow") != std::string::npos);
    }
    BOOST_TEST(store->customer(open, RecordId{kSite, 1}).has_value());
  }
  BOOST_TEST(tableEntries("records") == 1u);  // nothing of the failed write
  fill();                                     // no read open now: it grows
  BOOST_TEST(tableEntries("records") == 3000u);
  store.reset();
}

BOOST_AUTO_TEST_CASE(stats_count_entries_per_table) {
  put(customer(1, "1000", "Anna Virtanen", "040 123"));
  append(change(kSite, 1));
  BOOST_TEST(tableEntries("records") == 1u);
  BOOST_TEST(tableEntries("index_name_tokens") == 2u);
  BOOST_TEST(phoneEntries() == 1u);
  BOOST_TEST(tableEntries("log") == 1u);
  BOOST_TEST(tableEntries("change_index") == 1u);
  BOOST_TEST(store->stats().fileBytes > 0u);
}

BOOST_AUTO_TEST_SUITE_END()
