// Internal to api/: who a request comes from, by bearer token.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
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

// Requests with a missing or wrong token, counted per client address. Past kAllowed of them in
// a minute an address is answered 429 instead of 401 until the minute ends; a line goes to the
// log at the first such request and then at most once a minute, with the counts, never a token.
class BadTokenLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  using Log = std::function<void(const std::string&)>;
  static constexpr uint64_t kAllowed = 100;
  static constexpr std::chrono::seconds kWindow{60};
  explicit BadTokenLimiter(Log log) : log_(std::move(log)) {}
  // Notes a refused request from `address`; the seconds it must wait, when it is over its limit.
  std::optional<int64_t> refused(const std::string& address, Clock::time_point now);

 private:
  struct Window {
    Clock::time_point started;
    uint64_t refused = 0;
  };
  Log log_;
  std::mutex mutex_;
  std::map<std::string, Window> byAddress_;  // guarded by mutex_
  uint64_t sinceLogged_ = 0;                 // guarded by mutex_
  std::optional<Clock::time_point> loggedAt_;
};

}  // namespace sitesync::api
