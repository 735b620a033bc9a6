"""What the Python tests share: a site serving the API (`sitesync serve --api 127.0.0.1:0`) on
a store in a temporary directory, with one user per role asked for."""

import os
import shutil
import subprocess
import tempfile
import urllib.parse


def run(sitesync, *args):
    done = subprocess.run([sitesync, *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"sitesync {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


class Node:
    """A site serving the API. `users`: (name, role) pairs; `tokens[name]` is each one's."""

    def __init__(self, sitesync, users):
        self.dir = tempfile.mkdtemp(prefix="sitesync-py-")
        self.data = os.path.join(self.dir, "site")
        run(sitesync, "init", "--data", self.data, "--site", "Branch Tampere")
        self.tokens = {name: run(sitesync, "users", "add", "--data", self.data, "--name", name,
                                 "--role", role).strip().splitlines()[-1]
                       for name, role in users}
        self.process = subprocess.Popen(
            [sitesync, "serve", "--data", self.data, "--listen", "tcp://127.0.0.1:*",
             "--api", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = None
        for line in self.process.stdout:
            if line.startswith("api on "):
                self.url = line[len("api on "):].strip()
                break
        if not self.url:
            self.close()
            raise AssertionError("serve did not say where its API is")
        address = urllib.parse.urlsplit(self.url)
        self.host, self.port = address.hostname, address.port

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.process.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)
