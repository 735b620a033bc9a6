// Deterministic site keys for tests (test_support.h).
#include <map>
#include <mutex>

#include "tests/unit/test_support.h"

namespace sitesync::testing {
namespace {

std::mutex& keysMutex() {
  static std::mutex m;
  return m;
}
std::map<SiteId, sync::SiteKey>& keysById() {
  static std::map<SiteId, sync::SiteKey> keys;
  return keys;
}
std::map<uint64_t, SiteId>& idsByLabel() {
  static std::map<uint64_t, SiteId> ids;
  return ids;
}

}  // namespace

SiteId testSiteId(uint64_t label) {
  std::lock_guard lock(keysMutex());
  if (auto it = idsByLabel().find(label); it != idsByLabel().end()) return it->second;
  for (uint64_t attempt = 0;; ++attempt) {
    std::string seed = "sitesync test site ";
    seed += std::to_string(label) + "/" + std::to_string(attempt);
    const Digest d = sha256(seed);
    sync::SiteKey key =
        sync::SiteKey::fromPrivate(std::string_view(reinterpret_cast<const char*>(d.data()), 32));
    if ((key.siteId() >> 56) != (label & 0xff) || keysById().count(key.siteId())) continue;
    const SiteId id = key.siteId();
    keysById().emplace(id, std::move(key));
    idsByLabel()[label] = id;
    return id;
  }
}

const sync::SiteKey& testSiteKey(SiteId id) {
  std::lock_guard lock(keysMutex());
  auto it = keysById().find(id);
  if (it == keysById().end())
    throw std::logic_error("site id " + siteIdToHex(id) + " was not made by testSiteId");
  return it->second;
}

void signAlone(Change& change) {
  const sync::SiteKey& key = testSiteKey(change.id.origin);
  const Digest digest = changeDigest(change);
  const std::string message =
      runSigningMessage(change.id.origin, change.id.seq, change.id.seq,
                        sha256({reinterpret_cast<const char*>(digest.data()), digest.size()}));
  change.signature =
      encodeCheckpoint(Checkpoint{key.publicKey(), change.id.seq, key.sign(message)});
}

}  // namespace sitesync::testing
