// Internal to sitesync-bench: the nodes of `sitesync-bench sync`, and its cases beside the bulk and
// catch-up (live propagation, fan-in, conflicting edits), each on nodes of its own.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "sync/engine.h"
#include "tools/bench/bench_util.h"

namespace sitesync::bench {

// --unsigned: the receiving nodes of a run skip the signature checks (what verification costs).
enum class Signatures { kChecked, kSkipped };

// A node in this process, on a fresh store in `dir`.
struct BenchNode {
  std::unique_ptr<storage::Store> store;
  sync::SystemClock clock;
  std::unique_ptr<sync::Engine> engine;
  BenchNode(const std::filesystem::path& dir, const std::string& name, bool hub,
            Signatures signatures);
};

// Live: branches A and B keep streaming links to a hub (three running nodes, durable stores);
// each edit at A is timed from the call that writes it until B shows the new value.
Percentiles liveLatency(const std::filesystem::path& root, size_t edits, Signatures signatures,
                        double& maxUs);

// Fan-in: `branches` branches with `changes` new customers each sync into one fresh hub at once.
// Returns aggregate changes/s from the first connect to the last acknowledgement.
double fanInRate(const std::filesystem::path& root, size_t branches, uint64_t changes,
                 Signatures signatures);

// Conflicting: branches A and B hold the same `customers` (through the hub), then each edits
// the phone of `edits` customers offline; a tenth of B's edits hit customers A edited too
// (concurrent writes of one field), the rest others. Each pushes into the hub: A's push is the
// conflict-free baseline, B's push makes every tenth change a conflict; then B pulls A's edits
// (the same tenth conflicts there). All three must end with equal digests and the same list.
struct ConflictFigures {
  double cleanPerS = 0;     // A's push: no conflicts
  double conflictPerS = 0;  // B's push: 10% of the changes conflict at the hub
  double pullPerS = 0;      // B's pull of A's edits: 10% conflict at B
  size_t conflicts = 0;     // open conflicts at the end, on every node
};
ConflictFigures conflictRates(const std::filesystem::path& root, uint64_t customers, size_t edits,
                              Signatures signatures);

}  // namespace sitesync::bench
