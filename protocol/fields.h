// The field tables of customers and settings: codes, kinds of value, names (the schema's
// camelCase and the CLI's snake_case), and the codes of a customer card's collections.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sitesync {

enum class ValueKind {
  kText,    // any UTF-8 without control characters
  kDigits,  // customer number
  kPhone,   // digits, spaces, + - ( ) /
  kEmail,
  kDate,       // YYYY-MM-DD
  kTimestamp,  // ISO 8601 UTC
  kBool,       // true | false
  kGender,     // female | male | other | unknown
  kStatus,     // active | deactivated
  kLanguage,   // 2-3 lowercase letters
  kUnsigned,   // settings: non-negative integer
  kFieldList,  // settings: comma-separated customer field names
  kNote,       // a journal note: UTF-8, several lines (newlines and tabs), up to 16 KB
};

struct FieldInfo {
  uint16_t code;
  const char* schemaName;  // camelCase, as in register.capnp
  const char* cliName;     // snake_case
  ValueKind kind;
  const char* help;
};

#define SITESYNC_CUSTOMER_FIELDS(X)                                                         \
  X(0, number, "number", kDigits, "customer number (digits; automatic when omitted)")       \
  X(1, name, "name", kText, "full name or company name")                                    \
  X(2, phone, "phone", kPhone, "main phone")                                                \
  X(3, phone2, "phone2", kPhone, "second phone")                                            \
  X(4, email, "email", kEmail, "e-mail address")                                            \
  X(5, birthDate, "birth_date", kDate, "date of birth, YYYY-MM-DD")                         \
  X(6, gender, "gender", kGender, "female|male|other|unknown")                              \
  X(7, language, "language", kLanguage, "language code, e.g. fi, sv, en")                   \
  X(8, ssn, "ssn", kText, "social security number")                                         \
  X(9, customerGroup, "customer_group", kText, "customer group")                            \
  X(10, discountLetters, "discount_letters", kText, "discount letters")                     \
  X(11, status, "status", kStatus, "active|deactivated")                                    \
  X(12, invoiceStreet, "invoice_street", kText, "invoice address: street")                  \
  X(13, invoicePostalCode, "invoice_postal_code", kText, "invoice address: postal code")    \
  X(14, invoiceCity, "invoice_city", kText, "invoice address: city")                        \
  X(15, invoiceCountry, "invoice_country", kText, "invoice address: country")               \
  X(16, visitingStreet, "visiting_street", kText, "visiting address: street")               \
  X(17, visitingPostalCode, "visiting_postal_code", kText, "visiting address: postal code") \
  X(18, visitingCity, "visiting_city", kText, "visiting address: city")                     \
  X(19, visitingCountry, "visiting_country", kText, "visiting address: country")            \
  X(20, mailStreet, "mail_street", kText, "mail address: street")                           \
  X(21, mailPostalCode, "mail_postal_code", kText, "mail address: postal code")             \
  X(22, mailCity, "mail_city", kText, "mail address: city")                                 \
  X(23, mailCountry, "mail_country", kText, "mail address: country")                        \
  X(24, newsletter, "newsletter", kBool, "consent to the newsletter: true|false")           \
  X(25, dataProtectionAccepted, "data_protection_accepted", kTimestamp,                     \
    "data-protection consent time, ISO 8601 UTC (e.g. 2026-11-23T10:00:00Z)")               \
  X(26, primaryTherapist, "primary_therapist", kText, "primary therapist (user id)")        \
  X(27, secondaryTherapist, "secondary_therapist", kText, "secondary therapist (user id)")

enum class CustomerField : uint16_t {
#define SITESYNC_ENUM(code, schema, cli, kind, help) schema = code,
  SITESYNC_CUSTOMER_FIELDS(SITESYNC_ENUM)
#undef SITESYNC_ENUM
};
inline constexpr size_t kCustomerFieldCount = 28;
// Field code of a custom field write (FieldWrite::key holds the custom field's name).
inline constexpr uint16_t kCustomFieldCode = 28;
// Field codes of the card's collections (DESIGN.md section 3): every attribute of an element is
// a register of its own, keyed "<element id>/<attribute>", so concurrent edits of one contact's
// phone are a conflict like any field's while elements added at two sites both stay. A discount
// card's usages are write-once registers "<card id>/usage/<usage id>" = "<cents>|<visit>":
// append-only, so two sites spending from one card offline both count.
inline constexpr uint16_t kContactCode = 29;   // name phone email send_service_protocol ...
inline constexpr uint16_t kJournalCode = 30;   // text author at deleted
inline constexpr uint16_t kDiscountCode = 31;  // type value_cents price_paid_cents valid_until
// A linked record of the customer (`sitesync record`): a booking, a work order, an invoice or a
// product sold (a membership, a series of visits). A product's units used are write-once usages
// "<record>/usage/<usage>" = "<units>|<note>", append-only like a card's.
inline constexpr uint16_t kRecordCode = 32;  // kind title text status date starts_at ... usage
inline constexpr uint16_t kFirstElementCode = kContactCode;
inline constexpr uint16_t kLastElementCode = kRecordCode;
// A technician assigned to the customer (`sitesync customer assign`): one register per
// technician, key = their user name, value "true" while assigned, "" once unassigned. Held with
// the elements (Customer::elements) but keyed by name, so it is not an element code.
inline constexpr uint16_t kTechnicianCode = 33;
// The kinds of linked record, as its "kind" attribute names them.
inline constexpr const char* kRecordKinds[] = {"booking", "order", "invoice", "product"};
inline bool isElementCode(uint16_t code) {
  return code >= kFirstElementCode && code <= kLastElementCode;
}
// "contact", "journal", "discount", "record"; else nullptr
const char* elementKindName(uint16_t code);

#define SITESYNC_SETTINGS_FIELDS(X)                                                         \
  X(0, requiredFields, "required_fields", kFieldList, "",                                   \
    "customer fields that must be set, comma-separated (e.g. phone,email)")                 \
  X(1, requirePhoneOrEmail, "require_phone_or_email", kBool, "false",                       \
    "true: every customer needs a phone or an e-mail")                                      \
  X(2, numberMinLength, "number_min_length", kUnsigned, "1", "customer number min length")  \
  X(3, numberMaxLength, "number_max_length", kUnsigned, "12", "customer number max length") \
  X(4, autoNumber, "auto_number", kBool, "true", "number customers automatically")          \
  X(5, nextNumber, "next_number", kUnsigned, "1000", "next automatic customer number")      \
  X(6, ssnShown, "ssn_shown", kBool, "true", "show social security numbers")                \
  X(7, ssnUnique, "ssn_unique", kBool, "false", "refuse a second customer with one SSN")    \
  X(8, journalEditWindowHours, "journal_edit_window_hours", kUnsigned, "24",                \
    "hours a journal entry stays editable")                                                 \
  X(9, journalDeleteWindowHours, "journal_delete_window_hours", kUnsigned, "24",            \
    "hours a journal entry stays deletable")                                                \
  X(10, numberBlockSize, "number_block_size", kUnsigned, "1000",                            \
    "customer numbers the hub leases to a site at a time")                                  \
  X(11, maxClockSkew, "max_clock_skew", kUnsigned, "300",                                   \
    "seconds another site's clock may run ahead of this one's (changes stamped later are "  \
    "set aside)")                                                                           \
  X(12, ageAlertYears, "age_alert_years", kUnsigned, "0",                                   \
    "flag customers younger than this many years (age_alert; 0: off)")

enum class SettingsField : uint16_t {
#define SITESYNC_ENUM(code, schema, cli, kind, dflt, help) schema = code,
  SITESYNC_SETTINGS_FIELDS(SITESYNC_ENUM)
#undef SITESYNC_ENUM
};
inline constexpr size_t kSettingsFieldCount = 13;
// The field code of a settings write for a user of the application API, deployment-wide: its key
// is the user's name, its value "<role> <SHA-256 hex of their token>", empty once removed.
// (Beyond the settings fields' codes, so that settings can be added.)
inline constexpr uint16_t kSettingsUserCode = 256;
// The field code of a settings write that defines a custom field (`sitesync fields define`):
// its key is the field's name, its value a CustomFieldDefinition (formatDefinition).
inline constexpr uint16_t kSettingsCustomFieldCode = 257;
// What a deployment says a custom field holds. Once any is defined, custom fields not defined
// are refused at the sites where they are written; a retired one keeps its values but takes no
// new ones.
struct CustomFieldDefinition {
  std::string kind;  // "text", "number", "date", "bool", "choice"
  bool required = false;
  bool retired = false;
  std::string label;                 // for people; may be empty
  std::vector<std::string> choices;  // kind "choice"
  bool operator==(const CustomFieldDefinition&) const = default;
};
// "kind\trequired\tretired\tlabel\tchoice,choice", the register's value.
std::string formatDefinition(const CustomFieldDefinition& d);
// Nullopt when `value` is not one formatDefinition() makes of a valid definition.
std::optional<CustomFieldDefinition> parseDefinition(std::string_view value);
// Why `value` does not fit the definition ("" when it does; an empty value always fits).
std::string definitionProblem(const CustomFieldDefinition& d, std::string_view value);
// The catalogues (settings write codes 258 and 259, key = the entry's name): the customer groups
// customer_group takes, and the discount types `discount add --type` takes, once any is defined.
inline constexpr uint16_t kSettingsCustomerGroupCode = 258;
inline constexpr uint16_t kSettingsDiscountTypeCode = 259;
// An entry of a catalogue. A retired one stays readable but is no longer chosen.
struct CatalogueEntry {
  std::string label;  // for people; may be empty
  bool retired = false;
  // Discount types: the suggested value and price, how long a card is valid (months, from the
  // day it is sold) and the services it covers.
  uint64_t valueCents = 0;
  uint64_t priceCents = 0;
  uint64_t validMonths = 6;
  std::vector<std::string> services;
  bool operator==(const CatalogueEntry&) const = default;
};
// "retired\tlabel\tvalue_cents\tprice_cents\tvalid_months\tservice,service", the value.
std::string formatCatalogueEntry(const CatalogueEntry& e);
std::optional<CatalogueEntry> parseCatalogueEntry(std::string_view value);
// The settings write codes whose registers are keyed by name (users, custom field definitions,
// catalogues).
inline constexpr uint16_t kKeyedSettingsCodes[] = {kSettingsUserCode, kSettingsCustomFieldCode,
                                                   kSettingsCustomerGroupCode,
                                                   kSettingsDiscountTypeCode};
// Letters, digits and . _ @ -, 1 to 64 of them: safe in a log line, a key and a history entry.
bool isValidUserName(std::string_view name);
// "<role> <64 hex digits>" (a role is 1 to 16 lowercase letters), or empty.
bool isValidUserValue(std::string_view value);

const std::array<FieldInfo, kCustomerFieldCount>& customerFields();
const std::array<FieldInfo, kSettingsFieldCount>& settingsFields();
const char* settingsDefault(SettingsField field);
// Accepts the snake_case (CLI) or the camelCase (schema) spelling.
std::optional<CustomerField> customerFieldByName(std::string_view name);
std::optional<SettingsField> settingsFieldByName(std::string_view name);
inline const FieldInfo& info(CustomerField f) {
  return customerFields()[size_t(f)];
}
inline const FieldInfo& info(SettingsField f) {
  return settingsFields()[size_t(f)];
}

}  // namespace sitesync
