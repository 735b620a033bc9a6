// Private to node/: why an outgoing connection fails, read from its socket's monitor events, so
// that `sync`, `join` and `serve`'s links say it at once (connection refused, key refused by the
// peer) instead of after their timeout. Both sides word a cause the same way.
#pragma once

#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>

namespace sitesync::node {

// How long a TCP connect may take before it counts as no answer (a host that drops packets).
inline constexpr std::chrono::milliseconds kConnectTimeout{5000};

struct LinkFailure {
  bool keyRefused = false;  // the peer refused this node's CURVE key
  std::string cause;        // one line, without the endpoint
};

class LinkMonitor {
 public:
  // Watches `socket` (call before it connects) through an inproc PAIR in `context`; `secure`:
  // the socket is a CURVE client. Sets the socket's connect timeout.
  LinkMonitor(zmq::context_t& context, zmq::socket_t& socket, bool secure)
      : events_(context, zmq::socket_type::pair), secure_(secure) {
    static std::atomic<unsigned> monitors{0};
    const std::string at = "inproc://link-monitor-" + std::to_string(monitors++);
    socket.set(zmq::sockopt::connect_timeout, int(kConnectTimeout.count()));
    events_.set(zmq::sockopt::linger, 0);
    if (zmq_socket_monitor(socket.handle(), at.c_str(),
                           ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) == 0)
      events_.connect(at);
  }
  // Readable when an event waits (for a poll).
  zmq::socket_t& events() { return events_; }

  // The failure among the events waiting, if any; reads them all (none left to block the
  // monitored socket).
  std::optional<LinkFailure> failure() {
    std::optional<LinkFailure> found;
    for (;;) {
      zmq::message_t event, address;
      if (!events_.recv(event, zmq::recv_flags::dontwait)) return found;
      if (event.more()) (void)events_.recv(address, zmq::recv_flags::none);
      uint16_t code = 0;
      if (event.size() >= 2) std::memcpy(&code, event.data(), 2);
      if (!found) found = describe(code);
    }
  }

 private:
  LinkFailure describe(uint16_t code) const {
    if (code == ZMQ_EVENT_CONNECT_RETRIED)
      return {false, std::chrono::steady_clock::now() - started_ < kConnectTimeout / 2
                         ? "connection refused: is a node serving there?"
                         : "no answer: the connection timed out"};
    if (code == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
      return {true,
              "key refused by the peer: this node's key is not on its allow list (its admin runs "
              "`sitesync peers add --key` with what `sitesync keys show` prints here)"};
    return {false, secure_ ? "handshake failed: it does not answer with the key the allow list "
                             "gives for it (or it does not use CURVE)"
                           : "handshake failed: it requires CURVE (add it with `sitesync peers "
                             "add --endpoint`)"};
  }

  zmq::socket_t events_;
  bool secure_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace sitesync::node
