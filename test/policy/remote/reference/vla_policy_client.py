"""A client of the "vla-policy" ZeroMQ protocol written from docs/remote-policies.md alone (tooling; it shows the
protocol can be spoken without this project's code). Sends a metadata request and one infer request, prints the
replies as JSON lines.

    python vla_policy_client.py tcp://127.0.0.1:5555
"""

import json
import sys

import msgpack
import zmq

endpoint = sys.argv[1]
context = zmq.Context()
socket = context.socket(zmq.REQ)
socket.setsockopt(zmq.LINGER, 0)
socket.setsockopt(zmq.RCVTIMEO, 5000)
socket.connect(endpoint)


def call(message):
    socket.send(msgpack.packb(message, use_bin_type=True))
    reply = msgpack.unpackb(socket.recv(), raw=False)
    assert reply["protocol"] == "vla-policy" and reply["version"] == 1 and reply["id"] == message["id"], reply
    return reply


print(json.dumps(call({"protocol": "vla-policy", "version": 1, "id": 1, "type": "metadata"})), flush=True)
observation = {
    "time_ns": 1_000_000_000,
    "positions": [0.5, -0.25, 0.125, 0.03125],
    "velocities": [0.0, 0.0, 0.0, 0.0],
    "wrench": [0.0, 0.0, 2.5, 0.0, 0.0, 0.0],
    "tactile": [0.0, 1.0],
    "image": {"height": 2, "width": 2, "channels": 3, "data": bytes(range(12))},
    "instruction": "wipe the marked area",
}
print(json.dumps(call({"protocol": "vla-policy", "version": 1, "id": 2, "type": "infer", "observation": observation})), flush=True)
