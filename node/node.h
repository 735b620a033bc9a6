// node: the running node around the engine: group commit of local writes from many threads, and
// the ZeroMQ transport of replication. A Server answers peers on a ROUTER socket (stateless
// requests: hello, push a batch, pull what I lack); syncWith runs one session from a DEALER
// socket; PeerWatch hears when a peer's log grows. First cut: up to four pushed batches in flight;
// no credit-based streaming, heartbeats or snapshots yet (docs/protocol.md).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

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
class SyncError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SyncOptions {
  std::chrono::milliseconds timeout{10000};  // per request
  size_t batchChanges = 2000;
  size_t batchBytes = size_t(4) << 20;
  bool pull = true;  // false: only send what the peer lacks (e.g. a fan-in measurement)
};

struct SyncReport {
  std::string peerName;
  SiteId peerId = 0;
  size_t sent = 0;         // changes the peer applied from us
  size_t received = 0;     // changes we applied from the peer
  uint64_t bytesSent = 0;  // frames sent, as on the wire (before TCP/ZeroMQ framing)
  uint64_t bytesReceived = 0;
  VersionVector vector;  // both sides' vector at the end
};

// One session with the node listening at `endpoint`: sends what it lacks, pulls what this node
// lacks, and repeats until both hold the same vector. Throws SyncError.
SyncReport syncWith(sync::Engine& engine, const std::string& endpoint,
                    const SyncOptions& options = {});

// Watches peers for news: one DEALER per peer that sends a watching hello every second; the peer
// answers, and also sends a hello whenever its log grows (Server does). wait() returns the
// indices of the peers whose vector shows changes this node lacks: the cue for a session.
class PeerWatch {
 public:
  PeerWatch(sync::Engine& engine, std::vector<std::string> endpoints);
  ~PeerWatch();
  PeerWatch(const PeerWatch&) = delete;
  PeerWatch& operator=(const PeerWatch&) = delete;
  std::vector<size_t> wait(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Serves peers on a ZeroMQ ROUTER socket bound to `endpoint` ("tcp://127.0.0.1:*" picks a
// port). Bad messages are answered with a typed error and dropped; nothing is written from them.
class Server {
 public:
  using Log = std::function<void(const std::string&)>;
  Server(sync::Engine& engine, const std::string& endpoint, Log log = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::string endpoint() const;  // as bound, with the actual port
  // Answers requests until `stop` is true (checked at least every 100 ms).
  void run(const std::atomic<bool>& stop);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sitesync::node
