// /v1/changes (pages, long polls) and /v1/changes/stream (Server-Sent Events): every change this
// node applied, local or from a peer, in the order it applied them. A cursor is a position in
// the node's log: durable, so a client that keeps it misses and repeats nothing across a
// restart of either side. Clients treat it as opaque (docs/api.md).
#include <charconv>

#include "api/register_json.h"
#include "api/src/http.h"
#include "api/src/log_watch.h"

namespace sitesync::api {

namespace {

using nlohmann::json;
using Clock = LogWatch::Clock;

constexpr size_t kDefaultLimit = 100;
constexpr size_t kMaxLimit = 1000;
constexpr int kMaxWaitSeconds = 60;
constexpr size_t kStreamBatch = 100;  // events a stream sends at a time
// Proxies and clients drop a connection that stays silent too long.
constexpr auto kKeepaliveEvery = std::chrono::seconds(15);

std::optional<uint64_t> decimal(const std::string& text) {
  uint64_t value = 0;
  auto [at, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || at != text.data() + text.size()) return std::nullopt;
  return value;
}

uint64_t cursorFrom(const std::string& text) {
  auto position = decimal(text);
  if (!position)
    throw HttpFailure(400, "bad_query", "'" + text + "' is not a cursor this API gave");
  return *position;
}

// Where a request starts: after its `after` cursor (a stream: its Last-Event-ID first, which a
// reconnecting EventSource sends); none: at the oldest change held.
std::optional<uint64_t> startParam(const httplib::Request& req, bool stream) {
  if (stream && req.has_header("Last-Event-ID"))
    return cursorFrom(req.get_header_value("Last-Event-ID"));
  if (req.has_param("after")) return cursorFrom(req.get_param_value("after"));
  return std::nullopt;
}

size_t limitParam(const httplib::Request& req) {
  if (!req.has_param("limit")) return kDefaultLimit;
  auto limit = decimal(req.get_param_value("limit"));
  if (!limit || *limit == 0 || *limit > kMaxLimit)
    throw HttpFailure(400, "bad_query", "limit is a number from 1 to 1000");
  return size_t(*limit);
}

std::chrono::seconds waitParam(const httplib::Request& req) {
  if (!req.has_param("wait")) return std::chrono::seconds(0);
  auto wait = decimal(req.get_param_value("wait"));
  if (!wait || *wait > uint64_t(kMaxWaitSeconds))
    throw HttpFailure(400, "bad_query", "wait is a number of seconds from 0 to 60");
  return std::chrono::seconds(*wait);
}

// The feed's name for what a change wrote: a customer field as the history names it, or a
// setting as `settings show` does.
std::string writtenName(const Change& change, const FieldWrite& write) {
  if (change.operation == Operation::kSettings && write.field == kSettingsUserCode)
    return "user." + write.key;
  if (change.operation == Operation::kSettings && write.field == kSettingsCustomFieldCode)
    return "custom_field." + write.key;
  if (change.operation == Operation::kSettings && write.field == kSettingsCustomerGroupCode)
    return "customer_group." + write.key;
  if (change.operation == Operation::kSettings && write.field == kSettingsDiscountTypeCode)
    return "discount_type." + write.key;
  if (change.operation == Operation::kSettings && write.field < kSettingsFieldCount)
    return info(static_cast<SettingsField>(write.field)).cliName;
  return fieldDisplayName(write.field, write.key);
}

// What the feed shows of a write: a user's role, never their token's hash ("" once removed).
std::string writtenValue(const Change& change, const FieldWrite& write, bool hideSsn) {
  if (change.operation == Operation::kSettings)
    return write.field == kSettingsUserCode ? write.value.substr(0, write.value.find(' '))
                                            : write.value;
  if (hideSsn && write.field == uint16_t(CustomerField::ssn) && !write.value.empty())
    return kHiddenValue;
  return write.value;
}

// One event: the change with its fields' new values as `customer history --json` shows them.
json eventJson(const sync::Engine::LoggedChange& logged, const SiteNames& names, bool hideSsn) {
  const Change& change = logged.change;
  json fields = json::object();
  for (const FieldWrite& write : change.writes)
    fields[writtenName(change, write)] = writtenValue(change, write, hideSsn);
  json event = {{"cursor", std::to_string(logged.position)},
                {"customer", change.target.isNull() ? json() : json(change.target.toString())},
                {"kind", operationName(change.operation)},
                {"fields", std::move(fields)},
                {"user", change.author},
                {"site", siteLabel(names, change.id.origin)},
                {"site_id", siteIdToHex(change.id.origin)},
                {"at", change.hlc.toIso8601()}};
  if (!change.absorbed.empty()) {
    json absorbed = json::array();
    for (RecordId id : change.absorbed) absorbed.push_back(id.toString());
    event["absorbed"] = std::move(absorbed);
  }
  if (!change.note.empty()) event["note"] = change.note;
  return event;
}

// After a change's event, one for each technician it assigned to or unassigned from its
// customer, with the same cursor: what a field technician's app waits for.
void addAssignmentEvents(const sync::Engine::LoggedChange& logged, std::vector<json>& events) {
  const Change& change = logged.change;
  if (change.target.isNull()) return;
  for (const FieldWrite& write : change.writes)
    if (write.field == kTechnicianCode)
      events.push_back({{"cursor", std::to_string(logged.position)},
                        {"customer", change.target.toString()},
                        {"kind", write.value == "true" ? "assigned" : "unassigned"},
                        {"technician", write.key},
                        {"user", change.author},
                        {"at", change.hlc.toIso8601()}});
}

struct FeedPage {
  std::vector<json> events;
  uint64_t next = 0;  // the cursor to pass as `after` for what follows
};

// A stream's state between the calls httplib makes for more of its body.
struct StreamState {
  uint64_t position;
  LogWatch::Seat seat;  // held while the stream is open
  Clock::time_point nextKeepalive;
  std::function<bool()> stillAuthorized;
};

// A stream looks at its user's token at least this often: a removed user's stream ends.
constexpr auto kAuthorizeEvery = std::chrono::seconds(1);

// The last thing a stream sends when it ends for a reason the client should know.
bool sendErrorEvent(httplib::DataSink& sink, const std::string& code, const std::string& message) {
  const json error = {{"error", {{"code", code}, {"message", message}}}};
  const std::string text = "event: error\ndata: " + error.dump() + "\n\n";
  sink.write(text.data(), text.size());
  return false;
}

class ChangeFeed {
 public:
  ChangeFeed(sync::Engine& engine, LogWatch& watch) : engine_(engine), watch_(watch) {}

  void list(const httplib::Request& req, httplib::Response& res) const;
  void stream(const httplib::Request& req, httplib::Response& res, const Caller& caller) const;

 private:
  FeedPage read(std::optional<uint64_t> after, size_t limit) const;
  void addConflictEvents(const sync::Engine::LoggedChange& logged, const SiteNames& names,
                         bool hideSsn, std::vector<json>& events) const;
  bool pump(StreamState& state, httplib::DataSink& sink) const;
  LogWatch::Seat seat() const {
    auto seat = watch_.takeSeat();
    if (!seat)
      throw HttpFailure(503, "busy", "too many requests are waiting for changes; try again soon");
    return std::move(*seat);
  }

  sync::Engine& engine_;
  LogWatch& watch_;
};

// Throws 410 when the log no longer holds what follows `after`: compaction removed it, or the
// cursor is past the log's end (it came from another store).
void checkHeld(uint64_t after, const sync::Engine::LogPage& log) {
  const std::string advice =
      ": re-read the register, then follow the feed from the `next` of a GET /v1/changes "
      "without `after`";
  if (after > log.end)
    throw HttpFailure(
        410, "cursor_expired",
        "cursor " + std::to_string(after) + " is past the end of this node's log" + advice);
  if (log.firstHeld > 0 && after + 1 < log.firstHeld)
    throw HttpFailure(
        410, "cursor_expired",
        "the changes after cursor " + std::to_string(after) + " were compacted away" + advice);
}

FeedPage ChangeFeed::read(std::optional<uint64_t> after, size_t limit) const {
  const sync::Engine::LogPage log = engine_.changesAfter(after.value_or(0), limit);
  if (after) checkHeld(*after, log);
  FeedPage page;
  // Without a cursor the feed starts at the oldest change still held.
  page.next = after ? *after : (log.firstHeld > 0 ? log.firstHeld - 1 : 0);
  if (log.changes.empty()) return page;
  const SiteNames names = siteNames(engine_);
  const bool hideSsn = !engine_.settings().getBool(SettingsField::ssnShown);
  for (const auto& logged : log.changes) {
    page.events.push_back(eventJson(logged, names, hideSsn));
    addAssignmentEvents(logged, page.events);
    addConflictEvents(logged, names, hideSsn, page.events);
  }
  page.next = log.changes.back().position;
  return page;
}

// After a change's event, one for each conflict it opened or resolved, with the same cursor: a
// page or a stream never ends between them.
void ChangeFeed::addConflictEvents(const sync::Engine::LoggedChange& logged, const SiteNames& names,
                                   bool hideSsn, std::vector<json>& events) const {
  const sync::ConflictMoves moves = engine_.movedBy(logged.change, logged.position);
  for (const auto* list : {&moves.opened, &moves.resolved})
    for (const sync::ConflictInfo& c : *list)
      events.push_back({{"cursor", std::to_string(logged.position)},
                        {"customer", c.customer.toString()},
                        {"kind", list == &moves.opened ? "conflict_opened" : "conflict_resolved"},
                        {"conflict", conflictJson(c, hideSsn, names)}});
}

void ChangeFeed::list(const httplib::Request& req, httplib::Response& res) const {
  const std::optional<uint64_t> after = startParam(req, false);
  const size_t limit = limitParam(req);
  const std::chrono::seconds wait = waitParam(req);
  FeedPage page = read(after, limit);
  if (page.events.empty() && wait.count() > 0) {
    const LogWatch::Seat waiting = seat();
    watch_.waitBeyond(page.next, Clock::now() + wait);
    page = read(page.next, limit);
  }
  replyJson(res, 200, {{"events", page.events}, {"next", std::to_string(page.next)}});
}

void ChangeFeed::stream(const httplib::Request& req, httplib::Response& res,
                        const Caller& caller) const {
  const FeedPage start =
      read(startParam(req, true), 0);  // a cursor no longer held is refused before streaming
  auto state = std::make_shared<StreamState>(
      StreamState{start.next, seat(), Clock::now() + kKeepaliveEvery, caller.stillAuthorized});
  res.set_header("Cache-Control", "no-store");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, state](size_t, httplib::DataSink& sink) { return pump(*state, sink); });
}

// Sends what the log gained, a keepalive when one is due, or waits for either. Returning false
// ends the stream: the client left, the server stops, the user's token no longer holds, or the
// stream fell behind compaction.
bool ChangeFeed::pump(StreamState& state, httplib::DataSink& sink) const {
  if (watch_.stopped()) return false;
  if (state.stillAuthorized && !state.stillAuthorized())
    return sendErrorEvent(sink, "unauthorized", "the token was revoked or its user removed");
  FeedPage page;
  try {
    page = read(state.position, kStreamBatch);
  } catch (const HttpFailure& expired) {
    return sendErrorEvent(sink, expired.code(), expired.what());
  } catch (const std::exception&) {
    return false;  // the store failed; the client reconnects with the last id it received
  }
  if (!page.events.empty()) {
    std::string text;
    for (size_t i = 0; i < page.events.size(); ++i) {
      const json& event = page.events[i];
      const std::string cursor = event["cursor"].get<std::string>();
      // The id only on the last event of a change: a client that reconnects after a change's
      // event and before its conflicts' gets them again.
      const bool last = i + 1 == page.events.size() || page.events[i + 1]["cursor"] != cursor;
      const std::string kind = event["kind"].get<std::string>();
      const bool conflict = kind.rfind("conflict_", 0) == 0;
      const bool assignment = kind == "assigned" || kind == "unassigned";
      if (last) text += "id: " + cursor + "\n";
      text += std::string("event: ") +
              (conflict     ? "conflict"
               : assignment ? "assignment"
                            : "change") +
              "\ndata: " + event.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
    }
    state.position = page.next;
    return sink.write(text.data(), text.size());
  }
  if (Clock::now() >= state.nextKeepalive) {
    state.nextKeepalive = Clock::now() + kKeepaliveEvery;
    constexpr std::string_view kKeepalive = ": keepalive\n\n";
    return sink.write(kKeepalive.data(), kKeepalive.size());
  }
  watch_.waitBeyond(state.position, std::min(state.nextKeepalive, Clock::now() + kAuthorizeEvery));
  return !watch_.stopped();
}

}  // namespace

void addChangeRoutes(const AddRoute& add, sync::Engine& engine, LogWatch& watch) {
  auto feed = std::make_shared<ChangeFeed>(engine, watch);
  add(Method::kGet, "/v1/changes", Role::kViewer,
      [feed](const auto& req, auto& res, const Caller&) { feed->list(req, res); });
  add(Method::kGet, "/v1/changes/stream", Role::kViewer,
      [feed](const auto& req, auto& res, const Caller& c) { feed->stream(req, res, c); });
}

}  // namespace sitesync::api
