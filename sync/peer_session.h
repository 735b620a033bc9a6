// The session protocol of replication (docs/protocol.md) as deterministic code: one PeerSession
// is this node's end of one connection to a peer. It has no socket, thread or clock of its own:
// the transport (node/) hands it each message that arrives and calls onTick now and then, with
// the time; both return the messages to send on that connection, in order. The simulation
// (tests/unit/simulation_test.cpp) drives the same class over an in-memory network.
//
// A session: hellos both ways (protocol version, deployment, on CURVE links the site's proof of
// its key); then each side streams what the other lacks in log order, at most `credit` batches
// unacknowledged, and keeps streaming as its log grows; acks say what the receiver holds durably;
// heartbeats say what a side holds, which re-aims a stream that lost batches. A side whose log no
// longer reaches the peer's vector says so (needSnapshot): the peer pushes its own changes first,
// then takes a snapshot. A one-shot `sync` is such a session with credit 1, ended once inSync().
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/protocol.h"
#include "sync/reports.h"
#include "sync/session_options.h"

namespace sitesync::sync {

class Engine;

class PeerSession {
 public:
  using Messages = std::vector<WireMessage>;
  using Log = std::function<void(const std::string&)>;
  // Called for a peer's batch once it is verified, before it is written: a node passes a clean
  // one on to its other sessions (takeRelayed) without waiting for its own write.
  using OnVerified = std::function<void(const ChangeBatchMsg&, const VerifiedBatch&)>;
  // Sends a message at once, ahead of the work still to do (an ack once a batch is staged, the
  // next snapshot request before the chunk in hand is merged). Unset: it joins the returned ones.
  using SendNow = std::function<void(const WireMessage&)>;

  PeerSession(Engine& engine, SessionLink link, SessionOptions options, Log log = {});
  PeerSession(const PeerSession&) = delete;
  PeerSession& operator=(const PeerSession&) = delete;
  ~PeerSession();  // records the peer and what moved (close)

  // Takes this session's records of the peer (notePeer) instead of writing each at once: a
  // node with many sessions writes them together. Unset: each is written when made.
  using NoteSink = std::function<void(PeerNote)>;
  void noteInto(NoteSink sink) { noteSink_ = std::move(sink); }
  void onVerified(OnVerified hook) { onVerified_ = std::move(hook); }
  void sendNow(SendNow hook) { sendNow_ = std::move(hook); }

  // The initiator's hello (a responder says nothing first).
  Messages start(SessionTime now);
  // One message from the peer. A refused hello, an error from the peer or an unanswerable
  // message ends the session (ended(): the transport drops the connection; an initiator
  // reconnects with a new session).
  Messages onMessage(const WireMessage& message, SessionTime now, std::string_view asReceived = {});
  // Streams what the log gained, sends a heartbeat when quiet, ends a silent session.
  Messages onTick(SessionTime now);
  // A clean batch another session received: taken (true; the transport sends it as it came)
  // when this peer holds exactly what precedes it and has credit left.
  bool takeRelayed(const VerifiedBatch& verified, size_t changes, SessionTime now);
  // Records the peer, its vector and what moved since the last note (one small write).
  void notePeer();

  bool up() const { return up_; }
  bool ended() const { return ended_; }
  const std::string& endReason() const { return endReason_; }
  std::optional<WireError> refusal() const { return refusal_; }  // the peer's typed error
  // Both sides hold the same changes: all this side sent is acknowledged, and it holds what
  // the peer said it held (sites this node revoked aside). One-shot sessions end here.
  bool inSync() const;
  bool snapshotDone() const { return snapshotDone_; }   // snapshotOnly: the last chunk is merged
  size_t malformed() const { return malformed_; }       // malformed batches the peer sent
  size_t inFlight() const { return inFlight_.size(); }  // batches sent, not yet acknowledged
  // Whether the log's growth gives this session work at once (it streams with credit left, or
  // is catching up); otherwise a tick now and then keeps it (heartbeats, timeouts, notes).
  bool streamsOnGrowth() const {
    return up_ && !ended_ &&
           (inFlight_.size() < credit_ || snapshotting_ || needSnapshot_ || filtered_);
  }
  // A filtered site's work this peer cannot take, and why (empty: none): its own changes from
  // one that names a customer the peer does not hold yet, or a catch-up from a peer that lacks
  // changes this site has seen. They wait for another peer (the hub); inSync() holds without.
  std::string heldBack() const;
  // Why the peer's last batch set aside in the inbox could not apply (a change stamped too far
  // ahead of this node's clock); empty when none was.
  const std::string& setAside() const { return setAside_; }

  struct Counters {
    SiteId peerId = 0;
    std::string peerName;
    VersionVector peerVector;  // what the peer holds, as far as this side knows
    uint64_t sent = 0;         // changes the peer acknowledged
    uint64_t received = 0;     // changes applied from the peer
    uint64_t snapshotRecords = 0;
    uint64_t snapshotChunks = 0;
    uint64_t snapshotTotal = 0;  // the records the peer said it holds (0: not said)
    size_t inFlight = 0;         // batches sent and not yet acknowledged
    uint64_t relayedAhead = 0;   // batches taken from other sessions (takeRelayed)
    SessionTime firstAck{-1};    // when the peer first acknowledged all this side had sent
    // A filtered site: its own changes from this seq on wait for another peer (heldBack()); 0
    // when none do.
    uint64_t heldBackFrom = 0;
  };
  Counters counters() const;

 private:
  struct InFlight {
    size_t changes = 0;
    size_t bytes = 0;
    VersionVector last;  // per origin, the highest seq in the batch
    SessionTime sentAt{0};
  };
  HelloMsg selfHello() const;
  std::optional<ErrorMsg> refuseHello(const HelloMsg& hello) const;
  void establish(const HelloMsg& hello, SessionTime now, Messages& out);
  bool leaseNumbersTo();
  VersionVector asHeldBy(const VersionVector& sent) const;
  void aim(Messages& out);
  void pump(SessionTime now, Messages& out);
  bool streamIdle() const;
  std::optional<ErrorMsg> refuseRevoked(SiteId site, const std::string& name) const;
  void end(const std::string& why, std::optional<WireError> code = std::nullopt);
  void say(const std::string& line) const;
  std::string nameOfPeer() const;
  void emit(WireMessage message, Messages& out);
  void sendAhead(WireMessage message, Messages& out);  // through sendNow when set

  void onHello(const HelloMsg& hello, SessionTime now, Messages& out);
  void onBatch(const ChangeBatchMsg& batch, std::string_view asReceived, Messages& out);
  VersionVector ackVector(const VersionVector& held, const VersionVector& origins) const;
  void onAck(const AckMsg& ack, SessionTime now);
  void onHeartbeat(const HeartbeatMsg& heartbeat, Messages& out);
  void onChunk(const SnapshotChunkMsg& chunk, SessionTime now, size_t wireBytes, Messages& out);
  void onError(const ErrorMsg& error);
  void onSnapshotRequest(const SnapshotRequestMsg& request, Messages& out);
  bool refuseOutsideRights(const ChangeBatchMsg& batch, Messages& out);
  SnapshotChunkMsg snapshotChunk(const SnapshotRequestMsg& request) const;
  // A filtered site (docs/filtered-sync.md) streams only its own changes and catches up by
  // filtered snapshots.
  SnapshotRequestMsg snapshotRequest(const std::string& afterKey);
  bool heldChangedSinceAsked() const;  // another session changed what this filtered site holds
  void askSnapshotAgain(SessionTime now, Messages& out);  // a chunk not taken: ask again
  // Chunks and batches are sized to arrive well within deadAfter at the rate the last came.
  void sizeNextChunk(size_t bytes, SessionTime took);
  void sizeNextBatch(size_t bytes, SessionTime took);
  VersionVector streamTarget() const;  // what to stream from: the peer's vector (own origin only)
  bool peerCanServe() const;     // a filtered site's peer has seen all it has (own changes aside)
  bool wantsCatchUp() const;     // ... and holds changes it lacks
  void refreshReach();           // a filtered site: which of its own changes the peer can take
  size_t ownLeftToSend() const;  // ... and are not sent yet
  bool ownHeldBack() const;      // ... and all those went: the rest waits for another peer
  void dropWhatNoLongerWaits();  // ... its changes acknowledged: what its filter left goes

  Engine& engine_;
  const SessionLink link_;
  const SessionOptions options_;
  Log log_;
  OnVerified onVerified_;
  NoteSink noteSink_;
  SendNow sendNow_;

  bool up_ = false, ended_ = false;
  std::string endReason_;
  std::optional<WireError> refusal_;
  SiteId peerId_ = 0;
  std::string peerName_;
  bool peerIsHub_ = false;
  const SiteId selfId_;     // this node's site
  const bool filtered_;     // this site holds a filtered subset (Meta::filter)
  std::string peerFilter_;  // the peer's filter (it said so in its hello); empty: a full site
  bool toldWaiting_ = false;
  OwnReach reach_;           // refreshReach: as of peerSaidHeld_ and the log's end then
  bool reachKnown_ = false;  // reset when the peer says what it holds
  uint64_t reachLogEnd_ = 0;
  bool toldReach_ = false;
  // A filtered site judges what it holds once its changes are acknowledged: once a session (a
  // restart may have left something kept), and after a catch-up that kept what it had changes to.
  bool judgeAfterAcks_ = true;
  VersionVector askedSince_;    // the vector the last filtered request said
  std::string askedAfter_;      // the key the last snapshot request said
  bool leaseTried_ = false;     // a hub leased after the peer's first batch (once a session)
  VersionVector peerVector_;    // what the peer holds (hello, acks, heartbeats, relayed)
  VersionVector peerSaidHeld_;  // the last vector the peer said it held (hello or heartbeat)
  VersionVector peerRevoked_;   // the sites the peer revoked (HelloMsg::revoked)
  uint64_t position_ = 1;       // next position of this node's log to consider for the peer
  size_t credit_ = 0;           // batches the peer lets this side have in flight
  std::deque<InFlight> inFlight_;
  bool needSnapshot_ = false;       // the peer's log cannot serve this node: take a snapshot
  bool snapshotting_ = false;       // snapshot requests under way
  bool snapshotDone_ = false;       // snapshotOnly: complete
  bool peerNeedsSnapshot_ = false;  // this node's log cannot serve the peer: nothing streams
  SessionTime started_{0}, lastHeard_{0}, lastSent_{0};
  SessionTime askedChunk_{0};  // when the snapshot chunk awaited was asked for
  uint32_t chunkBytes_;        // the size the next snapshot request asks for
  size_t batchBytes_;          // the size of the next batch (up to SessionOptions::batchBytes)
  SessionTime lastAck_{0};
  SessionTime firstAck_{-1};
  uint64_t sent_ = 0, received_ = 0, relayedAhead_ = 0;
  uint64_t snapshotRecords_ = 0, snapshotChunks_ = 0, snapshotTotal_ = 0;
  uint64_t notedSent_ = 0, notedReceived_ = 0;
  VersionVector notedVector_;
  SessionTime lastNoted_{0};
  SessionTime lastBatch_{0};  // when the peer's last batch came
  bool noted_ = false;        // the peer was recorded in this session
  size_t malformed_ = 0;
  std::string setAside_;
};

}  // namespace sitesync::sync
