// Internal to sitesync-bench: the hub of `sitesync-bench sync` as a process of its own, so that
// its memory is measured alone. It is this program again, `sitesync-bench serve-hub`.
#pragma once

#include <sys/types.h>
#include <memory>
#include <string>

#include "tools/bench/bench_util.h"
#include "tools/bench/sync_cases.h"

namespace sitesync::bench {

// Serves the site in `data` (initialised already) on tcp://127.0.0.1 until destroyed; samples
// the process's RssAnon every 20 ms.
class HubProcess {
 public:
  HubProcess(const std::string& data, Signatures signatures);
  ~HubProcess();
  HubProcess(const HubProcess&) = delete;
  HubProcess& operator=(const HubProcess&) = delete;

  const std::string& endpoint() const { return endpoint_; }
  double peakRssAnonMb() const { return rss_->peakMb(); }
  double rssAnonMb() const { return double(rss_->currentKb()) / 1024.0; }
  // Bytes the process has handed to write calls so far (`wchar` in /proc/PID/io): what its
  // LMDB writes (pages, then the meta page) and its inbox cost, whether or not the page cache
  // has written them back yet.
  uint64_t bytesWritten() const;
  // CPU time the process has used so far (user and system), from /proc/PID/stat.
  double cpuSeconds() const;

 private:
  pid_t pid_ = -1;
  std::string endpoint_;
  std::unique_ptr<RssSampler> rss_;
};

}  // namespace sitesync::bench
