// `sitesync init | settings | digest | status`, and opening a data directory.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

std::string defaultUser() {
  for (const char* var : {"SITESYNC_USER", "USER", "LOGNAME"})
    if (const char* v = std::getenv(var); v && *v) return v;
  // Services and containers often run without USER: the account the process runs as.
  if (const passwd* account = getpwuid(geteuid()); account && account->pw_name)
    return account->pw_name;
  return "uid " + std::to_string(geteuid());
}

node::Identity linkIdentity(const std::string& dataDir) {
  try {
    return node::ensureIdentity(dataDir);
  } catch (const node::SecurityError& e) {
    throw Failure(e.what());
  }
}

std::string& atRestKeyFile() {
  static std::string path;
  return path;
}

std::unique_ptr<sync::FieldCipher> loadAtRestKey(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw UsageError("cannot read the key file " + path + ": " + std::strerror(errno));
  if ((st.st_mode & 077) != 0)
    throw Failure("the key file " + path + " may be read by others: run `chmod 600 " + path + "`");
  std::ifstream in(path);
  std::string hex;
  std::getline(in, hex);
  std::array<uint8_t, 32> key{};
  auto nibble = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  bool ok = hex.size() == 64;
  for (size_t i = 0; ok && i < 32; ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    ok = hi >= 0 && lo >= 0;
    key[i] = uint8_t(hi * 16 + lo);
  }
  if (!ok) throw UsageError("the key file " + path + " does not hold a key (64 hex digits)");
  return std::make_unique<sync::FieldCipher>(key);
}

std::unique_ptr<Site> openSite(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || !fs::exists(fs::path(dir) / "data.mdb", ec))
    throw UsageError("'" + dir + "' is not a sitesync data directory (create one with `sitesync " +
                     "init --data " + dir + " --site NAME`)");
  auto site = std::make_unique<Site>();
  site->store = storage::Store::open(dir);
  if (!sync::Engine::isInitialized(*site->store))
    throw UsageError("'" + dir + "' holds no site yet (run `sitesync init --data " + dir +
                     " --site NAME`)");
  site->engine = std::make_unique<sync::Engine>(*site->store, site->clock);
  if (site->engine->encrypted()) {
    if (atRestKeyFile().empty())
      throw UsageError("'" + dir +
                       "' is encrypted: give --key-file FILE (or set SITESYNC_KEY_FILE)");
    site->cipher = loadAtRestKey(atRestKeyFile());
    if (auto status = site->engine->useCipher(site->cipher.get()); !status.isOk())
      throw Failure("the key in " + atRestKeyFile() + " does not open '" + dir +
                    "' (it was encrypted under another key)");
  }
  return site;
}

std::unique_ptr<sync::FieldCipher> deploymentKey(const std::string& dataDir) {
  namespace fs = std::filesystem;
  const std::string& path = atRestKeyFile();
  if (path.empty()) throw UsageError("--encrypt needs --key-file FILE (or SITESYNC_KEY_FILE)");
  std::error_code ec;
  const fs::path key = fs::weakly_canonical(path, ec), data = fs::weakly_canonical(dataDir, ec);
  if (std::mismatch(data.begin(), data.end(), key.begin(), key.end()).first == data.end())
    throw UsageError(
        "keep the key file outside the data directory: whoever copies one must not "
        "get the other");
  if (!fs::exists(path, ec)) {  // a new deployment key
    std::array<unsigned char, 32> bytes{};
    std::ifstream random("/dev/urandom", std::ios::binary);
    if (!random.read(reinterpret_cast<char*>(bytes.data()), bytes.size()))
      throw Failure("cannot read /dev/urandom");
    static const char* digits = "0123456789abcdef";
    std::string hex;
    for (unsigned char b : bytes) hex += {digits[b >> 4], digits[b & 15]};
    hex += "\n";
    node::writeOwnerOnlyFile(path, hex);
    std::cerr << "made a new deployment key in " << path
              << ": give the same file to every site of the deployment\n";
  }
  return loadAtRestKey(path);
}

namespace {

struct SiteArgs {
  std::string data;
  std::string site;
  bool hub = false;
  bool encrypt = false;
  bool json = false;
  std::string user = defaultUser();
  std::vector<std::string> assignments;
  std::vector<std::string> filters;  // digest --filter
};

// `digest`: the whole register's, or with --filter at a full site what a laptop filtered so
// holds (equal to that laptop's digest once they synced).
void digestCommand(const SiteArgs& a) {
  auto site = openSite(a.data);
  if (a.filters.empty()) {
    std::cout << site->engine->digestHex() << "\n";
    return;
  }
  if (!site->engine->meta().filter.empty())
    throw UsageError("--filter: this site is filtered itself (" + site->engine->meta().filter +
                     "); its plain digest is the filtered one");
  auto filter = parseRecordFilter(a.filters);
  if (!filter.isOk()) throw UsageError("--filter: " + filter.status().message());
  if (auto known = site->engine->checkFilter(*filter); !known.isOk())
    throw UsageError("--filter: " + known.message());
  std::cout << site->engine->digestHex(*filter) << "\n";
}

void initCommand(const SiteArgs& a) {
  namespace fs = std::filesystem;
  check(sync::validateSiteName(a.site));  // before anything is created
  std::error_code ec;
  std::unique_ptr<sync::FieldCipher> cipher;
  if (a.encrypt) cipher = deploymentKey(a.data);
  if (fs::exists(fs::path(a.data) / "data.mdb", ec)) {
    auto store = storage::Store::open(a.data);
    if (sync::Engine::isInitialized(*store))
      throw Failure("'" + a.data + "' already holds a site; choose an empty directory");
  }
  fs::create_directories(a.data, ec);
  if (ec) throw Failure("cannot create " + a.data + ": " + ec.message());
  const sync::SiteKey key = sync::SiteKey::generate();
  const SiteId id = key.siteId();
  auto store = storage::Store::open(a.data);
  sync::SystemClock clock;
  check(sync::Engine::initialize(*store, clock, key, a.site, a.hub));
  if (cipher) check(sync::Engine(*store, clock).initializeEncryption(*cipher));
  const node::Identity keys = linkIdentity(a.data);
  if (a.json)
    printJson({{"site", a.site},
               {"site_id", siteIdToHex(id)},
               {"hub", a.hub},
               {"data", a.data},
               {"public_key", keys.publicKey}});
  else
    std::cout << "initialised " << (a.hub ? "hub" : "site") << " '" << a.site << "' ("
              << siteIdToHex(id) << ") in " << a.data << "\n";
}

void settingsShow(const SiteArgs& a) {
  auto site = openSite(a.data);
  auto s = site->engine->settings();
  if (a.json) {
    printJson(settingsJson(s));
    return;
  }
  for (const auto& f : settingsFields()) {
    auto field = static_cast<SettingsField>(f.code);
    bool isDefault = s.fields[f.code].version.isNull();
    std::cout << f.cliName << "=" << s.get(field) << (isDefault ? "  (default)" : "") << "\n";
  }
}

void settingsSet(const SiteArgs& a) {
  if (a.assignments.empty()) throw UsageError("settings set needs KEY=VALUE arguments");
  std::vector<sync::Edit> edits;
  for (const auto& text : a.assignments) edits.push_back(take(parseSettingsAssignment(text)));
  auto site = openSite(a.data);
  auto updated = site->engine->updateSettings(edits, a.user);
  // Not the hub: a usage error (exit 2), the message says where settings are changed.
  if (updated.status().code() == StatusCode::kFailedPrecondition)
    throw UsageError(updated.status().message());
  take(std::move(updated));
  settingsShow(a);
  const Meta meta = site->engine->meta();
  if (meta.deployment == 0 && !meta.isHub)
    std::cerr << "note: this site has not joined a deployment: when it joins, these settings are "
                 "offered to the hub, which keeps those the deployment has no value for and "
                 "refuses the others (`sitesync status` tells which)\n";
}

// Changes this node holds that the peer did not have at the end of the last session.
uint64_t pendingFor(const VersionVector& mine, const VersionVector& peer) {
  uint64_t pending = 0;
  for (const auto& [origin, seq] : mine.entries())
    if (seq > peer.get(origin)) pending += seq - peer.get(origin);
  return pending;
}

nlohmann::json peersJson(const Site& site, const VersionVector& mine) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& p : site.engine->peers()) {
    list.push_back(
        {{"name", p.name},
         {"site_id", siteIdToHex(p.siteId)},
         {"endpoint", p.endpoint.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.endpoint)},
         {"last_contact", Hlc::from(p.lastContactMillis, 0).toIso8601()},
         {"vector", vectorJson(p.vector)},
         {"pending", pendingFor(mine, p.vector)},
         {"sent", p.sent},
         {"received", p.received}});
  }
  return list;
}

// What `status` reports, read once for both the JSON and the text.
struct StatusFacts {
  sync::RegisterStatus registerStatus;
  storage::StoreStats store;
  std::vector<sync::OfferedSetting> offers;
  sync::Engine::InboxState inbox;
};

nlohmann::json statusJson(const std::string& dataDir, const Site& site, const StatusFacts& f) {
  const auto& s = f.registerStatus;
  nlohmann::json j = api::registerStatusJson(s);
  j.update({{"peers", peersJson(site, s.vector)},
            {"file_bytes", f.store.fileBytes},
            {"map_bytes", f.store.mapBytes},
            {"public_key", linkIdentity(dataDir).publicKey},
            {"links_encrypted", site.engine->allowListConfigured()},
            {"allowed_peers", site.engine->allowedPeers().size()},
            {"encrypted_at_rest", site.engine->encrypted()},
            {"dropped_for_erased", s.meta.droppedForErased},
            {"ignored_not_from_hub", s.meta.unauthorized},
            {"revoked_sites", s.meta.revokedSites.entries().size()},
            {"refused_from_revoked", s.meta.refusedFromRevoked},
            {"filter", s.meta.filter},
            {"format_version", s.meta.formatVersion}});
  j["offered_settings"] = offeredSettingsJson(f.offers);
  if (s.meta.isHub) {
    j["settings_offers_kept"] = s.meta.settingsOffersKept;
    j["settings_offers_refused"] = s.meta.settingsOffersRefused;
  }
  j["staged_batches_waiting"] = f.inbox.waiting;
  j["staged_batches_set_aside"] = f.inbox.setAside;
  return j;
}

// "links: ...": how the links, the stored data and the changes are protected, and what the
// protection refused.
std::string securityLine(const sync::Engine& engine, const Meta& meta) {
  std::string line = "links: ";
  line += engine.allowListConfigured()
              ? "CURVE, " + std::to_string(engine.allowedPeers().size()) + " allowed peers"
              : std::string("not encrypted (no peer allowed yet: sitesync peers add)");
  line += "; SSNs and journal text ";
  line += engine.encrypted() ? "encrypted at rest" : "stored in the clear";
  line += "; changes signed by their origin (Ed25519)";
  if (meta.unauthorized)
    line += "; " + std::to_string(meta.unauthorized) +
            " settings or lease changes ignored: not from the hub";
  if (!meta.revokedSites.entries().empty())
    line += "; " + std::to_string(meta.revokedSites.entries().size()) + " revoked sites, " +
            std::to_string(meta.refusedFromRevoked) + " of their later changes refused";
  return line;
}

void printPeerLines(const nlohmann::json& peers) {
  for (const auto& p : peers)
    std::cout << "\npeer '" << p["name"].get<std::string>() << "' ("
              << p["site_id"].get<std::string>() << ")"
              << (p["endpoint"].is_null() ? "" : " at " + p["endpoint"].get<std::string>())
              << ": last contact " << p["last_contact"].get<std::string>() << ", "
              << p["pending"].get<uint64_t>() << " changes pending (by its vector at last contact)";
}

// The settings offered at joins, and the staged batches: lines only when there is something.
void printOfferAndInboxLines(const StatusFacts& f) {
  const Meta& meta = f.registerStatus.meta;
  for (const auto& offer : f.offers)
    std::cout << "\nsetting offered when this site joined: " << offeredSettingLine(offer);
  if (meta.settingsOffersKept + meta.settingsOffersRefused > 0)
    std::cout << "\nsettings offered by joining sites: " << meta.settingsOffersKept << " kept, "
              << meta.settingsOffersRefused << " refused (the deployment had a value of its own)";
  if (f.inbox.waiting)
    std::cout << "\ninbox: " << f.inbox.waiting
              << " acknowledged batches not applied yet (`sitesync serve` applies them first)";
  for (const auto& aside : f.inbox.setAside)
    std::cout << "\ninbox: set aside, could not apply: " << aside;
}

std::string humanBytes(uint64_t bytes) {
  return bytes >= (uint64_t(10) << 20) ? std::to_string(bytes >> 20) + " MiB"
                                       : std::to_string(bytes >> 10) + " KiB";
}

void printStatus(const Site& site, const StatusFacts& f, const nlohmann::json& peers) {
  const auto& s = f.registerStatus;
  std::cout << (s.meta.isHub ? "hub" : "site") << " '" << s.meta.siteName << "' ("
            << siteIdToHex(s.meta.siteId) << ")\n"
            << "deployment: "
            << (s.meta.deployment ? siteIdToHex(s.meta.deployment)
                                  : "none yet (adopted at first sync)")
            << (s.meta.snapshotPending ? "; join unfinished: run the same `sitesync join` again"
                                       : "")
            << "\n"
            << (s.meta.filter.empty() ? ""
                                      : "filtered: holds the customers of " + s.meta.filter +
                                            " and those it created (a field laptop)\n")
            << (s.meta.restored ? "restored from a backup: makes no change until it has synced "
                                  "with its hub\n"
                                : "")
            << "customers: " << s.customers << " active, " << s.deactivated << " deactivated, "
            << s.tombstones << " tombstones\n"
            << "log: " << s.logEntries << " entries, last own seq " << s.meta.lastSeq << "\n"
            << securityLine(*site.engine, s.meta) << "\n"
            << "clock: " << s.meta.lastHlc.toIso8601() << "\n"
            << "vector:";
  for (const auto& [origin, seq] : s.vector.entries())
    std::cout << " " << siteIdToHex(origin) << "=" << seq;
  printPeerLines(peers);
  printOfferAndInboxLines(f);
  std::cout << "\nstore: " << humanBytes(f.store.fileBytes) << " on disk, map "
            << humanBytes(f.store.mapBytes) << "\n";
}

void statusCommand(const SiteArgs& a) {
  auto site = openSite(a.data);
  const StatusFacts facts{site->engine->status(), site->store->stats(),
                          site->engine->offeredSettings(), site->engine->inboxState()};
  // Built for the text too: it reads the peers once, and makes this node's link keys if a store
  // from before keys existed has none (as `status --json` does).
  const nlohmann::json j = statusJson(a.data, *site, facts);
  if (a.json)
    printJson(j);
  else
    printStatus(*site, facts, j["peers"]);
}

}  // namespace

void addSiteCommands(CLI::App& app) {
  auto a = std::make_shared<SiteArgs>();
  auto* init = app.add_subcommand("init", "make a data directory a new site");
  init->add_option("--data", a->data, "data directory (created if missing)")->required();
  init->add_option("--site", a->site, "this site's name, e.g. \"Branch Tampere\"")->required();
  init->add_flag("--hub", a->hub, "this node is the headquarters hub");
  init->add_flag("--encrypt", a->encrypt,
                 "store SSNs and journal text AES-256-GCM encrypted under the deployment key of "
                 "--key-file (made there if missing; keep it away from the data directory)");
  init->add_flag("--json", a->json, "JSON output");
  init->callback([a] { initCommand(*a); });

  auto* settings = app.add_subcommand("settings", "show or change the deployment settings");
  auto* show = settings->add_subcommand("show", "print every setting (KEY=VALUE)");
  show->add_option("--data", a->data, "data directory")->required();
  show->add_flag("--json", a->json, "JSON output");
  show->callback([a] { settingsShow(*a); });
  auto* set = settings->add_subcommand("set", "change settings: KEY=VALUE...");
  set->add_option("--data", a->data, "data directory")->required();
  set->add_option("KEY=VALUE", a->assignments, "settings to change")->required();
  set->add_option("--user", a->user, "who makes the change");
  set->add_flag("--json", a->json, "JSON output");
  std::string keys = "Settings:\n";
  for (const auto& f : settingsFields())
    keys += "  " + std::string(f.cliName) + " (default " +
            settingsDefault(static_cast<SettingsField>(f.code)) + "): " + f.help + "\n";
  set->footer(keys);
  set->callback([a] { settingsSet(*a); });

  auto* digest = app.add_subcommand("digest", "print the hex digest of the register");
  digest->add_option("--data", a->data, "data directory")->required();
  digest->add_option("--filter", a->filters,
                     "the digest a laptop joined with this filter shows (technician=USER, "
                     "group=G; repeatable)");
  digest->callback([a] { digestCommand(*a); });

  auto* status = app.add_subcommand("status", "site, counts, clock, vector and store size");
  status->add_option("--data", a->data, "data directory")->required();
  status->add_flag("--json", a->json, "JSON output");
  status->callback([a] { statusCommand(*a); });
}

}  // namespace sitesync::cli
