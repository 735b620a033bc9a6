// Link security (DESIGN.md section 7) over real ZeroMQ on loopback: CURVE links, the allow list
// enforced by a running node (also when it changes while the node runs), and the wire carrying
// no plaintext (read through a recording TCP proxy).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>

#include "tests/unit/replication_fixture.h"

using namespace sitesync;
using namespace sitesync::testing;

namespace {

// A site with its key pair, on a deployment.
struct KeyedSite : Site {
  node::Identity keys;
  KeyedSite(SiteId id, const std::string& name, bool isHub = false)
      : Site(id, name, 0, isHub), keys(node::ensureIdentity(dir.path())) {}
  void allow(const std::string& name, const KeyedSite& peer, const std::string& endpoint = {}) {
    BOOST_REQUIRE(engine.allowPeer(AllowedPeer{name, peer.keys.publicKey, endpoint, 1}).isOk());
  }
  node::ServeOptions serving(std::vector<std::string> peers = {}) const {
    auto o = quickLinks(std::move(peers));
    o.identity = keys;
    return o;
  }
  node::SyncOptions session(const KeyedSite& server) const {
    auto o = quickSession();
    o.timeout = std::chrono::milliseconds(2000);
    o.identity = keys;
    o.serverKey = server.keys.publicKey;
    return o;
  }
};

// Forwards TCP connections from its own port to `target`, recording every byte that passes.
class RecordingProxy {
 public:
  explicit RecordingProxy(uint16_t target) : target_(target) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listener_, 8) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("proxy: cannot listen");
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { pump(); });
  }
  ~RecordingProxy() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  std::string recorded() {
    std::lock_guard lock(mutex_);
    return bytes_;
  }

 private:
  void pump() {
    std::vector<std::pair<int, int>> pairs;  // (from, to), both directions of each connection
    while (!stop_) {
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (auto [from, to] : pairs) fds.push_back({from, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int client = ::accept(listener_, nullptr, nullptr);
        const int server = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(target_);
        if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
          pairs.push_back({client, server});
          pairs.push_back({server, client});
        }
      }
      for (size_t i = 0; i < pairs.size(); ++i) {
        if (!(fds[i + 1].revents & (POLLIN | POLLHUP))) continue;
        char buf[65536];
        const ssize_t n = ::read(pairs[i].first, buf, sizeof buf);
        if (n <= 0) continue;
        (void)!::write(pairs[i].second, buf, size_t(n));
        std::lock_guard lock(mutex_);
        bytes_.append(buf, size_t(n));
      }
    }
    for (auto [from, to] : pairs) ::close(from);
  }

  uint16_t target_;
  uint16_t port_ = 0;
  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::string bytes_;
  std::thread thread_;
};

uint16_t portOf(const std::string& endpoint) {
  return uint16_t(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(security)

BOOST_AUTO_TEST_CASE(an_allowed_key_syncs_over_curve) {
  KeyedSite hub(0x4b1, "hub", true), branch(0xb1, "branch");
  hub.allow("branch", branch);
  branch.add("Anna Virtanen");
  Serving serving(hub, hub.serving());
  auto report = node::syncWith(branch.engine, serving.endpoint(), branch.session(hub));
  BOOST_TEST(report.sent >= 1u);
  BOOST_TEST(hub.engine.digestHex() == branch.engine.digestHex());
}

BOOST_AUTO_TEST_CASE(an_unknown_key_is_refused_and_nothing_is_written) {
  KeyedSite hub(0x4b1, "hub", true), branch(0xb1, "branch"), stranger(0x5e, "stranger");
  hub.allow("branch", branch);
  stranger.add("Mallory");
  const std::string before = hub.engine.digestHex();
  Serving serving(hub, hub.serving());
  try {
    node::syncWith(stranger.engine, serving.endpoint(), stranger.session(hub));
    BOOST_FAIL("a stranger's session completed");
  } catch (const node::SyncError& e) {
    BOOST_TEST((e.refusal() == WireError::kNotAllowed));
    BOOST_TEST(std::string(e.what()).find("key refused by the peer") != std::string::npos);
  }
  BOOST_TEST(hub.engine.digestHex() == before);
  // ... and the node still serves the peers it allows.
  BOOST_TEST(node::syncWith(branch.engine, serving.endpoint(), branch.session(hub)).peerId ==
             hub.id());
}

BOOST_AUTO_TEST_CASE(a_client_expecting_another_server_key_does_not_talk_to_it) {
  KeyedSite hub(0x4b1, "hub", true), branch(0xb1, "branch"), impostor(0x1b, "impostor", true);
  hub.allow("branch", branch);
  impostor.allow("branch", branch);
  Serving serving(impostor, impostor.serving());
  BOOST_CHECK_THROW(node::syncWith(branch.engine, serving.endpoint(), branch.session(hub)),
                    node::SyncError);
  BOOST_TEST(impostor.engine.status().logEntries == 0u);
}

BOOST_AUTO_TEST_CASE(a_plain_client_is_refused_by_a_node_with_an_allow_list) {
  KeyedSite hub(0x4b1, "hub", true), branch(0xb1, "branch");
  hub.allow("branch", branch);
  branch.add("Anna Virtanen");
  Serving serving(hub, hub.serving());
  auto plain = quickSession();
  plain.timeout = std::chrono::milliseconds(2000);
  BOOST_CHECK_THROW(node::syncWith(branch.engine, serving.endpoint(), plain), node::SyncError);
  BOOST_TEST(hub.engine.status().logEntries == 0u);
}

BOOST_AUTO_TEST_CASE(a_key_revoked_while_the_node_runs_loses_its_link_within_a_second) {
  KeyedSite hub(0x4b1, "hub", true), laptop(0x1a, "laptop");
  hub.allow("laptop", laptop);
  Serving serving(hub, hub.serving());
  laptop.allow("hub", hub, serving.endpoint());
  Serving linked(laptop, laptop.serving({serving.endpoint()}));
  const RecordId before = laptop.add("Before revocation");
  BOOST_REQUIRE(eventually([&] { return hub.engine.customer(before).has_value(); }));
  BOOST_REQUIRE(hub.engine.revokePeer("laptop").isOk());
  BOOST_TEST(eventually(
      [&] {
        auto links = serving.links();
        return std::none_of(links.begin(), links.end(),
                            [](const node::LinkState& l) { return l.up; });
      },
      std::chrono::milliseconds(1500)));
  const RecordId after = laptop.add("After revocation");
  BOOST_TEST(!eventually([&] { return hub.engine.customer(after).has_value(); },
                         std::chrono::milliseconds(800)));
}

BOOST_AUTO_TEST_CASE(a_hello_over_curve_binds_the_peers_site_to_its_key) {
  KeyedSite hub(0x4b1, "hub", true), laptop(0x1a, "laptop");
  hub.allow("laptop", laptop);
  Serving serving(hub, hub.serving());
  laptop.allow("hub", hub, serving.endpoint());
  node::syncWith(laptop.engine, serving.endpoint(), laptop.session(hub));
  auto allowed = hub.engine.allowedPeers();
  BOOST_REQUIRE(allowed.size() == 1u);
  BOOST_TEST(allowed[0].siteId == laptop.id());
  BOOST_TEST(laptop.engine.allowedPeers()[0].siteId == hub.id());  // and the other way round
}

BOOST_AUTO_TEST_CASE(a_hello_claiming_another_sites_id_over_curve_is_refused) {
  KeyedSite hub(0x4b1, "hub", true), laptop(0x1a, "laptop"), branch(0xb1, "branch");
  hub.allow("laptop", laptop);
  // The laptop's key, and a hello that claims the branch's site (signed by the laptop's key).
  HelloMsg hello{kProtocolVersion, branch.id(), "branch", false, {}, 0};
  laptop.engine.proveIdentity(hello, laptop.keys.publicKey);
  hello.siteId = branch.id();
  auto refused = hub.engine.acceptIdentity(hello, laptop.keys.publicKey);
  BOOST_TEST(!refused.isOk());
  BOOST_TEST(refused.message().find("did not prove") != std::string::npos);
  // A proof made for another link key does not hold for this one either.
  HelloMsg replayed{kProtocolVersion, laptop.id(), "laptop", false, {}, 0};
  laptop.engine.proveIdentity(replayed, branch.keys.publicKey);
  BOOST_TEST(!hub.engine.acceptIdentity(replayed, laptop.keys.publicKey).isOk());
  BOOST_TEST(hub.engine.allowedPeers()[0].siteId == 0u);
}

BOOST_AUTO_TEST_CASE(a_revoked_laptops_later_changes_relayed_by_a_branch_are_not_taken_by_the_hub) {
  KeyedSite hub(0x4b1, "hub", true), branch(0xb1, "branch"), laptop(0x1a, "laptop");
  hub.allow("branch", branch);
  hub.allow("laptop", laptop);
  branch.allow("laptop", laptop);
  Serving atHub(hub, hub.serving()), atBranch(branch, branch.serving());
  branch.allow("hub", hub, atHub.endpoint());
  laptop.allow("hub", hub, atHub.endpoint());
  laptop.allow("branch", branch, atBranch.endpoint());
  const RecordId before = laptop.add("Typed before the laptop was lost");
  node::syncWith(laptop.engine, atHub.endpoint(), laptop.session(hub));
  BOOST_REQUIRE(hub.engine.customer(before).has_value());

  BOOST_REQUIRE(hub.engine.revokePeer("laptop").isOk());  // lost: revoked at the hub only
  const RecordId after = laptop.add("Typed by whoever found it");
  node::syncWith(laptop.engine, atBranch.endpoint(), laptop.session(branch));
  const RecordId atTheBranch = branch.add("Typed at the branch");
  // The branch's session with the hub completes: it does not send the revoked site's changes,
  // and does not wait for the hub to hold them.
  BOOST_REQUIRE_NO_THROW(node::syncWith(branch.engine, atHub.endpoint(), branch.session(hub)));
  BOOST_TEST(hub.engine.customer(atTheBranch).has_value());
  BOOST_TEST(hub.engine.customer(before).has_value());
  BOOST_TEST(!hub.engine.customer(after).has_value());
  BOOST_TEST(hub.engine.status().vector.get(laptop.id()) == 1u);
  // Offered anyway (a peer that ignores the hello), they are refused and counted.
  auto changes = branch.engine.changesMissingFrom(hub.engine.status().vector, 1, 1000, 1 << 20);
  const sync::BatchReport forced = hub.engine.applyBatch(changes.changes);
  BOOST_TEST(forced.fromRevoked == 1u);
  BOOST_TEST(!hub.engine.customer(after).has_value());
  BOOST_TEST(hub.engine.meta().refusedFromRevoked >= 1u);
}

BOOST_AUTO_TEST_CASE(a_streaming_link_does_not_push_a_revoked_sites_changes_again_and_again) {
  KeyedSite hub(0x4b1, "hub", true), branch(0xb1, "branch"), laptop(0x1a, "laptop");
  hub.allow("branch", branch);
  hub.allow("laptop", laptop);
  branch.allow("laptop", laptop);
  Serving atHub(hub, hub.serving());
  branch.allow("hub", hub, atHub.endpoint());
  laptop.allow("hub", hub, atHub.endpoint());
  node::syncWith(laptop.engine, atHub.endpoint(), laptop.session(hub));  // the hub learns its site
  BOOST_REQUIRE(hub.engine.revokePeer("laptop").isOk());
  const RecordId lost = laptop.add("Typed on the lost laptop");
  {
    Serving atBranch(branch, branch.serving());
    laptop.allow("branch", branch, atBranch.endpoint());
    node::syncWith(laptop.engine, atBranch.endpoint(), laptop.session(branch));
  }
  // The branch streams to the hub: its own changes arrive, the laptop's are never taken, and the
  // link settles with nothing in flight (the branch does not resend them at every heartbeat).
  Serving linked(branch, branch.serving({atHub.endpoint()}));
  const RecordId typed = branch.add("Typed at the branch");
  BOOST_TEST(eventually([&] { return hub.engine.customer(typed).has_value(); }));
  BOOST_TEST(eventually([&] {
    auto links = linked.links();
    return links.size() == 1u && links[0].up && links[0].inFlight == 0u &&
           links[0].peerVector.get(laptop.id()) == branch.engine.status().vector.get(laptop.id());
  }));
  const uint64_t refused = hub.engine.meta().refusedFromRevoked;
  BOOST_TEST(!eventually([&] { return hub.engine.meta().refusedFromRevoked > refused; },
                         std::chrono::milliseconds(600)));
  BOOST_TEST(!hub.engine.customer(lost).has_value());
}

BOOST_AUTO_TEST_CASE(streaming_links_between_allowed_nodes_converge_over_curve) {
  KeyedSite hub(0x4b1, "hub", true), a(0xa1, "branch A"), b(0xb2, "branch B");
  hub.allow("a", a);
  hub.allow("b", b);
  Serving serving(hub, hub.serving());
  for (KeyedSite* site : {&a, &b}) site->allow("hub", hub, serving.endpoint());
  Serving na(a, a.serving({serving.endpoint()})), nb(b, b.serving({serving.endpoint()}));
  a.add("Typed at A");
  b.add("Typed at B");
  BOOST_TEST(eventually([&] {
    const std::string d = hub.engine.digestHex();
    return a.engine.digestHex() == d && b.engine.digestHex() == d &&
           hub.engine.status().customers == 2u;
  }));
}

BOOST_AUTO_TEST_CASE(the_first_allowed_peer_makes_a_running_plain_node_require_curve) {
  KeyedSite hub(0x4b1, "hub", true), branch(0xb1, "branch");
  Serving serving(hub, hub.serving());
  auto plain = quickSession();
  BOOST_REQUIRE_NO_THROW(node::syncWith(branch.engine, serving.endpoint(), plain));
  hub.allow("branch", branch);
  BOOST_TEST(eventually([&] {
    try {
      node::syncWith(branch.engine, serving.endpoint(), branch.session(hub));
      return true;
    } catch (const node::SyncError&) {
      return false;
    }
  }));
  plain.timeout = std::chrono::milliseconds(1000);
  BOOST_CHECK_THROW(node::syncWith(branch.engine, serving.endpoint(), plain), node::SyncError);
}

BOOST_AUTO_TEST_CASE(the_wire_carries_no_plaintext_customer_names) {
  KeyedSite hub(0x4b1, "hub", true), branch(0xb1, "branch");
  hub.allow("branch", branch);
  for (int i = 0; i < 50; ++i) branch.add("Plaintextname Virtanen " + std::to_string(i));
  Serving serving(hub, hub.serving());
  RecordingProxy proxy(portOf(serving.endpoint()));
  auto report = node::syncWith(branch.engine, proxy.endpoint(), branch.session(hub));
  BOOST_TEST(report.sent >= 50u);
  const std::string wire = proxy.recorded();
  BOOST_TEST(wire.size() > 5000u);  // the session really went through the proxy
  BOOST_TEST(wire.find("Plaintextname") == std::string::npos);
  BOOST_TEST(wire.find("Virtanen") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_secret_key_file_that_others_may_read_is_refused) {
  TempDir dir;
  node::ensureIdentity(dir.path());
  const std::string path = dir.path() + "/node.key";
  struct stat st {};
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  BOOST_REQUIRE(::chmod(path.c_str(), 0644) == 0);
  try {
    node::loadIdentity(dir.path());
    BOOST_FAIL("an exposed key file was accepted");
  } catch (const node::SecurityError& e) {
    BOOST_TEST(std::string(e.what()).find("chmod 600") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(a_key_file_is_written_whole_for_its_owner_only_and_never_replaced) {
  TempDir dir;
  const std::string path = dir.path() + "/deployment.key";
  node::writeOwnerOnlyFile(path, "first\n");
  struct stat st {};
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  BOOST_CHECK_EXCEPTION(node::writeOwnerOnlyFile(path, "second\n"), node::SecurityError,
                        [&](const node::SecurityError& e) {
                          return std::string(e.what()) == "cannot create " + path + ": File exists";
                        });
  std::ifstream in(path);
  std::string held((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST(held == "first\n");
  // No temporary file is left beside it.
  BOOST_TEST(std::distance(std::filesystem::directory_iterator(dir.path()),
                           std::filesystem::directory_iterator()) == 1);
}

BOOST_AUTO_TEST_SUITE_END()
