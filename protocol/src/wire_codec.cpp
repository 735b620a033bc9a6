// Codec of the wire messages (wire.capnp) between plain values and packed Cap'n Proto bytes.
#include "protocol/protocol.h"
#include "protocol/src/wire.h"
#include "wire.capnp.h"

#include <zstd.h>

#include <memory>

namespace sitesync {

const uint32_t kProtocolVersion = schema::PROTOCOL_VERSION;

namespace {

// A batch's changes go as one zstd frame once they are this large; below it the frame's header
// outweighs what it saves. Level 1: the bulk case is bound by the receiver, and level 1 already
// takes out what repeats between changes (origin, author, clock, neighbouring ids).
constexpr size_t kCompressFrom = 256;
constexpr int kCompressionLevel = 1;
// What a compressed batch may expand to: the most an uncompressed message may hold.
constexpr size_t kMaxDecompressedBytes = size_t(wire::kMaxMessageWords) * 8;
// The largest decompressed batch whose buffer a thread keeps: the 16 MiB batches nodes send by
// default, with their length prefixes and the changes that close a signed run past the bound.
// A larger batch still decodes, into a buffer allocated for it.
constexpr size_t kKeptDecompressedBytes = size_t(17) << 20;

void putVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}

uint64_t getVarint(std::string_view in, size_t& pos) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= in.size()) throw DecodeError("malformed batch: a change length is cut off");
    const uint8_t byte = uint8_t(in[pos++]);
    v |= uint64_t(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return v;
  }
  throw DecodeError("malformed batch: a change length is longer than 64 bits");
}

// The frame of `changes`, valid until the thread's next call. Both buffers are kept by the
// thread: a bulk sends thousands of 6 MB batches, and allocating (and zeroing) two buffers
// that size for each was a quarter of a sending branch's CPU.
std::string_view compressChanges(const std::vector<std::string>& changes) {
  thread_local std::string plain, frame;
  plain.clear();
  for (const auto& c : changes) {
    putVarint(plain, c.size());
    plain.append(c);
  }
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> context(ZSTD_createCCtx(),
                                                                          ZSTD_freeCCtx);
  const size_t bound = ZSTD_compressBound(plain.size());
  if (frame.size() < bound) frame.resize(bound);  // only grows: never zeroed again
  const size_t n = ZSTD_compressCCtx(context.get(), frame.data(), bound, plain.data(), plain.size(),
                                     kCompressionLevel);
  if (ZSTD_isError(n)) throw Error(std::string("zstd: ") + ZSTD_getErrorName(n));
  return std::string_view(frame.data(), n);
}

std::vector<std::string> decompressChanges(capnp::Data::Reader frame) {
  const unsigned long long size = ZSTD_getFrameContentSize(frame.begin(), frame.size());
  if (size == ZSTD_CONTENTSIZE_ERROR)
    throw DecodeError("malformed batch: the compressed changes are not a zstd frame");
  if (size == ZSTD_CONTENTSIZE_UNKNOWN)
    throw DecodeError("malformed batch: the compressed changes do not state their size");
  if (size > kMaxDecompressedBytes)
    throw DecodeError("malformed batch: the compressed changes would expand past " +
                      std::to_string(kMaxDecompressedBytes >> 20) + " MiB");
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> context(ZSTD_createDCtx(),
                                                                          ZSTD_freeDCtx);
  // A batch of the usual size decompresses into a buffer the thread keeps (grown once, not
  // allocated and zeroed per batch). A larger one (a peer's header may claim up to
  // kMaxDecompressedBytes) gets a buffer of its own, freed after it: one hostile message must
  // not keep 64 MiB for good.
  thread_local std::string kept;
  std::string own;
  std::string& buffer = size <= kKeptDecompressedBytes ? kept : own;
  if (buffer.size() < size) buffer.resize(size);
  // The output bound is the size the header states: no frame (or frames) can write past it.
  const size_t n =
      ZSTD_decompressDCtx(context.get(), buffer.data(), size_t(size), frame.begin(), frame.size());
  if (ZSTD_isError(n) || n != size)
    throw DecodeError("malformed batch: the compressed changes are corrupt");
  const std::string_view plain(buffer.data(), n);
  std::vector<std::string> changes;
  for (size_t pos = 0; pos < plain.size();) {
    const uint64_t length = getVarint(plain, pos);
    if (length > plain.size() - pos) throw DecodeError("malformed batch: a change is cut off");
    if (changes.size() == wire::kMaxListed)
      throw DecodeError("malformed message: more than " + std::to_string(wire::kMaxListed) +
                        " changes");
    changes.emplace_back(plain.data() + pos, size_t(length));
    pos += size_t(length);
  }
  return changes;
}

void putBatch(schema::ChangeBatch::Builder b, const ChangeBatchMsg& m) {
  b.setComplete(m.complete);
  size_t total = 0;
  for (const auto& c : m.changes) total += c.size();
  if (total >= kCompressFrom) {
    const std::string_view frame = compressChanges(m.changes);
    b.setCompressed(
        capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(frame.data()), frame.size()));
    return;
  }
  auto list = b.initChanges(static_cast<unsigned>(m.changes.size()));
  for (unsigned i = 0; i < m.changes.size(); ++i)
    list.set(i, capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(m.changes[i].data()),
                                    m.changes[i].size()));
}

ChangeBatchMsg getBatch(schema::ChangeBatch::Reader r) {
  ChangeBatchMsg m;
  m.complete = r.getComplete();
  if (r.hasCompressed()) {
    if (r.hasChanges())
      throw DecodeError("malformed batch: it carries changes both compressed and plain");
    m.changes = decompressChanges(r.getCompressed());
    return m;
  }
  m.changes.reserve(wire::capped(r.getChanges(), wire::kMaxListed, "changes").size());
  for (auto d : r.getChanges())
    m.changes.emplace_back(reinterpret_cast<const char*>(d.begin()), d.size());
  return m;
}

capnp::Data::Reader bytes(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(s.data()), s.size());
}
std::string fromBytes(capnp::Data::Reader d) {
  return std::string(reinterpret_cast<const char*>(d.begin()), d.size());
}

void putRecordId(std::string& out, RecordId id) {
  for (uint64_t v : {id.site, id.counter})
    for (int i = 7; i >= 0; --i) out.push_back(char((v >> (8 * i)) & 0xff));
}
RecordId getRecordId(capnp::Data::Reader d) {
  if (d.size() != 16) throw DecodeError("a snapshot history record id must be 16 bytes");
  uint64_t v[2] = {0, 0};
  for (size_t i = 0; i < 16; ++i) v[i / 8] = (v[i / 8] << 8) | d[i];
  return RecordId{v[0], v[1]};
}

void putSnapshotChunk(schema::SnapshotChunk::Builder b, const SnapshotChunkMsg& m) {
  wire::putVector(b.initVector(unsigned(m.vector.entries().size())), m.vector);
  b.setLastHlc(m.lastHlc.packed);
  b.setDeployment(m.deployment);
  b.setSettings(bytes(m.settings));
  auto records = b.initRecords(unsigned(m.records.size()));
  for (unsigned i = 0; i < m.records.size(); ++i) records.set(i, bytes(m.records[i]));
  auto history = b.initHistory(unsigned(m.history.size()));
  std::string id;
  for (unsigned i = 0; i < m.history.size(); ++i) {
    id.clear();
    putRecordId(id, m.history[i].record);
    history[i].setRecord(bytes(id));
    history[i].setEntry(bytes(m.history[i].entry));
  }
  b.setNextKey(bytes(m.nextKey));
  b.setAfterKey(bytes(m.afterKey));
  b.setComplete(m.complete);
  b.setTotalRecords(m.totalRecords);
  auto leases = b.initLeases(unsigned(m.leases.size()));
  for (unsigned i = 0; i < m.leases.size(); ++i) wire::putLease(leases[i], m.leases[i]);
}

SnapshotChunkMsg getSnapshotChunk(schema::SnapshotChunk::Reader r) {
  SnapshotChunkMsg m;
  m.vector = wire::getVector(r.getVector());
  m.lastHlc = Hlc{r.getLastHlc()};
  m.deployment = r.getDeployment();
  m.settings = fromBytes(r.getSettings());
  m.records.reserve(wire::capped(r.getRecords(), wire::kMaxListed, "records").size());
  for (auto d : r.getRecords()) m.records.push_back(fromBytes(d));
  m.history.reserve(wire::capped(r.getHistory(), wire::kMaxListed, "history entries").size());
  for (auto h : r.getHistory())
    m.history.push_back(SnapshotHistoryItem{getRecordId(h.getRecord()), fromBytes(h.getEntry())});
  m.nextKey = fromBytes(r.getNextKey());
  m.afterKey = fromBytes(r.getAfterKey());
  m.complete = r.getComplete();
  m.totalRecords = r.getTotalRecords();
  for (auto l : wire::capped(r.getLeases(), wire::kMaxListed, "leases")) {
    m.leases.push_back(wire::getLease(l));
    if (m.leases.back().site == 0 || m.leases.back().first > m.leases.back().last)
      throw DecodeError("a snapshot holds a malformed number lease");
  }
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
          b.setDeployment(m.deployment);
          b.setStream(m.stream);
          b.setCredit(m.credit);
          if (!m.siteKey.empty()) b.setSiteKey(bytes(m.siteKey));
          if (!m.siteProof.empty()) b.setSiteProof(bytes(m.siteProof));
          if (!m.revoked.entries().empty())
            wire::putVector(b.initRevoked(unsigned(m.revoked.entries().size())), m.revoked);
          wire::putVector(b.initVector(unsigned(m.vector.entries().size())), m.vector);
          if (!m.filter.empty()) b.setFilter(capnp::Text::Reader(m.filter.data(), m.filter.size()));
        } else if constexpr (std::is_same_v<T, ChangeBatchMsg>) {
          putBatch(root.initChanges(), m);
        } else if constexpr (std::is_same_v<T, AckMsg>) {
          wire::putVector(root.initAck().initVector(unsigned(m.vector.entries().size())), m.vector);
        } else if constexpr (std::is_same_v<T, HeartbeatMsg>) {
          wire::putVector(root.initHeartbeat().initVector(unsigned(m.vector.entries().size())),
                          m.vector);
        } else if constexpr (std::is_same_v<T, SnapshotRequestMsg>) {
          auto b = root.initSnapshotRequest();
          b.setAfterKey(bytes(m.afterKey));
          b.setMaxBytes(m.maxBytes);
          if (!m.filter.empty()) b.setFilter(capnp::Text::Reader(m.filter.data(), m.filter.size()));
          if (!m.since.entries().empty())
            wire::putVector(b.initSince(unsigned(m.since.entries().size())), m.since);
          if (!m.held.empty()) b.setHeld(bytes(m.held));
        } else if constexpr (std::is_same_v<T, SnapshotChunkMsg>) {
          putSnapshotChunk(root.initSnapshotChunk(), m);
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
        HelloMsg hello;
        hello.protocolVersion = h.getProtocolVersion();
        hello.siteId = h.getSiteId();
        hello.siteName = wire::text(h.getSiteName());
        hello.isHub = h.getIsHub();
        hello.vector = wire::getVector(h.getVector());
        hello.deployment = h.getDeployment();
        hello.stream = h.getStream();
        hello.credit = h.getCredit();
        hello.siteKey = fromBytes(h.getSiteKey());
        hello.siteProof = fromBytes(h.getSiteProof());
        hello.revoked = wire::getVector(h.getRevoked());
        hello.filter = wire::text(h.getFilter());
        return hello;
      }
      case schema::Message::CHANGES:
        return getBatch(r.getChanges());
      case schema::Message::ACK:
        return AckMsg{wire::getVector(r.getAck().getVector())};
      case schema::Message::PULL:
      case schema::Message::PULL_REPLY:
        throw DecodeError("a pull, retired with protocol 5 (every session streams)");
      case schema::Message::ERROR: {
        auto code = static_cast<uint16_t>(r.getError().getCode());
        if (code > static_cast<uint16_t>(WireError::kOutsideRights))
          throw DecodeError("unknown error code " + std::to_string(code));
        return ErrorMsg{static_cast<WireError>(code), wire::text(r.getError().getMessage())};
      }
      case schema::Message::HEARTBEAT:
        return HeartbeatMsg{wire::getVector(r.getHeartbeat().getVector())};
      case schema::Message::SNAPSHOT_REQUEST: {
        auto q = r.getSnapshotRequest();
        SnapshotRequestMsg request{fromBytes(q.getAfterKey()), q.getMaxBytes()};
        request.filter = wire::text(q.getFilter());
        request.since = wire::getVector(q.getSince());
        request.held = fromBytes(q.getHeld());
        if (request.held.size() % 16 != 0)
          throw DecodeError("a snapshot request's held ids are not 16 bytes each");
        return request;
      }
      case schema::Message::SNAPSHOT_CHUNK:
        return getSnapshotChunk(r.getSnapshotChunk());
    }
    throw DecodeError("unknown message type");
  });
}

}  // namespace sitesync
