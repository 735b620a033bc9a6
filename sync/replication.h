// Replication state (the transport lives in node/): what a peer lacks, applying a peer's batch
// (with the inbox that makes an early acknowledgement safe), peers met, the deployment,
// snapshots and log compaction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/protocol.h"
#include "sync/engine_part.h"
#include "sync/operations.h"
#include "sync/reports.h"

namespace sitesync::sync {

// A part of Engine (sync/engine.h), which is what callers hold.
class Replication : private EnginePart {
 public:
  // The first log position holding a change that `peer` lacks (one index lookup per origin, so
  // catch-up costs what it sends, not the register size); past the end when it lacks nothing.
  uint64_t firstPositionMissingFrom(const VersionVector& peer) const;
  // The changes `peer` lacks from `fromPosition` on, in log order, at most `maxChanges` and about
  // `maxBytes` (at least one change when any is missing).
  OutgoingBatch changesMissingFrom(const VersionVector& peer, uint64_t fromPosition,
                                   size_t maxChanges, size_t maxBytes) const;
  // Applies a peer's batch in one write transaction (one fsync). Changes already held are
  // skipped. Each origin's changes apply in whole signed runs: a run whose checkpoint is not in
  // the batch waits (BatchReport::awaitingSignature). A malformed change, or a run whose
  // signature does not verify (altered, forged, or signed by a key that is not its origin's),
  // throws DecodeError; a change that cannot apply here (out of order, an unknown customer)
  // throws ApplyError. Either leaves the store as it was.
  // `onVerified`, when given, is called once the batch is decoded and verified, before anything
  // is written.
  // `onStaged`, when given, lets a clean batch of kStageFrom changes or more be acknowledged
  // before it is applied: it is written to the inbox first (a short sequential write and
  // fsync), `onStaged` gets the vector this node holds with it, and it is applied on a
  // background thread in its own transaction, which also takes it out of the inbox. The next
  // batch is decoded and verified meanwhile and written after it (settleStaged). A staged batch
  // that then cannot apply is set aside in the inbox with its reason (logged, and shown by
  // inboxState), never dropped: its sender may forget it once acknowledged.
  // `asReceived`, when given, is the batch's ChangeBatch message as it came: it is staged as it
  // is, instead of encoded (and compressed) again.
  BatchReport applyBatch(const std::vector<std::string>& encodedChanges,
                         const std::function<void(const VerifiedBatch&)>& onVerified = {},
                         const std::function<void(const VersionVector&)>& onStaged = {},
                         std::string_view asReceived = {});
  // Below this a batch commits in about a millisecond anyway: staging would only add an fsync.
  static constexpr size_t kStageFrom = 256;
  // Stages batches from `changes` changes on (the simulation stages every one).
  void stageBatchesFrom(size_t changes);
  // Applies the batches a crash (or a failed write) left staged in the inbox, in the order they
  // came, and tries again those set aside; returns how many were applied. A node runs it before
  // it serves.
  size_t applyStagedBatches();
  // Waits until the staged batch being applied in the background (if any) is written. Returns
  // what went wrong with it, if anything (a batch that cannot apply is set aside; one whose
  // write failed waits in the inbox and is tried again here).
  std::string settleStaged();
  // This node's vector with what its staged batches add: what it holds durably. Hellos and
  // heartbeats say this; status().vector is what the register shows now.
  VersionVector heldVector() const;
  // Whether a staged batch still being applied holds changes that `peer` lacks (a pull by that
  // peer should wait for it).
  bool stagedBeyond(const VersionVector& peer) const;
  // Staged batches waiting to be applied, and those set aside (with why they could not apply).
  struct InboxState {
    size_t waiting = 0;
    std::vector<std::string> setAside;
  };
  InboxState inboxState() const;
  // Every entry of the inbox, in arrival order (`sitesync inbox list`).
  struct InboxEntry {
    uint64_t key = 0;
    size_t changes = 0;
    bool setAside = false;
    std::string reason;  // why a batch set aside could not apply
  };
  std::vector<InboxEntry> inboxEntries() const;
  // Removes a batch set aside in the inbox (`sitesync inbox drop`). This node's vector never
  // counted its changes, so a peer that holds them sends them again. A batch still waiting to be
  // applied is not dropped.
  Status dropSetAside(uint64_t key);
  // Records sessions with peers: each peer's name, where it was reached (empty when it
  // connected here), its vector, and the changes that moved; the time comes from this engine's
  // clock. Many in one write: a hub's thousands of sessions would otherwise cost as many fsyncs
  // a second.
  void notePeerSessions(const std::vector<PeerNote>& notes);
  std::vector<PeerState> peers() const;
  // A store just restored from a backup (Meta::restored): it originates nothing until a session
  // with its hub (a hub: any peer) ends with every change of its own that peer holds. A session
  // note clears it (notePeerSessions).
  void markRestored();
  // Checks a peer's deployment id against this node's, adopting it when this node has none
  // yet (0). Refused with a message naming both when they differ.
  Status acceptDeployment(uint64_t peerDeployment, const std::string& peerName);
  // The last position of the local log (0: empty); one cheap read, for polling.
  uint64_t logEnd() const;
  // Whether this node's log still holds every change `peer` lacks. False when some were
  // compacted away (or this node itself came from a snapshot): the peer needs a snapshot.
  bool logReaches(const VersionVector& peer) const;
  // The records after `afterKey` (empty: from the first), tombstones included, with their
  // history, up to about `maxBytes`; with this node's vector, clock, settings and deployment.
  SnapshotChunkMsg snapshotChunk(std::string_view afterKey, size_t maxBytes) const;
  // Merges a chunk into this store, empty or not, in one write transaction: each record field
  // by field under the version rule (nothing this node holds is lost), settings likewise,
  // history entries once. The first chunk's vector is held until the last chunk is in, then
  // joined into this node's vector, so an interrupted bootstrap claims nothing; it resumes
  // from Meta::snapshotNextKey.
  // A filtered site's merge also takes nothing from a peer that lacks changes it has seen, and
  // after the last chunk removes the customers its filter no longer wants (docs/filtered-sync.md).
  // `askedAfter` is the key the chunk's request said: a chunk that does not continue the
  // snapshot under way (continuesSnapshot) is not merged, and false says so.
  bool mergeSnapshotChunk(const SnapshotChunkMsg& chunk, std::string_view askedAfter = {});
  // Whether a chunk asked for after `askedAfter` continues the snapshot under way: it starts
  // one (empty key), or goes on from a key its chunks reached. Another session (or process)
  // may have finished that snapshot meanwhile, or begun another, whose chunks do not reach it:
  // merged, such a chunk would leave keys before it uncovered by the vector claimed.
  bool continuesSnapshot(std::string_view askedAfter) const;
  // A filtered site's request (SnapshotRequestMsg::filter) answered at a full site: the trees
  // of customers the filter or `requester` wants, or that it holds, which changed since its
  // vector (all of them for a join, or when this log no longer reaches back); its own number
  // blocks only. A join and a catch-up alike come in chunks of about `maxBytes`, by root id,
  // after SnapshotRequestMsg::afterKey.
  SnapshotChunkMsg filteredChunk(const SnapshotRequestMsg& request, SiteId requester,
                                 size_t maxBytes) const;
  // A filtered site's own changes after seq `after` that a peer holding `peer` can take: up to
  // the end of the last whole signed run before the first change that names a customer whose
  // create `peer` lacks (OwnReach::waitsFor names it).
  OwnReach ownReach(const VersionVector& peer, uint64_t after) const;
  // A filtered site: removes the customers its filter no longer wants and it has no change to
  // after its own seq `ownHeldByPeer` (those a peer lacks). Returns how many went.
  size_t dropUnwanted(uint64_t ownHeldByPeer);
  // The ids of the records this store holds (16 bytes each, ascending): a filtered site's
  // request says them.
  std::string heldIds() const;
  // Whether this deployment knows each technician (a user) and group (in the catalogue) of a
  // filter; the reason when not.
  Status checkFilter(const RecordFilter& filter) const;
  // Makes this new site a filtered one (at join, before anything is in it). A site already
  // filtered the same way is left as it is; anything else is refused.
  Status setFilter(const RecordFilter& filter);
  // A filtered peer's batch checked against its rights: each change must be its own, and name
  // only customers it created or whose tree its filter matches now or matched once. Returns why
  // not (the first change outside them), or empty.
  std::string outsideRights(const std::vector<std::string>& encodedChanges, SiteId peer,
                            const RecordFilter& filter) const;
  // Keeps such a batch in the inbox, set aside with `reason` (`sitesync inbox list`; `inbox
  // retry` applies it, `inbox drop` removes it). False when it was set aside already.
  bool setAsideOutsideRights(const std::vector<std::string>& encodedChanges,
                             const std::string& reason);
  // Removes the oldest log entries that every registered peer (the peers table) holds; the
  // state they produced stays. Nothing goes while no peer is registered. Returns the count.
  uint64_t compactLog();

 protected:
  explicit Replication(Core& core) : EnginePart(core) {}
};

}  // namespace sitesync::sync
