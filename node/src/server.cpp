// The serving side of replication: one ROUTER socket, one thread, stateless requests.
#include <map>

#include "node/node.h"
#include "node/src/transport.h"

namespace sitesync::node {

struct Server::Impl {
  sync::Engine& engine;
  Log log;
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::router};
  size_t batchChanges = 2000;
  size_t batchBytes = size_t(4) << 20;
  // Peers that said hello lately (soft state): told at once when this node's log grows.
  std::map<std::string, std::chrono::steady_clock::time_point> watchers;
  uint64_t notifiedLogEnd = 0;
  std::string replyTo;  // identity of the request being answered

  Impl(sync::Engine& e, Log l) : engine(e), log(std::move(l)) {}

  void say(const std::string& line) {
    if (log) log(line);
  }

  WireMessage answer(const WireMessage& request) {
    if (auto* hello = std::get_if<HelloMsg>(&request)) {
      if (hello->protocolVersion != kProtocolVersion) {
        std::string why = "protocol version mismatch: peer '" + hello->siteName + "' speaks " +
                          std::to_string(hello->protocolVersion) + ", this node speaks " +
                          std::to_string(kProtocolVersion);
        say(why);
        return ErrorMsg{WireError::kVersionMismatch, why};
      }
      // A watching hello comes every second from every watcher: it refreshes the watch only,
      // without a durable write; sessions' hellos are recorded.
      if (hello->watch)
        watchers[replyTo] = std::chrono::steady_clock::now();
      else
        engine.notePeerSession(hello->siteId, hello->siteName, {}, hello->vector, 0, 0);
      auto status = engine.status();
      return HelloMsg{kProtocolVersion, status.meta.siteId, status.meta.siteName, status.meta.isHub,
                      status.vector};
    }
    if (auto* batch = std::get_if<ChangeBatchMsg>(&request)) {
      auto report = engine.applyBatch(batch->changes);
      return AckMsg{report.vector};
    }
    if (auto* pull = std::get_if<PullMsg>(&request)) {
      uint64_t from =
          pull->fromPosition ? pull->fromPosition : engine.firstPositionMissingFrom(pull->vector);
      auto out = engine.changesMissingFrom(pull->vector, from, batchChanges, batchBytes);
      return PullReplyMsg{ChangeBatchMsg{std::move(out.changes), out.complete}, out.nextPosition};
    }
    return ErrorMsg{WireError::kMalformed,
                    "unexpected message: only hello, changes and pull "
                    "are requests"};
  }

  // When the log has grown (a local write, another process's, or a peer's push), every peer that
  // said hello in the last few seconds gets an unsolicited hello with the new vector: its cue to
  // run a session. Peers gone quiet are forgotten.
  void notifyWatchers() {
    const auto status = engine.status();
    if (status.logEntries == notifiedLogEnd) return;
    notifiedLogEnd = status.logEntries;
    const auto now = std::chrono::steady_clock::now();
    const HelloMsg hello{kProtocolVersion, status.meta.siteId, status.meta.siteName,
                         status.meta.isHub, status.vector};
    for (auto it = watchers.begin(); it != watchers.end();) {
      if (now - it->second > std::chrono::seconds(5)) {
        it = watchers.erase(it);
        continue;
      }
      socket.send(zmq::buffer(it->first), zmq::send_flags::sndmore);
      socket.send(frame(hello), zmq::send_flags::none);
      ++it;
    }
  }

  void handleOne() {
    std::vector<zmq::message_t> parts;
    for (;;) {
      zmq::message_t part;
      if (!socket.recv(part, zmq::recv_flags::dontwait)) return;
      const bool more = part.more();
      parts.push_back(std::move(part));
      if (!more) break;
    }
    if (parts.size() != 2) {  // [peer identity][message]: anything else is dropped
      say("dropped a request of " + std::to_string(parts.size()) + " frames");
      return;
    }
    replyTo = parts[0].to_string();
    WireMessage reply;
    try {
      reply = answer(decodeWireMessage(parts[1].to_string_view()));
    } catch (const DecodeError& e) {
      say(std::string("malformed request: ") + e.what());
      reply = ErrorMsg{WireError::kMalformed, e.what()};
    } catch (const std::exception& e) {  // a change that cannot apply: nothing was written
      say(std::string("refused a batch: ") + e.what());
      reply = ErrorMsg{WireError::kCannotApply, e.what()};
    }
    socket.send(std::move(parts[0]), zmq::send_flags::sndmore);
    socket.send(frame(reply), zmq::send_flags::none);
  }
};

Server::Server(sync::Engine& engine, const std::string& endpoint, Log log)
    : impl_(std::make_unique<Impl>(engine, std::move(log))) {
  impl_->socket.set(zmq::sockopt::linger, 0);
  impl_->socket.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
  impl_->socket.bind(endpoint);
}

Server::~Server() = default;

std::string Server::endpoint() const {
  return impl_->socket.get(zmq::sockopt::last_endpoint);
}

void Server::run(const std::atomic<bool>& stop) {
  impl_->notifiedLogEnd = impl_->engine.status().logEntries;
  while (!stop.load()) {
    if (waitReadable(impl_->socket, std::chrono::milliseconds(20))) impl_->handleOne();
    impl_->notifyWatchers();
  }
}

}  // namespace sitesync::node
