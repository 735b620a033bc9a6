// Private to mirror/: the tables the mirror keeps (names, typed columns, indexes), creating and
// checking them, and a customer turned into their rows as COPY text, buffered per table.
#pragma once

#include <string>
#include <vector>

#include "mirror/src/postgres.h"
#include "protocol/protocol.h"

namespace sitesync::mirror {

struct Column {
  std::string name;
  std::string type;  // as CREATE TABLE takes it; information_schema's data_type may differ
};

struct Table {
  std::string name;
  std::vector<Column> columns;  // the first is the primary key
  std::vector<std::string> indexed;
  bool perCustomer = true;  // rows of one customer (its customer_id, or its id for customers)
};

// customers, contacts, journal, discount_cards, card_usages, records, record_usages, conflicts,
// sites, in that order.
const std::vector<Table>& mirrorTables();
enum TableIndex : size_t {
  kCustomers,
  kContacts,
  kJournal,
  kCards,
  kCardUsages,
  kRecords,
  kRecordUsages,
  kConflicts,
  kSites
};
// Creates what is missing (tables, indexes, the position's table); idempotent.
void createSchema(Connection& db);
// How the database's tables differ from mirrorTables() (a column missing or of another type:
// altered by hand), one line; "" when they match. Columns added by hand are left alone.
std::string schemaDifference(Connection& db);
// Drops every mirror table and the position, so that createSchema() and a COPY start over.
void dropSchema(Connection& db);

// Rows waiting for a COPY, as COPY's text format, per table.
class RowBuffers {
 public:
  explicit RowBuffers(bool hideSsn);
  // The customer (live or deleted) with its contacts, journal, cards and their usages, records.
  void addCustomer(const Customer& customer);
  // One row of mirrorTables()[table], its columns' values in order (nullopt: NULL).
  void row(size_t table, const std::vector<Param>& values);
  size_t bytes() const { return bytes_; }
  // COPYs what is buffered into each table, then empties the buffers.
  void flush(Connection& db);

 private:
  bool hideSsn_;
  std::vector<std::string> buffers_;  // by mirrorTables() index
  size_t bytes_ = 0;
};

// Money as numeric's text from cents: 1250 -> "12.50", -5 -> "-0.05".
std::string moneyText(int64_t cents);

}  // namespace sitesync::mirror
