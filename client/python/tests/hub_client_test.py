"""HubClient against a real pulse_hub: relaying between two Python peers, no echo, cursors
and pages, live subscriptions, retries, reused identities, rejections and tokens.

Needs PULSE_HUB_BINARY (the hub) and the generated stubs on PYTHONPATH; run through
hub_client_test.sh (bazel test //client/python:hub_client_test).
"""

import os
import tempfile
import time
import unittest

import grpc

from pulsesync import (
    HubClient,
    PushRejected,
    collective_change,
    created_collective,
    created_experience,
    experience_change,
    payload_kind,
)
from pulsesync.testing import HubProcess

DEADLINE_S = 20.0


class HubTestCase(unittest.TestCase):
    hub_flags = ("--heartbeat_interval=200ms",)  # also makes the hub's ticker fine-grained

    def setUp(self):
        self._dir = tempfile.TemporaryDirectory(dir=os.environ.get("TEST_TMPDIR"))
        self.addCleanup(self._dir.cleanup)
        self.hub = HubProcess(
            os.environ["PULSE_HUB_BINARY"], os.path.join(self._dir.name, "hub"), self.hub_flags
        ).start()
        self.addCleanup(self._stop_hub)

    def _stop_hub(self):
        self.assertEqual(self.hub.stop(), 0)

    def client(self, **kwargs):
        client = HubClient(self.hub.address, **kwargs)
        self.addCleanup(client.close)
        return client

    def team(self, client, dimension=4):
        """Pushes a new collective from `client`; returns it."""
        change = collective_change("team", dimension)
        client.push([change])
        return created_collective(change)


class RelayTest(HubTestCase):
    def test_a_change_reaches_the_other_peer_and_is_never_echoed(self):
        alice, bob = self.client(), self.client()
        collective_push = collective_change("team", 4)
        team = created_collective(collective_push)
        lesson = experience_change(team, "retry with backoff", embedding=[0.1, 0.2, 0.3, 0.4])
        result = alice.push([collective_push, lesson])
        self.assertEqual((collective_push.sequence, lesson.sequence), (1, 2))
        self.assertEqual(result.acknowledged, 2)
        self.assertEqual(alice.next_sequence, 3)

        received = list(bob.pull())
        self.assertEqual(
            [(c.source_instance, c.sequence, payload_kind(c)) for c in received],
            [
                (alice.instance_id, 1, "collective_created"),
                (alice.instance_id, 2, "experience_created"),
            ],
        )
        self.assertEqual(created_experience(received[1]).content, "retry with backoff")
        self.assertLess(received[0].log_sequence, received[1].log_sequence)
        self.assertEqual(bob.cursor, received[1].log_sequence)

        self.assertEqual(list(alice.pull()), [])  # nothing comes back to its origin
        self.assertEqual(alice.cursor, bob.cursor)  # though the cursor passes it
        self.assertEqual(list(bob.pull()), [])  # and the cursor was followed

    def test_pull_follows_cursors_across_pages(self):
        alice, bob = self.client(), self.client()
        team = self.team(alice)
        alice.push([experience_change(team, f"lesson {i}") for i in range(5)])
        received = list(bob.pull(batch_size=2))
        self.assertEqual([c.sequence for c in received], [1, 2, 3, 4, 5, 6])
        self.assertEqual(list(bob.pull(batch_size=2)), [])

    def test_a_retried_push_is_acknowledged_as_a_duplicate_not_applied_twice(self):
        alice, bob = self.client(), self.client()
        team = self.team(alice)
        lesson = experience_change(team, "once")
        alice.push([lesson])
        again = alice.push([lesson])  # as after a push whose reply was lost
        self.assertEqual((again.accepted, again.duplicates), (1, 1))
        self.assertEqual([c.sequence for c in bob.pull()], [1, 2])

    def test_a_reused_identity_continues_after_what_the_hub_acknowledged(self):
        alice, bob = self.client(), self.client()
        team = self.team(alice)
        alice.push([experience_change(team, "before restart")])
        restarted = self.client(instance_id=alice.instance_id)
        restarted.handshake()
        self.assertEqual(restarted.next_sequence, 3)
        restarted.push([experience_change(team, "after restart")])
        contents = [created_experience(c).content for c in bob.pull() if created_experience(c)]
        self.assertEqual(contents, ["before restart", "after restart"])

    def test_a_rejected_change_is_renumbered_when_pushed_again(self):
        alice, bob = self.client(), self.client()
        pending = collective_change("later", 4)
        orphan = experience_change(created_collective(pending), "needs its collective")
        with self.assertRaises(PushRejected) as raised:
            alice.push([orphan])
        self.assertEqual((raised.exception.sequence, raised.exception.acknowledged), (1, 0))
        self.assertEqual(orphan.sequence, 0)
        alice.push([pending])  # sequence 2
        alice.push([orphan])  # sequence 3: a fresh number, not taken for a replay of 1
        self.assertEqual(
            [payload_kind(c) for c in bob.pull()], ["collective_created", "experience_created"]
        )

    def test_an_embedding_of_the_wrong_length_is_refused_before_sending(self):
        team = created_collective(collective_change("team", 4))
        with self.assertRaises(ValueError):
            experience_change(team, "short", embedding=[1.0, 2.0])


class StreamedPushTest(HubTestCase):
    hub_flags = ("--max_batch_size=2",)  # five changes make three batches

    def unary_push_forbidden(self, client):
        def refuse(*args, **kwargs):
            raise AssertionError("a push of several batches went out as unary Push calls")

        client._sync.Push = refuse

    def test_several_batches_go_on_one_push_stream_in_order(self):
        alice, bob = self.client(), self.client()
        team = self.team(alice)  # one batch: a unary Push
        self.unary_push_forbidden(alice)
        result = alice.push([experience_change(team, f"note {i}") for i in range(5)])
        self.assertEqual((result.accepted, result.acknowledged), (5, 6))
        contents = [created_experience(c).content for c in bob.pull() if created_experience(c)]
        self.assertEqual(contents, [f"note {i}" for i in range(5)])

    def test_a_rejection_in_a_streamed_batch_stops_there(self):
        alice, bob = self.client(), self.client()
        team = self.team(alice)
        self.unary_push_forbidden(alice)
        pending = collective_change("later", 4)
        orphan = experience_change(created_collective(pending), "needs its collective")
        changes = [
            experience_change(team, "first"),
            experience_change(team, "second"),
            experience_change(team, "third"),
            orphan,
            experience_change(team, "after"),
        ]
        with self.assertRaises(PushRejected) as raised:
            alice.push(changes)  # batches (2, 3), (4, 5), (6): the orphan is 5
        self.assertEqual((raised.exception.sequence, raised.exception.acknowledged), (5, 4))
        self.assertEqual([c.sequence for c in changes], [2, 3, 4, 0, 0])
        contents = [created_experience(c).content for c in bob.pull() if created_experience(c)]
        self.assertEqual(contents, ["first", "second", "third"])


class SubscribeTest(HubTestCase):
    def test_a_subscriber_receives_a_change_pushed_after_it_subscribed(self):
        alice, bob = self.client(), self.client()
        team = self.team(alice)
        bob.cursor = bob.handshake().head_sequence  # only what comes next
        alice_sub = alice.subscribe(heartbeat_ms=100, timeout=DEADLINE_S)
        bob_sub = bob.subscribe(heartbeat_ms=100, timeout=DEADLINE_S)
        self.addCleanup(alice_sub.cancel)
        self.addCleanup(bob_sub.cancel)
        bob_events, alice_events = bob_sub.events(), alice_sub.events()
        next(bob_events)  # the hub's first event: the stream is open
        next(alice_events)

        lesson = experience_change(team, "pushed while subscribed")
        alice.push([lesson])
        arrived = self._first_change(bob_events)
        self.assertEqual(
            (arrived.source_instance, arrived.sequence), (alice.instance_id, lesson.sequence)
        )
        self.assertEqual(created_experience(arrived).content, "pushed while subscribed")

        # Alice's own stream moves past her change without ever carrying it.
        deadline = time.monotonic() + DEADLINE_S
        while alice.cursor < arrived.log_sequence:
            self.assertLess(time.monotonic(), deadline, "alice's stream never moved on")
            self.assertEqual(list(next(alice_events).changes), [])

    def test_cancel_ends_the_iteration_quietly(self):
        bob = self.client()
        subscription = bob.subscribe(heartbeat_ms=100, timeout=DEADLINE_S)
        events = subscription.events()
        next(events)
        subscription.cancel()
        self.assertEqual(list(events), [])

    def _first_change(self, events):
        deadline = time.monotonic() + DEADLINE_S
        for event in events:  # heartbeats hand control back at least every 100 ms
            if event.changes:
                return event.changes[0]
            self.assertLess(time.monotonic(), deadline, "no change arrived")
        self.fail("the stream ended")


class TokenTest(HubTestCase):
    def setUp(self):
        tokens = os.path.join(os.environ.get("TEST_TMPDIR", tempfile.gettempdir()), "tokens")
        with open(tokens, "w") as f:
            f.write("agent-secret-token-0001 read=* write=*\n")
        self.hub_flags = HubTestCase.hub_flags + (f"--auth_tokens={tokens}",)
        super().setUp()

    def test_the_token_is_sent_on_every_call(self):
        alice = self.client(token="agent-secret-token-0001")
        bob = self.client(token="agent-secret-token-0001")
        self.team(alice)
        self.assertEqual(len(list(bob.pull())), 1)
        with self.assertRaises(grpc.RpcError) as raised:
            self.client().handshake()
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAUTHENTICATED)


if __name__ == "__main__":
    unittest.main(verbosity=2)
