"""FAST action tokens in Python for the export scripts: DCT-II (orthonormal) over time, scale and round half to even,
frequency-major flattening, code points offset by min_token, then the byte-level BPE of a tokenizer.json through the
tokenizers library. Decoding inverts it (for checks only)."""
from __future__ import annotations

import json
import os

import numpy as np
from scipy.fft import dct, idct
from tokenizers import Tokenizer


class FastEncoder:
    def __init__(self, tokenizer: Tokenizer, scale: float, min_token: int, vocab_size: int):
        self.tokenizer = tokenizer
        self.scale = scale
        self.min_token = min_token
        self.vocab_size = vocab_size

    @staticmethod
    def load(folder: str) -> "FastEncoder":
        with open(os.path.join(folder, "processor_config.json")) as f:
            cfg = json.load(f)
        return FastEncoder(Tokenizer.from_file(os.path.join(folder, "tokenizer.json")), float(cfg["scale"]), int(cfg["min_token"]), int(cfg["vocab_size"]))

    def encode(self, chunk: np.ndarray) -> list[int]:
        coeff = dct(np.asarray(chunk, dtype=np.float64), axis=0, norm="ortho")
        q = np.around(coeff * self.scale).astype(np.int64).reshape(-1)
        text = "".join(chr(max(int(v) - self.min_token, 0)) for v in q)
        return self.tokenizer.encode(text).ids

    def decode(self, ids: list[int], steps: int, dim: int) -> np.ndarray:
        text = self.tokenizer.decode(ids)
        q = np.array([ord(c) + self.min_token for c in text], dtype=np.float64)
        if q.size != steps * dim:
            raise ValueError(f"expected {steps * dim} coefficients, got {q.size}")
        return idct(q.reshape(steps, dim) / self.scale, axis=0, norm="ortho")
