// `sitesync-bench local`: the single-site figures of the foundation issue, each side by side with
// the raw cost of the same work in LMDB alone, measured in the same run.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>

#include "node/node.h"
#include "tools/bench/bench_util.h"

namespace sitesync::bench {

namespace {

struct LocalArgs {
  std::string data;
  uint64_t customers = 1000000;
  size_t batch = 100000;
  bool json = false;
  bool keep = false;
};

// A name prefix such as "virt" matches tens of thousands of customers; like a search-as-you-type
// list, the benchmark takes the first page of kSearchPage of them.
constexpr size_t kSearchPage = 10;
constexpr int kSingleWrites = 1000;
constexpr int kWriters = 32, kWritesPerWriter = 250;

struct LocalFigures {
  double bulkSeconds = 0, bulkRate = 0, bulkPeakMb = 0, rawRate = 0;
  Percentiles byNumber, byPhone, byNational, byEmail, byName;
  double singleRate = 0, groupRate = 0;
  uint64_t groupCommits = 0;
  std::string digest;
  double digestSeconds = 0, storeFileMb = 0;
  double duplicatesSeconds = 0;  // `customer duplicates` over the whole register
  size_t duplicatePairs = 0;
};

// The bulk create through the real apply path, committed every `batch` customers; seconds spent
// in the engine (not in generating the customers).
double bulkCreate(sync::Engine& engine, Generator& gen, const LocalArgs& a) {
  const auto start = Clock::now();
  double prepSeconds = 0;
  for (uint64_t from = 0; from < a.customers; from += a.batch) {
    const auto prep = Clock::now();
    std::vector<sync::LocalOp> ops;
    for (uint64_t i = from; i < std::min(a.customers, from + a.batch); ++i)
      ops.push_back(createOp(gen.customer(i)));
    prepSeconds += secondsSince(prep);
    for (const auto& r : engine.submit(ops)) check(r.status);
  }
  return secondsSince(start) - prepSeconds;
}

// Lookup queries: a sample of the register's numbers, phones (as stored, "+358 40 ...", and in
// their national form, "040 ..."), e-mail addresses and name prefixes.
struct LookupQueries {
  std::vector<std::string> numbers, phones, nationalPhones, emails, namePrefixes;
};
LookupQueries sampleQueries(const RawInput& raw, uint64_t customers) {
  LookupQueries q;
  std::mt19937_64 pickRng(7);
  for (const auto& record : raw.records) {
    if (pickRng() % std::max<uint64_t>(1, customers / 20000) != 0) continue;
    Customer c = decodeCustomer(record.second);
    q.numbers.push_back(c.value(CustomerField::number));
    q.phones.push_back(c.value(CustomerField::phone));
    q.nationalPhones.push_back("0" + storage::phoneDigits(q.phones.back()).substr(3));
    q.emails.push_back(c.value(CustomerField::email));
    q.namePrefixes.push_back(storage::nameTokens(c.value(CustomerField::name)).back().substr(0, 4));
  }
  return q;
}

// Lookups over the full register: a read transaction, the index, every record found read and
// decoded.
void timeLookups(const storage::Store& store, const LookupQueries& q, LocalFigures& f) {
  auto time = [&](const std::vector<std::string>& queries, auto&& lookup) {
    std::vector<double> us;
    size_t found = 0;
    for (const auto& query : queries) {
      const auto t = Clock::now();
      auto txn = store.read();
      for (RecordId id : lookup(txn, query))
        if (store.customer(txn, id)) ++found;
      us.push_back(secondsSince(t) * 1e6);
    }
    if (found < queries.size()) throw Failure("bench: a lookup found nothing");
    return percentiles(us);
  };
  f.byNumber =
      time(q.numbers, [&](auto& txn, const std::string& s) { return store.findByNumber(txn, s); });
  f.byPhone = time(q.phones, [&](auto& txn, const std::string& s) {
    return store.findByPhone(txn, s, kSearchPage);
  });
  f.byNational = time(q.nationalPhones, [&](auto& txn, const std::string& s) {
    return store.findByPhone(txn, s, kSearchPage);
  });
  f.byEmail =
      time(q.emails, [&](auto& txn, const std::string& s) { return store.findByEmail(txn, s, 1); });
  f.byName = time(q.namePrefixes, [&](auto& txn, const std::string& s) {
    return store.searchName(txn, s, kSearchPage);
  });
}

// `customer duplicates` over the whole register.
void timeDuplicates(const sync::Engine& engine, LocalFigures& f) {
  const auto start = Clock::now();
  f.duplicatePairs = engine.possibleDuplicates(100).size();
  f.duplicatesSeconds = secondsSince(start);
}

// kWriters threads create customers at once through group commit; writes per second.
double groupCommitRate(sync::Engine& engine, Generator& gen, uint64_t& commits) {
  Clock::time_point start;
  {
    node::GroupCommitter committer(engine);
    std::vector<std::thread> threads;
    std::vector<std::vector<std::vector<sync::Edit>>> inputs(kWriters);
    for (int w = 0; w < kWriters; ++w)
      for (int i = 0; i < kWritesPerWriter; ++i) inputs[w].push_back(gen.customer(i));
    start = Clock::now();
    for (int w = 0; w < kWriters; ++w)
      threads.emplace_back([&, w] {
        for (auto& edits : inputs[w]) check(committer.submit(createOp(edits)).status);
      });
    for (auto& t : threads) t.join();
    commits = committer.commits();
  }  // the committer's end (it commits what is queued) is timed too
  return kWriters * kWritesPerWriter / secondsSince(start);
}

nlohmann::json localJson(const LocalArgs& a, const LocalFigures& f, double peakMb) {
  return {
      {"customers", a.customers},
      {"commit_batch", a.batch},
      {"bulk_create_seconds", f.bulkSeconds},
      {"bulk_create_per_s", f.bulkRate},
      {"raw_lmdb_per_s", f.rawRate},
      {"bulk_vs_raw_ratio", f.bulkRate / f.rawRate},
      {"duplicates_seconds", f.duplicatesSeconds},
      {"duplicate_pairs_listed", f.duplicatePairs},
      {"lookup_number_p50_us", f.byNumber.p50},
      {"lookup_number_p99_us", f.byNumber.p99},
      {"lookup_phone_p50_us", f.byPhone.p50},
      {"lookup_phone_p99_us", f.byPhone.p99},
      {"lookup_phone_national_p50_us", f.byNational.p50},
      {"lookup_phone_national_p99_us", f.byNational.p99},
      {"lookup_email_p50_us", f.byEmail.p50},
      {"lookup_email_p99_us", f.byEmail.p99},
      {"search_name_prefix_p50_us", f.byName.p50},
      {"search_name_prefix_p99_us", f.byName.p99},
      {"search_page_size", kSearchPage},
      {"durable_single_writes_per_s", f.singleRate},
      {"group_commit_writes_per_s", f.groupRate},
      {"group_commit_writers", kWriters},
      {"group_commit_transactions", f.groupCommits},
      {"digest_seconds", f.digestSeconds},
      {"peak_rss_anon_mb", peakMb},
      {"bulk_peak_rss_anon_mb", f.bulkPeakMb},
      {"store_file_mb", f.storeFileMb},
  };
}

void printLocal(const LocalArgs& a, const LocalFigures& f, double peakMb) {
  auto latency = [](const char* what, const Percentiles& p) {
    std::printf("%-30s p50 %6.1f us  p99 %6.1f us\n", what, p.p50, p.p99);
  };
  std::printf("customers                      %llu (commit every %zu)\n",
              static_cast<unsigned long long>(a.customers), a.batch);
  std::printf("bulk create (apply path)       %10.0f customers/s  (%.2f s)\n", f.bulkRate,
              f.bulkSeconds);
  std::printf("raw LMDB, same records+indexes %10.0f records/s\n", f.rawRate);
  std::printf("ratio apply/raw                %10.2f\n", f.bulkRate / f.rawRate);
  latency("lookup by number", f.byNumber);
  latency("lookup by phone", f.byPhone);
  latency("lookup by national phone", f.byNational);
  latency("lookup by e-mail", f.byEmail);
  latency("name prefix search, first 10", f.byName);
  std::printf("durable single writes          %10.0f writes/s (one fsync each)\n", f.singleRate);
  std::printf("group commit, %d writers       %10.0f writes/s (%llu commits)\n", kWriters,
              f.groupRate, static_cast<unsigned long long>(f.groupCommits));
  std::printf("possible duplicates (whole)    %10.2f s  (%zu pairs listed)\n", f.duplicatesSeconds,
              f.duplicatePairs);
  std::printf("digest of the register         %10.2f s  (%s...)\n", f.digestSeconds,
              f.digest.substr(0, 16).c_str());
  std::printf("peak RssAnon, bulk create      %10.1f MB (whole benchmark: %.1f MB)\n", f.bulkPeakMb,
              peakMb);
}

void benchLocal(const LocalArgs& a) {
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
  LocalFigures f;

  log("bulk create of " + std::to_string(a.customers) + " customers through the apply path...");
  Generator gen(42);
  f.bulkSeconds = bulkCreate(engine, gen, a);
  f.bulkRate = double(a.customers) / f.bulkSeconds;
  f.bulkPeakMb = rss.peakMb();  // the apply path alone, before the raw phase's copies

  log("raw LMDB write of the same records and index entries...");
  LookupQueries queries;
  {
    const RawInput raw = collectRawInput(*store);
    queries = sampleQueries(raw, a.customers);
    f.rawRate = rawLmdbRate(rawDir.string(), raw, a.batch);
  }
  fs::remove_all(rawDir);

  log("lookups by number, phone and name prefix...");
  timeLookups(*store, queries, f);

  log("durable single writes (one commit each)...");
  auto start = Clock::now();
  for (int i = 0; i < kSingleWrites; ++i) check(engine.create(gen.customer(i), "bench").status());
  f.singleRate = kSingleWrites / secondsSince(start);
  log("group commit: 32 writers...");
  f.groupRate = groupCommitRate(engine, gen, f.groupCommits);

  log("possible duplicates...");
  timeDuplicates(engine, f);

  log("digest...");
  start = Clock::now();
  f.digest = engine.digestHex();
  f.digestSeconds = secondsSince(start);
  f.storeFileMb = double(store->stats().fileBytes) / (1024 * 1024);
  const double peakMb = rss.peakMb();
  store.reset();
  if (!a.keep) fs::remove_all(applyDir);
  if (a.json)
    printJson(localJson(a, f, peakMb));
  else
    printLocal(a, f, peakMb);
}

}  // namespace

void addLocalCommand(CLI::App& app) {
  auto a = std::make_shared<LocalArgs>();
  auto* local = app.add_subcommand("local", "single-site write, lookup and digest figures");
  local->add_option("--data", a->data, "scratch directory for the benchmark stores")->required();
  local->add_option("--customers", a->customers, "customers to create (default 1000000)");
  local->add_option("--batch", a->batch, "customers per commit in the bulk phase (default 100000)");
  local->add_flag("--json", a->json, "print the figures as one JSON object");
  local->add_flag("--keep", a->keep, "keep the benchmark store");
  local->callback([a] { benchLocal(*a); });
}

}  // namespace sitesync::bench
