// Internal helpers of the protocol codecs: building messages on reused scratch space, writing
// them as flat bytes, and reading untrusted bytes through an aligned buffer under limits.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/protocol.h"
#include "register.capnp.h"

namespace sitesync::wire {

// A message builder whose first segment is thread-local scratch (no allocation for records).
class Builder : public capnp::MallocMessageBuilder {
 public:
  Builder() : capnp::MallocMessageBuilder(scratch()) {}

 private:
  static kj::ArrayPtr<capnp::word> scratch() {
    // MallocMessageBuilder zeroes the used part of the first segment when it is destroyed.
    thread_local std::vector<capnp::word> words(2048, capnp::word());
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

inline void toBytes(capnp::MessageBuilder& mb, std::string& out) {
  out.clear();
  StringOutput stream(out);
  capnp::writeMessage(stream, mb);
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
}
inline Version getVersion(schema::Version::Reader r) {
  return Version{Hlc{r.getHlc()}, r.getOrigin()};
}

// Limits for untrusted input: a message may not make the reader visit more than a few times its
// own size (amplification through shared pointers) nor nest deeper than the schema does.
inline capnp::ReaderOptions limitsFor(size_t words) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 4 * words + 1024;
  options.nestingLimit = 16;
  return options;
}

// Copies `bytes` into an aligned scratch buffer and calls fn(root). Any malformation is a
// DecodeError; the reader never touches the unaligned original.
template <typename T, typename Fn>
auto read(std::string_view bytes, Fn&& fn) -> decltype(fn(std::declval<typename T::Reader>())) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0)
    throw DecodeError("message size " + std::to_string(bytes.size()) +
                      " is not a whole number of 8-byte words");
  thread_local std::vector<capnp::word> aligned;
  const size_t words = bytes.size() / sizeof(capnp::word);
  if (aligned.size() < words) aligned.resize(words);
  std::memcpy(aligned.data(), bytes.data(), bytes.size());
  try {
    capnp::FlatArrayMessageReader reader(kj::arrayPtr(aligned.data(), words), limitsFor(words));
    if (reader.getEnd() != aligned.data() + words)
      throw DecodeError("trailing bytes after the message");
    return fn(reader.getRoot<T>());
  } catch (const kj::Exception& e) {
    throw DecodeError(std::string("malformed message: ") + e.getDescription().cStr());
  }
}

}  // namespace sitesync::wire
