"""A client for the sitesync application API (docs/api.md), with the standard library only.

    from sitesync_client import Client, ApiError
    api = Client("http://127.0.0.1:7380", token)
    aino = api.create({"name": "Aino Virtanen", "phone": "+358 40 123 4567"})
    aino = api.update(aino["id"], {"invoice_city": "Oulu"}, if_match=aino.etag)
    for event in api.stream(after=cursor):
        ...

Records come back as `Record`: a dict of the customer's fields (the names of
`sitesync customer show --json`) with the `etag` the server sent beside it. Every error the API
answers raises `ApiError` with its HTTP status, its code and its one-line message.
"""

import json
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["ApiError", "Client", "Record"]


class ApiError(Exception):
    """An error the API answered: `status` (HTTP), `code` (e.g. "precondition_failed")."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class Record(dict):
    """A customer as JSON, with the ETag to send back as `if_match`."""

    def __init__(self, fields, etag=None):
        super().__init__(fields)
        self.etag = etag


class Client:
    def __init__(self, base_url, token, timeout=30):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    # --- customers -------------------------------------------------------------------------

    def search(self, q=None, status=None, limit=None, after=None):
        """One page: {"customers": [...], "next": cursor or None}."""
        return self._json("GET", "/v1/customers", query={"q": q, "status": status,
                                                          "limit": limit, "after": after})

    def search_all(self, q=None, status=None, limit=200):
        """Every match, page after page."""
        after = None
        while True:
            page = self.search(q=q, status=status, limit=limit, after=after)
            yield from page["customers"]
            after = page.get("next")
            if not after:
                return

    def get(self, customer_id):
        return self._record("GET", f"/v1/customers/{_quote(customer_id)}")

    def by_number(self, number):
        return self._record("GET", f"/v1/customers/by-number/{_quote(number)}")

    def create(self, fields):
        return self._record("POST", "/v1/customers", body=fields)

    def update(self, customer_id, fields, if_match=None):
        """Changes `fields`; with `if_match` (a Record's etag) only if nobody changed it since."""
        headers = {"If-Match": if_match} if if_match else {}
        return self._record("PATCH", f"/v1/customers/{_quote(customer_id)}", body=fields,
                            headers=headers)

    def deactivate(self, customer_id):
        return self._step(customer_id, "deactivate")

    def reactivate(self, customer_id):
        return self._step(customer_id, "reactivate")

    def delete(self, customer_id):
        return self._step(customer_id, "delete")

    def restore(self, customer_id):
        return self._step(customer_id, "restore")

    def erase(self, customer_id):
        return self._step(customer_id, "erase")

    def merge(self, survivor_id, absorb, take=None):
        """Merges the customers `absorb` into `survivor_id`; `take` {field: id} picks values."""
        body = {"absorb": list(absorb)}
        if take:
            body["take"] = dict(take)
        return self._record("POST", f"/v1/customers/{_quote(survivor_id)}/merge", body=body)

    def history(self, customer_id):
        return self._json("GET", f"/v1/customers/{_quote(customer_id)}/history")

    # --- the site --------------------------------------------------------------------------

    def status(self):
        return self._json("GET", "/v1/status")

    def settings(self):
        return self._json("GET", "/v1/settings")

    def conflicts(self):
        return self._json("GET", "/v1/conflicts")

    # --- the change feed -------------------------------------------------------------------

    def changes(self, after=None, limit=None, wait=None):
        """One page of the feed: {"events": [...], "next": cursor}. `wait`: long-poll seconds."""
        timeout = self.timeout + (wait or 0)
        return self._json("GET", "/v1/changes",
                          query={"after": after, "limit": limit, "wait": wait}, timeout=timeout)

    def follow(self, after=None, wait=30):
        """Every event from `after` on, for ever, by long polls: (event, cursor after it)."""
        while True:
            page = self.changes(after=after, wait=wait)
            for event in page["events"]:
                yield event, event["cursor"]
            after = page["next"]

    def stream(self, after=None, timeout=None):
        """The Server-Sent Events stream: each event as a dict (its `cursor` resumes it).

        Ends when the server ends the stream; an `error` event raises ApiError. Reconnect with
        the last event's cursor as `after` to miss nothing. `timeout`: seconds a read may wait
        (the server sends a keepalive every 15 s); None waits for ever."""
        headers = {"Accept": "text/event-stream"}
        if after is not None:
            headers["Last-Event-ID"] = str(after)
        response = self._open("GET", "/v1/changes/stream", headers=headers, timeout=timeout)
        with response:
            kind, data = "message", []
            for raw in response:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith(":"):
                    continue  # a keepalive
                if line:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "event":
                        kind = value
                    elif name == "data":
                        data.append(value)
                    continue
                if data:
                    payload = json.loads("\n".join(data))
                    if kind == "error":
                        error = payload.get("error", {})
                        raise ApiError(200, error.get("code", "error"), error.get("message", ""))
                    yield payload
                kind, data = "message", []

    # --- plumbing --------------------------------------------------------------------------

    def _step(self, customer_id, step):
        return self._record("POST", f"/v1/customers/{_quote(customer_id)}/{step}")

    def _record(self, method, path, body=None, headers=None):
        response = self._open(method, path, body=body, headers=headers)
        with response:
            return Record(json.load(response), response.headers.get("ETag"))

    def _json(self, method, path, query=None, body=None, timeout=None):
        response = self._open(method, path, query=query, body=body,
                              timeout=timeout or self.timeout)
        with response:
            return json.load(response)

    def _open(self, method, path, query=None, body=None, headers=None, timeout=0):
        url = self.base_url + path
        if query:
            pairs = {k: v for k, v in query.items() if v is not None}
            if pairs:
                url += "?" + urllib.parse.urlencode(pairs)
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout if timeout == 0 else timeout)
        except urllib.error.HTTPError as e:
            with e:
                raw = e.read()
            try:
                error = json.loads(raw)["error"]
                raise ApiError(e.code, error["code"], error["message"]) from None
            except (ValueError, KeyError, TypeError):
                raise ApiError(e.code, "http_error", raw.decode("utf-8", "replace")) from None


def _quote(text):
    return urllib.parse.quote(str(text), safe="")
