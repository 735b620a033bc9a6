// Private to node/: sending and receiving one wire message per ZeroMQ frame.
#pragma once

#include <zmq.hpp>

#include <string>
#include <vector>

#include "protocol/protocol.h"

namespace sitesync::node {

// Hostile peers cannot make a node buffer more than this in one message.
inline constexpr int64_t kMaxFrameBytes = int64_t(256) << 20;

inline zmq::message_t frame(const WireMessage& message) {
  thread_local std::string bytes;
  encode(message, bytes);
  return zmq::message_t(bytes.data(), bytes.size());
}

// The frames of the next message waiting on `socket` (none: nothing waiting).
inline std::vector<zmq::message_t> receiveParts(zmq::socket_t& socket) {
  std::vector<zmq::message_t> parts;
  for (;;) {
    zmq::message_t part;
    if (!socket.recv(part, zmq::recv_flags::dontwait)) break;
    const bool more = part.more();
    parts.push_back(std::move(part));
    if (!more) break;
  }
  return parts;
}

}  // namespace sitesync::node
