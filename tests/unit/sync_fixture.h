// Shared fixture of the sync engine tests: temporary stores, a settable clock, sites A-D,
// and helper verbs (create, update, snapshot of everything a refused operation must keep).
#pragma once

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
#include "tests/unit/test_support.h"

using namespace sitesync;
using sitesync::storage::Options;
using sitesync::storage::Store;
using sitesync::storage::WriteTxn;
using sitesync::sync::Edit;
using sitesync::sync::Engine;
using sitesync::sync::LocalOp;

using sitesync::testing::TempDir;
using sitesync::testing::TestClock;

namespace {

const SiteId kSiteA = sitesync::testing::testSiteId(0xa1);
const SiteId kSiteB = sitesync::testing::testSiteId(0xb2);
const SiteId kSiteC = sitesync::testing::testSiteId(0xc3);
const SiteId kSiteD = sitesync::testing::testSiteId(0xd4);
constexpr uint64_t kT0 = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
constexpr uint64_t kHour = 3'600'000;
constexpr uint64_t kMinute = 60'000;

// One node's state: a store in its own directory, its clock and its engine.
struct Site {
  TempDir dir;
  std::unique_ptr<Store> store = Store::open(dir.path(), Options{.durable = false});
  TestClock clock{kT0};
  Engine engine{*store, clock};

  Site(SiteId id, const std::string& name) {
    auto status =
        Engine::initialize(*store, clock, sitesync::testing::testSiteKey(id), name, false);
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

// A site of a deployment: its hub (id == hub), or a branch whose deployment is the hub's site id.
struct Member {
  TempDir dir;
  std::unique_ptr<Store> store = Store::open(dir.path(), Options{.durable = false});
  TestClock clock{kT0};
  Engine engine{*store, clock};
  Member(SiteId id, SiteId hub) {
    auto status = Engine::initialize(*store, clock, sitesync::testing::testSiteKey(id),
                                     id == hub ? "hub" : "branch", id == hub, id == hub ? 0 : hub);
    if (!status.isOk()) throw std::runtime_error(status.message());
  }
  RecordId add(const std::string& name) {
    auto r = engine.create({set(CustomerField::name, name)}, "tester");
    BOOST_REQUIRE_MESSAGE(r.isOk(), r.status().message());
    return r->id;
  }
  std::string numberOf(RecordId id) { return engine.customer(id)->value(CustomerField::number); }
};

// A message as the other end reads it: encoded and decoded, as on a socket.
inline WireMessage overTheWire(const WireMessage& message) {
  std::string bytes;
  encode(message, bytes);
  return decodeWireMessage(bytes);
}

// Everything `from` holds that `to` lacks, in one batch, as one session would carry it.
inline void ship(Engine& from, Engine& to) {
  const VersionVector lacks = to.status().vector;
  auto batch =
      from.changesMissingFrom(lacks, from.firstPositionMissingFrom(lacks), 100000, size_t(1) << 30);
  if (!batch.changes.empty()) to.applyBatch(batch.changes);
}

// Makes `to` from `from`'s snapshot, chunk by chunk, as a joining site takes it.
inline void bootstrap(Engine& from, Engine& to) {
  std::string next;
  for (;;) {
    auto chunk = from.snapshotChunk(next, 1 << 20);
    to.mergeSnapshotChunk(chunk);
    if (chunk.complete) break;
    next = chunk.nextKey;
  }
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
  // Each change alone, as a run of its own that its origin signed.
  static bool applyOne(Site& site, Change change) {
    sitesync::testing::signAlone(change);
    std::string bytes;
    encode(change, bytes);
    return site.engine.applyBatch({bytes}).applied == 1;
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
