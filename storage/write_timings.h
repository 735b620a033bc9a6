// storage, write timings: how long the store's write transactions take, from their first write
// to their durable commit, and how much of that is the commit itself (writing the pages and the
// fsync), as histograms a node exposes in /metrics.
#pragma once

#include <array>
#include <cstdint>

namespace sitesync::storage {

struct DurationHistogram {
  // Upper bounds of the buckets, in seconds; a last bucket holds what is above them all.
  static constexpr std::array<double, 11> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   0.5,   1.0};
  std::array<uint64_t, kBounds.size() + 1> buckets{};  // per bucket, not cumulative
  uint64_t count = 0;
  double sumSeconds = 0;
  void add(double seconds) {
    size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    ++buckets[i];
    ++count;
    sumSeconds += seconds;
  }
};

struct WriteTimings {
  DurationHistogram transaction;  // begin to durable commit: what a write waits for
  DurationHistogram commit;       // mdb_txn_commit alone: pages written and fsync'd
};

}  // namespace sitesync::storage
