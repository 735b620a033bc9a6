#!/usr/bin/env python3
"""The Python client (tools/clients/python) against a running node: `sitesync serve --api` on
loopback with a real store in a temporary directory. ctest runs it as `python.client`:

    client_test.py SITESYNC_BINARY
"""

import os
import queue
import sys
import threading
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "clients", "python"))

from sitesync_client import ApiError, Client  # noqa: E402
from served_node import Node  # noqa: E402

SITESYNC = None  # set from argv


class ClientAgainstANode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node(SITESYNC, (("ada", "admin"), ("sami", "staff"), ("veera", "viewer")))
        cls.staff = Client(cls.node.url, cls.node.tokens["sami"], timeout=10)
        cls.viewer = Client(cls.node.url, cls.node.tokens["veera"], timeout=10)

    @classmethod
    def tearDownClass(cls):
        cls.node.close()

    def test_creates_and_reads_a_customer_with_its_etag(self):
        made = self.staff.create({"name": "Aino Virtanen", "phone": "+358 40 123 4567"})
        self.assertEqual(made["name"], "Aino Virtanen")
        self.assertTrue(made.etag.startswith('"'))
        again = self.viewer.get(made["id"])
        self.assertEqual(again["phone"], made["phone"])
        self.assertEqual(again.etag, made.etag)
        self.assertEqual(self.viewer.by_number(made["number"])["id"], made["id"])

    def test_an_edit_with_a_stale_etag_is_refused_with_412_and_writes_nothing(self):
        made = self.staff.create({"name": "Eetu Korhonen"})
        edited = self.staff.update(made["id"], {"invoice_city": "Oulu"}, if_match=made.etag)
        self.assertEqual(edited["invoice_city"], "Oulu")
        with self.assertRaises(ApiError) as refused:
            self.staff.update(made["id"], {"invoice_city": "Turku"}, if_match=made.etag)
        self.assertEqual(refused.exception.status, 412)
        self.assertEqual(refused.exception.code, "precondition_failed")
        self.assertEqual(self.viewer.get(made["id"])["invoice_city"], "Oulu")

    def test_a_viewer_may_not_create_403(self):
        with self.assertRaises(ApiError) as refused:
            self.viewer.create({"name": "Not Allowed"})
        self.assertEqual(refused.exception.status, 403)
        self.assertEqual(refused.exception.code, "forbidden")
        names = [c["name"] for c in self.viewer.search_all(q="allowed")]
        self.assertNotIn("Not Allowed", names)

    def test_searches_page_by_page(self):
        made = {self.staff.create({"name": f"Sanna Lehtinen {i}"})["id"] for i in range(5)}
        first = self.viewer.search(q="lehtinen", limit=2)
        self.assertEqual(len(first["customers"]), 2)
        self.assertIsNotNone(first["next"])
        found = {c["id"] for c in self.viewer.search_all(q="lehtinen", limit=2)}
        self.assertEqual(found, made)

    def test_merges_a_duplicate_into_the_survivor(self):
        survivor = self.staff.create({"name": "Mikko Nieminen", "phone": "+358 50 111 2222"})
        duplicate = self.staff.create({"name": "Mikko Nieminen", "email": "mikko@example.fi"})
        merged = self.staff.merge(survivor["id"], [duplicate["id"]],
                                  take={"email": duplicate["id"]})
        self.assertEqual(merged["id"], survivor["id"])
        self.assertEqual(merged["email"], "mikko@example.fi")
        self.assertEqual(merged["phone"], "+358 50 111 2222")
        with self.assertRaises(ApiError) as gone:
            self.staff.update(duplicate["id"], {"name": "Too late"})
        self.assertEqual(gone.exception.status, 409)

    def test_follows_the_stream_and_resumes_after_the_last_event(self):
        start = self.viewer.changes(limit=1000)
        while start["events"]:
            start = self.viewer.changes(after=start["next"], limit=1000)
        events = queue.Queue()

        def follow():
            try:
                for event in self.viewer.stream(after=start["next"], timeout=30):
                    events.put(event)
            except Exception as e:  # ends with the node
                events.put(e)

        threading.Thread(target=follow, daemon=True).start()
        made = self.staff.create({"name": "Liisa Mäkelä"})
        event = events.get(timeout=10)
        self.assertNotIsInstance(event, Exception)
        self.assertEqual(event["customer"], made["id"])
        self.assertEqual(event["kind"], "create")
        self.assertEqual(event["user"], "sami")
        self.assertEqual(event["fields"]["name"], "Liisa Mäkelä")
        # Resumed after that event: the next one, not it again.
        self.staff.update(made["id"], {"phone": "+358 44 555 6666"})
        resumed = next(self.viewer.stream(after=event["cursor"], timeout=10))
        self.assertEqual(resumed["kind"], "update")
        self.assertEqual(resumed["fields"], {"phone": "+358 44 555 6666"})


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: client_test.py SITESYNC_BINARY")
    SITESYNC = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
