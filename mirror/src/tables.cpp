// The mirror's tables and a customer's rows (mirror/src/tables.h).
#include "mirror/src/tables.h"

#include <map>

#include "api/register_json.h"
#include "sync/operations.h"

namespace sitesync::mirror {

namespace {

std::string pgType(ValueKind kind) {
  switch (kind) {
    case ValueKind::kDate:
      return "date";
    case ValueKind::kTimestamp:
      return "timestamptz";
    case ValueKind::kBool:
      return "boolean";
    case ValueKind::kUnsigned:
      return "bigint";
    default:
      return "text";
  }
}

// information_schema.columns' data_type of a type as CREATE TABLE names it.
std::string shownType(const std::string& type) {
  if (type == "timestamptz") return "timestamp with time zone";
  if (type.rfind("numeric", 0) == 0) return "numeric";
  return type;
}

const std::vector<std::string> kContactAttributes = {"name", "phone", "email",
                                                     "send_service_protocol", "send_work_orders"};
const std::vector<std::string> kJournalAttributes = {"text", "author", "at"};
const std::vector<std::string> kCardAttributes = {"type", "value_cents", "price_paid_cents",
                                                  "valid_until"};
const std::vector<std::string> kRecordAttributes = {
    "kind",     "title", "text",        "status", "date",   "starts_at", "amount_cents",
    "due_date", "paid",  "valid_until", "units",  "debtor", "technician"};

std::vector<Column> elementColumns(uint16_t code, const std::vector<std::string>& attributes) {
  std::vector<Column> columns = {{"id", "text"}, {"customer_id", "text NOT NULL"}};
  for (const auto& a : attributes) columns.push_back({a, pgType(elementValueKind(code, a))});
  return columns;
}

std::vector<Table> makeTables() {
  Table customers{"customers", {{"id", "text"}}, {"number", "phone", "name"}};
  for (const auto& f : customerFields()) customers.columns.push_back({f.cliName, pgType(f.kind)});
  for (Column c : {Column{"custom", "jsonb"}, Column{"technicians", "jsonb"},
                   Column{"created", "timestamptz"}, Column{"created_at_site", "text"}})
    customers.columns.push_back(c);

  Table contacts{"contacts", elementColumns(kContactCode, kContactAttributes), {"customer_id"}};
  Table journal{"journal", elementColumns(kJournalCode, kJournalAttributes), {"customer_id"}};
  Table cards{"discount_cards", elementColumns(kDiscountCode, kCardAttributes), {"customer_id"}};
  for (Column c : {Column{"balance_cents", "bigint"}, Column{"value", "numeric(14,2)"},
                   Column{"price_paid", "numeric(14,2)"}, Column{"balance", "numeric(14,2)"}})
    cards.columns.push_back(c);
  const std::vector<Column> usage = {{"id", "text"},
                                     {"parent", "text NOT NULL"},
                                     {"customer_id", "text NOT NULL"},
                                     {"amount_cents", "bigint"},
                                     {"amount", "numeric(14,2)"},
                                     {"visit", "text"},
                                     {"at", "timestamptz"},
                                     {"site", "text"}};
  Table cardUsages{"card_usages", usage, {"customer_id"}};
  cardUsages.columns[1].name = "card_id";
  Table records{"records", elementColumns(kRecordCode, kRecordAttributes), {"customer_id"}};
  for (Column c : {Column{"amount", "numeric(14,2)"}, Column{"units_left", "bigint"},
                   Column{"added_at", "timestamptz"}})
    records.columns.push_back(c);
  Table recordUsages{"record_usages",
                     {{"id", "text"},
                      {"record_id", "text NOT NULL"},
                      {"customer_id", "text NOT NULL"},
                      {"units", "bigint"},
                      {"note", "text"},
                      {"at", "timestamptz"},
                      {"site", "text"}},
                     {"customer_id"}};
  Table conflicts{"conflicts",
                  {{"id", "text"},
                   {"kind", "text"},
                   {"customer_id", "text"},
                   {"field", "text"},
                   {"other_customer", "text"},
                   {"winner", "jsonb"},
                   {"loser", "jsonb"}},
                  {"customer_id"},
                  false};
  Table sites{"sites",
              {{"site_id", "text"},
               {"name", "text"},
               {"endpoint", "text"},
               {"this_node", "boolean"},
               {"last_contact", "timestamptz"},
               {"changes_pending_to_site", "bigint"},
               {"changes_pending_from_site", "bigint"},
               {"changes_sent", "bigint"},
               {"changes_received", "bigint"}},
              {},
              false};
  return {customers, contacts, journal, cards, cardUsages, records, recordUsages, conflicts, sites};
}

Param text(const std::string& value) {
  return value.empty() ? Param{} : Param{value};
}

// A value as its column takes it: NULL when unset, and for a date in year 0 (which the register
// accepts and PostgreSQL's calendar has not), so that one such value never stops the mirror.
Param typed(ValueKind kind, const std::string& value) {
  if ((kind == ValueKind::kDate || kind == ValueKind::kTimestamp) && value.rfind("0000", 0) == 0)
    return Param{};
  return text(value);
}

}  // namespace

const std::vector<Table>& mirrorTables() {
  static const std::vector<Table> tables = makeTables();
  return tables;
}

void createSchema(Connection& db) {
  for (const auto& t : mirrorTables()) {
    std::string sql = "CREATE TABLE IF NOT EXISTS " + t.name + " (";
    for (size_t i = 0; i < t.columns.size(); ++i)
      sql += (i ? ", " : "") + t.columns[i].name + " " + t.columns[i].type +
             (i == 0 ? " PRIMARY KEY" : "");
    db.exec(sql + ")");
    for (const auto& column : t.indexed)
      db.exec("CREATE INDEX IF NOT EXISTS " + t.name + "_" + column + " ON " + t.name + " (" +
              column + ")");
  }
  db.exec(
      "CREATE TABLE IF NOT EXISTS sitesync_mirror (site_id text PRIMARY KEY, position bigint NOT "
      "NULL, updated_at timestamptz NOT NULL)");
}

std::string schemaDifference(Connection& db) {
  std::map<std::string, std::map<std::string, std::string>> found;  // table -> column -> type
  auto rows = db.exec(
      "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE "
      "table_schema = current_schema()");
  for (int r = 0; r < rows.rows(); ++r) found[rows.at(r, 0)][rows.at(r, 1)] = rows.at(r, 2);
  for (const auto& t : mirrorTables()) {
    auto table = found.find(t.name);
    if (table == found.end()) return "table " + t.name + " is missing";
    for (const auto& c : t.columns) {
      const std::string want = shownType(c.type.substr(0, c.type.find(' ')));
      auto column = table->second.find(c.name);
      if (column == table->second.end()) return "table " + t.name + " has no column " + c.name;
      if (column->second != want)
        return "column " + t.name + "." + c.name + " is " + column->second + ", not " + want;
    }
  }
  return "";
}

void dropSchema(Connection& db) {
  std::string names = "sitesync_mirror";
  for (const auto& t : mirrorTables()) names += ", " + t.name;
  db.exec("DROP TABLE IF EXISTS " + names);
}

std::string moneyText(int64_t cents) {
  const uint64_t magnitude = cents < 0 ? uint64_t(-(cents + 1)) + 1 : uint64_t(cents);
  std::string fraction = std::to_string(magnitude % 100);
  if (fraction.size() < 2) fraction.insert(0, "0");
  return (cents < 0 ? "-" : "") + std::to_string(magnitude / 100) + "." + fraction;
}

RowBuffers::RowBuffers(bool hideSsn) : hideSsn_(hideSsn), buffers_(mirrorTables().size()) {}

void RowBuffers::row(size_t table, const std::vector<Param>& values) {
  std::string& out = buffers_[table];
  const size_t before = out.size();
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += '\t';
    if (!values[i]) {
      out += "\\N";
      continue;
    }
    for (char ch : *values[i]) switch (ch) {
        case '\\':
          out += "\\\\";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        default:
          out += ch;
      }
  }
  out += '\n';
  bytes_ += out.size() - before;
}

void RowBuffers::addCustomer(const Customer& c) {
  const std::string id = c.id.toString();
  std::vector<Param> values = {id};
  for (const auto& f : customerFields()) {
    std::string v = c.fields[f.code].value;
    if (f.code == uint16_t(CustomerField::ssn) && hideSsn_) v.clear();
    if (f.code == uint16_t(CustomerField::status))
      v = api::displayStatus(c);  // merged, erased: no row
    values.push_back(typed(f.kind, v));
  }
  values.push_back(api::customValuesJson(c).dump());
  values.push_back(api::techniciansJson(c).dump());
  values.push_back(c.created.hlc.toIso8601());
  values.push_back(siteIdToHex(c.created.origin));
  row(kCustomers, values);

  for (const auto& e : sync::cardElements(c)) {
    if (e.gone()) continue;
    const std::string elementId = e.id.toString();
    std::vector<Param> element = {elementId, id};
    auto attributes = [&](const std::vector<std::string>& names) {
      for (const auto& a : names)
        element.push_back(typed(elementValueKind(e.kind, a), e.attribute(a)));
    };
    auto usages = [&](size_t table) {
      for (const auto& u : e.usages) {
        std::vector<Param> usage = {u.id.toString(), elementId, id, std::to_string(u.amountCents)};
        if (table == kCardUsages) usage.push_back(moneyText(u.amountCents));
        for (Param p : {text(u.visit), Param{u.at.toIso8601()}, Param{siteIdToHex(u.site)}})
          usage.push_back(p);
        row(table, usage);
      }
    };
    switch (e.kind) {
      case kContactCode:
        attributes(kContactAttributes);
        row(kContacts, element);
        break;
      case kJournalCode:
        attributes(kJournalAttributes);
        row(kJournal, element);
        break;
      case kDiscountCode: {
        attributes(kCardAttributes);
        const int64_t value =
            e.attribute("value_cents").empty() ? 0 : std::stoll(e.attribute("value_cents"));
        const std::string paid = e.attribute("price_paid_cents");
        for (Param p : {Param{std::to_string(e.balanceCents)}, Param{moneyText(value)},
                        paid.empty() ? Param{} : Param{moneyText(std::stoll(paid))},
                        Param{moneyText(e.balanceCents)}})
          element.push_back(p);
        row(kCards, element);
        usages(kCardUsages);
        break;
      }
      case kRecordCode: {
        attributes(kRecordAttributes);
        const std::string amount = e.attribute("amount_cents");
        element.push_back(amount.empty() ? Param{} : Param{moneyText(std::stoll(amount))});
        element.push_back(e.attribute("units").empty() ? Param{}
                                                       : Param{std::to_string(e.unitsLeft)});
        element.push_back(e.addedAt.toIso8601());
        row(kRecords, element);
        usages(kRecordUsages);
        break;
      }
      default:
        break;
    }
  }
}

void RowBuffers::flush(Connection& db) {
  const auto& tables = mirrorTables();
  for (size_t t = 0; t < buffers_.size(); ++t) {
    if (buffers_[t].empty()) continue;
    std::vector<std::string> columns;
    for (const auto& c : tables[t].columns) columns.push_back(c.name);
    db.copyIn(tables[t].name, columns, buffers_[t]);
    buffers_[t].clear();
  }
  bytes_ = 0;
}

}  // namespace sitesync::mirror
