// Internal to the sitesync command: what the benchmarks share (timing, a realistic customer
// generator, percentiles, peak anonymous memory, and the raw LMDB baseline).
#pragma once

#include <lmdb.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/src/lmdb.h"
#include "sync/engine.h"

namespace sitesync::cli::bench {

using Clock = std::chrono::steady_clock;
inline double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Waits until `receiver` holds everything in `target`. A node acknowledges a large batch once it
// is durable in its inbox and applies it right after (Engine::applyBatch): a figure "durable
// and indexed at the receiver" ends here, not at the ack. Polled: the receiver may be another
// process, and nothing else tells this one that its write committed.
inline void waitUntilHeld(const sync::Engine& receiver, const VersionVector& target) {
  const auto deadline = Clock::now() + std::chrono::minutes(5);
  for (;;) {
    const VersionVector held = receiver.status().vector;
    bool all = true;
    for (const auto& [origin, seq] : target.entries()) all = all && held.get(origin) >= seq;
    if (all) return;
    if (Clock::now() > deadline)
      throw std::runtime_error("bench: the receiver did not apply what it acknowledged in 5 min");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// Peak anonymous memory, sampled (the kernel reports only the current RssAnon).
class RssSampler {
 public:
  explicit RssSampler(std::string statusPath = "/proc/self/status")
      : statusPath_(std::move(statusPath)), thread_([this] {
          while (!stop_) {
            peakKb_ = std::max(peakKb_.load(), currentKb());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }) {}
  ~RssSampler() {
    stop_ = true;
    thread_.join();
  }
  double peakMb() const { return std::max(peakKb_.load(), currentKb()) / 1024.0; }
  uint64_t currentKb() const {
    std::ifstream in(statusPath_);
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("RssAnon:", 0) == 0) return std::stoull(line.substr(8));
    return 0;
  }

 private:
  std::string statusPath_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> peakKb_{0};
  std::thread thread_;
};

// Realistic customers: ~400 bytes, names with non-ASCII letters, deterministic.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  std::vector<sync::Edit> customer(uint64_t i) {
    static const char* first[] = {"Åke",     "Äino",     "Jönsson", "Björn", "Sören",
                                  "Zoë",     "Jürgen",   "Eliška",  "Łucja", "Mikko",
                                  "Anna",    "Ségolène", "Øystein", "Matti", "Pirjo",
                                  "Hannele", "Ìñigo",    "Stefan",  "Kaisa", "Tuula"};
    static const char* last[] = {"Äijälä",   "Öberg",     "Müller",     "Virtanen",  "Korhonen",
                                 "Nieminen", "Mäkinen",   "Hämäläinen", "Lindström", "Šimůnek",
                                 "Dvořák",   "Kowalczyk", "Järvinen",   "Heikkinen", "Koskinen",
                                 "Laine",    "García",    "Nørgaard",   "Lehtonen",  "Saarinen"};
    static const char* cities[] = {"Helsinki", "Tampere",  "Turku", "Oulu",   "Jyväskylä",
                                   "Västerås", "Göteborg", "Malmö", "Kuopio", "Espoo"};
    auto pick = [&](auto& arr) { return arr[rng_() % std::size(arr)]; };
    std::string f = pick(first), l = pick(last);
    // A third of the names get a second surname so that name tokens vary more.
    std::string name = f + " " + l + (i % 3 == 0 ? std::string("-") + pick(last) : "");
    auto digits = [&](int n) {
      std::string s;
      for (int k = 0; k < n; ++k) s.push_back(char('0' + rng_() % 10));
      return s;
    };
    auto set = [](CustomerField field, std::string v) {
      return sync::Edit{uint16_t(field), {}, std::move(v)};
    };
    std::vector<sync::Edit> e;
    e.push_back(set(CustomerField::name, name));
    e.push_back(set(CustomerField::phone, "+358 40 " + digits(7)));
    e.push_back(set(CustomerField::email, "customer" + std::to_string(i) + "@example.fi"));
    e.push_back(set(CustomerField::birthDate, "19" + std::to_string(40 + rng_() % 60) + "-0" +
                                                  std::to_string(1 + rng_() % 9) + "-1" +
                                                  std::to_string(rng_() % 9)));
    e.push_back(set(CustomerField::gender, i % 2 ? "female" : "male"));
    e.push_back(set(CustomerField::language, i % 5 ? "fi" : "sv"));
    e.push_back(set(CustomerField::customerGroup, "Group " + std::to_string(rng_() % 20)));
    std::string city = pick(cities);
    e.push_back(set(CustomerField::invoiceStreet,
                    std::string(pick(last)) + "ntie " + std::to_string(1 + rng_() % 200)));
    e.push_back(set(CustomerField::invoicePostalCode, digits(5)));
    e.push_back(set(CustomerField::invoiceCity, city));
    e.push_back(set(CustomerField::invoiceCountry, "FI"));
    e.push_back(set(CustomerField::newsletter, i % 4 ? "false" : "true"));
    e.push_back(set(CustomerField::primaryTherapist, "user" + std::to_string(rng_() % 50)));
    return e;
  }

 private:
  std::mt19937_64 rng_;
};

struct Percentiles {
  double p50 = 0, p99 = 0;
};
inline Percentiles percentiles(std::vector<double> us) {
  if (us.empty()) return {};
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

// The raw baseline: the same record bytes and the same index keys, written straight into LMDB
// with the same commit size, durable.
inline double rawLmdbRate(const std::string& dir,
                          const std::vector<std::pair<std::string, std::string>>& records,
                          const std::vector<std::vector<std::string>>& indexKeys, size_t batch) {
  using storage::lmdb::check;
  MDB_env* env = nullptr;
  check(mdb_env_create(&env), "env_create");
  mdb_env_set_maxdbs(env, 8);
  mdb_env_set_mapsize(env, size_t(64) << 30);
  check(mdb_env_open(env, dir.c_str(), 0, 0640), "env_open");
  MDB_dbi recDbi, idx[4];
  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(env, nullptr, 0, &txn), "txn");
  check(mdb_dbi_open(txn, "records", MDB_CREATE, &recDbi), "dbi");
  for (int t = 0; t < 4; ++t)
    check(mdb_dbi_open(txn, ("index" + std::to_string(t)).c_str(), MDB_CREATE, &idx[t]), "dbi");
  check(mdb_txn_commit(txn), "commit");
  // From a quiet disk: what the case before left in the page cache would otherwise be written
  // back during the baseline and slow it (by how much depended on that case's write volume).
  ::sync();
  auto start = Clock::now();
  for (size_t from = 0; from < records.size(); from += batch) {
    check(mdb_txn_begin(env, nullptr, 0, &txn), "txn");
    const size_t to = std::min(records.size(), from + batch);
    for (size_t i = from; i < to; ++i) {
      storage::lmdb::put(txn, recDbi, records[i].first, records[i].second);
      for (size_t k = 0; k < indexKeys[i].size(); ++k)
        storage::lmdb::put(txn, idx[std::min<size_t>(k, 3)], indexKeys[i][k], {});
    }
    check(mdb_txn_commit(txn), "commit");
  }
  double rate = double(records.size()) / secondsSince(start);
  mdb_env_close(env);
  return rate;
}

// The raw baseline's input: every record of `store` as stored, with the index keys the store
// keeps for it (number, phone, e-mail, name tokens), in key order.
struct RawInput {
  std::vector<std::pair<std::string, std::string>> records;
  std::vector<std::vector<std::string>> indexKeys;
};
inline RawInput collectRawInput(const storage::Store& store) {
  RawInput in;
  auto txn = store.read();
  store.forEachRecordBytes(txn, [&](std::string_view key, std::string_view value) {
    in.records.emplace_back(std::string(key), std::string(value));
    Customer c = decodeCustomer(value);
    std::vector<std::string> keys;
    auto term = [&](const std::string& t) { return t + '\0' + std::string(key); };
    keys.push_back(term(c.value(CustomerField::number)));
    keys.push_back(term(storage::phoneKey(c.value(CustomerField::phone))));
    keys.push_back(term(storage::emailKey(c.value(CustomerField::email))));
    for (auto& t : storage::nameTokens(c.value(CustomerField::name))) keys.push_back(term(t));
    in.indexKeys.push_back(std::move(keys));
  });
  return in;
}

}  // namespace sitesync::cli::bench
