// The keys of a site (DESIGN.md section 7): its Ed25519 signing identity, the deployment's
// at-rest field cipher, and the rule for site names.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/ids.h"
#include "protocol/status.h"

namespace sitesync::sync {

// At-rest encryption (DESIGN.md section 7): social security numbers and journal text are
// written (stored, logged, replicated) as "enc1:<token>:<base64 nonce|ciphertext|tag>",
// AES-256-GCM under the deployment key; an SSN's token is a keyed hash of the normalised
// number, so that its index, uniqueness and search work without the plaintext. Sites of one
// deployment share the key; it is never stored beside the data.
class FieldCipher {
 public:
  explicit FieldCipher(const std::array<uint8_t, 32>& key);
  static bool isSealed(std::string_view value);
  static bool sensitive(uint16_t field, std::string_view key);     // ssn, journal text
  std::string seal(uint16_t field, std::string_view plain) const;  // "" and sealed stay as they are
  // The plaintext; nullopt for a value sealed under another key (or altered).
  std::optional<std::string> open(std::string_view stored) const;
  std::string reveal(std::string_view stored) const;  // open, or a placeholder
  std::string ssnToken(std::string_view ssn) const;   // what the SSN index holds for it
  std::string keyCheck() const;                       // stored in Meta: tells a wrong key

 private:
  std::string mac(std::string_view label, std::string_view text) const;
  std::array<uint8_t, 32> key_;
};

// A site's signing identity (DESIGN.md section 7): an Ed25519 key pair through OpenSSL EVP.
// The site id is derived from the public key (siteIdOfKey), so no other key can sign as this
// site, and a relay cannot claim an origin. The private key is kept in the store's meta.
class SiteKey {
 public:
  static SiteKey generate();
  // From the 32-byte private key; throws Error on another length.
  static SiteKey fromPrivate(std::string_view privateKey);
  SiteId siteId() const { return siteId_; }
  const std::string& publicKey() const { return public_; }    // 32 bytes
  const std::string& privateKey() const { return private_; }  // 32 bytes
  std::string sign(std::string_view message) const;           // 64 bytes
  static bool verify(std::string_view publicKey, std::string_view message,
                     std::string_view signature);

 private:
  std::string private_, public_;
  SiteId siteId_ = 0;
  std::shared_ptr<void> key_;  // the EVP_PKEY
};

// A site name is 1 to 100 bytes of UTF-8 without control characters.
Status validateSiteName(const std::string& name);

}  // namespace sitesync::sync
