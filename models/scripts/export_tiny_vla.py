"""Make the bundled tiny VLA: a Qwen2-VL-style model in the ONNX split public Qwen2-VL exports use, deterministically.

Files (models/tiny_vla/):
  vision_encoder.onnx         pixel_values [patches, 1176] f32, grid_thw [images, 3] i64 -> image_features [patches/4, 64]
  embed_tokens.onnx           input_ids [batch, seq] i64 -> inputs_embeds [batch, seq, 64]
  decoder_model_merged.onnx   inputs_embeds, attention_mask [batch, total] i64, position_ids [3, batch, seq] i64,
                              past_key_values.{0,1}.{key,value} [batch, 2, past, 16]
                              -> logits [batch, 1, 153713] (last position), present.{0,1}.{key,value}
  tokenizer.json              a tiny byte-level BPE in the Qwen2 tokenizer.json layout (see below)
  vla_config.json             what the runner needs besides the ONNX files (image size, action ids, chunk decoding)
  golden.json                 reference vectors from PIL, the transformers image processor, the tokenizers library,
                              torch and onnxruntime, for the TypeScript tests
  export_report.json          training and verification figures

Vocabulary: the model speaks NORA's ids. Ids 0..255 are the single bytes in the GPT-2 byte-to-unicode order (as in
Qwen2's vocabulary), 256.. are this tokenizer's own merges (Qwen2 has 151387 merges; this one has a few hundred,
trained here on robot instructions), 151643..151664 are Qwen2.5-VL's special tokens at their real ids, 151665..153712
are NORA's 2048 action tokens <robot_action_i> (FAST id = id - 151665). The logits cover all 153713 ids; inside the
graphs an offset table maps these ids onto a compact embedding (text, specials, actions, one unknown row) so the
files stay small. Logits of ids the tiny model does not know are -1e9.

Weights: not a policy. The model memorizes four fixed (image, instruction) -> FAST chunk pairs (a few seconds of
training) so the runtime's tests and the demo have a known answer through the real sessions; learning the wipe
task is separate work. Fixed seed, one thread, deterministic algorithms: re-running reproduces the same weights.

Usage: python models/scripts/export_tiny_vla.py   (torch, onnx, onnxruntime, numpy, scipy, pillow, regex,
tokenizers, transformers)
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import sys
from collections import Counter
from types import SimpleNamespace

import numpy as np
import regex
import torch
from PIL import Image
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "models", "tiny_vla")
WIPE = os.path.join(ROOT, "models", "wipe_expert")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ inside models/
from fast_encode import FastEncoder  # noqa: E402

SEED = 20250706

# ---- NORA / Qwen2.5-VL id layout --------------------------------------------------------------------------
SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
    "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
]
FIRST_SPECIAL_ID = 151643
ACTION_FIRST_ID = 151665
ACTION_COUNT = 2048
VOCAB = ACTION_FIRST_ID + ACTION_COUNT  # 153713: one past NORA's last action id
SPECIAL_ID = {t: FIRST_SPECIAL_ID + i for i, t in enumerate(SPECIAL_TOKENS)}
IM_START, IM_END, ENDOFTEXT = SPECIAL_ID["<|im_start|>"], SPECIAL_ID["<|im_end|>"], SPECIAL_ID["<|endoftext|>"]
VISION_START, VISION_END, IMAGE_PAD = SPECIAL_ID["<|vision_start|>"], SPECIAL_ID["<|vision_end|>"], SPECIAL_ID["<|image_pad|>"]
SYSTEM_PROMPT = "You are a helpful assistant."

# Qwen2's pre-tokenizer split pattern (as in its tokenizer.json).
QWEN2_SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
MERGES = 240

# ---- image processing (Qwen2-VL defaults; NORA feeds 224 x 224) -------------------------------------------
IMAGE_SIZE = 224
PATCH = 14
TEMPORAL_PATCH = 2
MERGE = 2
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]
PATCH_DIM = 3 * TEMPORAL_PATCH * PATCH * PATCH  # 1176

# ---- model sizes --------------------------------------------------------------------------------------------
HIDDEN = 64
LAYERS = 2
HEADS = 4
KV_HEADS = 2
HEAD_DIM = HIDDEN // HEADS  # 16
MLP = 128
ROPE_THETA = 10000.0
MROPE_SECTION = [2, 3, 3]  # frequency pairs for t, h, w: sums to HEAD_DIM / 2
VISION_HIDDEN = 64

# ---- the memorized pairs ------------------------------------------------------------------------------------
CHUNK_STEPS = 10
CHUNK_DIM = 7
SAMPLES = [
    {"instruction": "wipe the marked area", "image": {"width": 224, "height": 224, "ax": 3, "ay": 5, "ac": 71, "mask": 31, "m": 2, "base": 17}},
    {"instruction": "move the sponge to the left edge", "image": {"width": 160, "height": 120, "ax": 7, "ay": 2, "ac": 29, "mask": 15, "m": 5, "base": 90}},
    {"instruction": "lift the sponge off the table", "image": {"width": 320, "height": 240, "ax": 1, "ay": 3, "ac": 113, "mask": 63, "m": 1, "base": 3}},
    {"instruction": "hold still", "image": {"width": 256, "height": 256, "ax": 2, "ay": 2, "ac": 50, "mask": 7, "m": 9, "base": 200}},
]

# ---- text used to train the tiny tokenizer's merges ------------------------------------------------------------
CORPUS = [
    "system\nYou are a helpful assistant.", "user\n", "assistant\n", "\n",
    "wipe the marked area", "wipe the table", "wipe the marked area on the table with the sponge",
    "move the sponge to the left edge", "move the sponge to the right edge", "move to the corner",
    "lift the sponge off the table", "put the sponge down", "press the sponge on the surface",
    "hold still", "stop", "go back to the start", "clean the red stain", "clean the area that is marked",
    "push the block to the left", "pick up the cup and place it on the plate", "open the drawer", "close the drawer",
    "turn the knob", "It's the robot's turn; we'll wipe 3 times.", "Wipe 2 areas, then rest for 10 seconds!",
]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table (the byte-level BPE alphabet)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def byte_order() -> list[int]:
    """The bytes in GPT-2 vocabulary order: printable ones first, in that order, then the rest."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    return printable + [b for b in range(256) if b not in printable]


def train_merges(corpus: list[str], count: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A plain byte-level BPE trainer: most frequent adjacent pair first, ties broken by the pair's text."""
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: i for i, b in enumerate(byte_order())}
    split = regex.compile(QWEN2_SPLIT)
    words: Counter[tuple[str, ...]] = Counter()
    for text in corpus:
        for piece in split.findall(text):
            words[tuple(b2u[b] for b in piece.encode("utf-8"))] += 1
    merges: list[tuple[str, str]] = []
    for _ in range(count):
        pairs: Counter[tuple[str, str]] = Counter()
        for word, n in words.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0][0] + " " + kv[0][1]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        merged = best[0] + best[1]
        vocab[merged] = len(vocab)
        new_words: Counter[tuple[str, ...]] = Counter()
        for word, n in words.items():
            out: list[str] = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == best[0] and word[i + 1] == best[1]:
                    out.append(merged)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            new_words[tuple(out)] += n
        words = new_words
    return vocab, merges


def tokenizer_json(vocab: dict[str, int], merges: list[tuple[str, str]]) -> dict:
    def added(token_id: int, content: str) -> dict:
        return {"id": token_id, "content": content, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}

    added_tokens = [added(SPECIAL_ID[t], t) for t in SPECIAL_TOKENS]
    added_tokens += [added(ACTION_FIRST_ID + i, f"<robot_action_{i}>") for i in range(ACTION_COUNT)]
    # The tokenizers library numbers added tokens after the model vocabulary unless the vocabulary already holds
    # them; Qwen2's vocabulary is exactly 151643 long so its added tokens land on their ids. This one is short, so
    # the added tokens are entered in the vocabulary too, at their real ids (the merges never produce them).
    vocab = dict(vocab)
    for t in added_tokens:
        vocab[t["content"]] = t["id"]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added_tokens,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": QWEN2_SPLIT}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
            ],
        },
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [[a, b] for a, b in merges],
        },
    }


# ---- images --------------------------------------------------------------------------------------------------


def source_image(spec: dict) -> np.ndarray:
    """A deterministic RGB test picture from integer arithmetic (the TypeScript tests compute the same bytes)."""
    w, h = spec["width"], spec["height"]
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    channels = []
    for c in range(3):
        v = spec["ax"] * x + spec["ay"] * y + spec["ac"] * c + ((x ^ y) & spec["mask"]) * spec["m"] + spec["base"]
        channels.append(v % 256)
    return np.stack(channels, axis=-1).astype(np.uint8)


def pil_resize(img: np.ndarray) -> np.ndarray:
    """What qwen_vl_utils does for NORA's resized_height/width: PIL's resize with its default (bicubic) filter."""
    pil = Image.fromarray(img, "RGB")
    if pil.size != (IMAGE_SIZE, IMAGE_SIZE):
        pil = pil.resize((IMAGE_SIZE, IMAGE_SIZE))
    return np.asarray(pil)


def processor_pixels(resized: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference image processor (transformers, PIL backend) on the resized picture."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    proc = Qwen2VLImageProcessorPil(patch_size=PATCH, temporal_patch_size=TEMPORAL_PATCH, merge_size=MERGE, image_mean=MEAN, image_std=STD)
    out = proc(images=[Image.fromarray(resized, "RGB")], return_tensors="np")
    return np.asarray(out["pixel_values"], dtype=np.float32), np.asarray(out["image_grid_thw"], dtype=np.int64)


def own_pixels(resized: np.ndarray) -> np.ndarray:
    """The same patch layout written out (checked against the processor): rescale, normalize, 2 frames, patchify."""
    x = resized.astype(np.float64) / 255.0
    x = (x - np.array(MEAN)) / np.array(STD)
    x = x.transpose(2, 0, 1)[None].repeat(TEMPORAL_PATCH, axis=0)  # [T, C, H, W]
    gh, gw = IMAGE_SIZE // PATCH, IMAGE_SIZE // PATCH
    x = x.reshape(1, TEMPORAL_PATCH, 3, gh // MERGE, MERGE, PATCH, gw // MERGE, MERGE, PATCH)
    x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return x.reshape(gh * gw, PATCH_DIM).astype(np.float32)


# ---- prompt and positions ------------------------------------------------------------------------------------


def prompt_text(instruction: str, image_tokens: int) -> str:
    """NORA's chat turn after the Qwen2.5-VL chat template (default system prompt, generation prompt added)."""
    return (
        f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n<|vision_start|>"
        + "<|image_pad|>" * image_tokens
        + f"<|vision_end|>{instruction}<|im_end|>\n<|im_start|>assistant\n"
    )


def rope_index(ids: list[int], grid_thw: tuple[int, int, int]) -> tuple[np.ndarray, int]:
    """3-D (t, h, w) positions for one prompt with one image; text positions continue after the image's largest."""
    t, h, w = grid_thw[0], grid_thw[1] // MERGE, grid_thw[2] // MERGE
    pos = np.zeros((3, len(ids)), dtype=np.int64)
    first = ids.index(IMAGE_PAD)
    n = t * h * w
    assert ids[first : first + n] == [IMAGE_PAD] * n and IMAGE_PAD not in ids[first + n :]
    pos[:, :first] = np.arange(first)
    k = np.arange(n)
    pos[0, first : first + n] = first + k // (h * w)
    pos[1, first : first + n] = first + (k // w) % h
    pos[2, first : first + n] = first + k % w
    nxt = int(pos[:, first : first + n].max()) + 1
    rest = len(ids) - first - n
    pos[:, first + n :] = nxt + np.arange(rest)
    delta = int(pos.max()) + 1 - len(ids)
    return pos, delta


def reference_rope_index(ids: list[int], grid_thw: np.ndarray) -> np.ndarray:
    """transformers' Qwen2-VL get_rope_index, for a cross-check of rope_index."""
    from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLModel

    fake = SimpleNamespace(
        config=SimpleNamespace(vision_config=SimpleNamespace(spatial_merge_size=MERGE)),
        get_vision_position_ids=lambda *a, **k: Qwen2VLModel.get_vision_position_ids(None, *a, **k),
    )
    input_ids = torch.tensor([ids])
    types = (input_ids == IMAGE_PAD).int()
    pos, _ = Qwen2VLModel.get_rope_index(fake, input_ids, types, torch.tensor(grid_thw), None, None)
    return pos[:, 0].numpy()


# ---- the model ------------------------------------------------------------------------------------------------


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


class Block(nn.Module):
    """Pre-norm self-attention + MLP without positions (the vision tower's block)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1 = RMSNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = RMSNorm(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(n, 3, self.heads, d // self.heads).permute(1, 2, 0, 3)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), dim=-1)
        x = x + self.proj((att @ v).transpose(0, 1).reshape(n, d))
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.norm2(x))))


class VisionEncoder(nn.Module):
    """pixel_values [patches, 1176] (Qwen2-VL patch order) + grid_thw -> merged image features [patches / 4, 64]."""

    def __init__(self):
        super().__init__()
        self.patch_embed = nn.Linear(PATCH_DIM, VISION_HIDDEN, bias=False)  # = Conv3d with kernel = stride = (2, 14, 14)
        self.pos_proj = nn.Linear(32, VISION_HIDDEN)
        self.block = Block(VISION_HIDDEN, 4)
        self.merge_norm = RMSNorm(VISION_HIDDEN)
        self.merger1 = nn.Linear(4 * VISION_HIDDEN, 2 * HIDDEN)
        self.merger2 = nn.Linear(2 * HIDDEN, HIDDEN)

    def positions(self, n: torch.Tensor, grid_thw: torch.Tensor) -> torch.Tensor:
        """(row, column) of every patch in the processor's order (2 x 2 merge windows, row-major), as sinusoids."""
        gh, gw = grid_thw[0, 1], grid_thw[0, 2]
        idx = torch.arange(n)
        window = idx // (MERGE * MERGE)
        inner = idx % (MERGE * MERGE)
        row = ((window // (gw // MERGE)) % (gh // MERGE)) * MERGE + inner // MERGE
        col = (window % (gw // MERGE)) * MERGE + inner % MERGE
        freqs = torch.exp(torch.arange(8, dtype=torch.float32) * (-math.log(100.0) / 8))
        r = row.to(torch.float32)[:, None] * freqs
        c = col.to(torch.float32)[:, None] * freqs
        return torch.cat([torch.sin(r), torch.cos(r), torch.sin(c), torch.cos(c)], dim=-1)

    def forward(self, pixel_values: torch.Tensor, grid_thw: torch.Tensor) -> torch.Tensor:
        n = pixel_values.shape[0]
        x = self.patch_embed(pixel_values) + self.pos_proj(self.positions(n, grid_thw))
        x = self.block(x)
        x = self.merge_norm(x).reshape(-1, MERGE * MERGE * VISION_HIDDEN)
        return self.merger2(torch.nn.functional.gelu(self.merger1(x)))


class CompactVocab:
    """NORA ids <-> rows of the compact table: [text 0..T-1][22 specials][2048 actions][unknown]."""

    def __init__(self, text_size: int):
        self.text = text_size
        self.special0 = text_size
        self.action0 = text_size + len(SPECIAL_TOKENS)
        self.unk = self.action0 + ACTION_COUNT
        self.size = self.unk + 1

    def rows(self, ids: torch.Tensor) -> torch.Tensor:
        known_special = (ids >= FIRST_SPECIAL_ID) & (ids < VOCAB)
        row = torch.where(known_special, ids - FIRST_SPECIAL_ID + self.special0, torch.full_like(ids, self.unk))
        return torch.where((ids >= 0) & (ids < self.text), ids, row)

    def row_of(self, token_id: int) -> int:
        return int(self.rows(torch.tensor([token_id]))[0])


class EmbedTokens(nn.Module):
    def __init__(self, table: nn.Parameter, vocab: CompactVocab):
        super().__init__()
        self.table = table
        self.vocab = vocab

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.table[self.vocab.rows(input_ids)]


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


def mrope_cos_sin(position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """position_ids [3, b, s] -> cos, sin [b, 1, s, head_dim]: frequency f takes the t, h or w position by MROPE_SECTION."""
    inv_freq = 1.0 / (ROPE_THETA ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.float32) / HEAD_DIM))  # [8]
    angles = position_ids.to(torch.float32)[..., None] * inv_freq  # [3, b, s, 8]
    parts = []
    start = 0
    for axis, width in enumerate(MROPE_SECTION):
        parts.append(angles[axis, ..., start : start + width])
        start += width
    freqs = torch.cat(parts, dim=-1)  # [b, s, 8]
    emb = torch.cat([freqs, freqs], dim=-1)[:, None]
    return torch.cos(emb), torch.sin(emb)


class DecoderLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = RMSNorm(HIDDEN)
        self.q = nn.Linear(HIDDEN, HEADS * HEAD_DIM)
        self.k = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM)
        self.v = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM)
        self.o = nn.Linear(HEADS * HEAD_DIM, HIDDEN, bias=False)
        self.norm2 = RMSNorm(HIDDEN)
        self.gate = nn.Linear(HIDDEN, MLP, bias=False)
        self.up = nn.Linear(HIDDEN, MLP, bias=False)
        self.down = nn.Linear(MLP, HIDDEN, bias=False)

    def forward(self, x, cos, sin, mask, past_k, past_v):
        b, s, _ = x.shape
        h = self.norm1(x)
        q = self.q(h).view(b, s, HEADS, HEAD_DIM).transpose(1, 2)
        k = self.k(h).view(b, s, KV_HEADS, HEAD_DIM).transpose(1, 2)
        v = self.v(h).view(b, s, KV_HEADS, HEAD_DIM).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        rep = HEADS // KV_HEADS
        kk = k.repeat_interleave(rep, dim=1)
        vv = v.repeat_interleave(rep, dim=1)
        att = torch.softmax(q @ kk.transpose(-1, -2) / math.sqrt(HEAD_DIM) + mask, dim=-1)
        x = x + self.o((att @ vv).transpose(1, 2).reshape(b, s, HEADS * HEAD_DIM))
        h = self.norm2(x)
        x = x + self.down(torch.nn.functional.silu(self.gate(h)) * self.up(h))
        return x, k, v


class Decoder(nn.Module):
    """The language model over input embeddings with a KV cache; the head is tied to the compact embedding table."""

    def __init__(self, table: nn.Parameter, vocab: CompactVocab):
        super().__init__()
        self.table = table
        self.vocab = vocab
        self.layers = nn.ModuleList([DecoderLayer() for _ in range(LAYERS)])
        self.norm = RMSNorm(HIDDEN)

    def hidden(self, inputs_embeds, attention_mask, position_ids, past):
        b, s, _ = inputs_embeds.shape
        total = attention_mask.shape[1]
        past_len = total - s
        cos, sin = mrope_cos_sin(position_ids)
        key_pos = torch.arange(total)[None, :]
        query_pos = (torch.arange(s) + past_len)[:, None]
        allowed = (key_pos <= query_pos)[None, None] & (attention_mask[:, None, None, :] > 0)
        mask = torch.where(allowed, torch.zeros((), dtype=torch.float32), torch.full((), -1e9, dtype=torch.float32))
        x = inputs_embeds
        present = []
        for i, layer in enumerate(self.layers):
            x, k, v = layer(x, cos, sin, mask, past[2 * i], past[2 * i + 1])
            present += [k, v]
        return self.norm(x), present

    def compact_logits(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.table.t()

    def full_logits(self, compact: torch.Tensor) -> torch.Tensor:
        """Compact logits -> logits over all 153713 NORA ids (ids this model does not know get -1e9)."""
        v = self.vocab
        filler = (compact[..., :1] * 0 - 1e9).expand(-1, -1, FIRST_SPECIAL_ID - v.text)
        return torch.cat([compact[..., : v.text], filler, compact[..., v.special0 : v.unk]], dim=-1)


class DecoderExport(nn.Module):
    """The decoder_model_merged signature: logits for the last position only (the runner reads only that one)."""

    def __init__(self, decoder: Decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, inputs_embeds, attention_mask, position_ids, pk0, pv0, pk1, pv1):
        h, present = self.decoder.hidden(inputs_embeds, attention_mask, position_ids, [pk0, pv0, pk1, pv1])
        logits = self.decoder.full_logits(self.decoder.compact_logits(h[:, -1:, :]))
        return (logits, *present)


# ---- training data and greedy decoding ---------------------------------------------------------------------------


def chunk_for(i: int) -> np.ndarray:
    """A smooth normalized 10 x 7 chunk per sample (inside the bundled FAST tokenizer's range)."""
    t = np.arange(CHUNK_STEPS)[:, None] / (CHUNK_STEPS - 1)
    d = np.arange(CHUNK_DIM)[None, :]
    chunk = 0.35 * np.sin(2 * np.pi * (0.3 + 0.2 * i) * t + 0.9 * d + i) + 0.1 * (i - 1.5) * t
    chunk[:, -1] = 0.5 if i % 2 == 0 else -0.5  # gripper: held open or closed over the chunk
    return np.clip(chunk, -0.9, 0.9)


class Sample:
    def __init__(self, spec: dict, tok, fast: FastEncoder, index: int):
        self.spec = spec
        self.instruction = spec["instruction"]
        self.source = source_image(spec["image"])
        self.resized = pil_resize(self.source)
        self.pixel_values, self.grid_thw = processor_pixels(self.resized)
        mine = own_pixels(self.resized)
        assert np.abs(mine - self.pixel_values).max() < 1e-5, "own patchify differs from the processor"
        n_image = int(self.grid_thw[0].prod()) // (MERGE * MERGE)
        self.prompt_ids = tok.encode(prompt_text(self.instruction, n_image)).ids
        self.positions, self.rope_delta = rope_index(self.prompt_ids, tuple(int(x) for x in self.grid_thw[0]))
        assert (reference_rope_index(self.prompt_ids, self.grid_thw) == self.positions).all(), "rope index differs from transformers"
        self.chunk = chunk_for(index)
        self.fast_ids = fast.encode(self.chunk)
        back = fast.decode(self.fast_ids, CHUNK_STEPS, CHUNK_DIM)
        assert np.abs(back - self.chunk).max() < 0.05, "FAST round trip of the target chunk is too lossy"
        self.target_ids = [ACTION_FIRST_ID + f for f in self.fast_ids] + [IM_END]


def restricted_rows(vocab: CompactVocab, action_count: int) -> torch.Tensor:
    """Compact rows the runner lets the model choose: the action range and the end tokens."""
    rows = [vocab.action0 + i for i in range(action_count)] + [vocab.row_of(IM_END), vocab.row_of(ENDOFTEXT)]
    return torch.tensor(rows)


def sequence_embeds(sample: Sample, vision: VisionEncoder, embed: EmbedTokens, ids: list[int]) -> torch.Tensor:
    x = embed(torch.tensor([ids]))
    feats = vision(torch.from_numpy(sample.pixel_values), torch.from_numpy(sample.grid_thw))
    is_image = torch.tensor([[t == IMAGE_PAD for t in ids]])
    x = x.clone()
    x[is_image] = feats
    return x


def positions_for(sample: Sample, length: int) -> torch.Tensor:
    n = len(sample.prompt_ids)
    extra = np.arange(n, length)[None, :].repeat(3, axis=0) + sample.rope_delta
    return torch.from_numpy(np.concatenate([sample.positions, extra], axis=1))[:, None, :]


def empty_past(batch: int = 1) -> list[torch.Tensor]:
    return [torch.zeros(batch, KV_HEADS, 0, HEAD_DIM) for _ in range(2 * LAYERS)]


def greedy(sample: Sample, vision, embed, decoder, allowed: torch.Tensor, vocab: CompactVocab, max_new: int = 64) -> list[int]:
    """Restricted greedy decoding with the KV cache in torch (what the TypeScript runner does with the sessions)."""
    ids = list(sample.prompt_ids)
    with torch.no_grad():
        x = sequence_embeds(sample, vision, embed, ids)
        h, past = decoder.hidden(x, torch.ones(1, len(ids), dtype=torch.int64), positions_for(sample, len(ids)), empty_past())
        out: list[int] = []
        for _ in range(max_new):
            logits = decoder.full_logits(decoder.compact_logits(h[:, -1:, :]))[0, 0]
            candidates = [ACTION_FIRST_ID + i for i in range(int(allowed.numel()) - 2)] + [IM_END, ENDOFTEXT]
            cand = torch.tensor(candidates)
            token = int(cand[torch.argmax(logits[cand])])
            out.append(token)
            if token in (IM_END, ENDOFTEXT):
                break
            ids.append(token)
            pos = positions_for(sample, len(ids))[:, :, -1:]
            h, past = decoder.hidden(embed(torch.tensor([[token]])), torch.ones(1, len(ids), dtype=torch.int64), pos, past)
    return out


def train(samples: list[Sample], vision, embed, decoder, vocab: CompactVocab, action_count: int) -> dict:
    params = list(vision.parameters()) + [p for n, p in decoder.named_parameters()]
    opt = torch.optim.Adam(params, lr=3e-3)
    allowed = restricted_rows(vocab, action_count)
    history = []
    for step in range(1, 801):
        loss_sum = torch.zeros(())
        for s in samples:
            full = s.prompt_ids + s.target_ids
            inp = full[:-1]
            x = sequence_embeds(s, vision, embed, inp)
            h, _ = decoder.hidden(x, torch.ones(1, len(inp), dtype=torch.int64), positions_for(s, len(inp)), empty_past())
            n = len(s.prompt_ids)
            logits = decoder.compact_logits(h[0, n - 1 :])  # predicts target_ids
            target_rows = vocab.rows(torch.tensor(s.target_ids))
            loss_sum = loss_sum + torch.nn.functional.cross_entropy(logits, target_rows)
            # The runner only looks at the allowed rows: make sure the right one wins among them too.
            restricted = logits[:, allowed]
            position = torch.tensor([int((allowed == r).nonzero()[0]) for r in target_rows])
            loss_sum = loss_sum + torch.nn.functional.cross_entropy(restricted, position)
        opt.zero_grad()
        loss_sum.backward()
        opt.step()
        if step % 50 == 0:
            vision.eval(), decoder.eval()
            exact = sum(greedy(s, vision, embed, decoder, allowed, vocab) == s.target_ids for s in samples)
            vision.train(), decoder.train()
            history.append({"step": step, "loss": round(float(loss_sum), 5), "exact": exact})
            print(f"step {step}: loss {float(loss_sum):.4f}, exact {exact}/{len(samples)}", file=sys.stderr)
            if exact == len(samples) and float(loss_sum) < 0.05:
                break
    return {"history": history}


# ---- export and verification ------------------------------------------------------------------------------------


def export(vision, embed, decoder) -> None:
    vision.eval(), decoder.eval()
    s0 = 256
    torch.onnx.export(
        vision,
        (torch.zeros(s0, PATCH_DIM), torch.tensor([[1, 16, 16]], dtype=torch.int64)),
        os.path.join(OUT, "vision_encoder.onnx"),
        input_names=["pixel_values", "grid_thw"],
        output_names=["image_features"],
        dynamic_axes={"pixel_values": {0: "num_patches"}, "grid_thw": {0: "num_images"}, "image_features": {0: "num_image_tokens"}},
        opset_version=17,
        dynamo=False,
    )
    torch.onnx.export(
        embed,
        (torch.zeros(1, 3, dtype=torch.int64),),
        os.path.join(OUT, "embed_tokens.onnx"),
        input_names=["input_ids"],
        output_names=["inputs_embeds"],
        dynamic_axes={"input_ids": {0: "batch_size", 1: "sequence_length"}, "inputs_embeds": {0: "batch_size", 1: "sequence_length"}},
        opset_version=17,
        dynamo=False,
    )
    past_names = [f"past_key_values.{i}.{kv}" for i in range(LAYERS) for kv in ("key", "value")]
    present_names = [f"present.{i}.{kv}" for i in range(LAYERS) for kv in ("key", "value")]
    b, s, p = 1, 2, 3
    dummy = (
        torch.zeros(b, s, HIDDEN),
        torch.ones(b, p + s, dtype=torch.int64),
        torch.zeros(3, b, s, dtype=torch.int64),
        *[torch.zeros(b, KV_HEADS, p, HEAD_DIM) for _ in past_names],
    )
    dyn = {
        "inputs_embeds": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
        "position_ids": {1: "batch_size", 2: "sequence_length"},
        "logits": {0: "batch_size"},
    }
    for n in past_names:
        dyn[n] = {0: "batch_size", 2: "past_sequence_length"}
    for n in present_names:
        dyn[n] = {0: "batch_size", 2: "total_sequence_length"}
    torch.onnx.export(
        DecoderExport(decoder).eval(),
        dummy,
        os.path.join(OUT, "decoder_model_merged.onnx"),
        input_names=["inputs_embeds", "attention_mask", "position_ids", *past_names],
        output_names=["logits", *present_names],
        dynamic_axes=dyn,
        opset_version=17,
        dynamo=False,
    )


def ort_greedy(sample: Sample, action_count: int, max_new: int = 64) -> list[int]:
    """The same restricted greedy decoding through onnxruntime (Python) on the exported files."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = {n: ort.InferenceSession(os.path.join(OUT, f"{n}.onnx"), opts, providers=["CPUExecutionProvider"]) for n in ("vision_encoder", "embed_tokens", "decoder_model_merged")}
    ids = list(sample.prompt_ids)
    feats = sess["vision_encoder"].run(None, {"pixel_values": sample.pixel_values, "grid_thw": sample.grid_thw})[0]
    emb = sess["embed_tokens"].run(None, {"input_ids": np.array([ids], dtype=np.int64)})[0]
    emb[0][np.array(ids) == IMAGE_PAD] = feats
    feeds = {"inputs_embeds": emb, "attention_mask": np.ones((1, len(ids)), dtype=np.int64), "position_ids": sample.positions[:, None, :]}
    for i in range(LAYERS):
        for kv in ("key", "value"):
            feeds[f"past_key_values.{i}.{kv}"] = np.zeros((1, KV_HEADS, 0, HEAD_DIM), dtype=np.float32)
    cand = np.array([ACTION_FIRST_ID + i for i in range(action_count)] + [IM_END, ENDOFTEXT])
    out: list[int] = []
    for _ in range(max_new):
        res = sess["decoder_model_merged"].run(None, feeds)
        logits = res[0][0, -1]
        token = int(cand[np.argmax(logits[cand])])
        out.append(token)
        if token in (IM_END, ENDOFTEXT):
            break
        ids.append(token)
        pos = len(ids) - 1 + sample.rope_delta
        feeds = {
            "inputs_embeds": sess["embed_tokens"].run(None, {"input_ids": np.array([[token]], dtype=np.int64)})[0],
            "attention_mask": np.ones((1, len(ids)), dtype=np.int64),
            "position_ids": np.full((3, 1, 1), pos, dtype=np.int64),
        }
        for i in range(LAYERS):
            feeds[f"past_key_values.{i}.key"] = res[1 + 2 * i]
            feeds[f"past_key_values.{i}.value"] = res[2 + 2 * i]
    return out


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def golden(samples: list[Sample], tok, ort_ids: list[list[int]]) -> dict:
    texts = [
        "wipe the marked area", "It's   the robot's turn;\twe'll wipe 3 times.\n\nOK?", "Ünïcödé wipe: café, naïve, 東京 123456",
        "  leading spaces and trailing  ", "e\u0301 composed by NFC", "emoji 🤖 and symbols $%&*()", "", "HELLO'S 'Ll 'VE",
    ]
    tokenizer_cases = [{"text": t, "ids": tok.encode(t).ids} for t in texts]
    rng = np.random.default_rng(SEED)
    cases = []
    for s in samples:
        idx = sorted(rng.choice(s.pixel_values.size, 64, replace=False).tolist())
        flat = s.pixel_values.reshape(-1)
        cases.append({
            "instruction": s.instruction,
            "image": s.spec["image"],
            "resizedSha256": sha256(s.resized.tobytes()),
            "pixelValues": {
                "shape": list(s.pixel_values.shape),
                "gridThw": s.grid_thw[0].tolist(),
                "sum": float(s.pixel_values.astype(np.float64).sum()),
                "sumSquares": float((s.pixel_values.astype(np.float64) ** 2).sum()),
                "sampleIndices": idx,
                "sampleValues": [float(flat[i]) for i in idx],
            },
            "promptIds": s.prompt_ids,
            "positionIds": {"sum": [int(x) for x in s.positions.sum(axis=1)], "last": [int(x) for x in s.positions[:, -1]], "ropeDelta": s.rope_delta},
            "chunk": [[round(float(v), 6) for v in row] for row in s.chunk],
            "fastIds": s.fast_ids,
            "expectedIds": s.target_ids,
            "onnxruntimeIds": ort_ids[samples.index(s)],
            "memorized": ort_ids[samples.index(s)] == s.target_ids,
        })
    return {
        "about": "Reference vectors made by models/scripts/export_tiny_vla.py: tokenizer ids from the tokenizers library, "
        "resized images from PIL, pixel values from transformers' Qwen2-VL image processor, positions checked against "
        "transformers' get_rope_index, generated ids from torch and onnxruntime.",
        "imageFormula": "value(x, y, c) = (ax*x + ay*y + ac*c + ((x XOR y) AND mask)*m + base) mod 256, RGB interleaved, row-major",
        "tokenizer": tokenizer_cases,
        "samples": cases,
    }


def main() -> None:
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    from tokenizers import Tokenizer

    vocab_map, merges = train_merges(CORPUS, MERGES)
    tj = tokenizer_json(vocab_map, merges)
    with open(os.path.join(OUT, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False, separators=(",", ":"))
    tok = Tokenizer.from_file(os.path.join(OUT, "tokenizer.json"))
    fast = FastEncoder.load(os.path.join(WIPE, "fast_tokenizer"))
    action_count = fast.vocab_size

    samples = [Sample(spec, tok, fast, i) for i, spec in enumerate(SAMPLES)]
    vocab = CompactVocab(len(vocab_map))
    table = nn.Parameter(torch.randn(vocab.size, HIDDEN) * 0.05)
    vision = VisionEncoder()
    embed = EmbedTokens(table, vocab)
    decoder = Decoder(table, vocab)
    report = train(samples, vision, embed, decoder, vocab, action_count)
    vision.eval(), decoder.eval()
    allowed = restricted_rows(vocab, action_count)
    torch_ids = [greedy(s, vision, embed, decoder, allowed, vocab) for s in samples]
    export(vision, embed, decoder)
    ort_ids = [ort_greedy(s, action_count) for s in samples]
    report["torchExact"] = [t == s.target_ids for t, s in zip(torch_ids, samples)]
    report["onnxruntimeExact"] = [t == s.target_ids for t, s in zip(ort_ids, samples)]
    report["tokensPerChunk"] = [len(s.fast_ids) for s in samples]
    report["promptLengths"] = [len(s.prompt_ids) for s in samples]
    report["seed"] = SEED
    report["parameters"] = int(sum(p.numel() for p in list(vision.parameters()) + list(decoder.parameters())))

    config = {
        "format": "qwen2-vl-onnx-split/1",
        "files": {"visionEncoder": "vision_encoder.onnx", "embedTokens": "embed_tokens.onnx", "decoder": "decoder_model_merged.onnx", "tokenizer": "tokenizer.json"},
        "image": {"width": IMAGE_SIZE, "height": IMAGE_SIZE, "patchSize": PATCH, "temporalPatchSize": TEMPORAL_PATCH, "mergeSize": MERGE, "mean": MEAN, "std": STD},
        "prompt": {"systemPrompt": SYSTEM_PROMPT},
        "actionTokens": {"mapping": "offset", "firstId": ACTION_FIRST_ID, "count": action_count},
        "endTokens": ["<|im_end|>", "<|endoftext|>"],
        "maxNewTokens": 64,
        "chunk": {
            "steps": CHUNK_STEPS,
            "dim": CHUNK_DIM,
            "stepPeriodS": 0.1,
            "fastTokenizer": "../wipe_expert/fast_tokenizer",
            "normStats": "../wipe_expert/norm_stats.json",
            "normStatsKey": "vla_arm6_wipe",
            "actionSpace": "joint-delta",
        },
    }
    with open(os.path.join(OUT, "vla_config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(golden(samples, tok, ort_ids), f, separators=(",", ":"))
        f.write("\n")
    with open(os.path.join(OUT, "export_report.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(json.dumps(report, indent=2))
    if not all(report["onnxruntimeExact"]):
        raise SystemExit("the exported model does not reproduce its memorized chunks")


if __name__ == "__main__":
    main()
