// One end of a replication session (sync/peer_session.h): hellos, the stream with its credit and
// acks, heartbeats that re-aim a stream, snapshots, and what a refused message does.
#include "sync/peer_session.h"

#include <algorithm>

#include "sync/engine.h"
#include "sync/errors.h"

namespace sitesync::sync {

namespace {

void joinInto(VersionVector& into, const VersionVector& from) {
  for (const auto& [origin, seq] : from.entries())
    if (seq > into.get(origin)) into.set(origin, seq);
}

// Whether `have` lacks a change `want` holds, leaving out the origins in `except`.
bool lacksSomething(const VersionVector& have, const VersionVector& want,
                    const VersionVector& except = {}) {
  return std::any_of(want.entries().begin(), want.entries().end(), [&](const auto& e) {
    return e.second > have.get(e.first) && except.entries().count(e.first) == 0;
  });
}

// The vector to treat a peer as holding: a peer applies none of the changes of a site it revoked
// past the seq it held then (HelloMsg::revoked), so this node neither sends them to it nor waits
// for it to hold them.
VersionVector withRevoked(VersionVector peer, const VersionVector& revoked,
                          const VersionVector& mine) {
  for (const auto& [site, mark] : revoked.entries())
    if (mine.get(site) > peer.get(site)) peer.set(site, mine.get(site));
  return peer;
}

ErrorMsg needSnapshotError() {
  return ErrorMsg{WireError::kNeedSnapshot,
                  "this node's log no longer holds every change you lack: take a snapshot"};
}

}  // namespace

PeerSession::PeerSession(Engine& engine, SessionLink link, SessionOptions options, Log log)
    : engine_(engine),
      link_(std::move(link)),
      options_(options),
      log_(std::move(log)),
      selfId_(engine.meta().siteId),
      filtered_(!engine.meta().filter.empty()),
      chunkBytes_(kFirstSnapshotChunkBytes),
      batchBytes_(std::min(options.batchBytes, kFirstBatchBytes)) {}

PeerSession::~PeerSession() {
  if (!up_) return;
  try {
    notePeer();
  } catch (const std::exception& e) {
    say(std::string("could not record the session with ") + nameOfPeer() + ": " + e.what());
  }
}

void PeerSession::say(const std::string& line) const {
  if (log_) log_(line);
}

std::string PeerSession::nameOfPeer() const {
  std::string who = peerName_.empty() ? "a peer" : "'" + peerName_ + "'";
  return link_.initiator ? who + " at " + link_.endpoint : who + " (connected here)";
}

void PeerSession::emit(WireMessage message, Messages& out) {
  out.push_back(std::move(message));
}

HelloMsg PeerSession::selfHello() const {
  auto status = engine_.status();
  HelloMsg hello{kProtocolVersion,      status.meta.siteId, status.meta.siteName, status.meta.isHub,
                 engine_.heldVector(),  // with a staged batch still being written
                 status.meta.deployment};
  hello.stream = true;
  // A filtered site takes no change batches: it catches up by filtered snapshots.
  hello.credit =
      options_.snapshotOnly || filtered_ ? 0 : uint32_t(std::min(options_.credit, kMaxCredit));
  hello.filter = status.meta.filter;
  if (!link_.ownKey.empty()) engine_.proveIdentity(hello, link_.ownKey);
  hello.revoked = status.meta.revokedSites;
  return hello;
}

// The protocol version; on a CURVE link, that the peer's site holds the key it proved; then the
// deployment (a node without one adopts the peer's). The refusal names what differs.
std::optional<ErrorMsg> PeerSession::refuseHello(const HelloMsg& hello) const {
  if (hello.protocolVersion != kProtocolVersion)
    return ErrorMsg{WireError::kVersionMismatch,
                    "protocol version mismatch: peer '" + hello.siteName + "' speaks " +
                        std::to_string(hello.protocolVersion) + ", this node speaks " +
                        std::to_string(kProtocolVersion)};
  if (!link_.peerKey.empty())
    if (auto status = engine_.acceptIdentity(hello, link_.peerKey); !status.isOk())
      return ErrorMsg{WireError::kNotAllowed, status.message()};
  if (auto status = engine_.acceptDeployment(hello.deployment, hello.siteName); !status.isOk())
    return ErrorMsg{WireError::kDeploymentMismatch, status.message()};
  if (!hello.filter.empty()) {
    if (filtered_)
      return ErrorMsg{WireError::kNotAllowed,
                      "two filtered sites do not sync with each other: sync with a hub or branch"};
    try {
      // Checked when the site joins: a technician removed later keeps their laptop syncing.
      const RecordFilter filter = decodeRecordFilter(hello.filter);
      if (hello.vector.entries().empty())
        if (auto status = engine_.checkFilter(filter); !status.isOk())
          return ErrorMsg{WireError::kBadFilter, status.message()};
    } catch (const DecodeError& e) {
      return ErrorMsg{WireError::kBadFilter, e.what()};
    }
  }
  return refuseRevoked(hello.siteId, hello.siteName);
}

// Whatever key its link shows: a revoked site's copies of others' changes may be stripped by
// its own erasures, which this node never applies, so none of them is taken.
std::optional<ErrorMsg> PeerSession::refuseRevoked(SiteId site, const std::string& name) const {
  if (!engine_.meta().revokedSites.entries().count(site)) return std::nullopt;
  return ErrorMsg{WireError::kNotAllowed,
                  "site " + siteIdToHex(site) + " ('" + name + "') was revoked here"};
}

PeerSession::Messages PeerSession::start(SessionTime now) {
  started_ = lastSent_ = now;
  Messages out;
  if (link_.initiator) emit(selfHello(), out);
  return out;
}

PeerSession::Messages PeerSession::onMessage(const WireMessage& message, SessionTime now,
                                             std::string_view asReceived) {
  Messages out;
  if (ended_) return out;
  lastHeard_ = now;
  if (const auto* hello = std::get_if<HelloMsg>(&message)) {
    onHello(*hello, now, out);
  } else if (const auto* error = std::get_if<ErrorMsg>(&message)) {
    onError(*error);
  } else if (!up_) {
    // Before the hellos only a hello or an error means anything; the transport answers a
    // request on a connection without a session (kNoSession).
  } else if (auto refusal = refuseRevoked(peerId_, peerName_)) {
    // Revoked while the session was up.
    say("ended the session with '" + peerName_ + "': " + refusal->message);
    emit(*refusal, out);
    end(refusal->message, refusal->code);
  } else if (const auto* batch = std::get_if<ChangeBatchMsg>(&message)) {
    onBatch(*batch, asReceived, out);
  } else if (const auto* ack = std::get_if<AckMsg>(&message)) {
    onAck(*ack, now);
  } else if (const auto* heartbeat = std::get_if<HeartbeatMsg>(&message)) {
    onHeartbeat(*heartbeat, out);
  } else if (const auto* request = std::get_if<SnapshotRequestMsg>(&message)) {
    onSnapshotRequest(*request, out);
  } else if (const auto* chunk = std::get_if<SnapshotChunkMsg>(&message)) {
    onChunk(*chunk, now, asReceived.size(), out);
  } else {
    emit(ErrorMsg{WireError::kMalformed, "unexpected message in a session"}, out);
  }
  if (!out.empty()) lastSent_ = now;
  return out;
}

void PeerSession::onHello(const HelloMsg& hello, SessionTime now, Messages& out) {
  if (auto refusal = refuseHello(hello)) {
    say("refused '" + hello.siteName + "': " + refusal->message);
    if (!link_.initiator) emit(*refusal, out);
    end(refusal->message, refusal->code);
    return;
  }
  peerId_ = hello.siteId;
  peerName_ = hello.siteName;
  peerIsHub_ = hello.isHub;
  peerFilter_ = hello.filter;
  if (!link_.initiator) {
    // At the hub, a site's first number blocks are leased before this node says what it holds,
    // so that they travel in this session.
    leaseNumbersTo();
    sendAhead(selfHello(), out);  // before this side records the peer (a durable write)
  }
  establish(hello, now, out);
}

void PeerSession::establish(const HelloMsg& hello, SessionTime now, Messages& out) {
  if (link_.initiator) leaseNumbersTo();
  const bool wasUp = up_;
  up_ = true;
  peerRevoked_ = hello.revoked;
  peerSaidHeld_ = hello.vector;
  peerVector_ = asHeldBy(hello.vector);
  credit_ = options_.snapshotOnly ? 0 : std::min<size_t>(hello.credit, kMaxCredit);
  inFlight_.clear();
  reachKnown_ = false;
  // An initiator that had the peer's hello back within a LAN's round trip starts at full size;
  // over anything slower the first batch and chunk are small (they size up from there).
  if (!wasUp && link_.initiator && now - started_ < kFastRoundTrip) {
    batchBytes_ = options_.batchBytes;
    chunkBytes_ = kSnapshotChunkBytes;
  }
  lastHeard_ = now;
  if (!options_.snapshotOnly) aim(out);
  if (!wasUp) say("link with " + nameOfPeer() + " up");
  // The responder records the peer at once (sites name it in histories; compaction keeps what
  // it lacks); the initiator once the session has lasted a second, or as it closes, so that a
  // one-shot session's first batch does not wait for that write.
  if (!link_.initiator) notePeer();
  lastNoted_ = now;
  if (options_.snapshotOnly && !snapshotting_) {
    snapshotting_ = true;
    askedChunk_ = now;
    emit(snapshotRequest(engine_.meta().snapshotNextKey), out);
  }
}

SnapshotRequestMsg PeerSession::snapshotRequest(const std::string& afterKey) {
  askedAfter_ = afterKey;
  SnapshotRequestMsg request{afterKey, chunkBytes_};
  if (!filtered_) return request;
  request.filter = engine_.meta().filter;
  request.since = askedSince_ = engine_.heldVector();
  request.held = engine_.heldIds();
  return request;
}

// A filtered site's vector (but for its own origin) moves only when a filtered snapshot is in:
// if it moved since this session asked, the chunk answers a question about a held set that is
// no longer this site's (a customer it dropped, or took, meanwhile).
bool PeerSession::heldChangedSinceAsked() const {
  const SiteId self = engine_.meta().siteId;
  VersionVector now = engine_.heldVector(), asked = askedSince_;
  now.set(self, 0);
  asked.set(self, 0);
  return !(now == asked);
}

VersionVector PeerSession::streamTarget() const {
  if (!filtered_) return peerVector_;
  // Only its own changes: for every other origin the peer counts as holding all this site has.
  VersionVector target = peerVector_;
  const SiteId self = engine_.meta().siteId;
  const VersionVector mine = engine_.heldVector();
  for (const auto& [origin, seq] : mine.entries())
    if (origin != self && seq > target.get(origin)) target.set(origin, seq);
  return target;
}

bool PeerSession::peerCanServe() const {
  if (!peerFilter_.empty()) return false;
  VersionVector except;
  except.set(engine_.meta().siteId, 1);
  const VersionVector mine = engine_.heldVector();
  return !lacksSomething(peerSaidHeld_, mine, except);
}

bool PeerSession::wantsCatchUp() const {
  if (!peerCanServe()) return false;
  VersionVector except;
  except.set(engine_.meta().siteId, 1);
  const VersionVector mine = engine_.heldVector();
  return lacksSomething(mine, peerSaidHeld_, except);
}

// A hub leases number blocks only to a site that proved itself (a signed change of its own, or
// a key on the allow list): at its hello, or once its first batch is in.
bool PeerSession::leaseNumbersTo() {
  if (peerIsHub_) return false;
  try {
    if (size_t blocks = engine_.ensureLeases(peerId_)) {
      say("leased " + std::to_string(blocks) + " customer number blocks to '" + peerName_ + "'");
      return true;
    }
  } catch (const std::exception& e) {
    say("could not lease customer numbers to '" + peerName_ + "': " + e.what());
  }
  return false;
}

VersionVector PeerSession::asHeldBy(const VersionVector& sent) const {
  if (peerRevoked_.entries().empty()) return sent;
  return withRevoked(sent, peerRevoked_, engine_.heldVector());
}

// Points the stream at the first change the peer lacks; a peer this node's log can no longer
// serve is told to take a snapshot (its own changes still flow to this node).
void PeerSession::aim(Messages& out) {
  peerNeedsSnapshot_ = !engine_.logReaches(streamTarget());
  if (peerNeedsSnapshot_) {
    if (credit_ > 0) emit(needSnapshotError(), out);
    return;
  }
  position_ = engine_.firstPositionMissingFrom(streamTarget());
}

PeerSession::Messages PeerSession::onTick(SessionTime now) {
  Messages out;
  if (ended_) return out;
  const auto waited = [&](SessionTime since) { return now - since > options_.deadAfter; };
  // Built only when it ends a session: a hub ticks thousands of sessions.
  const auto limit = [&] { return std::to_string(options_.deadAfter.count()) + " ms"; };
  if (!up_) {
    if (link_.initiator && waited(started_)) end("no answer within " + limit());
    return out;
  }
  if (waited(lastHeard_)) {
    end("silent for " + limit());
    return out;
  }
  if (!inFlight_.empty() && waited(inFlight_.front().sentAt)) {
    // Lost on the way (or the peer lost its copy in a crash before writing it): start over.
    end("a batch was not acknowledged within " + limit());
    return out;
  }
  if (snapshotting_ && waited(askedChunk_)) {  // the request or its chunk was lost: start over
    end("a snapshot chunk did not come within " + limit());
    return out;
  }
  pump(now, out);
  if (now - lastSent_ >= options_.heartbeat) emit(HeartbeatMsg{engine_.heldVector()}, out);
  // Once a burst has settled both ways, at most once a second (and every half minute under
  // constant traffic): one small durable write, so that `status` shows what moved and what is
  // pending. Within a burst it would wait for the write of the batch being applied, holding up
  // the next one.
  const bool settled = inFlight_.empty() && now - lastBatch_ >= SessionTime(1000);
  const auto changed = [&] {  // compares vectors: only once a note is due
    return !noted_ || sent_ != notedSent_ || received_ != notedReceived_ ||
           !(peerVector_ == notedVector_);
  };
  if (now - lastNoted_ >= (settled ? SessionTime(1000) : SessionTime(30000)) && changed()) {
    notePeer();
    lastNoted_ = now;
  }
  if (!out.empty()) lastSent_ = now;
  return out;
}

// Sends what the peer lacks while it has credit; a side that must take a snapshot first sends
// everything it has, then asks for it.
void PeerSession::pump(SessionTime now, Messages& out) {
  if (options_.snapshotOnly) return;
  const uint64_t logEnd = engine_.logEnd();
  if (filtered_) refreshReach();
  while (!peerNeedsSnapshot_ && inFlight_.size() < credit_ && position_ <= logEnd) {
    size_t most = options_.batchChanges;
    if (filtered_ && !reach_.waitsFor.isNull()) {
      // Its log holds its own changes only, one a position: the batch ends where they wait.
      most = std::min(most, ownLeftToSend());
      if (most == 0) break;
    }
    auto batch = engine_.changesMissingFrom(streamTarget(), position_, most, batchBytes_);
    position_ = batch.nextPosition;
    if (batch.changes.empty()) continue;
    size_t bytes = 0;
    for (const auto& c : batch.changes) bytes += c.size();
    inFlight_.push_back(InFlight{batch.changes.size(), bytes, std::move(batch.last), now});
    emit(ChangeBatchMsg{std::move(batch.changes), batch.complete}, out);
  }
  if (needSnapshot_ && !snapshotting_ && inFlight_.empty() &&
      (credit_ == 0 || peerNeedsSnapshot_ || position_ > logEnd)) {
    snapshotting_ = true;
    askedChunk_ = now;
    say("taking a snapshot from " + nameOfPeer() + ": its log no longer reaches this node's");
    emit(snapshotRequest(engine_.meta().snapshotNextKey), out);
  }
  if (filtered_ && !snapshotting_ && inFlight_.empty() && (position_ > logEnd || ownHeldBack())) {
    if (wantsCatchUp()) {
      snapshotting_ = true;
      askedChunk_ = now;
      emit(snapshotRequest(engine_.meta().snapshotNextKey), out);
    } else if (!peerCanServe() && peerFilter_.empty() && !toldWaiting_) {
      toldWaiting_ = true;
      say("not catching up from " + nameOfPeer() +
          ": it lacks changes this filtered site holds (this site's own changes still go)");
    }
  }
}

bool PeerSession::streamIdle() const {
  if (!inFlight_.empty() || snapshotting_ || needSnapshot_) return false;
  return credit_ == 0 || (!peerNeedsSnapshot_ && position_ > engine_.logEnd()) || ownHeldBack();
}

// A filtered site streams its own changes only: a peer takes one only if it holds every
// customer the change names (a branch may not have seen one the laptop got from the hub).
// Looked at again when the peer says what it holds, and for what the log gained.
void PeerSession::refreshReach() {
  const uint64_t logEnd = engine_.logEnd();
  const bool clear = reachKnown_ && reach_.waitsFor.isNull();
  if (reachKnown_ && (!clear || logEnd == reachLogEnd_)) return;
  reach_ = engine_.ownReach(peerSaidHeld_, clear ? reach_.lastSeq : peerVector_.get(selfId_));
  reachKnown_ = true;
  reachLogEnd_ = logEnd;
  if (!reach_.waitsFor.isNull() && !toldReach_) {
    toldReach_ = true;
    say(heldBack());
  }
}

size_t PeerSession::ownLeftToSend() const {
  uint64_t sent = peerVector_.get(selfId_);
  for (const auto& batch : inFlight_) sent = std::max(sent, batch.last.get(selfId_));
  return reach_.lastSeq > sent ? size_t(reach_.lastSeq - sent) : 0;
}

bool PeerSession::ownHeldBack() const {
  return filtered_ && reachKnown_ && !reach_.waitsFor.isNull() && inFlight_.empty() &&
         ownLeftToSend() == 0;
}

std::string PeerSession::heldBack() const {
  if (!filtered_ || !up_) return {};
  if (reachKnown_ && !reach_.waitsFor.isNull()) {
    const uint64_t own = engine_.heldVector().get(selfId_);
    return std::to_string(own > reach_.lastSeq ? own - reach_.lastSeq : 0) +
           " of this site's changes wait for a peer that holds customer " +
           reach_.waitsFor.toString() + ", which " + nameOfPeer() +
           " has not seen yet: sync with the hub";
  }
  if (peerFilter_.empty() && !peerCanServe())
    return "not caught up from " + nameOfPeer() +
           ": it lacks changes this site has seen: sync with the hub";
  return {};
}

bool PeerSession::inSync() const {
  if (!up_ || ended_ || !streamIdle()) return false;
  if (options_.snapshotOnly) return snapshotDone_;
  if (filtered_) {  // its own changes are acknowledged (those the peer can take), and it took
                    // what it lacks
    const uint64_t own = ownHeldBack() ? reach_.lastSeq : engine_.heldVector().get(selfId_);
    return asHeldBy(peerVector_).get(selfId_) >= own && !wantsCatchUp();
  }
  const VersionVector mine = engine_.heldVector();
  if (credit_ > 0 && lacksSomething(asHeldBy(peerVector_), mine)) return false;
  // What the peer said it held, but for the sites this node revoked (it applies none of theirs).
  return options_.credit == 0 || !lacksSomething(mine, peerSaidHeld_, engine_.meta().revokedSites);
}

bool PeerSession::takeRelayed(const VerifiedBatch& verified, size_t changes, SessionTime now) {
  if (!up_ || ended_ || options_.snapshotOnly || peerNeedsSnapshot_ || needSnapshot_ ||
      snapshotting_ || !peerRevoked_.entries().empty() || inFlight_.size() >= credit_)
    return false;
  for (const auto& [origin, seq] : verified.first.entries())
    if (peerVector_.get(origin) + 1 != seq) return false;
  inFlight_.push_back(InFlight{changes, 0, verified.last, now});  // its size is not timed
  ++relayedAhead_;
  joinInto(peerVector_, verified.last);
  lastSent_ = now;
  return true;
}

void PeerSession::notePeer() {
  if (peerId_ == 0) return;
  PeerNote note{peerId_,     peerName_,          link_.initiator ? link_.endpoint : "",
                peerVector_, sent_ - notedSent_, received_ - notedReceived_};
  if (noteSink_)
    noteSink_(std::move(note));
  else
    engine_.notePeerSessions({std::move(note)});
  notedSent_ = sent_;
  notedReceived_ = received_;
  notedVector_ = peerVector_;
  noted_ = true;
}

void PeerSession::end(const std::string& why, std::optional<WireError> code) {
  if (ended_) return;
  ended_ = true;
  endReason_ = why;
  refusal_ = code;
  inFlight_.clear();
  snapshotting_ = false;
}

PeerSession::Counters PeerSession::counters() const {
  return Counters{peerId_,         peerName_,      peerVector_,
                  sent_,           received_,      snapshotRecords_,
                  snapshotChunks_, snapshotTotal_, inFlight_.size(),
                  relayedAhead_,   firstAck_,      ownHeldBack() ? reach_.lastSeq + 1 : 0};
}

}  // namespace sitesync::sync
