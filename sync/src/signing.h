// Private to sync/: signing local runs and checking the runs a peer sends (DESIGN.md section 7).
#pragma once

#include <vector>

#include "sync/engine.h"

namespace sitesync::sync {

// A run of local changes is signed at the end of each transaction and at least this often.
inline constexpr size_t kMaxRunLength = 1000;

// The key of the site's private key (its store's local tables), kept between transactions of
// this thread.
const SiteKey& cachedSiteKey(const std::string& privateKey);

// Which of a peer's changes may be applied: those in a whole run (from its first change to its
// checkpoint) whose checkpoint is signed by its origin's key over the run's digests, and those
// `held` already holds (skipped anyway). Throws DecodeError on a run whose checkpoint is
// malformed, signed by a key that is not its origin's, or whose signature does not verify.
// `digests` holds each change's changeDigest, in the same order.
std::vector<bool> provenChanges(const std::vector<Change>& changes,
                                const std::vector<Digest>& digests, const VersionVector& held);

}  // namespace sitesync::sync
