// PeerWatch: news from peers without asking every few milliseconds.
#include <algorithm>

#include "node/node.h"
#include "node/src/transport.h"

namespace sitesync::node {

struct PeerWatch::Impl {
  sync::Engine& engine;
  std::vector<std::string> endpoints;
  zmq::context_t context{1};
  std::vector<zmq::socket_t> sockets;
  std::vector<std::chrono::steady_clock::time_point> lastHello;

  Impl(sync::Engine& e, std::vector<std::string> eps) : engine(e), endpoints(std::move(eps)) {
    for (const auto& endpoint : endpoints) {
      sockets.emplace_back(context, zmq::socket_type::dealer);
      sockets.back().set(zmq::sockopt::linger, 0);
      sockets.back().set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
      sockets.back().connect(endpoint);
      lastHello.push_back(std::chrono::steady_clock::time_point{});
    }
  }

  void helloWhereDue() {
    const auto now = std::chrono::steady_clock::now();
    std::optional<HelloMsg> hello;
    for (size_t i = 0; i < sockets.size(); ++i) {
      if (now - lastHello[i] < std::chrono::seconds(1)) continue;
      if (!hello) {
        auto status = engine.status();
        hello = HelloMsg{kProtocolVersion,  status.meta.siteId, status.meta.siteName,
                         status.meta.isHub, status.vector,      true};
      }
      // A peer that is down just queues the hello (ZeroMQ); its answer comes when it is back.
      sockets[i].send(frame(*hello), zmq::send_flags::dontwait);
      lastHello[i] = now;
    }
  }
};

PeerWatch::PeerWatch(sync::Engine& engine, std::vector<std::string> endpoints)
    : impl_(std::make_unique<Impl>(engine, std::move(endpoints))) {}

PeerWatch::~PeerWatch() = default;

std::vector<size_t> PeerWatch::wait(std::chrono::milliseconds timeout) {
  impl_->helloWhereDue();
  std::vector<zmq::pollitem_t> items;
  for (auto& s : impl_->sockets) items.push_back({s.handle(), 0, ZMQ_POLLIN, 0});
  std::vector<size_t> news;
  if (items.empty()) return news;
  try {
    zmq::poll(items.data(), items.size(), timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
    return news;
  }
  VersionVector mine;
  bool haveMine = false;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!(items[i].revents & ZMQ_POLLIN)) continue;
    zmq::message_t message;
    while (impl_->sockets[i].recv(message, zmq::recv_flags::dontwait)) {
      WireMessage decoded;
      try {
        decoded = decodeWireMessage(message.to_string_view());
      } catch (const DecodeError&) {
        continue;  // a watch is only a hint; the session will report real trouble
      }
      auto* hello = std::get_if<HelloMsg>(&decoded);
      if (!hello) continue;
      if (!haveMine) {
        mine = impl_->engine.status().vector;
        haveMine = true;
      }
      const bool lacking =
          std::any_of(hello->vector.entries().begin(), hello->vector.entries().end(),
                      [&](const auto& entry) { return entry.second > mine.get(entry.first); });
      if (lacking && std::find(news.begin(), news.end(), i) == news.end()) news.push_back(i);
    }
  }
  return news;
}

}  // namespace sitesync::node
