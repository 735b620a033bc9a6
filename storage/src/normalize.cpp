// Text normalisation for the search indexes and their queries: name tokens (lowercased, Latin
// diacritics folded to ASCII), phone numbers reduced to digits and SSNs in one canonical spelling.
#include <algorithm>
#include <cstddef>

#include "storage/store.h"

namespace sitesync::storage {

namespace {

constexpr size_t kMaxTokenBytes = 32;
constexpr size_t kMaxTokens = 16;

// ASCII spelling of U+00C0..U+017F (Latin-1 Supplement letters and Latin Extended-A), indexed by
// code point - 0xC0. nullptr marks the two non-letters in the range, × and ÷.
// clang-format off
constexpr const char* kLatinFold[192] = {
  // U+00C0  À    Á    Â    Ã    Ä    Å    Æ     Ç
             "a", "a", "a", "a", "a", "a", "ae", "c",
  // U+00C8  È    É    Ê    Ë    Ì    Í    Î    Ï
             "e", "e", "e", "e", "i", "i", "i", "i",
  // U+00D0  Ð    Ñ    Ò    Ó    Ô    Õ    Ö    ×
             "d", "n", "o", "o", "o", "o", "o", nullptr,
  // U+00D8  Ø    Ù    Ú    Û    Ü    Ý    Þ     ß
             "o", "u", "u", "u", "u", "y", "th", "ss",
  // U+00E0  à    á    â    ã    ä    å    æ     ç
             "a", "a", "a", "a", "a", "a", "ae", "c",
  // U+00E8  è    é    ê    ë    ì    í    î    ï
             "e", "e", "e", "e", "i", "i", "i", "i",
  // U+00F0  ð    ñ    ò    ó    ô    õ    ö    ÷
             "d", "n", "o", "o", "o", "o", "o", nullptr,
  // U+00F8  ø    ù    ú    û    ü    ý    þ     ÿ
             "o", "u", "u", "u", "u", "y", "th", "y",
  // U+0100  Ā    ā    Ă    ă    Ą    ą    Ć    ć
             "a", "a", "a", "a", "a", "a", "c", "c",
  // U+0108  Ĉ    ĉ    Ċ    ċ    Č    č    Ď    ď
             "c", "c", "c", "c", "c", "c", "d", "d",
  // U+0110  Đ    đ    Ē    ē    Ĕ    ĕ    Ė    ė
             "d", "d", "e", "e", "e", "e", "e", "e",
  // U+0118  Ę    ę    Ě    ě    Ĝ    ĝ    Ğ    ğ
             "e", "e", "e", "e", "g", "g", "g", "g",
  // U+0120  Ġ    ġ    Ģ    ģ    Ĥ    ĥ    Ħ    ħ
             "g", "g", "g", "g", "h", "h", "h", "h",
  // U+0128  Ĩ    ĩ    Ī    ī    Ĭ    ĭ    Į    į
             "i", "i", "i", "i", "i", "i", "i", "i",
  // U+0130  İ    ı    Ĳ     ĳ     Ĵ    ĵ    Ķ    ķ
             "i", "i", "ij", "ij", "j", "j", "k", "k",
  // U+0138  ĸ    Ĺ    ĺ    Ļ    ļ    Ľ    ľ    Ŀ
             "k", "l", "l", "l", "l", "l", "l", "l",
  // U+0140  ŀ    Ł    ł    Ń    ń    Ņ    ņ    Ň
             "l", "l", "l", "n", "n", "n", "n", "n",
  // U+0148  ň    ŉ    Ŋ    ŋ    Ō    ō    Ŏ    ŏ
             "n", "n", "n", "n", "o", "o", "o", "o",
  // U+0150  Ő    ő    Œ     œ     Ŕ    ŕ    Ŗ    ŗ
             "o", "o", "oe", "oe", "r", "r", "r", "r",
  // U+0158  Ř    ř    Ś    ś    Ŝ    ŝ    Ş    ş
             "r", "r", "s", "s", "s", "s", "s", "s",
  // U+0160  Š    š    Ţ    ţ    Ť    ť    Ŧ    ŧ
             "s", "s", "t", "t", "t", "t", "t", "t",
  // U+0168  Ũ    ũ    Ū    ū    Ŭ    ŭ    Ů    ů
             "u", "u", "u", "u", "u", "u", "u", "u",
  // U+0170  Ű    ű    Ų    ų    Ŵ    ŵ    Ŷ    ŷ
             "u", "u", "u", "u", "w", "w", "y", "y",
  // U+0178  Ÿ    Ź    ź    Ż    ż    Ž    ž    ſ
             "y", "z", "z", "z", "z", "z", "z", "s",
};
// clang-format on

struct CodePoint {
  char32_t value;
  size_t length;  // bytes; 0 for a byte that does not start a well-formed sequence
};

// Decodes the UTF-8 sequence at s[i] (i < s.size()). Overlong forms, surrogates, values above
// U+10FFFF and truncated sequences are invalid, so every sequence copied into a token is
// well-formed and a token can be cut at any byte that is not a continuation byte.
CodePoint decode(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  size_t length;
  char32_t value, min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2, value = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3, value = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4, value = b0 & 0x07, min = 0x10000;
  } else {
    return {0, 0};
  }
  if (s.size() - i < length) return {0, 0};
  for (size_t k = 1; k < length; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {0, 0};
    value = (value << 6) | (b & 0x3F);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return {0, 0};
  return {value, length};
}

// Non-ASCII code points outside the Latin table that still split words: C1 controls and Latin-1
// punctuation (no-break space, «, ·), General Punctuation (’ as in O’Brien, ‐ – and the
// typographic spaces), the ideographic space and the byte-order mark. Everything else is kept.
bool isSeparator(char32_t cp) {
  return cp < 0xC0 || (cp >= 0x2000 && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF;
}

bool isAsciiAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace

std::vector<std::string> nameTokens(std::string_view name) {
  std::vector<std::string> tokens;
  std::string token;
  // Appending stops once the cap is reached; the last piece is kept whole so the cut below can
  // back off to a code-point boundary. The result is thus a prefix of the uncapped token, which
  // keeps prefix search working for long names.
  auto append = [&](std::string_view piece) {
    if (token.size() < kMaxTokenBytes) token.append(piece);
  };
  auto finish = [&] {
    if (token.size() > kMaxTokenBytes) {
      size_t cut = kMaxTokenBytes;
      while ((static_cast<unsigned char>(token[cut]) & 0xC0) == 0x80) --cut;
      token.resize(cut);
    }
    if (!token.empty() && std::find(tokens.begin(), tokens.end(), token) == tokens.end())
      tokens.push_back(token);
    token.clear();
  };

  for (size_t i = 0; i < name.size() && tokens.size() < kMaxTokens;) {
    const CodePoint cp = decode(name, i);
    if (cp.length == 0) {  // invalid byte: a separator, resync on the next byte
      finish();
      ++i;
      continue;
    }
    if (cp.value < 0x80) {
      const char c = static_cast<char>(cp.value);
      if (!isAsciiAlnum(c)) {
        finish();
      } else {
        const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        append(std::string_view(&lower, 1));
      }
    } else if (cp.value >= 0xC0 && cp.value <= 0x17F) {
      if (const char* folded = kLatinFold[cp.value - 0xC0]) {
        append(folded);
      } else {
        finish();
      }
    } else if (isSeparator(cp.value)) {
      finish();
    } else {
      append(name.substr(i, cp.length));
    }
    i += cp.length;
  }
  if (tokens.size() < kMaxTokens) finish();
  return tokens;
}

std::string phoneDigits(std::string_view phone) {
  std::string digits;
  for (char c : phone)
    if (c >= '0' && c <= '9') digits += c;
  return digits;
}

std::string phoneKey(std::string_view phone) {
  std::string digits = phoneDigits(phone);
  digits.erase(0, digits.find_first_not_of('0') == std::string::npos
                      ? digits.size()
                      : digits.find_first_not_of('0'));
  std::reverse(digits.begin(), digits.end());
  return digits;
}

bool phoneMatches(std::string_view stored, std::string_view query) {
  const std::string have = phoneKey(stored), want = phoneKey(query);
  if (have.empty() || want.empty()) return false;
  return have.starts_with(want) || (have.size() >= kMinPhoneMatch && want.starts_with(have));
}

std::string emailKey(std::string_view email) {
  const size_t first = email.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  email = email.substr(first, email.find_last_not_of(" \t\r\n") + 1 - first);
  std::string key = "@";
  for (char c : email) key += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return key;
}

std::string normalizeSsn(std::string_view ssn) {
  // A sealed SSN ("enc1:<token>:<ciphertext>") is indexed by its token (sync's FieldCipher).
  if (isSealedValue(ssn))
    return std::string(ssn.substr(0, ssn.find(':', kSealedPrefix.size()) + 1));
  std::string out;
  for (char c : ssn) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return out;
}

}  // namespace sitesync::storage
