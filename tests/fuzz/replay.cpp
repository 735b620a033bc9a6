// Replays a fuzz corpus through the fuzz target without libFuzzer (any compiler): every file of
// the directories given is one input. The ctest `fuzz.replay` (label slow) runs tests/fuzz/corpus.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "protocol/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using namespace sitesync;

// Well-formed inputs for every door of the target (the first byte picks it), so that the fuzzer
// starts from valid messages and mutates from there.
void writeSeeds(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  int n = 0;
  auto put = [&](uint8_t door, const std::string& bytes) {
    std::ofstream out(dir / ("seed-" + std::to_string(n++)), std::ios::binary);
    out.put(char(door));
    out << bytes;
  };
  const SiteId site = 0xa1;
  Change create;
  create.id = ChangeId{site, 1};
  create.hlc = Hlc::from(1'700'000'000'000, 0);
  create.operation = Operation::kCreate;
  create.target = RecordId{site, 1};
  create.author = "seed";
  create.writes = {FieldWrite{1, "", "Anna Virtanen", {}}, FieldWrite{2, "", "040 123", {}},
                   FieldWrite{kCustomFieldCode, "colour", "blue", {}}};
  Change journal = create;
  journal.id.seq = 2;
  journal.hlc = Hlc::from(1'700'000'000'001, 0);
  journal.operation = Operation::kJournal;
  journal.writes = {FieldWrite{kJournalCode, RecordId{site, 2}.toString() + "/text", "note", {}}};
  Change merge = journal;
  merge.id.seq = 3;
  merge.operation = Operation::kMerge;
  merge.absorbed = {RecordId{site, 1}};
  merge.writes = {FieldWrite{1, "", "Anna", {create.version()}}};
  std::string a, b, c;
  encode(create, a);
  encode(journal, b);
  encode(merge, c);
  put(1, a);
  put(1, b);
  put(3, a);
  put(3, a + std::string("\xff\x00", 2) + b);
  put(3, a + std::string("\xff\x00", 2) + b + std::string("\xff\x00", 2) + c);
  Customer customer;
  customer.id = RecordId{site, 1};
  customer.created = create.version();
  customer.fields[1] = FieldValue{"Anna", create.version(), 1, {}};
  customer.elements[{kContactCode, RecordId{site, 2}.toString() + "/name"}] =
      FieldValue{"Pekka", create.version(), 1, {}};
  std::string d;
  encode(customer, d);
  put(2, d);
  std::string w;
  encode(WireMessage{HelloMsg{}}, w);
  put(0, w);
  encode(WireMessage{ChangeBatchMsg{{a, b}, true}}, w);
  put(0, w);
  encode(WireMessage{ErrorMsg{WireError::kMalformed, "x"}}, w);
  put(0, w);
  encode(WireMessage{SnapshotRequestMsg{"", 1024}}, w);
  put(0, w);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--write-seeds") {
    writeSeeds(argv[2]);
    return 0;
  }
  size_t inputs = 0;
  for (int i = 1; i < argc; ++i)
    for (const auto& entry : std::filesystem::recursive_directory_iterator(argv[i])) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++inputs;
    }
  std::printf("replayed %zu inputs without a crash\n", inputs);
  return 0;
}
