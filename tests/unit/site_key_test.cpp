// The site key (docs/storage.md, table `local`): the private key that signs a site's changes is
// kept in the store's local tables, never in Meta, so that Engine::meta() and every status
// read hand out no key material; a store of format 1, which held it in its meta record, is
// upgraded when it is opened and still signs.
#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <kj/io.h>
#include <lmdb.h>

#include <boost/test/unit_test.hpp>

#include "register.capnp.h"
#include "storage/local_tables.h"
#include "tests/unit/sync_fixture.h"

using sitesync::testing::testSiteKey;

namespace {

// `fn(txn, table)` in one write transaction on the LMDB environment in `dir`, as an earlier
// sitesync would have written it (no Store may have it open); table(name) opens a table.
template <typename Fn>
void editRawly(const std::string& dir, Fn fn) {
  MDB_env* env = nullptr;
  BOOST_REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 32);
  BOOST_REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0640) == 0);
  MDB_txn* txn = nullptr;
  BOOST_REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  auto table = [&](const char* name) {
    MDB_dbi dbi = 0;
    BOOST_REQUIRE(mdb_dbi_open(txn, name, 0, &dbi) == 0);
    return dbi;
  };
  fn(txn, table);
  BOOST_REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

MDB_val val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

std::string stored(MDB_txn* txn, MDB_dbi dbi, std::string_view key) {
  MDB_val k = val(key), v{};
  BOOST_REQUIRE(mdb_get(txn, dbi, &k, &v) == 0);
  return std::string(static_cast<const char*>(v.mv_data), v.mv_size);
}

// A meta record as format 1 wrote it: `meta`'s fields, format 1, and the site's private key.
std::string metaOfFormat1(const std::string& meta, const std::string& privateKey) {
  kj::ArrayInputStream in(
      kj::arrayPtr(reinterpret_cast<const kj::byte*>(meta.data()), meta.size()));
  capnp::PackedMessageReader reader(in);
  capnp::MallocMessageBuilder copy;
  copy.setRoot(reader.getRoot<schema::Meta>());
  auto old = copy.getRoot<schema::Meta>();
  old.setFormatVersion(1);
  old.setRetiredSigningKey(capnp::Data::Reader(
      reinterpret_cast<const capnp::byte*>(privateKey.data()), privateKey.size()));
  kj::VectorOutputStream out;
  capnp::writePackedMessage(out, copy);
  auto bytes = out.getArray();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// The public key that signed the last change in `store`'s log.
std::string lastSigner(Store& store) {
  Change last;
  auto txn = store.read();
  store.forEachLog(txn, 1, [&](uint64_t, const Change& change) {
    last = change;
    return true;
  });
  const auto checkpoint = parseCheckpoint(last.signature);
  BOOST_REQUIRE(checkpoint.has_value());
  return checkpoint->publicKey;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(security, SyncFixture)

BOOST_AUTO_TEST_CASE(the_site_key_is_in_the_local_tables_and_meta_holds_no_key_material) {
  const sync::SiteKey& key = testSiteKey(kSiteA);
  const Meta meta = a.engine.meta();
  BOOST_TEST(meta.formatVersion == kStoreFormatVersion);
  std::string encoded;
  encode(meta, encoded);
  BOOST_TEST(decodeRetiredSigningKey(encoded).empty());
  {
    auto txn = a.store->read();
    BOOST_TEST(a.store->local().siteKey(txn) == key.privateKey());
  }
  created(a, "Anna");
  BOOST_TEST(lastSigner(*a.store) == key.publicKey());
}

BOOST_AUTO_TEST_CASE(a_store_with_the_key_in_its_meta_record_is_upgraded_and_still_signs) {
  const sync::SiteKey& key = testSiteKey(kSiteB);
  TempDir dir;
  {
    auto store = Store::open(dir.path(), Options{.durable = false});
    TestClock clock{kT0};
    BOOST_REQUIRE(Engine::initialize(*store, clock, key, "old", false).isOk());
    Engine engine(*store, clock);
    AllowedPeer hub{"hub", std::string(40, 'a'), "", kT0, 0};
    BOOST_REQUIRE(engine.allowPeer(hub).isOk());
  }
  // Format 1: the key in the meta record, the allow list's flag beside it, no `local` table.
  editRawly(dir.path(), [&](MDB_txn* txn, auto table) {
    const MDB_dbi meta = table("meta");
    const std::string oldMeta = metaOfFormat1(stored(txn, meta, "meta"), key.privateKey());
    MDB_val k = val("meta");
    MDB_val v = val(oldMeta);
    BOOST_REQUIRE(mdb_put(txn, meta, &k, &v, 0) == 0);
    k = val("allow_list_configured");
    v = val("1");
    BOOST_REQUIRE(mdb_put(txn, meta, &k, &v, 0) == 0);
    BOOST_REQUIRE(mdb_drop(txn, table("local"), 1) == 0);
  });
  {
    auto store = Store::open(dir.path(), Options{.durable = false});
    TestClock clock{kT0 + kMinute};
    Engine engine(*store, clock);
    BOOST_TEST(engine.meta().formatVersion == kStoreFormatVersion);
    BOOST_TEST(engine.allowListConfigured());
    BOOST_REQUIRE(engine.create({set(CustomerField::name, "Anna")}, "tester").isOk());
    BOOST_TEST(lastSigner(*store) == key.publicKey());
  }
  // The meta record as the upgrade rewrote it holds no key.
  editRawly(dir.path(), [&](MDB_txn* txn, auto table) {
    BOOST_TEST(decodeRetiredSigningKey(stored(txn, table("meta"), "meta")).empty());
    BOOST_TEST(stored(txn, table("local"), "site_key") == key.privateKey());
  });
}

BOOST_AUTO_TEST_SUITE_END()
