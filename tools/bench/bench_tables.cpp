// `sitesync-bench tables`: the raw LMDB cost of everything a store holds after a bulk load
// (records, log, history, change index, number, phone and name indexes), table by table. It
// copies the stored bytes of a finished benchmark store (e.g. the hub `sitesync-bench sync`
// leaves in DIR/bench-hub) into a fresh LMDB, in the order a bulk delivered them, sorted within
// each commit, durable: what the write path would cost if it did nothing but the puts.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <tuple>

#include "tools/bench/bench_util.h"
#include "tools/bench/raw_lmdb.h"

namespace sitesync::bench {

namespace {

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
using Table = std::pair<std::string, std::vector<Entry>>;  // its name, its entries

// Tables keyed in arrival order for a bulk from one site; the index tables end with the id.
const std::vector<std::string> kAppended = {"records", "log", "history", "change_index"};
const std::vector<std::string> kIndexes = {"index_number", "index_contact", "index_name_tokens"};
// The name index holds each token's ids as sorted duplicates (key token, value id).
const std::string kDuplicates = "index_name_tokens";

std::vector<Entry> readTable(lmdb::Txn& txn, const std::string& name, bool byId) {
  std::vector<Entry> out;
  MDB_dbi dbi;
  if (!txn.tryTable(name, dbi)) return out;
  lmdb::Cursor cursor(txn, dbi);
  for (bool ok = cursor.first(); ok; ok = cursor.next()) {
    Entry e{std::string(cursor.key()), std::string(cursor.value()), out.size()};
    const std::string& id = name == kDuplicates ? e.value : e.key;
    if (byId && id.size() >= 8) e.arrival = lmdb::readU64(id, id.size() - 8);
    out.push_back(std::move(e));
  }
  return out;
}

// Every table of the store not skipped, the indexes in the order their customers arrived. (The
// source is a finished store: nothing else writes it.)
std::vector<Table> readTables(const TablesArgs& a) {
  std::vector<Table> tables;
  lmdb::Env env(64);
  if (env.open(a.store, MDB_RDONLY) != MDB_SUCCESS)
    throw UsageError("cannot open the store in " + a.store);
  lmdb::Txn txn(env, MDB_RDONLY);
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
  return tables;
}

// The copy being written: its tables, and how far each has got.
struct Copy {
  std::vector<MDB_dbi> tables;
  MDB_dbi recent = 0;        // phone entries not folded yet (--recent-phones, --phone-runs)
  std::vector<size_t> next;  // per table: its first entry not written yet
  uint64_t inRecent = 0;
  uint32_t runs = 1;  // the number of the next run
};

// A commit's share of a table, sorted: the same fraction of an appended table, the entries of
// the commit's customers (counters up to `to`) of an index.
std::vector<const Entry*> shareOf(const Table& table, size_t& next, size_t to, size_t customers) {
  const auto& [name, entries] = table;
  const bool appended = std::find(kAppended.begin(), kAppended.end(), name) != kAppended.end();
  size_t end = next;
  if (appended)
    end = std::min(entries.size(), size_t(double(to) / customers * entries.size() + 0.5));
  else
    while (end < entries.size() && entries[end].arrival <= to) ++end;
  std::vector<const Entry*> chunk;
  for (size_t i = next; i < end; ++i) chunk.push_back(&entries[i]);
  next = end;
  std::sort(chunk.begin(), chunk.end(), [](const Entry* x, const Entry* y) {
    return std::tie(x->key, x->value) < std::tie(y->key, y->value);
  });
  return chunk;
}

// Writes a commit's share of table `t`; phone entries go through the recent table when asked,
// folded into the index once it holds enough.
void writeShare(const TablesArgs& a, lmdb::Txn& txn, Copy& copy, size_t t, const Table& table,
                const std::vector<const Entry*>& chunk) {
  const bool viaRecent = (a.recentPhones > 0 || a.phoneRuns > 0) && table.first == "index_contact";
  lmdb::Cursor cursor(txn, viaRecent ? copy.recent : copy.tables[t]);
  std::string runKey;
  for (const Entry* e : chunk) {
    if (table.first == kDuplicates) {
      cursor.putDuplicate(e->key, e->value);
    } else if (viaRecent && a.phoneRuns > 0) {  // this commit's run, after the others
      runKey.clear();
      lmdb::appendU32(runKey, copy.runs);
      runKey += e->key;
      cursor.append(runKey, e->value);
    } else {
      cursor.put(e->key, e->value);
    }
  }
  if (!viaRecent) return;
  copy.inRecent += chunk.size();
  ++copy.runs;
  if (a.phoneRuns > 0 ? copy.runs <= a.phoneRuns : copy.inRecent < a.recentPhones) return;
  lmdb::Cursor into(txn, copy.tables[t]);
  const size_t skip = a.phoneRuns > 0 ? sizeof(uint32_t) : 0;  // the run number
  for (bool ok = cursor.first(); ok; ok = cursor.next()) into.put(cursor.key().substr(skip), {});
  lmdb::check(mdb_drop(txn, copy.recent, 0), "mdb_drop");
  copy.inRecent = 0;
  copy.runs = 1;
}

// Copies `tables` into a new LMDB in `dir`, a.commit customers to a transaction; seconds.
double copyTables(const TablesArgs& a, const std::vector<Table>& tables, const std::string& dir) {
  const size_t customers = tables.front().second.size();
  lmdb::Env env(64);
  lmdb::check(env.open(dir, 0), "env_open");
  Copy copy;
  {
    lmdb::Txn txn(env, 0);
    for (const auto& [name, entries] : tables)
      copy.tables.push_back(
          txn.table(name, MDB_CREATE | (name == kDuplicates ? MDB_DUPSORT | MDB_DUPFIXED : 0)));
    copy.recent = txn.table("recent", MDB_CREATE);
    txn.commit();
  }
  copy.next.assign(tables.size(), 0);
  ::sync();  // from a quiet disk, as the other benchmarks
  const auto start = Clock::now();
  for (size_t from = 0; from < customers; from += a.commit) {
    const size_t to = std::min(customers, from + a.commit);
    lmdb::Txn txn(env, 0);
    for (size_t t = 0; t < tables.size(); ++t)
      writeShare(a, txn, copy, t, tables[t], shareOf(tables[t], copy.next[t], to, customers));
    txn.commit();
  }
  return secondsSince(start);
}

void benchTables(const TablesArgs& a) {
  namespace fs = std::filesystem;
  if (a.commit == 0) throw UsageError("--commit must be at least 1");
  const std::vector<Table> tables = readTables(a);
  if (tables.empty() || tables.front().first != "records")
    throw UsageError("sitesync-bench tables needs the records table (do not --skip it)");
  const size_t customers = tables.front().second.size();
  if (customers == 0) throw UsageError("the store in " + a.store + " holds no records");

  const fs::path dir = fs::path(a.data) / "bench-tables";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const double seconds = copyTables(a, tables, dir.string());
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

void addTablesCommand(CLI::App& app) {
  auto a = std::make_shared<TablesArgs>();
  auto* cmd = app.add_subcommand(
      "tables", "raw LMDB cost of a benchmark store's tables (e.g. DIR/bench-hub of sync)");
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

}  // namespace sitesync::bench
