// mirror: the hub's register kept current in PostgreSQL (libpq) for headquarters' reports and BI
// tools: tables customers, contacts, journal, discount_cards, card_usages, records,
// record_usages, conflicts and sites, columns named as `customer show --json` names them. The
// mirror follows the store's log; its position is kept in PostgreSQL (table sitesync_mirror) in
// the same transaction as the rows it covers, so a crash of either side resumes without loss or
// duplicates. An empty mirror (or one whose position the log no longer reaches, after
// compaction, or whose tables were altered by hand) is filled with COPY.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace sitesync::sync {
class Engine;
}

namespace sitesync::mirror {

// What one catch-up wrote.
struct MirrorPass {
  bool copied = false;      // a whole copy (first, renewed, or after a rebuild)
  std::string rebuilt;      // why the tables were dropped and made again ("": they were not)
  uint64_t customers = 0;   // customers written
  uint64_t toPosition = 0;  // the log position PostgreSQL holds the register up to now
};

struct MirrorState {
  bool started = false;   // PostgreSQL holds a position of this site's register
  uint64_t mirrored = 0;  // the log position PostgreSQL holds the register up to
  uint64_t logEnd = 0;    // the store's last log position
  std::string updatedAt;  // when the mirror last committed (PostgreSQL's clock), ISO 8601
  double secondsSinceUpdate = 0;
  uint64_t behind() const { return logEnd > mirrored ? logEnd - mirrored : 0; }
};

class MirrorError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Brings the database `dsn` names up to the store's log; throws MirrorError (one line) when
// PostgreSQL cannot be reached or refuses. Nothing in the store is written.
MirrorPass mirrorOnce(const sync::Engine& engine, const std::string& dsn);
MirrorState mirrorState(const sync::Engine& engine, const std::string& dsn);
// The DSN without its password, for logs and status ("password=..." and URI passwords hidden).
std::string shownDsn(const std::string& dsn);

// A thread that keeps the mirror current: a catch-up whenever the log grew (polled every
// `poll`), the sites table refreshed every few seconds, retried with backoff (up to a minute)
// while PostgreSQL is away or refuses; `log` hears of each failure, the recovery and copies.
class Mirror {
 public:
  using Log = std::function<void(const std::string& line)>;
  Mirror(const sync::Engine& engine, std::string dsn, Log log,
         std::chrono::milliseconds poll = std::chrono::milliseconds(100));
  ~Mirror();  // stops the thread
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sitesync::mirror
