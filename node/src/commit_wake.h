// Private to node/: wakes a node's event loop as soon as its engine commits local changes in this
// process (an eventfd polled beside the sockets), so that they are pushed at once rather than at
// the loop's next 1 ms tick. Changes committed by another process are still noticed by the tick.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "sync/engine.h"

namespace sitesync::node {

class CommitWake {
 public:
  explicit CommitWake(sync::Engine& engine)
      : engine_(engine), fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ >= 0)
      engine_.onLocalCommit([fd = fd_] {
        const uint64_t one = 1;
        (void)!::write(fd, &one, sizeof one);
      });
  }
  ~CommitWake() {
    if (fd_ < 0) return;
    engine_.onLocalCommit({});
    ::close(fd_);
  }
  CommitWake(const CommitWake&) = delete;
  CommitWake& operator=(const CommitWake&) = delete;

  int fd() const { return fd_; }  // -1: none (the tick alone notices commits)
  void reset() {
    uint64_t count = 0;
    (void)!::read(fd_, &count, sizeof count);
  }

 private:
  sync::Engine& engine_;
  int fd_;
};

}  // namespace sitesync::node
