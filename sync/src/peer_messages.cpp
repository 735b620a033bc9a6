// What each message does to a PeerSession (sync/peer_session.h) once the hellos are done: a
// peer's batch is applied and answered once (ack, or the error that refuses it), acks free
// credit, heartbeats re-aim a stream that lost batches, snapshot chunks are merged.
#include <algorithm>

#include "sync/engine.h"
#include "sync/errors.h"
#include "sync/peer_session.h"

namespace sitesync::sync {

namespace {

void joinInto(VersionVector& into, const VersionVector& from) {
  for (const auto& [origin, seq] : from.entries())
    if (seq > into.get(origin)) into.set(origin, seq);
}

bool covers(const VersionVector& have, const VersionVector& want) {
  return std::all_of(want.entries().begin(), want.entries().end(),
                     [&](const auto& e) { return e.second <= have.get(e.first); });
}

}  // namespace

void PeerSession::sendAhead(WireMessage message, Messages& out) {
  if (sendNow_)
    sendNow_(message);
  else
    emit(std::move(message), out);
}

// An ack names the batch's origins and this node's own (what applying the batch made it write:
// a hub's renumbering, leases, decisions on settings), not its whole vector: a hub's has an entry
// per site, and it acks every batch of every site. The whole vector goes in hellos and heartbeats.
// A batch whose origins are not known here (set aside unapplied) gets the whole vector.
VersionVector PeerSession::ackVector(const VersionVector& held,
                                     const VersionVector& origins) const {
  if (origins.entries().empty()) return held;
  VersionVector named;
  for (const auto& [origin, seq] : origins.entries()) named.set(origin, held.get(origin));
  if (const uint64_t own = held.get(selfId_)) named.set(selfId_, own);
  return named;
}

void PeerSession::onBatch(const ChangeBatchMsg& batch, std::string_view asReceived, Messages& out) {
  lastBatch_ = lastHeard_;
  if (!peerFilter_.empty() && refuseOutsideRights(batch, out)) return;
  bool acknowledged = false;
  try {
    VersionVector origins;  // per origin of a clean batch, its last seq (for an early ack)
    const auto verified = [&](const VerifiedBatch& v) {
      origins = v.last;
      if (onVerified_) onVerified_(batch, v);
    };
    // A large clean batch is acknowledged once it is durable in the inbox, before it is applied.
    auto report = engine_.applyBatch(
        batch.changes, verified,
        [&](const VersionVector& promised) {
          acknowledged = true;
          sendAhead(AckMsg{ackVector(promised, origins)}, out);
        },
        asReceived);
    if (!report.followUpError.empty())
      say("applied a batch, but what it called for failed: " + report.followUpError);
    if (!report.stagedError.empty())
      say("a batch acknowledged before it was applied: " + report.stagedError);
    if (!report.setAside.empty()) {
      say("a batch set aside in the inbox: " + report.setAside);
      setAside_ = report.setAside;
    }
    if (!report.settingsDecided.empty()) say(report.settingsDecided);
    received_ += report.applied;
    joinInto(peerVector_, report.carried);  // the sender holds what it sent
    // A site's first changes prove it: a hub leases it blocks then, not only at the next hello;
    // the ack says what this node holds now, those blocks included.
    if (report.applied > 0 && !leaseTried_) {
      leaseTried_ = true;
      if (leaseNumbersTo()) report.vector = engine_.heldVector();
    }
    if (!acknowledged) emit(AckMsg{ackVector(report.vector, report.carried)}, out);
  } catch (const DecodeError& e) {
    ++malformed_;
    say(std::string("malformed batch from ") + nameOfPeer() + ": " + e.what());
    emit(ErrorMsg{WireError::kMalformed, e.what()}, out);
  } catch (const std::exception& e) {
    if (acknowledged) {
      // Durable in the inbox: applied when the node next starts (or the write next succeeds).
      say(std::string("a batch acknowledged before it was applied waits in the inbox: ") +
          e.what());
      return;
    }
    // A change of the batch cannot apply here: the peer is told so (and starts its stream over).
    // Anything else (the store failed, a bug) is this node's failure, not the batch's: internal.
    const bool cannotApply = dynamic_cast<const ApplyError*>(&e) != nullptr;
    say(std::string(cannotApply ? "refused a batch: " : "could not apply a batch: ") + e.what());
    emit(ErrorMsg{cannotApply ? WireError::kCannotApply : WireError::kInternal, e.what()}, out);
  }
}

// A field laptop's batch that changes customers outside its filter is kept in the inbox, set
// aside (an operator looks at it), and the laptop is told why: never applied, never dropped.
bool PeerSession::refuseOutsideRights(const ChangeBatchMsg& batch, Messages& out) {
  std::string why;
  try {
    why = engine_.outsideRights(batch.changes, peerId_, decodeRecordFilter(peerFilter_));
    if (why.empty()) return false;
    if (engine_.setAsideOutsideRights(batch.changes, why))
      say("set aside a batch from " + nameOfPeer() + ": " + why);
  } catch (const std::exception& e) {
    why = std::string("could not check the batch against the laptop's rights: ") + e.what();
  }
  setAside_ = why;
  emit(ErrorMsg{WireError::kOutsideRights, why}, out);
  return true;
}

// Acks come in the order of the batches; each says what the peer holds durably. The batches it
// covers are done. An ack that covers none still answers the oldest batch: what of it the peer
// could not apply yet (a run without its checkpoint, a change set aside) goes again once a
// heartbeat shows the peer lacks it.
void PeerSession::onAck(const AckMsg& ack, SessionTime now) {
  // What applying the batch made the peer write (a hub's renumbering, its decision on settings
  // offered) is in the ack too: a one-shot session waits for it as for the rest.
  joinInto(peerSaidHeld_, ack.vector);
  if (!reach_.waitsFor.isNull()) reachKnown_ = false;  // it may hold that customer now
  const VersionVector held = asHeldBy(ack.vector);
  joinInto(peerVector_, held);
  bool answered = false;
  while (!inFlight_.empty() && covers(held, inFlight_.front().last)) {
    sent_ += inFlight_.front().changes;
    // A batch sent behind others waited for them: its own time starts at the previous ack.
    sizeNextBatch(inFlight_.front().bytes, now - std::max(inFlight_.front().sentAt, lastAck_));
    lastAck_ = now;
    inFlight_.pop_front();
    answered = true;
  }
  if (!answered && !inFlight_.empty()) {
    // The peer does not hold all of that batch: of its origins, the peer holds what the ack says
    // (a batch relayed ahead counted its changes as held). Its heartbeats re-aim the rest.
    for (const auto& [origin, seq] : inFlight_.front().last.entries())
      peerVector_.set(origin, held.get(origin));
    inFlight_.pop_front();
  }
  if (inFlight_.empty() && firstAck_.count() < 0 && sent_ > 0 && position_ > engine_.logEnd())
    firstAck_ = now;
  if (filtered_ && answered && inFlight_.empty() && judgeAfterAcks_) {
    judgeAfterAcks_ = false;
    dropWhatNoLongerWaits();
  }
}

// A filtered site keeps a customer its filter no longer wants while it has changes to it the
// peer lacks (Core::keepOnlyWanted). Once the peer acknowledged them the customer goes, without
// waiting for a catch-up that may not come (nothing else changed at the peer).
void PeerSession::dropWhatNoLongerWaits() {
  try {
    if (size_t dropped = engine_.dropUnwanted(peerVector_.get(selfId_)))
      say("removed " + std::to_string(dropped) + " customers this site no longer follows");
  } catch (const std::exception& e) {
    say(std::string("could not remove the customers this site no longer follows: ") + e.what());
  }
}

// With nothing in flight the peer's vector is at least what it acknowledged. If it is less,
// batches were lost (the peer restarted without writing them): stream again from there. So too
// when the stream is past the end of the log and the peer still lacks what this node holds (a
// batch answered without being applied; or this node's vector grew past its log, by a snapshot
// taken in another session, and the peer now needs one). A peer that was sent for a snapshot
// says what it holds now the same way, and until then hears again that it must take one (the
// error may have been lost; this node's log may reach it by now).
void PeerSession::onHeartbeat(const HeartbeatMsg& heartbeat, Messages& out) {
  peerSaidHeld_ = heartbeat.vector;
  if (!reach_.waitsFor.isNull()) reachKnown_ = false;  // it may hold that customer now
  const VersionVector held = asHeldBy(heartbeat.vector);
  const bool lost = !covers(held, peerVector_);
  const bool behind = position_ > engine_.logEnd() && !covers(held, engine_.heldVector());
  if (inFlight_.empty() && (peerNeedsSnapshot_ || lost || behind)) {
    peerVector_ = held;
    aim(out);
  } else {
    joinInto(peerVector_, held);
  }
}

void PeerSession::onChunk(const SnapshotChunkMsg& chunk, SessionTime now, size_t wireBytes,
                          Messages& out) {
  // Only the answer to the request awaited: a chunk repeated, or answering an earlier request,
  // covers keys the snapshot under way may not reach (its vector would claim them).
  if (!snapshotting_ || chunk.afterKey != askedAfter_) return;
  sizeNextChunk(wireBytes, now - askedChunk_);
  // Answered for what this site held then; or it goes on from a key no chunk of the snapshot
  // under way reached (another session finished that one meanwhile, or began another).
  if ((filtered_ && heldChangedSinceAsked()) || !engine_.continuesSnapshot(chunk.afterKey)) {
    askSnapshotAgain(now, out);
    return;
  }
  // Asked before this one is merged, so the peer reads while this node writes.
  if (!chunk.complete) {
    askedChunk_ = now;
    sendAhead(snapshotRequest(chunk.nextKey), out);
  }
  try {
    if (!engine_.mergeSnapshotChunk(chunk, chunk.afterKey)) {  // the check above raced
      if (chunk.complete) askSnapshotAgain(now, out);          // another process
      return;  // else the chunk asked for ahead is judged the same way
    }
  } catch (const std::exception& e) {
    end(std::string("snapshot chunk refused: ") + e.what());
    return;
  }
  snapshotRecords_ += chunk.records.size();
  ++snapshotChunks_;
  snapshotTotal_ = chunk.totalRecords;
  if (!chunk.complete) return;
  snapshotting_ = false;
  needSnapshot_ = false;
  snapshotDone_ = true;
  // It kept what it has changes to that the peer lacked: judged again once they are in.
  if (filtered_ && chunk.vector.get(selfId_) < engine_.heldVector().get(selfId_))
    judgeAfterAcks_ = true;
  if (!filtered_ || options_.snapshotOnly) say("snapshot from " + nameOfPeer() + " complete");
  // Tells the peer what this node holds now, so its stream resumes from there.
  emit(HeartbeatMsg{engine_.heldVector()}, out);
}

// From where the snapshot under way got to, or from the start when none is.
void PeerSession::askSnapshotAgain(SessionTime now, Messages& out) {
  askedChunk_ = now;
  const Meta meta = engine_.meta();
  emit(snapshotRequest(meta.snapshotPending ? meta.snapshotNextKey : std::string()), out);
}

namespace {

// The bytes that would take `aim` at the rate `bytes` took `took`, within [least, most].
double bytesFor(SessionTime aim, size_t bytes, SessionTime took, double least, double most) {
  const double perMs = double(bytes) / double(std::max<int64_t>(took.count(), 1));
  return std::clamp(perMs * double(aim.count()), std::min(least, most), most);
}

}  // namespace

void PeerSession::sizeNextChunk(size_t bytes, SessionTime took) {
  if (bytes == 0) return;  // not told (a transport that hands over decoded messages)
  const SessionTime aim = std::min(SessionTime(2000), options_.deadAfter / 4);
  chunkBytes_ = uint32_t(bytesFor(aim, bytes, took, kMinSnapshotChunkBytes, kSnapshotChunkBytes));
}

void PeerSession::sizeNextBatch(size_t bytes, SessionTime took) {
  if (bytes == 0) return;
  const SessionTime aim = std::min(SessionTime(2000), options_.deadAfter / 4);
  batchBytes_ =
      size_t(bytesFor(aim, bytes, took, kMinSnapshotChunkBytes, double(options_.batchBytes)));
}

void PeerSession::onError(const ErrorMsg& error) {
  if (error.code == WireError::kNeedSnapshot) {
    if (!options_.snapshotOnly) needSnapshot_ = true;
    return;
  }
  end("peer refused: " + error.message, error.code);
}

SnapshotChunkMsg PeerSession::snapshotChunk(const SnapshotRequestMsg& request) const {
  const size_t maxBytes =
      std::min<size_t>(std::max<size_t>(request.maxBytes, 1 << 16), options_.largestChunk);
  SnapshotChunkMsg chunk = request.filter.empty()
                               ? engine_.snapshotChunk(request.afterKey, maxBytes)
                               : engine_.filteredChunk(request, peerId_, maxBytes);
  chunk.afterKey = request.afterKey;
  return chunk;
}

// A filtered peer gets only what its filter (said in its hello, checked there) wants; no site
// answers a filtered request unless it holds the whole register.
void PeerSession::onSnapshotRequest(const SnapshotRequestMsg& request, Messages& out) {
  if (request.filter != peerFilter_ || filtered_) {
    const std::string why =
        filtered_ ? "this site holds a filtered subset: take snapshots from a hub or branch"
                  : "a snapshot request whose filter is not the one said in the hello";
    say("refused a snapshot request from " + nameOfPeer() + ": " + why);
    emit(ErrorMsg{WireError::kNotAllowed, why}, out);
    end(why, WireError::kNotAllowed);
    return;
  }
  try {
    emit(snapshotChunk(request), out);
  } catch (const DecodeError& e) {
    emit(ErrorMsg{WireError::kMalformed, e.what()}, out);
  }
}

}  // namespace sitesync::sync
