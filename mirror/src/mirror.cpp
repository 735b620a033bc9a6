// The mirror's entry points and its thread (mirror/mirror.h).
#include "mirror/mirror.h"

#include <condition_variable>
#include <mutex>
#include <regex>
#include <thread>

#include "mirror/src/writer.h"
#include "sync/engine.h"

namespace sitesync::mirror {

MirrorPass mirrorOnce(const sync::Engine& engine, const std::string& dsn) {
  MirrorWriter writer(engine, dsn);
  return writer.catchUp();
}

MirrorState mirrorState(const sync::Engine& engine, const std::string& dsn) {
  Connection db(dsn);
  MirrorState state;
  state.logEnd = engine.logEnd();
  auto table = db.exec("SELECT to_regclass('sitesync_mirror') IS NOT NULL");
  if (table.at(0, 0) != "t") return state;
  auto r = db.exec(
      "SELECT position, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
      "extract(epoch FROM now() - updated_at) FROM sitesync_mirror WHERE site_id = $1",
      {siteIdToHex(engine.meta().siteId)});
  if (r.rows() == 0) return state;
  state.started = true;
  state.mirrored = std::stoull(r.at(0, 0));
  state.updatedAt = r.at(0, 1);
  state.secondsSinceUpdate = std::stod(r.at(0, 2));
  return state;
}

std::string shownDsn(const std::string& dsn) {
  static const std::regex keyword(R"((password\s*=\s*)('([^'\\]|\\.)*'|\S+))");
  static const std::regex uri(R"(^(postgres(ql)?://[^:/@]*:)[^@]*@)");
  std::string shown = std::regex_replace(dsn, keyword, "$1***");
  return std::regex_replace(shown, uri, "$1***@");
}

struct Mirror::Impl {
  const sync::Engine& engine;
  std::string dsn;
  Log log;
  std::chrono::milliseconds poll;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread thread;

  // Waits `d` unless stopped first; false once stopping.
  bool pause(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex);
    wake.wait_for(lock, d, [&] { return stopping; });
    return !stopping;
  }

  void say(const std::string& line) {
    if (log) log(line);
  }

  void report(const MirrorPass& pass, std::chrono::steady_clock::duration took) {
    if (!pass.rebuilt.empty())
      say("mirror: " + pass.rebuilt + " (altered by hand?): the mirror's tables were made again");
    if (pass.copied)
      say("mirror: copied " + std::to_string(pass.customers) + " customers to PostgreSQL in " +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()) +
          " ms (log position " + std::to_string(pass.toPosition) + ")");
  }

  void run() {
    std::unique_ptr<MirrorWriter> writer;
    uint64_t mirrored = UINT64_MAX;  // unknown until the first catch-up
    auto sitesRefreshed = std::chrono::steady_clock::now();
    auto backoff = std::chrono::milliseconds(500);
    std::string failing;
    while (!stopping) {
      try {
        if (!writer) writer = std::make_unique<MirrorWriter>(engine, dsn);
        const auto now = std::chrono::steady_clock::now();
        if (engine.logEnd() != mirrored) {
          const auto pass = writer->catchUp();
          report(pass, std::chrono::steady_clock::now() - now);
          mirrored = pass.toPosition;
          sitesRefreshed = now;
        } else if (now - sitesRefreshed > std::chrono::seconds(5)) {
          writer->refreshSites();
          sitesRefreshed = now;
        }
        if (!failing.empty()) say("mirror to PostgreSQL resumed (" + shownDsn(dsn) + ")");
        failing.clear();
        backoff = std::chrono::milliseconds(500);
        if (!pause(poll)) break;
      } catch (const std::exception& e) {
        writer.reset();
        mirrored = UINT64_MAX;
        if (e.what() != failing)
          say(std::string("mirror to PostgreSQL failed: ") + e.what() + "; retrying every " +
              "few seconds, the node keeps syncing");
        failing = e.what();
        if (!pause(backoff)) break;
        backoff = std::min(backoff * 2, std::chrono::milliseconds(60000));
      }
    }
  }
};

Mirror::Mirror(const sync::Engine& engine, std::string dsn, Log log, std::chrono::milliseconds poll)
    : impl_(std::make_unique<Impl>(engine, std::move(dsn), std::move(log), poll)) {
  impl_->thread = std::thread([this] { impl_->run(); });
}

Mirror::~Mirror() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->thread.join();
}

}  // namespace sitesync::mirror
