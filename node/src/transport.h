// Private to node/: sending and receiving one wire message per ZeroMQ frame.
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "protocol/protocol.h"

namespace sitesync::node {

// Hostile peers cannot make a node buffer more than this in one message.
inline constexpr int64_t kMaxFrameBytes = int64_t(256) << 20;

inline zmq::message_t frame(const WireMessage& message) {
  thread_local std::string bytes;
  encode(message, bytes);
  return zmq::message_t(bytes.data(), bytes.size());
}

// Waits up to `timeout` for a message on `socket`.
inline bool waitReadable(zmq::socket_t& socket, std::chrono::milliseconds timeout) {
  zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0}};
  try {
    zmq::poll(items, 1, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return false;  // a signal (SIGTERM): the caller checks its stop flag
    throw;
  }
  return (items[0].revents & ZMQ_POLLIN) != 0;
}

}  // namespace sitesync::node
