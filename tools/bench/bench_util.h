// Internal to sitesync-bench: what the benchmarks share (timing, a realistic customer generator,
// percentiles, peak anonymous memory, and the raw LMDB baseline).
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "storage/store.h"
#include "sync/engine.h"
#include "tools/common/command_line.h"

namespace sitesync::bench {

using cli::check;
using cli::Failure;
using cli::printJson;
using cli::take;
using cli::UsageError;

// The commands (bench_local.cpp, bench_sync.cpp, bench_tables.cpp, bench_api.cpp,
// hub_process.cpp).
void addLocalCommand(CLI::App& app);
void addApiCommand(CLI::App& app);
void addImportCommand(CLI::App& app);    // bench_import.cpp
void addFilteredCommand(CLI::App& app);  // bench_filtered.cpp
void addMirrorCommand(CLI::App& app);    // bench_mirror.cpp
void addHubCommand(CLI::App& app);       // bench_hub.cpp
void addSyncCommand(CLI::App& app);
void addTablesCommand(CLI::App& app);
void addServeHubCommand(CLI::App& app);  // hidden: the hub process of `sync`

using Clock = std::chrono::steady_clock;
inline double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Waits until `receiver` holds everything in `target`. A node acknowledges a large batch once it
// is durable in its inbox and applies it right after (Engine::applyBatch): a figure "durable
// and indexed at the receiver" ends here, not at the ack. Polled: the receiver may be another
// process, and nothing else tells this one that its write committed.
void waitUntilHeld(const sync::Engine& receiver, const VersionVector& target);

// Peak anonymous memory, sampled (the kernel reports only the current RssAnon).
class RssSampler {
 public:
  explicit RssSampler(std::string statusPath = "/proc/self/status")
      : statusPath_(std::move(statusPath)), thread_([this] {
          while (!stop_) {
            peakKb_ = std::max(peakKb_.load(), currentKb());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }) {}
  ~RssSampler() {
    stop_ = true;
    thread_.join();
  }
  double peakMb() const { return std::max(peakKb_.load(), currentKb()) / 1024.0; }
  uint64_t currentKb() const {
    std::ifstream in(statusPath_);
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("RssAnon:", 0) == 0) return std::stoull(line.substr(8));
    return 0;
  }

 private:
  std::string statusPath_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> peakKb_{0};
  std::thread thread_;
};

// Realistic customers: ~400 bytes, names with non-ASCII letters, deterministic.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  std::vector<sync::Edit> customer(uint64_t i);

 private:
  std::mt19937_64 rng_;
};

inline sync::LocalOp createOp(std::vector<sync::Edit> edits) {
  return sync::LocalOp{sync::LocalOp::Kind::kCreate, {}, std::move(edits), "bench", {}};
}
// Creates `count` customers of `gen` at `engine`, `perCommit` to a transaction; their ids.
std::vector<RecordId> createCustomers(sync::Engine& engine, Generator& gen, uint64_t count,
                                      uint64_t perCommit = 100000);

struct Percentiles {
  double p50 = 0, p99 = 0;
};
inline Percentiles percentiles(std::vector<double> us) {
  if (us.empty()) return {};
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

// The raw baseline's input: every record of `store` as stored, with the index keys the store
// keeps for it (number, phone, e-mail, name tokens), in key order.
struct RawInput {
  std::vector<std::pair<std::string, std::string>> records;
  std::vector<std::vector<std::string>> indexKeys;
};
RawInput collectRawInput(const storage::Store& store);
// The raw baseline: the same record bytes and the same index keys, written straight into a new
// LMDB in `dir` with the same commit size, durable. Records per second.
double rawLmdbRate(const std::string& dir, const RawInput& input, size_t batch);

}  // namespace sitesync::bench
