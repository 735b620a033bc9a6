// The log of `serve` (spdlog): one line per event on stderr, where journald picks it up, as text
// ("TIME LEVEL what happened") or, with --log-format json, one JSON object per line for
// collectors. The node and the API say what happened in plain words; the level is read from them.
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

std::shared_ptr<spdlog::logger>& serveLog() {
  static std::shared_ptr<spdlog::logger> log = [] {
    auto made = std::make_shared<spdlog::logger>("sitesync",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
    made->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc));
    made->flush_on(spdlog::level::trace);  // every line reaches the journal at once
    return made;
  }();
  return log;
}

bool jsonLines = false;

// Refusals, losses and failures are warnings; everything else a node reports is information.
spdlog::level::level_enum levelOf(const std::string& line) {
  for (const char* word : {"refused", "cannot", "failed", "set aside", "lost", "not allowed",
                           "revoked", "malformed", "slow commit"})
    if (line.find(word) != std::string::npos) return spdlog::level::warn;
  return spdlog::level::info;
}

std::string utcNow() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  char stamp[40];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", std::gmtime(&seconds));
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", stamp, int(millis));
  return out;
}

}  // namespace

const std::vector<std::string>& logLevelNames() {
  static const std::vector<std::string> names{"debug", "info", "warn", "error", "off"};
  return names;
}

void setLogLevel(const std::string& level) {
  serveLog()->set_level(spdlog::level::from_str(level));
}

void configureLog(const std::string& level, const std::string& format) {
  setLogLevel(level);
  jsonLines = format == "json";
  if (jsonLines) serveLog()->set_formatter(std::make_unique<spdlog::pattern_formatter>("%v"));
}

void logLine(const std::string& line, const std::string& peer) {
  const auto level = levelOf(line);
  if (!serveLog()->should_log(level)) return;
  if (!jsonLines) return serveLog()->log(level, line);
  const auto name = spdlog::level::to_string_view(level);
  nlohmann::json event{
      {"time", utcNow()}, {"level", std::string(name.data(), name.size())}, {"message", line}};
  if (!peer.empty()) event["peer"] = peer;
  serveLog()->log(level, event.dump());
}

}  // namespace sitesync::cli
