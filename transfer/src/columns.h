// Internal to transfer/: which field a CSV column holds, from its header text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sitesync::transfer {

// What a column is imported as: a customer field by its CLI name ("phone"), "custom.NAME",
// "first_name" / "last_name" (joined into name), or "" for a column left out (id, deleted).
// Header text is compared without case, spaces, '_', '-' or '.', and with ä, å, ö as a, a, o;
// aliases in English, Dutch, Swedish and Finnish. nullopt: no field of that name.
std::optional<std::string> fieldForHeader(std::string_view header);
// The same for the FIELD of --map COLUMN=FIELD ("-" leaves the column out); nullopt: unknown.
std::optional<std::string> fieldForMapping(std::string_view field);

}  // namespace sitesync::transfer
