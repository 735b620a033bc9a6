// Unit tests for the protocol layer: codec round trips, rejection of malformed bytes, the
// vocabulary types (record ids, HLC, versions), value validation, and the agreement between the
// C++ field tables and the Cap'n Proto schema.
#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize-packed.h>
#include <kj/io.h>

#include <boost/test/unit_test.hpp>

#include <cctype>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/protocol.h"
#include "register.capnp.h"
#include "wire.capnp.h"

using namespace sitesync;

namespace {

struct ProtocolFixture {
  static constexpr SiteId kSite = 0x1f3a5c7e9b2d4f60;
  static constexpr SiteId kOther = 0x00000000000000ab;

  static Version version(uint64_t millis, uint64_t logical, SiteId origin) {
    return Version{Hlc::from(millis, logical), origin};
  }

  // A customer with every register written (each with its own version), custom fields and a
  // tombstone's bookkeeping, so a round trip exercises every part of the encoding.
  static Customer fullCustomer() {
    Customer c;
    c.id = RecordId{kSite, 42};
    c.lifecycle = Lifecycle::kMerged;
    c.mergedInto = RecordId{kOther, 7};
    c.lifecycleVersion = version(1'700'000'000'500, 2, kOther);
    c.created = version(1'700'000'000'000, 0, kSite);
    for (size_t i = 0; i < kCustomerFieldCount; ++i)
      c.fields[i] = FieldValue{"value " + std::to_string(i) + " Åke",
                               version(1'700'000'000'000 + i, i, i % 2 ? kSite : kOther)};
    c[CustomerField::phone2] = FieldValue{"", version(1'700'000'000'100, 1, kSite)};  // cleared
    c[CustomerField::name].version = c.created;  // most registers carry the create's version
    c.customFields["colour"] = FieldValue{"blue", version(1'700'000'000'200, 0, kSite)};
    c.customFields["shoe size"] = FieldValue{"", version(1'700'000'000'300, 0, kOther)};
    return c;
  }

  static Change fullChange() {
    Change ch;
    ch.id = ChangeId{kSite, 9};
    ch.hlc = Hlc::from(1'700'000'001'000, 3);
    ch.operation = Operation::kMerge;
    ch.target = RecordId{kSite, 2};
    ch.author = "anna.k";
    ch.writes.push_back(FieldWrite{uint16_t(CustomerField::name), "", "Åke Öberg", {}});
    ch.writes.push_back(FieldWrite{uint16_t(CustomerField::phone),
                                   "",
                                   "+358 40 123",
                                   {version(5, 1, kSite), version(6, 0, kOther)}});
    ch.writes.push_back(FieldWrite{kCustomFieldCode, "colour", "", {version(7, 0, kOther)}});
    ch.absorbed = {RecordId{kOther, 3}, RecordId{kOther, 4}};
    ch.signature = std::string("\x00\xff\x10sig", 6);
    return ch;
  }

  static HistoryEntry fullHistoryEntry() {
    HistoryEntry h;
    h.at = Hlc::from(1'700'000'002'000, 1);
    h.site = kSite;
    h.seq = 12;
    h.author = "bertil";
    h.operation = Operation::kUpdate;
    h.changes.push_back(FieldChange{uint16_t(CustomerField::email), "", "a@b.fi", "c@d.se"});
    h.changes.push_back(FieldChange{kCustomFieldCode, "colour", "", "red"});
    h.createdFields = {0, 1, 11};
    return h;
  }

  static Meta fullMeta() {
    Meta m;
    m.siteId = kSite;
    m.siteName = "Helsinki branch";
    m.isHub = true;
    m.lastSeq = 123456;
    m.lastHlc = Hlc::from(1'700'000'003'000, 9);
    m.nextAutoNumber = 1500;
    m.formatVersion = 3;
    m.createdAtMillis = 1'600'000'000'000;
    m.offeredSettings = bytesOf(Settings{});
    m.settingsOffersKept = 2;
    m.settingsOffersRefused = 1;
    return m;
  }

  template <typename T>
  static std::string bytesOf(const T& value) {
    std::string out;
    encode(value, out);
    return out;
  }

  // Every decoder, so the malformed-input tests can run them all.
  static std::vector<std::function<void(std::string_view)>> decoders() {
    return {[](std::string_view b) { decodeCustomer(b); },
            [](std::string_view b) { decodeSettings(b); },
            [](std::string_view b) { decodeChange(b); },
            [](std::string_view b) { decodeHistoryEntry(b); },
            [](std::string_view b) { decodeMeta(b); }};
  }

  static bool throwsDecodeError(const std::function<void(std::string_view)>& decode,
                                std::string_view bytes) {
    try {
      decode(bytes);
    } catch (const DecodeError&) {
      return true;
    }
    return false;
  }

  // "birthDate" -> "birth_date": the CLI spelling of a schema name.
  static std::string snakeCase(std::string_view camel) {
    std::string out;
    for (char c : camel) {
      if (std::isupper(static_cast<unsigned char>(c))) {
        out.push_back('_');
        out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      } else {
        out.push_back(c);
      }
    }
    return out;
  }

  static bool valid(ValueKind kind, std::string_view value) {
    return validateValue(kind, value).empty();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(protocol, ProtocolFixture)

// --- codec round trips -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(customer_round_trips_through_encode_and_decode) {
  Customer c = fullCustomer();
  BOOST_TEST((decodeCustomer(bytesOf(c)) == c));
}

BOOST_AUTO_TEST_CASE(live_customer_without_tombstone_data_round_trips) {
  Customer c;
  c.id = RecordId{kSite, 1};
  c.created = version(1000, 0, kSite);
  c[CustomerField::name] = FieldValue{"Anna", version(1000, 0, kSite)};
  Customer back = decodeCustomer(bytesOf(c));
  BOOST_TEST((back == c));
  BOOST_TEST(back.mergedInto.isNull());
  BOOST_TEST(back.lifecycleVersion.isNull());
  BOOST_TEST(back[CustomerField::phone].version.isNull());
}

BOOST_AUTO_TEST_CASE(settings_round_trip_through_encode_and_decode) {
  Settings s;
  s.fields[size_t(SettingsField::requiredFields)] = FieldValue{"phone,email", version(5, 0, kSite)};
  s.fields[size_t(SettingsField::nextNumber)] = FieldValue{"5000", version(6, 1, kOther)};
  s.fields[size_t(SettingsField::ssnUnique)] = FieldValue{"true", version(7, 0, kSite)};
  s.users["ada"] = FieldValue{"admin " + std::string(64, 'a'), version(8, 0, kSite)};
  s.users["kim"] = FieldValue{"", version(9, 0, kSite)};  // removed
  s.customFieldDefinitions["tier"] = FieldValue{
      formatDefinition({"choice", true, false, "Tier", {"a", "b"}}), version(10, 0, kSite)};
  s.customerGroups["vip"] = FieldValue{formatCatalogueEntry({"VIP", false}), version(11, 0, kSite)};
  s.discountTypes["10-card"] =
      FieldValue{formatCatalogueEntry({"", true, 10000, 9000, 6, {"massage", "sauna"}}),
                 version(12, 0, kSite)};
  BOOST_TEST((decodeSettings(bytesOf(s)) == s));
  BOOST_TEST((parseCatalogueEntry(s.discountTypes["10-card"].value)->services.size() == 2u));
  BOOST_TEST(!parseCatalogueEntry("1\tx\t-5\t0\t6\t"));
  BOOST_TEST((decodeSettings(bytesOf(Settings{})) == Settings{}));
}

BOOST_AUTO_TEST_CASE(change_round_trips_through_encode_and_decode) {
  Change ch = fullChange();
  BOOST_TEST((decodeChange(bytesOf(ch)) == ch));
}

BOOST_AUTO_TEST_CASE(change_without_writes_round_trips) {
  Change ch;
  ch.id = ChangeId{kSite, 1};
  ch.hlc = Hlc::from(10, 0);
  ch.operation = Operation::kDelete;
  ch.target = RecordId{kSite, 1};
  BOOST_TEST((decodeChange(bytesOf(ch)) == ch));
}

BOOST_AUTO_TEST_CASE(change_id_reads_what_the_whole_decode_reads) {
  Change signed_ = fullChange();
  signed_.id = ChangeId{~uint64_t(0), uint64_t(1) << 40};
  Change unsigned_ = signed_;
  unsigned_.signature.clear();
  for (const Change& ch : {signed_, unsigned_}) {
    bool checkpoint = ch.signature.empty();  // the opposite of the answer: it must be set
    const ChangeId id = decodeChangeId(bytesOf(ch), &checkpoint);
    BOOST_TEST((id == decodeChange(bytesOf(ch)).id));
    BOOST_TEST(checkpoint == !ch.signature.empty());
  }
}

BOOST_AUTO_TEST_CASE(change_id_of_a_change_in_several_segments_is_read_from_the_whole) {
  // One-word segments: the root pointer in the first, the change in others (far pointers).
  capnp::MallocMessageBuilder message(1, capnp::AllocationStrategy::FIXED_SIZE);
  auto root = message.initRoot<schema::Change>();
  root.setOrigin(kOther);
  root.setSeq(77);
  root.setSignature(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>("sig"), 3));
  BOOST_REQUIRE(message.getSegmentsForOutput().size() > 1);
  kj::VectorOutputStream out;
  capnp::writePackedMessage(out, message);
  const std::string bytes(reinterpret_cast<const char*>(out.getArray().begin()),
                          out.getArray().size());
  bool checkpoint = false;
  BOOST_TEST((decodeChangeId(bytes, &checkpoint) == ChangeId{kOther, 77}));
  BOOST_TEST(checkpoint);
}

BOOST_AUTO_TEST_CASE(history_entry_round_trips_through_encode_and_decode) {
  HistoryEntry h = fullHistoryEntry();
  BOOST_TEST((decodeHistoryEntry(bytesOf(h)) == h));
}

BOOST_AUTO_TEST_CASE(meta_round_trips_through_encode_and_decode) {
  Meta m = fullMeta();
  BOOST_TEST((decodeMeta(bytesOf(m)) == m));
}

BOOST_AUTO_TEST_CASE(a_snapshot_chunk_round_trips_its_vector_and_its_leases_with_their_versions) {
  SnapshotChunkMsg chunk;
  chunk.vector.set(kSite, 7);
  chunk.leases.push_back(
      NumberLease{kSite, 1000, 1999, Version{Hlc::from(1'700'000'000'000, 2), kSite, 4}});
  chunk.complete = true;
  const auto decoded = std::get<SnapshotChunkMsg>(decodeWireMessage(bytesOf(WireMessage{chunk})));
  BOOST_TEST(decoded.vector.get(kSite) == 7u);
  BOOST_REQUIRE(decoded.leases.size() == 1u);
  BOOST_TEST((decoded.leases[0] == chunk.leases[0]));
}

BOOST_AUTO_TEST_CASE(encode_replaces_what_the_output_held) {
  std::string out = "stale bytes that must go";
  encode(fullCustomer(), out);
  const std::string once = out;
  encode(fullCustomer(), out);
  BOOST_TEST(out == once);
  BOOST_TEST((decodeCustomer(out) == fullCustomer()));
}

BOOST_AUTO_TEST_CASE(decode_reads_bytes_that_are_not_word_aligned) {
  const std::string bytes = bytesOf(fullChange());
  std::string shifted = "x" + bytes;
  BOOST_TEST((decodeChange(std::string_view(shifted).substr(1)) == fullChange()));
}

// --- malformed input -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(decode_of_every_truncation_throws_decode_error) {
  const std::vector<std::string> messages = {bytesOf(fullCustomer()), bytesOf(Settings{}),
                                             bytesOf(fullChange()), bytesOf(fullHistoryEntry()),
                                             bytesOf(fullMeta())};
  auto decode = decoders();
  for (size_t m = 0; m < messages.size(); ++m)
    for (size_t len = 0; len < messages[m].size(); ++len)
      BOOST_TEST(throwsDecodeError(decode[m], std::string_view(messages[m]).substr(0, len)),
                 "message " << m << " truncated to " << len << " bytes");
}

BOOST_AUTO_TEST_CASE(decode_of_garbage_bytes_throws_decode_error) {
  const std::vector<std::string> garbage = {
      std::string(64, '\xff'),
      "this is not a Cap'n Proto message at all, only plain text!!!!!!!",  // 64 bytes
      std::string("\x00\x00\x00\x00\x00\x00\x00\x00", 8),                  // no root pointer
      std::string("\x00\x00\x00\x00\x10\x00\x00\x00", 8) +
          std::string(8, '\0'),  // 16 words announced
  };
  for (const auto& decode : decoders())
    for (const auto& bytes : garbage) BOOST_TEST(throwsDecodeError(decode, bytes));
}

BOOST_AUTO_TEST_CASE(decode_of_odd_size_bytes_throws_decode_error) {
  const std::string bytes = bytesOf(fullMeta());
  for (const auto& decode : decoders()) {
    BOOST_TEST(throwsDecodeError(decode, bytes + "x"));
    BOOST_TEST(throwsDecodeError(decode, std::string(13, '\0')));
    BOOST_TEST(throwsDecodeError(decode, ""));
  }
}

BOOST_AUTO_TEST_CASE(decode_of_a_message_with_trailing_words_throws_decode_error) {
  const std::string bytes = bytesOf(fullCustomer()) + std::string(8, '\0');
  BOOST_CHECK_THROW(decodeCustomer(bytes), DecodeError);
}

BOOST_AUTO_TEST_CASE(decode_rejects_an_unknown_lifecycle) {
  Customer c = fullCustomer();
  c.lifecycle = static_cast<Lifecycle>(9);
  BOOST_CHECK_EXCEPTION(decodeCustomer(bytesOf(c)), DecodeError, [](const DecodeError& e) {
    return std::string(e.what()).find("lifecycle") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(decode_rejects_an_unknown_operation) {
  Change ch = fullChange();
  ch.operation = static_cast<Operation>(200);
  BOOST_CHECK_EXCEPTION(decodeChange(bytesOf(ch)), DecodeError, [](const DecodeError& e) {
    return std::string(e.what()).find("operation") != std::string::npos;
  });
}

// --- record ids, site ids --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(record_id_prints_as_sixteen_hex_digits_dash_counter) {
  BOOST_TEST(RecordId({0x1f3a5c7e9b2d4f60, 42}).toString() == "1f3a5c7e9b2d4f60-42");
  BOOST_TEST(RecordId({1, 0}).toString() == "0000000000000001-0");
}

BOOST_AUTO_TEST_CASE(record_id_parse_round_trips_to_string) {
  for (RecordId id : {RecordId{0x1f3a5c7e9b2d4f60, 42}, RecordId{1, 1},
                      RecordId{UINT64_MAX, UINT64_MAX}, RecordId{0, 0}}) {
    auto parsed = RecordId::parse(id.toString());
    BOOST_REQUIRE(parsed.has_value());
    BOOST_TEST((*parsed == id));
  }
}

BOOST_AUTO_TEST_CASE(record_id_parse_rejects_bad_forms) {
  for (std::string_view bad : {
           "",
           "1f3a5c7e9b2d4f60",                       // no counter
           "1f3a5c7e9b2d4f60-",                      // empty counter
           "1f3a-42",                                // short site
           "01f3a5c7e9b2d4f60-42",                   // long site
           "1f3a5c7e9b2d4f6g-42",                    // not hex
           "1f3a5c7e9b2d4f60-4x",                    // not digits
           "1f3a5c7e9b2d4f60--1",                    // negative
           "1f3a5c7e9b2d4f60-+1",                    // sign
           "1f3a5c7e9b2d4f60-18446744073709551616",  // counter overflows 64 bits
           "0x3a5c7e9b2d4f60-42",                    // 0x prefix
           " f3a5c7e9b2d4f60-42",                    // space
           "1f3a5c7e9b2d4f60_42",                    // wrong separator
       })
    BOOST_TEST(!RecordId::parse(bad).has_value(), "accepted '" << bad << "'");
}

BOOST_AUTO_TEST_CASE(record_id_is_null_only_when_both_parts_are_zero) {
  BOOST_TEST(RecordId{}.isNull());
  BOOST_TEST(!RecordId({0, 1}).isNull());
  BOOST_TEST(!RecordId({1, 0}).isNull());
}

BOOST_AUTO_TEST_CASE(site_id_hex_round_trips_and_rejects_bad_hex) {
  BOOST_TEST(siteIdToHex(0xab) == "00000000000000ab");
  BOOST_TEST(siteIdFromHex("00000000000000ab").value() == 0xabu);
  BOOST_TEST(siteIdFromHex(siteIdToHex(UINT64_MAX)).value() == UINT64_MAX);
  BOOST_TEST(!siteIdFromHex("").has_value());
  BOOST_TEST(!siteIdFromHex("xyz").has_value());
  BOOST_TEST(!siteIdFromHex("10000000000000000").has_value());  // 17 digits
}

// --- clocks and versions ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(hlc_packs_milliseconds_above_sixteen_logical_bits) {
  Hlc h = Hlc::from(1234, 7);
  BOOST_TEST(h.packed == ((uint64_t(1234) << 16) | 7u));
  BOOST_TEST(h.millis() == 1234u);
  BOOST_TEST(h.logical() == 7u);
  BOOST_TEST(Hlc::from(1, 0xffff).logical() == 0xffffu);
  BOOST_TEST(Hlc::from(1, 0xffff).millis() == 1u);
}

BOOST_AUTO_TEST_CASE(hlc_orders_by_milliseconds_then_logical_counter) {
  BOOST_TEST((Hlc::from(5, 0xffff) < Hlc::from(6, 0)));
  BOOST_TEST((Hlc::from(5, 1) < Hlc::from(5, 2)));
  BOOST_TEST((Hlc::from(5, 1) == Hlc::from(5, 1)));
}

BOOST_AUTO_TEST_CASE(hlc_prints_as_iso_8601_utc_with_milliseconds) {
  BOOST_TEST(Hlc::from(0, 0).toIso8601() == "1970-01-01T00:00:00.000Z");
  BOOST_TEST(Hlc::from(1'700'000'000'123, 5).toIso8601() == "2023-11-14T22:13:20.123Z");
}

BOOST_AUTO_TEST_CASE(version_orders_by_hlc_then_origin) {
  BOOST_TEST((version(5, 0, 999) < version(6, 0, 1)));  // hlc decides before origin
  BOOST_TEST((version(5, 3, 999) < version(5, 4, 1)));
  BOOST_TEST((version(5, 0, 1) < version(5, 0, 2)));  // equal hlc: origin decides
  BOOST_TEST((version(5, 0, 2) == version(5, 0, 2)));
  BOOST_TEST(Version{}.isNull());
  BOOST_TEST(!version(0, 0, 1).isNull());
}

BOOST_AUTO_TEST_CASE(version_vector_contains_exactly_the_seqs_up_to_its_entry) {
  VersionVector vv;
  vv.set(kSite, 3);
  BOOST_TEST(vv.get(kSite) == 3u);
  BOOST_TEST(vv.get(kOther) == 0u);
  BOOST_TEST(vv.contains(ChangeId{kSite, 3}));
  BOOST_TEST(!vv.contains(ChangeId{kSite, 4}));
  BOOST_TEST(!vv.contains(ChangeId{kOther, 1}));
}

// --- value validation ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(empty_value_is_valid_for_every_kind) {
  for (const auto& f : customerFields()) BOOST_TEST(valid(f.kind, ""), f.cliName);
  for (const auto& f : settingsFields()) BOOST_TEST(valid(f.kind, ""), f.cliName);
}

BOOST_AUTO_TEST_CASE(text_accepts_utf8_and_refuses_controls_and_overlong_values) {
  BOOST_TEST(valid(ValueKind::kText, "Åke Öberg – Oy Ab"));
  BOOST_TEST(valid(ValueKind::kText, std::string(1000, 'a')));
  BOOST_TEST(!valid(ValueKind::kText, std::string(1001, 'a')));
  BOOST_TEST(!valid(ValueKind::kText, "tab\there"));
  BOOST_TEST(!valid(ValueKind::kText, "line\nbreak"));
  BOOST_TEST(!valid(ValueKind::kText, "del\x7f"));
  BOOST_TEST(!valid(ValueKind::kText, std::string("nul\0byte", 8)));
  BOOST_TEST(!valid(ValueKind::kText, "bad \xc3"));
}

BOOST_AUTO_TEST_CASE(digits_accept_only_ascii_digits) {
  BOOST_TEST(valid(ValueKind::kDigits, "0012345"));
  BOOST_TEST(!valid(ValueKind::kDigits, "12a"));
  BOOST_TEST(!valid(ValueKind::kDigits, "-12"));
  BOOST_TEST(!valid(ValueKind::kDigits, "12 34"));
  BOOST_TEST(!valid(ValueKind::kDigits, "١٢٣"));  // Arabic-Indic digits
}

BOOST_AUTO_TEST_CASE(phone_accepts_separators_and_needs_three_digits) {
  BOOST_TEST(valid(ValueKind::kPhone, "+358 (40) 123-45/67"));
  BOOST_TEST(valid(ValueKind::kPhone, "112"));
  BOOST_TEST(!valid(ValueKind::kPhone, "12"));
  BOOST_TEST(!valid(ValueKind::kPhone, "+-()/ "));
  BOOST_TEST(!valid(ValueKind::kPhone, "040 123 x"));
  BOOST_TEST(!valid(ValueKind::kPhone, "040.123.456"));
}

BOOST_AUTO_TEST_CASE(email_needs_one_at_and_a_dotted_domain) {
  BOOST_TEST(valid(ValueKind::kEmail, "anna@example.fi"));
  BOOST_TEST(valid(ValueKind::kEmail, "a.b+c@mail.example.com"));
  for (std::string_view bad : {"anna.example.fi", "@example.fi", "anna@", "anna@example",
                               "a@b@example.fi", "an na@example.fi"})
    BOOST_TEST(!valid(ValueKind::kEmail, bad), bad);
}

BOOST_AUTO_TEST_CASE(date_accepts_real_calendar_days_only) {
  BOOST_TEST(valid(ValueKind::kDate, "1990-12-31"));
  BOOST_TEST(valid(ValueKind::kDate, "2024-02-29"));  // leap year
  BOOST_TEST(valid(ValueKind::kDate, "2000-02-29"));  // divisible by 400
  for (std::string_view bad :
       {"2023-02-29", "1900-02-29", "2024-13-01", "2024-00-10", "2024-01-00", "2024-04-31",
        "2024-1-01", "24-01-01", "2024/01/01", "2024-01-01T00:00:00Z", "abcd-ef-gh"})
    BOOST_TEST(!valid(ValueKind::kDate, bad), bad);
}

BOOST_AUTO_TEST_CASE(timestamp_accepts_iso_8601_utc_only) {
  BOOST_TEST(valid(ValueKind::kTimestamp, "2026-11-23T10:00:00Z"));
  BOOST_TEST(valid(ValueKind::kTimestamp, "2026-11-23T10:00:00.123Z"));
  BOOST_TEST(valid(ValueKind::kTimestamp, "2026-11-23T23:59:60Z"));  // leap second
  for (std::string_view bad :
       {"2026-11-23T24:00:00Z", "2026-11-23T10:60:00Z", "2026-11-23 10:00:00Z",
        "2026-11-23T10:00:00", "2026-11-23T10:00:00.Z", "2026-11-23T10:00:00+02:00",
        "2026-02-30T10:00:00Z", "2026-11-23T1:00:00Z", "2026-11-23"})
    BOOST_TEST(!valid(ValueKind::kTimestamp, bad), bad);
}

BOOST_AUTO_TEST_CASE(bool_gender_and_status_accept_only_their_words) {
  BOOST_TEST(valid(ValueKind::kBool, "true"));
  BOOST_TEST(valid(ValueKind::kBool, "false"));
  BOOST_TEST(!valid(ValueKind::kBool, "True"));
  BOOST_TEST(!valid(ValueKind::kBool, "1"));
  for (auto g : {"female", "male", "other", "unknown"}) BOOST_TEST(valid(ValueKind::kGender, g));
  BOOST_TEST(!valid(ValueKind::kGender, "f"));
  BOOST_TEST(!valid(ValueKind::kGender, "Male"));
  BOOST_TEST(valid(ValueKind::kStatus, "active"));
  BOOST_TEST(valid(ValueKind::kStatus, "deactivated"));
  BOOST_TEST(!valid(ValueKind::kStatus, "deleted"));
}

BOOST_AUTO_TEST_CASE(language_is_two_or_three_lowercase_letters) {
  BOOST_TEST(valid(ValueKind::kLanguage, "fi"));
  BOOST_TEST(valid(ValueKind::kLanguage, "sme"));
  for (std::string_view bad : {"f", "engl", "FI", "f1", "s e"})
    BOOST_TEST(!valid(ValueKind::kLanguage, bad), bad);
}

BOOST_AUTO_TEST_CASE(unsigned_is_at_most_eighteen_digits) {
  BOOST_TEST(valid(ValueKind::kUnsigned, "0"));
  BOOST_TEST(valid(ValueKind::kUnsigned, "123456789012345678"));
  BOOST_TEST(!valid(ValueKind::kUnsigned, "1234567890123456789"));
  BOOST_TEST(!valid(ValueKind::kUnsigned, "-1"));
  BOOST_TEST(!valid(ValueKind::kUnsigned, "1.5"));
}

BOOST_AUTO_TEST_CASE(field_list_names_only_known_customer_fields) {
  BOOST_TEST(valid(ValueKind::kFieldList, "phone"));
  BOOST_TEST(valid(ValueKind::kFieldList, "phone,email,birth_date"));
  BOOST_TEST(valid(ValueKind::kFieldList, "phone,birthDate"));
  for (std::string_view bad : {"phone,nope", "phone,", ",phone", "phone,,email", "phone, email"})
    BOOST_TEST(!valid(ValueKind::kFieldList, bad), bad);
  BOOST_TEST(validateValue(ValueKind::kFieldList, "phone,nope").find("nope") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(utf8_accepts_well_formed_sequences) {
  BOOST_TEST(isValidUtf8(""));
  BOOST_TEST(isValidUtf8("plain ascii"));
  BOOST_TEST(isValidUtf8("Åke Öberg"));         // 2 bytes
  BOOST_TEST(isValidUtf8("€ ह"));               // 3 bytes
  BOOST_TEST(isValidUtf8("\xf0\x9f\x98\x80"));  // 4 bytes: U+1F600
  BOOST_TEST(isValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF, the last code point
  BOOST_TEST(isValidUtf8("\xed\x9f\xbf"));      // U+D7FF, just below the surrogates
}

BOOST_AUTO_TEST_CASE(utf8_refuses_overlong_forms) {
  BOOST_TEST(!isValidUtf8("\xc0\xaf"));          // '/' in 2 bytes
  BOOST_TEST(!isValidUtf8("\xc1\xbf"));          // U+007F in 2 bytes
  BOOST_TEST(!isValidUtf8("\xe0\x80\xaf"));      // '/' in 3 bytes
  BOOST_TEST(!isValidUtf8("\xe0\x9f\xbf"));      // U+07FF in 3 bytes
  BOOST_TEST(!isValidUtf8("\xf0\x80\x80\xaf"));  // '/' in 4 bytes
  BOOST_TEST(!isValidUtf8("\xf0\x8f\xbf\xbf"));  // U+FFFF in 4 bytes
}

BOOST_AUTO_TEST_CASE(utf8_refuses_surrogates_and_code_points_past_u10ffff) {
  BOOST_TEST(!isValidUtf8("\xed\xa0\x80"));      // U+D800
  BOOST_TEST(!isValidUtf8("\xed\xbf\xbf"));      // U+DFFF
  BOOST_TEST(!isValidUtf8("\xf4\x90\x80\x80"));  // U+110000
  BOOST_TEST(!isValidUtf8("\xf8\x88\x80\x80\x80"));
  BOOST_TEST(!isValidUtf8("\xff"));
}

BOOST_AUTO_TEST_CASE(utf8_refuses_truncated_sequences_and_stray_continuations) {
  BOOST_TEST(!isValidUtf8("\xc3"));
  BOOST_TEST(!isValidUtf8("ok \xe2\x82"));
  BOOST_TEST(!isValidUtf8("\xf0\x9f\x98"));
  BOOST_TEST(!isValidUtf8("\xe2\x82x"));  // continuation replaced by ASCII
  BOOST_TEST(!isValidUtf8("\x80"));
  BOOST_TEST(!isValidUtf8("a\xbf"));
}

// --- field tables ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(customer_field_by_name_accepts_snake_and_camel_spellings) {
  BOOST_TEST((customerFieldByName("birth_date") == CustomerField::birthDate));
  BOOST_TEST((customerFieldByName("birthDate") == CustomerField::birthDate));
  BOOST_TEST((customerFieldByName("invoice_postal_code") == CustomerField::invoicePostalCode));
  BOOST_TEST((customerFieldByName("invoicePostalCode") == CustomerField::invoicePostalCode));
  BOOST_TEST((customerFieldByName("name") == CustomerField::name));
  BOOST_TEST(!customerFieldByName("nope").has_value());
  BOOST_TEST(!customerFieldByName("").has_value());
  for (const auto& f : customerFields()) {
    BOOST_TEST(uint16_t(customerFieldByName(f.cliName).value()) == f.code, f.cliName);
    BOOST_TEST(uint16_t(customerFieldByName(f.schemaName).value()) == f.code, f.schemaName);
  }
}

BOOST_AUTO_TEST_CASE(settings_field_by_name_accepts_snake_and_camel_spellings) {
  BOOST_TEST((settingsFieldByName("number_min_length") == SettingsField::numberMinLength));
  BOOST_TEST((settingsFieldByName("numberMinLength") == SettingsField::numberMinLength));
  BOOST_TEST(!settingsFieldByName("number").has_value());
  for (const auto& f : settingsFields()) {
    BOOST_TEST(uint16_t(settingsFieldByName(f.cliName).value()) == f.code, f.cliName);
    BOOST_TEST(uint16_t(settingsFieldByName(f.schemaName).value()) == f.code, f.schemaName);
  }
}

BOOST_AUTO_TEST_CASE(field_tables_are_indexed_by_code_with_snake_case_cli_names) {
  for (size_t i = 0; i < customerFields().size(); ++i) {
    BOOST_TEST(customerFields()[i].code == i);
    BOOST_TEST(snakeCase(customerFields()[i].schemaName) == customerFields()[i].cliName);
  }
  for (size_t i = 0; i < settingsFields().size(); ++i) {
    BOOST_TEST(settingsFields()[i].code == i);
    BOOST_TEST(snakeCase(settingsFields()[i].schemaName) == settingsFields()[i].cliName);
  }
}

BOOST_AUTO_TEST_CASE(customer_field_table_matches_the_schema) {
  auto customer = capnp::Schema::from<schema::Customer>();
  auto fieldStruct = capnp::Schema::from<schema::Field>();
  auto codes = capnp::Schema::from<schema::CustomerField>();
  for (const auto& f : customerFields()) {
    BOOST_TEST_CONTEXT(f.schemaName) {
      KJ_IF_MAYBE (field, customer.findFieldByName(f.schemaName)) {
        BOOST_TEST(field->getType().isStruct());
        BOOST_TEST((field->getType().isStruct() && field->getType().asStruct() == fieldStruct));
      } else {
        BOOST_ERROR("struct Customer has no field " << f.schemaName);
      }
      KJ_IF_MAYBE (enumerant, codes.findEnumerantByName(f.schemaName)) {
        BOOST_TEST(enumerant->getOrdinal() == f.code);
      } else {
        BOOST_ERROR("enum CustomerField has no enumerant " << f.schemaName);
      }
    }
  }
  // And the other way round: every register of Customer and every code is in the table.
  for (auto field : customer.getFields())
    if (field.getType().isStruct() && field.getType().asStruct() == fieldStruct)
      BOOST_TEST(customerFieldByName(field.getProto().getName().cStr()).has_value(),
                 field.getProto().getName().cStr());
  BOOST_TEST(codes.getEnumerants().size() == kCustomerFieldCount + 1);
  KJ_IF_MAYBE (custom, codes.findEnumerantByName("customField")) {
    BOOST_TEST(custom->getOrdinal() == kCustomFieldCode);
  } else {
    BOOST_ERROR("enum CustomerField has no customField");
  }
}

BOOST_AUTO_TEST_CASE(settings_field_table_matches_the_schema) {
  auto settings = capnp::Schema::from<schema::Settings>();
  auto fieldStruct = capnp::Schema::from<schema::Field>();
  auto codes = capnp::Schema::from<schema::SettingsField>();
  for (const auto& f : settingsFields()) {
    BOOST_TEST_CONTEXT(f.schemaName) {
      KJ_IF_MAYBE (field, settings.findFieldByName(f.schemaName)) {
        BOOST_TEST((field->getType().isStruct() && field->getType().asStruct() == fieldStruct));
      } else {
        BOOST_ERROR("struct Settings has no field " << f.schemaName);
      }
      KJ_IF_MAYBE (enumerant, codes.findEnumerantByName(f.schemaName)) {
        BOOST_TEST(enumerant->getOrdinal() == f.code);
      } else {
        BOOST_ERROR("enum SettingsField has no enumerant " << f.schemaName);
      }
    }
  }
  // Beyond the fields: the users, the custom field definitions and the two catalogues, one
  // keyed register per name each (their write codes are outside the enum).
  BOOST_TEST(settings.getFields().size() == kSettingsFieldCount + std::size(kKeyedSettingsCodes));
  BOOST_TEST(codes.getEnumerants().size() == kSettingsFieldCount);
  BOOST_TEST(kSettingsUserCode >= kSettingsFieldCount);
  BOOST_TEST(kSettingsCustomFieldCode >= kSettingsFieldCount);
}

BOOST_AUTO_TEST_CASE(settings_defaults_are_valid_values_of_their_kind) {
  for (const auto& f : settingsFields()) {
    auto dflt = settingsDefault(static_cast<SettingsField>(f.code));
    BOOST_TEST(validateValue(f.kind, dflt) == "", f.cliName << "=" << dflt);
  }
  Settings none;
  BOOST_TEST(none.get(SettingsField::nextNumber) == "1000");
  BOOST_TEST(none.getUnsigned(SettingsField::numberMaxLength) == 12u);
  BOOST_TEST(none.getBool(SettingsField::autoNumber));
  BOOST_TEST(!none.getBool(SettingsField::ssnUnique));
}

// Regression: wire.capnp said protocolVersion = 2 while nodes spoke 3.
BOOST_AUTO_TEST_CASE(the_protocol_version_spoken_is_the_one_the_schema_declares) {
  BOOST_TEST(kProtocolVersion == schema::PROTOCOL_VERSION);
  BOOST_TEST(HelloMsg{}.protocolVersion == schema::PROTOCOL_VERSION);
  BOOST_TEST(kProtocolVersion == 9u);  // snapshot chunks say the request they answer
}

BOOST_AUTO_TEST_CASE(a_retired_pull_is_refused_as_malformed) {
  capnp::MallocMessageBuilder message;
  message.initRoot<schema::Message>().initPull().setFromPosition(7);
  kj::VectorOutputStream out;
  capnp::writePackedMessage(out, message);
  const std::string bytes(reinterpret_cast<const char*>(out.getArray().begin()),
                          out.getArray().size());
  BOOST_CHECK_THROW(decodeWireMessage(bytes), DecodeError);
}

BOOST_AUTO_TEST_CASE(operation_names_match_the_schema_enumerants) {
  auto ops = capnp::Schema::from<schema::Operation>();
  BOOST_TEST(ops.getEnumerants().size() == 10u);
  for (auto e : ops.getEnumerants())
    BOOST_TEST(operationName(static_cast<Operation>(e.getOrdinal())) ==
               snakeCase(e.getProto().getName().cStr()));
}

BOOST_AUTO_TEST_SUITE_END()
