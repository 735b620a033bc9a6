// Header names and their aliases: what the registers people upload call their columns.
#include "transfer/src/columns.h"

#include <utility>

#include "protocol/protocol.h"

namespace sitesync::transfer {

namespace {

// Lower case; ä, å, ö (and their capitals) as a, a, o; no spaces, '_', '-', '.' or '/'.
std::string normalized(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0xC3 && i + 1 < text.size()) {
      const unsigned char next = static_cast<unsigned char>(text[i + 1]) | 0x20;  // lower case
      if (next == 0xA4 || next == 0xA5) out += 'a';                               // ä å
      if (next == 0xB6) out += 'o';                                               // ö
      if (next == 0xA4 || next == 0xA5 || next == 0xB6) {
        ++i;
        continue;
      }
    }
    if (c == ' ' || c == '_' || c == '-' || c == '.' || c == '/' || c == '\t') continue;
    out += (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : char(c);
  }
  return out;
}

// Normalized aliases beyond the fields' own names.
constexpr std::pair<const char*, const char*> kAliases[] = {
    {"fullname", "name"},
    {"customername", "name"},
    {"nimi", "name"},
    {"asiakas", "name"},
    {"naam", "name"},
    {"klant", "name"},
    {"namn", "name"},
    {"kund", "name"},
    {"firstname", "first_name"},
    {"etunimi", "first_name"},
    {"voornaam", "first_name"},
    {"fornamn", "first_name"},
    {"lastname", "last_name"},
    {"surname", "last_name"},
    {"sukunimi", "last_name"},
    {"achternaam", "last_name"},
    {"efternamn", "last_name"},
    {"telephone", "phone"},
    {"tel", "phone"},
    {"mobile", "phone"},
    {"puhelin", "phone"},
    {"puh", "phone"},
    {"matkapuhelin", "phone"},
    {"telefoon", "phone"},
    {"telefon", "phone"},
    {"mobil", "phone"},
    {"mail", "email"},
    {"sahkoposti", "email"},
    {"epost", "email"},
    {"customernumber", "number"},
    {"customerno", "number"},
    {"asiakasnumero", "number"},
    {"klantnummer", "number"},
    {"kundnummer", "number"},
    {"birthday", "birth_date"},
    {"dateofbirth", "birth_date"},
    {"dob", "birth_date"},
    {"syntymaaika", "birth_date"},
    {"geboortedatum", "birth_date"},
    {"fodelsedatum", "birth_date"},
    {"henkilotunnus", "ssn"},
    {"hetu", "ssn"},
    {"bsn", "ssn"},
    {"personnummer", "ssn"},
    {"group", "customer_group"},
    {"ryhma", "customer_group"},
    {"groep", "customer_group"},
    {"grupp", "customer_group"},
    {"address", "invoice_street"},
    {"street", "invoice_street"},
    {"osoite", "invoice_street"},
    {"adres", "invoice_street"},
    {"adress", "invoice_street"},
    {"postalcode", "invoice_postal_code"},
    {"zip", "invoice_postal_code"},
    {"postinumero", "invoice_postal_code"},
    {"postcode", "invoice_postal_code"},
    {"postnummer", "invoice_postal_code"},
    {"city", "invoice_city"},
    {"kaupunki", "invoice_city"},
    {"plaats", "invoice_city"},
    {"ort", "invoice_city"},
};

// Columns an export writes that an import does not take: ids are each site's own.
constexpr const char* kLeftOut[] = {"id", "deleted"};

}  // namespace

std::optional<std::string> fieldForHeader(std::string_view header) {
  if (header.starts_with("custom.") && header.size() > 7) return std::string(header);
  const std::string key = normalized(header);
  for (const char* out : kLeftOut)
    if (key == out) return std::string();
  for (const FieldInfo& f : customerFields())
    if (key == normalized(f.cliName) || key == normalized(f.schemaName)) return f.cliName;
  if (key == "externalid") return std::string("custom.external_id");
  for (const auto& [alias, field] : kAliases)
    if (key == alias) return std::string(field);
  return std::nullopt;
}

std::optional<std::string> fieldForMapping(std::string_view field) {
  if (field == "-") return std::string();
  return fieldForHeader(field);
}

}  // namespace sitesync::transfer
