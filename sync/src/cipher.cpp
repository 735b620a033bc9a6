// At-rest encryption of sensitive values (DESIGN.md section 7) with OpenSSL EVP: AES-256-GCM
// under the deployment key, a fresh random nonce per value, and an HMAC-SHA256 token of the
// normalised SSN so that the SSN index, uniqueness and search work on sealed values.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>

#include "storage/store.h"
#include "sync/engine.h"
#include "sync/src/apply_context.h"

namespace sitesync::sync {

namespace {

constexpr size_t kNonceBytes = 12, kTagBytes = 16;

std::string base64(const unsigned char* bytes, size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes, int(n));
  out.resize(size_t(written));
  return out;
}

std::optional<std::string> unbase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * text.size() / 4, '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(text.data()), int(text.size()));
  if (n < 0) return std::nullopt;
  size_t size = size_t(n);
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --size;  // padding
  out.resize(size);
  return out;
}

}  // namespace

FieldCipher::FieldCipher(const std::array<uint8_t, 32>& key) : key_(key) {}

bool FieldCipher::isSealed(std::string_view value) {
  return isSealedValue(value);
}

bool FieldCipher::sensitive(uint16_t field, std::string_view key) {
  if (field == uint16_t(CustomerField::ssn)) return true;
  if (field != kJournalCode) return false;
  auto parsed = parseElementKey(field, key);
  return parsed && parsed->attribute == "text";
}

std::string FieldCipher::mac(std::string_view label, std::string_view text) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  const std::string input = std::string(label) + '\0' + std::string(text);
  if (!HMAC(EVP_sha256(), key_.data(), int(key_.size()),
            reinterpret_cast<const unsigned char*>(input.data()), input.size(), out, &n))
    throw Error("OpenSSL HMAC-SHA256 failed");
  return toHex(out, 16);
}

std::string FieldCipher::ssnToken(std::string_view ssn) const {
  return std::string(kSealedPrefix) + mac("ssn", storage::normalizeSsn(ssn)) + ":";
}

std::string FieldCipher::keyCheck() const {
  return mac("sitesync-at-rest-key-check", "");
}

std::string FieldCipher::seal(uint16_t field, std::string_view plain) const {
  if (plain.empty() || isSealed(plain)) return std::string(plain);
  std::string sealed(kNonceBytes + plain.size() + kTagBytes, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(sealed.data());
  if (RAND_bytes(bytes, int(kNonceBytes)) != 1) throw Error("OpenSSL RAND failed");
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  int n = 0, tail = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), bytes) != 1 ||
      EVP_EncryptUpdate(ctx.get(), bytes + kNonceBytes, &n,
                        reinterpret_cast<const unsigned char*>(plain.data()),
                        int(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), bytes + kNonceBytes + n, &tail) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, int(kTagBytes),
                          bytes + kNonceBytes + plain.size()) != 1)
    throw Error("OpenSSL AES-256-GCM encryption failed");
  // The SSN carries its index token in the clear; a journal text carries none.
  const std::string token =
      field == uint16_t(CustomerField::ssn) ? ssnToken(plain) : std::string(kSealedPrefix) + ":";
  return token + base64(bytes, sealed.size());
}

std::optional<std::string> FieldCipher::open(std::string_view stored) const {
  if (!isSealed(stored)) return std::string(stored);
  const auto colon = stored.find(':', kSealedPrefix.size());
  if (colon == std::string_view::npos) return std::nullopt;
  auto raw = unbase64(stored.substr(colon + 1));
  if (!raw || raw->size() < kNonceBytes + kTagBytes) return std::nullopt;
  auto* bytes = reinterpret_cast<unsigned char*>(raw->data());
  const size_t length = raw->size() - kNonceBytes - kTagBytes;
  std::string plain(length, '\0');
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  int n = 0, tail = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), bytes) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &n,
                        bytes + kNonceBytes, int(length)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, int(kTagBytes),
                          bytes + kNonceBytes + length) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + n, &tail) !=
          1)
    return std::nullopt;  // another key, or altered
  return plain;
}

std::string FieldCipher::reveal(std::string_view stored) const {
  return open(stored).value_or("(encrypted with another key)");
}

// ---------------------------------------------------------------------------------------------
// The engine's side: which store is sealed, and opening values for the reads.

Status Trust::useCipher(const FieldCipher* cipher) {
  const Meta m = core_.engine_.meta();
  if (cipher && m.atRestKeyCheck.empty())
    return Status::failedPrecondition("this store is not encrypted");
  if (cipher && cipher->keyCheck() != m.atRestKeyCheck)
    return Status::failedPrecondition(
        "the key does not open this store (it was encrypted under another key)");
  core_.cipher_ = cipher;
  return Status::ok();
}

Status Trust::initializeEncryption(const FieldCipher& cipher) {
  return core_.store_.write([&](storage::WriteTxn& txn) -> Status {
    auto m = core_.store_.meta(txn);
    if (!m) return Status::failedPrecondition("the store holds no site yet");
    if (m->lastSeq != 0 || !m->atRestKeyCheck.empty())
      return Status::failedPrecondition("only a new site's store can be made encrypted");
    m->atRestKeyCheck = cipher.keyCheck();
    core_.store_.putMeta(txn, *m);
    return Status::ok();
  });
}

bool Trust::encrypted() const {
  return !core_.engine_.meta().atRestKeyCheck.empty();
}

std::string Core::revealed(uint16_t field, const std::string& key, const std::string& value) const {
  if (!cipher_ || !FieldCipher::isSealed(value) || !FieldCipher::sensitive(field, key))
    return value;
  return cipher_->reveal(value);
}

Customer Core::revealed(Customer c) const {
  if (!cipher_) return c;
  auto open = [&](uint16_t field, const std::string& key, FieldValue& r) {
    r.value = revealed(field, key, r.value);
    for (Head& h : r.others) h.value = revealed(field, key, h.value);
  };
  open(uint16_t(CustomerField::ssn), {}, c[CustomerField::ssn]);
  for (auto& [where, r] : c.elements) open(where.first, where.second, r);
  return c;
}

std::vector<ConflictInfo> Core::revealed(std::vector<ConflictInfo> conflicts) const {
  if (!cipher_) return conflicts;
  for (ConflictInfo& c : conflicts) {
    c.winner.value = revealed(c.field, c.key, c.winner.value);
    c.loser.value = revealed(c.field, c.key, c.loser.value);
    c.chosen = revealed(c.field, c.key, c.chosen);
  }
  return conflicts;
}

}  // namespace sitesync::sync
