"""Train the tiny NORA-style VLA on the wipe demonstrations and export it in the runner's ONNX split.

Input: one or more folders of the flat tensors models/scripts/record_demos.ts and collect_dagger.ts write
(vla_images.u8, vla_samples.jsonl): per policy step a
112 x 112 WipeCamera frame (src/sim/camera.ts) and the instruction; and the tokens fit_vla_tokenizer.ts writes
(vla_tokens.jsonl): the expert's chunk as tool-pose deltas (ee-delta, starting from where the previous chunk put the
arm) in FAST tokens of models/wipe_vla/fast_tokenizer, normalized with models/wipe_vla/norm_stats.json.

Model: the module definitions of export_tiny_vla.py (vision encoder, compact NORA vocabulary, Qwen2-style decoder with
M-RoPE), imported from that script and exported with its export() function, so the files have exactly the contract
the TypeScript runner reads. Sizes are set here (wider and deeper than the memorizing model); the runner reads them
from the files. Without --state, proprioception and touch reach the model only through the camera frame's gauge strip.

Training: teacher-forced cross-entropy over the tokens the runner may choose (the action range and the end tokens),
Adam, fixed seed, two threads. The last HELD_OUT_EPISODES episodes of each folder are held out for the metrics.

With --state the prompt also carries the robot state as text after the instruction (vla_config.json prompt.state;
src/policy/vla/statePrompt.ts writes the same text at run time): joint positions, gripper and wrist wrench,
normalized with the "state" statistics fit_vla_tokenizer.ts puts in norm_stats.json, as bin numbers.

Usage: python models/scripts/train_tiny_vla.py [folders=/tmp/demos[,/tmp/dagger...]] [steps=1500] [--state]
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import export_tiny_vla as base  # noqa: E402
from fast_encode import FastEncoder  # noqa: E402

OUT = os.path.join(ROOT, "models", "wipe_vla")
NORM_KEY = "vla_arm6_wipe_ee"
STEPS, DIM = 10, 7
SEED = 20251129
IMAGE = 112
GRID = IMAGE // base.PATCH  # 8 x 8 patches, 16 image tokens
HELD_OUT_EPISODES = 16
BATCH = 32
LR = 2e-3
# The prompt's state (--state): these observation fields, in this order, in STATE_BINS bins each.
STATE_SOURCES = ["positions", "wrench"]
STATE_BINS = 256

# Sizes of this model (the export script's module definitions read these globals).
base.OUT = OUT
base.HIDDEN = 128
base.LAYERS = 2  # export_tiny_vla.DecoderExport takes the past of exactly two layers
base.HEADS = 4
base.KV_HEADS = 2
base.HEAD_DIM = 32
base.MLP = 256
base.MROPE_SECTION = [4, 6, 6]  # sums to HEAD_DIM / 2
base.VISION_HIDDEN = 64


def patchify(images: np.ndarray) -> np.ndarray:
    """[n, H, W, 3] uint8 -> [n, patches, 1176] in the Qwen2-VL processor's order (as the runner computes it)."""
    x = images.astype(np.float32) / 255.0
    x = (x - np.array(base.MEAN, dtype=np.float32)) / np.array(base.STD, dtype=np.float32)
    n = x.shape[0]
    x = x.transpose(0, 3, 1, 2)[:, None].repeat(base.TEMPORAL_PATCH, axis=1)  # [n, T, C, H, W]
    m, p = base.MERGE, base.PATCH
    x = x.reshape(n, base.TEMPORAL_PATCH, 3, GRID // m, m, p, GRID // m, m, p)
    x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return np.ascontiguousarray(x.reshape(n, GRID * GRID, base.PATCH_DIM))


def vision_batch(vision: base.VisionEncoder, pixels: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """VisionEncoder.forward for a batch of single images ([b, patches, 1176] -> [b, patches / 4, hidden]),
    each image attending only to itself, as one call of the exported encoder per frame does."""
    b, n, _ = pixels.shape
    x = vision.patch_embed(pixels) + vision.pos_proj(vision.positions(n, grid))
    blk = vision.block
    d = x.shape[-1]
    q, k, v = blk.qkv(blk.norm1(x)).view(b, n, 3, blk.heads, d // blk.heads).permute(2, 0, 3, 1, 4)
    att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // blk.heads), dim=-1)
    x = x + blk.proj((att @ v).transpose(1, 2).reshape(b, n, d))
    x = x + blk.fc2(torch.nn.functional.gelu(blk.fc1(blk.norm2(x))))
    x = vision.merge_norm(x).reshape(b, -1, base.MERGE * base.MERGE * base.VISION_HIDDEN)
    return vision.merger2(torch.nn.functional.gelu(vision.merger1(x)))


def load_all(folders: list[str]):
    """Frames of every folder, in order, and whether each is in its folder's last HELD_OUT_EPISODES episodes."""
    rows, images, held = [], [], []
    for folder in folders:
        r, im = load(folder)
        episodes = np.array([x["episode"] for x in r])
        rows += r
        images.append(im)
        held.append(episodes > int(episodes.max()) - HELD_OUT_EPISODES)
    return rows, np.concatenate(images), np.concatenate(held)


def load(demos: str):
    rows = [json.loads(line) for line in open(os.path.join(demos, "vla_samples.jsonl"))]
    tokens = [json.loads(line)["tokens"] for line in open(os.path.join(demos, "vla_tokens.jsonl"))]
    if len(tokens) != len(rows):
        raise SystemExit(f"vla_tokens.jsonl has {len(tokens)} lines for {len(rows)} frames: run fit_vla_tokenizer.ts again")
    for r, t in zip(rows, tokens):
        r["tokens"] = t
    images = np.fromfile(os.path.join(demos, "vla_images.u8"), dtype=np.uint8).reshape(len(rows), IMAGE, IMAGE, 3)
    return rows, images


def state_instruction(instruction: str, row: dict, stats: dict) -> str:
    """The instruction and its state line, as StatePrompt.instruction (statePrompt.ts) writes them: normalize with
    q01/q99 to [-1, 1] (clipped), bin number floor((n + 1) / 2 * bins) (at most bins - 1), fixed width."""
    x = np.concatenate([np.asarray(row[source], dtype=np.float64) for source in STATE_SOURCES])
    q01, q99 = np.asarray(stats["q01"], dtype=np.float64), np.asarray(stats["q99"], dtype=np.float64)
    if len(x) != len(q01):
        raise SystemExit(f"state of {len(x)} values ({' + '.join(STATE_SOURCES)}) for {len(q01)} state statistics")
    span = q99 - q01
    n = np.where(span == 0, 0.0, 2 * (x - q01) / np.where(span == 0, 1.0, span) - 1)
    n = np.clip(n, -1.0, 1.0)
    bins = np.minimum(STATE_BINS - 1, np.floor((n + 1) / 2 * STATE_BINS)).astype(int)
    width = len(str(STATE_BINS - 1))
    return f"{instruction}\nState: {' '.join(str(b).zfill(width) for b in bins)};"


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--state"]
    with_state = "--state" in sys.argv[1:]
    # One folder of frames, or several joined by commas (the demonstrations, then DAgger rounds).
    folders = (args[0] if len(args) > 0 else "/tmp/demos").split(",")
    train_steps = int(args[1]) if len(args) > 1 else 1500
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    from tokenizers import Tokenizer

    started = time.time()
    shutil.copyfile(os.path.join(ROOT, "models", "tiny_vla", "tokenizer.json"), os.path.join(OUT, "tokenizer.json"))
    tok = Tokenizer.from_file(os.path.join(OUT, "tokenizer.json"))
    fast = FastEncoder.load(os.path.join(OUT, "fast_tokenizer"))
    action_count = fast.vocab_size
    rows, images, held = load_all(folders)
    instructions = sorted({r["instruction"] for r in rows})
    if len(instructions) != 1:
        raise SystemExit(f"expected one instruction in the demonstrations, got {instructions}")
    n_image = GRID * GRID // (base.MERGE * base.MERGE)
    if with_state:
        state_stats = json.load(open(os.path.join(OUT, "norm_stats.json")))[NORM_KEY]["state"]
        texts = [base.prompt_text(state_instruction(r["instruction"], r, state_stats), n_image) for r in rows]
        frame_prompts = [e.ids for e in tok.encode_batch(texts)]
    else:
        frame_prompts = [tok.encode(base.prompt_text(instructions[0], n_image)).ids] * len(rows)
    prompt_ids = frame_prompts[0]
    if any(len(p) != len(prompt_ids) for p in frame_prompts):
        raise SystemExit("expected every frame's prompt to have the same length (the state is written with fixed-width numbers)")
    grid_thw = np.array([[1, GRID, GRID]], dtype=np.int64)
    # The positions depend only on where the image sits and on the length, the same for every frame.
    prompt_pos, rope_delta = base.rope_index(prompt_ids, (1, GRID, GRID))
    episode_count = len({(r["episode"]) for r in rows})
    grid_t = torch.from_numpy(grid_thw)

    # Vocabulary rows: the text part of the compact table is the tokenizer's own vocabulary (without added tokens).
    text_size = max(i for i in tok.get_vocab(with_added_tokens=False).values() if i < base.FIRST_SPECIAL_ID) + 1
    vocab = base.CompactVocab(text_size)
    table = torch.nn.Parameter(torch.randn(vocab.size, base.HIDDEN) * 0.05)
    vision = base.VisionEncoder()
    embed = base.EmbedTokens(table, vocab)
    decoder = base.Decoder(table, vocab)
    allowed = base.restricted_rows(vocab, action_count)  # action rows then im_end, endoftext
    end_choice = action_count  # index of <|im_end|> among the allowed rows

    max_target = max(len(r["tokens"]) for r in rows) + 1
    P = len(prompt_ids)
    L = P + max_target - 1
    # Input ids and targets (index among the allowed rows, -100 = padding) for every sample.
    ids = np.full((len(rows), L), base.IM_END, dtype=np.int64)
    targets = np.full((len(rows), max_target), -100, dtype=np.int64)
    lengths = np.zeros(len(rows), dtype=np.int64)
    for i, r in enumerate(rows):
        t = r["tokens"]
        ids[i, :P] = frame_prompts[i]
        ids[i, P : P + len(t)] = [base.ACTION_FIRST_ID + x for x in t]
        targets[i, : len(t)] = t
        targets[i, len(t)] = end_choice
        lengths[i] = len(t) + 1
    ids_t = torch.from_numpy(ids)
    targets_t = torch.from_numpy(targets)
    positions = np.concatenate([prompt_pos, np.arange(P, L)[None, :].repeat(3, axis=0) + rope_delta], axis=1)
    positions_t = torch.from_numpy(positions)[:, None, :]
    image_mask = torch.from_numpy(np.array(prompt_ids + [0] * (L - P)) == base.IMAGE_PAD)

    params = list(vision.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=LR)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=train_steps, pct_start=max(0.05, 2.0 / train_steps))
    # The expert pauses at the hover point before it descends (a timed wait): those frames look exactly like the
    # first frames of the descent but say "stand still", and a policy without memory that learns them stays at
    # the hover point for ever. Leave them out; the descent frames then teach what to do there.
    paused = np.array([r.get("phase") == "approach" and float(np.abs(np.asarray(r["eeDeltas"]).reshape(STEPS, DIM)[:, :3]).sum()) < 1e-3 for r in rows])
    # The scripted expert's settle (press in place until the force is in the band, then start the lane) is a wait
    # on a condition the policy may never meet: pressing at 20 N, the round-0 model waited there for ever. DAgger
    # labels (the folders after the first) wipe on from first touch, setting the depth from the force; with them in
    # the data, leave the settle frames out so the two sources show one way of doing it.
    if len(folders) > 1:
        paused |= np.array([r.get("phase") == "settle" for r in rows])
    train_idx = np.nonzero(~held & ~paused)[0]
    val_idx = np.nonzero(held & ~paused)[0]
    gen = np.random.default_rng(SEED)
    # Phase-balanced sampling: the approach and the touch-down are a few frames of each episode against many of
    # descending and wiping, yet a policy that misses them never reaches the area. Weight 1 / sqrt(frames of the phase).
    phases = np.array([r.get("phase", "all") for r in rows])
    counts = {ph: int((phases[train_idx] == ph).sum()) for ph in set(phases[train_idx])}
    weights = np.array([1.0 / math.sqrt(counts[ph]) for ph in phases[train_idx]])
    weights /= weights.sum()

    def forward(batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        b = len(batch)
        x = embed(ids_t[batch]).clone()
        feats = vision_batch(vision, torch.from_numpy(patchify(images[batch])), grid_t)
        x[:, image_mask] = feats
        attn = (torch.arange(L)[None, :] < (P + torch.from_numpy(lengths[batch]) - 1)[:, None]).to(torch.int64)
        h, _ = decoder.hidden(x, attn, positions_t.expand(3, b, L), base.empty_past(b))
        logits = decoder.compact_logits(h[:, P - 1 :])[..., allowed]  # [b, max_target, allowed]
        return logits, targets_t[batch]

    history = []
    for step in range(1, train_steps + 1):
        batch = gen.choice(train_idx, BATCH, replace=False, p=weights)
        logits, tgt = forward(batch)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == train_steps:
            acc = token_accuracy(forward, val_idx[:256])
            history.append({"step": step, "loss": round(float(loss), 4), "heldOutTokenAccuracy": round(acc, 4)})
            print(f"step {step}: loss {float(loss):.4f}  held-out token accuracy {acc:.3f}  ({time.time() - started:.0f} s)", file=sys.stderr)
    train_seconds = time.time() - started
    vision.eval(), decoder.eval()

    report = {
        "seed": SEED,
        "demonstrations": {"folders": len(folders), "episodes": episode_count, "frames": len(rows), "trainFrames": int(len(train_idx)), "heldOutFrames": int(len(val_idx)), "heldOutEpisodes": HELD_OUT_EPISODES},
        "trainSteps": train_steps,
        "batch": BATCH,
        "trainSeconds": round(train_seconds, 1),
        "trainFramesPerPhase": counts,
        "pauseAndSettleFramesLeftOut": int(paused.sum()),
        "parameters": int(sum(p.numel() for p in params)),
        "history": history,
        "teacherForcedTokenAccuracy": {"train": round(token_accuracy(forward, train_idx[:: max(1, len(train_idx) // 512)]), 4), "heldOut": round(token_accuracy(forward, val_idx), 4)},
    }
    base.export(vision, embed, decoder)
    report.update(greedy_metrics(rows, images, val_idx, frame_prompts, prompt_pos, rope_delta, grid_thw, fast, action_count))
    report["promptState"] = {"sources": STATE_SOURCES, "bins": STATE_BINS} if with_state else None

    prompt = {"systemPrompt": base.SYSTEM_PROMPT}
    if with_state:
        prompt["state"] = {"sources": STATE_SOURCES, "bins": STATE_BINS}
    config = {
        "format": "qwen2-vl-onnx-split/1",
        "files": {"visionEncoder": "vision_encoder.onnx", "embedTokens": "embed_tokens.onnx", "decoder": "decoder_model_merged.onnx", "tokenizer": "tokenizer.json"},
        "image": {"width": IMAGE, "height": IMAGE, "patchSize": base.PATCH, "temporalPatchSize": base.TEMPORAL_PATCH, "mergeSize": base.MERGE, "mean": base.MEAN, "std": base.STD},
        "prompt": prompt,
        "actionTokens": {"mapping": "offset", "firstId": base.ACTION_FIRST_ID, "count": action_count},
        "endTokens": ["<|im_end|>", "<|endoftext|>"],
        "maxNewTokens": 64,
        # Off: forcing every answer to decode (FastLengthGrammar) cost closed-loop success here; a refused chunk lets
        # the previous plan go on, a forced one replaces it with what a confused model wrote (MODEL_CARD.md).
        "constrainToChunk": False,
        "chunk": {
            "steps": STEPS,
            "dim": DIM,
            "stepPeriodS": 0.1,
            "fastTokenizer": "fast_tokenizer",
            "normStats": "norm_stats.json",
            "normStatsKey": NORM_KEY,
            "actionSpace": "ee-delta",
            "deltaOrigin": "plan",
        },
    }
    with open(os.path.join(OUT, "vla_config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(OUT, "train_report.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(json.dumps({k: v for k, v in report.items() if k != "history"}, indent=2))


def token_accuracy(forward, idx: np.ndarray) -> float:
    """Teacher-forced: the argmax over the allowed tokens equals the expert's next token."""
    hit = total = 0
    with torch.no_grad():
        for s in range(0, len(idx), 64):
            logits, tgt = forward(idx[s : s + 64])
            mask = tgt != -100
            hit += int(((logits.argmax(-1) == tgt) & mask).sum())
            total += int(mask.sum())
    return hit / max(total, 1)


def greedy_metrics(rows, images, val_idx, frame_prompts, prompt_pos, rope_delta, grid_thw, fast: FastEncoder, action_count: int) -> dict:
    """Greedy decoding through onnxruntime on the exported files for held-out frames: does the chunk decode, and how
    far is it from the expert's (normalized units, and the tool position the deltas add up to, in metres)?"""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = {n: ort.InferenceSession(os.path.join(OUT, f"{n}.onnx"), opts, providers=["CPUExecutionProvider"]) for n in ("vision_encoder", "embed_tokens", "decoder_model_merged")}
    stats = json.load(open(os.path.join(OUT, "norm_stats.json")))[NORM_KEY]["action"]
    q01, q99, mask = np.array(stats["q01"]), np.array(stats["q99"]), np.array(stats["mask"])

    def raw(x: np.ndarray) -> np.ndarray:
        return np.where(mask, 0.5 * (x + 1) * (q99 - q01) + q01, x)
    cand = np.array([base.ACTION_FIRST_ID + i for i in range(action_count)] + [base.IM_END, base.ENDOFTEXT])
    pick = val_idx[:: max(1, len(val_idx) // 100)]
    decoded_ok = ended = exact = 0
    errs_norm, errs_m, still_m, lengths = [], [], [], []
    for i in pick:
        px = patchify(images[i : i + 1])[0]
        feats = sess["vision_encoder"].run(None, {"pixel_values": px, "grid_thw": grid_thw})[0]
        ids = list(frame_prompts[i])
        emb = sess["embed_tokens"].run(None, {"input_ids": np.array([ids], dtype=np.int64)})[0]
        emb[0][np.array(ids) == base.IMAGE_PAD] = feats
        feeds = {"inputs_embeds": emb, "attention_mask": np.ones((1, len(ids)), dtype=np.int64), "position_ids": prompt_pos[:, None, :]}
        for l in range(base.LAYERS):
            for kv in ("key", "value"):
                feeds[f"past_key_values.{l}.{kv}"] = np.zeros((1, base.KV_HEADS, 0, base.HEAD_DIM), dtype=np.float32)
        out = []
        stop = False
        for _ in range(64):
            res = sess["decoder_model_merged"].run(None, feeds)
            token = int(cand[np.argmax(res[0][0, -1][cand])])
            if token in (base.IM_END, base.ENDOFTEXT):
                stop = True
                break
            out.append(token - base.ACTION_FIRST_ID)
            ids.append(token)
            feeds = {
                "inputs_embeds": sess["embed_tokens"].run(None, {"input_ids": np.array([[token]], dtype=np.int64)})[0],
                "attention_mask": np.ones((1, len(ids)), dtype=np.int64),
                "position_ids": np.full((3, 1, 1), len(ids) - 1 + rope_delta, dtype=np.int64),
            }
            for l in range(base.LAYERS):
                feeds[f"past_key_values.{l}.key"] = res[1 + 2 * l]
                feeds[f"past_key_values.{l}.value"] = res[2 + 2 * l]
        ended += stop
        lengths.append(len(out))
        expert = rows[i]["tokens"]
        exact += out == expert
        try:
            got = fast.decode(out, STEPS, DIM)
        except Exception:
            continue
        decoded_ok += 1
        want = fast.decode(expert, STEPS, DIM)
        errs_norm.append(float(np.sqrt(((got - want) ** 2)[:, :3].mean())))
        # The tool positions the deltas add up to over the chunk, against the expert's and against standing still.
        path_got, path_want = np.cumsum(raw(got)[:, :3], axis=0), np.cumsum(raw(want)[:, :3], axis=0)
        errs_m.append(float(np.sqrt(((path_got - path_want) ** 2).sum(-1).mean())))
        still_m.append(float(np.sqrt((path_want ** 2).sum(-1).mean())))
    n = len(pick)
    return {
        "greedyOnnxruntimeHeldOut": {
            "frames": n,
            "endTokenRate": ended / n,
            "strictDecodeRate (python reference decoder)": decoded_ok / n,
            "exactChunkRate": exact / n,
            "meanTokens": float(np.mean(lengths)),
            "chunkRmsNormalized": float(np.mean(errs_norm)) if errs_norm else None,
            "toolPathRmsErrorM": float(np.mean(errs_m)) if errs_m else None,
            "toolPathRmsErrorStandingStillM": float(np.mean(still_m)) if still_m else None,
        }
    }


if __name__ == "__main__":
    main()
