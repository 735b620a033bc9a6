// Private to node/: link security (DESIGN.md section 7). CURVE keys on the sockets, the ZAP
// handler that admits only keys on the allow list, and the allow list as the node sees it.
#pragma once

#include <zmq.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "node/node.h"

namespace sitesync::node {

// The allow list as last read from the store (the CLI changes it from other processes; a
// running node re-reads it every half second, so changes take effect without a restart).
class AllowList {
 public:
  explicit AllowList(sync::Engine& engine) : engine_(engine) { refresh(); }
  // Re-reads the list; returns true when it changed.
  bool refresh();
  bool configured() const { return configured_; }
  const AllowedPeer* byKey(const std::string& publicKey) const;
  // The peer listening at `endpoint` (this node connects there), if any.
  const AllowedPeer* byEndpoint(const std::string& endpoint) const;

 private:
  sync::Engine& engine_;
  bool configured_ = false;
  std::vector<AllowedPeer> peers_;
};

// Makes `socket` a CURVE server with `self`'s keys (ZAP then checks each client's key).
void makeCurveServer(zmq::socket_t& socket, const Identity& self);
// Makes `socket` a CURVE client of the server whose public key is `serverKey`.
void makeCurveClient(zmq::socket_t& socket, const Identity& self, const std::string& serverKey);

// Answers the ZAP requests waiting on `zap` (a REP socket bound to inproc://zeromq.zap.01 in the
// node's context): a client whose key is on the allow list is admitted with its key as user id;
// any other is refused and logged with the key's fingerprint.
void answerZap(zmq::socket_t& zap, const AllowList& allowed,
               const std::function<void(const std::string&)>& log);

// The key a message's sender proved (its ZAP user id); empty on a plain link.
std::string senderKey(const zmq::message_t& message);

}  // namespace sitesync::node
