// Bringing the mirror up to the store's log (mirror/src/writer.h).
#include "mirror/src/writer.h"

#include <set>

#include "api/register_json.h"
#include "sync/engine.h"

namespace sitesync::mirror {

namespace {

constexpr size_t kFlushBytes = size_t(32) << 20;  // COPY what is buffered past this much
constexpr size_t kPageChanges = 4000;             // changes per incremental transaction

// A transaction that rolls back unless committed (a throw on the way leaves nothing behind).
class Transaction {
 public:
  explicit Transaction(Connection& db) : db_(db) { db_.exec("BEGIN"); }
  ~Transaction() {
    if (!done_) db_.tryExec("ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    db_.exec("COMMIT");
    done_ = true;
  }

 private:
  Connection& db_;
  bool done_ = false;
};

bool hidesSsn(const sync::Engine& engine) {
  return !engine.settings().getBool(SettingsField::ssnShown);
}

}  // namespace

MirrorWriter::MirrorWriter(const sync::Engine& engine, const std::string& dsn)
    : engine_(engine), db_(dsn), siteId_(siteIdToHex(engine.meta().siteId)) {
  createSchema(db_);
  if (auto difference = schemaDifference(db_); !difference.empty()) {
    rebuilt_ = difference;
    dropSchema(db_);
    createSchema(db_);
  }
}

uint64_t MirrorWriter::position() {
  auto r = db_.exec("SELECT position FROM sitesync_mirror WHERE site_id = $1", {siteId_});
  started_ = r.rows() > 0;
  return started_ ? std::stoull(r.at(0, 0)) : 0;
}

void MirrorWriter::setPosition(uint64_t position) {
  db_.exec(
      "INSERT INTO sitesync_mirror (site_id, position, updated_at) VALUES ($1, $2, now()) "
      "ON CONFLICT (site_id) DO UPDATE SET position = EXCLUDED.position, updated_at = now()",
      {siteId_, std::to_string(position)});
}

MirrorPass MirrorWriter::catchUp() {
  MirrorPass pass;
  pass.rebuilt = std::exchange(rebuilt_, "");
  pass.toPosition = position();
  const auto page = engine_.changesAfter(pass.toPosition, 1);
  // Not started, or compaction removed changes after the position: only a whole copy is sure.
  if (!started_ || (page.firstHeld > 0 && pass.toPosition + 1 < page.firstHeld)) {
    copyAll(pass);
    return pass;
  }
  while (applyNext(pass)) {
  }
  return pass;
}

void MirrorWriter::copyAll(MirrorPass& pass) {
  Transaction t(db_);
  std::string tables;
  for (const auto& table : mirrorTables()) tables += (tables.empty() ? "" : ", ") + table.name;
  db_.exec("TRUNCATE " + tables);
  // The log's end before the copy reads: what comes after it may be in the copy too, and is
  // written again by the next catch-up (each customer's rows are replaced whole).
  const uint64_t end = engine_.logEnd();
  RowBuffers rows(hidesSsn(engine_));
  engine_.forEachCustomer([&](const Customer& c) {
    rows.addCustomer(c);
    ++pass.customers;
    if (rows.bytes() > kFlushBytes) rows.flush(db_);
    return true;
  });
  writeConflicts(rows);
  writeSites(rows);
  rows.flush(db_);
  setPosition(end);
  t.commit();
  pass.copied = true;
  pass.toPosition = end;
}

bool MirrorWriter::applyNext(MirrorPass& pass) {
  const auto page = engine_.changesAfter(pass.toPosition, kPageChanges);
  if (page.changes.empty()) return false;
  std::set<RecordId> touched;
  bool shownDifferently = false;  // ssn_shown changed: every customer's row changes
  for (const auto& logged : page.changes) {
    const Change& c = logged.change;
    if (c.operation == Operation::kSettings)
      for (const auto& w : c.writes)
        if (w.field == uint16_t(SettingsField::ssnShown)) shownDifferently = true;
    if (c.target.isNull()) continue;
    touched.insert(c.target);
    touched.insert(engine_.survivor(c.target));  // a late edit of a merged customer shows there
    for (const auto& absorbed : c.absorbed) touched.insert(absorbed);
  }
  if (shownDifferently) {
    copyAll(pass);
    return false;
  }
  Transaction t(db_);
  std::string ids = "{";
  for (const auto& id : touched) ids += (ids.size() > 1 ? "," : "") + id.toString();
  ids += "}";
  for (const auto& table : mirrorTables())
    if (table.perCustomer)
      db_.exec("DELETE FROM " + table.name + " WHERE " +
                   (table.name == "customers" ? "id" : "customer_id") + " = ANY($1::text[])",
               {ids});
  RowBuffers rows(hidesSsn(engine_));
  for (const auto& id : touched) {
    auto c = engine_.customer(id);
    if (!c || (c->lifecycle != Lifecycle::kLive && c->lifecycle != Lifecycle::kDeleted)) continue;
    rows.addCustomer(*c);  // merged and erased customers keep no rows
    ++pass.customers;
  }
  writeConflicts(rows);
  writeSites(rows);
  rows.flush(db_);
  setPosition(page.changes.back().position);
  t.commit();
  pass.toPosition = page.changes.back().position;
  return true;
}

void MirrorWriter::writeConflicts(RowBuffers& rows) {
  db_.exec("DELETE FROM conflicts");
  const auto names = api::siteNames(engine_);
  const bool hide = hidesSsn(engine_);
  for (const auto& c : engine_.conflicts(false)) {
    const auto j = api::conflictJson(c, hide, names);
    auto text = [&](const char* key) {
      return j[key].is_string() ? Param{j[key].get<std::string>()} : Param{};
    };
    rows.row(kConflicts, {c.id, text("kind"), text("customer"), text("field"),
                          text("other_customer"), j["winner"].dump(), j["loser"].dump()});
  }
}

void MirrorWriter::writeSites(RowBuffers& rows) {
  db_.exec("DELETE FROM sites");
  const VersionVector held = engine_.heldVector();
  const auto meta = engine_.meta();
  rows.row(kSites, {siteId_, meta.siteName, Param{}, "true", Param{}, "0", "0", "0", "0"});
  for (const auto& p : engine_.peers()) {
    if (p.siteId == meta.siteId) continue;
    const Param contact =
        p.lastContactMillis ? Param{Hlc::from(p.lastContactMillis, 0).toIso8601()} : Param{};
    rows.row(kSites, {siteIdToHex(p.siteId), p.name, p.endpoint.empty() ? Param{} : p.endpoint,
                      "false", contact, std::to_string(held.countNotIn(p.vector)),
                      std::to_string(p.vector.countNotIn(held)), std::to_string(p.sent),
                      std::to_string(p.received)});
  }
}

void MirrorWriter::refreshSites() {
  // A table altered by hand since the connection: the next connection rebuilds the tables.
  if (auto difference = schemaDifference(db_); !difference.empty()) throw MirrorError(difference);
  Transaction t(db_);
  RowBuffers rows(hidesSsn(engine_));
  writeSites(rows);
  rows.flush(db_);
  t.commit();
}

}  // namespace sitesync::mirror
