// Many sites in one process for `sitesync-bench hub`: their stores, links and the loop that
// drives them.
#include "tools/bench/simulated_sites.h"

#include <algorithm>
#include <cmath>

#include "protocol/protocol.h"

namespace sitesync::bench {

namespace {

sync::SessionTime sessionNow() {
  return std::chrono::duration_cast<sync::SessionTime>(Clock::now().time_since_epoch());
}

// Sites connect this many at a time, each group acknowledged before the next: ten thousand
// hellos at once would only measure how a hub copes with a stampede.
constexpr size_t kConnectWave = 250;
// Each session is ticked about this often (heartbeats are due every second).
constexpr std::chrono::milliseconds kTickEvery{100};

}  // namespace

struct SimulatedSites::Site {
  size_t index = 0;
  std::unique_ptr<storage::Store> store;
  sync::SystemClock clock;
  std::unique_ptr<sync::Engine> engine;
  SiteId id = 0;
  RecordId customer;
  uint64_t edits = 0;
  std::unique_ptr<zmq::socket_t> socket;
  std::unique_ptr<sync::PeerSession> session;
  // This site's changes the hub has not acknowledged yet: seq, and when it was written.
  std::deque<std::pair<uint64_t, Clock::time_point>> pending;
};

SimulatedSites::SimulatedSites(const std::filesystem::path& dir, size_t count, bool receive)
    : receive_(receive) {
  std::filesystem::remove_all(dir);
  // A site that reconnects opens its new socket before the old one is reaped: room for both.
  context_.set(zmq::ctxopt::max_sockets, int(2 * count + 64));
  Generator gen(42);
  for (size_t i = 0; i < count; ++i) {
    auto site = std::make_unique<Site>();
    site->index = i;
    const auto siteDir = dir / ("site-" + std::to_string(i));
    std::filesystem::create_directories(siteDir);
    // A site's store stays small; its map is address space only.
    site->store = storage::Store::open(siteDir.string(), storage::Options{uint64_t(64) << 20});
    check(sync::Engine::initialize(*site->store, site->clock, sync::SiteKey::generate(),
                                   "site " + std::to_string(i), false));
    site->engine = std::make_unique<sync::Engine>(*site->store, site->clock);
    site->id = site->engine->meta().siteId;
    site->customer = take(site->engine->create(gen.customer(i), "bench")).id;
    site->pending.emplace_back(site->engine->meta().lastSeq, Clock::now());
    sites_.push_back(std::move(site));
  }
  // Sites not connected yet have no socket: a negative descriptor, which poll leaves alone.
  items_.resize(count, zmq::pollitem_t{nullptr, -1, ZMQ_POLLIN, 0});
}

SimulatedSites::~SimulatedSites() = default;

void SimulatedSites::open(Site& site) {
  site.session.reset();
  site.socket = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
  site.socket->set(zmq::sockopt::linger, 0);
  site.socket->connect(endpoint_);
  sync::SessionOptions options;
  options.credit = receive_ ? 4 : 0;
  site.session = std::make_unique<sync::PeerSession>(
      *site.engine, sync::SessionLink{true, endpoint_, {}, {}}, options);
  items_[site.index].socket = site.socket->handle();
  send(site, site.session->start(sessionNow()));
}

void SimulatedSites::send(Site& site, const sync::PeerSession::Messages& messages) {
  thread_local std::string bytes;
  for (const auto& message : messages) {
    encode(message, bytes);
    bytesSent_ += bytes.size();
    // A full pipe loses the message; the session finds out from the hub's next heartbeat, as
    // over a real network.
    (void)site.socket->send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  }
  if (site.session->ended()) {
    ++reconnects_;
    ++endReasons_[site.session->endReason()];
    open(site);
  }
}

void SimulatedSites::read(Site& site, EditRun* run) {
  zmq::message_t frame;
  while (site.socket->recv(frame, zmq::recv_flags::dontwait)) {
    bytesReceived_ += frame.size();
    const std::string_view bytes(frame.data<char>(), frame.size());
    const WireMessage message = decodeWireMessage(bytes);
    const auto out = site.session->onMessage(message, sessionNow(), bytes);
    const VersionVector* held = nullptr;
    if (auto* ack = std::get_if<AckMsg>(&message)) held = &ack->vector;
    if (auto* heartbeat = std::get_if<HeartbeatMsg>(&message)) held = &heartbeat->vector;
    if (held) {
      const uint64_t seq = held->get(site.id);
      const auto now = Clock::now();
      while (!site.pending.empty() && site.pending.front().first <= seq) {
        if (run) {
          run->latencyUs.push_back(
              std::chrono::duration<double, std::micro>(now - site.pending.front().second).count());
          ++run->acknowledged;
        }
        site.pending.pop_front();
      }
    }
    send(site, out);
  }
}

void SimulatedSites::step(std::chrono::milliseconds wait, EditRun* run) {
  for (auto& item : items_) item.revents = 0;
  try {
    zmq::poll(items_.data(), items_.size(), wait);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
  }
  for (size_t i = 0; i < items_.size(); ++i)
    if (items_[i].socket && (items_[i].revents & ZMQ_POLLIN)) read(*sites_[i], run);
  const auto now = Clock::now();
  const double share = std::chrono::duration<double>(now - lastTick_) / kTickEvery;
  const size_t due = std::min(sites_.size(), size_t(std::ceil(share * double(sites_.size()))));
  if (due == 0) return;
  lastTick_ = now;
  for (size_t n = 0; n < due; ++n) {
    Site& site = *sites_[tickCursor_];
    tickCursor_ = (tickCursor_ + 1) % sites_.size();
    if (site.session) send(site, site.session->onTick(sessionNow()));
  }
}

size_t SimulatedSites::unacknowledged() const {
  size_t n = 0;
  for (const auto& site : sites_) n += site->pending.size();
  return n;
}

size_t SimulatedSites::up() const {
  return size_t(std::count_if(sites_.begin(), sites_.end(),
                              [](const auto& s) { return s->session && s->session->up(); }));
}

size_t SimulatedSites::reconnects() const {
  return reconnects_;
}

uint64_t SimulatedSites::changesReceived() const {
  uint64_t n = 0;
  for (const auto& site : sites_)
    if (site->session) n += site->session->counters().received;
  return n;
}

void SimulatedSites::connect(const std::string& endpoint, std::chrono::seconds timeout) {
  endpoint_ = endpoint;
  const auto deadline = Clock::now() + timeout;
  for (size_t first = 0; first < sites_.size(); first += kConnectWave) {
    const size_t end = std::min(sites_.size(), first + kConnectWave);
    for (size_t i = first; i < end; ++i) open(*sites_[i]);
    auto settled = [&] {
      return std::all_of(sites_.begin() + long(first), sites_.begin() + long(end),
                         [](const auto& s) { return s->session->up() && s->pending.empty(); });
    };
    while (!settled()) {
      if (Clock::now() > deadline)
        throw Failure("bench: hub: " + std::to_string(up()) + " of " +
                      std::to_string(sites_.size()) + " sites connected within " +
                      std::to_string(timeout.count()) + " s");
      step(std::chrono::milliseconds(2), nullptr);
    }
  }
}

void SimulatedSites::idle(double seconds) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) step(std::chrono::milliseconds(5), nullptr);
}

EditRun SimulatedSites::edit(double seconds, double perSecond, std::chrono::seconds drain) {
  EditRun run;
  const double interval = 1.0 / (double(sites_.size()) * perSecond);  // between any two edits
  const size_t total = size_t(std::llround(seconds * perSecond * double(sites_.size())));
  run.latencyUs.reserve(total);
  const auto start = Clock::now();
  auto dueAt = [&](size_t j) {
    return start + std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(double(j) * interval));
  };
  size_t next = 0;
  while (next < total) {
    auto now = Clock::now();
    for (; next < total && dueAt(next) <= now; ++next) {
      Site& site = *sites_[next % sites_.size()];
      run.maxLateMs = std::max(
          run.maxLateMs, std::chrono::duration<double, std::milli>(now - dueAt(next)).count());
      const std::string phone = "+358 40 " + std::to_string(1000000 + ++site.edits);
      take(site.engine->update(site.customer,
                               {sync::Edit{uint16_t(CustomerField::phone), {}, phone}}, "bench"));
      site.pending.emplace_back(site.engine->meta().lastSeq, Clock::now());
      ++run.made;
      send(site, site.session->onTick(sessionNow()));
      now = Clock::now();
    }
    const auto wait = next < total ? dueAt(next) - now : Clock::duration::zero();
    step(std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(wait),
                    std::chrono::milliseconds(0), std::chrono::milliseconds(2)),
         &run);
  }
  const auto deadline = Clock::now() + drain;
  while (unacknowledged() > 0 && Clock::now() < deadline) step(std::chrono::milliseconds(2), &run);
  return run;
}

}  // namespace sitesync::bench
