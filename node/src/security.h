// Private to node/: link security (DESIGN.md section 7). CURVE keys on the sockets, the ZAP
// handler that admits only keys on the allow list, and the allow list as the node sees it.
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
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

// The key a message's sender proved (its ZAP user id); empty on a plain link.
std::string senderKey(const zmq::message_t& message);

// Who may talk to a running node: its keys and allow list (CURVE and the ZAP handler once the
// list is configured), and its memory of connections that sent malformed messages (five drop a
// connection, which is then ignored for a minute). Used from the node's one thread.
class Gatekeeper {
 public:
  using Clock = std::chrono::steady_clock;
  using Log = std::function<void(const std::string&)>;
  static constexpr int kMaxStrikes = 5;
  static constexpr auto kQuarantine = std::chrono::seconds(60);

  Gatekeeper(sync::Engine& engine, std::optional<Identity> identity, Log log);
  bool secure() const { return secure_; }
  const Identity& identity() const { return *identity_; }
  // Makes `router` anew (CURVE, with the ZAP handler, when secure) and binds it to `endpoint`,
  // retrying for a second while the port is still closing from a previous bind. Returns the
  // address as bound.
  std::string bind(zmq::context_t& context, zmq::socket_t& router, const std::string& endpoint);
  zmq::socket_t* zap() { return zap_.get(); }
  void answerZap() { answerZap_(*zap_, allowed_, log_); }

  // Re-reads the allow list every half second: kBecameSecure when the first peer was just
  // allowed (the node re-binds and reconnects), kChanged when keys may have come or gone.
  enum class News { kNone, kChanged, kBecameSecure };
  News refresh(Clock::time_point now);
  bool allows(const std::string& key) const { return allowed_.byKey(key) != nullptr; }
  const AllowedPeer* peerAt(const std::string& endpoint) const {
    return allowed_.byEndpoint(endpoint);
  }

  // Counts a malformed message from `who`; true when it is the one that gets `who` dropped.
  bool strike(const std::string& who);
  void quarantine(const std::string& identity) {
    quarantined_[identity] = Clock::now() + kQuarantine;
  }
  bool ignoring(const std::string& identity);
  uint64_t malformed() const { return malformed_; }

 private:
  static void answerZap_(zmq::socket_t& zap, const AllowList& allowed, const Log& log);
  std::optional<Identity> identity_;
  Log log_;
  AllowList allowed_;
  bool secure_ = false;
  std::unique_ptr<zmq::socket_t> zap_;
  Clock::time_point lastRefresh_ = Clock::now();
  std::map<std::string, int> strikes_;
  std::map<std::string, Clock::time_point> quarantined_;
  uint64_t malformed_ = 0;
};

}  // namespace sitesync::node
