// Private to mirror/: one connection to the mirror's database and the transactions that bring
// it up to the store's log: a whole copy by COPY, or the customers a run of changes touched.
#pragma once

#include <string>

#include "mirror/mirror.h"
#include "mirror/src/postgres.h"
#include "mirror/src/tables.h"

namespace sitesync::mirror {

class MirrorWriter {
 public:
  // Connects, and makes or checks the tables (rebuilding them when altered by hand).
  MirrorWriter(const sync::Engine& engine, const std::string& dsn);
  // Catches up with the log; each transaction moves the position with the rows it covers.
  MirrorPass catchUp();
  // Rewrites the sites table (last contact, changes pending) without moving the position;
  // throws when a table was altered by hand meanwhile.
  void refreshSites();

 private:
  uint64_t position();  // 0 with started_ false when PostgreSQL holds none for this site
  void copyAll(MirrorPass& pass);
  // One transaction over the changes after the position (up to a page); false once none are.
  bool applyNext(MirrorPass& pass);
  void writeConflicts(RowBuffers& rows);
  void writeSites(RowBuffers& rows);
  void setPosition(uint64_t position);

  const sync::Engine& engine_;
  Connection db_;
  std::string siteId_;
  std::string rebuilt_;
  bool started_ = false;
};

}  // namespace sitesync::mirror
