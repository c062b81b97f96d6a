"""A stand-in openpi policy server for interoperability checks (tooling only; never needed by npm test).

Speaks openpi's websocket protocol with Python's msgpack and numpy, the way openpi's server does: metadata on
connect, numpy arrays as maps with binary keys (__ndarray__, data, dtype, shape), replies with "actions" and
"server_timing". The "policy" is a formula of the request so the client side can check every number:
actions[t][d] = state[d % len(state)] + 0.01 * t + 0.001 * image.sum() % 1, as float32 [horizon, action_dim].

    python openpi_style_server.py PORT [HORIZON] [ACTION_DIM]
"""

import asyncio
import sys
import time

import msgpack
import numpy as np
import websockets.asyncio.server as ws_server


def pack_default(obj):
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in ("V", "O", "c"):
            raise ValueError(f"refusing dtype {obj.dtype}")
        return {b"__ndarray__": True, b"data": obj.tobytes(), b"dtype": obj.dtype.str, b"shape": obj.shape}
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    return obj


def unpack_hook(obj):
    if b"__ndarray__" in obj:
        return np.ndarray(buffer=obj[b"data"], dtype=np.dtype(obj[b"dtype"]), shape=obj[b"shape"])
    if b"__npgeneric__" in obj:
        return np.dtype(obj[b"dtype"]).type(obj[b"data"])
    return obj


def pack(obj):
    return msgpack.packb(obj, default=pack_default, use_bin_type=True)


def unpack(data):
    return msgpack.unpackb(data, object_hook=unpack_hook, raw=False)


HORIZON = int(sys.argv[2]) if len(sys.argv) > 2 else 10
ACTION_DIM = int(sys.argv[3]) if len(sys.argv) > 3 else 7


def policy(obs):
    state = np.asarray(obs["observation/state"], dtype=np.float64)
    image = obs.get("observation/image")
    offset = float(image.astype(np.int64).sum() % 1000) * 0.001 if image is not None else 0.0
    t = np.arange(HORIZON)[:, None]
    d = np.arange(ACTION_DIM)[None, :]
    actions = state[d % state.shape[0]] + 0.01 * t + offset
    return {"actions": actions.astype(np.float32), "echo_prompt": obs["prompt"], "image_shape": np.asarray(image.shape if image is not None else (0,))}


async def handler(websocket):
    await websocket.send(pack({"server": "openpi-style reference", "action_dim": ACTION_DIM, "horizon": np.int64(HORIZON)}))
    prev_total = None
    async for message in websocket:
        start = time.monotonic()
        obs = unpack(message)
        infer_start = time.monotonic()
        reply = policy(obs)
        reply["server_timing"] = {"infer_ms": (time.monotonic() - infer_start) * 1000}
        if prev_total is not None:
            reply["server_timing"]["prev_total_ms"] = prev_total * 1000
        await websocket.send(pack(reply))
        prev_total = time.monotonic() - start


async def main():
    port = int(sys.argv[1])
    async with ws_server.serve(handler, "127.0.0.1", port, compression=None, max_size=None):
        print("ready", flush=True)
        await asyncio.Future()


asyncio.run(main())
