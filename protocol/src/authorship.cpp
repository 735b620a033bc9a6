// The byte layouts of authorship (DESIGN.md section 7, docs/protocol.md "Authorship"): site ids
// derived from public keys, change digests that survive erasure, checkpoints and what they sign.
// The Ed25519 keys themselves live in sync/ (SiteKey); this is the part a client in another
// language must reproduce byte for byte.
#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

#include "protocol/protocol.h"

namespace sitesync {
namespace {

void putU64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i, v >>= 8) b[i] = char(v & 0xff);
  out.append(b, 8);
}
void putU32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 3; i >= 0; --i, v >>= 8) b[i] = char(v & 0xff);
  out.append(b, 4);
}
void putBytes(std::string& out, std::string_view bytes) {
  putU32(out, uint32_t(bytes.size()));
  out.append(bytes);
}
uint64_t readU64(std::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | uint8_t(bytes[i]);
  return v;
}
std::string_view view(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

}  // namespace

Digest sha256(std::string_view bytes) {
  // OpenSSL 3's SHA256() looks the algorithm up among its providers on every call (a lock and a
  // hash table): 510 ns for a 400-byte change against 300 with the algorithm fetched once and
  // a context kept per thread. Every change received is hashed twice.
  static EVP_MD* const algorithm = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> context(EVP_MD_CTX_new(),
                                                                          EVP_MD_CTX_free);
  Digest d;
  unsigned int length = 0;
  if (!algorithm || !context || EVP_DigestInit_ex2(context.get(), algorithm, nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(context.get(), d.data(), &length) != 1 || length != d.size())
    throw Error("sha256: OpenSSL could not compute a digest");
  return d;
}

SiteId siteIdOfKey(std::string_view publicKey) {
  return readU64(view(sha256(publicKey)));
}

Digest personalDataHash(const Change& change) {
  thread_local std::string buffer;
  buffer.assign("sitesync/personal/1");
  putBytes(buffer, change.author);
  putU32(buffer, uint32_t(change.writes.size()));
  for (const FieldWrite& w : change.writes) putBytes(buffer, w.value);
  return sha256(buffer);
}

Digest changeDigest(const Change& c) {
  thread_local std::string buffer;
  buffer.assign("sitesync/change/1");
  putU64(buffer, c.id.origin);
  putU64(buffer, c.id.seq);
  putU64(buffer, c.hlc.packed);
  buffer.push_back(char(c.operation));
  putU64(buffer, c.target.site);
  putU64(buffer, c.target.counter);
  putU32(buffer, uint32_t(c.writes.size()));
  for (const FieldWrite& w : c.writes) {
    putU32(buffer, w.field);
    putBytes(buffer, w.key);
    putU32(buffer, uint32_t(w.replaces.size()));
    for (const Version& v : w.replaces) {
      putU64(buffer, v.hlc.packed);
      putU64(buffer, v.origin);
      putU64(buffer, v.seq);
    }
  }
  putU32(buffer, uint32_t(c.absorbed.size()));
  for (const RecordId& id : c.absorbed) {
    putU64(buffer, id.site);
    putU64(buffer, id.counter);
  }
  putBytes(buffer, c.note);
  putU64(buffer, c.lease.site);
  putU64(buffer, c.lease.first);
  putU64(buffer, c.lease.last);
  if (c.personalHash.size() == sizeof(Digest))
    buffer.append(c.personalHash);
  else
    buffer.append(view(personalDataHash(c)));
  return sha256(buffer);
}

std::string encodeCheckpoint(const Checkpoint& checkpoint) {
  std::string out = checkpoint.publicKey;
  putU64(out, checkpoint.runStart);
  out += checkpoint.signature;
  return out;
}

std::optional<Checkpoint> parseCheckpoint(std::string_view bytes) {
  if (bytes.size() != kCheckpointBytes) return std::nullopt;
  Checkpoint c;
  c.publicKey.assign(bytes.substr(0, 32));
  c.runStart = readU64(bytes.substr(32, 8));
  c.signature.assign(bytes.substr(40, 64));
  return c;
}

std::string runSigningMessage(SiteId origin, uint64_t runStart, uint64_t runEnd,
                              const Digest& runHash) {
  std::string message = "sitesync/run/1";
  putU64(message, origin);
  putU64(message, runStart);
  putU64(message, runEnd);
  message.append(view(runHash));
  return message;
}

std::string helloProofMessage(SiteId site, std::string_view curvePublicKey) {
  std::string message = "sitesync/hello/1";
  putU64(message, site);
  message.append(curvePublicKey);
  return message;
}

}  // namespace sitesync
