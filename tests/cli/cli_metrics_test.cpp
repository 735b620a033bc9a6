// GET /metrics of `serve --api` (Prometheus' text format): scraped from a running node that a
// branch joined, every line parsed, the register's and the peer's figures checked.
#include <map>

#include "tests/cli/api_node.h"

namespace {

// Each sample line, "name{labels}" -> value; every line must be a sample or a HELP/TYPE comment.
std::map<std::string, double> parseExposition(const std::string& text) {
  static const std::regex comment(R"(# (HELP|TYPE) [a-z_]+ .+)");
  static const std::regex sample(R"(([a-z_]+(\{[^}]*\})?) (-?[0-9.e+-]+))");
  std::map<std::string, double> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, comment)) continue;
    BOOST_TEST_REQUIRE(std::regex_match(line, m, sample), "not an exposition line: " << line);
    out[m[1]] = std::stod(m[3]);
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(api)

BOOST_AUTO_TEST_CASE(metrics_are_prometheus_text_with_the_register_and_each_peer) {
  ApiNode node;
  node.create({{"name", "Aino Virtanen"}});
  node.create({{"name", "Eino Leino"}});
  Cli branch;
  RunResult joined = branch.run("join", "--data", branch.data, "--site", "Branch Oulu", "--hub",
                                node.serve->endpoint());
  BOOST_TEST_REQUIRE(joined.status == 0, joined);

  auto scraped = node.get("/metrics", node.viewer);
  BOOST_TEST_REQUIRE(scraped->status == 200, scraped->body);
  BOOST_TEST(scraped->get_header_value("Content-Type").rfind("text/plain", 0) == 0u);
  const auto m = parseExposition(scraped->body);
  BOOST_TEST(m.at("sitesync_customers{state=\"active\"}") == 2);
  BOOST_TEST(m.at("sitesync_conflicts_open") == 0);
  BOOST_TEST(m.at("sitesync_inbox_batches{state=\"set_aside\"}") == 0);
  BOOST_TEST(m.at("sitesync_store_file_bytes") > 0);
  BOOST_TEST(m.at("sitesync_store_used_bytes") > 0);
  BOOST_TEST(m.at("sitesync_changes_applied_total{source=\"local\"}") >= 2);
  BOOST_TEST(m.at("sitesync_changes_applied_total{source=\"remote\"}") == 0);
  // Every write of this process (the two creates at least) in the histograms, the last bucket
  // holding them all; the commit is part of each write.
  const double writes = m.at("sitesync_write_seconds_count");
  BOOST_TEST(writes >= 2);
  BOOST_TEST(m.at("sitesync_write_seconds_bucket{le=\"+Inf\"}") == writes);
  BOOST_TEST(m.at("sitesync_write_seconds_bucket{le=\"0.0005\"}") <= writes);
  BOOST_TEST(m.at("sitesync_commit_seconds_count") == writes);
  BOOST_TEST(m.at("sitesync_commit_seconds_sum") <= m.at("sitesync_write_seconds_sum"));
  // The branch that joined is a peer now: heard from just now, nothing pending either way.
  const std::string peer = "peer=\"Branch Oulu\"";
  BOOST_TEST(m.at("sitesync_peer_last_contact_age_seconds{" + peer + "}") < 60);
  BOOST_TEST(m.at("sitesync_peer_changes_pending{" + peer + ",direction=\"to_peer\"}") == 0);
  // The join's snapshot and session went to it: bytes sent, its hello and acks received.
  BOOST_TEST(m.at("sitesync_peer_bytes_total{" + peer + ",direction=\"sent\"}") > 0);
  BOOST_TEST(m.at("sitesync_peer_bytes_total{" + peer + ",direction=\"received\"}") > 0);
  // Its session (a one-shot join) counts as up until it times out at this end.
  BOOST_TEST(m.count("sitesync_peer_up{" + peer + "}") == 1u);

  BOOST_TEST(node.get("/metrics", "")->status == 401);
}

BOOST_AUTO_TEST_SUITE_END()
