// `sitesync bench local`: the single-site figures of the foundation issue, each side by side with
// the raw cost of the same work in LMDB alone, measured in the same run.
#include <lmdb.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "storage/src/lmdb.h"
#include "tools/sitesync/bench_util.h"
#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

using namespace bench;

struct BenchArgs {
  std::string data;
  uint64_t customers = 1000000;
  size_t batch = 100000;
  bool json = false;
  bool keep = false;
};

void benchLocal(const BenchArgs& a) {
  namespace fs = std::filesystem;
  if (a.customers == 0) throw UsageError("--customers must be at least 1");
  const fs::path root(a.data);
  const fs::path applyDir = root / "bench-apply", rawDir = root / "bench-raw";
  fs::remove_all(applyDir);
  fs::remove_all(rawDir);
  fs::create_directories(applyDir);
  fs::create_directories(rawDir);
  RssSampler rss;
  auto log = [&](const std::string& line) {
    if (!a.json) std::cerr << line << std::endl;
  };

  auto store = storage::Store::open(applyDir.string(), storage::Options{uint64_t(4) << 30});
  sync::SystemClock clock;
  check(sync::Engine::initialize(*store, clock, sync::SiteKey::generate(), "bench", false));
  sync::Engine engine(*store, clock);

  // 1. Bulk create through the real apply path, committed every `batch` customers.
  log("bulk create of " + std::to_string(a.customers) + " customers through the apply path...");
  Generator gen(42);
  auto start = Clock::now();
  double prepSeconds = 0;
  for (uint64_t from = 0; from < a.customers; from += a.batch) {
    auto prep = Clock::now();
    std::vector<sync::LocalOp> ops;
    for (uint64_t i = from; i < std::min(a.customers, from + a.batch); ++i)
      ops.push_back(sync::LocalOp{sync::LocalOp::Kind::kCreate, {}, gen.customer(i), "bench", {}});
    prepSeconds += secondsSince(prep);
    for (const auto& r : engine.submit(ops)) check(r.status);
  }
  const double bulkSeconds = secondsSince(start) - prepSeconds;
  const double bulkRate = double(a.customers) / bulkSeconds;
  const double bulkPeakMb = rss.peakMb();  // the apply path alone, before the raw phase's copies

  // 2. Raw LMDB: the same record bytes and index entries, same commit size.
  log("raw LMDB write of the same records and index entries...");
  RawInput raw = collectRawInput(*store);
  // Lookup queries: a sample of the register's numbers, phones (as stored, "+358 40 ...", and in
  // their national form, "040 ..."), e-mail addresses and name prefixes.
  std::vector<std::string> numbers, phones, nationalPhones, emails, nameQueries;
  std::mt19937_64 pickRng(7);
  for (const auto& record : raw.records) {
    if (pickRng() % std::max<uint64_t>(1, a.customers / 20000) != 0) continue;
    Customer c = decodeCustomer(record.second);
    numbers.push_back(c.value(CustomerField::number));
    phones.push_back(c.value(CustomerField::phone));
    nationalPhones.push_back("0" + storage::phoneDigits(phones.back()).substr(3));
    emails.push_back(c.value(CustomerField::email));
    nameQueries.push_back(storage::nameTokens(c.value(CustomerField::name)).back().substr(0, 4));
  }
  const double rawRate = rawLmdbRate(rawDir.string(), raw.records, raw.indexKeys, a.batch);
  raw = RawInput{};
  fs::remove_all(rawDir);

  // 3. Lookups over the full register: a read transaction, the index, every record found read
  // and decoded. A name prefix such as "virt" matches tens of thousands of customers; like a
  // search-as-you-type list, the benchmark takes the first page of kSearchPage of them.
  constexpr size_t kSearchPage = 10;
  log("lookups by number, phone and name prefix...");
  auto timeLookups = [&](const std::vector<std::string>& queries, auto&& lookup) {
    std::vector<double> us;
    size_t found = 0;
    for (const auto& q : queries) {
      auto t = Clock::now();
      auto txn = store->read();
      for (RecordId id : lookup(txn, q))
        if (store->customer(txn, id)) ++found;
      us.push_back(secondsSince(t) * 1e6);
    }
    if (found < queries.size()) throw Failure("bench: a lookup found nothing");
    return percentiles(us);
  };
  auto byNumber = timeLookups(
      numbers, [&](auto& txn, const std::string& q) { return store->findByNumber(txn, q); });
  auto byPhone = timeLookups(phones, [&](auto& txn, const std::string& q) {
    return store->findByPhone(txn, q, kSearchPage);
  });
  auto byNational = timeLookups(nationalPhones, [&](auto& txn, const std::string& q) {
    return store->findByPhone(txn, q, kSearchPage);
  });
  auto byEmail = timeLookups(
      emails, [&](auto& txn, const std::string& q) { return store->findByEmail(txn, q, 1); });
  auto byName = timeLookups(nameQueries, [&](auto& txn, const std::string& q) {
    return store->searchName(txn, q, kSearchPage);
  });

  // 4. Durable single writes, one commit (fsync) each; then the same through group commit.
  const int singles = 1000;
  log("durable single writes (one commit each)...");
  start = Clock::now();
  for (int i = 0; i < singles; ++i) check(engine.create(gen.customer(i), "bench").status());
  const double singleRate = singles / secondsSince(start);

  log("group commit: 32 writers...");
  const int writers = 32, perWriter = 250;
  uint64_t commits = 0;
  start = Clock::now();
  {
    node::GroupCommitter committer(engine);
    std::vector<std::thread> threads;
    std::vector<std::vector<std::vector<sync::Edit>>> inputs(writers);
    for (int w = 0; w < writers; ++w)
      for (int i = 0; i < perWriter; ++i) inputs[w].push_back(gen.customer(i));
    start = Clock::now();
    for (int w = 0; w < writers; ++w)
      threads.emplace_back([&, w] {
        for (auto& edits : inputs[w])
          check(
              committer.submit(sync::LocalOp{sync::LocalOp::Kind::kCreate, {}, edits, "bench", {}})
                  .status);
      });
    for (auto& t : threads) t.join();
    commits = committer.commits();
  }
  const double groupRate = writers * perWriter / secondsSince(start);

  // 5. Digest of the full register.
  log("digest...");
  start = Clock::now();
  auto digest = engine.digestHex();
  const double digestSeconds = secondsSince(start);

  nlohmann::json j = {
      {"customers", a.customers},
      {"commit_batch", a.batch},
      {"bulk_create_seconds", bulkSeconds},
      {"bulk_create_per_s", bulkRate},
      {"raw_lmdb_per_s", rawRate},
      {"bulk_vs_raw_ratio", bulkRate / rawRate},
      {"lookup_number_p50_us", byNumber.p50},
      {"lookup_number_p99_us", byNumber.p99},
      {"lookup_phone_p50_us", byPhone.p50},
      {"lookup_phone_p99_us", byPhone.p99},
      {"lookup_phone_national_p50_us", byNational.p50},
      {"lookup_phone_national_p99_us", byNational.p99},
      {"lookup_email_p50_us", byEmail.p50},
      {"lookup_email_p99_us", byEmail.p99},
      {"search_name_prefix_p50_us", byName.p50},
      {"search_name_prefix_p99_us", byName.p99},
      {"search_page_size", kSearchPage},
      {"durable_single_writes_per_s", singleRate},
      {"group_commit_writes_per_s", groupRate},
      {"group_commit_writers", writers},
      {"group_commit_transactions", commits},
      {"digest_seconds", digestSeconds},
      {"peak_rss_anon_mb", rss.peakMb()},
      {"bulk_peak_rss_anon_mb", bulkPeakMb},
      {"store_file_mb", double(store->stats().fileBytes) / (1024 * 1024)},
  };
  store.reset();
  if (!a.keep) fs::remove_all(applyDir);
  if (a.json) {
    printJson(j);
    return;
  }
  std::printf("customers                      %llu (commit every %zu)\n",
              static_cast<unsigned long long>(a.customers), a.batch);
  std::printf("bulk create (apply path)       %10.0f customers/s  (%.2f s)\n", bulkRate,
              bulkSeconds);
  std::printf("raw LMDB, same records+indexes %10.0f records/s\n", rawRate);
  std::printf("ratio apply/raw                %10.2f\n", bulkRate / rawRate);
  std::printf("lookup by number               p50 %6.1f us  p99 %6.1f us\n", byNumber.p50,
              byNumber.p99);
  std::printf("lookup by phone                p50 %6.1f us  p99 %6.1f us\n", byPhone.p50,
              byPhone.p99);
  std::printf("lookup by national phone       p50 %6.1f us  p99 %6.1f us\n", byNational.p50,
              byNational.p99);
  std::printf("lookup by e-mail               p50 %6.1f us  p99 %6.1f us\n", byEmail.p50,
              byEmail.p99);
  std::printf("name prefix search, first 10   p50 %6.1f us  p99 %6.1f us\n", byName.p50,
              byName.p99);
  std::printf("durable single writes          %10.0f writes/s (one fsync each)\n", singleRate);
  std::printf("group commit, %d writers       %10.0f writes/s (%llu commits)\n", writers, groupRate,
              static_cast<unsigned long long>(commits));
  std::printf("digest of the register         %10.2f s  (%s...)\n", digestSeconds,
              digest.substr(0, 16).c_str());
  std::printf("peak RssAnon, bulk create      %10.1f MB (whole benchmark: %.1f MB)\n", bulkPeakMb,
              rss.peakMb());
}

}  // namespace

void addBenchCommands(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "benchmarks (figures beside the raw LMDB cost)");
  auto a = std::make_shared<BenchArgs>();
  auto* local = bench->add_subcommand("local", "single-site write, lookup and digest figures");
  local->add_option("--data", a->data, "scratch directory for the benchmark stores")->required();
  local->add_option("--customers", a->customers, "customers to create (default 1000000)");
  local->add_option("--batch", a->batch, "customers per commit in the bulk phase (default 100000)");
  local->add_flag("--json", a->json, "print the figures as one JSON object");
  local->add_flag("--keep", a->keep, "keep the benchmark store");
  local->callback([a] { benchLocal(*a); });
  addSyncBenchCommand(*bench);
  addTablesBenchCommand(*bench);
}

}  // namespace sitesync::cli
