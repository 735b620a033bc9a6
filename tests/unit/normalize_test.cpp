// Unit tests for the text normalisation behind the search indexes: name tokens, phone digits and
// SSN spelling.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "storage/store.h"

using sitesync::storage::nameTokens;
using sitesync::storage::normalizeSsn;
using sitesync::storage::phoneDigits;

namespace {
using Tokens = std::vector<std::string>;
}

BOOST_AUTO_TEST_SUITE(normalize)

BOOST_AUTO_TEST_CASE(name_tokens_fold_nordic_letters) {
  BOOST_TEST(nameTokens("Åke Öberg") == (Tokens{"ake", "oberg"}));
  BOOST_TEST(nameTokens("Jääskeläinen Søren") == (Tokens{"jaaskelainen", "soren"}));
}

BOOST_AUTO_TEST_CASE(name_tokens_fold_central_european_letters) {
  BOOST_TEST(nameTokens("Łukasz Żółć Dvořák Šťastný Ğül İbrahim Đorđe Ő") ==
             (Tokens{"lukasz", "zolc", "dvorak", "stastny", "gul", "ibrahim", "dorde", "o"}));
  BOOST_TEST(nameTokens("ÿÝ Ñuñez ÇĆČ ĘĚÉÈÊË") == (Tokens{"yy", "nunez", "ccc", "eeeeee"}));
}

BOOST_AUTO_TEST_CASE(name_tokens_expand_ligatures_and_sharp_s) {
  BOOST_TEST(nameTokens("Straße Ærø") == (Tokens{"strasse", "aero"}));
  BOOST_TEST(nameTokens("Œuvre Þór Ðana æ") == (Tokens{"oeuvre", "thor", "dana", "ae"}));
}

BOOST_AUTO_TEST_CASE(name_tokens_split_on_punctuation_and_spaces) {
  BOOST_TEST(nameTokens("O'Brien-Smith") == (Tokens{"o", "brien", "smith"}));
  BOOST_TEST(nameTokens("Virtanen,  Matti\t Oy") == (Tokens{"virtanen", "matti", "oy"}));
  BOOST_TEST(nameTokens("  --Anna--  ") == (Tokens{"anna"}));
  BOOST_TEST(nameTokens("2×3÷4") == (Tokens{"2", "3", "4"}));
}

BOOST_AUTO_TEST_CASE(name_tokens_split_on_typographic_punctuation) {
  BOOST_TEST(nameTokens("O\u2019Brien\u00a0Smith\u2013Jones") ==
             (Tokens{"o", "brien", "smith", "jones"}));
}

BOOST_AUTO_TEST_CASE(name_tokens_are_lowercase) {
  BOOST_TEST(nameTokens("MATTI VIRTANEN") == (Tokens{"matti", "virtanen"}));
  BOOST_TEST(nameTokens("McDonald") == (Tokens{"mcdonald"}));
}

BOOST_AUTO_TEST_CASE(name_tokens_keep_digits) {
  BOOST_TEST(nameTokens("Oy Yritys 2000 Ab") == (Tokens{"oy", "yritys", "2000", "ab"}));
  BOOST_TEST(nameTokens("R2D2") == (Tokens{"r2d2"}));
}

BOOST_AUTO_TEST_CASE(name_tokens_keep_other_scripts_as_bytes) {
  // Cyrillic and Greek are neither folded nor lowercased.
  BOOST_TEST(nameTokens("Иван Петров") == (Tokens{"Иван", "Петров"}));
  BOOST_TEST(nameTokens("Ωmega-Σ") == (Tokens{"Ωmega", "Σ"}));
  BOOST_TEST(nameTokens("山田 太郎") == (Tokens{"山田", "太郎"}));
}

BOOST_AUTO_TEST_CASE(name_tokens_treat_invalid_utf8_as_separators) {
  BOOST_TEST(nameTokens("ab\xff"
                        "cd") == (Tokens{"ab", "cd"}));
  BOOST_TEST(nameTokens("ab\x80\x80"
                        "cd") == (Tokens{"ab", "cd"}));
  BOOST_TEST(nameTokens("ab\xc0\xaf"
                        "cd") == (Tokens{"ab", "cd"}));  // overlong '/'
  BOOST_TEST(nameTokens("ab\xed\xa0\x80"
                        "cd") == (Tokens{"ab", "cd"}));  // surrogate
  BOOST_TEST(nameTokens("ab\xc3"
                        "cd") == (Tokens{"ab", "cd"}));  // lead without continuation
  // Truncated sequences at the very end must not read past the input.
  BOOST_TEST(nameTokens("ab\xc3") == (Tokens{"ab"}));
  BOOST_TEST(nameTokens("ab\xe2\x82") == (Tokens{"ab"}));
  BOOST_TEST(nameTokens("ab\xf0\x9f\x98") == (Tokens{"ab"}));
  BOOST_TEST(nameTokens("\xff\xfe\xfd").empty());
  // Every byte value alone, and an embedded NUL, are handled.
  for (int b = 0; b < 256; ++b) nameTokens(std::string(1, static_cast<char>(b)));
  BOOST_TEST(nameTokens(std::string("a\0b", 3)) == (Tokens{"a", "b"}));
}

BOOST_AUTO_TEST_CASE(name_tokens_are_capped_at_32_bytes) {
  const std::string longName(40, 'a');
  BOOST_TEST(nameTokens(longName) == (Tokens{std::string(32, 'a')}));
  // A two-byte code point straddling the cap is dropped whole, not split.
  const std::string cyrillic = std::string(31, 'a') + "ЖЖ";
  BOOST_TEST(nameTokens(cyrillic) == (Tokens{std::string(31, 'a')}));
  // Folded output is cut like any ASCII: the capped token is a prefix of the uncapped one.
  BOOST_TEST(nameTokens(std::string(31, 'a') + "ßx") == (Tokens{std::string(31, 'a') + "s"}));
  // Names that differ only after the cap collapse to one token.
  BOOST_TEST(nameTokens(longName + "x " + longName + "y") == (Tokens{std::string(32, 'a')}));
}

BOOST_AUTO_TEST_CASE(name_tokens_are_capped_at_16_per_name) {
  std::string name;
  Tokens expected;
  for (int i = 0; i < 20; ++i) {
    name += "w" + std::to_string(i) + " ";
    if (i < 16) expected.push_back("w" + std::to_string(i));
  }
  BOOST_TEST(nameTokens(name) == expected);
}

BOOST_AUTO_TEST_CASE(name_tokens_drop_duplicates_in_first_seen_order) {
  BOOST_TEST(nameTokens("Anna Berg anna BERG Åsa asa") == (Tokens{"anna", "berg", "asa"}));
  // Duplicates do not count towards the 16-token cap.
  std::string name;
  for (int i = 0; i < 20; ++i) name += "same ";
  name += "other";
  BOOST_TEST(nameTokens(name) == (Tokens{"same", "other"}));
}

BOOST_AUTO_TEST_CASE(name_tokens_of_empty_or_separator_only_input_are_empty) {
  BOOST_TEST(nameTokens("").empty());
  BOOST_TEST(nameTokens("   ").empty());
  BOOST_TEST(nameTokens("-', ×÷").empty());
}

BOOST_AUTO_TEST_CASE(phone_key_is_the_significant_digits_reversed) {
  using sitesync::storage::phoneKey;
  BOOST_TEST(phoneKey("+358 40 123 4567") == "765432104853");
  BOOST_TEST(phoneKey("00358 40 123 4567") == "765432104853");
  BOOST_TEST(phoneKey("040 123 4567") == "765432104");
  BOOST_TEST(phoneKey("000").empty());
  BOOST_TEST(phoneKey("").empty());
}

BOOST_AUTO_TEST_CASE(phones_match_in_national_and_international_form_and_by_their_end) {
  using sitesync::storage::phoneMatches;
  BOOST_TEST(phoneMatches("+358 40 123 4567", "040 123 4567"));
  BOOST_TEST(phoneMatches("040 123 4567", "+358 40 123 4567"));
  BOOST_TEST(phoneMatches("+358 40 123 4567", "4567"));
  BOOST_TEST(!phoneMatches("4567", "+358 40 123 4567"));  // too short to be the number
  BOOST_TEST(!phoneMatches("040 123 4567", "050 123 4567"));
  BOOST_TEST(!phoneMatches("", "4567"));
}

BOOST_AUTO_TEST_CASE(email_key_is_the_trimmed_address_in_lower_case) {
  using sitesync::storage::emailKey;
  BOOST_TEST(emailKey(" Anna.V@Example.FI ") == "@anna.v@example.fi");
  BOOST_TEST(emailKey("  ").empty());
}

BOOST_AUTO_TEST_CASE(phone_digits_keep_only_ascii_digits) {
  BOOST_TEST(phoneDigits("+358 (40) 123-4567") == "358401234567");
  BOOST_TEST(phoneDigits("040 123 4567") == "0401234567");
  BOOST_TEST(phoneDigits("").empty());
  BOOST_TEST(phoneDigits("call me").empty());
  BOOST_TEST(phoneDigits("٣٤٥ 12") == "12");  // Arabic-Indic digits are not ASCII
}

BOOST_AUTO_TEST_CASE(normalize_ssn_removes_spaces_and_uppercases) {
  BOOST_TEST(normalizeSsn("010190-123a ") == "010190-123A");
  BOOST_TEST(normalizeSsn(" 010190 - 123A") == "010190-123A");
  BOOST_TEST(normalizeSsn("131052-308t") == "131052-308T");
  BOOST_TEST(normalizeSsn("").empty());
}

BOOST_AUTO_TEST_SUITE_END()
