"""A "vla-policy" server written from docs/remote-policies.md alone: the shape of a wrapper around a Python model
(tooling; not needed by the runtime). Its "model" returns a 10-step chunk that moves every joint by +0.01 rad per
step from the observed positions, at a 0.1 s step period.

    python vla_policy_server.py tcp://127.0.0.1:5555
"""

import math
import sys

import msgpack
import zmq

PROTOCOL, VERSION = "vla-policy", 1


def reply(request_id, **fields):
    return msgpack.packb({"protocol": PROTOCOL, "version": VERSION, "id": request_id, **fields}, use_bin_type=True)


def handle(raw):
    try:
        # Plain msgpack only: no ext hook, so any extension type arrives as msgpack.ExtType and is refused below.
        message = msgpack.unpackb(raw, raw=False, strict_map_key=True)
    except Exception as error:  # malformed bytes: answer anyway, REP must reply to every request
        return reply(0, kind="error", error=f"malformed msgpack: {error}")
    if not isinstance(message, dict):
        return reply(0, kind="error", error="expected the request as a map")
    request_id = message.get("id", 0) if isinstance(message.get("id"), int) else 0
    if message.get("protocol") != PROTOCOL or message.get("version") != VERSION:
        return reply(request_id, kind="error", error="unsupported protocol or version")
    if message.get("type") == "metadata":
        return reply(request_id, kind="metadata", server="python example", action_dim=4, step_period_s=0.1, output="actions")
    observation = message.get("observation")
    positions = observation.get("positions") if isinstance(observation, dict) else None
    if not isinstance(positions, list) or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in positions):
        return reply(request_id, kind="error", error="expected observation.positions as finite numbers")
    actions = [[p + 0.01 * (t + 1) for p in positions] for t in range(10)]
    return reply(request_id, kind="actions", actions=actions, step_period_s=0.1, infer_ms=0.0)


context = zmq.Context()
socket = context.socket(zmq.REP)
socket.setsockopt(zmq.LINGER, 0)
socket.setsockopt(zmq.MAXMSGSIZE, 32 * 1024 * 1024)  # larger requests drop the connection
socket.bind(sys.argv[1])
print("ready", flush=True)
while True:
    socket.send(handle(socket.recv()))
