// Authorship (DESIGN.md section 7; docs/protocol.md "Authorship" has the byte layouts): what
// a change's digest covers, how an origin's runs of changes are signed, and what a hello proves.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/model.h"

namespace sitesync {

// A site id is the first 8 bytes (big-endian) of SHA-256 of the site's Ed25519 public key, so a
// change's origin names the one key that may sign it. Each origin signs its changes in runs: the
// last change of a run (a checkpoint) carries the public key, where the run starts, and an
// Ed25519 signature over the SHA-256 of the run's change digests. A change's digest covers every
// field but the signature, with the personal data (author, values) hashed on its own, so that
// an erased change verifies as it did.

using Digest = std::array<uint8_t, 32>;
SiteId siteIdOfKey(std::string_view publicKey);
Digest personalDataHash(const Change& change);  // the stored personalHash once erased
Digest changeDigest(const Change& change);

struct Checkpoint {
  std::string publicKey;  // 32 bytes, Ed25519
  uint64_t runStart = 0;  // the seq of the run's first change
  std::string signature;  // 64 bytes
};
inline constexpr size_t kCheckpointBytes = 32 + 8 + 64;
std::string encodeCheckpoint(const Checkpoint& checkpoint);  // what Change::signature holds
std::optional<Checkpoint> parseCheckpoint(std::string_view bytes);
// What the checkpoint's signature signs: the run of `origin` from runStart to runEnd, whose
// change digests, concatenated in seq order, hash (SHA-256) to `runHash`.
std::string runSigningMessage(SiteId origin, uint64_t runStart, uint64_t runEnd,
                              const Digest& runHash);
Digest sha256(std::string_view bytes);
// What a hello's siteProof signs: the site and the sender's CURVE public key (Z85) together.
std::string helloProofMessage(SiteId site, std::string_view curvePublicKey);

}  // namespace sitesync
