// Group commit: one committer thread drains the queue into LocalOperations::submit.
#include <exception>
#include <vector>

#include "node/node.h"

namespace sitesync::node {

GroupCommitter::GroupCommitter(sync::Engine& engine, size_t maxBatch)
    : engine_(engine), maxBatch_(maxBatch), worker_([this] { run(); }) {}

GroupCommitter::~GroupCommitter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

sync::OpResult GroupCommitter::submit(sync::LocalOp op) {
  std::future<sync::OpResult> result;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(Pending{std::move(op), {}});
    result = queue_.back().done.get_future();
  }
  wake_.notify_one();
  return result.get();
}

uint64_t GroupCommitter::commits() const {
  std::lock_guard lock(mutex_);
  return commits_;
}

void GroupCommitter::run() {
  for (;;) {
    std::vector<Pending> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && batch.size() < maxBatch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<sync::LocalOp> ops;
    ops.reserve(batch.size());
    for (auto& p : batch) ops.push_back(std::move(p.op));
    try {
      auto results = engine_.submit(ops);
      {
        std::lock_guard lock(mutex_);
        ++commits_;
      }
      for (size_t i = 0; i < batch.size(); ++i) batch[i].done.set_value(std::move(results[i]));
    } catch (...) {
      for (auto& p : batch) p.done.set_exception(std::current_exception());
    }
  }
}

}  // namespace sitesync::node
