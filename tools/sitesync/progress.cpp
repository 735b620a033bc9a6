// Progress of a join's snapshot and of a catch-up: one line redrawn on a terminal, or JSON lines
// with --json (both on stderr, so that stdout keeps the command's one report).
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

std::function<void(const node::TransferProgress&)> progressReporter(bool json,
                                                                    const std::string& phase,
                                                                    uint64_t held) {
  const bool terminal = isatty(STDERR_FILENO) == 1;
  if (!json && !terminal) return {};
  return [json, phase, held](const node::TransferProgress& p) {
    const bool snapshot = phase == "snapshot";
    // A field laptop catches up by customers' states (filtered snapshot chunks), not changes.
    const bool states = snapshot || (p.changes == 0 && p.records > 0);
    const uint64_t moved = snapshot ? p.records : p.changes + p.records;
    const double rate = p.seconds > 0 ? double(moved) / p.seconds : 0;
    const uint64_t have = snapshot ? held + p.records : moved;
    const bool knowsTotal = states && p.totalRecords > 0;
    const double left = knowsTotal && p.totalRecords > have ? double(p.totalRecords - have) : 0;
    const double eta = rate > 0 ? left / rate : 0;
    if (json) {
      nlohmann::json line = {
          {"event", "progress"},  {"phase", phase}, {"received", moved}, {"bytes", p.bytesReceived},
          {"seconds", p.seconds}, {"rate", rate},   {"done", p.done}};
      if (snapshot) line["held"] = have;
      if (knowsTotal) {
        line["total"] = p.totalRecords;
        line["eta_seconds"] = eta;
      }
      std::cerr << line.dump() << std::endl;
      return;
    }
    std::fprintf(stderr, "\r%s: %llu %s", phase.c_str(), static_cast<unsigned long long>(have),
                 states ? "customers" : "changes");
    if (knowsTotal)
      std::fprintf(stderr, " of %llu", static_cast<unsigned long long>(p.totalRecords));
    std::fprintf(stderr, "  %.1f MB  %.0f/s", double(p.bytesReceived) / 1e6, rate);
    if (knowsTotal && !p.done) std::fprintf(stderr, "  ETA %.0f s", eta);
    std::fprintf(stderr, "   %s", p.done ? "\n" : "");
  };
}

}  // namespace sitesync::cli
