// /v1/customers/{id}/contacts, /journal, /cards and /records: a customer's contacts, journal
// entries, discount cards and linked records, with the operations `sitesync customer
// contact|journal|discount` and `sitesync record` have. Each
// write is one LocalOp through the node's group commit, authored by the caller; elements are
// shown as the customer's JSON lists them.
#include <cmath>
#include <functional>

#include "api/register_json.h"
#include "api/src/records.h"

namespace sitesync::api {

namespace {

using nlohmann::json;

// A kind of element as the API serves it.
struct Kind {
  uint16_t code;
  const char* path;    // the collection's path segment (a regex)
  const char* remove;  // the attribute DELETE sets to true; null: not removable
};
constexpr Kind kKinds[] = {{kContactCode, "contacts", "removed"},
                           {kJournalCode, "journal", "deleted"},
                           {kDiscountCode, "(?:cards|discounts)", nullptr},
                           {kRecordCode, "records", "deleted"}};

// A usage's amount: {"amount_cents": 1250} or {"amount": "12.50" or 12.5}.
uint64_t amountOf(const json& body) {
  if (body.contains("amount_cents") == body.contains("amount"))
    throw HttpFailure(400, "bad_request", "a usage needs one of amount_cents or amount");
  if (body.contains("amount_cents")) {
    if (!body["amount_cents"].is_number_unsigned())
      throw HttpFailure(400, "wrong_type", "amount_cents wants a whole number of cents");
    return body["amount_cents"].get<uint64_t>();
  }
  const json& amount = body["amount"];
  std::optional<uint64_t> cents;
  if (amount.is_string()) cents = moneyCents(amount.get<std::string>());
  if (amount.is_number() && amount.get<double>() >= 0) {
    const double hundredths = amount.get<double>() * 100;
    if (std::abs(hundredths - std::round(hundredths)) < 1e-6)
      cents = uint64_t(std::llround(hundredths));
  }
  if (!amount.is_string() && !amount.is_number())
    throw HttpFailure(400, "wrong_type", "amount wants an amount like \"12.50\"");
  if (!cents)
    throw HttpFailure(422, "invalid", "amount wants an amount like 12.50, got " + amount.dump());
  return *cents;
}

class ElementRoutes {
 public:
  explicit ElementRoutes(Records& records) : records_(records) {}

  void list(const httplib::Request& req, httplib::Response& res, const Kind& kind) const {
    json elements = json::array();
    for (const auto& e : sync::cardElements(shown(records_.existing(req.matches[1]))))
      if (e.kind == kind.code && !e.gone()) elements.push_back(elementJson(e));
    replyJson(res, 200, {{elementsKey(kind.code), elements}});
  }
  void get(const httplib::Request& req, httplib::Response& res, const Kind& kind) const {
    replyJson(res, 200,
              elementJson(element(records_.existing(req.matches[1]), kind, req.matches[2])));
  }
  void add(const httplib::Request& req, httplib::Response& res, const Caller& caller,
           const Kind& kind);
  void edit(const httplib::Request& req, httplib::Response& res, const Caller& caller,
            const Kind& kind);
  void remove(const httplib::Request& req, httplib::Response& res, const Caller& caller,
              const Kind& kind);
  void use(const httplib::Request& req, httplib::Response& res, const Caller& caller);
  void useUnits(const httplib::Request& req, httplib::Response& res, const Caller& caller);

 private:
  Customer shown(const Customer& c) const { return shownCustomer(records_.engine(), c); }
  // The element `idText` of `c`; 404 when it has none (or it was removed or deleted).
  sync::CardElement element(const Customer& c, const Kind& kind, const std::string& idText) const {
    const auto id = RecordId::parse(idText);
    for (auto& e : sync::cardElements(shown(c)))
      if (id && e.kind == kind.code && e.id == *id && !e.gone()) return e;
    throw HttpFailure(
        404, "not_found",
        "customer " + c.id.toString() + " has no " + elementKindName(kind.code) + " " + idText);
  }
  // The op `make(customer, element)` makes for a new element (`adding`: element null) or the
  // one in the path, of the customer in the path, committed after its If-Match; returns the
  // element's id.
  using MakeOp = std::function<sync::LocalOp(RecordId customer, RecordId element)>;
  RecordId write(const httplib::Request& req, const Caller& caller, const Kind& kind, bool adding,
                 const MakeOp& make);
  // write() of `attributes` by the caller.
  RecordId write(const httplib::Request& req, const Caller& caller, const Kind& kind, bool adding,
                 std::vector<sync::Edit> attributes) {
    return write(req, caller, kind, adding, [&](RecordId customer, RecordId element) {
      return sync::elementOp(customer, kind.code, element, std::move(attributes), caller.name);
    });
  }

  Records& records_;
};

std::vector<sync::Edit> attributesFrom(const json& body, uint16_t kind, const Records& records) {
  std::vector<sync::Edit> edits;
  for (const auto& [name, value] : body.items()) {
    sync::Edit edit{kind, name, textOf(name, value)};
    // A record's debtor may be named by #NUMBER too, and is kept as the customer it went into.
    if (kind == kRecordCode && name == "debtor" && !edit.value.empty())
      edit.value = records.engine().survivor(records.resolve(edit.value)).toString();
    edits.push_back(std::move(edit));
  }
  if (edits.empty()) throw HttpFailure(400, "bad_request", "the body names no attribute to set");
  return edits;
}

RecordId ElementRoutes::write(const httplib::Request& req, const Caller& caller, const Kind& kind,
                              bool adding, const MakeOp& make) {
  const RecordId id = idIn(req.matches[1]);
  const auto turn = records_.writingTo({id});
  const Customer current = records_.existing(id);
  checkAssigned(caller, current);
  const RecordId target = adding ? RecordId{} : element(current, kind, req.matches[2]).id;
  checkIfMatch(req, current);
  const sync::OpResult result = records_.commit(make(id, target));
  return adding ? result.element : target;
}

void ElementRoutes::add(const httplib::Request& req, httplib::Response& res, const Caller& caller,
                        const Kind& kind) {
  const RecordId made =
      write(req, caller, kind, true, attributesFrom(parseObject(req), kind.code, records_));
  const Customer now = records_.existing(req.matches[1]);
  res.set_header("Location", "/v1/customers/" + now.id.toString() + "/" + elementsKey(kind.code) +
                                 "/" + made.toString());
  replyJson(res, 201, elementJson(element(now, kind, made.toString())));
}

void ElementRoutes::edit(const httplib::Request& req, httplib::Response& res, const Caller& caller,
                         const Kind& kind) {
  const RecordId changed =
      write(req, caller, kind, false, attributesFrom(parseObject(req), kind.code, records_));
  replyJson(res, 200,
            elementJson(element(records_.existing(req.matches[1]), kind, changed.toString())));
}

void ElementRoutes::remove(const httplib::Request& req, httplib::Response& res,
                           const Caller& caller, const Kind& kind) {
  write(req, caller, kind, false, {sync::Edit{kind.code, kind.remove, "true"}});
  res.status = 204;
}

void ElementRoutes::use(const httplib::Request& req, httplib::Response& res, const Caller& caller) {
  const json body = parseObject(req);
  for (const auto& [key, value] : body.items())
    if (key != "amount_cents" && key != "amount" && key != "visit")
      throw HttpFailure(400, "unknown_field",
                        "a usage takes amount_cents or amount, and visit; not '" + key + "'");
  if (body.contains("visit") && !body["visit"].is_string())
    throw HttpFailure(400, "wrong_type", "visit wants a string");
  const uint64_t cents = amountOf(body);
  const std::string visit = body.value("visit", "");
  const Kind& cards = kKinds[2];
  write(req, caller, cards, false, [&](RecordId customer, RecordId card) {
    return sync::discountUseOp(customer, card, cents, visit, caller.name);
  });
  replyJson(res, 200,
            elementJson(element(records_.existing(req.matches[1]), cards, req.matches[2])));
}

void ElementRoutes::useUnits(const httplib::Request& req, httplib::Response& res,
                             const Caller& caller) {
  const json body = parseObject(req);
  for (const auto& [key, value] : body.items())
    if (key != "units" && key != "note")
      throw HttpFailure(400, "unknown_field", "a usage takes units and note; not '" + key + "'");
  if (!body.contains("units") || !body["units"].is_number_unsigned())
    throw HttpFailure(400, "wrong_type", "units wants a whole number of units");
  if (body.contains("note") && !body["note"].is_string())
    throw HttpFailure(400, "wrong_type", "note wants a string");
  const std::string value =
      std::to_string(body["units"].get<uint64_t>()) + "|" + body.value("note", "");
  const Kind& records = kKinds[3];
  write(req, caller, records, false, [&](RecordId customer, RecordId record) {
    return sync::elementOp(customer, kRecordCode, record, {sync::Edit{kRecordCode, "usage", value}},
                           caller.name);
  });
  replyJson(res, 200,
            elementJson(element(records_.existing(req.matches[1]), records, req.matches[2])));
}

}  // namespace

void addElementRoutes(const AddRoute& add, Records& records) {
  auto routes = std::make_shared<ElementRoutes>(records);
  for (const Kind& kind : kKinds) {
    const std::string all = std::string("/v1/customers/([0-9a-f]{16}-[0-9]+)/") + kind.path;
    const std::string one = all + "/([^/]+)";
    add(Method::kGet, all, Role::kViewer,
        [routes, &kind](const auto& req, auto& res, const Caller&) {
          routes->list(req, res, kind);
        });
    add(Method::kPost, all, Role::kTechnician,
        [routes, &kind](const auto& req, auto& res, const Caller& c) {
          routes->add(req, res, c, kind);
        });
    add(Method::kGet, one, Role::kViewer,
        [routes, &kind](const auto& req, auto& res, const Caller&) {
          routes->get(req, res, kind);
        });
    if (!kind.remove) continue;  // discount cards are added and used, not edited or removed
    add(Method::kPatch, one, Role::kTechnician,
        [routes, &kind](const auto& req, auto& res, const Caller& c) {
          routes->edit(req, res, c, kind);
        });
    add(Method::kDelete, one, Role::kTechnician,
        [routes, &kind](const auto& req, auto& res, const Caller& c) {
          routes->remove(req, res, c, kind);
        });
  }
  add(Method::kPost, "/v1/customers/([0-9a-f]{16}-[0-9]+)/(?:cards|discounts)/([^/]+)/use",
      Role::kTechnician,
      [routes](const auto& req, auto& res, const Caller& c) { routes->use(req, res, c); });
  add(Method::kPost, "/v1/customers/([0-9a-f]{16}-[0-9]+)/records/([^/]+)/use", Role::kTechnician,
      [routes](const auto& req, auto& res, const Caller& c) { routes->useUnits(req, res, c); });
}

}  // namespace sitesync::api
