"""A C++ peer (SyncManager over a Store), the Python example agent and the Node example
agent sync through one real hub: each one's changes reach the other two exactly once,
and nothing comes back to its origin.

The C++ peer creates the collective and records an experience; the agents join that
collective when its creation reaches them and record one experience each. A second case
runs the two agents as docs/clients.md shows them, the Python one creating the collective. Every peer
prints JSON lines; once all three report "converged", each is stopped with SIGTERM and
prints a summary of what it pushed and received, which this test compares. Waits are on
those lines, with deadlines.

Needs PULSE_HUB_BINARY, CPP_PEER, PYTHON_AGENT, NODE_AGENT and the Python client with its
stubs on PYTHONPATH; run through converge_test.sh.
"""

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from collections import Counter

from pulsesync import HubClient, id_text
from pulsesync.testing import HubProcess

DEADLINE_S = 30.0
COLLECTIVE = "cross-language"


class Peer:
    """A peer process whose stdout JSON lines are collected by a reader thread."""

    def __init__(self, name, argv):
        self.name = name
        self.lines = queue.Queue()
        self.seen = []
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)  # EOF

    def wait_for(self, event, deadline):
        """The first line of `event`, or None at EOF or past the deadline."""
        for line in self.seen:
            if line.get("event") == event:
                return line
        while True:
            try:
                raw = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if raw is None:
                return None
            line = json.loads(raw)
            self.seen.append(line)
            if line.get("event") == event:
                return line

    def stop(self, deadline):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        summary = self.wait_for("summary", deadline)
        try:
            code = self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            code = None
        return summary, code

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


class ConvergeTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        # Fine-grained heartbeats: the agents notice a stop signal at the next event.
        self.hub = HubProcess(
            os.environ["PULSE_HUB_BINARY"],
            os.path.join(self.dir, "hub"),
            ["--heartbeat_interval=200ms"],
        ).start()
        self.addCleanup(lambda: self.assertEqual(self.hub.stop(), 0))

    def start(self, name, argv):
        peer = Peer(name, argv)
        self.addCleanup(peer.kill)
        return peer

    def python_agent(self, *flags):
        return self.start("python", [
            sys.executable, os.environ["PYTHON_AGENT"], "--hub", self.hub.address, *flags])

    def node_agent(self, *flags):
        return self.start("node", [
            "node", os.environ["NODE_AGENT"], "--hub", self.hub.address, *flags])

    def test_three_languages_converge_exactly_once(self):
        peers = [
            self.start("cpp", [
                os.environ["CPP_PEER"], f"--hub={self.hub.address}",
                f"--data_dir={os.path.join(self.dir, 'cpp')}",
                f"--collective={COLLECTIVE}", "--record=lesson from C++", "--expect=2",
            ]),
            self.python_agent("--collective", COLLECTIVE, "--record", "lesson from Python",
                              "--expect", "3"),
            self.node_agent("--collective", COLLECTIVE, "--record", "lesson from Node",
                            "--expect", "3"),
        ]
        pushed = self.converge_exactly_once(peers)
        self.assertEqual([k[2] for k in pushed["cpp"]], ["collective_created", "experience_created"])
        self.assertEqual([k[3] for k in pushed["python"]], ["lesson from Python"])
        self.assertEqual([k[3] for k in pushed["node"]], ["lesson from Node"])

    def test_the_agents_as_docs_clients_md_runs_them(self):
        # The page's commands, plus the hub's address and --expect.
        peers = [
            self.python_agent("--collective", "team", "--create", "--record",
                              "retry with backoff", "--expect", "1"),
            self.node_agent("--collective", "team", "--record", "prefer small commits",
                            "--expect", "2"),
        ]
        pushed = self.converge_exactly_once(peers)
        self.assertEqual([k[3] for k in pushed["python"]], ["team", "retry with backoff"])
        self.assertEqual([k[3] for k in pushed["node"]], ["prefer small commits"])

    def converge_exactly_once(self, peers):
        """Waits for every peer to converge, stops them, checks that each received every
        other peer's changes exactly once and none of its own, and that the hub's log
        holds each change once. Returns what each pushed, by peer name."""
        deadline = time.monotonic() + DEADLINE_S
        for peer in peers:
            self.assertIsNotNone(
                peer.wait_for("converged", deadline), f"{peer.name} did not converge: {peer.seen}"
            )
        summaries = {}
        for peer in peers:
            summary, code = peer.stop(time.monotonic() + DEADLINE_S)
            self.assertIsNotNone(summary, f"{peer.name} printed no summary: {peer.seen}")
            self.assertEqual(code, 0, f"{peer.name} exit code")
            summaries[peer.name] = summary

        def key(change):
            return (change["origin"], change["sequence"], change["kind"], change["text"])

        pushed = {name: [key(c) for c in s["pushed"]] for name, s in summaries.items()}
        for name, summary in summaries.items():
            received = Counter(key(c) for c in summary["received"])
            expected = Counter(k for other in pushed if other != name for k in pushed[other])
            self.assertEqual(received, expected, f"{name} received")
            self.assertNotIn(summary["instance"], {k[0] for k in received}, f"{name} echo")

        observer = HubClient(self.hub.address)
        self.addCleanup(observer.close)
        logged = Counter((id_text(c.source_instance), c.sequence) for c in observer.pull())
        self.assertEqual(logged, Counter(k[:2] for changes in pushed.values() for k in changes))
        return pushed


if __name__ == "__main__":
    unittest.main(verbosity=2)
