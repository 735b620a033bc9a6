// CSV through libcsv: the reader feeds it line by line so that each record knows its line.
#include "transfer/src/csv.h"

#include <csv.h>

namespace sitesync::transfer {

namespace {

csv_parser* parserOf(void* p) {
  return static_cast<csv_parser*>(p);
}

// Which of ';' and ',' a header line holds more of outside quotes.
char detectDelimiter(std::string_view line) {
  size_t commas = 0, semicolons = 0;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    if (quoted) continue;
    commas += c == ',';
    semicolons += c == ';';
  }
  return semicolons > commas ? ';' : ',';
}

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

}  // namespace

CsvReader::CsvReader(std::istream& in) : in_(in), parser_(new csv_parser) {
  if (csv_init(parserOf(parser_), CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
    throw Error("cannot start the CSV parser");
  if (std::getline(in_, pendingLine_)) {
    bytesRead_ = pendingLine_.size() + 1;
    if (std::string_view(pendingLine_).starts_with(kByteOrderMark))
      pendingLine_.erase(0, kByteOrderMark.size());
    firstLineHeld_ = true;
  }
  delimiter_ = detectDelimiter(pendingLine_);
  csv_set_delim(parserOf(parser_), static_cast<unsigned char>(delimiter_));
}

CsvReader::~CsvReader() {
  csv_free(parserOf(parser_));
  delete parserOf(parser_);
}

void CsvReader::feedLine() {
  std::string line;
  if (firstLineHeld_) {
    line = std::move(pendingLine_);
    firstLineHeld_ = false;
  } else if (std::getline(in_, line)) {
    bytesRead_ += line.size() + 1;
  } else {
    ended_ = true;
  }
  auto onField = [](void* bytes, size_t size, void* self) {
    static_cast<CsvReader*>(self)->fields_.emplace_back(static_cast<const char*>(bytes), size);
  };
  auto onRecord = [](int, void* self) {
    auto* reader = static_cast<CsvReader*>(self);
    reader->ready_.push_back(CsvRecord{std::move(reader->fields_), reader->recordStart_});
    reader->fields_.clear();
  };
  csv_parser* p = parserOf(parser_);
  if (ended_) {
    if (csv_fini(p, onField, onRecord, this) != 0)
      throw Error("line " + std::to_string(recordStart_) +
                  ": a quoted field is not closed before the end of the file");
    return;
  }
  ++lineNumber_;
  if (p->pstate == 0 && fields_.empty()) recordStart_ = lineNumber_;
  line += '\n';
  if (csv_parse(p, line.data(), line.size(), onField, onRecord, this) != line.size())
    throw Error("line " + std::to_string(lineNumber_) + ": not valid CSV (" +
                csv_strerror(csv_error(p)) + "; a quote inside a field is written twice)");
}

bool CsvReader::next(CsvRecord& record) {
  while (readyAt_ == ready_.size()) {
    ready_.clear();
    readyAt_ = 0;
    if (ended_) return false;
    feedLine();
  }
  record = std::move(ready_[readyAt_++]);
  return true;
}

CsvWriter::CsvWriter(std::ostream& out, char delimiter, bool byteOrderMark)
    : out_(out), delimiter_(delimiter) {
  if (byteOrderMark) out_ << kByteOrderMark;
}

void CsvWriter::write(const std::vector<std::string>& fields) {
  buffer_.clear();
  std::string quoted;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) buffer_ += delimiter_;
    quoted.resize(fields[i].size() * 2 + 2);
    quoted.resize(csv_write2(quoted.data(), quoted.size(), fields[i].data(), fields[i].size(),
                             static_cast<unsigned char>('"')));
    buffer_ += quoted;
  }
  buffer_ += "\r\n";
  out_.write(buffer_.data(), std::streamsize(buffer_.size()));
}

}  // namespace sitesync::transfer
