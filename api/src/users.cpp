// Users of the API: roles, tokens and their hashes (api/api.h), and who a token belongs to.
#include "api/src/users.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>

namespace sitesync::api {

namespace {

constexpr std::array<const char*, 4> kRoleNames = {"viewer", "technician", "staff", "admin"};

// 32 random bytes from OpenSSL's generator, base64url: 43 characters.
std::string newToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw Error("no random bytes for a token");
  return base64url(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

}  // namespace

std::optional<Role> roleNamed(std::string_view name) {
  for (size_t i = 0; i < kRoleNames.size(); ++i)
    if (name == kRoleNames[i]) return Role(i);
  return std::nullopt;
}

const char* roleName(Role role) {
  return kRoleNames[size_t(role)];
}

Result<std::string> addUser(sync::Engine& engine, const std::string& name, Role role,
                            const std::string& author) {
  std::string token = newToken();
  Status added = engine.addApiUser(ApiUser{name, roleName(role), sha256Hex(token), {}}, author);
  if (!added.isOk()) return added;
  return token;
}

Result<std::string> rotateToken(sync::Engine& engine, const std::string& name,
                                const std::string& author) {
  std::string token = newToken();
  Status replaced = engine.replaceApiUserToken(name, sha256Hex(token), author);
  if (!replaced.isOk()) return replaced;
  return token;
}

std::optional<Caller> UserDirectory::authenticate(std::string_view token) {
  const std::string presented = sha256Hex(token);
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now - readAt_ >= kRefresh) {
    users_ = engine_.apiUsers();
    readAt_ = now;
  }
  std::optional<Caller> found;
  for (const ApiUser& user : users_) {
    const bool same = user.tokenHash.size() == presented.size() &&
                      CRYPTO_memcmp(user.tokenHash.data(), presented.data(), presented.size()) == 0;
    auto role = roleNamed(user.role);
    if (same && role) found = Caller{user.name, *role, {}};
  }
  return found;
}

std::optional<int64_t> BadTokenLimiter::refused(const std::string& address, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (byAddress_.size() >= 10000 && !byAddress_.count(address)) byAddress_.clear();
  Window& window = byAddress_[address];
  if (window.refused == 0 || now - window.started >= kWindow) window = Window{now, 0};
  ++window.refused;
  ++sinceLogged_;
  if (log_ && (!loggedAt_ || now - *loggedAt_ >= kWindow)) {
    log_("api: " + std::to_string(sinceLogged_) + " request(s) with a missing or wrong token " +
         (loggedAt_ ? "in the last minute" : "") + " (latest from " + address + ")");
    loggedAt_ = now;
    sinceLogged_ = 0;
  }
  if (window.refused <= kAllowed) return std::nullopt;
  return std::chrono::ceil<std::chrono::seconds>(window.started + kWindow - now).count();
}

// --- encodings ---------------------------------------------------------------------------------

namespace {
constexpr std::string_view kBase64url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
}

std::string base64url(std::string_view bytes) {
  std::string out;
  uint32_t bits = 0;
  int held = 0;
  for (unsigned char c : bytes) {
    bits = (bits << 8) | c;
    held += 8;
    while (held >= 6) {
      held -= 6;
      out += kBase64url[(bits >> held) & 63];
    }
  }
  if (held > 0) out += kBase64url[(bits << (6 - held)) & 63];
  return out;
}

std::optional<std::string> fromBase64url(std::string_view text) {
  std::string out;
  uint32_t bits = 0;
  int held = 0;
  for (char c : text) {
    const size_t value = kBase64url.find(c);
    if (value == std::string_view::npos) return std::nullopt;
    bits = (bits << 6) | uint32_t(value);
    held += 6;
    if (held >= 8) {
      held -= 8;
      out += char((bits >> held) & 255);
    }
  }
  return out;
}

std::string sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr) != 1)
    throw Error("SHA-256 failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

}  // namespace sitesync::api
