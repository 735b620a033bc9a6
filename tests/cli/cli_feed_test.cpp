// End-to-end tests of the API's change feed (suite api): GET /v1/changes with paging and long
// polls, and /v1/changes/stream (Server-Sent Events), against `sitesync serve --api` with
// changes made through the API, by other processes and by a peer.
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "tests/cli/api_node.h"

namespace {

using Clock = std::chrono::steady_clock;

json changes(ApiNode& node, const std::string& query = "") {
  auto r = node.get("/v1/changes" + query, node.viewer);
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  return json::parse(r->body);
}

// A long poll: GET /v1/changes with `wait`, on a client that waits longer than the server.
httplib::Result longPoll(ApiNode& node, const std::string& query) {
  httplib::Client client(node.url);
  client.set_read_timeout(30, 0);
  return client.Get("/v1/changes" + query, {{"Authorization", "Bearer " + node.viewer}});
}

// The events of a stream as they arrive, read on a thread of its own until `wanted` events came,
// the server ended the stream, or 30 s passed (then checked at the next keepalive).
class StreamReader {
 public:
  StreamReader(ApiNode& node, httplib::Headers headers, const std::string& query, size_t wanted,
               const std::string& token = "")
      : wanted_(wanted) {
    headers.emplace("Authorization", "Bearer " + (token.empty() ? node.viewer : token));
    reader_ = std::thread([this, url = node.url, headers, query] {
      httplib::Client client(url);
      client.set_read_timeout(30, 0);
      const auto giveUp = Clock::now() + std::chrono::seconds(30);
      auto r = client.Get(
          "/v1/changes/stream" + query, headers,
          [this](const httplib::Response& res) {
            std::lock_guard lock(mutex_);
            contentType_ = res.get_header_value("Content-Type");
            opened_ = true;
            changed_.notify_all();
            return res.status == 200;
          },
          [this, giveUp](const char* data, size_t size) {
            std::lock_guard lock(mutex_);
            text_.append(data, size);
            changed_.notify_all();
            return events().size() < wanted_ && Clock::now() < giveUp;
          });
      std::lock_guard lock(mutex_);
      ended_ = true;
      changed_.notify_all();
    });
  }
  ~StreamReader() { reader_.join(); }

  // Waits until the response's headers came (the stream is open); its Content-Type.
  std::string waitOpened() {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(10), [&] { return opened_ || ended_; });
    return contentType_;
  }
  // Waits until the stream ends; everything it sent.
  std::string waitEnded() {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(40), [&] { return ended_; });
    return text_;
  }
  // The `data:` of each event received.
  std::vector<json> events() const {
    std::vector<json> out;
    for (size_t at = text_.find("data: "); at != std::string::npos;
         at = text_.find("data: ", at + 1)) {
      const size_t end = text_.find("\n\n", at);
      if (end == std::string::npos) break;  // not all of it has come yet
      out.push_back(json::parse(text_.substr(at + 6, end - at - 6)));
    }
    return out;
  }
  std::vector<json> lockedEvents() {
    std::lock_guard lock(mutex_);
    return events();
  }

 private:
  size_t wanted_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string text_, contentType_;
  bool opened_ = false, ended_ = false;
  std::thread reader_;
};

std::vector<std::string> cursorsOf(const json& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e["cursor"]);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(api)

BOOST_AUTO_TEST_CASE(the_feed_lists_a_local_create_and_edit_in_order_with_user_and_fields) {
  ApiNode node;
  const std::string id = node.create({{"name", "Aino Virtanen"}})["id"];
  auto edited = node.send("PATCH", "/v1/customers/" + id, node.staff,
                          R"({"phone": "+358401234567", "invoice_city": "Oulu"})");
  BOOST_TEST_REQUIRE(edited->status == 200, edited->body);
  const json page = changes(node);
  std::vector<json> mine;
  for (const auto& e : page["events"])
    if (e["customer"] == id) mine.push_back(e);
  BOOST_TEST_REQUIRE(mine.size() == 2u, page.dump());
  BOOST_TEST(mine[0]["kind"] == "create");
  BOOST_TEST(mine[0]["fields"]["name"] == "Aino Virtanen");
  BOOST_TEST(mine[1]["kind"] == "update");
  BOOST_TEST(mine[1]["fields"] == json({{"phone", "+358401234567"}, {"invoice_city", "Oulu"}}));
  for (const auto& e : mine) {
    BOOST_TEST(e["user"] == "sami");
    BOOST_TEST(e["site"] == "Branch Tampere");
    BOOST_TEST(e["at"].get<std::string>().size() > 10u);
  }
  BOOST_TEST(std::stoull(mine[0]["cursor"].get<std::string>()) <
             std::stoull(mine[1]["cursor"].get<std::string>()));
  BOOST_TEST(page["next"] == page["events"].back()["cursor"]);
}

BOOST_AUTO_TEST_CASE(assigning_and_unassigning_a_technician_are_events_of_their_own) {
  ApiNode node;
  node.addUser("bob", "technician");
  const std::string id = node.create({{"name", "Aino Virtanen"}})["id"];
  auto assigned =
      node.post("/v1/customers/" + id + "/technicians", node.staff, {{"technician", "bob"}});
  BOOST_TEST_REQUIRE(assigned->status < 300, assigned->body);
  auto unassigned = node.send("DELETE", "/v1/customers/" + id + "/technicians/bob", node.staff);
  BOOST_TEST_REQUIRE(unassigned->status < 300, unassigned->body);
  std::vector<json> kinds;
  const json page = changes(node);
  for (const auto& e : page["events"])
    if (e["customer"] == id && e.contains("technician")) kinds.push_back(e);
  BOOST_TEST_REQUIRE(kinds.size() == 2u, page.dump());
  BOOST_TEST(kinds[0]["kind"] == "assigned");
  BOOST_TEST(kinds[0]["technician"] == "bob");
  BOOST_TEST(kinds[0]["user"] == "sami");
  BOOST_TEST(kinds[1]["kind"] == "unassigned");
}

BOOST_AUTO_TEST_CASE(pages_with_after_and_next_give_each_event_once_in_apply_order) {
  ApiNode node;
  for (int i = 0; i < 5; ++i) node.create({{"name", "Paged Person " + std::to_string(i)}});
  const json all = changes(node);
  BOOST_TEST_REQUIRE(all["events"].size() >= 5u);
  std::vector<std::string> paged;
  std::string next;
  for (int page = 0; page < 20; ++page) {
    const json j = changes(node, "?limit=2" + (next.empty() ? "" : "&after=" + next));
    BOOST_TEST(j["events"].size() <= 2u);
    if (j["events"].empty()) {
      BOOST_TEST(j["next"] == next, "an empty page leaves the cursor where it was");
      break;
    }
    for (const auto& c : cursorsOf(j["events"])) paged.push_back(c);
    next = j["next"];
  }
  BOOST_TEST(paged == cursorsOf(all["events"]));
  BOOST_TEST(next == all["next"].get<std::string>());
}

BOOST_AUTO_TEST_CASE(a_change_that_arrives_from_a_peer_appears_in_the_feed_with_its_site) {
  ApiNode node;
  const std::string before = changes(node)["next"];
  Cli peer;
  peer.init("Branch Oulu");
  const std::string id = peer.add("Peer Customer");
  RunResult synced = peer.run("sync", "--data", peer.data, "--peer", node.serve->endpoint());
  BOOST_TEST_REQUIRE(synced.status == 0, synced);
  const json page = changes(node, "?after=" + before);
  json created;
  for (const auto& e : page["events"])
    if (e["customer"] == id && e["kind"] == "create") created = e;
  BOOST_TEST_REQUIRE(!created.is_null(), page.dump());
  BOOST_TEST(created["site"] == "Branch Oulu");
  BOOST_TEST(created["fields"]["name"] == "Peer Customer");
}

BOOST_AUTO_TEST_CASE(a_long_poll_returns_as_soon_as_another_process_makes_a_change) {
  ApiNode node;
  node.create({{"name", "First"}});
  const std::string next = changes(node)["next"];
  const auto start = Clock::now();
  auto poll =
      std::async(std::launch::async, [&] { return longPoll(node, "?wait=5&after=" + next); });
  const std::string id = node.cli.add("Made Elsewhere");
  const auto added = Clock::now();
  BOOST_TEST_REQUIRE((poll.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
  auto r = poll.get();
  const auto answered = Clock::now();
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  const json j = json::parse(r->body);
  BOOST_TEST_REQUIRE(j["events"].size() >= 1u, r->body);
  BOOST_TEST(j["events"][0]["customer"] == id);
  BOOST_TEST(j["events"][0]["user"].get<std::string>() != "sami");
  const auto afterChange =
      std::chrono::duration_cast<std::chrono::milliseconds>(answered - added).count();
  BOOST_TEST_MESSAGE("long poll answered " << afterChange << " ms after the change");
  BOOST_TEST(afterChange < 1000);
  BOOST_TEST((answered - start < std::chrono::seconds(4)));
}

BOOST_AUTO_TEST_CASE(a_long_poll_with_nothing_new_waits_then_answers_no_events_and_the_same_next) {
  ApiNode node;
  node.create({{"name", "Only One"}});
  const std::string next = changes(node)["next"];
  const auto start = Clock::now();
  auto r = longPoll(node, "?wait=1&after=" + next);
  const auto took = Clock::now() - start;
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  BOOST_TEST(json::parse(r->body) == json({{"events", json::array()}, {"next", next}}));
  BOOST_TEST((took >= std::chrono::milliseconds(900)));
  BOOST_TEST((took < std::chrono::seconds(3)));
}

BOOST_AUTO_TEST_CASE(long_polls_waiting_leave_threads_for_other_requests_and_all_wake_on_a_change) {
  ApiNode node;
  const std::string next = changes(node)["next"];
  std::vector<std::future<httplib::Result>> polls;
  for (int i = 0; i < 12; ++i)  // more than httplib's default of 8 threads
    polls.push_back(
        std::async(std::launch::async, [&] { return longPoll(node, "?wait=20&after=" + next); }));
  const auto start = Clock::now();
  auto status = node.get("/v1/status", node.viewer);
  BOOST_TEST(status->status == 200);
  BOOST_TEST((Clock::now() - start < std::chrono::seconds(2)));
  node.create({{"name", "Wakes Them All"}});
  for (auto& poll : polls) {
    BOOST_TEST_REQUIRE((poll.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
    auto r = poll.get();
    BOOST_TEST_REQUIRE(r->status == 200, r->body);
    BOOST_TEST(!json::parse(r->body)["events"].empty());
  }
}

BOOST_AUTO_TEST_CASE(after_restarting_serve_the_last_cursor_returns_only_the_new_events) {
  ApiNode node;
  node.create({{"name", "Before Restart"}});
  const std::string last = changes(node)["next"];
  BOOST_TEST_REQUIRE(node.stop() == 0);
  const std::string whileStopped = node.cli.add("While Stopped");
  node.start();
  const std::string afterRestart = node.create({{"name", "After Restart"}})["id"];
  const json page = changes(node, "?after=" + last);
  BOOST_TEST_REQUIRE(page["events"].size() >= 2u, page.dump());
  std::vector<std::string> created;
  for (const auto& e : page["events"]) {
    BOOST_TEST(std::stoull(e["cursor"].get<std::string>()) > std::stoull(last));
    if (e["kind"] == "create") created.push_back(e["customer"]);
  }
  BOOST_TEST(created == (std::vector<std::string>{whileStopped, afterRestart}));
}

BOOST_AUTO_TEST_CASE(the_stream_delivers_a_new_change_and_resumes_after_last_event_id) {
  ApiNode node;
  const std::string first = node.create({{"name", "Streamed First"}})["id"];
  const std::string opened = changes(node)["next"];
  std::string firstCursor;
  {
    StreamReader stream(node, {}, "?after=" + opened, 1);
    BOOST_TEST(stream.waitOpened().rfind("text/event-stream", 0) == 0u);
    const std::string second = node.create({{"name", "Streamed Second"}})["id"];
    stream.waitEnded();
    const auto events = stream.lockedEvents();
    BOOST_TEST_REQUIRE(events.size() >= 1u);
    BOOST_TEST(events[0]["customer"] == second);
    firstCursor = events[0]["cursor"];
  }
  const std::string third = node.cli.add("Streamed Third");
  StreamReader resumed(node, {{"Last-Event-ID", firstCursor}}, "", 1);
  const std::string text = resumed.waitEnded();
  BOOST_TEST(text.find("id: " + firstCursor + "\n") == std::string::npos, text);
  BOOST_TEST(text.find("event: change\n") != std::string::npos, text);
  const auto events = resumed.lockedEvents();
  BOOST_TEST_REQUIRE(events.size() >= 1u);
  BOOST_TEST(events[0]["customer"] == third);
  BOOST_TEST(events[0]["customer"] != first);
}

BOOST_AUTO_TEST_CASE(stopping_serve_ends_open_streams_and_long_polls_at_once) {
  ApiNode node;
  const std::string next = changes(node)["next"];
  StreamReader stream(node, {}, "?after=" + next, 1);
  stream.waitOpened();
  auto poll =
      std::async(std::launch::async, [&] { return longPoll(node, "?wait=60&after=" + next); });
  const auto start = Clock::now();
  BOOST_TEST(node.stop() == 0);
  BOOST_TEST((Clock::now() - start < std::chrono::seconds(8)));
  stream.waitEnded();
  BOOST_TEST((poll.wait_for(std::chrono::seconds(5)) == std::future_status::ready));
}

BOOST_AUTO_TEST_CASE(removing_a_user_ends_their_open_stream_with_an_error_event) {
  ApiNode node;
  const std::string token = node.addUser("leaving", "viewer");
  waitForStatus(node, "/v1/changes", token, 200, std::chrono::seconds(5));
  StreamReader stream(node, {}, "", 1000, token);
  BOOST_TEST_REQUIRE(stream.waitOpened().rfind("text/event-stream", 0) == 0u);
  const auto start = Clock::now();
  BOOST_TEST_REQUIRE(
      node.cli.run("users", "remove", "--data", node.cli.data, "--name", "leaving").status == 0);
  const std::string text = stream.waitEnded();
  BOOST_TEST((Clock::now() - start < std::chrono::seconds(5)));
  BOOST_TEST(text.find("event: error\n") != std::string::npos, text);
  BOOST_TEST(text.find("unauthorized") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(a_malformed_cursor_is_400_no_token_401_and_a_cursor_past_the_log_410) {
  ApiNode node;
  node.create({{"name", "Someone"}});
  for (const char* query :
       {"?after=abc", "?after=-1", "?after=", "?limit=0", "?limit=1001", "?wait=61", "?wait=x"}) {
    auto r = node.get(std::string("/v1/changes") + query, node.viewer);
    BOOST_TEST(r->status == 400, query);
    BOOST_TEST(errorCode(r) == "bad_query", query);
  }
  BOOST_TEST(node.get("/v1/changes/stream?after=abc", node.viewer)->status == 400);
  BOOST_TEST(node.get("/v1/changes", "")->status == 401);
  BOOST_TEST(node.get("/v1/changes/stream", "")->status == 401);
  auto ahead = node.get("/v1/changes?after=999999", node.viewer);
  BOOST_TEST(ahead->status == 410);
  BOOST_TEST(errorCode(ahead) == "cursor_expired");
}

BOOST_AUTO_TEST_CASE(a_cursor_from_before_compaction_is_410_and_a_read_without_after_goes_on) {
  ApiNode node;
  for (int i = 0; i < 3; ++i) node.create({{"name", "Compacted " + std::to_string(i)}});
  BOOST_TEST_REQUIRE(node.stop() == 0);
  node.start({"--compact-every", "0.001"});  // every 60 ms
  // A peer that takes everything lets the node compact its log.
  Cli peer;
  peer.init("Branch Oulu");
  RunResult synced = peer.run("sync", "--data", peer.data, "--peer", node.serve->endpoint());
  BOOST_TEST_REQUIRE(synced.status == 0, synced);
  waitForStatus(node, "/v1/changes?after=0", node.viewer, 410, std::chrono::seconds(10));
  BOOST_TEST_REQUIRE(node.get("/v1/changes?after=0", node.viewer)->status == 410);
  BOOST_TEST(errorCode(node.get("/v1/changes?after=0", node.viewer)) == "cursor_expired");
  const json fresh = changes(node);
  BOOST_TEST_REQUIRE(!fresh["events"].empty());
  BOOST_TEST(std::stoull(fresh["events"][0]["cursor"].get<std::string>()) > 1u);
  BOOST_TEST(changes(node, "?after=" + fresh["next"].get<std::string>())["events"].empty());
}

BOOST_AUTO_TEST_CASE(the_feed_hides_an_ssn_as_the_history_does) {
  ApiNode node;
  BOOST_TEST_REQUIRE(
      node.cli.run("settings", "set", "--data", node.cli.data, "ssn_shown=false").status == 0);
  const std::string id = node.create({{"name", "Hidden Ssn"}, {"ssn", "010190-123A"}})["id"];
  const json history =
      node.cli.runJson("customer", "history", "--data", node.cli.data, id, "--json");
  const json page = changes(node);
  json shown;
  for (const auto& e : page["events"])
    if (e["customer"] == id && e["kind"] == "create") shown = e["fields"]["ssn"];
  BOOST_TEST(shown == "(hidden)", page.dump());
  BOOST_TEST(history.dump().find("010190-123A") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
