// The network-free half of replication: which changes a peer lacks, and applying a peer's batch.
#include <pthread.h>

#include <algorithm>
#include <exception>
#include <set>
#include <thread>

#include "storage/local_tables.h"
#include "sync/engine.h"
#include "sync/errors.h"
#include "sync/src/apply_context.h"
#include "sync/src/signing.h"

namespace sitesync::sync {

uint64_t Replication::firstPositionMissingFrom(const VersionVector& peer) const {
  auto txn = core_.store_.read();
  const uint64_t pastEnd = core_.store_.lastLogPosition(txn) + 1;
  uint64_t first = pastEnd;
  const VersionVector mine = core_.store_.vector(txn);
  for (const auto& [origin, held] : mine.entries()) {
    const uint64_t peerHeld = peer.get(origin);
    if (held <= peerHeld) continue;
    auto position = core_.store_.logPosition(txn, ChangeId{origin, peerHeld + 1});
    // Without an index entry (not expected before log compaction exists), scan from the start.
    first = std::min(first, position.value_or(1));
  }
  return first;
}

namespace {

// Where the changes `peer` lacks lie in this node's log, from `fromPosition` on: per origin,
// found through the change index (its first missing change by a binary search over its seqs,
// whose positions grow with them), at most `perOrigin` each, merged in log order. `truncated`:
// an origin had more. None when an index entry is missing (the caller scans the log instead).
std::optional<std::vector<uint64_t>> missingPositions(const storage::Store& store,
                                                      const storage::ReadTxn& txn,
                                                      const VersionVector& peer,
                                                      uint64_t fromPosition, size_t perOrigin,
                                                      bool& truncated) {
  std::vector<uint64_t> out;
  truncated = false;
  const VersionVector mine = store.vector(txn);
  for (const auto& [origin, held] : mine.entries()) {
    uint64_t lo = peer.get(origin) + 1, hi = held + 1;
    while (lo < hi) {
      const uint64_t mid = lo + (hi - lo) / 2;
      const auto position = store.logPosition(txn, ChangeId{origin, mid});
      if (!position) return std::nullopt;
      if (*position < fromPosition)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo > held) continue;
    const uint64_t wanted = std::min<uint64_t>(perOrigin, held - lo + 1);
    std::vector<uint64_t> positions = store.logPositionsOf(txn, origin, lo, size_t(wanted));
    if (positions.size() != wanted) return std::nullopt;
    truncated |= wanted < held - lo + 1;
    out.insert(out.end(), positions.begin(), positions.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Fills a batch from log entries in log order, within its limits. The peer applies whole signed
// runs only, so past the limits the batch still takes the changes of origins whose last change
// in it is not a checkpoint, up to their checkpoints (a run is at most kMaxRunLength long);
// others' changes met meanwhile wait for the next batch.
class BatchFiller {
 public:
  BatchFiller(const VersionVector& peer, uint64_t fromPosition, size_t maxChanges, size_t maxBytes)
      : peer_(peer), from_(fromPosition), maxChanges_(maxChanges), maxBytes_(maxBytes) {
    start();
  }
  void start() {
    batch_ = OutgoingBatch{};
    batch_.complete = true;
    batch_.nextPosition = from_;
    bytes_ = 0;
    openRuns_.clear();
    closing_ = skipped_ = false;
  }
  // One log entry; false: the batch is full.
  bool visit(uint64_t position, std::string_view encoded) {
    if (!closing_ && !batch_.changes.empty() &&
        (batch_.changes.size() >= maxChanges_ || bytes_ + encoded.size() > maxBytes_)) {
      batch_.complete = false;
      if (openRuns_.empty()) return false;
      closing_ = true;
    }
    bool checkpoint = false;
    const ChangeId id = decodeChangeId(encoded, &checkpoint);
    if (closing_ && !openRuns_.count(id.origin)) {
      skipped_ = true;  // the next batch starts here
      return true;
    }
    if (!skipped_) batch_.nextPosition = position + 1;
    if (peer_.contains(id)) return true;
    bytes_ += encoded.size();
    batch_.changes.emplace_back(encoded);
    if (id.seq > batch_.last.get(id.origin)) batch_.last.set(id.origin, id.seq);
    if (checkpoint)
      openRuns_.erase(id.origin);
    else
      openRuns_.insert(id.origin);
    return !closing_ || !openRuns_.empty();
  }
  OutgoingBatch& batch() { return batch_; }

 private:
  const VersionVector& peer_;
  const uint64_t from_;
  const size_t maxChanges_, maxBytes_;
  OutgoingBatch batch_;
  size_t bytes_ = 0;
  std::set<SiteId> openRuns_;
  bool closing_ = false, skipped_ = false;
};

}  // namespace

OutgoingBatch Replication::changesMissingFrom(const VersionVector& peer, uint64_t fromPosition,
                                              size_t maxChanges, size_t maxBytes) const {
  BatchFiller filler(peer, fromPosition, maxChanges, maxBytes);
  auto txn = core_.store_.read();
  // Only the entries the peer lacks are read: a peer that lacks a few changes early in a long
  // log (a branch that has just pushed a million) costs what it lacks, not the log's length.
  // Each origin's list is long enough to fill the batch and close its runs; were one to run
  // out first, or an index entry be missing, the whole log is scanned instead.
  bool truncated = false;
  if (auto positions = missingPositions(core_.store_, txn, peer, fromPosition,
                                        maxChanges + kMaxRunLength, truncated)) {
    bool full = false;
    for (uint64_t position : *positions) {
      const auto encoded = core_.store_.logBytesAt(txn, position);
      if (!encoded) {
        truncated = true;  // not expected: the index names it
        break;
      }
      if (!filler.visit(position, *encoded)) {
        full = true;
        break;
      }
    }
    if (full || !truncated) {
      if (filler.batch().complete)
        filler.batch().nextPosition = std::max(fromPosition, core_.store_.lastLogPosition(txn) + 1);
      return std::move(filler.batch());
    }
  }
  filler.start();
  core_.store_.forEachLogBytes(txn, fromPosition, [&](uint64_t position, std::string_view bytes) {
    return filler.visit(position, bytes);
  });
  return std::move(filler.batch());
}

namespace {

// Runs fn(begin, end) over [0, n): a large batch's second half on another thread when the other
// core is free, so that decoding and hashing use it. While the applier writes the batch before,
// that core is the writer's: a second thread then only took CPU from it (the writer waited
// 34 ms per 16,000-change batch for a core, against 21 ms without the split). Errors surface
// as a sequential pass would give them: the first half's first.
void splitAcrossTwoThreads(size_t n, bool otherCoreFree,
                           const std::function<void(size_t, size_t)>& fn) {
  constexpr size_t kWorthAThread = 2048;
  if (n < kWorthAThread || !otherCoreFree) {
    fn(0, n);
    return;
  }
  const size_t half = n / 2;
  std::exception_ptr secondFailed;
  std::thread second([&] {
    pthread_setname_np(pthread_self(), "decode");  // for top -H and perf
    try {
      fn(half, n);
    } catch (...) {
      secondFailed = std::current_exception();
    }
  });
  try {
    fn(0, half);
  } catch (...) {
    second.join();
    throw;
  }
  second.join();
  if (secondFailed) std::rethrow_exception(secondFailed);
}

VerifiedBatch describeVerified(const std::vector<Change>& changes, const std::vector<bool>& proven,
                               const VersionVector& held, const VersionVector& revoked) {
  VerifiedBatch out;
  VersionVector next = held;
  for (size_t i = 0; i < changes.size(); ++i) {
    const ChangeId id = changes[i].id;
    if (!proven[i] || id.seq != next.get(id.origin) + 1 || revoked.entries().count(id.origin))
      return VerifiedBatch{};
    next.set(id.origin, id.seq);
    if (out.first.get(id.origin) == 0) out.first.set(id.origin, id.seq);
    out.last.set(id.origin, id.seq);
  }
  out.clean = !changes.empty();
  return out;
}

}  // namespace

namespace {

// A peer's batch decoded, each change validated (it is untrusted input) and, for the signature
// checks, digested; on two threads when the applier leaves a core free.
std::pair<std::vector<Change>, std::vector<Digest>> decodePeerBatch(
    const std::vector<std::string>& encodedChanges, bool digest, bool useTwoThreads) {
  std::vector<Change> changes(encodedChanges.size());
  std::vector<Digest> digests(digest ? changes.size() : 0);
  splitAcrossTwoThreads(changes.size(), useTwoThreads, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      changes[i] = decodeChange(encodedChanges[i]);
      validateChange(changes[i]);
      if (digest) digests[i] = changeDigest(changes[i]);
    }
  });
  return {std::move(changes), std::move(digests)};
}

}  // namespace

BatchReport Replication::applyBatch(const std::vector<std::string>& encodedChanges,
                                    const std::function<void(const VerifiedBatch&)>& onVerified,
                                    const std::function<void(const VersionVector&)>& onStaged,
                                    std::string_view asReceived) {
  // Decode everything first: a malformed change rejects the batch before any write.
  auto [changes, digests] =
      decodePeerBatch(encodedChanges, !core_.skipSignatureChecks_, !core_.applierWriting());
  // Then the signatures: nothing of a batch with an altered or forged run is written.
  std::vector<bool> proven(changes.size(), true);
  if (!core_.skipSignatureChecks_ || onVerified || onStaged) {
    // What this node holds durably, with the staged batch still being written (it is decoded
    // and verified against that meanwhile, and written after it).
    const VersionVector held = heldVector();
    VersionVector revoked;
    {
      auto txn = core_.store_.read();
      revoked = core_.store_.meta(txn).value_or(Meta{}).revokedSites;
    }
    if (!core_.skipSignatureChecks_) proven = provenChanges(changes, digests, held);
    const VerifiedBatch verified = describeVerified(changes, proven, held, revoked);
    // A batch stamped too far ahead is neither relayed nor acknowledged early: it is set aside
    // unacknowledged (writeOrSetAside), so its sender keeps it and offers it again.
    const bool skewed = core_.stampedTooFarAhead(changes);
    // Relayed only if it will apply here: its receivers count what it carries as held by this
    // node (a change to a customer this node does not know yet refuses the batch).
    if (onVerified)
      onVerified(!skewed && verified.clean && core_.customersNamedAreKnown(changes)
                     ? verified
                     : VerifiedBatch{});
    // Only a clean batch is acknowledged early: every change of it is new and will apply, so
    // the vector promised is the one its write gives (unless the register refuses one of its
    // changes: then the batch is set aside, kept, reported).
    if (onStaged && verified.clean && changes.size() >= core_.stageFrom_ &&
        !core_.setAsideBefore(verified) && !skewed)
      return core_.stageAndAcknowledge(std::move(changes), encodedChanges, proven, verified, held,
                                       onStaged, asReceived);
  }
  const std::string before = settleStaged();
  BatchReport result = core_.writeOrSetAside(changes, encodedChanges, proven);
  result.stagedError = before;
  return result;
}

BatchReport Core::stageAndAcknowledge(std::vector<Change> changes,
                                      const std::vector<std::string>& encodedChanges,
                                      const std::vector<bool>& proven,
                                      const VerifiedBatch& verified, const VersionVector& held,
                                      const std::function<void(const VersionVector&)>& onStaged,
                                      std::string_view asReceived) {
  BatchReport report;
  // Both made while the staged batch before it is still being written (this thread would
  // otherwise wait for it): the applier's copy of the changes, and the inbox's bytes, the
  // message as it came or else encoded (and compressed) here.
  std::vector<std::string> applierCopy = encodedChanges;
  std::string encodedHere;
  if (asReceived.empty()) encode(WireMessage{ChangeBatchMsg{encodedChanges, true}}, encodedHere);
  const std::string_view inboxBytes = asReceived.empty() ? encodedHere : asReceived;
  // Whether it will apply depends on the register too (the customers it names): checked once
  // the staged batch before it is written.
  report.stagedError = engine_.settleStaged();
  if (!report.stagedError.empty() || !customersNamedAreKnown(changes)) {
    BatchReport result = writeOrSetAside(changes, encodedChanges, proven);
    result.stagedError = report.stagedError;
    return result;
  }
  const uint64_t inboxKey = stageBatch(inboxBytes);
  report.vector = held;
  for (const auto& [origin, seq] : verified.last.entries()) report.vector.set(origin, seq);
  report.carried = verified.last;
  report.applied = changes.size();
  report.staged = true;
  onStaged(report.vector);
  applyInBackground(std::move(changes), std::move(applierCopy), inboxKey, verified.last);
  return report;
}

BatchReport Core::writeOrSetAside(const std::vector<Change>& changes,
                                  const std::vector<std::string>& encodedChanges,
                                  const std::vector<bool>& proven) {
  try {
    return writeBatch(changes, encodedChanges, proven, std::nullopt);
  } catch (const ClockSkewError& e) {
    // Kept once; its sender hears why it is not applied.
    if (!setAsideOnce(encodedChanges, e.what())) throw;
    BatchReport report;
    report.vector = engine_.status().vector;
    report.setAside = e.what();
    return report;
  }
}

bool Core::setAsideOnce(const std::vector<std::string>& encodedChanges, const std::string& reason) {
  VerifiedBatch starts;
  for (const std::string& encoded : encodedChanges) {
    const ChangeId id = decodeChangeId(encoded);
    if (starts.first.get(id.origin) == 0) starts.first.set(id.origin, id.seq);
  }
  if (setAsideBefore(starts)) return false;
  std::string message;
  encode(WireMessage{ChangeBatchMsg{encodedChanges, true}}, message);
  setAside(stageBatch(message), reason);
  noteSetAside(starts.first);
  return true;
}

bool Core::customersNamedAreKnown(const std::vector<Change>& changes) const {
  auto namesOthers = [](const Change& c) {
    return c.operation != Operation::kSettings && c.operation != Operation::kLease &&
           (c.operation != Operation::kCreate || !c.absorbed.empty());
  };
  if (std::none_of(changes.begin(), changes.end(), namesOthers)) return true;  // creates only
  auto txn = store_.read();
  std::set<RecordId> createdHere;
  auto known = [&](RecordId id) { return createdHere.count(id) || store_.hasCustomer(txn, id); };
  for (const Change& c : changes) {
    if (c.operation == Operation::kSettings || c.operation == Operation::kLease) continue;
    if (c.operation == Operation::kCreate)
      createdHere.insert(c.target);
    else if (!known(c.target))
      return false;
    for (RecordId id : c.absorbed)
      if (id != c.target && !known(id)) return false;
  }
  return true;
}

BatchReport Core::writeBatch(const std::vector<Change>& changes,
                             const std::vector<std::string>& encodedChanges,
                             const std::vector<bool>& proven, std::optional<uint64_t> inboxKey) {
  VersionVector carried;
  for (const Change& c : changes)
    if (c.id.seq > carried.get(c.id.origin)) carried.set(c.id.origin, c.id.seq);
  FollowUp work;
  BatchReport result = store_.write([&](storage::WriteTxn& txn) {
    ApplyContext batch(store_, txn);
    BatchReport report;
    report.carried = carried;
    for (size_t i = 0; i < changes.size(); ++i) {
      const Change& change = changes[i];
      if (batch.vector.contains(change.id)) {
        ++report.duplicates;
        continue;
      }
      if (!proven[i]) {
        ++report.awaitingSignature;
        continue;
      }
      if (auto revoked = batch.meta.revokedSites.entries().find(change.id.origin);
          revoked != batch.meta.revokedSites.entries().end() && change.id.seq > revoked->second) {
        ++report.fromRevoked;
        ++batch.meta.refusedFromRevoked;
        continue;
      }
      applyIn(txn, batch, change, encodedChanges[i]);
      ++report.applied;
    }
    if (report.applied > 0 || report.fromRevoked > 0) finish(txn, batch);
    if (inboxKey) store_.local().removeInbox(txn, *inboxKey);
    report.vector = batch.vector;
    work = batch.followUp(store_, txn);
    return report;
  });
  // The hub settles duplicate customer numbers and leases blocks as soon as it sees the need;
  // a site numbers its waiting customers as soon as a block arrives (DESIGN.md section 6).
  // The batch is committed: a failure here must not report the batch as refused (its sender
  // would only send it again), so it is reported beside the result instead.
  try {
    if (work.any() && followUp(work, &result.settingsDecided))
      result.vector = engine_.status().vector;
  } catch (const std::exception& e) {
    result.followUpError = e.what();
  }
  return result;
}

void Replication::notePeerSessions(const std::vector<PeerNote>& notes) {
  if (notes.empty()) return;
  core_.store_.write([&](storage::WriteTxn& txn) {
    Meta meta = *core_.store_.meta(txn);
    for (const PeerNote& note : notes) {
      PeerState state = core_.store_.local().peer(txn, note.peer).value_or(PeerState{});
      state.siteId = note.peer;
      state.name = note.name;
      if (!note.endpoint.empty()) state.endpoint = note.endpoint;
      state.lastContactMillis = core_.clock_.nowMillis();
      state.vector = note.vector;
      state.sent += note.sent;
      state.received += note.received;
      core_.store_.local().putPeer(txn, state);
      // A restored site may originate again once the peer that has all of its changes (its
      // hub; a hub's: any peer) has nothing of its own left that it lacks.
      const bool fromHub = meta.isHub || note.peer == meta.deployment;
      if (meta.restored && fromHub &&
          core_.store_.vector(txn).get(meta.siteId) >= note.vector.get(meta.siteId)) {
        meta.restored = false;
        core_.store_.putMeta(txn, meta);
      }
    }
  });
}

void Replication::markRestored() {
  core_.store_.write([&](storage::WriteTxn& txn) {
    Meta meta = *core_.store_.meta(txn);
    meta.restored = true;
    core_.store_.putMeta(txn, meta);
  });
}

std::vector<PeerState> Replication::peers() const {
  auto txn = core_.store_.read();
  return core_.store_.local().peers(txn);
}

Status Trust::allowPeer(const AllowedPeer& peer) {
  return core_.store_.write([&](storage::WriteTxn& txn) -> Status {
    for (const AllowedPeer& held : core_.store_.local().allowedPeers(txn))
      if (held.publicKey == peer.publicKey && held.name != peer.name)
        return Status::alreadyExists("that key is already allowed as peer '" + held.name + "'");
    core_.store_.local().putAllowedPeer(txn, peer);
    return Status::ok();
  });
}

Result<SiteId> Trust::revokePeer(const std::string& name) {
  return core_.store_.write([&](storage::WriteTxn& txn) -> Result<SiteId> {
    SiteId site = 0;
    for (const AllowedPeer& held : core_.store_.local().allowedPeers(txn))
      if (held.name == name) site = held.siteId;
    if (!core_.store_.local().removeAllowedPeer(txn, name))
      return Status::notFound("no peer named '" + name + "' on the allow list");
    if (site != 0) {
      Meta meta = *core_.store_.meta(txn);
      if (meta.revokedSites.entries().count(site) == 0) {
        meta.revokedSites.set(site, core_.store_.vector(txn).get(site));
        core_.store_.putMeta(txn, meta);
      }
    }
    return site;
  });
}

std::vector<AllowedPeer> Trust::allowedPeers() const {
  auto txn = core_.store_.read();
  return core_.store_.local().allowedPeers(txn);
}

bool Trust::allowListConfigured() const {
  auto txn = core_.store_.read();
  return core_.store_.local().allowListConfigured(txn);
}

}  // namespace sitesync::sync
