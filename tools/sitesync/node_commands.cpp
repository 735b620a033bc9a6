// `sitesync serve` and `sitesync sync`: running a node, and one replication session.
#include <algorithm>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

std::atomic<bool> stopRequested{false};
extern "C" void onStopSignal(int) {
  stopRequested = true;
}

void logLine(const std::string& line) {
  static std::mutex mutex;
  std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::lock_guard lock(mutex);
  std::cerr << stamp << " " << line << std::endl;
}

struct NodeArgs {
  std::string data;
  std::string site;
  std::string hub;
  std::string listen;
  std::vector<std::string> peers;
  std::string peer;
  double timeoutSeconds = 30;
  double compactMinutes = 60;
  bool json = false;
  uint64_t inboxKey = 0;
};

nlohmann::json vectorJson(const VersionVector& v) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [origin, seq] : v.entries()) j[siteIdToHex(origin)] = seq;
  return j;
}

void serveCommand(const NodeArgs& a) {
  auto site = openSite(a.data);
  if (a.compactMinutes < 0) throw UsageError("--compact-every must not be negative");
  node::ServeOptions options;
  for (const auto& peer : a.peers)
    options.peers.push_back(resolvePeer(*site->engine, peer).endpoint);
  options.identity = linkIdentity(a.data);
  options.compactEvery = std::chrono::milliseconds(int64_t(a.compactMinutes * 60000));
  std::unique_ptr<node::Server> listening;
  try {
    listening = std::make_unique<node::Server>(*site->engine, a.listen, logLine, options);
  } catch (const zmq::error_t& e) {
    throw UsageError("cannot listen on '" + a.listen + "': " + e.what());
  }
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGTERM, onStopSignal);
  std::cout << "serving '" << site->engine->meta().siteName << "' on " << listening->endpoint()
            << std::endl;
  if (!listening->secure())
    logLine(
        "links are not encrypted: no peer is on this node's allow list yet (the first "
        "`sitesync peers add` makes every link CURVE, allowed keys only)");
  listening->run(stopRequested);
  logLine("stopped");
}

void syncCommand(const NodeArgs& a) {
  if (a.timeoutSeconds <= 0) throw UsageError("--timeout must be positive");
  auto site = openSite(a.data);
  node::SyncOptions options;
  options.timeout = std::chrono::milliseconds(int64_t(a.timeoutSeconds * 1000));
  const ResolvedPeer peer = resolvePeer(*site->engine, a.peer);
  if (!peer.key.empty()) {
    options.identity = linkIdentity(a.data);
    options.serverKey = peer.key;
  }
  node::SyncReport r;
  const auto offeredBefore = site->engine->offeredSettings();
  try {
    r = node::syncWith(*site->engine, peer.endpoint, options);
  } catch (const node::SyncError& e) {
    throw Failure(e.what());
  } catch (const zmq::error_t& e) {
    throw UsageError("cannot connect to '" + peer.endpoint + "': " + e.what());
  }
  // Settings set before this site joined: what became of them, when that changed in this sync.
  std::vector<sync::OfferedSetting> decided;
  for (const auto& offer : site->engine->offeredSettings())
    if (std::none_of(offeredBefore.begin(), offeredBefore.end(), [&](const auto& before) {
          return before.field == offer.field && before.outcome == offer.outcome;
        }))
      decided.push_back(offer);
  if (a.json) {
    printJson({{"peer", r.peerName},
               {"peer_id", siteIdToHex(r.peerId)},
               {"sent", r.sent},
               {"received", r.received},
               {"vector", vectorJson(r.vector)},
               {"offered_settings", offeredSettingsJson(decided)}});
    return;
  }
  std::cout << "synced with '" << r.peerName << "' (" << siteIdToHex(r.peerId) << "): sent "
            << r.sent << ", received " << r.received << " changes\n";
  for (const auto& offer : decided)
    std::cout << "setting set before this site joined: " << offeredSettingLine(offer) << "\n";
}

// A new node (a new laptop) joins from the hub: a fresh site takes the hub's snapshot (chunk by
// chunk, resumable), then the changes made since in one session.
void joinCommand(const NodeArgs& a) {
  namespace fs = std::filesystem;
  check(sync::validateSiteName(a.site));
  if (a.timeoutSeconds <= 0) throw UsageError("--timeout must be positive");
  std::error_code ec;
  const bool hadStore = fs::exists(fs::path(a.data) / "data.mdb", ec);
  const bool createdDir = !fs::exists(a.data, ec);
  fs::create_directories(a.data, ec);
  if (ec) throw Failure("cannot create " + a.data + ": " + ec.message());
  auto store = storage::Store::open(a.data);
  sync::SystemClock clock;
  // The hub by name or endpoint, from the allow list a new laptop may already hold (`peers add`
  // before `join`); then the link is CURVE with this node's keys.
  const ResolvedPeer hub = resolvePeer(sync::Engine(*store, clock), a.hub);
  if (hadStore && sync::Engine::isInitialized(*store)) {
    // Only an interrupted join of the same site resumes; anything else is refused.
    sync::Engine existing(*store, clock);
    const Meta meta = existing.meta();
    if (!meta.snapshotPending || meta.siteName != a.site)
      throw Failure("'" + a.data + "' already holds site '" + meta.siteName +
                    "'; join needs an empty directory");
  } else {
    check(sync::Engine::initialize(*store, clock, sync::SiteKey::generate(), a.site, false));
  }
  sync::Engine engine(*store, clock);
  const bool resuming = engine.meta().snapshotPending;
  node::SyncOptions options;
  options.timeout = std::chrono::milliseconds(int64_t(a.timeoutSeconds * 1000));
  if (!hub.key.empty()) {
    options.identity = linkIdentity(a.data);
    options.serverKey = hub.key;
  }
  node::BootstrapReport snapshot;
  node::SyncReport r;
  try {
    snapshot = node::bootstrapFrom(engine, hub.endpoint, options);
  } catch (const std::exception& e) {
    const auto status = engine.status();
    if (status.meta.snapshotPending &&
        status.customers + status.deactivated + status.tombstones > 0)
      throw Failure("join interrupted: " + std::string(e.what()) +
                    "; run the same command again to resume");
    store.reset();  // nothing worth keeping: leave nothing behind
    if (!hadStore) {
      fs::remove(fs::path(a.data) / "data.mdb", ec);
      fs::remove(fs::path(a.data) / "lock.mdb", ec);
      if (createdDir) fs::remove(a.data, ec);
    }
    throw Failure("join failed, nothing kept: " + std::string(e.what()));
  }
  try {
    r = node::syncWith(engine, hub.endpoint, options);
  } catch (const std::exception& e) {
    throw Failure("joined from the hub's snapshot, but the catch-up session failed: " +
                  std::string(e.what()) + "; run `sitesync sync --data " + a.data + " --peer " +
                  a.hub + "`");
  }
  const Meta meta = engine.meta();
  linkIdentity(a.data);  // a joined site has its key pair like an initialised one
  if (a.json) {
    printJson({{"site", a.site},
               {"site_id", siteIdToHex(meta.siteId)},
               {"hub", r.peerName},
               {"deployment", siteIdToHex(meta.deployment)},
               {"resumed", resuming},
               {"snapshot_records", snapshot.records},
               {"snapshot_chunks", snapshot.chunks},
               {"received", r.received},
               {"vector", vectorJson(r.vector)}});
    return;
  }
  std::cout << "joined '" << r.peerName << "' as '" << a.site << "' (" << siteIdToHex(meta.siteId)
            << "): " << (resuming ? "resumed snapshot, " : "") << snapshot.records << " records in "
            << snapshot.chunks << " snapshot chunks, then " << r.received << " changes\n";
}

// The inbox holds peers' batches acknowledged before they were applied: waiting (a crash came
// between) or set aside (they could not apply, with why). Nothing of them is lost meanwhile.
void inboxList(const NodeArgs& a) {
  auto site = openSite(a.data);
  const auto entries = site->engine->inboxEntries();
  if (a.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& e : entries)
      j.push_back({{"key", e.key},
                   {"changes", e.changes},
                   {"set_aside", e.setAside},
                   {"reason", e.reason}});
    printJson(j);
    return;
  }
  if (entries.empty()) std::cout << "the inbox is empty\n";
  for (const auto& e : entries)
    std::cout << "staged batch " << e.key << ": " << e.changes << " changes, "
              << (e.setAside ? "set aside: " + e.reason : std::string("waiting to be applied"))
              << "\n";
}

void inboxRetry(const NodeArgs& a) {
  auto site = openSite(a.data);
  const size_t applied = site->engine->applyStagedBatches();
  const auto left = site->engine->inboxState().setAside;
  std::cout << "applied " << applied << " staged batch" << (applied == 1 ? "" : "es") << "\n";
  if (!left.empty())
    throw Failure(std::to_string(left.size()) + " staged batch" +
                  (left.size() == 1 ? " still cannot" : "es still cannot") +
                  " apply; the first: " + left.front());
}

void inboxDrop(const NodeArgs& a) {
  auto site = openSite(a.data);
  size_t changes = 0;
  for (const auto& e : site->engine->inboxEntries())
    if (e.key == a.inboxKey) changes = e.changes;
  check(site->engine->dropSetAside(a.inboxKey));
  std::cout << "dropped staged batch " << a.inboxKey << " (" << changes
            << " changes): a peer that holds them sends them again at the next sync\n";
}

}  // namespace

void addNodeCommands(CLI::App& app) {
  auto a = std::make_shared<NodeArgs>();
  auto* serve = app.add_subcommand("serve", "run this site's node until SIGINT or SIGTERM");
  serve->add_option("--data", a->data, "data directory")->required();
  serve->add_option("--listen", a->listen, "ZeroMQ endpoint, e.g. tcp://0.0.0.0:7400")->required();
  serve->add_option("--peer", a->peers,
                    "a peer to keep a streaming link to: its name on the allow list or its "
                    "endpoint (repeatable)");
  serve->add_option("--compact-every", a->compactMinutes,
                    "minutes between log compactions (entries every known peer holds; 0: never)");
  serve->callback([a] { serveCommand(*a); });

  auto* join = app.add_subcommand("join", "make DIR a new site holding the hub's register");
  join->add_option("--data", a->data, "data directory (new or empty)")->required();
  join->add_option("--site", a->site, "this site's name")->required();
  join->add_option("--hub", a->hub, "the hub: its name on the allow list, or its endpoint")
      ->required();
  join->add_option("--timeout", a->timeoutSeconds, "seconds to wait for each answer (default 30)");
  join->add_flag("--json", a->json, "JSON output");
  join->callback([a] { joinCommand(*a); });

  auto* sync = app.add_subcommand("sync", "one session with a peer: both directions");
  sync->add_option("--data", a->data, "data directory")->required();
  sync->add_option("--peer", a->peer,
                   "the peer: its name on the allow list, or its endpoint (tcp://hub:7400)")
      ->required();
  sync->add_option("--timeout", a->timeoutSeconds, "seconds to wait for each answer (default 30)");
  sync->add_flag("--json", a->json, "JSON output");
  sync->callback([a] { syncCommand(*a); });

  auto* inbox = app.add_subcommand(
      "inbox", "peers' batches acknowledged before they were applied: list, retry, drop");
  inbox->require_subcommand(1);
  auto* list = inbox->add_subcommand("list", "waiting batches, and those set aside with why");
  list->add_option("--data", a->data, "data directory")->required();
  list->add_flag("--json", a->json, "JSON output");
  list->callback([a] { inboxList(*a); });
  auto* retry = inbox->add_subcommand(
      "retry", "apply the waiting batches and try those set aside again (exit 1 if some stay)");
  retry->add_option("--data", a->data, "data directory")->required();
  retry->callback([a] { inboxRetry(*a); });
  auto* drop = inbox->add_subcommand(
      "drop", "remove a batch set aside: a peer that holds its changes sends them again");
  drop->add_option("--data", a->data, "data directory")->required();
  drop->add_option("KEY", a->inboxKey, "the batch's key, as `inbox list` shows it")->required();
  drop->callback([a] { inboxDrop(*a); });
}

}  // namespace sitesync::cli
