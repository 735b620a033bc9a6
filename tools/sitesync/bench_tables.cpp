// `sitesync bench tables`: the raw LMDB cost of everything a store holds after a bulk load
// (records, log, history, change index, number, phone and name indexes), table by table. It
// copies the stored bytes of a finished benchmark store (e.g. the hub `bench sync` leaves in
// DIR/bench-hub) into a fresh LMDB, in the order a bulk delivered them, sorted within each commit,
// durable: what the write path would cost if it did nothing but the puts.
#include <lmdb.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <tuple>

#include "storage/src/lmdb.h"
#include "tools/sitesync/bench_util.h"
#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

using storage::lmdb::check;

struct TablesArgs {
  std::string store;
  std::string data;
  size_t commit = 16000;
  std::string skip;           // comma-separated table names
  uint64_t recentPhones = 0;  // > 0: phone entries through a recent table folded at this size
  uint32_t phoneRuns = 0;     // > 0: phone entries in runs (one per commit) folded at this many
  bool json = false;
};

struct Entry {
  std::string key, value;
  uint64_t arrival = 0;  // customer counter (index keys end with the id) or position in the table
};

// Tables keyed in arrival order for a bulk from one site; the index tables end with the id.
const std::vector<std::string> kAppended = {"records", "log", "history", "change_index"};
const std::vector<std::string> kIndexes = {"index_number", "index_contact", "index_name_tokens"};
// The name index holds each token's ids as sorted duplicates (key token, value id).
const std::string kDuplicates = "index_name_tokens";

std::vector<Entry> readTable(MDB_txn* txn, const std::string& name, bool byId) {
  std::vector<Entry> out;
  MDB_dbi dbi;
  if (mdb_dbi_open(txn, name.c_str(), 0, &dbi) != MDB_SUCCESS) return out;
  storage::lmdb::Cursor cursor(txn, dbi);
  for (bool ok = cursor.first(); ok; ok = cursor.next()) {
    Entry e{std::string(cursor.key()), std::string(cursor.value()), out.size()};
    const std::string& id = name == kDuplicates ? e.value : e.key;
    if (byId && id.size() >= 8) e.arrival = storage::lmdb::readU64(id, id.size() - 8);
    out.push_back(std::move(e));
  }
  return out;
}

void benchTables(const TablesArgs& a) {
  namespace fs = std::filesystem;
  if (a.commit == 0) throw UsageError("--commit must be at least 1");
  // Read everything first (the source is a finished store: nothing else writes it).
  std::vector<std::pair<std::string, std::vector<Entry>>> tables;
  {
    MDB_env* env = nullptr;
    check(mdb_env_create(&env), "env_create");
    mdb_env_set_maxdbs(env, 64);
    mdb_env_set_mapsize(env, size_t(64) << 30);
    if (mdb_env_open(env, a.store.c_str(), MDB_RDONLY, 0) != MDB_SUCCESS) {
      mdb_env_close(env);
      throw UsageError("cannot open the store in " + a.store);
    }
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), "txn");
    auto skipped = [&](const std::string& t) {
      return ("," + a.skip + ",").find("," + t + ",") != std::string::npos;
    };
    for (const auto& t : kAppended)
      if (!skipped(t)) tables.emplace_back(t, readTable(txn, t, false));
    for (const auto& t : kIndexes) {
      if (skipped(t)) continue;
      auto entries = readTable(txn, t, true);
      if (t == "index_contact")  // entries not yet folded are phone entries too
        for (auto& e : readTable(txn, "index_contact_runs", true)) {
          e.key.erase(0, sizeof(uint32_t));  // the run number
          entries.push_back(std::move(e));
        }
      std::stable_sort(entries.begin(), entries.end(),
                       [](const Entry& x, const Entry& y) { return x.arrival < y.arrival; });
      tables.emplace_back(t, std::move(entries));
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
  }
  if (tables.empty() || tables.front().first != "records")
    throw UsageError("bench tables needs the records table (do not --skip it)");
  const size_t customers = tables.front().second.size();
  if (customers == 0) throw UsageError("the store in " + a.store + " holds no records");

  const fs::path dir = fs::path(a.data) / "bench-tables";
  fs::remove_all(dir);
  fs::create_directories(dir);
  MDB_env* env = nullptr;
  check(mdb_env_create(&env), "env_create");
  mdb_env_set_maxdbs(env, 64);
  mdb_env_set_mapsize(env, size_t(64) << 30);
  check(mdb_env_open(env, dir.c_str(), 0, 0640), "env_open");
  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(env, nullptr, 0, &txn), "txn");
  std::vector<MDB_dbi> dbis(tables.size());
  MDB_dbi recent = 0;
  for (size_t i = 0; i < tables.size(); ++i)
    check(
        mdb_dbi_open(txn, tables[i].first.c_str(),
                     MDB_CREATE | (tables[i].first == kDuplicates ? MDB_DUPSORT | MDB_DUPFIXED : 0),
                     &dbis[i]),
        "dbi");
  check(mdb_dbi_open(txn, "recent", MDB_CREATE, &recent), "dbi");
  check(mdb_txn_commit(txn), "commit");

  std::vector<size_t> next(tables.size(), 0);
  uint64_t inRecent = 0;
  uint32_t runs = 1;  // the number of the next run
  ::sync();           // from a quiet disk, as the other benchmarks
  const auto start = bench::Clock::now();
  for (size_t from = 0; from < customers; from += a.commit) {
    const size_t to = std::min(customers, from + a.commit);
    check(mdb_txn_begin(env, nullptr, 0, &txn), "txn");
    for (size_t t = 0; t < tables.size(); ++t) {
      const auto& [name, entries] = tables[t];
      const bool appended = std::find(kAppended.begin(), kAppended.end(), name) != kAppended.end();
      // This commit's share: the same fraction of an appended table, the entries of this
      // commit's customers (counters from+1..to) of an index.
      size_t end = next[t];
      if (appended)
        end = std::min(entries.size(), size_t(double(to) / customers * entries.size() + 0.5));
      else
        while (end < entries.size() && entries[end].arrival <= to) ++end;
      std::vector<const Entry*> chunk;
      for (size_t i = next[t]; i < end; ++i) chunk.push_back(&entries[i]);
      next[t] = end;
      std::sort(chunk.begin(), chunk.end(), [](const Entry* x, const Entry* y) {
        return std::tie(x->key, x->value) < std::tie(y->key, y->value);
      });
      const bool viaRecent = (a.recentPhones > 0 || a.phoneRuns > 0) && name == "index_contact";
      storage::lmdb::Cursor cursor(txn, viaRecent ? recent : dbis[t]);
      std::string runKey;
      for (const Entry* e : chunk) {
        if (name == kDuplicates) {
          cursor.putDuplicate(e->key, e->value);
        } else if (viaRecent && a.phoneRuns > 0) {  // this commit's run, after the others
          runKey.clear();
          storage::lmdb::appendU32(runKey, runs);
          runKey += e->key;
          cursor.append(runKey, e->value);
        } else {
          cursor.put(e->key, e->value);
        }
      }
      if (!viaRecent) continue;
      inRecent += chunk.size();
      ++runs;
      if (a.phoneRuns > 0 ? runs <= a.phoneRuns : inRecent < a.recentPhones) continue;
      storage::lmdb::Cursor into(txn, dbis[t]);
      const size_t skip = a.phoneRuns > 0 ? sizeof(uint32_t) : 0;  // the run number
      for (bool ok = cursor.first(); ok; ok = cursor.next())
        into.put(cursor.key().substr(skip), {});
      check(mdb_drop(txn, recent, 0), "mdb_drop");
      inRecent = 0;
      runs = 1;
    }
    check(mdb_txn_commit(txn), "commit");
  }
  const double seconds = bench::secondsSince(start);
  mdb_env_close(env);
  fs::remove_all(dir);

  std::ostringstream names;
  for (const auto& [name, entries] : tables) names << (names.tellp() > 0 ? "," : "") << name;
  if (a.json) {
    printJson({{"customers", customers},
               {"commit", a.commit},
               {"tables", names.str()},
               {"recent_phones", a.recentPhones},
               {"phone_runs", a.phoneRuns},
               {"seconds", seconds},
               {"customers_per_s", double(customers) / seconds}});
    return;
  }
  std::printf("raw LMDB, %s: %zu customers in %.2f s (%.0f/s), commits of %zu\n",
              names.str().c_str(), customers, seconds, double(customers) / seconds, a.commit);
}

}  // namespace

void addTablesBenchCommand(CLI::App& bench) {
  auto a = std::make_shared<TablesArgs>();
  auto* cmd = bench.add_subcommand(
      "tables", "raw LMDB cost of a benchmark store's tables (e.g. DIR/bench-hub of bench sync)");
  cmd->add_option("--store", a->store, "a store a benchmark left (read only)")->required();
  cmd->add_option("--data", a->data, "scratch directory for the copy")->required();
  cmd->add_option("--commit", a->commit, "customers per commit (default 16000)");
  cmd->add_option("--skip", a->skip,
                  "tables left out, comma-separated (log, history, change_index, index_number, "
                  "index_contact, index_name_tokens)");
  cmd->add_option("--recent-phones", a->recentPhones,
                  "phone entries go through a recent table folded at this many (0: straight in)");
  cmd->add_option("--phone-runs", a->phoneRuns,
                  "phone entries go in sorted runs, one per commit, folded at this many (as the "
                  "store does: 16)");
  cmd->add_flag("--json", a->json, "print the figures as one JSON object");
  cmd->callback([a] { benchTables(*a); });
}

}  // namespace sitesync::cli
