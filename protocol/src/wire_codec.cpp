// Codec of the wire messages (wire.capnp) between plain values and packed Cap'n Proto bytes.
#include "protocol/protocol.h"
#include "protocol/src/wire.h"
#include "wire.capnp.h"

namespace sitesync {

namespace {

void putVector(capnp::List<schema::VectorEntry>::Builder list, const VersionVector& v) {
  unsigned i = 0;
  for (const auto& [origin, seq] : v.entries()) {
    list[i].setOrigin(origin);
    list[i].setSeq(seq);
    ++i;
  }
}
VersionVector getVector(capnp::List<schema::VectorEntry>::Reader list) {
  VersionVector v;
  for (auto e : list) v.set(e.getOrigin(), e.getSeq());
  return v;
}

void putBatch(schema::ChangeBatch::Builder b, const ChangeBatchMsg& m) {
  auto list = b.initChanges(static_cast<unsigned>(m.changes.size()));
  for (unsigned i = 0; i < m.changes.size(); ++i)
    list.set(i, capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(m.changes[i].data()),
                                    m.changes[i].size()));
  b.setComplete(m.complete);
}

ChangeBatchMsg getBatch(schema::ChangeBatch::Reader r) {
  ChangeBatchMsg m;
  m.changes.reserve(r.getChanges().size());
  for (auto d : r.getChanges())
    m.changes.emplace_back(reinterpret_cast<const char*>(d.begin()), d.size());
  m.complete = r.getComplete();
  return m;
}

}  // namespace

void encode(const WireMessage& message, std::string& out) {
  wire::Builder mb;
  auto root = mb.initRoot<schema::Message>();
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, HelloMsg>) {
          auto b = root.initHello();
          b.setProtocolVersion(m.protocolVersion);
          b.setSiteId(m.siteId);
          b.setSiteName(capnp::Text::Reader(m.siteName.data(), m.siteName.size()));
          b.setIsHub(m.isHub);
          b.setWatch(m.watch);
          putVector(b.initVector(unsigned(m.vector.entries().size())), m.vector);
        } else if constexpr (std::is_same_v<T, ChangeBatchMsg>) {
          putBatch(root.initChanges(), m);
        } else if constexpr (std::is_same_v<T, AckMsg>) {
          putVector(root.initAck().initVector(unsigned(m.vector.entries().size())), m.vector);
        } else if constexpr (std::is_same_v<T, PullMsg>) {
          auto b = root.initPull();
          putVector(b.initVector(unsigned(m.vector.entries().size())), m.vector);
          b.setFromPosition(m.fromPosition);
        } else if constexpr (std::is_same_v<T, PullReplyMsg>) {
          auto b = root.initPullReply();
          putBatch(b.initBatch(), m.batch);
          b.setNextPosition(m.nextPosition);
        } else {
          auto b = root.initError();
          b.setCode(static_cast<schema::Error::Code>(m.code));
          b.setMessage(capnp::Text::Reader(m.message.data(), m.message.size()));
        }
      },
      message);
  wire::toBytes(mb, out);
}

WireMessage decodeWireMessage(std::string_view bytes) {
  return wire::read<schema::Message>(bytes, [](schema::Message::Reader r) -> WireMessage {
    switch (r.which()) {
      case schema::Message::HELLO: {
        auto h = r.getHello();
        return HelloMsg{h.getProtocolVersion(),      h.getSiteId(),
                        wire::text(h.getSiteName()), h.getIsHub(),
                        getVector(h.getVector()),    h.getWatch()};
      }
      case schema::Message::CHANGES:
        return getBatch(r.getChanges());
      case schema::Message::ACK:
        return AckMsg{getVector(r.getAck().getVector())};
      case schema::Message::PULL:
        return PullMsg{getVector(r.getPull().getVector()), r.getPull().getFromPosition()};
      case schema::Message::PULL_REPLY:
        return PullReplyMsg{getBatch(r.getPullReply().getBatch()),
                            r.getPullReply().getNextPosition()};
      case schema::Message::ERROR: {
        auto code = static_cast<uint16_t>(r.getError().getCode());
        if (code > static_cast<uint16_t>(WireError::kInternal))
          throw DecodeError("unknown error code " + std::to_string(code));
        return ErrorMsg{static_cast<WireError>(code), wire::text(r.getError().getMessage())};
      }
    }
    throw DecodeError("unknown message type");
  });
}

}  // namespace sitesync
