// Private to node/: sending and receiving one wire message per ZeroMQ frame.
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "protocol/protocol.h"
#include "sync/engine.h"

namespace sitesync::node {

// Hostile peers cannot make a node buffer more than this in one message.
inline constexpr int64_t kMaxFrameBytes = int64_t(256) << 20;

// Snapshot chunks are asked for in about this size (the responder caps it at 64 KiB..16 MiB).
inline constexpr uint32_t kSnapshotChunkBytes = uint32_t(4) << 20;

// What a node answers a peer its log can no longer serve (compacted, or itself from a snapshot).
inline ErrorMsg needSnapshotError() {
  return ErrorMsg{WireError::kNeedSnapshot,
                  "this node's log no longer holds every change you lack: take a snapshot"};
}

// Checks a peer's hello, on either side of a connection: the protocol version; on a CURVE link
// (`linkKey`: the key the peer proved), that its site holds that key; then the deployment (a
// node without one adopts the peer's). The refusal names what differs.
inline std::optional<ErrorMsg> refuseHello(sync::Engine& engine, const HelloMsg& hello,
                                           const std::string& linkKey) {
  if (hello.protocolVersion != kProtocolVersion)
    return ErrorMsg{WireError::kVersionMismatch,
                    "protocol version mismatch: peer '" + hello.siteName + "' speaks " +
                        std::to_string(hello.protocolVersion) + ", this node speaks " +
                        std::to_string(kProtocolVersion)};
  if (!linkKey.empty())
    if (auto status = engine.acceptIdentity(hello, linkKey); !status.isOk())
      return ErrorMsg{WireError::kNotAllowed, status.message()};
  if (auto status = engine.acceptDeployment(hello.deployment, hello.siteName); !status.isOk())
    return ErrorMsg{WireError::kDeploymentMismatch, status.message()};
  return std::nullopt;
}

// The vector to treat a peer as holding: a peer applies none of the changes of a site it revoked
// past the seq it held then (HelloMsg::revoked), so this node neither sends them to it nor waits
// for it to hold them.
inline VersionVector withRevoked(VersionVector peer, const VersionVector& revoked,
                                 const VersionVector& mine) {
  for (const auto& [site, mark] : revoked.entries())
    if (mine.get(site) > peer.get(site)) peer.set(site, mine.get(site));
  return peer;
}

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
