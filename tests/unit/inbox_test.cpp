// The inbox: a large clean batch is acknowledged once it is durable there, written in the
// background after its ack, applied after a crash, and set aside (never lost) if it cannot
// apply; a batch that would not apply here is never acknowledged early.
#include "storage/local_tables.h"
#include "tests/unit/sync_fixture.h"

namespace {

// Everything `from` holds that `to` lacks, as one batch.
std::vector<std::string> allMissing(Site& from, Site& to) {
  const VersionVector peer = to.engine.status().vector;
  return from.engine
      .changesMissingFrom(peer, from.engine.firstPositionMissingFrom(peer), 100000, 1 << 30)
      .changes;
}

void createMany(Site& site, size_t n) {
  std::vector<LocalOp> ops;
  for (size_t i = 0; i < n; ++i)
    ops.push_back(LocalOp{LocalOp::Kind::kCreate,
                          {},
                          {set(CustomerField::name, "Customer " + std::to_string(i))},
                          "tester",
                          {}});
  site.engine.submit(ops);
}

struct SimulatedCrash : std::runtime_error {
  SimulatedCrash() : std::runtime_error("crash after the inbox commit") {}
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(sync_engine, SyncFixture)

BOOST_AUTO_TEST_CASE(a_large_clean_batch_is_acknowledged_before_it_is_applied_and_applied_after) {
  Site b{kSiteB, "branch-b"};
  createMany(a, Engine::kStageFrom + 44);
  VersionVector promised, appliedAtAck;
  size_t waitingAtAck = 0;
  auto report = b.engine.applyBatch(allMissing(a, b), {}, [&](const VersionVector& v) {
    promised = v;
    appliedAtAck = b.engine.status().vector;
    waitingAtAck = b.engine.inboxState().waiting;
  });
  BOOST_TEST(report.staged);
  BOOST_TEST(promised.get(kSiteA) == Engine::kStageFrom + 44);
  BOOST_TEST(appliedAtAck.get(kSiteA) == 0u);  // acknowledged before the register has it
  BOOST_TEST(waitingAtAck == 1u);              // ...because the inbox does
  BOOST_TEST(b.engine.heldVector().get(kSiteA) == Engine::kStageFrom + 44);
  BOOST_TEST(b.engine.settleStaged().empty());
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
  BOOST_TEST(b.engine.inboxState().waiting == 0u);
}

BOOST_AUTO_TEST_CASE(a_small_batch_is_applied_before_it_is_acknowledged) {
  Site b{kSiteB, "branch-b"};
  createMany(a, 10);
  bool stagedCalled = false;
  auto report =
      b.engine.applyBatch(allMissing(a, b), {}, [&](const VersionVector&) { stagedCalled = true; });
  BOOST_TEST(!report.staged);
  BOOST_TEST(!stagedCalled);
  BOOST_TEST(report.applied == 10u);
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(a_batch_staged_before_a_crash_is_applied_when_the_node_starts_again) {
  Site b{kSiteB, "branch-b"};
  createMany(a, Engine::kStageFrom);
  BOOST_CHECK_THROW(b.engine.applyBatch(allMissing(a, b), {},
                                        [](const VersionVector&) { throw SimulatedCrash(); }),
                    SimulatedCrash);
  BOOST_TEST(b.engine.status().vector.get(kSiteA) == 0u);
  BOOST_TEST(b.engine.inboxState().waiting == 1u);
  {
    Engine restarted(*b.store, b.clock);
    BOOST_TEST(restarted.applyStagedBatches() == 1u);
  }
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
  BOOST_TEST(b.engine.inboxState().waiting == 0u);
}

BOOST_AUTO_TEST_CASE(a_batch_staged_as_it_came_over_the_wire_is_applied_after_a_crash) {
  Site b{kSiteB, "branch-b"};
  createMany(a, Engine::kStageFrom + 100);
  const auto changes = allMissing(a, b);
  // Compressed, as a peer sends a batch this large; not `complete`, unlike what the receiver
  // would encode itself, so the bytes show which of the two was staged.
  std::string message;
  encode(WireMessage{ChangeBatchMsg{changes, false}}, message);
  BOOST_CHECK_THROW(b.engine.applyBatch(
                        changes, {}, [](const VersionVector&) { throw SimulatedCrash(); }, message),
                    SimulatedCrash);
  const auto inbox = b.engine.inboxEntries();
  BOOST_TEST_REQUIRE(inbox.size() == 1u);
  BOOST_TEST(inbox[0].changes == changes.size());
  {
    auto txn = b.store->read();
    BOOST_TEST(b.store->local().inbox(txn).at(0).second.substr(1) ==
               message);  // after the state byte
  }
  {
    Engine restarted(*b.store, b.clock);
    BOOST_TEST(restarted.applyStagedBatches() == 1u);
  }
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(a_clean_batch_naming_a_customer_not_seen_here_is_refused_not_acknowledged) {
  Site b{kSiteB, "branch-b"}, c{kSiteC, "branch-c"};
  Customer x = created(c, "Xavier");
  receive(a, log(c));  // A knows X; B gets A's edits of X without C's create
  for (size_t i = 0; i < Engine::kStageFrom; ++i)
    updated(a, x.id, {set(CustomerField::phone, "040" + std::to_string(1000000 + i))});
  std::vector<std::string> edits;
  for (const std::string& change : allMissing(a, b))
    if (decodeChangeId(change).origin == kSiteA) edits.push_back(change);
  bool acknowledged = false;
  BOOST_CHECK_THROW(
      b.engine.applyBatch(edits, {}, [&](const VersionVector&) { acknowledged = true; }),
      std::exception);
  BOOST_TEST(!acknowledged);  // its sender keeps it, and sends it again after C's create
  BOOST_TEST(b.engine.inboxState().waiting == 0u);
  BOOST_TEST(b.engine.inboxState().setAside.empty());
}

BOOST_AUTO_TEST_CASE(a_staged_batch_that_cannot_be_read_is_set_aside_and_reported) {
  Site b{kSiteB, "branch-b"};
  b.store->write(
      [&](WriteTxn& txn) { b.store->local().putInbox(txn, 7, std::string("w\x05\x00", 3)); });
  BOOST_TEST(b.engine.applyStagedBatches() == 0u);
  const auto inbox = b.engine.inboxState();
  BOOST_TEST(inbox.waiting == 0u);
  BOOST_TEST_REQUIRE(inbox.setAside.size() == 1u);
  BOOST_TEST(inbox.setAside[0].find("staged batch 7") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_batch_set_aside_is_tried_again_when_the_node_starts) {
  Site b{kSiteB, "branch-b"};
  createMany(a, 3);
  // As the inbox keeps one: 'x', its reason (little-endian u32 length), then the batch.
  const std::string reason = "arrived before seq 1 of its origin";
  std::string entry = "x";
  for (int i = 0; i < 4; ++i) entry.push_back(char((reason.size() >> (8 * i)) & 0xff));
  entry += reason;
  std::string batch;
  encode(WireMessage{ChangeBatchMsg{allMissing(a, b), true}}, batch);
  entry += batch;
  b.store->write([&](WriteTxn& txn) { b.store->local().putInbox(txn, 3, entry); });
  BOOST_TEST(b.engine.inboxState().setAside.size() == 1u);
  BOOST_TEST(b.engine.applyStagedBatches() == 1u);
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
  BOOST_TEST(b.engine.inboxState().setAside.empty());
}

BOOST_AUTO_TEST_CASE(a_batch_set_aside_is_listed_with_why_and_can_be_dropped_a_waiting_one_cannot) {
  Site b{kSiteB, "branch-b"};
  createMany(a, 3);
  std::string batch;
  encode(WireMessage{ChangeBatchMsg{allMissing(a, b), true}}, batch);
  b.store->write([&](WriteTxn& txn) {
    b.store->local().putInbox(txn, 4, "w" + batch);  // waiting (a crash came between)
    b.store->local().putInbox(txn, 7,
                              std::string("w\x05\x00", 3));  // unreadable: set aside when tried
  });
  BOOST_TEST((b.engine.dropSetAside(4).code() == StatusCode::kFailedPrecondition));
  BOOST_TEST((b.engine.dropSetAside(9).code() == StatusCode::kNotFound));
  BOOST_TEST(b.engine.applyStagedBatches() == 1u);
  const auto entries = b.engine.inboxEntries();
  BOOST_TEST_REQUIRE(entries.size() == 1u);
  BOOST_TEST(entries[0].key == 7u);
  BOOST_TEST(entries[0].setAside);
  BOOST_TEST(!entries[0].reason.empty());
  BOOST_TEST(b.engine.dropSetAside(7).isOk());
  BOOST_TEST(b.engine.inboxEntries().empty());
  BOOST_TEST(b.engine.digestHex() == a.engine.digestHex());
}

BOOST_AUTO_TEST_SUITE_END()
