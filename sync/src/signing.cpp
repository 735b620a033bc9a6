// Authorship (DESIGN.md section 7): Ed25519 site keys through OpenSSL EVP, the checkpoint that
// signs each run of local changes, and the check of a peer's runs before they are applied. One
// signature per run (not per change): Ed25519 verifies ~9k signatures/s per core, SHA-256 digests
// of changes cost a microsecond or two.
#include "sync/src/signing.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>

#include "storage/local_tables.h"
#include "sync/errors.h"
#include "sync/src/apply_context.h"

namespace sitesync::sync {

namespace {

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string asString(const Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

struct MdCtx {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~MdCtx() { EVP_MD_CTX_free(ctx); }
};

}  // namespace

SiteKey SiteKey::generate() {
  std::string priv(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(priv.data()), int(priv.size())) != 1)
    throw Error("no randomness for a new site key");
  return fromPrivate(priv);
}

SiteKey SiteKey::fromPrivate(std::string_view privateKey) {
  if (privateKey.size() != 32)
    throw Error("a site's private key is 32 bytes, not " + std::to_string(privateKey.size()));
  EVP_PKEY* raw =
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, bytes(privateKey), privateKey.size());
  if (!raw) throw Error("OpenSSL refused an Ed25519 private key");
  SiteKey key;
  key.key_ = std::shared_ptr<void>(raw, [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); });
  key.private_.assign(privateKey);
  key.public_.assign(32, '\0');
  size_t size = key.public_.size();
  if (EVP_PKEY_get_raw_public_key(raw, reinterpret_cast<unsigned char*>(key.public_.data()),
                                  &size) != 1 ||
      size != 32)
    throw Error("OpenSSL gave no Ed25519 public key");
  key.siteId_ = siteIdOfKey(key.public_);
  return key;
}

std::string SiteKey::sign(std::string_view message) const {
  MdCtx md;
  std::string signature(64, '\0');
  size_t size = signature.size();
  if (!md.ctx ||
      EVP_DigestSignInit(md.ctx, nullptr, nullptr, nullptr, static_cast<EVP_PKEY*>(key_.get())) !=
          1 ||
      EVP_DigestSign(md.ctx, reinterpret_cast<unsigned char*>(signature.data()), &size,
                     bytes(message), message.size()) != 1 ||
      size != 64)
    throw Error("Ed25519 signing failed");
  return signature;
}

bool SiteKey::verify(std::string_view publicKey, std::string_view message,
                     std::string_view signature) {
  if (publicKey.size() != 32 || signature.size() != 64) return false;
  // Decoding a public key costs about a third of a verification: a node keeps those of the
  // sites it hears from (a deployment has tens to hundreds).
  using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
  thread_local std::map<std::string, KeyPtr, std::less<>> keys;
  auto it = keys.find(publicKey);
  if (it == keys.end()) {
    EVP_PKEY* key =
        EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes(publicKey), publicKey.size());
    if (!key) return false;
    if (keys.size() >= 4096) keys.clear();
    it = keys.emplace(std::string(publicKey), KeyPtr(key, EVP_PKEY_free)).first;
  }
  // A signature that verified once verifies again: a batch offered twice (its ack was lost, it
  // was set aside, it came relayed by a second peer) is not checked twice. The digest covers
  // key, signature and message, so only the very same bytes hit.
  thread_local std::set<Digest> verified;
  const Digest seen = sha256(std::string(publicKey).append(signature).append(message));
  if (verified.count(seen)) return true;
  MdCtx md;
  const bool good =
      md.ctx && EVP_DigestVerifyInit(md.ctx, nullptr, nullptr, nullptr, it->second.get()) == 1 &&
      EVP_DigestVerify(md.ctx, bytes(signature), signature.size(), bytes(message),
                       message.size()) == 1;
  if (good) {
    if (verified.size() >= 65536) verified.clear();
    verified.insert(seen);
  }
  return good;
}

// Deriving a key's public half costs a signature's worth: a process that hosts several sites
// (tests, the simulation, benchmarks) keeps each one's.
const SiteKey& cachedSiteKey(const std::string& privateKey) {
  thread_local std::map<std::string, SiteKey, std::less<>> cached;
  auto it = cached.find(privateKey);
  if (it == cached.end()) {
    if (cached.size() >= 64) cached.clear();
    it = cached.emplace(privateKey, SiteKey::fromPrivate(privateKey)).first;
  }
  return it->second;
}

std::vector<bool> provenChanges(const std::vector<Change>& changes,
                                const std::vector<Digest>& digests, const VersionVector& held) {
  std::vector<bool> proven(changes.size(), false);
  struct OpenRun {
    std::vector<size_t> members;
    std::string digests;
    uint64_t start = 0, next = 0;
  };
  std::map<SiteId, OpenRun> runs;
  for (size_t i = 0; i < changes.size(); ++i) {
    const Change& c = changes[i];
    if (c.id.seq <= held.get(c.id.origin)) {
      proven[i] = true;  // held already: skipped by the apply
      continue;
    }
    OpenRun& run = runs[c.id.origin];
    if (run.members.empty() || c.id.seq != run.next) {
      // A new run (a gap leaves the one before unproven; the apply reports the gap).
      run = OpenRun{};
      run.start = c.id.seq;
    }
    run.members.push_back(i);
    run.digests += asString(digests[i]);
    run.next = c.id.seq + 1;
    if (c.signature.empty()) continue;
    auto refuse = [&](const std::string& why) {
      throw DecodeError("change " + siteIdToHex(c.id.origin) + ":" + std::to_string(c.id.seq) +
                        " " + why);
    };
    const std::optional<Checkpoint> checkpoint = parseCheckpoint(c.signature);
    if (!checkpoint) refuse("carries a malformed signature");
    if (siteIdOfKey(checkpoint->publicKey) != c.id.origin)
      refuse("is signed by a key that is not its origin's (site " +
             siteIdToHex(siteIdOfKey(checkpoint->publicKey)) + " signed it)");
    if (checkpoint->runStart == run.start) {
      const std::string message =
          runSigningMessage(c.id.origin, run.start, c.id.seq, sha256(run.digests));
      if (!SiteKey::verify(checkpoint->publicKey, message, checkpoint->signature))
        refuse("(or a change before it) does not match its origin's signature: altered or forged");
      for (size_t member : run.members) proven[member] = true;
    }
    // (A run whose start is not in the batch stays unproven: it waits for a whole resend.)
    runs.erase(c.id.origin);
  }
  return proven;
}

void Trust::proveIdentity(HelloMsg& hello, const std::string& curvePublicKey) const {
  const SiteKey& key = cachedSiteKey(core_.store_.local().siteKey(core_.store_.read()));
  hello.siteKey = key.publicKey();
  hello.siteProof = key.sign(helloProofMessage(key.siteId(), curvePublicKey));
}

Status Trust::acceptIdentity(const HelloMsg& hello, const std::string& curvePublicKey) {
  if (hello.siteKey.empty() || siteIdOfKey(hello.siteKey) != hello.siteId ||
      !SiteKey::verify(hello.siteKey, helloProofMessage(hello.siteId, curvePublicKey),
                       hello.siteProof))
    return Status::failedPrecondition("peer '" + hello.siteName + "' did not prove that site " +
                                      siteIdToHex(hello.siteId) + " holds its link key");
  // Every hello on a CURVE link comes here: write only when the list learns something.
  auto unbound = [&](const AllowedPeer& peer) {
    return peer.publicKey == curvePublicKey && peer.siteId != hello.siteId;
  };
  const auto held = allowedPeers();
  if (std::none_of(held.begin(), held.end(), unbound)) return Status::ok();
  core_.store_.write([&](storage::WriteTxn& txn) {
    for (AllowedPeer peer : core_.store_.local().allowedPeers(txn))
      if (unbound(peer)) {
        peer.siteId = hello.siteId;
        core_.store_.local().putAllowedPeer(txn, peer);
      }
  });
  return Status::ok();
}

bool Core::fromAuthority(const Meta& meta, SiteId origin) {
  return meta.deployment != 0 ? origin == meta.deployment : origin == meta.siteId;
}

void Core::sealLocalRun(storage::WriteTxn& txn, ApplyContext& batch) {
  ApplyContext::LocalRun& run = batch.localRun;
  if (run.size() == 0) return;
  const std::string siteKey = store_.local().siteKey(txn);
  if (siteKey.empty())
    throw ApplyError("this store holds no site key (an older format): make the site again");
  const SiteKey& key = cachedSiteKey(siteKey);
  Change last;
  store_.forEachLogBytes(txn, run.lastPosition, [&](uint64_t, std::string_view stored) {
    last = decodeChange(stored);
    return false;
  });
  const uint64_t start = last.id.seq + 1 - run.size();
  const std::string message =
      runSigningMessage(last.id.origin, start, last.id.seq, sha256(run.digests));
  last.signature = encodeCheckpoint(Checkpoint{key.publicKey(), start, key.sign(message)});
  encode(last, batch.encoded);
  store_.replaceLogEntry(txn, run.lastPosition, batch.encoded);
  run = ApplyContext::LocalRun{};
}

}  // namespace sitesync::sync
