// `sitesync keys show` and `sitesync peers add|remove|list`: this node's CURVE key pair and
// its allow list (DESIGN.md section 7). Both work on a directory that holds no site yet, so
// that a new laptop can show its key and learn the hub's before it joins.
#include <ctime>
#include <filesystem>
#include <iostream>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

struct KeyArgs {
  std::string data;
  std::string name;
  std::string key;
  std::string endpoint;
  bool json = false;
};

// The data directory's store, created (with the directory) when missing: no site needed.
std::unique_ptr<Site> openKeyring(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Failure("cannot create " + dir + ": " + ec.message());
  auto site = std::make_unique<Site>();
  site->store = storage::Store::open(dir);
  site->engine = std::make_unique<sync::Engine>(*site->store, site->clock);
  return site;
}

// A public key as printed for copy-paste: in single quotes, since Z85 holds shell characters
// (& < > ( ) $ # ...) but never a quote.
std::string quotedKey(const std::string& key) {
  return "'" + key + "'";
}

// A key as given to --key: pasted with the quotes it was printed with, or without them.
std::string unquotedKey(std::string key) {
  if (key.size() >= 2 && (key.front() == '\'' || key.front() == '"') && key.back() == key.front())
    key = key.substr(1, key.size() - 2);
  return key;
}

std::string isoTime(uint64_t millis) {
  std::time_t seconds = std::time_t(millis / 1000);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&seconds));
  return text;
}

void addPeer(KeyArgs a) {
  a.key = unquotedKey(a.key);
  if (a.name.empty() || a.name.size() > 100 || !validateValue(ValueKind::kText, a.name).empty())
    throw UsageError("--name must be 1 to 100 characters without control characters");
  if (!node::isPublicKey(a.key))
    throw UsageError("--key '" + a.key +
                     "' is not a public key (40 Z85 characters, as `sitesync keys show` prints)");
  if (!a.endpoint.empty() && !isEndpoint(a.endpoint))
    throw UsageError("--endpoint '" + a.endpoint + "' is not an endpoint like tcp://host:7400");
  auto site = openKeyring(a.data);
  const node::Identity self = linkIdentity(a.data);
  if (a.key == self.publicKey) throw UsageError("--key is this node's own public key");
  sync::SystemClock clock;
  check(site->engine->allowPeer(AllowedPeer{a.name, a.key, a.endpoint, clock.nowMillis()}));
  std::cout << "allowed peer '" << a.name << "' (key " << node::keyFingerprint(a.key) << "...)"
            << (a.endpoint.empty() ? "" : " at " + a.endpoint) << "\n";
}

void listPeers(const KeyArgs& a) {
  auto site = openKeyring(a.data);
  const auto peers = site->engine->allowedPeers();
  if (a.json) {
    auto list = nlohmann::json::array();
    for (const auto& p : peers)
      list.push_back(
          {{"name", p.name},
           {"key", p.publicKey},
           {"endpoint", p.endpoint.empty() ? nlohmann::json() : nlohmann::json(p.endpoint)},
           {"site_id", p.siteId ? nlohmann::json(siteIdToHex(p.siteId)) : nlohmann::json()},
           {"added", isoTime(p.addedAtMillis)}});
    printJson(list);
    return;
  }
  if (peers.empty())
    std::cout << (site->engine->allowListConfigured()
                      ? "no peers allowed: no node can connect\n"
                      : "no peers allowed yet: links are not encrypted until the first one\n");
  for (const auto& p : peers)
    std::cout << p.name << "  " << quotedKey(p.publicKey) << "  "
              << (p.endpoint.empty() ? "(connects here)" : p.endpoint) << "  "
              << (p.siteId ? "site " + siteIdToHex(p.siteId) : std::string("(site not seen yet)"))
              << "\n";
}

}  // namespace

bool isEndpoint(const std::string& text) {
  const auto scheme = text.find("://");
  return scheme != std::string::npos && scheme > 0 && text.size() > scheme + 3 &&
         validateValue(ValueKind::kText, text).empty() && text.find(' ') == std::string::npos;
}

ResolvedPeer resolvePeer(const sync::Engine& engine, const std::string& peer) {
  const auto allowed = engine.allowedPeers();
  for (const auto& p : allowed)
    if (p.name == peer) {
      if (p.endpoint.empty())
        throw UsageError("peer '" + peer + "' has no endpoint: run `sitesync peers add --name " +
                         peer + " --key KEY --endpoint tcp://HOST:PORT`");
      return ResolvedPeer{p.endpoint, p.publicKey};
    }
  for (const auto& p : allowed)
    if (p.endpoint == peer) return ResolvedPeer{peer, p.publicKey};
  if (engine.allowListConfigured())
    throw UsageError("no peer named '" + peer +
                     "' or listening there is on the allow list: run `sitesync peers add "
                     "--name NAME --key KEY --endpoint ENDPOINT` first");
  if (!isEndpoint(peer))
    throw UsageError("'" + peer + "' is neither an endpoint (tcp://host:7400) nor a peer's name");
  return ResolvedPeer{peer, {}};  // a node whose allow list was never configured: plain TCP
}

void addKeyCommands(CLI::App& app) {
  auto a = std::make_shared<KeyArgs>();
  auto* keys = app.add_subcommand("keys", "this node's CURVE key pair");
  keys->require_subcommand(1);
  auto* show = keys->add_subcommand("show", "print this node's public key (made if missing)");
  show->add_option("--data", a->data, "data directory")->required();
  show->add_flag("--json", a->json, "JSON output: {\"public_key\": KEY}, unquoted");
  show->callback([a] {
    const std::string key = linkIdentity(a->data).publicKey;
    if (a->json)
      printJson({{"public_key", key}});
    else  // quoted: ready to paste after `peers add --key` in a shell
      std::cout << quotedKey(key) << "\n";
  });

  auto* peers = app.add_subcommand("peers", "the allow list: the peers this node accepts");
  peers->require_subcommand(1);
  auto* add = peers->add_subcommand(
      "add", "allow a peer (both sides must allow each other); replaces one of the same name");
  add->add_option("--data", a->data, "data directory")->required();
  add->add_option("--name", a->name, "the peer's name here, e.g. hq or laptop-7")->required();
  add->add_option("--key", a->key,
                  "its public key, as `sitesync keys show` prints it there (quotes and all)")
      ->required();
  add->add_option("--endpoint", a->endpoint,
                  "where it listens, when this node connects to it (tcp://host:7400)");
  add->callback([a] { addPeer(*a); });
  auto* remove = peers->add_subcommand("remove", "revoke a peer: refused from now on");
  remove->add_option("--data", a->data, "data directory")->required();
  remove->add_option("--name", a->name, "the peer's name")->required();
  remove->callback([a] {
    auto site = openKeyring(a->data);
    const SiteId revokedSite = take(site->engine->revokePeer(a->name));
    std::cout << "removed peer '" << a->name << "': it can no longer connect";
    if (revokedSite)
      std::cout << "; no change of its site " << siteIdToHex(revokedSite)
                << " beyond those held here now is taken, whoever relays it";
    std::cout << "\n";
  });
  auto* list = peers->add_subcommand("list", "the allowed peers");
  list->add_option("--data", a->data, "data directory")->required();
  list->add_flag("--json", a->json, "JSON output");
  list->callback([a] { listPeers(*a); });
}

}  // namespace sitesync::cli
