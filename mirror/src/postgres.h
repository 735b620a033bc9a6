// Private to mirror/: a libpq connection and its results as RAII objects, statements with text
// parameters (nullopt: NULL), and COPY ... FROM STDIN of rows in COPY's text format. Failures throw
// MirrorError with PostgreSQL's own message on one line.
#pragma once

#include <libpq-fe.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mirror/mirror.h"

namespace sitesync::mirror {

using Param = std::optional<std::string>;

class Result {
 public:
  explicit Result(PGresult* r) : r_(r) {}
  ~Result() { PQclear(r_); }
  Result(Result&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  int rows() const { return PQntuples(r_); }
  bool isNull(int row, int column) const { return PQgetisnull(r_, row, column); }
  std::string at(int row, int column) const { return PQgetvalue(r_, row, column); }
  PGresult* get() const { return r_; }

 private:
  PGresult* r_;
};

// One line of PostgreSQL's error message (its first line, without the "ERROR:" prefix).
inline std::string oneLine(const char* message) {
  std::string text = message ? message : "unknown error";
  if (auto end = text.find('\n'); end != std::string::npos) text.resize(end);
  if (text.rfind("ERROR:  ", 0) == 0) text.erase(0, 8);
  return text;
}

class Connection {
 public:
  explicit Connection(const std::string& dsn) : c_(PQconnectdb(dsn.c_str())) {
    if (PQstatus(c_) != CONNECTION_OK)
      throw MirrorError("cannot connect to PostgreSQL: " + oneLine(PQerrorMessage(c_)));
    exec("SET client_min_messages = warning");
  }
  ~Connection() { PQfinish(c_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Result exec(const std::string& sql, const std::vector<Param>& params = {}) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    PGresult* r = PQexecParams(c_, sql.c_str(), int(values.size()), nullptr, values.data(), nullptr,
                               nullptr, 0);
    const auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      const std::string why = oneLine(PQresultErrorMessage(r));
      PQclear(r);
      throw MirrorError("PostgreSQL refused " + sql.substr(0, sql.find(' ')) + ": " + why);
    }
    return Result(r);
  }

  // For a rollback on the way out of a failure: no throw, the first failure is what is said.
  void tryExec(const char* sql) noexcept { PQclear(PQexec(c_, sql)); }

  // COPY `table` (`columns`) FROM STDIN with `rows` in COPY's text format.
  void copyIn(const std::string& table, const std::vector<std::string>& columns,
              std::string_view rows) {
    std::string sql = "COPY " + table + " (";
    for (size_t i = 0; i < columns.size(); ++i) sql += (i ? ", " : "") + columns[i];
    Result started(PQexec(c_, (sql + ") FROM STDIN").c_str()));
    if (PQresultStatus(started.get()) != PGRES_COPY_IN)
      throw MirrorError("PostgreSQL refused COPY " + table + ": " +
                        oneLine(PQresultErrorMessage(started.get())));
    constexpr size_t kPiece = size_t(1) << 20;
    for (size_t at = 0; at < rows.size(); at += kPiece)
      if (PQputCopyData(c_, rows.data() + at, int(std::min(kPiece, rows.size() - at))) != 1)
        throw MirrorError("COPY to PostgreSQL failed: " + oneLine(PQerrorMessage(c_)));
    if (PQputCopyEnd(c_, nullptr) != 1)
      throw MirrorError("COPY to PostgreSQL failed: " + oneLine(PQerrorMessage(c_)));
    std::string why;
    while (PGresult* r = PQgetResult(c_)) {
      if (PQresultStatus(r) != PGRES_COMMAND_OK && why.empty())
        why = oneLine(PQresultErrorMessage(r));
      PQclear(r);
    }
    if (!why.empty()) throw MirrorError("PostgreSQL refused the COPY into " + table + ": " + why);
  }

 private:
  PGconn* c_;
};

}  // namespace sitesync::mirror
