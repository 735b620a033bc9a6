// Internal to transfer/: CSV as the import and export read and write it (RFC 4180, libcsv):
// records with the line each starts on, UTF-8 with or without a byte-order mark, ';' or ','
// detected.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/status.h"

namespace sitesync::transfer {

struct CsvRecord {
  std::vector<std::string> fields;
  uint64_t line = 0;  // the line of the file the record starts on (1: the first)
};

// Reads records one by one. The delimiter is the one of ';' and ',' that the first line holds
// more of outside quotes (',' when neither).
class CsvReader {
 public:
  explicit CsvReader(std::istream& in);
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;
  // The next record; false at the end. Throws Error naming the line when the file ends inside
  // a quoted field or is not valid CSV.
  bool next(CsvRecord& record);
  char delimiter() const { return delimiter_; }
  uint64_t bytesRead() const { return bytesRead_; }

 private:
  void feedLine();
  std::istream& in_;
  void* parser_;  // struct csv_parser
  char delimiter_ = ',';
  std::string pendingLine_;  // the first line, read ahead to find the delimiter
  bool firstLineHeld_ = false;
  bool ended_ = false;
  uint64_t lineNumber_ = 0;  // lines fed to the parser
  uint64_t bytesRead_ = 0;
  uint64_t recordStart_ = 1;
  std::vector<std::string> fields_;
  std::vector<CsvRecord> ready_;  // records completed by the last line fed
  size_t readyAt_ = 0;
};

// Writes records: every field quoted (libcsv's csv_write2), fields separated by `delimiter`,
// lines ended by CRLF as RFC 4180 says; `byteOrderMark` first for spreadsheet programs.
class CsvWriter {
 public:
  CsvWriter(std::ostream& out, char delimiter, bool byteOrderMark);
  void write(const std::vector<std::string>& fields);

 private:
  std::ostream& out_;
  char delimiter_;
  std::string buffer_;
};

}  // namespace sitesync::transfer
