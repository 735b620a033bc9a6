// Internal helpers of the protocol codecs: building messages on reused scratch space, writing
// them as flat bytes, and reading untrusted bytes through an aligned buffer under limits.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/protocol.h"
#include "protocol/src/pack.h"
#include "register.capnp.h"

namespace sitesync::wire {

// A message builder whose first segment is thread-local scratch (no allocation for records).
class Builder : public capnp::MallocMessageBuilder {
 public:
  Builder() : capnp::MallocMessageBuilder(scratch()) {}

 private:
  static kj::ArrayPtr<capnp::word> scratch() {
    // MallocMessageBuilder zeroes the used part of the first segment when it is destroyed.
    thread_local std::vector<capnp::word> words(2048);  // value-initialised: zeroes
    return kj::arrayPtr(words.data(), words.size());
  }
};

class StringOutput final : public kj::OutputStream {
 public:
  explicit StringOutput(std::string& out) : out_(out) {}
  void write(const void* buffer, size_t size) override {
    out_.append(static_cast<const char*>(buffer), size);
  }

 private:
  std::string& out_;
};

// Stored and sent messages use Cap'n Proto's packed encoding: registers are mostly small texts
// and null pointers, and packing halves the bytes LMDB writes (the write path's real cost).
inline void toBytes(capnp::MessageBuilder& mb, std::string& out) {
  out.clear();
  // The stream capnp::writePackedMessage packs: the segment table, then each segment (packed
  // piece by piece, as it does, so that the bytes are the same).
  auto segments = mb.getSegmentsForOutput();
  const size_t tableWords = (segments.size() + 2) / 2;
  uint32_t table[2 * 64] = {};
  if (segments.size() > 127) throw Error("message has too many segments");
  table[0] = uint32_t(segments.size() - 1);
  for (size_t i = 0; i < segments.size(); ++i) table[i + 1] = uint32_t(segments[i].size());
  packWords(reinterpret_cast<const uint8_t*>(table), tableWords, out);
  for (auto segment : segments)
    packWords(reinterpret_cast<const uint8_t*>(segment.begin()), segment.size(), out);
}

inline std::string text(capnp::Text::Reader t) {
  return std::string(t.cStr(), t.size());
}

inline void putId(schema::RecordId::Builder b, RecordId id) {
  b.setSite(id.site);
  b.setCounter(id.counter);
}
inline RecordId getId(schema::RecordId::Reader r) {
  return RecordId{r.getSite(), r.getCounter()};
}
inline void putVersion(schema::Version::Builder b, Version v) {
  b.setHlc(v.hlc.packed);
  b.setOrigin(v.origin);
  b.setSeq(v.seq);
}
inline Version getVersion(schema::Version::Reader r) {
  return Version{Hlc{r.getHlc()}, r.getOrigin(), r.getSeq()};
}

// A version vector as a List(KnownSeq), in origin order.
inline void putVector(capnp::List<schema::KnownSeq>::Builder list, const VersionVector& vector) {
  unsigned i = 0;
  for (const auto& [origin, seq] : vector.entries()) {
    list[i].setOrigin(origin);
    list[i].setSeq(seq);
    ++i;
  }
}
// A number lease; its version only where it is known (a snapshot's; a Change's is the change's).
inline void putLease(schema::NumberLease::Builder b, const NumberLease& lease) {
  b.setSite(lease.site);
  b.setFirst(lease.first);
  b.setLast(lease.last);
  if (!lease.version.isNull()) putVersion(b.initVersion(), lease.version);
}
inline NumberLease getLease(schema::NumberLease::Reader r) {
  return NumberLease{r.getSite(), r.getFirst(), r.getLast(),
                     r.hasVersion() ? getVersion(r.getVersion()) : Version{}};
}

// Limits for untrusted input: a message may not unpack to more than kMaxMessageWords (64 MiB),
// make the reader visit more than that (amplification through shared pointers), nor nest deeper
// than the schema does.
inline constexpr uint64_t kMaxMessageWords = uint64_t(8) << 20;
// A list read from untrusted bytes, refused when longer than any honest sender makes it: a list
// of empty elements costs the sender almost nothing, while decoding each one costs memory here.
template <typename List>
List capped(List list, size_t max, const char* what) {
  if (list.size() > max)
    throw DecodeError("malformed message: more than " + std::to_string(max) + " " + what);
  return list;
}
inline constexpr size_t kMaxHeads = 4096;      // concurrent values of one register
inline constexpr size_t kMaxWrites = 4096;     // field writes of one change
inline constexpr size_t kMaxListed = 1000000;  // records, history, changes, sites of a message

inline VersionVector getVector(capnp::List<schema::KnownSeq>::Reader list) {
  VersionVector vector;
  for (auto e : capped(list, kMaxListed, "sites")) vector.set(e.getOrigin(), e.getSeq());
  return vector;
}

inline capnp::ReaderOptions limits() {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kMaxMessageWords;
  options.nestingLimit = 16;
  return options;
}

// Unpacks `bytes` into an aligned, reused scratch buffer (LMDB and ZeroMQ data are not 8-byte
// aligned) and calls fn(root) on it. Any malformation is a DecodeError.
template <typename T, typename Fn>
auto read(std::string_view bytes, Fn&& fn) -> decltype(fn(std::declval<typename T::Reader>())) {
  if (bytes.empty()) throw DecodeError("empty message");
  thread_local std::vector<uint64_t> words(512);
  words.resize(words.capacity());
  if (!unpackWords(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), words,
                   kMaxMessageWords))
    throw DecodeError("malformed message: truncated or oversized packed data");
  try {
    capnp::FlatArrayMessageReader reader(
        kj::arrayPtr(reinterpret_cast<const capnp::word*>(words.data()), words.size()), limits());
    if (reader.getEnd() != reinterpret_cast<const capnp::word*>(words.data() + words.size()))
      throw DecodeError("trailing bytes after the message");
    return fn(reader.getRoot<T>());
  } catch (const kj::Exception& e) {
    throw DecodeError(std::string("malformed message: ") + e.getDescription().cStr());
  }
}

}  // namespace sitesync::wire
