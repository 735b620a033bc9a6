// storage, normalisation: the text forms the search indexes keep (name tokens, phone keys,
// e-mail keys, SSNs), shared by the indexes and their queries, and exposed for tests and search.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sitesync::storage {

// Text normalisation shared by the indexes and their queries (exposed for tests and search).
// Lowercases and folds Latin diacritics (Åke -> ake), splits on anything not a letter or digit.
std::vector<std::string> nameTokens(std::string_view name);
std::string phoneDigits(std::string_view phone);
// The contact index's term for a phone: its digits without leading zeros (an international
// prefix 00, a trunk 0), reversed: "+358 40 123 4567" and "040 123 4567" give "765432104853" and
// "765432104", so a number's end is a key prefix. Empty when it holds no digit but zeros.
std::string phoneKey(std::string_view phone);
// Whether a stored phone is one `query` finds (phoneKey): the stored number ends with the query's
// significant digits, or the query ends with the stored one's, of kMinPhoneMatch digits or more.
bool phoneMatches(std::string_view stored, std::string_view query);
inline constexpr size_t kMinPhoneMatch = 6;
// What makes two phones one for finding duplicates (Store::sharedPhones): the first 9 characters
// of a phoneKey, its last 9 significant digits, so national and international forms meet.
inline std::string_view phoneIdentity(std::string_view key) {
  return key.substr(0, 9);
}
// The contact index's term for an e-mail address: "@" and the address without surrounding
// spaces, ASCII letters lowercased. Empty for an empty address.
std::string emailKey(std::string_view email);
std::string normalizeSsn(std::string_view ssn);

}  // namespace sitesync::storage
