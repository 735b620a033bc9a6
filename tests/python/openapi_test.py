#!/usr/bin/env python3
"""docs/openapi.yaml against itself and against a running node (`sitesync serve --api` on
loopback with a real store in a temporary directory):

    openapi_test.py SITESYNC_BINARY

The document loads, is OpenAPI 3.x and its references resolve; every operation it lists, sent
once with real ids, answers a status the document lists for it, with a body its schema
describes; a viewer is refused (403) exactly the operations that list 403; without a token
every operation is 401; paths and methods the document does not list are 404.
(tests/unit/api_endpoints_test.cpp checks the document's paths against the server's routes.)
Needs python3 and python3-yaml.
"""

import http.client
import json
import os
import re
import sys
import unittest
import urllib.parse

import yaml

from served_node import Node

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCUMENT = os.path.join(ROOT, "docs", "openapi.yaml")
METHODS = ("get", "post", "patch", "put", "delete")

SITESYNC = None  # set from argv


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body  # parsed JSON, None (no body) or the raw text

    def __repr__(self):
        return f"HTTP {self.status} {self.body!r}"[:400]


def load_document():
    with open(DOCUMENT, encoding="utf-8") as f:
        return yaml.safe_load(f)


def resolve(document, node):
    """`node` with its $ref (and those it leads to) followed."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise AssertionError(f"$ref {ref!r} is not a local reference")
        node = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise AssertionError(f"$ref {ref!r} does not resolve")
            node = node[part]
    return node


def operations(document):
    """(METHOD, path template, operation) for each operation under paths."""
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def documented_statuses(document, path, method):
    return {int(code) for code in document["paths"][path][method.lower()]["responses"]}


def schema_errors(document, schema, value, where="$"):
    """What in `value` does not fit `schema` (a subset of OpenAPI 3.0 schemas: type, nullable,
    required, properties, additionalProperties, items, enum, oneOf)."""
    schema = resolve(document, schema)
    if value is None:
        return [] if schema.get("nullable") else [f"{where} is null"]
    if "oneOf" in schema:
        fits = [s for s in schema["oneOf"] if not schema_errors(document, s, value, where)]
        return [] if len(fits) == 1 else [f"{where} fits {len(fits)} of oneOf"]
    kind = schema.get("type")
    checks = {"object": lambda v: isinstance(v, dict),
              "array": lambda v: isinstance(v, list),
              "string": lambda v: isinstance(v, str),
              "boolean": lambda v: isinstance(v, bool),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}
    if kind and not checks[kind](value):
        return [f"{where} is not a{'n' if kind[0] in 'aeiou' else ''} {kind}: {value!r}"]
    errors = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where} = {value!r} is not one of {schema['enum']}")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{where} lacks {name!r}")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in properties:
                errors += schema_errors(document, properties[name], item, f"{where}.{name}")
            elif isinstance(extra, dict):
                errors += schema_errors(document, extra, item, f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(document, schema["items"], item, f"{where}[{i}]")
    return errors


class TheDocument(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.doc = load_document()

    def test_is_openapi_3_with_info_paths_and_bearer_security(self):
        self.assertIsInstance(self.doc, dict)
        self.assertTrue(str(self.doc.get("openapi", "")).startswith("3."), self.doc.get("openapi"))
        self.assertIn("title", self.doc["info"])
        self.assertIn("version", self.doc["info"])
        self.assertTrue(self.doc["paths"])
        scheme = self.doc["components"]["securitySchemes"]["bearer"]
        self.assertEqual((scheme["type"], scheme["scheme"]), ("http", "bearer"))
        self.assertIn({"bearer": []}, self.doc["security"])

    def test_is_valid_for_openapi_spec_validator_where_installed(self):
        try:
            from openapi_spec_validator import validate
        except ImportError:
            self.skipTest("openapi-spec-validator is not installed")
        validate(self.doc)

    def test_every_reference_resolves(self):
        refs = []

        def walk(node):
            if isinstance(node, dict):
                if "$ref" in node:
                    refs.append(node["$ref"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(self.doc)
        self.assertGreater(len(refs), 50)
        for ref in refs:
            with self.subTest(ref=ref):
                resolve(self.doc, {"$ref": ref})

    def test_every_operation_has_described_responses_and_its_path_parameters(self):
        ids = set()
        for method, path, operation in operations(self.doc):
            with self.subTest(operation=f"{method} {path}"):
                self.assertTrue(operation.get("responses"), "no responses")
                self.assertNotIn(operation["operationId"], ids)
                ids.add(operation["operationId"])
                for code, response in operation["responses"].items():
                    self.assertIsInstance(code, str, "a status code is a quoted string")
                    self.assertRegex(code, r"^[1-5][0-9][0-9]$")
                    response = resolve(self.doc, response)
                    self.assertTrue(response.get("description"), f"{code} has no description")
                    if int(code) >= 400:
                        schema = response["content"]["application/json"]["schema"]
                        self.assertEqual(schema, {"$ref": "#/components/schemas/Error"}, code)
                declared = [resolve(self.doc, p) for p in
                            self.doc["paths"][path].get("parameters", []) +
                            operation.get("parameters", [])]
                in_path = {p["name"] for p in declared if p["in"] == "path"}
                self.assertEqual(in_path, set(re.findall(r"\{([^}]+)\}", path)))
                for p in declared:
                    if p["in"] == "path":
                        self.assertTrue(p.get("required"), f"{p['name']} is not required")

    def test_error_schema_is_an_error_object_with_code_and_message(self):
        schema = self.doc["components"]["schemas"]["Error"]
        self.assertEqual(schema["required"], ["error"])
        self.assertEqual(set(schema["properties"]["error"]["required"]), {"code", "message"})

    def test_the_line_layout_the_cpp_test_reads_gives_the_same_operations(self):
        # tests/unit/api_endpoints_test.cpp reads paths at two spaces, operations at four.
        read, path, in_paths = set(), None, False
        with open(DOCUMENT, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if line and line[0] not in " #":
                    in_paths = line.startswith("paths:")
                if not in_paths:
                    continue
                m = re.fullmatch(r"  (/[^:]*):\s*", line)
                if m:
                    path = m.group(1)
                m = re.fullmatch(r"    (get|post|patch|put|delete):\s*", line)
                if m:
                    read.add((m.group(1).upper(), path))
        self.assertEqual(read, {(method, path) for method, path, _ in operations(self.doc)})


class Csv(str):
    """A request body sent as text/csv rather than JSON."""


TECHNICIAN = "teemu"  # a user of the node, assigned and unassigned

# How each documented operation is sent: (METHOD, path, body, query, expected status, ids),
# in this order (the destructive ones last, on customers of their own). `ids` overrides the
# path's parameters ({id}: "merge_into" -> that fixture id). A body of None is sent as
# Content-Length: 0 on POST.
PLAN = [
    ("GET", "/metrics", None, None, 200, {}),
    ("GET", "/v1/status", None, None, 200, {}),
    ("GET", "/v1/settings", None, None, 200, {}),
    ("GET", "/v1/fields", None, None, 200, {}),
    ("GET", "/v1/catalogue", None, None, 200, {}),
    ("GET", "/v1/conflicts", None, {"all": "1"}, 200, {}),
    ("GET", "/v1/customers", None, {"q": "virtanen", "status": "all", "limit": "2"}, 200, {}),
    ("GET", "/v1/customers/{id}", None, None, 200, {}),
    ("GET", "/v1/customers/by-number/{number}", None, None, 200, {}),
    ("GET", "/v1/customers/{id}/history", None, None, 200, {}),
    ("GET", "/v1/customers/{id}/contacts", None, None, 200, {}),
    ("GET", "/v1/customers/{id}/contacts/{element}", None, None, 200, {}),
    ("GET", "/v1/customers/{id}/journal", None, None, 200, {}),
    ("GET", "/v1/customers/{id}/journal/{element}", None, None, 200, {}),
    ("GET", "/v1/customers/{id}/cards", None, None, 200, {}),
    ("GET", "/v1/customers/{id}/cards/{element}", None, None, 200, {}),
    ("GET", "/v1/customers/{id}/discounts", None, None, 200, {}),
    ("GET", "/v1/customers/{id}/discounts/{element}", None, None, 200, {}),
    ("GET", "/v1/customers/{id}/records", None, None, 200, {}),
    ("GET", "/v1/customers/{id}/records/{element}", None, None, 200, {}),
    ("GET", "/v1/changes", None, {"limit": "5"}, 200, {}),
    ("GET", "/v1/changes/stream", None, None, 200, {}),
    ("GET", "/v1/customers/export", None, {"fields": "id,name,phone"}, 200, {}),
    ("GET", "/v1/customers/duplicates", None, {"limit": "10"}, 200, {}),
    ("POST", "/v1/customers/import", Csv("Nimi;Puhelin\nTyyne Tuonti;040 111 2222\n"), None, 200,
     {}),
    ("POST", "/v1/customers", {"name": "Eino Leino", "phone": "040 765 4321"}, None, 201, {}),
    ("PATCH", "/v1/customers/{id}", {"invoice_city": "Oulu"}, None, 200, {}),
    ("POST", "/v1/customers/{id}/contacts", {"name": "Pekka Ek", "send_work_orders": True},
     None, 201, {}),
    ("PATCH", "/v1/customers/{id}/contacts/{element}", {"phone": "040 222 3333"}, None, 200, {}),
    ("POST", "/v1/customers/{id}/journal", {"text": "Asked for a quote"}, None, 201, {}),
    ("PATCH", "/v1/customers/{id}/journal/{element}", {"text": "Called about the boiler."},
     None, 200, {}),
    ("POST", "/v1/customers/{id}/cards", {"type": "10 visits", "value_cents": 10000}, None, 201,
     {}),
    ("POST", "/v1/customers/{id}/discounts",
     {"type": "gift card", "value_cents": 5000, "price_paid_cents": 4500}, None, 201, {}),
    ("POST", "/v1/customers/{id}/cards/{element}/use", {"amount": "12.50", "visit": "boiler"},
     None, 200, {}),
    ("POST", "/v1/customers/{id}/discounts/{element}/use", {"amount_cents": 100}, None, 200, {}),
    ("POST", "/v1/customers/{id}/records",
     {"kind": "booking", "title": "Boiler service", "starts_at": "2026-11-25T10:00:00Z"}, None,
     201, {}),
    ("PATCH", "/v1/customers/{id}/records/{element}", {"title": "10 massages"}, None, 200, {}),
    ("POST", "/v1/customers/{id}/records/{element}/use", {"units": 2, "note": "massage"}, None,
     200, {}),
    ("PUT", "/v1/settings", {"journal_edit_window_hours": 24}, None, 200, {}),
    # Deployment definitions, on the node every test shares, so that later tests still pass: a
    # custom field not required; a customer group (no test writes customer_group); the one
    # discount type the fixture's cards have (once any type is defined, a card of a type the
    # catalogue lacks is refused with 422), after the plan's own cards.
    ("PUT", "/v1/fields/{name}", {"kind": "choice", "label": "Tier",
                                  "choices": ["gold", "silver"], "required": False}, None, 200,
     {"name": "field"}),
    ("PUT", "/v1/catalogue/groups/{name}", {"label": "Members"}, None, 200, {"name": "group"}),
    ("PUT", "/v1/catalogue/discount-types/{name}",
     {"label": "Gift card", "value_cents": 5000, "price_cents": 4500, "valid_months": 12,
      "services": ["massage", "sauna"]}, None, 200, {"name": "discount_type"}),
    ("POST", "/v1/customers/{id}/technicians", {"technician": TECHNICIAN}, None, 200, {}),
    ("GET", "/v1/notifications", None, {"technician": TECHNICIAN}, 200, {}),
    ("DELETE", "/v1/customers/{id}/technicians/{name}", None, None, 200, {}),
    ("POST", "/v1/customers/{id}/deactivate", None, None, 200, {}),
    ("POST", "/v1/customers/{id}/reactivate", None, None, 200, {}),
    ("DELETE", "/v1/customers/{id}/contacts/{element}", None, None, 204, {}),
    ("DELETE", "/v1/customers/{id}/journal/{element}", None, None, 204, {}),
    ("DELETE", "/v1/customers/{id}/records/{element}", None, None, 204, {}),
    # No conflict exists on a lone site: an unknown one is 404.
    ("POST", "/v1/conflicts/{conflict}/resolve", {"keep_winner": True}, None, 404, {}),
    ("POST", "/v1/customers/{id}/merge", "merge", None, 200, {"id": "survivor"}),
    ("POST", "/v1/customers/{id}/delete", None, None, 200, {"id": "deleted"}),
    ("POST", "/v1/customers/{id}/restore", None, None, 200, {"id": "deleted"}),
    ("POST", "/v1/customers/{id}/erase", None, None, 200, {"id": "erased"}),
]


class AgainstANode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.doc = load_document()
        cls.node = Node(SITESYNC, (("ada", "admin"), ("veera", "viewer"),
                                   (TECHNICIAN, "technician")))

    @classmethod
    def tearDownClass(cls):
        cls.node.close()

    def send(self, method, path, body=None, query=None, user="ada", headers=None):
        """One request on its own connection; a stream's answer is its status and headers."""
        target = path + ("?" + urllib.parse.urlencode(query) if query else "")
        sent = dict(headers or {})
        if user:
            sent["Authorization"] = "Bearer " + self.node.tokens[user]
        data = None
        if isinstance(body, Csv):
            data = body.encode()
            sent["Content-Type"] = "text/csv"
        elif body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        elif method in ("POST", "PUT", "PATCH"):
            data = b""  # Content-Length: 0; without it the server answers 400
        connection = http.client.HTTPConnection(self.node.host, self.node.port, timeout=20)
        try:
            connection.request(method, target, body=data, headers=sent)
            response = connection.getresponse()
            answer_headers = {k.lower(): v for k, v in response.getheaders()}
            if answer_headers.get("content-type", "").startswith("text/event-stream"):
                return Answer(response.status, answer_headers, None)
            raw = response.read().decode("utf-8")
        finally:
            connection.close()
        if not raw:
            return Answer(response.status, answer_headers, None)
        if answer_headers.get("content-type", "").startswith("application/json"):
            return Answer(response.status, answer_headers, json.loads(raw))
        return Answer(response.status, answer_headers, raw)

    def made(self, path, body, status=201):
        answer = self.send("POST", path, body)
        self.assertEqual(answer.status, status, f"POST {path}: {answer}")
        return answer.body

    def fixture(self):
        """Customers and elements of their own for one test, created through the API."""
        customer = self.made("/v1/customers", {"name": "Aino Virtanen",
                                               "phone": "+358 40 123 4567"})
        base = "/v1/customers/" + customer["id"]
        ids = {
            "id": customer["id"],
            "number": customer["number"],
            "conflict": "0123456789ab",
            "contacts": self.made(base + "/contacts", {"name": "Pekka Ek"})["id"],
            "journal": self.made(base + "/journal", {"text": "First visit"})["id"],
            # One type for both cards: the only one in the catalogue once the plan defines it.
            "cards": self.made(base + "/cards", {"type": "gift card", "value_cents": 5000})["id"],
            "discounts": self.made(base + "/discounts",
                                   {"type": "gift card", "value_cents": 2000})["id"],
            "records": self.made(base + "/records", {"kind": "product", "title": "10 massages",
                                                     "units": 10})["id"],
            "name": TECHNICIAN,  # {name} unless the plan says otherwise
            "field": "tier",
            "group": "members",
            "discount_type": "gift card",
        }
        for role, name in (("survivor", "Mikko Nieminen"), ("absorbed", "Mikko Nieminen"),
                           ("deleted", "Ville Delete"), ("erased", "Erkki Erase")):
            ids[role] = self.made("/v1/customers", {"name": name})["id"]
        return ids

    @staticmethod
    def fill(path, ids, overrides):
        def value(match):
            name = match.group(1)
            if name in overrides:
                return quote(ids[overrides[name]])
            if name == "element":  # the element of the collection it follows
                return quote(ids[path[:match.start()].rstrip("/").rsplit("/", 1)[1]])
            return quote(ids[name])

        def quote(text):
            return urllib.parse.quote(text, safe="")

        return re.sub(r"\{([^}]+)\}", value, path)

    def body_for(self, body, ids):
        if body == "merge":
            return {"absorb": [ids["absorbed"]], "take": {"phone": ids["absorbed"]}}
        return body

    def check_answer(self, method, path, answer):
        """The status is one the document lists; the body fits its schema, the headers it
        names are there."""
        statuses = documented_statuses(self.doc, path, method)
        self.assertIn(answer.status, statuses,
                      f"{method} {path} answered {answer}, documented: {sorted(statuses)}")
        response = resolve(self.doc, self.doc["paths"][path][method.lower()]["responses"]
                           [str(answer.status)])
        for header in response.get("headers", {}):
            if header != "Retry-After" or answer.status == 429:
                self.assertIn(header.lower(), answer.headers, f"{method} {path}: {header}")
        content = response.get("content")
        if not content:
            self.assertIsNone(answer.body, f"{method} {path} answered a body")
            return
        if "text/event-stream" in content:
            self.assertTrue(answer.headers["content-type"].startswith("text/event-stream"))
            return
        if "text/plain" in content:  # /metrics: Prometheus' exposition format, line by line
            self.assertTrue(answer.headers["content-type"].startswith("text/plain"))
            for line in answer.body.splitlines():
                self.assertRegex(line, r'^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[0-9.e+-]+)$')
            return
        if "text/csv" in content:
            self.assertTrue(answer.headers["content-type"].startswith("text/csv"))
            self.assertTrue(answer.body.startswith('"id"'), f"{method} {path}: {answer}")
            return
        self.assertTrue(answer.headers.get("content-type", "").startswith("application/json"))
        errors = schema_errors(self.doc, content["application/json"]["schema"], answer.body)
        self.assertEqual(errors, [], f"{method} {path}: {answer}")

    def check_request_body(self, method, path, body):
        """The body the test sends (and the server takes) fits the documented request body."""
        operation = self.doc["paths"][path][method.lower()]
        if "requestBody" not in operation:
            self.assertIsNone(body, f"{method} {path} documents no body")
            return
        request = resolve(self.doc, operation["requestBody"])
        if body is None:
            self.assertFalse(request.get("required"), f"{method} {path} requires a body")
            return
        if "text/csv" in request["content"]:
            self.assertIsInstance(body, Csv, f"{method} {path} takes CSV")
            return
        schema = request["content"]["application/json"]["schema"]
        self.assertEqual(schema_errors(self.doc, schema, body), [], f"{method} {path}")

    def test_the_plan_sends_every_documented_operation_once(self):
        planned = [(method, path) for method, path, *_ in PLAN]
        self.assertEqual(len(planned), len(set(planned)))
        self.assertEqual(set(planned), {(m, p) for m, p, _ in operations(self.doc)})

    def test_every_operation_answers_a_documented_status_with_a_documented_body(self):
        ids = self.fixture()
        for method, path, body, query, expected, overrides in PLAN:
            with self.subTest(operation=f"{method} {path}"):
                headers = {}
                if path == "/v1/customers/{id}" and method == "PATCH":
                    current = self.send("GET", self.fill(path, ids, overrides))
                    headers["If-Match"] = current.headers["etag"]
                sent = self.body_for(body, ids)
                self.check_request_body(method, path, sent)
                answer = self.send(method, self.fill(path, ids, overrides), sent, query,
                                   headers=headers)
                self.check_answer(method, path, answer)
                self.assertEqual(answer.status, expected, f"{method} {path}: {answer}")

    def test_a_stale_if_match_is_412_as_documented(self):
        ids = self.fixture()
        path = "/v1/customers/" + ids["id"]
        etag = self.send("GET", path).headers["etag"]
        self.assertEqual(self.send("PATCH", path, {"invoice_city": "Oulu"},
                                   headers={"If-Match": etag}).status, 200)
        answer = self.send("PATCH", path, {"invoice_city": "Turku"}, headers={"If-Match": etag})
        self.check_answer("PATCH", "/v1/customers/{id}", answer)
        self.assertEqual(answer.status, 412)

    def test_a_viewer_is_refused_exactly_the_operations_that_list_403(self):
        ids = self.fixture()
        for method, path, body, query, expected, overrides in PLAN:
            with self.subTest(operation=f"{method} {path}"):
                refused = 403 in documented_statuses(self.doc, path, method)
                if not refused:
                    self.assertEqual(method, "GET", "a write that does not list 403")
                answer = self.send(method, self.fill(path, ids, overrides),
                                   self.body_for(body, ids), query, user="veera")
                self.check_answer(method, path, answer)
                self.assertEqual(answer.status, 403 if refused else expected, answer)

    def test_without_a_token_every_operation_is_401(self):
        ids = self.fixture()
        for method, path, body, query, _, overrides in PLAN:
            with self.subTest(operation=f"{method} {path}"):
                answer = self.send(method, self.fill(path, ids, overrides),
                                   self.body_for(body, ids), query, user=None)
                self.check_answer(method, path, answer)
                self.assertEqual(answer.status, 401)
                self.assertEqual(answer.body["error"]["code"], "unauthorized")

    def test_a_technician_reads_their_own_notifications_and_not_anothers(self):
        ids = self.fixture()
        self.assertEqual(self.send("POST", f"/v1/customers/{ids['id']}/technicians",
                                   {"technician": TECHNICIAN}).status, 200)
        own = self.send("GET", "/v1/notifications", user=TECHNICIAN)
        self.check_answer("GET", "/v1/notifications", own)
        self.assertEqual(own.status, 200, own)
        self.assertEqual(own.body["technician"], TECHNICIAN)
        self.assertIn(ids["id"], [n["customer"] for n in own.body["notifications"]])
        answer = self.send("GET", "/v1/notifications", query={"technician": "ada"},
                           user=TECHNICIAN)
        self.check_answer("GET", "/v1/notifications", answer)
        self.assertEqual(answer.status, 403, answer)

    def test_paths_and_methods_the_document_does_not_list_are_404(self):
        ids = self.fixture()
        for path in ("/v1/nonexistent", "/v1", "/v1/customers/" + ids["id"] + "/nonexistent",
                     "/v1/customers/not-an-id"):
            with self.subTest(path=path):
                answer = self.send("GET", path)
                self.assertEqual(answer.status, 404, answer)
                self.assertEqual(schema_errors(self.doc, {"$ref": "#/components/schemas/Error"},
                                               answer.body), [])
        # Every method a documented path does not list (e.g. PATCH of a discount card).
        for path, item in self.doc["paths"].items():
            for method in METHODS:
                if method in item:
                    continue
                with self.subTest(operation=f"{method.upper()} {path}"):
                    body = {} if method in ("post", "put", "patch") else None
                    answer = self.send(method.upper(), self.fill(path, ids, {}), body)
                    self.assertEqual(answer.status, 404, answer)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: openapi_test.py SITESYNC_BINARY")
    SITESYNC = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
