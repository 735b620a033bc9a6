// CSV rows to creates and updates, submitted a few thousand per transaction.
#include "transfer/transfer.h"

#include <unordered_map>

#include "transfer/src/columns.h"
#include "transfer/src/csv.h"

namespace sitesync::transfer {

std::optional<MatchBy> matchByNamed(const std::string& name) {
  if (name == "number") return MatchBy::kNumber;
  if (name == "email") return MatchBy::kEmail;
  if (name == "external_id") return MatchBy::kExternalId;
  return std::nullopt;
}

const char* matchByName(MatchBy match) {
  return match == MatchBy::kExternalId ? "external_id"
         : match == MatchBy::kNumber   ? "number"
         : match == MatchBy::kEmail    ? "email"
                                       : "none";
}

namespace {

// The field a row's match key is read from ("" for none): external ids are a custom field.
std::string matchFieldOf(MatchBy match) {
  if (match == MatchBy::kNone) return {};
  if (match == MatchBy::kExternalId) return "custom.external_id";
  return matchByName(match);
}

// "31.12.1980", "31-12-1980" or "31/12/1980" as 1980-12-31 (the register's form); else as is.
std::string isoDate(const std::string& text) {
  int day = 0, month = 0, year = 0;
  char a = 0, b = 0;
  int used = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c%d%n", &day, &a, &month, &b, &year, &used) == 5 &&
      used == int(text.size()) && a == b && (a == '.' || a == '-' || a == '/') && year > 999 &&
      year < 10000 && day >= 1 && day <= 31 && month >= 1 && month <= 12) {
    char out[40];
    std::snprintf(out, sizeof out, "%04d-%02d-%02d", year, month, day);
    return out;
  }
  return text;
}

// One column of the file as the import writes it.
struct Column {
  std::string field;               // as fieldForHeader names it
  std::optional<sync::Edit> edit;  // its field code and key (a plain field or a custom one)
};

// Each row of the file, once its header is known: the edits it makes and the key it matches by.
class RowReader {
 public:
  RowReader(const CsvRecord& header, const ImportOptions& options, ImportReport& report) {
    for (const std::string& text : header.fields) {
      std::optional<std::string> field;
      auto mapped = options.columnFields.find(text);
      if (mapped != options.columnFields.end()) {
        field = fieldForMapping(mapped->second);
        if (!field)
          throw Error("--map " + text + "=" + mapped->second + ": no field named '" +
                      mapped->second + "' (see `sitesync customer add --help`)");
      } else {
        field = fieldForHeader(text);
      }
      columns_.push_back(Column{field.value_or(""), editFor(field.value_or(""))});
      if (field && !field->empty())
        report.columns.emplace_back(text, *field);
      else
        report.ignoredColumns.push_back(text);
    }
    for (const auto& [text, field] : options.columnFields)
      if (std::find(header.fields.begin(), header.fields.end(), text) == header.fields.end())
        throw Error("--map " + text + "=" + field + ": the header has no column '" + text + "'");
  }

  bool hasField(const std::string& field) const {
    return std::any_of(columns_.begin(), columns_.end(),
                       [&](const Column& c) { return c.field == field; });
  }

  // The row's edits (empty cells left out) and the value of `matchField`; a reason when the
  // row cannot be read.
  Result<std::vector<sync::Edit>> edits(const CsvRecord& row, const std::string& matchField,
                                        std::string& key) const {
    if (row.fields.size() > columns_.size())
      return Status::invalidArgument("has " + std::to_string(row.fields.size()) +
                                     " fields, the header " + std::to_string(columns_.size()));
    std::vector<sync::Edit> out;
    std::string first, last;
    key.clear();
    for (size_t i = 0; i < row.fields.size(); ++i) {
      const Column& column = columns_[i];
      const std::string& value = row.fields[i];
      if (value.empty() || column.field.empty()) continue;
      if (column.field == matchField) key = value;
      if (column.field == "first_name") first = value;
      if (column.field == "last_name") last = value;
      if (!column.edit) continue;
      sync::Edit edit = *column.edit;
      edit.value = edit.field == uint16_t(CustomerField::birthDate) ? isoDate(value) : value;
      out.push_back(std::move(edit));
    }
    if (!first.empty() || !last.empty())
      out.push_back(sync::Edit{uint16_t(CustomerField::name),
                               {},
                               first + (first.empty() || last.empty() ? "" : " ") + last});
    return out;
  }

 private:
  static std::optional<sync::Edit> editFor(const std::string& field) {
    if (field.starts_with("custom.")) return sync::Edit{kCustomFieldCode, field.substr(7), {}};
    if (auto f = customerFieldByName(field)) return sync::Edit{uint16_t(*f), {}, {}};
    return std::nullopt;
  }
  std::vector<Column> columns_;
};

// Finds the customer a row's key names: by index for a number or an e-mail address, from a map
// made once for an external id (a custom field, which has no index).
class Matcher {
 public:
  Matcher(const sync::Engine& engine, MatchBy match) : engine_(engine), match_(match) {
    if (match != MatchBy::kExternalId) return;
    engine.forEachCustomer([&](const Customer& c) {
      auto it = c.customFields.find("external_id");
      if (c.isLive() && it != c.customFields.end() && !it->second.value.empty())
        byExternalId_[it->second.value].push_back(c.id);
      return true;
    });
  }

  Result<std::optional<RecordId>> find(const std::string& key) const {
    std::vector<RecordId> found;
    if (match_ == MatchBy::kExternalId) {
      auto it = byExternalId_.find(key);
      if (it != byExternalId_.end()) found = it->second;
    } else {
      auto held = engine_.findLive(
          match_ == MatchBy::kNumber ? CustomerField::number : CustomerField::email, key);
      if (!held.isOk()) return held.status();
      found = held.value();
    }
    if (found.empty()) return std::optional<RecordId>();
    if (found.size() > 1)
      return Status::failedPrecondition(matchFieldOf(match_) + " " + key + " matches " +
                                        std::to_string(found.size()) + " customers (" +
                                        found[0].toString() + ", " + found[1].toString() +
                                        (found.size() > 2 ? ", ..." : "") + "): merge them first");
    return std::optional<RecordId>(found[0]);
  }

 private:
  const sync::Engine& engine_;
  MatchBy match_;
  std::unordered_map<std::string, std::vector<RecordId>> byExternalId_;
};

// One pass over the file: rows into ops, a transaction per rowsPerTransaction, counted in the
// report. `write` false: each transaction is tried and abandoned.
void importPass(sync::Engine& engine, std::istream& in, const ImportOptions& options, bool write,
                ImportReport& report, const std::function<void(const ImportProgress&)>& progress) {
  CsvReader reader(in);
  CsvRecord header;
  if (!reader.next(header)) throw Error("the file is empty: a header row names the columns");
  report = ImportReport{};
  report.delimiter = reader.delimiter();
  RowReader rows(header, options, report);
  report.match =
      options.match.value_or(rows.hasField("number") ? MatchBy::kNumber : MatchBy::kNone);
  const std::string matchField = matchFieldOf(report.match);
  if (report.match != MatchBy::kNone && !rows.hasField(matchField))
    throw Error(std::string("--match ") + matchByName(report.match) + ": no column holds " +
                matchField);
  const Matcher matcher(engine, report.match);
  std::unordered_map<std::string, uint64_t> keysSeen;  // match key -> line
  std::vector<sync::LocalOp> ops;
  std::vector<uint64_t> lines;
  auto flush = [&] {
    const auto results = write ? engine.submit(ops) : engine.trial(ops);
    for (size_t i = 0; i < results.size(); ++i) {
      if (!results[i].status.isOk())
        report.refused.push_back(RowError{lines[i], results[i].status.message()});
      else if (ops[i].kind == sync::LocalOp::Kind::kCreate)
        ++report.created;
      else
        ++(results[i].changed ? report.updated : report.unchanged);
    }
    ops.clear();
    lines.clear();
    if (progress) progress(ImportProgress{report.rows, reader.bytesRead()});
  };
  CsvRecord row;
  std::string key;
  while (reader.next(row)) {
    ++report.rows;
    auto edits = rows.edits(row, matchField, key);
    auto target = key.empty() ? Result<std::optional<RecordId>>(std::optional<RecordId>())
                              : matcher.find(key);
    if (!key.empty())
      if (auto [seen, fresh] = keysSeen.emplace(key, row.line); !fresh)
        target = Status::alreadyExists("the same " + matchField + " as line " +
                                       std::to_string(seen->second));
    const Status bad = !edits.isOk() ? edits.status() : target.status();
    if (!bad.isOk()) {
      report.refused.push_back(RowError{row.line, bad.message()});
      continue;
    }
    const std::optional<RecordId>& match = target.value();
    ops.push_back(sync::LocalOp{match ? sync::LocalOp::Kind::kUpdate : sync::LocalOp::Kind::kCreate,
                                match.value_or(RecordId{}), std::move(edits.value()),
                                options.author});
    lines.push_back(row.line);
    if (ops.size() >= options.rowsPerTransaction) flush();
  }
  flush();
  report.wrote = write && report.created + report.updated > 0;
}

}  // namespace

ImportReport importCustomers(sync::Engine& engine, std::istream& in, const ImportOptions& options,
                             const std::function<void(const ImportProgress&)>& progress) {
  ImportReport report;
  const bool checkFirst = options.strict && !options.dryRun;
  importPass(engine, in, options, !options.dryRun && !options.strict, report, progress);
  if (!checkFirst || !report.refused.empty()) return report;
  // --strict: every row passed on its own; now write them (a second read of the file).
  in.clear();
  in.seekg(0);
  if (!in) throw Error("--strict reads the file twice: give a file, not a pipe");
  importPass(engine, in, options, true, report, progress);
  return report;
}

}  // namespace sitesync::transfer
