// node: the running node around the engine: group commit of local writes from many threads, and
// the ZeroMQ transport of replication (docs/protocol.md). A Server is a running node: it answers
// peers on a ROUTER socket and keeps streaming links to its configured peers; syncWith runs one
// session from a DEALER socket (`sitesync sync`); bootstrapFrom takes a peer's snapshot (join).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sync/engine.h"

namespace sitesync::node {

// Collects local operations submitted by any number of threads and commits whatever is waiting
// in one write transaction, so N concurrent writers pay for far fewer than N fsyncs.
// submit() returns once the operation is durable (or refused).
class GroupCommitter {
 public:
  explicit GroupCommitter(sync::Engine& engine, size_t maxBatch = 4096);
  ~GroupCommitter();  // commits what is queued, then stops
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  sync::OpResult submit(sync::LocalOp op);
  uint64_t commits() const;  // transactions committed so far

 private:
  struct Pending {
    sync::LocalOp op;
    std::promise<sync::OpResult> done;
  };
  void run();

  sync::Engine& engine_;
  const size_t maxBatch_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  uint64_t commits_ = 0;
  std::thread worker_;
};

// A session that could not complete: peer unreachable (timeout), refused, or incompatible.
class SyncError : public Error {
 public:
  explicit SyncError(const std::string& what, std::optional<WireError> refusal = std::nullopt)
      : Error(what), refusal_(refusal) {}
  // The peer's typed error, when it refused (rather than timing out or garbling).
  std::optional<WireError> refusal() const { return refusal_; }

 private:
  std::optional<WireError> refusal_;
};

// --- link security (DESIGN.md section 7)
// A node's CURVE key pair, Z85 (40 characters each). The secret key lives in DIR/node.key,
// mode 0600; a key file that others may read is refused.
struct Identity {
  std::string publicKey;
  std::string secretKey;
};
class SecurityError : public Error {
 public:
  using Error::Error;
};
// DIR's key pair; throws SecurityError (one line: what to do) if missing, malformed or exposed.
Identity loadIdentity(const std::string& dataDir);
// Makes DIR's key pair unless it has one (creating DIR); returns it.
Identity ensureIdentity(const std::string& dataDir);
// Writes the new key file `path` (a secret: DIR/node.key, a deployment's at-rest key), readable
// by its owner only from its creation (mode 0600), whole or not at all: into a temporary file of
// the same directory, fsynced, then linked into place (never replacing a file already there) and
// the directory fsynced. Throws SecurityError (one line) if it cannot, or if `path` exists.
void writeOwnerOnlyFile(const std::string& path, std::string_view contents);
bool isPublicKey(std::string_view z85);            // 40 Z85 characters decoding to 32 bytes
std::string keyFingerprint(std::string_view z85);  // its first 8 characters, for logs

// How far a join (its snapshot) or a sync has come, for a progress display.
struct TransferProgress {
  uint64_t records = 0;       // snapshot records received this run
  uint64_t totalRecords = 0;  // the records the peer holds (0: not known yet)
  uint64_t changes = 0;       // changes applied from the peer
  uint64_t bytesReceived = 0;
  double seconds = 0;  // since the session started
  bool done = false;   // the last report of the session
};

struct SyncOptions {
  std::chrono::milliseconds timeout{10000};  // per request
  // One batch is one write transaction at the receiver: large ones write each index page once
  // for many changes. 1M-customer bulk, `sitesync-bench sync --batch-changes N`: 45k/s at 2,000,
  // 69k/s at 16,000; hub memory 24 MB and 112 MB.
  size_t batchChanges = 16000;
  size_t batchBytes = size_t(16) << 20;
  bool pull = true;  // false: only send what the peer lacks (e.g. a fan-in measurement)
  // CURVE: this node's keys and the key the server must prove (from the allow list); without
  // them the link is plain TCP (a node whose allow list was never configured).
  std::optional<Identity> identity;
  std::string serverKey;
  // Called about four times a second while the session moves, and once at its end.
  std::function<void(const TransferProgress&)> progress = {};
};

struct SyncReport {
  std::string peerName;
  SiteId peerId = 0;
  size_t sent = 0;         // changes the peer acknowledged from us (durable there)
  size_t received = 0;     // changes we applied from the peer
  uint64_t bytesSent = 0;  // frames sent, as on the wire (before TCP/ZeroMQ framing)
  uint64_t bytesReceived = 0;
  VersionVector vector;  // both sides' vector at the end
  // From the start of the session to the peer's ack of the last batch sent: when this node's
  // changes were safe at the peer. (The session goes on: it pulls, then compares vectors.)
  std::chrono::microseconds acknowledgedAfter{0};
  // A field laptop's work this peer could not take, and why (PeerSession::heldBack); empty
  // when none waits.
  std::string heldBack;
};

// One session with the node listening at `endpoint`: sends what it lacks, pulls what this node
// lacks, and repeats until both hold the same vector. Throws SyncError.
SyncReport syncWith(sync::Engine& engine, const std::string& endpoint,
                    const SyncOptions& options = {});

struct ServeOptions {
  // Peers this node keeps a streaming link to (it connects; they may connect back too).
  std::vector<std::string> peers;
  size_t window = 4;  // credit: change batches a peer may have unacknowledged at this node
  size_t batchChanges = 16000;  // as SyncOptions
  size_t batchBytes = size_t(16) << 20;
  std::chrono::milliseconds heartbeat{1000};    // a quiet link sends a heartbeat this often
  std::chrono::milliseconds deadAfter{4000};    // silence after which a link is dropped
  std::chrono::milliseconds firstBackoff{100};  // reconnect delays double up to maxBackoff
  std::chrono::milliseconds maxBackoff{5000};
  std::chrono::milliseconds compactEvery{0};  // log compaction period (0: never)
  // This node's keys. Once its allow list is configured (the first `peers add`, also while it
  // runs) every link is CURVE: only allowed keys connect here, and an outgoing link expects the
  // key the allow list gives for its endpoint. Without an identity links stay plain TCP.
  std::optional<Identity> identity;
};

// What a running node knows of one link, for status and tests.
struct LinkState {
  bool outgoing = false;
  std::string endpoint;  // outgoing links: where this node connects
  bool up = false;       // hellos exchanged and not timed out
  std::string peerName;
  SiteId peerId = 0;
  VersionVector peerVector;   // what the peer holds, as far as this node knows
  uint64_t sent = 0;          // changes the peer acknowledged on this link
  uint64_t received = 0;      // changes applied from it
  size_t inFlight = 0;        // batches sent and not yet acknowledged
  uint64_t relayedAhead = 0;  // batches passed on from another peer before this node wrote them
  std::string lastError;
};

// Bytes moved with one peer, as on the wire (frames, before TCP/ZeroMQ framing).
struct PeerBytes {
  uint64_t sent = 0;
  uint64_t received = 0;
};

// A running node: a ZeroMQ ROUTER socket bound to `endpoint` ("tcp://127.0.0.1:*" picks a port)
// answers peers, and one DEALER per configured peer keeps a streaming link: after the hellos
// both sides push what the other lacks, in log order, with at most `window` batches in flight
// (credit), and push new changes the moment the log grows (local writes from any process,
// batches received, which is how a hub relays). Quiet links carry heartbeats; a silent one is
// dropped and reconnected with backoff. Bad messages are answered with a typed error and
// dropped; nothing is written from them. One thread (run) drives everything.
class Server {
 public:
  // One event: what happened, and the peer's name when it is about one (empty otherwise), so
  // that a JSON log carries it as a field of its own.
  using Log = std::function<void(const std::string& line, const std::string& peer)>;
  Server(sync::Engine& engine, const std::string& endpoint, Log log = {},
         ServeOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::string endpoint() const;  // as bound, with the actual port
  bool secure() const;           // links are CURVE, allowed keys only
  // Messages refused as malformed so far (each is logged; five from one connection drop it).
  uint64_t malformedMessages() const;
  // Runs until `stop` is true (checked at least every 20 ms); then waits up to a second for
  // the batches in flight to be acknowledged, records the peers, and returns.
  void run(const std::atomic<bool>& stop);
  std::vector<LinkState> links() const;             // safe from any thread
  std::map<SiteId, PeerBytes> bytesByPeer() const;  // since start, every session; any thread

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Takes the snapshot of the node at `endpoint` into `engine`'s store, merging it with what the
// store holds; resumes an interrupted one (Meta::snapshotNextKey). Throws SyncError.
struct BootstrapReport {
  std::string peerName;
  size_t records = 0;
  size_t chunks = 0;
};
BootstrapReport bootstrapFrom(sync::Engine& engine, const std::string& endpoint,
                              const SyncOptions& options = {});

}  // namespace sitesync::node
