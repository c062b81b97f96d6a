#!/usr/bin/env python3
"""Reference timings for FAST+: the published algorithm run with scipy's DCT and Hugging Face
`tokenizers` on the same tokenizer.json the TypeScript tokenizer loads.

Prints one JSON object on stdout: median microseconds per chunk for encode and decode at 50x7,
10x7 and 32x32, on the same smooth synthetic chunks as bench/lib/synthetic.ts (same PRNG, same
formula), plus mean tokens per chunk so both sides can be checked to see the same data. When
`transformers` is importable, the processor path (PreTrainedTokenizerFast __call__/decode, which
is what the reference processor calls) is timed too; nothing is downloaded.

Usage: python3 bench/reference/fast_reference.py [--fixtures DIR] [--chunks N]
Needs numpy, scipy, tokenizers (optional: transformers). Tooling only: the runtime never runs Python.
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np
import scipy
import tokenizers
from scipy.fft import dct, idct
from tokenizers import Tokenizer

SIZES = [(50, 7), (10, 7), (32, 32)]


def seeded_random(seed):
    """mulberry32, bit for bit as in bench/lib/synthetic.ts (32-bit wrap-around arithmetic)."""
    mask = 0xFFFFFFFF
    state = seed & mask

    def imul(a, b):
        return (a * b) & mask

    def next_value():
        nonlocal state
        state = (state + 0x6D2B79F5) & mask
        t = state
        t = imul(t ^ (t >> 15), t | 1)
        t = (t ^ ((t + imul(t ^ (t >> 7), t | 61)) & mask)) & mask
        return ((t ^ (t >> 14)) & mask) / 4294967296

    return next_value


def smooth_chunk(steps, dim, random):
    """Same draws in the same order as smoothChunk in bench/lib/synthetic.ts."""
    phases = [[random() * math.pi * 2, random() * math.pi * 2] for _ in range(dim)]
    amplitudes = [[0.3 + 0.4 * random(), 0.1 * random()] for _ in range(dim)]
    offsets = [(random() - 0.5) * 0.4 for _ in range(dim)]
    chunk = np.empty((steps, dim))
    for t in range(steps):
        s = t / max(1, steps - 1)
        for d in range(dim):
            chunk[t, d] = (
                offsets[d]
                + amplitudes[d][0] * math.sin(math.pi * s + phases[d][0])
                + amplitudes[d][1] * math.sin(3 * math.pi * s + phases[d][1])
            )
    return chunk


class ReferenceFast:
    """The FAST encode/decode steps (Pertsch et al. 2025) over a `tokenizers` BPE."""

    def __init__(self, fixtures):
        self.tokenizer = Tokenizer.from_file(os.path.join(fixtures, "tokenizer.json"))
        with open(os.path.join(fixtures, "processor_config.json")) as f:
            config = json.load(f)
        self.scale = config["scale"]
        self.min_token = config["min_token"]

    def coefficient_string(self, chunk):
        q = np.around(dct(chunk, axis=0, norm="ortho") * self.scale)
        return "".join(map(chr, np.maximum(q.flatten() - self.min_token, 0).astype(int)))

    def encode(self, chunk):
        return self.tokenizer.encode(self.coefficient_string(chunk)).ids

    def coefficients_to_actions(self, text, steps, dim):
        coefficients = np.array(list(map(ord, text))) + self.min_token
        if coefficients.size != steps * dim:
            return np.zeros((steps, dim))  # what the reference returns for a malformed sequence
        return idct(coefficients.reshape(steps, dim) / self.scale, axis=0, norm="ortho")

    def decode(self, ids, steps, dim):
        return self.coefficients_to_actions(self.tokenizer.decode(ids), steps, dim)


def median_micros(fn, items, warmup=200, batches=31, per_batch=50):
    """Median over batches of the mean time per call, cycling through `items` (like bench/lib/harness.ts)."""
    n = len(items)
    for i in range(warmup):
        fn(items[i % n])
    samples = []
    k = 0
    for _ in range(batches):
        start = time.perf_counter_ns()
        for _ in range(per_batch):
            fn(items[k % n])
            k += 1
        samples.append((time.perf_counter_ns() - start) / 1000 / per_batch)
    return statistics.median(samples)


def processor_timings(fixtures, reference, sizes):
    """The processor's own path: PreTrainedTokenizerFast from the local files (no hub access)."""
    try:
        from transformers import PreTrainedTokenizerFast
    except Exception as error:  # transformers is optional
        return {"available": False, "reason": f"transformers not importable: {type(error).__name__}"}
    import transformers

    fast = PreTrainedTokenizerFast(tokenizer_file=os.path.join(fixtures, "tokenizer.json"), clean_up_tokenization_spaces=False)
    results = {"available": True, "transformers": transformers.__version__}
    for (steps, dim), (chunks, ids) in sizes.items():
        encode = median_micros(lambda c: fast(reference.coefficient_string(c))["input_ids"], chunks)
        decode = median_micros(lambda t: reference.coefficients_to_actions(fast.decode(t), steps, dim), ids)
        results[f"{steps}x{dim}"] = {"encode_us": round(encode, 2), "decode_us": round(decode, 2)}
    return results


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_fixtures = os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "fixtures", "fast_plus"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fixtures", default=default_fixtures, help="folder with tokenizer.json and processor_config.json")
    parser.add_argument("--chunks", type=int, default=64, help="distinct chunks per size (cycled while timing)")
    args = parser.parse_args()
    if not os.path.exists(os.path.join(args.fixtures, "tokenizer.json")):
        print(f"fast_reference: expected {args.fixtures}/tokenizer.json, got no such file", file=sys.stderr)
        return 2

    reference = ReferenceFast(args.fixtures)
    random = seeded_random(7)
    result = {
        "name": "fast_reference",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "tokenizers": tokenizers.__version__,
        "chunks_per_size": args.chunks,
        "reference": {},
    }
    sizes = {}
    for steps, dim in SIZES:
        chunks = [smooth_chunk(steps, dim, random) for _ in range(args.chunks)]
        ids = [reference.encode(c) for c in chunks]
        pairs = list(zip(ids, [(steps, dim)] * len(ids)))
        encode = median_micros(reference.encode, chunks)
        decode = median_micros(lambda p: reference.decode(p[0], *p[1]), pairs)
        worst = max(float(np.abs(reference.decode(t, steps, dim) - c).max()) for t, c in zip(ids, chunks))
        result["reference"][f"{steps}x{dim}"] = {
            "encode_us": round(encode, 2),
            "decode_us": round(decode, 2),
            "mean_tokens": round(sum(map(len, ids)) / len(ids), 2),
            "max_abs_roundtrip_error": worst,
        }
        sizes[(steps, dim)] = (chunks, ids)
    result["processor"] = processor_timings(args.fixtures, reference, sizes)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
