// `sitesync serve` and `sitesync sync`: running a node, and one replication session.
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "api/api.h"
#include "mirror/mirror.h"
#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

std::atomic<bool> stopRequested{false};
extern "C" void onStopSignal(int) {
  stopRequested = true;
}

std::atomic<bool> reloadRequested{false};
extern "C" void onReloadSignal(int) {
  reloadRequested = true;
}

struct NodeArgs {
  std::string data;
  std::string site;
  std::string hub;
  std::string listen;
  std::string api;  // serve: HOST:PORT of the application API (off when empty)
  std::string apiCert, apiKey;
  std::vector<std::string> peers;
  std::vector<std::string> filters;  // join: technician=USER, group=G (OR)
  std::string peer;
  double timeoutSeconds = 30;
  double compactMinutes = 60;
  std::string postgres;  // serve: the DSN of the PostgreSQL mirror (off when empty)
  std::string config;    // serve: the TOML file its settings came from (main.cpp merged them)
  std::string logLevel = "info";
  std::string logFormat = "text";
  bool json = false;
  uint64_t inboxKey = 0;
};

// The application API beside the node (`serve --api`): its writes go through group commit.
struct ServedApi {
  std::unique_ptr<node::GroupCommitter> committer;
  std::unique_ptr<api::ApiServer> server;  // declared last, so stopped first: it uses the committer
};

std::unique_ptr<ServedApi> startApi(sync::Engine& engine, const api::ApiOptions& options,
                                    api::ApiServer::Metrics metrics) {
  auto served = std::make_unique<ServedApi>();
  served->committer = std::make_unique<node::GroupCommitter>(engine);
  try {
    served->server = std::make_unique<api::ApiServer>(
        engine, *served->committer, options, [](const std::string& line) { logLine(line); },
        std::move(metrics));
  } catch (const api::ApiError& e) {
    throw UsageError(e.what());
  }
  return served;
}

// SIGHUP: the configuration file is read again. The log level takes effect at once (unless
// --log-level was given); every other setting needs a restart, and the log says so.
void reloadWhenAsked(const NodeArgs& a, const std::atomic<bool>& stop) {
  while (!stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!reloadRequested.exchange(false)) continue;
    if (a.config.empty()) {
      logLine("reload: no --config file to read again");
      continue;
    }
    try {
      CLI::App app;
      addNodeCommands(app);
      const auto args = configArguments(*app.get_subcommand("serve"), a.config, serveCommandLine());
      auto level = std::find(args.begin(), args.end(), "--log-level");
      std::string now = a.logLevel;  // given on the command line, or the default
      if (level != args.end() && level + 1 != args.end()) now = *(level + 1);
      if (std::find(logLevelNames().begin(), logLevelNames().end(), now) == logLevelNames().end())
        throw UsageError("log_level '" + now + "' is not one of debug, info, warn, error, off");
      setLogLevel(now);
      logLine("reloaded " + a.config + ": log level " + now +
              "; other settings take effect at the next start");
    } catch (const std::exception& e) {
      logLine("reload failed, settings kept: " + std::string(e.what()));
    }
  }
}

void serveCommand(const NodeArgs& a) {
  configureLog(a.logLevel, a.logFormat);
  std::optional<api::ApiOptions> apiOptions;
  if (!a.api.empty()) apiOptions = take(api::apiOptions(a.api, a.apiCert, a.apiKey));
  auto site = openSite(a.data);
  if (a.compactMinutes < 0) throw UsageError("--compact-every must not be negative");
  site->store->onSlowWrite([](double transactionSeconds, double commitSeconds) {
    logLine("slow commit: a write took " + std::to_string(int(transactionSeconds * 1000)) +
            " ms, of which " + std::to_string(int(commitSeconds * 1000)) +
            " ms writing and syncing to disk");
  });
  node::ServeOptions options;
  for (const auto& peer : a.peers)
    options.peers.push_back(resolvePeer(*site->engine, peer).endpoint);
  options.identity = linkIdentity(a.data);
  options.compactEvery = std::chrono::milliseconds(int64_t(a.compactMinutes * 60000));
  std::unique_ptr<node::Server> listening;
  try {
    listening = std::make_unique<node::Server>(
        *site->engine, a.listen,
        [](const std::string& line, const std::string& peer) { logLine(line, peer); }, options);
  } catch (const zmq::error_t& e) {
    throw UsageError("cannot listen on '" + a.listen + "': " + e.what());
  }
  // After the Server: it sets the engine's commit listener before other threads use the engine.
  const auto served =
      apiOptions ? startApi(*site->engine, *apiOptions,
                            [&site = *site, &node = *listening] { return nodeMetrics(site, node); })
                 : nullptr;
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGTERM, onStopSignal);
  std::signal(SIGHUP, onReloadSignal);
  std::thread reloader([&] { reloadWhenAsked(a, stopRequested); });
  struct Joined {
    std::thread& t;
    ~Joined() {
      stopRequested = true;
      t.join();
    }
  } joined{reloader};
  std::cout << "serving '" << site->engine->meta().siteName << "' on " << listening->endpoint()
            << std::endl;
  if (served) std::cout << "api on " << served->server->url() << std::endl;
  std::unique_ptr<mirror::Mirror> mirrored;
  if (!a.postgres.empty()) {
    recordMirrorDsn(a.data, a.postgres);
    mirrored = std::make_unique<mirror::Mirror>(*site->engine, a.postgres,
                                                [](const std::string& line) { logLine(line); });
    logLine("mirroring the register to PostgreSQL: " + mirror::shownDsn(a.postgres));
  }
  if (!listening->secure())
    logLine(
        "links are not encrypted: no peer is on this node's allow list yet (the first "
        "`sitesync peers add` makes every link CURVE, allowed keys only)");
  listening->run(stopRequested);
  logLine("stopped");
}

// The link options of one session with `peer`: CURVE with this node's keys when the peer's key
// is known.
node::SyncOptions sessionOptions(const NodeArgs& a, const ResolvedPeer& peer) {
  node::SyncOptions options;
  options.timeout = std::chrono::milliseconds(int64_t(a.timeoutSeconds * 1000));
  if (!peer.key.empty()) {
    options.identity = linkIdentity(a.data);
    options.serverKey = peer.key;
  }
  return options;
}

void syncCommand(const NodeArgs& a) {
  if (a.timeoutSeconds <= 0) throw UsageError("--timeout must be positive");
  auto site = openSite(a.data);
  const ResolvedPeer peer = resolvePeer(*site->engine, a.peer);
  node::SyncOptions options = sessionOptions(a, peer);
  options.progress = progressReporter(a.json, "catch-up", 0);  // on a terminal, or JSON lines
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
               {"offered_settings", offeredSettingsJson(decided)},
               {"held_back", r.heldBack}});
    return;
  }
  std::cout << "synced with '" << r.peerName << "' (" << siteIdToHex(r.peerId) << "): sent "
            << r.sent << ", received " << r.received << " changes\n";
  if (!r.heldBack.empty()) std::cout << r.heldBack << "\n";
  for (const auto& offer : decided)
    std::cout << "setting set before this site joined: " << offeredSettingLine(offer) << "\n";
}

// What a join found in its data directory, so that a failed join can leave it as it was.
struct JoinDirectory {
  bool hadStore = false;
  bool createdDir = false;
};

JoinDirectory prepareJoinDirectory(const std::string& data) {
  namespace fs = std::filesystem;
  std::error_code ec;
  JoinDirectory dir;
  dir.hadStore = fs::exists(fs::path(data) / "data.mdb", ec);
  dir.createdDir = !fs::exists(data, ec);
  fs::create_directories(data, ec);
  if (ec) throw Failure("cannot create " + data + ": " + ec.message());
  return dir;
}

// A new site is initialised; only an interrupted join of the same site resumes, anything else
// already there is refused.
void startOrResumeJoiningSite(storage::Store& store, sync::Clock& clock, const NodeArgs& a,
                              bool hadStore) {
  if (!hadStore || !sync::Engine::isInitialized(store)) {
    check(sync::Engine::initialize(store, clock, sync::SiteKey::generate(), a.site, false));
    return;
  }
  const Meta meta = sync::Engine(store, clock).meta();
  if (!meta.snapshotPending || meta.siteName != a.site)
    throw Failure("'" + a.data + "' already holds site '" + meta.siteName +
                  "'; join needs an empty directory");
}

// The hub's snapshot. A failed one that left records keeps them (the same command resumes);
// otherwise nothing is kept, and a store or directory the join made is removed.
node::BootstrapReport takeJoinSnapshot(sync::Engine& engine, std::unique_ptr<storage::Store>& store,
                                       const std::string& hubEndpoint, node::SyncOptions options,
                                       const NodeArgs& a, const JoinDirectory& dir) {
  namespace fs = std::filesystem;
  const auto held = [&] {
    const auto status = engine.status();
    return status.customers + status.deactivated + status.tombstones;
  };
  try {
    // A link that drops while chunks still come in is taken up again from what is durably in,
    // as long as each attempt brings something.
    for (uint64_t before = held();; before = held()) {
      options.progress = progressReporter(a.json, "snapshot", before);
      try {
        return node::bootstrapFrom(engine, hubEndpoint, options);
      } catch (const node::SyncError& e) {
        if (e.refusal() || !engine.meta().snapshotPending || held() <= before) throw;
        if (a.json)
          std::cerr << nlohmann::json{{"event", "resuming"}, {"error", e.what()}, {"held", held()}}
                    << std::endl;
        else
          std::cerr << "join: " << e.what() << "; resuming from " << held() << " records\n";
      }
    }
  } catch (const std::exception& e) {
    if (engine.meta().snapshotPending && held() > 0)
      throw Failure("join interrupted: " + std::string(e.what()) +
                    "; run the same command again to resume");
    store.reset();  // closed before its files go
    if (!dir.hadStore) {
      std::error_code ec;
      fs::remove(fs::path(a.data) / "data.mdb", ec);
      fs::remove(fs::path(a.data) / "lock.mdb", ec);
      if (dir.createdDir) fs::remove(a.data, ec);
    }
    const auto* refused = dynamic_cast<const node::SyncError*>(&e);
    if (refused && refused->refusal() == WireError::kBadFilter)  // the user's input: exit 2
      throw UsageError("join refused, nothing kept: " + std::string(e.what()));
    throw Failure("join failed, nothing kept: " + std::string(e.what()));
  }
}

// The changes made at the hub since its snapshot was taken.
node::SyncReport catchUpAfterJoin(sync::Engine& engine, const std::string& hubEndpoint,
                                  const node::SyncOptions& options, const NodeArgs& a) {
  try {
    return node::syncWith(engine, hubEndpoint, options);
  } catch (const std::exception& e) {
    throw Failure("joined from the hub's snapshot, but the catch-up session failed: " +
                  std::string(e.what()) + "; run `sitesync sync --data " + a.data + " --peer " +
                  a.hub + "`");
  }
}

void printJoinReport(const NodeArgs& a, const Meta& meta, bool resumed,
                     const node::BootstrapReport& snapshot, const node::SyncReport& r) {
  if (a.json) {
    printJson({{"site", a.site},
               {"site_id", siteIdToHex(meta.siteId)},
               {"hub", r.peerName},
               {"deployment", siteIdToHex(meta.deployment)},
               {"resumed", resumed},
               {"snapshot_records", snapshot.records},
               {"snapshot_chunks", snapshot.chunks},
               {"received", r.received},
               {"vector", vectorJson(r.vector)}});
    return;
  }
  std::cout << "joined '" << r.peerName << "' as '" << a.site << "' (" << siteIdToHex(meta.siteId)
            << "): " << (resumed ? "resumed snapshot, " : "") << snapshot.records << " records in "
            << snapshot.chunks << " snapshot chunks, then " << r.received << " changes\n";
}

// A new node (a new laptop) joins from the hub: a fresh site takes the hub's snapshot (chunk by
// chunk, resumable), then the changes made since in one session.
void joinCommand(const NodeArgs& a) {
  check(sync::validateSiteName(a.site));
  if (a.timeoutSeconds <= 0) throw UsageError("--timeout must be positive");
  const JoinDirectory dir = prepareJoinDirectory(a.data);
  auto store = storage::Store::open(a.data);
  sync::SystemClock clock;
  // The hub by name or endpoint, from the allow list a new laptop may already hold (`peers add`
  // before `join`); then the link is CURVE with this node's keys.
  const ResolvedPeer hub = resolvePeer(sync::Engine(*store, clock), a.hub);
  std::optional<RecordFilter> filter;
  if (!a.filters.empty()) {
    auto parsed = parseRecordFilter(a.filters);
    if (!parsed.isOk()) throw UsageError("--filter: " + parsed.status().message());
    filter = *parsed;
  }
  startOrResumeJoiningSite(*store, clock, a, dir.hadStore);
  sync::Engine engine(*store, clock);
  if (filter)
    check(engine.setFilter(*filter));
  else if (!engine.meta().filter.empty())
    throw UsageError("this join began with --filter " + engine.meta().filter +
                     ": run it again with that filter");
  const bool resuming = engine.meta().snapshotPending;
  node::SyncOptions options = sessionOptions(a, hub);
  const node::BootstrapReport snapshot =
      takeJoinSnapshot(engine, store, hub.endpoint, options, a, dir);
  options.progress = progressReporter(a.json, "catch-up", 0);
  const node::SyncReport r = catchUpAfterJoin(engine, hub.endpoint, options, a);
  const Meta meta = engine.meta();
  linkIdentity(a.data);  // a joined site has its key pair like an initialised one
  printJoinReport(a, meta, resuming, snapshot, r);
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
  serve->add_option("--listen", a->listen, "ZeroMQ endpoint, e.g. tcp://0.0.0.0:7400")
      ->required()
      ->check(CLI::Validator(
          [](const std::string& v) {
            return isEndpoint(v) ? std::string()
                                 : "'" + v + "' is not an endpoint (tcp://HOST:PORT)";
          },
          "ENDPOINT"));
  serve->add_option("--peer", a->peers,
                    "a peer to keep a streaming link to: its name on the allow list or its "
                    "endpoint (repeatable)");
  serve->add_option("--api", a->api,
                    "serve the application HTTP/JSON API on HOST:PORT (e.g. 127.0.0.1:7380; "
                    "port 0: a free one); off unless given");
  serve->add_option("--api-cert", a->apiCert, "PEM certificate: the API serves HTTPS");
  serve->add_option("--api-key", a->apiKey, "PEM private key of --api-cert");
  serve
      ->add_option("--compact-every", a->compactMinutes,
                   "minutes between log compactions (entries every known peer holds; 0: never)")
      ->check(CLI::Validator(
          [](const std::string& v) {
            return std::strtod(v.c_str(), nullptr) >= 0 ? std::string() : "must be 0 or more";
          },
          "MINUTES"));
  serve->add_option("--postgres", a->postgres,
                    "keep the register mirrored in this PostgreSQL database (libpq DSN, e.g. "
                    "\"host=db dbname=hq user=sitesync\"); `sitesync mirror status` shows the lag");
  serve->add_option("--config", a->config,
                    "a TOML file of these options (each key the option's name, '_' for '-', e.g. "
                    "log_level = \"warn\", peer = [\"hq\"]); options given here win; SIGHUP "
                    "reads it again");
  serve->add_option("--log-level", a->logLevel, "debug, info (default), warn, error or off")
      ->check(CLI::IsMember(logLevelNames()));
  serve
      ->add_option("--log-format", a->logFormat,
                   "text (default: time, level, what happened) or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}));
  serve->callback([a] { serveCommand(*a); });

  auto* join = app.add_subcommand("join", "make DIR a new site holding the hub's register");
  join->add_option("--data", a->data, "data directory (new or empty)")->required();
  join->add_option("--site", a->site, "this site's name")->required();
  join->add_option("--hub", a->hub, "the hub: its name on the allow list, or its endpoint")
      ->required();
  join->add_option("--filter", a->filters,
                   "hold only the customers of technician=USER or group=G (repeatable, or "
                   "comma-separated; terms combine with OR), those this site creates, and their "
                   "records: a field laptop");
  join->add_option("--timeout", a->timeoutSeconds, "seconds to wait for each answer (default 30)");
  join->add_flag("--json", a->json,
                 "JSON output (and progress as JSON lines on stderr: customers, bytes, rate, ETA)");
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
