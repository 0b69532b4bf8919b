#!/usr/bin/env python3
"""An agent that shares experiences through a PulseSync hub.

It joins a collective (creating it with --create, or waiting until another peer's
creation arrives), records each --record text as an experience there, and prints every
other peer's change as it arrives, one JSON object per line. It runs until SIGINT
(Ctrl-C) or SIGTERM, then prints a summary line of what it pushed and received.

    PYTHONPATH=client/python:STUBS /usr/bin/python3 client/python/examples/agent.py \\
        --hub 127.0.0.1:7070 --collective team --create --record "retry with backoff"

With --expect N it also prints {"event": "converged"} once N changes of others arrived,
so a script can tell when the peers have caught up with each other.
"""

import argparse
import json
import signal
import sys
import threading

import grpc

from pulsesync import (
    HubClient,
    collective_change,
    created_collective,
    created_experience,
    experience_change,
    id_text,
    payload_kind,
)


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def describe(change):
    experience, collective = created_experience(change), created_collective(change)
    return {
        "origin": id_text(change.source_instance),
        "sequence": change.sequence,
        "kind": payload_kind(change),
        "text": experience.content if experience else collective.name if collective else "",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hub", default="127.0.0.1:7070", help="the hub's host:port")
    parser.add_argument("--token", help="bearer token, when the hub checks tokens")
    parser.add_argument("--collective", required=True, help="name of the collective to share")
    parser.add_argument("--create", action="store_true", help="create the collective")
    parser.add_argument("--dimension", type=int, default=4, help="embedding length (--create)")
    parser.add_argument("--record", action="append", default=[], help="an experience to record")
    parser.add_argument("--name", default="python-agent", help="source_agent of the records")
    parser.add_argument("--expect", type=int, default=0, help="report convergence after N")
    args = parser.parse_args()

    # A signal only sets a flag: the loop below sees it at the next event, and the hub
    # sends one (a heartbeat) at least every heartbeat interval.
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())

    client = HubClient(args.hub, token=args.token)
    client.handshake()
    emit("ready", agent=args.name, instance=id_text(client.instance_id))
    pushed, received = [], []
    collective = None
    if args.create:
        change = collective_change(args.collective, args.dimension)
        client.push([change])
        pushed.append(describe(change))
        collective = created_collective(change)

    subscription = client.subscribe(heartbeat_ms=200)
    try:
        follow(args, client, subscription, collective, pushed, received, stopping)
    except grpc.RpcError as error:  # the hub went away, refused a call, ...
        emit("error", code=error.code().name, details=error.details())
        return 1
    finally:
        subscription.cancel()
        client.close()
    emit("summary", instance=id_text(client.instance_id), pushed=pushed, received=received)
    return 0


def follow(args, client, subscription, collective, pushed, received, stopping):
    """Prints others' changes as they arrive; records ours once the collective is known."""
    recorded = converged = False
    for event in subscription.events():
        for change in event.changes:
            received.append(describe(change))
            emit("received", **received[-1])
            found = created_collective(change)
            if collective is None and found is not None and found.name == args.collective:
                collective = found
        if collective is not None and not recorded:
            records = [experience_change(collective, text, source_agent=args.name) for text in args.record]
            client.push(records)
            for change in records:
                pushed.append(describe(change))
                emit("recorded", **pushed[-1])
            recorded = True
        if args.expect and len(received) >= args.expect and not converged:
            emit("converged", received=len(received))
            converged = True
        if stopping.is_set():
            return


if __name__ == "__main__":
    sys.exit(main())
