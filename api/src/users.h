// Internal to api/: who a request comes from, by bearer token.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "api/src/http.h"

namespace sitesync::api {

// The users table, read again at most every kRefresh: `sitesync users add|remove|token` write it
// from another process, and a running node honours them within a second. Safe from any thread.
class UserDirectory {
 public:
  static constexpr std::chrono::milliseconds kRefresh{500};
  explicit UserDirectory(const sync::Engine& engine) : engine_(engine) {}
  // The user holding `token`; nullopt for a token no user holds. Compares the token's SHA-256
  // with every user's in constant time, so the time taken tells nothing of how much matched.
  std::optional<Caller> authenticate(std::string_view token);

 private:
  const sync::Engine& engine_;
  std::mutex mutex_;
  std::vector<ApiUser> users_;                    // guarded by mutex_
  std::chrono::steady_clock::time_point readAt_;  // guarded by mutex_
};

}  // namespace sitesync::api
