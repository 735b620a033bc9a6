// GET /metrics of a serving node (Prometheus text format 0.0.4): the register's counts, the
// inbox, conflicts, numbers, the store's size, and per peer its link, what it holds against
// this node (pending each way), the changes moved and when it was last heard from.
#include <chrono>
#include <sstream>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

std::string labelValue(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out;
}

class Exposition {
 public:
  Exposition() { out_.precision(15); }  // counters exactly, not 1.23457e+06
  // One metric: its help and type once, then each sample.
  void metric(const std::string& name, const std::string& type, const std::string& help) {
    out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  }
  void sample(const std::string& name, double value, const std::string& labels = "") {
    out_ << name << (labels.empty() ? "" : "{" + labels + "}") << " " << value << "\n";
  }
  void single(const std::string& name, const std::string& type, const std::string& help,
              double value) {
    metric(name, type, help);
    sample(name, value);
  }
  // A histogram of durations: cumulative buckets by upper bound, then its sum and count.
  void histogram(const std::string& name, const std::string& help,
                 const storage::DurationHistogram& h) {
    metric(name, "histogram", help);
    uint64_t below = 0;
    for (size_t i = 0; i < h.buckets.size(); ++i) {
      below += h.buckets[i];
      std::ostringstream bound;
      if (i < h.kBounds.size())
        bound << h.kBounds[i];
      else
        bound << "+Inf";
      sample(name + "_bucket", double(below), "le=\"" + bound.str() + "\"");
    }
    sample(name + "_sum", h.sumSeconds);
    sample(name + "_count", double(h.count));
  }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

void peerMetrics(Exposition& m, const Site& site, const node::Server& server) {
  const VersionVector held = site.engine->heldVector();
  const auto links = server.links();
  const auto peers = site.engine->peers();
  const auto nowMillis = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  auto label = [](const PeerState& p) { return "peer=\"" + labelValue(p.name) + "\""; };
  m.metric("sitesync_peer_up", "gauge", "1 while a streaming link with the peer is up");
  for (const auto& p : peers) {
    const bool up = std::any_of(links.begin(), links.end(), [&](const node::LinkState& l) {
      return l.up && l.peerId == p.siteId;
    });
    m.sample("sitesync_peer_up", up ? 1 : 0, label(p));
  }
  m.metric("sitesync_peer_last_contact_age_seconds", "gauge",
           "seconds since the peer was last heard from");
  for (const auto& p : peers)
    m.sample("sitesync_peer_last_contact_age_seconds",
             double(std::max<int64_t>(0, nowMillis - int64_t(p.lastContactMillis))) / 1000,
             label(p));
  m.metric("sitesync_peer_changes_pending", "gauge",
           "changes one side holds that the other lacks, as far as this node knows");
  for (const auto& p : peers) {
    m.sample("sitesync_peer_changes_pending", double(held.countNotIn(p.vector)),
             label(p) + ",direction=\"to_peer\"");
    m.sample("sitesync_peer_changes_pending", double(p.vector.countNotIn(held)),
             label(p) + ",direction=\"from_peer\"");
  }
  m.metric("sitesync_peer_changes_total", "counter", "changes moved with the peer");
  for (const auto& p : peers) {
    m.sample("sitesync_peer_changes_total", double(p.sent), label(p) + ",direction=\"sent\"");
    m.sample("sitesync_peer_changes_total", double(p.received),
             label(p) + ",direction=\"received\"");
  }
  const auto bytes = server.bytesByPeer();
  m.metric("sitesync_peer_bytes_total", "counter",
           "bytes moved with the peer since this node started, as framed on the wire");
  for (const auto& p : peers) {
    const auto it = bytes.find(p.siteId);
    const node::PeerBytes moved = it == bytes.end() ? node::PeerBytes{} : it->second;
    m.sample("sitesync_peer_bytes_total", double(moved.sent), label(p) + ",direction=\"sent\"");
    m.sample("sitesync_peer_bytes_total", double(moved.received),
             label(p) + ",direction=\"received\"");
  }
  m.metric("sitesync_link_batches_in_flight", "gauge",
           "batches sent on a link and not yet acknowledged");
  for (const auto& l : links)
    m.sample("sitesync_link_batches_in_flight", double(l.inFlight),
             "peer=\"" + labelValue(l.peerName.empty() ? l.endpoint : l.peerName) + "\"");
  m.metric("sitesync_link_errors", "gauge", "1 while a link's last session ended in an error");
  for (const auto& l : links)
    m.sample("sitesync_link_errors", l.lastError.empty() ? 0 : 1,
             "peer=\"" + labelValue(l.peerName.empty() ? l.endpoint : l.peerName) + "\"");
  m.single("sitesync_malformed_messages_total", "counter",
           "peers' messages dropped as malformed or hostile", double(server.malformedMessages()));
}

}  // namespace

std::string nodeMetrics(const Site& site, const node::Server& server) {
  Exposition m;
  const auto status = site.engine->status();
  m.metric("sitesync_customers", "gauge", "customers in the register, by state");
  m.sample("sitesync_customers", double(status.customers), "state=\"active\"");
  m.sample("sitesync_customers", double(status.deactivated), "state=\"deactivated\"");
  m.sample("sitesync_customers", double(status.tombstones), "state=\"tombstone\"");
  m.single("sitesync_log_entries", "gauge", "changes in this node's log",
           double(status.logEntries));
  m.single("sitesync_own_changes_total", "counter", "changes this site made (its last seq)",
           double(status.meta.lastSeq));
  const uint64_t held = status.vector.countNotIn(VersionVector{});
  m.single("sitesync_changes_held", "gauge", "changes of every site this node holds", double(held));
  m.metric("sitesync_changes_applied_total", "counter",
           "changes applied to this store: made here (local) or received from peers (remote)");
  const uint64_t own = status.vector.get(status.meta.siteId);
  m.sample("sitesync_changes_applied_total", double(own), "source=\"local\"");
  m.sample("sitesync_changes_applied_total", double(held - std::min(held, own)),
           "source=\"remote\"");
  m.single("sitesync_conflicts_open", "gauge", "conflicts not yet resolved",
           double(site.engine->conflicts(false).size()));
  const auto inbox = site.engine->inboxState();
  m.metric("sitesync_inbox_batches", "gauge",
           "peers' batches acknowledged and not yet applied: waiting, or set aside");
  m.sample("sitesync_inbox_batches", double(inbox.waiting), "state=\"waiting\"");
  m.sample("sitesync_inbox_batches", double(inbox.setAside.size()), "state=\"set_aside\"");
  const auto numbers = site.engine->numbers();
  m.single("sitesync_numbers_left", "gauge", "customer numbers left in this site's blocks",
           double(numbers.left));
  m.single("sitesync_customers_waiting_for_a_number", "gauge",
           "customers created here that wait for a number block", double(numbers.pending.size()));
  const auto store = site.store->stats();
  m.single("sitesync_store_file_bytes", "gauge", "the store's file on disk",
           double(store.fileBytes));
  m.single("sitesync_store_map_bytes", "gauge", "the store's memory map (its size limit for now)",
           double(store.mapBytes));
  uint64_t used = 0;
  for (const auto& table : store.tables) used += table.bytes;
  m.single("sitesync_store_used_bytes", "gauge", "pages the store's tables use", double(used));
  const auto timings = site.store->writeTimings();
  m.histogram("sitesync_write_seconds",
              "this process's write transactions (a local change, a peer's batch), first write to "
              "durable commit",
              timings.transaction);
  m.histogram("sitesync_commit_seconds", "of those, the commit alone: pages written and fsync'd",
              timings.commit);
  peerMetrics(m, site, server);
  return m.text();
}

}  // namespace sitesync::cli
