// Filtered sites (docs/filtered-sync.md) through sync::PeerSession over an in-memory wire: what a
// laptop takes, what it keeps, and what the hub refuses from it.
#include <boost/test/unit_test.hpp>

#include <deque>

#include "sync/peer_session.h"
#include "tests/unit/sync_fixture.h"

using sitesync::sync::PeerSession;
using sitesync::sync::SessionLink;
using sitesync::sync::SessionOptions;
using sitesync::sync::SessionTime;

namespace {

const SiteId kHub = sitesync::testing::testSiteId(0x4c);
const SiteId kLaptop = sitesync::testing::testSiteId(0x1a);

Edit assignTo(const std::string& technician, bool on = true) {
  return Edit{kTechnicianCode, technician, on ? "true" : ""};
}

// A hub whose technician "bob" serves one of its two customers, and a laptop; sessions between
// them run over an in-memory wire until quiet.
struct FieldLaptop {
  Member hub{kHub, kHub};
  Member laptop{kLaptop, kHub};
  RecordId bobs, others;
  SessionTime now{0};

  FieldLaptop() {
    BOOST_REQUIRE(
        hub.engine.addApiUser(ApiUser{"bob", "technician", std::string(64, 'b'), {}}, "admin")
            .isOk());
    bobs = hub.add("Served By Bob");
    others = hub.add("Served By Nobody");
    BOOST_REQUIRE(hub.engine.update(bobs, {assignTo("bob")}, "admin").isOk());
  }
  void filterLaptop(const std::string& spec) {
    auto filter = parseRecordFilter({spec});
    BOOST_REQUIRE(filter.isOk());
    BOOST_REQUIRE(laptop.engine.setFilter(*filter).isOk());
  }
  // One session, laptop initiating, until nothing moves; returns the laptop's end. The hub
  // answers with `atHub` options; the link is cut (nothing more crosses it) once
  // `chunksBeforeCut` snapshot chunks went to the laptop.
  std::unique_ptr<PeerSession> session(SessionOptions hubOptions = {},
                                       size_t chunksBeforeCut = SIZE_MAX) {
    auto atLaptop = std::make_unique<PeerSession>(laptop.engine, SessionLink{true, "mem://hub"},
                                                  SessionOptions{});
    PeerSession atHub(hub.engine, SessionLink{false}, hubOptions);
    std::deque<WireMessage> toHub, toLaptop;
    size_t chunks = 0;
    auto post = [&](std::deque<WireMessage>& q, const PeerSession::Messages& ms) {
      for (const auto& m : ms) {
        if (chunks >= chunksBeforeCut) return;
        if (std::holds_alternative<SnapshotChunkMsg>(m)) ++chunks;
        q.push_back(overTheWire(m));
      }
    };
    post(toHub, atLaptop->start(now));
    for (int i = 0; i < 100 && (!toHub.empty() || !toLaptop.empty() || i < 3); ++i) {
      while (!toHub.empty()) {
        post(toLaptop, atHub.onMessage(toHub.front(), now));
        toHub.pop_front();
      }
      while (!toLaptop.empty()) {
        post(toHub, atLaptop->onMessage(toLaptop.front(), now));
        toLaptop.pop_front();
      }
      now += SessionTime(10);
      post(toHub, atLaptop->onTick(now));
      post(toLaptop, atHub.onTick(now));
    }
    return atLaptop;
  }
  bool holds(Member& m, RecordId id) { return m.engine.customer(id).has_value(); }
  // `n` more of bob's customers at the hub.
  std::vector<RecordId> addBobs(int n) {
    std::vector<RecordId> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(hub.add("Bob's customer " + std::to_string(i)));
      BOOST_REQUIRE(hub.engine.update(out.back(), {assignTo("bob")}, "admin").isOk());
    }
    return out;
  }
  void editAtHub(const std::vector<RecordId>& ids, const std::string& email) {
    for (RecordId id : ids)
      BOOST_REQUIRE(hub.engine.update(id, {set(CustomerField::email, email)}, "admin").isOk());
  }
  std::string bobsDigest() { return hub.engine.digestHex(*parseRecordFilter({"technician=bob"})); }
  static SessionOptions smallChunks() {
    SessionOptions o;
    o.largestChunk = 1024;
    return o;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(session)

BOOST_FIXTURE_TEST_CASE(a_filtered_laptop_takes_its_technicians_customers_and_no_others,
                        FieldLaptop) {
  filterLaptop("technician=bob");
  auto end = session();
  BOOST_TEST(end->inSync());
  BOOST_TEST(holds(laptop, bobs));
  BOOST_TEST(!holds(laptop, others));
  BOOST_TEST(laptop.engine.digestHex() ==
             hub.engine.digestHex(*parseRecordFilter({"technician=bob"})));
  BOOST_TEST((laptop.engine.status().vector == hub.engine.status().vector));
}

BOOST_FIXTURE_TEST_CASE(a_customer_unassigned_leaves_the_laptop_after_its_own_edit_went_up,
                        FieldLaptop) {
  filterLaptop("technician=bob");
  session();
  BOOST_REQUIRE(
      laptop.engine.update(bobs, {set(CustomerField::email, "b@example.fi")}, "bob").isOk());
  BOOST_REQUIRE(hub.engine.update(bobs, {assignTo("bob", false)}, "admin").isOk());
  session();
  BOOST_TEST(hub.engine.customer(bobs)->value(CustomerField::email) == "b@example.fi");
  BOOST_TEST(!holds(laptop, bobs));
  BOOST_REQUIRE(hub.engine.update(others, {assignTo("bob")}, "admin").isOk());
  session();
  BOOST_TEST(holds(laptop, others));  // entered whole
  BOOST_TEST(laptop.engine.history(others).size() == hub.engine.history(others).size());
}

BOOST_FIXTURE_TEST_CASE(a_laptops_change_outside_its_filter_is_set_aside_at_the_hub_with_why,
                        FieldLaptop) {
  // A rogue laptop: it took the whole register as a full site, then claims bob's filter.
  session();
  BOOST_REQUIRE(holds(laptop, others));
  laptop.store->write([&](auto& txn) {
    Meta m = *laptop.store->meta(txn);
    m.filter = "technician=bob";
    laptop.store->putMeta(txn, m);
  });
  BOOST_REQUIRE(
      laptop.engine.update(others, {set(CustomerField::email, "x@example.fi")}, "bob").isOk());
  auto end = session();
  BOOST_TEST(end->ended());
  BOOST_TEST((end->refusal() == WireError::kOutsideRights));
  BOOST_TEST(end->endReason().find(others.toString()) != std::string::npos, end->endReason());
  BOOST_TEST(hub.engine.customer(others)->value(CustomerField::email).empty());
  const auto inbox = hub.engine.inboxEntries();
  BOOST_TEST_REQUIRE(inbox.size() == 1u);  // kept once, however often it is offered
  BOOST_TEST(inbox[0].setAside);
  BOOST_TEST(inbox[0].reason.find("outside the filter") != std::string::npos, inbox[0].reason);
  session();
  BOOST_TEST(hub.engine.inboxEntries().size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_laptops_catch_up_comes_in_chunks_and_ends_at_the_hubs_filtered_state,
                        FieldLaptop) {
  filterLaptop("technician=bob");
  const auto customers = addBobs(30);
  session();
  editAtHub(customers, "edited@example.fi");
  BOOST_REQUIRE(hub.engine.update(bobs, {assignTo("bob", false)}, "admin").isOk());
  auto end = session(smallChunks());
  BOOST_TEST(end->inSync());
  BOOST_TEST(end->counters().snapshotChunks > 2u);
  BOOST_TEST(!holds(laptop, bobs));  // left the filter while the catch-up came in parts
  BOOST_TEST(laptop.engine.customer(customers.back())->value(CustomerField::email) ==
             "edited@example.fi");
  BOOST_TEST(laptop.engine.digestHex() == bobsDigest());
  BOOST_TEST((laptop.engine.status().vector == hub.engine.status().vector));
}

BOOST_FIXTURE_TEST_CASE(a_laptops_catch_up_cut_part_way_goes_on_from_the_chunks_it_had,
                        FieldLaptop) {
  filterLaptop("technician=bob");
  const auto customers = addBobs(30);
  session();
  const auto before = laptop.engine.status().vector;
  editAtHub(customers, "edited@example.fi");
  auto cut = session(smallChunks(), 2);
  BOOST_TEST(!cut->inSync());
  BOOST_TEST(cut->counters().snapshotRecords > 0u);
  // Until the last chunk is in, the laptop claims nothing new: what it took stays, unclaimed.
  BOOST_TEST((laptop.engine.status().vector == before));
  editAtHub({customers.front()}, "again@example.fi");  // again, after the chunk that brought it
  auto resumed = session(smallChunks());
  BOOST_TEST(resumed->inSync());
  BOOST_TEST(resumed->counters().snapshotRecords < customers.size());
  BOOST_TEST(laptop.engine.customer(customers.front())->value(CustomerField::email) ==
             "again@example.fi");
  BOOST_TEST(laptop.engine.digestHex() == bobsDigest());
}

BOOST_FIXTURE_TEST_CASE(a_laptops_edit_to_a_tree_it_held_as_its_own_is_not_refused_later,
                        FieldLaptop) {
  Member branch{sitesync::testing::testSiteId(0x2b), kHub};
  filterLaptop("technician=bob");
  session();
  const RecordId mine = laptop.add("Created On The Laptop");
  session();
  ship(hub.engine, branch.engine);
  // At the hub the laptop's customer is merged into one bob does not serve (the tree is the
  // laptop's own: it takes it); at a branch, concurrently, erased (erasure is final: the tree is
  // no longer the laptop's once that reaches the hub).
  BOOST_REQUIRE(hub.engine.merge(others, {mine}, {}, "admin").isOk());
  BOOST_REQUIRE(branch.engine.erase(mine, "admin").isOk());
  session();
  BOOST_REQUIRE(holds(laptop, others));
  ship(branch.engine, hub.engine);
  BOOST_REQUIRE((hub.engine.customer(mine)->lifecycle == Lifecycle::kErased));
  BOOST_REQUIRE(
      laptop.engine.update(others, {set(CustomerField::email, "o@example.fi")}, "bob").isOk());
  auto end = session();
  BOOST_TEST(!end->ended(), end->endReason());
  BOOST_TEST(hub.engine.inboxEntries().empty());
  BOOST_TEST(hub.engine.customer(others)->value(CustomerField::email) == "o@example.fi");
  BOOST_TEST(!holds(laptop, others));  // no longer its own: gone once the edit went up
}

BOOST_FIXTURE_TEST_CASE(a_technician_with_a_long_name_finds_their_customers, FieldLaptop) {
  const std::string name = "alexandra.virtanen-lahtinen";  // longer than a word (8 bytes)
  BOOST_REQUIRE(
      hub.engine.addApiUser(ApiUser{name, "technician", std::string(64, 'c'), {}}, "admin").isOk());
  BOOST_REQUIRE(hub.engine.update(others, {assignTo(name)}, "admin").isOk());
  filterLaptop("technician=" + name);
  session();
  BOOST_TEST(holds(laptop, others));
  BOOST_TEST(!holds(laptop, bobs));
  BOOST_TEST(laptop.engine.digestHex() ==
             hub.engine.digestHex(*parseRecordFilter({"technician=" + name})));
}

BOOST_FIXTURE_TEST_CASE(a_hello_with_an_unknown_technician_is_refused_as_a_bad_filter,
                        FieldLaptop) {
  filterLaptop("technician=zed");
  auto end = session();
  BOOST_TEST(end->ended());
  BOOST_TEST((end->refusal() == WireError::kBadFilter));
  BOOST_TEST(end->endReason().find("zed") != std::string::npos, end->endReason());
}

BOOST_AUTO_TEST_SUITE_END()
