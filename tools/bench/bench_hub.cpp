// `sitesync-bench hub`: how many sites one hub serves. N simulated sites (this process, one
// DEALER socket and one real store each) connect to a hub running as a process of its own, stay
// connected with heartbeats, then each edits one customer `--per-site` times a second. Measured
// at the hub's process: its CPU per change, its memory per connected site, its idle cost per
// site; at the sites: each edit's latency from its local write to the hub's acknowledgement.
#include <sys/resource.h>

#include <ctime>
#include <filesystem>
#include <iostream>

#include "tools/bench/hub_process.h"
#include "tools/bench/simulated_sites.h"

namespace sitesync::bench {

namespace {

struct HubArgs {
  std::string data;
  std::string sitesData = "/dev/shm/sitesync-bench-sites";
  size_t sites = 1000;
  double seconds = 30;
  double perSite = 1;
  double idleSeconds = 10;
  bool receive = false;
  bool unsignedRuns = false;
  bool json = false;
};

// Each simulated site holds five descriptors here (its socket's mailbox and connection, its
// store's data file twice and its lock file) and one at the hub, which inherits this limit.
void raiseOpenFileLimit(size_t sites) {
  const rlim_t wanted = rlim_t(sites) * 5 + 1024;
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur >= wanted) return;
  rlimit raised{wanted, std::max(wanted, limit.rlim_max)};
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0)
    throw UsageError("--sites " + std::to_string(sites) + " needs about " + std::to_string(wanted) +
                     " open files; this process may have " + std::to_string(limit.rlim_max) +
                     " (raise the hard `ulimit -n` as root, or fewer sites)");
}

// The hub's CPU over a phase: seconds used, and per second of the phase.
struct CpuSpan {
  double cpuSeconds = 0, wallSeconds = 0;
  double percent() const { return wallSeconds > 0 ? 100 * cpuSeconds / wallSeconds : 0; }
};
template <typename F>
CpuSpan measureCpu(const HubProcess& hub, F&& phase) {
  const double before = hub.cpuSeconds();
  const auto start = Clock::now();
  phase();
  return {hub.cpuSeconds() - before, secondsSince(start)};
}

nlohmann::json benchHub(const HubArgs& a) {
  raiseOpenFileLimit(a.sites);
  const Signatures signatures = a.unsignedRuns ? Signatures::kSkipped : Signatures::kChecked;
  const auto hubDir = std::filesystem::path(a.data) / "hub";
  { BenchNode initialised(hubDir, "hub", true, signatures); }  // the hub process opens it

  auto start = Clock::now();
  SimulatedSites sites(a.sitesData, a.sites, a.receive);
  const double makeSeconds = secondsSince(start);
  HubProcess hub(hubDir.string(), signatures);
  const double rssBefore = hub.rssAnonMb();
  start = Clock::now();
  sites.connect(hub.endpoint(), std::chrono::seconds(60 + a.sites / 20));
  const double connectSeconds = secondsSince(start);
  const CpuSpan idle = measureCpu(hub, [&] { sites.idle(a.idleSeconds); });
  const double rssConnected = hub.rssAnonMb();
  EditRun run;
  const std::clock_t driverBefore = std::clock();
  const CpuSpan editing =
      measureCpu(hub, [&] { run = sites.edit(a.seconds, a.perSite, std::chrono::seconds(60)); });
  const double driverCpu = double(std::clock() - driverBefore) / CLOCKS_PER_SEC;
  const Percentiles latency = percentiles(run.latencyUs);
  const double maxUs =
      run.latencyUs.empty() ? 0 : *std::max_element(run.latencyUs.begin(), run.latencyUs.end());
  const double idleCpuPerSecond = idle.cpuSeconds / idle.wallSeconds;
  const double changes = double(std::max<size_t>(run.acknowledged, 1));
  nlohmann::json result = {
      {"sites", a.sites},
      {"per_site_per_second", a.perSite},
      {"sites_receive", a.receive},
      {"signatures", a.unsignedRuns ? "skipped" : "checked"},
      {"make_sites_seconds", makeSeconds},
      {"connect_seconds", connectSeconds},
      {"hub",
       {{"rss_mb_before_sites", rssBefore},
        {"rss_mb_connected", rssConnected},
        {"kb_per_connected_site", (rssConnected - rssBefore) * 1024 / double(a.sites)},
        {"peak_rss_mb", hub.peakRssAnonMb()},
        {"idle_cpu_percent", idle.percent()},
        {"idle_cpu_us_per_site_per_second", idleCpuPerSecond * 1e6 / double(a.sites)},
        {"editing_cpu_percent", editing.percent()},
        {"cpu_us_per_change", editing.cpuSeconds * 1e6 / changes},
        {"cpu_us_per_change_beyond_idle",
         std::max(0.0, editing.cpuSeconds - idleCpuPerSecond * editing.wallSeconds) * 1e6 /
             changes}}},
      {"changes",
       {{"made", run.made},
        {"acknowledged", run.acknowledged},
        {"per_second", double(run.acknowledged) / editing.wallSeconds},
        {"latency_ms",
         {{"p50", latency.p50 / 1000}, {"p99", latency.p99 / 1000}, {"max", maxUs / 1000}}}}},
      {"driver",
       {{"max_late_ms", run.maxLateMs},
        {"editing_cpu_percent", 100 * driverCpu / editing.wallSeconds},
        {"sites_up_at_end", sites.up()},
        {"reconnects", sites.reconnects()},
        {"session_ends", sites.endReasons()},
        {"bytes_sent", sites.bytesSent()},
        {"bytes_received", sites.bytesReceived()},
        {"changes_received", a.receive ? sites.changesReceived() : 0}}}};
  return result;
}

void printHub(const nlohmann::json& r) {
  const auto& hub = r["hub"];
  const auto& changes = r["changes"];
  std::cout << r["sites"] << " sites connected in " << r["connect_seconds"] << " s; hub memory "
            << hub["kb_per_connected_site"] << " KB per site, idle CPU " << hub["idle_cpu_percent"]
            << " %\n"
            << changes["acknowledged"] << " of " << changes["made"] << " changes acknowledged ("
            << changes["per_second"] << "/s): hub CPU " << hub["cpu_us_per_change"]
            << " us per change (" << hub["editing_cpu_percent"] << " %), latency p50 "
            << changes["latency_ms"]["p50"] << " ms, p99 " << changes["latency_ms"]["p99"]
            << " ms; driver at most " << r["driver"]["max_late_ms"] << " ms late\n";
}

}  // namespace

void addHubCommand(CLI::App& app) {
  auto a = std::make_shared<HubArgs>();
  auto* cmd = app.add_subcommand(
      "hub", "hub sizing: N simulated sites connected, each sending changes, one hub");
  cmd->add_option("--data", a->data, "scratch directory for the hub (emptied first)")->required();
  cmd->add_option("--sites-data", a->sitesData,
                  "scratch directory for the simulated sites' stores (default "
                  "/dev/shm/sitesync-bench-sites: memory, so that their writes cost little)");
  cmd->add_option("--sites", a->sites, "simulated sites (default 1000)");
  cmd->add_option("--seconds", a->seconds, "how long the sites edit (default 30)");
  cmd->add_option("--per-site", a->perSite, "changes per site per second (default 1)");
  cmd->add_option("--idle-seconds", a->idleSeconds,
                  "heartbeats only, before the edits (default 10)");
  cmd->add_flag("--receive", a->receive,
                "the sites also take the hub's stream of everyone's changes");
  cmd->add_flag("--unsigned", a->unsignedRuns, "the hub skips the signature checks");
  cmd->add_flag("--json", a->json, "print the figures as one JSON object");
  cmd->callback([a] {
    if (a->sites == 0 || a->seconds <= 0 || a->perSite <= 0 || a->idleSeconds <= 0)
      throw UsageError("--sites, --seconds, --per-site and --idle-seconds must be positive");
    const nlohmann::json result = benchHub(*a);
    if (a->json) return printJson(result);
    printHub(result);
  });
}

}  // namespace sitesync::bench
