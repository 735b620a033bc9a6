#!/usr/bin/env python3
"""Follows a sitesync node's change stream and prints one line per event.

    SITESYNC_TOKEN=... ./follow_changes.py http://127.0.0.1:7380 [--cursor-file FILE] [--max N]

The cursor of the last event handled is kept in --cursor-file (if given), so that a restart of
this program or of the node neither misses nor repeats an event: the stream is resumed after it.
"""

import argparse
import os
import sys
import time

from sitesync_client import ApiError, Client


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the node's API, e.g. http://127.0.0.1:7380")
    parser.add_argument("--cursor-file", help="where the last cursor handled is kept")
    parser.add_argument("--max", type=int, default=0, help="stop after this many events")
    args = parser.parse_args()
    token = os.environ.get("SITESYNC_TOKEN")
    if not token:
        sys.exit("follow_changes: set SITESYNC_TOKEN to a token from `sitesync users add`")
    api = Client(args.url, token)
    cursor = None
    if args.cursor_file and os.path.exists(args.cursor_file):
        with open(args.cursor_file) as f:
            cursor = f.read().strip() or None
    seen = 0
    while True:
        try:
            for event in api.stream(after=cursor):
                fields = ", ".join(f"{k}={v!r}" for k, v in event["fields"].items())
                print(f"{event['cursor']} {event['kind']} {event['customer']} by {event['user']}"
                      f" at {event['site']}: {fields}", flush=True)
                cursor = event["cursor"]
                if args.cursor_file:
                    with open(args.cursor_file + ".tmp", "w") as f:
                        f.write(cursor)
                    os.replace(args.cursor_file + ".tmp", args.cursor_file)
                seen += 1
                if args.max and seen >= args.max:
                    return 0
        except ApiError as e:
            if e.code in ("unauthorized", "cursor_expired"):
                sys.exit(f"follow_changes: {e}")
            print(f"follow_changes: {e}; reconnecting", file=sys.stderr)
        except OSError as e:  # the node restarted or the network dropped: resume after `cursor`
            print(f"follow_changes: {e}; reconnecting", file=sys.stderr)
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
