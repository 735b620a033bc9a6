// node: the running node around the engine. Today: group commit of local writes from many
// threads (one durable LMDB commit for all writes waiting at that moment). The replication issue
// adds the ZeroMQ transport, peer sessions and scheduling here.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <future>
#include <mutex>
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

}  // namespace sitesync::node
