// What the benchmarks share: the customer generator and the raw LMDB baseline.
#include "tools/bench/bench_util.h"

#include <unistd.h>

#include "tools/bench/raw_lmdb.h"

namespace sitesync::bench {

void waitUntilHeld(const sync::Engine& receiver, const VersionVector& target) {
  const auto deadline = Clock::now() + std::chrono::minutes(5);
  for (;;) {
    const VersionVector held = receiver.status().vector;
    bool all = true;
    for (const auto& [origin, seq] : target.entries()) all = all && held.get(origin) >= seq;
    if (all) return;
    if (Clock::now() > deadline)
      throw Failure("bench: the receiver did not apply what it acknowledged in 5 min");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

std::vector<sync::Edit> Generator::customer(uint64_t i) {
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

std::vector<RecordId> createCustomers(sync::Engine& engine, Generator& gen, uint64_t count,
                                      uint64_t perCommit) {
  std::vector<RecordId> ids;
  for (uint64_t from = 0; from < count; from += perCommit) {
    std::vector<sync::LocalOp> ops;
    for (uint64_t i = from; i < std::min(count, from + perCommit); ++i)
      ops.push_back(createOp(gen.customer(i)));
    for (const auto& r : engine.submit(ops)) {
      check(r.status);
      ids.push_back(r.id);
    }
  }
  return ids;
}

RawInput collectRawInput(const storage::Store& store) {
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

double rawLmdbRate(const std::string& dir, const RawInput& input, size_t batch) {
  lmdb::Env env(8);
  lmdb::check(env.open(dir, 0), "env_open");
  MDB_dbi records, indexes[4];
  {
    lmdb::Txn txn(env, 0);
    records = txn.table("records", MDB_CREATE);
    for (int t = 0; t < 4; ++t) indexes[t] = txn.table("index" + std::to_string(t), MDB_CREATE);
    txn.commit();
  }
  // From a quiet disk: what the case before left in the page cache would otherwise be written
  // back during the baseline and slow it (by how much depended on that case's write volume).
  ::sync();
  const auto start = Clock::now();
  for (size_t from = 0; from < input.records.size(); from += batch) {
    lmdb::Txn txn(env, 0);
    const size_t to = std::min(input.records.size(), from + batch);
    for (size_t i = from; i < to; ++i) {
      txn.put(records, input.records[i].first, input.records[i].second);
      const auto& keys = input.indexKeys[i];
      for (size_t k = 0; k < keys.size(); ++k)
        txn.put(indexes[std::min<size_t>(k, 3)], keys[k], {});
    }
    txn.commit();
  }
  return double(input.records.size()) / secondsSince(start);
}

}  // namespace sitesync::bench
