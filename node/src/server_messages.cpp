// The running node's handling of what arrives: hellos, change batches (applied, acknowledged or
// refused with a typed error), acks, heartbeats, snapshot requests and chunks, and the strikes
// that get an abusive connection ignored.
#include "node/src/server_impl.h"

namespace sitesync::node {

void Server::Impl::strike(Link* link, const std::string* identity) {
  const std::string who = link ? (link->outgoing ? link->endpoint : link->identity)
                               : (identity ? *identity : std::string());
  if (!gate.strike(who)) return;
  say("dropped " + (link ? nameOf(*link) : std::string("a session")) + " after " +
      std::to_string(Gatekeeper::kMaxStrikes) + " malformed messages; ignoring it for " +
      std::to_string(Gatekeeper::kQuarantine.count()) + " s");
  if (link) drop(*link, "too many malformed messages");
  // An incoming connection (link or session) is ignored for a while; an outgoing link backs off.
  if (const std::string* id = link && !link->outgoing ? &link->identity : identity) {
    sessions.erase(*id);
    gate.quarantine(*id);
  }
}

void Server::Impl::applyBatch(const ChangeBatchMsg& batch, Link* link, const std::string* identity,
                              const std::function<void(const WireMessage&)>& answer) {
  bool acknowledged = false;
  try {
    auto report = engine.applyBatch(
        batch.changes, [&](const sync::VerifiedBatch& v) { relayAhead(batch, v, link); },
        [&](const VersionVector& promised) {
          acknowledged = true;
          answer(AckMsg{promised});
        },
        bytesOfCurrent);
    if (!report.followUpError.empty())
      say("applied a batch, but what it called for failed: " + report.followUpError);
    if (!report.stagedError.empty())
      say("a batch acknowledged before it was applied: " + report.stagedError);
    if (!report.setAside.empty()) say("a batch set aside in the inbox: " + report.setAside);
    if (!report.settingsDecided.empty()) say(report.settingsDecided);
    if (link) {
      link->received += report.applied;
      joinInto(link->peerVector, report.carried);  // the sender holds what it sent
    }
    if (!acknowledged) answer(AckMsg{report.vector});
  } catch (const DecodeError& e) {
    say(std::string("malformed batch: ") + e.what());
    strike(link, identity);
    answer(ErrorMsg{WireError::kMalformed, e.what()});
  } catch (const std::exception& e) {
    if (acknowledged) {
      // Durable in the inbox: applied when the node next starts (or the write next succeeds).
      say(std::string("a batch acknowledged before it was applied waits in the inbox: ") +
          e.what());
      return;
    }
    // A change of the batch cannot apply here: the peer is told so. Anything else (the store
    // failed, a bug) is this node's own failure, not the batch's: the peer hears it as internal.
    const bool cannotApply = dynamic_cast<const sync::ApplyError*>(&e) != nullptr;
    say(std::string(cannotApply ? "refused a batch: " : "could not apply a batch: ") + e.what());
    answer(ErrorMsg{cannotApply ? WireError::kCannotApply : WireError::kInternal, e.what()});
  }
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
  auto forward = [&](Link& link) {
    if (&link == from || !link.up || link.peerNeedsSnapshot || link.needSnapshot ||
        link.snapshotting || !link.peerRevoked.entries().empty() ||
        link.inFlight.size() >= link.credit)
      return;
    for (const auto& [origin, seq] : verified.first.entries())
      if (link.peerVector.get(origin) + 1 != seq) return;
    link.inFlight.push_back(batch.changes.size());
    ++link.relayedAhead;
    joinInto(link.peerVector, verified.last);
    if (!encoded) encoded = frame(ChangeBatchMsg{batch.changes, false});
    zmq::message_t copy;
    copy.copy(*encoded);
    sendFrame(link, std::move(copy));
  };
  for (auto& link : outgoing) forward(*link);
  for (auto& [id, link] : incoming) forward(*link);
}

std::optional<ErrorMsg> Server::Impl::checkHello(const HelloMsg& hello) {
  auto refusal = refuseHello(engine, hello, senderKeyOfCurrent);
  if (refusal) say("refused '" + hello.siteName + "': " + refusal->message);
  return refusal;
}

void Server::Impl::onLinkMessage(Link& link, WireMessage message) {
  link.lastHeard = Clock::now();
  if (auto* batch = std::get_if<ChangeBatchMsg>(&message)) {
    bool refused = false;
    applyBatch(*batch, &link, nullptr, [&](const WireMessage& answer) {
      sendTo(link, answer);
      refused = std::holds_alternative<ErrorMsg>(answer);
    });
    if (refused) drop(link, "sent a batch that was refused");
  } else if (auto* ack = std::get_if<AckMsg>(&message)) {
    if (link.inFlight.empty()) return;
    link.sent += link.inFlight.front();
    link.inFlight.pop_front();
    joinInto(link.peerVector, asHeldBy(link, ack->vector));
  } else if (auto* heartbeat = std::get_if<HeartbeatMsg>(&message)) {
    // With nothing in flight the peer's vector is at least what it acknowledged. If it is
    // less, batches were lost (a reconnect under the link): stream again from there. A peer
    // that was sent for a snapshot says what it holds now the same way.
    const VersionVector held = asHeldBy(link, heartbeat->vector);
    if (link.inFlight.empty() && (link.peerNeedsSnapshot ? !(held == link.peerVector)
                                                         : lacksSomething(held, link.peerVector))) {
      link.peerVector = held;
      aim(link);
    } else {
      joinInto(link.peerVector, held);
    }
  } else if (auto* request = std::get_if<SnapshotRequestMsg>(&message)) {
    sendTo(link, snapshotChunk(*request));
  } else if (auto* chunk = std::get_if<SnapshotChunkMsg>(&message)) {
    onSnapshotChunk(link, *chunk);
  } else if (auto* error = std::get_if<ErrorMsg>(&message)) {
    if (error->code == WireError::kNeedSnapshot) {
      link.needSnapshot = true;
      return;
    }
    drop(link, "peer refused: " + error->message);
  } else if (std::holds_alternative<HelloMsg>(message)) {
    // A repeated hello on an established link (the peer restarted the stream): re-aim.
    auto& hello = std::get<HelloMsg>(message);
    if (!link.outgoing) {
      if (auto refusal = checkHello(hello)) {
        sendTo(link, *refusal);
        return;
      }
      sendTo(link, selfHello(true));
    }
    establish(link, hello);
  } else {
    sendTo(link, ErrorMsg{WireError::kMalformed, "unexpected message on a streaming link"});
  }
}

SnapshotChunkMsg Server::Impl::snapshotChunk(const SnapshotRequestMsg& request) {
  const size_t maxBytes = std::clamp<size_t>(request.maxBytes, 1 << 16, size_t(16) << 20);
  return engine.snapshotChunk(request.afterKey, maxBytes);
}

void Server::Impl::onSnapshotChunk(Link& link, const SnapshotChunkMsg& chunk) {
  if (!link.snapshotting) return;
  try {
    engine.mergeSnapshotChunk(chunk);
  } catch (const std::exception& e) {
    drop(link, std::string("snapshot refused: ") + e.what());
    return;
  }
  if (!chunk.complete) {
    sendTo(link, SnapshotRequestMsg{chunk.nextKey, kSnapshotChunkBytes});
    return;
  }
  link.snapshotting = false;
  link.needSnapshot = false;
  say("snapshot from " + nameOf(link) + " complete");
  // Tell the peer what this node holds now, so its stream resumes from there.
  sendTo(link, HeartbeatMsg{engine.heldVector()});
}

void Server::Impl::onRouterMessage(const std::string& identity, WireMessage message) {
  if (auto it = incoming.find(identity); it != incoming.end()) {
    onLinkMessage(*it->second, std::move(message));
    return;
  }
  if (auto* hello = std::get_if<HelloMsg>(&message)) {
    onRouterHello(identity, *hello);
    return;
  }
  auto session = sessions.find(identity);
  if (session == sessions.end()) {
    reply(identity,
          ErrorMsg{WireError::kNoSession, "say hello first: this connection has no session"});
    return;
  }
  session->second = Clock::now();
  if (auto* batch = std::get_if<ChangeBatchMsg>(&message)) {
    applyBatch(*batch, nullptr, &identity,
               [&](const WireMessage& answer) { reply(identity, answer); });
  } else if (auto* pull = std::get_if<PullMsg>(&message)) {
    reply(identity, answerPull(*pull));
  } else if (auto* request = std::get_if<SnapshotRequestMsg>(&message)) {
    reply(identity, snapshotChunk(*request));
  } else if (std::holds_alternative<HeartbeatMsg>(message)) {
    // a one-shot session keeping itself alive: nothing to answer
  } else {
    reply(identity, ErrorMsg{WireError::kMalformed,
                             "unexpected message: requests are hello, changes, pull and "
                             "snapshotRequest"});
  }
}

void Server::Impl::onRouterHello(const std::string& identity, const HelloMsg& hello) {
  if (auto refusal = checkHello(hello)) {
    reply(identity, *refusal);
    return;
  }
  if (hello.stream) {
    auto link = std::make_unique<Link>();
    link->identity = identity;
    link->key = senderKeyOfCurrent;
    Link& added = *link;
    incoming[identity] = std::move(link);
    sendTo(added, selfHello(true));
    establish(added, hello);
    return;
  }
  sessions[identity] = Clock::now();
  leaseNumbersTo(hello);
  reply(identity, selfHello(false));
  // Bookkeeping after the answer: this write waits while a staged batch is being written,
  // and the peer need not.
  engine.notePeerSession(hello.siteId, hello.siteName, {}, hello.vector, 0, 0);
}

WireMessage Server::Impl::answerPull(const PullMsg& pull) {
  // The log shows a staged batch once it is written: wait for it only if the peer lacks it
  // (the peer that sent it pulls at once, and need not wait).
  if (engine.stagedBeyond(pull.vector)) settle();
  if (pull.fromPosition == 0 && !engine.logReaches(pull.vector)) return needSnapshotError();
  uint64_t from =
      pull.fromPosition ? pull.fromPosition : engine.firstPositionMissingFrom(pull.vector);
  auto out = engine.changesMissingFrom(pull.vector, from, options.batchChanges, options.batchBytes);
  return PullReplyMsg{ChangeBatchMsg{std::move(out.changes), out.complete}, out.nextPosition};
}

}  // namespace sitesync::node
