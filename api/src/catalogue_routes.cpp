// /v1/catalogue (the customer groups and discount types) and the admin's writes of deployment
// definitions: PUT /v1/fields/{name}, PUT /v1/catalogue/groups/{name} and
// PUT /v1/catalogue/discount-types/{name}, as `sitesync fields define` and `sitesync groups|
// discount-types define|retire` write them (settings: the hub's, refused elsewhere with 409).
#include <algorithm>
#include <type_traits>

#include "api/register_json.h"
#include "api/src/records.h"

namespace sitesync::api {

namespace {

using nlohmann::json;

void onlyKeys(const json& body, std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : body.items())
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; }))
      throw HttpFailure(400, "unknown_field", "'" + key + "' is not one of this body's keys");
}

template <typename T>
T valueOf(const json& body, const char* key, T fallback, const char* type) {
  if (!body.contains(key)) return fallback;
  const json& value = body[key];
  bool fits = false;
  if constexpr (std::is_same_v<T, uint64_t>) fits = value.is_number_unsigned();
  if constexpr (std::is_same_v<T, bool>) fits = value.is_boolean();
  if constexpr (std::is_same_v<T, std::string>) fits = value.is_string();
  if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    fits = value.is_array() && std::all_of(value.begin(), value.end(), [](const json& v) {
             return v.is_string() && v.get<std::string>().find(',') == std::string::npos;
           });
  }
  if (!fits) throw HttpFailure(400, "wrong_type", std::string(key) + " wants " + type);
  return value.get<T>();
}

CustomFieldDefinition definitionFrom(const json& body) {
  onlyKeys(body, {"kind", "required", "retired", "label", "choices"});
  CustomFieldDefinition d;
  d.kind = valueOf<std::string>(body, "kind", "", "a string");
  d.required = valueOf<bool>(body, "required", false, "true or false");
  d.retired = valueOf<bool>(body, "retired", false, "true or false");
  d.label = valueOf<std::string>(body, "label", "", "a string");
  d.choices =
      valueOf<std::vector<std::string>>(body, "choices", {}, "a list of strings without commas");
  if (!parseDefinition(formatDefinition(d)))
    throw HttpFailure(422, "invalid",
                      "a definition has a kind (text, number, date, bool, choice), choices only "
                      "with kind choice, and no control characters");
  return d;
}

CatalogueEntry entryFrom(const json& body, bool discountType) {
  if (discountType)
    onlyKeys(body, {"label", "retired", "value_cents", "price_cents", "valid_months", "services"});
  else
    onlyKeys(body, {"label", "retired"});
  CatalogueEntry e;
  e.label = valueOf<std::string>(body, "label", "", "a string");
  e.retired = valueOf<bool>(body, "retired", false, "true or false");
  e.valueCents = valueOf<uint64_t>(body, "value_cents", 0, "a whole number of cents");
  e.priceCents = valueOf<uint64_t>(body, "price_cents", 0, "a whole number of cents");
  e.validMonths = valueOf<uint64_t>(body, "valid_months", 6, "a whole number of months");
  e.services =
      valueOf<std::vector<std::string>>(body, "services", {}, "a list of strings without commas");
  if (!parseCatalogueEntry(formatCatalogueEntry(e)))
    throw HttpFailure(422, "invalid",
                      "a label or service holds a control character, a service is empty, or "
                      "valid_months is over 1200");
  return e;
}

void writeSetting(Records& records, const Caller& caller, uint16_t code, const std::string& name,
                  std::string value) {
  records.commit(sync::LocalOp{
      sync::LocalOp::Kind::kSettings, {}, {sync::Edit{code, name, std::move(value)}}, caller.name});
}

}  // namespace

void addCatalogueRoutes(const AddRoute& add, Records& records) {
  add(Method::kGet, "/v1/catalogue", Role::kViewer,
      [&records](const auto&, auto& res, const Caller&) {
        replyJson(res, 200, catalogueJson(records.engine().settings()));
      });
  add(Method::kPut, "/v1/fields/([^/]+)", Role::kAdmin,
      [&records](const auto& req, auto& res, const Caller& caller) {
        const std::string name = req.matches[1];
        writeSetting(records, caller, kSettingsCustomFieldCode, name,
                     formatDefinition(definitionFrom(parseObject(req))));
        replyJson(res, 200, {{"fields", customFieldsJson(records.engine().settings())}});
      });
  for (const bool discountType : {false, true}) {
    const std::string path = discountType ? "discount-types" : "groups";
    add(Method::kPut, "/v1/catalogue/" + path + "/([^/]+)", Role::kAdmin,
        [&records, discountType](const auto& req, auto& res, const Caller& caller) {
          const std::string name = req.matches[1];
          writeSetting(records, caller,
                       discountType ? kSettingsDiscountTypeCode : kSettingsCustomerGroupCode, name,
                       formatCatalogueEntry(entryFrom(parseObject(req), discountType)));
          replyJson(res, 200, catalogueJson(records.engine().settings()));
        });
  }
}

}  // namespace sitesync::api
