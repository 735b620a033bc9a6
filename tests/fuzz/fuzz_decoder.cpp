// libFuzzer target: hostile bytes into the message decoders and the batch apply path. The first
// byte picks the door: a wire message, a change, a customer record, or a batch of changes applied
// to a real LMDB store (kept across inputs, so later inputs meet the state earlier ones left).
// Every door may refuse its input (DecodeError, ApplyError, a refused batch); none may crash,
// leak or corrupt memory (built with AddressSanitizer), and a refused batch writes nothing.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/protocol.h"
#include "storage/store.h"
#include "sync/engine.h"
#include "sync/testing/engine_test_access.h"

namespace {

using namespace sitesync;

class FixedClock final : public sync::Clock {
 public:
  uint64_t nowMillis() override { return 1'700'000'000'000; }
};

struct Target {
  std::string dir;
  std::unique_ptr<storage::Store> store;
  FixedClock clock;
  std::unique_ptr<sync::Engine> engine;
  Target() {
    char pattern[] = "/tmp/sitesync-fuzz-XXXXXX";
    if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    dir = pattern;
    store = storage::Store::open(dir, storage::Options{.durable = false});
    const Status made = sync::Engine::initialize(
        *store, clock, sync::SiteKey::fromPrivate(std::string(32, '\x5a')), "fuzz", true);
    if (!made.isOk()) throw std::runtime_error("fuzz target: " + made.message());
    engine = std::make_unique<sync::Engine>(*store, clock);
  }
  ~Target() {
    engine.reset();
    store.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

// A batch: changes separated by the byte pair 0xff 0x00 (so that the fuzzer can splice them).
std::vector<std::string> splitBatch(std::string_view bytes) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i + 1 < bytes.size() && out.size() < 64; ++i)
    if (uint8_t(bytes[i]) == 0xff && bytes[i + 1] == 0) {
      out.emplace_back(bytes.substr(start, i - start));
      start = i + 2;
      ++i;
    }
  out.emplace_back(bytes.substr(start));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static Target target;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 4) {
      case 0: {
        WireMessage message = decodeWireMessage(bytes);
        std::string again;
        encode(message, again);  // what decodes must encode
        break;
      }
      case 1: {
        Change change = decodeChange(bytes);
        std::string again;
        encode(change, again);
        break;
      }
      case 2: {
        Customer customer = decodeCustomer(bytes);
        std::string again;
        encode(customer, again);
        (void)sync::cardElements(customer);
        break;
      }
      default: {
        const std::string before = target.engine->digestHex();
        // Half the inputs skip the signature checks, so that crafted (unsigned) changes reach
        // the apply path; the other half go through the checks as a peer's batch would.
        sync::EngineTestAccess::skipSignatureChecks(*target.engine, bytes.size() % 2 == 0);
        // A third go through the inbox (acknowledged once staged, written after): what is
        // acknowledged must end in the register, or be set aside, never lost.
        const bool staging = bytes.size() % 3 == 0;
        target.engine->stageBatchesFrom(staging ? 1 : sync::Engine::kStageFrom);
        std::optional<VersionVector> promised;
        try {
          if (staging) {
            target.engine->applyBatch(splitBatch(bytes), {},
                                      [&](const VersionVector& v) { promised = v; });
            target.engine->settleStaged();
            if (promised) {
              const VersionVector held = target.engine->status().vector;
              bool holds = true;
              for (const auto& [origin, seq] : promised->entries())
                holds = holds && held.get(origin) >= seq;
              if (!holds && target.engine->inboxState().setAside.empty()) {
                std::fprintf(stderr, "an acknowledged batch was neither applied nor set aside\n");
                std::abort();
              }
            }
          } else {
            target.engine->applyBatch(splitBatch(bytes));
          }
        } catch (const std::exception& e) {
          if (target.engine->digestHex() != before) {  // a refused batch wrote
            std::fprintf(stderr, "refused batch changed the store: %s\n", e.what());
            std::abort();
          }
        }
        break;
      }
    }
  } catch (const DecodeError&) {
  } catch (const std::exception&) {
  }
  return 0;
}
