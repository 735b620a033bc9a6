// `sitesync-bench api`: the application API over loopback HTTP at a site of N customers: reads
// (one connection, then 8 with keep-alive), durable creates (one client, then 32), and the time
// from a peer's change applied to its event at a change-stream subscriber. The server runs in
// this process (node::GroupCommitter and api::ApiServer, as `sitesync serve --api` runs them);
// the clients are cpp-httplib on threads of their own, so both share this machine's cores.
#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "api/api.h"
#include "tools/bench/bench_util.h"
#include "tools/bench/sync_cases.h"

namespace sitesync::bench {

namespace {

using nlohmann::json;

struct ApiArgs {
  std::string data;
  uint64_t customers = 1000000;
  double seconds = 5;  // how long the 8 readers read
  size_t readers = 8, writers = 32, createsPerWriter = 100, feedChanges = 200;
  uint64_t bulkChanges = 200000;  // a peer's changes applied, alternately alone and under reads
  double bulkReadRate = 2000;     // reads/s meanwhile, from all readers (0: as fast as they can)
  bool json = false;
};

struct ApiFigures {
  Percentiles oneReader, loadedReads, oneWriter, loadedCreates, feed;
  double readsPerS = 0, createsPerS = 0;
  double bulkAlonePerS = 0, bulkUnderReadsPerS = 0, readsDuringBulkPerS = 0;
};

double microsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t).count();
}

std::unique_ptr<httplib::Client> clientOf(const std::string& url, const std::string& token) {
  auto client = std::make_unique<httplib::Client>(url);
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  client->set_default_headers({{"Authorization", "Bearer " + token}});
  return client;
}

void expectStatus(const httplib::Result& r, int status, const char* what) {
  if (!r) throw Failure(std::string("bench api: ") + what + ": " + httplib::to_string(r.error()));
  if (r->status != status)
    throw Failure(std::string("bench api: ") + what + " answered " + std::to_string(r->status) +
                  ": " + r->body);
}

// Each reader GETs random customers; latencies in microseconds.
std::vector<double> readFor(const std::string& url, const std::string& token,
                            const std::vector<RecordId>& ids, uint64_t seed, size_t count,
                            double seconds) {
  auto client = clientOf(url, token);
  std::mt19937_64 rng(seed);
  std::vector<double> us;
  const auto start = Clock::now();
  while ((count > 0 && us.size() < count) || (count == 0 && secondsSince(start) < seconds)) {
    const auto t = Clock::now();
    auto r = client->Get("/v1/customers/" + ids[rng() % ids.size()].toString());
    us.push_back(microsSince(t));
    expectStatus(r, 200, "a read");
  }
  return us;
}

std::vector<double> createSome(const std::string& url, const std::string& token, size_t count,
                               uint64_t seed) {
  auto client = clientOf(url, token);
  Generator gen(seed);
  std::vector<double> us;
  for (size_t i = 0; i < count; ++i) {
    json body = json::object();
    for (const auto& edit : gen.customer(i))
      if (edit.field == uint16_t(CustomerField::name) ||
          edit.field == uint16_t(CustomerField::phone))
        body[edit.field == uint16_t(CustomerField::name) ? "name" : "phone"] = edit.value;
    const auto t = Clock::now();
    auto r = client->Post("/v1/customers", body.dump(), "application/json");
    us.push_back(microsSince(t));
    expectStatus(r, 201, "a create");
  }
  return us;
}

void timeReads(const std::string& url, const std::string& token, const std::vector<RecordId>& ids,
               const ApiArgs& a, ApiFigures& f) {
  readFor(url, token, ids, 1, 2000, 0);  // warm: the pages the reads touch, the connection
  f.oneReader = percentiles(readFor(url, token, ids, 2, 10000, 0));
  std::vector<std::vector<double>> each(a.readers);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (size_t i = 0; i < a.readers; ++i)
    threads.emplace_back([&, i] { each[i] = readFor(url, token, ids, 10 + i, 0, a.seconds); });
  for (auto& t : threads) t.join();
  const double elapsed = secondsSince(start);
  std::vector<double> all;
  for (const auto& e : each) all.insert(all.end(), e.begin(), e.end());
  f.readsPerS = double(all.size()) / elapsed;
  f.loadedReads = percentiles(std::move(all));
}

void timeCreates(const std::string& url, const std::string& token, const ApiArgs& a,
                 ApiFigures& f) {
  f.oneWriter = percentiles(createSome(url, token, 500, 7));
  std::vector<std::vector<double>> each(a.writers);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (size_t i = 0; i < a.writers; ++i)
    threads.emplace_back([&, i] { each[i] = createSome(url, token, a.createsPerWriter, 100 + i); });
  for (auto& t : threads) t.join();
  f.createsPerS = double(a.writers * a.createsPerWriter) / secondsSince(start);
  std::vector<double> all;
  for (const auto& e : each) all.insert(all.end(), e.begin(), e.end());
  f.loadedCreates = percentiles(std::move(all));
}

// Events seen on the stream, by customer: when each arrived.
class StreamWatcher {
 public:
  StreamWatcher(const std::string& url, const std::string& token, uint64_t after)
      : client_(clientOf(url, token)), thread_([this, after] { run(after); }) {}
  ~StreamWatcher() {
    client_->stop();
    thread_.join();
  }
  // When the event about `customer` arrived; throws after 10 s without it.
  Clock::time_point waitFor(const std::string& customer) {
    std::unique_lock lock(mutex_);
    if (!arrived_.wait_for(lock, std::chrono::seconds(10), [&] { return seen_.count(customer); }))
      throw Failure("bench api: no stream event for " + customer + " within 10 s");
    return seen_[customer];
  }

 private:
  void run(uint64_t after) {
    std::string pending;
    client_->Get("/v1/changes/stream", {{"Last-Event-ID", std::to_string(after)}},
                 [&](const char* data, size_t size) {
                   const auto now = Clock::now();
                   pending.append(data, size);
                   for (size_t end; (end = pending.find("\n\n")) != std::string::npos;) {
                     noteEvent(pending.substr(0, end), now);
                     pending.erase(0, end + 2);
                   }
                   return true;
                 });
  }
  void noteEvent(const std::string& text, Clock::time_point at) {
    const size_t data = text.find("data: ");
    if (data == std::string::npos) return;
    const json event = json::parse(text.substr(data + 6), nullptr, false);
    if (!event.is_object() || !event["customer"].is_string()) return;
    std::lock_guard lock(mutex_);
    seen_.emplace(event["customer"].get<std::string>(), at);
    arrived_.notify_all();
  }

  std::unique_ptr<httplib::Client> client_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::map<std::string, Clock::time_point> seen_;
  std::thread thread_;
};

// Readers that GET random customers at a steady rate (an application's load, not a saturating
// one, which would take the cores) while `reading` is set, from construction to destruction.
class PacedReaders {
 public:
  PacedReaders(const std::string& url, const std::string& token, const std::vector<RecordId>& ids,
               const ApiArgs& a) {
    const auto every = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(a.bulkReadRate > 0 ? double(a.readers) / a.bulkReadRate : 0));
    for (size_t i = 0; i < a.readers; ++i)
      threads_.emplace_back([this, url, token, &ids, every, i] {
        auto client = clientOf(url, token);
        std::mt19937_64 rng(50 + i);
        for (auto next = Clock::now(); !stop_; next += every) {
          std::this_thread::sleep_until(next);
          if (!reading) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            next = Clock::now();
            continue;
          }
          expectStatus(client->Get("/v1/customers/" + ids[rng() % ids.size()].toString()), 200,
                       "a read");
          ++reads;
        }
      });
  }
  ~PacedReaders() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  std::atomic<bool> reading{false};
  std::atomic<uint64_t> reads{0};

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// A peer's changes applied here in batches of 1,000 (as a session applies them), in four
// quarters: with the API idle, while it serves reads, idle, serving again.
void timeBulkUnderReads(const std::filesystem::path& root, sync::Engine& engine,
                        const std::string& url, const std::string& token,
                        const std::vector<RecordId>& ids, const ApiArgs& a, ApiFigures& f) {
  BenchNode peer(root / "bench-api-bulk", "bulk peer", false, Signatures::kChecked);
  Generator gen(7);
  createCustomers(*peer.engine, gen, a.bulkChanges);
  std::vector<std::vector<std::string>> batches;
  for (uint64_t position = 0;;) {
    const auto page = peer.engine->changesAfter(position, 1000);
    if (page.changes.empty()) break;
    auto& batch = batches.emplace_back();
    for (const auto& logged : page.changes) encode(logged.change, batch.emplace_back());
    position = page.changes.back().position;
  }
  PacedReaders readers(url, token, ids, a);
  double seconds[2] = {0, 0}, changes[2] = {0, 0};
  for (size_t quarter = 0; quarter < 4; ++quarter) {
    const bool reading = quarter % 2 == 1;
    readers.reading = reading;
    const auto start = Clock::now();
    for (size_t i = batches.size() * quarter / 4; i < batches.size() * (quarter + 1) / 4; ++i) {
      (void)engine.applyBatch(batches[i]);
      changes[reading] += double(batches[i].size());
    }
    seconds[reading] += secondsSince(start);
  }
  readers.reading = false;
  f.bulkAlonePerS = changes[0] / seconds[0];
  f.bulkUnderReadsPerS = changes[1] / seconds[1];
  f.readsDuringBulkPerS = double(readers.reads) / seconds[1];
}

// A peer's new customer, applied here as a batch from that peer, until its event arrives.
void timeFeed(const std::filesystem::path& root, sync::Engine& engine, const std::string& url,
              const std::string& token, const ApiArgs& a, ApiFigures& f) {
  BenchNode peer(root / "bench-api-peer", "peer", false, Signatures::kChecked);
  StreamWatcher watcher(url, token, engine.changesAfter(0, 0).end);
  Generator gen(99);
  uint64_t peerPosition = 0;
  std::vector<double> us;
  for (size_t i = 0; i < a.feedChanges; ++i) {
    const auto made = peer.engine->submit({createOp(gen.customer(i))});
    check(made.at(0).status);
    std::vector<std::string> batch;
    const auto page = peer.engine->changesAfter(peerPosition, 100);
    for (const auto& logged : page.changes) {
      batch.emplace_back();
      encode(logged.change, batch.back());
    }
    peerPosition = page.end;
    const auto start = Clock::now();
    (void)engine.applyBatch(batch);
    us.push_back(
        std::chrono::duration<double, std::micro>(watcher.waitFor(made.at(0).id.toString()) - start)
            .count());
  }
  f.feed = percentiles(std::move(us));
}

void printApi(const ApiArgs& a, const ApiFigures& f) {
  std::printf("customers at the site               %llu\n", (unsigned long long)a.customers);
  std::printf("GET /v1/customers/{id}, 1 connection  p50 %.0f us, p99 %.0f us\n", f.oneReader.p50,
              f.oneReader.p99);
  std::printf("GET, %zu keep-alive connections       %.0f req/s (p50 %.0f us, p99 %.0f us)\n",
              a.readers, f.readsPerS, f.loadedReads.p50, f.loadedReads.p99);
  std::printf("POST /v1/customers, 1 client         p50 %.2f ms, p99 %.2f ms\n",
              f.oneWriter.p50 / 1000, f.oneWriter.p99 / 1000);
  std::printf(
      "POST, %zu clients                    %.0f durable creates/s (p50 %.2f ms, p99 %.2f ms)\n",
      a.writers, f.createsPerS, f.loadedCreates.p50 / 1000, f.loadedCreates.p99 / 1000);
  std::printf("peer change applied -> SSE event     p50 %.2f ms, p99 %.2f ms\n", f.feed.p50 / 1000,
              f.feed.p99 / 1000);
  std::printf("a peer's bulk applied, API idle      %.0f changes/s\n", f.bulkAlonePerS);
  std::printf("the same while the API serves reads  %.0f changes/s (%.0f reads/s meanwhile)\n",
              f.bulkUnderReadsPerS, f.readsDuringBulkPerS);
}

json apiJson(const ApiArgs& a, const ApiFigures& f) {
  return {{"customers", a.customers},
          {"read_one_connection_p50_us", f.oneReader.p50},
          {"read_one_connection_p99_us", f.oneReader.p99},
          {"reads_per_s", f.readsPerS},
          {"read_connections", a.readers},
          {"read_loaded_p50_us", f.loadedReads.p50},
          {"read_loaded_p99_us", f.loadedReads.p99},
          {"create_one_client_p50_ms", f.oneWriter.p50 / 1000},
          {"create_one_client_p99_ms", f.oneWriter.p99 / 1000},
          {"creates_per_s", f.createsPerS},
          {"create_loaded_p50_ms", f.loadedCreates.p50 / 1000},
          {"create_loaded_p99_ms", f.loadedCreates.p99 / 1000},
          {"create_clients", a.writers},
          {"feed_p50_ms", f.feed.p50 / 1000},
          {"feed_p99_ms", f.feed.p99 / 1000},
          {"bulk_changes", a.bulkChanges},
          {"bulk_alone_per_s", f.bulkAlonePerS},
          {"bulk_under_reads_per_s", f.bulkUnderReadsPerS},
          {"reads_during_bulk_per_s", f.readsDuringBulkPerS},
          {"bulk_read_rate_asked", a.bulkReadRate}};
}

void benchApi(const ApiArgs& a) {
  if (a.customers == 0) throw UsageError("--customers must be at least 1");
  const std::filesystem::path root(a.data);
  auto log = [&](const std::string& line) {
    if (!a.json) std::cerr << line << std::endl;
  };
  BenchNode site(root / "bench-api", "branch", false, Signatures::kChecked);
  log("creating " + std::to_string(a.customers) + " customers (not timed)...");
  Generator gen(42);
  const std::vector<RecordId> ids = createCustomers(*site.engine, gen, a.customers);
  const std::string token = take(api::addUser(*site.engine, "bench", api::Role::kAdmin, "bench"));
  node::GroupCommitter committer(*site.engine);
  api::ApiServer server(*site.engine, committer, api::ApiOptions{"127.0.0.1", 0, "", ""});
  ApiFigures f;
  log("reads over " + server.url() + "...");
  timeReads(server.url(), token, ids, a, f);
  log("creates...");
  timeCreates(server.url(), token, a, f);
  log("the change stream...");
  timeFeed(root, *site.engine, server.url(), token, a, f);
  if (a.bulkChanges > 0) {
    log("a peer's bulk, alone and under reads...");
    timeBulkUnderReads(root, *site.engine, server.url(), token, ids, a, f);
  }
  if (a.json)
    printJson(apiJson(a, f));
  else
    printApi(a, f);
}

}  // namespace

void addApiCommand(CLI::App& app) {
  auto a = std::make_shared<ApiArgs>();
  auto* cmd = app.add_subcommand("api", "the application API over loopback HTTP");
  cmd->add_option("--data", a->data, "scratch directory for the benchmark stores")->required();
  cmd->add_option("--customers", a->customers, "customers at the site (default 1000000)");
  cmd->add_option("--seconds", a->seconds, "how long the concurrent readers read (default 5)");
  cmd->add_option("--creates-per-client", a->createsPerWriter,
                  "creates each of the 32 writers sends (default 100)");
  cmd->add_option("--feed-changes", a->feedChanges,
                  "peer changes timed to their stream event (default 200)");
  cmd->add_option("--bulk-changes", a->bulkChanges,
                  "a peer's changes applied, half with the API idle, half under reads "
                  "(default 200000; 0: skip)");
  cmd->add_option("--bulk-read-rate", a->bulkReadRate,
                  "reads/s the 8 readers send during the second half (default 2000; 0: as fast "
                  "as they can)");
  cmd->add_flag("--json", a->json, "print the figures as one JSON object");
  cmd->callback([a] { benchApi(*a); });
}

}  // namespace sitesync::bench
