// The running node's handling of what arrives: messages go to their connection's session
// (sync::PeerSession), a hello opens one; malformed messages earn strikes that get an abusive
// connection ignored; clean batches are relayed to the other sessions before they are written.
#include "node/src/server_impl.h"

namespace sitesync::node {

void Server::Impl::strike(Link* link, const std::string* identity) {
  const std::string who = link ? (link->outgoing ? link->endpoint : link->identity)
                               : (identity ? *identity : std::string());
  if (!gate.strike(who)) return;
  say("dropped " + (link ? nameOf(*link) : std::string("a session")) + " after " +
      std::to_string(Gatekeeper::kMaxStrikes) + " malformed messages; ignoring it for " +
      std::to_string(Gatekeeper::kQuarantine.count()) + " s");
  // An incoming connection is ignored for a while (its link, sessionless, is forgotten by the
  // next tick); an outgoing link backs off.
  if (const std::string* id = link && !link->outgoing ? &link->identity : identity)
    gate.quarantine(*id);
  if (link) drop(*link, "too many malformed messages");
}

void Server::Impl::deliver(Link& link, const WireMessage& message, std::string_view asReceived) {
  link.bytesReceived += asReceived.size();
  if (!link.heard && !link.outgoing) heardIncoming.push_back(link.identity);
  link.heard = true;
  const size_t malformedBefore = link.session->malformed();
  auto out = link.session->onMessage(message, now(), asReceived);
  const bool malformed = link.session->malformed() > malformedBefore;
  if (!settleSession(link, out)) return;
  if (malformed) strike(&link, nullptr);
}

void Server::Impl::settle() {
  try {
    if (auto error = engine.settleStaged(); !error.empty())
      say("a batch acknowledged before it was applied: " + error);
  } catch (const std::exception& e) {
    say(std::string("a batch acknowledged before it was applied still waits in the inbox: ") +
        e.what());
  }
}

// The receiving peer checks the signatures itself, so what the batch gains is this node's own
// write and fsync off the path: a change crosses a hub in one hop plus the receiver's write. The
// peer's stream then skips those changes (its vector counts them as sent); a batch lost on the
// way is recovered like any other, when the peer's heartbeat shows it lacks them.
void Server::Impl::relayAhead(const ChangeBatchMsg& batch, const sync::VerifiedBatch& verified,
                              const Link* from) {
  if (!verified.clean || stopping) return;
  std::optional<zmq::message_t> encoded;  // encoded (and compressed) once, for every peer
  const auto at = now();
  auto forward = [&](Link& link) {
    if (&link == from || !link.session ||
        !link.session->takeRelayed(verified, batch.changes.size(), at))
      return;
    if (!encoded) encoded = frame(ChangeBatchMsg{batch.changes, false});
    zmq::message_t copy;
    copy.copy(*encoded);
    sendFrame(link, std::move(copy));
  };
  for (auto& link : outgoing) forward(*link);
  for (auto& [id, link] : incoming) forward(*link);
}

void Server::Impl::onRouterMessage(const std::string& identity, const WireMessage& message,
                                   std::string_view asReceived, const std::string& senderKey) {
  auto it = incoming.find(identity);
  if (it != incoming.end() && !it->second->session) {  // dropped: a new hello starts over
    incoming.erase(it);
    it = incoming.end();
  }
  if (it == incoming.end()) {
    if (!std::holds_alternative<HelloMsg>(message)) {
      reply(identity,
            ErrorMsg{WireError::kNoSession, "say hello first: this connection has no session"});
      return;
    }
    auto link = std::make_unique<Link>();
    link->identity = identity;
    link->key = senderKey;
    it = incoming.emplace(identity, std::move(link)).first;
    openSession(*it->second);
  }
  Link& link = *it->second;
  deliver(link, message, asReceived);
  if (!link.session) incoming.erase(identity);  // ended (a refused hello, an error)
}

}  // namespace sitesync::node
