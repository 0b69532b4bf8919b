"""Subscription: one live Subscribe stream of a HubClient.

Iterating it yields the changes other peers make, catch-up first, then live as they
commit; `events()` yields the raw SubscribeEvents, heartbeats included, for a reader
that wants control back regularly (to check a deadline, say). Either advances the
client's pull cursor past an event once the reader asks for what follows it, so a
later pull() or subscribe() resumes there: delivery is at least once, and exactly once
when the reader keeps going.

cancel() may be called from any thread; the iteration then ends quietly.
"""

import threading

import grpc


class Subscription:
    def __init__(self, client, call):
        self._client = client
        self._call = call
        self._cancelled = threading.Event()

    def events(self):
        try:
            for event in self._call:
                yield event
                self._client._advance_cursor(event.cursor.last_sequence)
        except grpc.RpcError as error:
            if self._cancelled.is_set() and error.code() == grpc.StatusCode.CANCELLED:
                return
            raise

    def __iter__(self):
        for event in self.events():
            yield from event.changes

    def cancel(self):
        self._cancelled.set()
        self._call.cancel()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cancel()
        return False
