// How far a filtered site's own changes can go to a peer (docs/filtered-sync.md, "Peer to
// peer"). A laptop streams its own changes only, so a peer takes one only if it already holds
// every customer the change names: a branch that has not yet seen a customer the laptop got
// from the hub would refuse the change, and with it the session.
#include "sync/replication.h"
#include "sync/src/core.h"

namespace sitesync::sync {

namespace {

// A customer's id is its creating site and the seq of its create there.
bool holdsCustomer(const VersionVector& peer, RecordId id, SiteId self) {
  return id.site == self || peer.get(id.site) >= id.counter;
}

}  // namespace

OwnReach Replication::ownReach(const VersionVector& peer, uint64_t after) const {
  OwnReach reach{after, {}};
  auto txn = core_.store_.read();
  const auto meta = core_.store_.meta(txn);
  if (!meta) return reach;
  const SiteId self = meta->siteId;
  const auto from = core_.store_.logPosition(txn, ChangeId{self, after + 1});
  if (!from) return reach;
  uint64_t sealed = after;  // the last seq that ends a signed run the peer can take whole
  core_.store_.forEachLogBytes(txn, *from, [&](uint64_t, std::string_view bytes) {
    bool checkpoint = false;
    const ChangeId id = decodeChangeId(bytes, &checkpoint);
    if (id.origin != self) return true;  // not expected: a filtered site logs its own only
    const ChangeScope change = decodeChangeScope(bytes);
    std::vector<RecordId> named = change.absorbed;
    if (change.operation != Operation::kSettings && change.operation != Operation::kLease)
      named.push_back(change.target);
    for (RecordId customer : named)
      if (!holdsCustomer(peer, customer, self)) {
        reach.waitsFor = customer;
        reach.lastSeq = sealed;
        return false;
      }
    reach.lastSeq = id.seq;
    if (checkpoint) sealed = id.seq;
    return true;
  });
  return reach;
}

}  // namespace sitesync::sync
