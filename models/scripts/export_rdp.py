"""Export the bundled RDP asymmetric tokenizer (encoder + GRU decoder) to ONNX, deterministically.

Reactive Diffusion Policy's asymmetric tokenizer: an encoder of two strided 1-D convolutions turns an action chunk
(32 steps) into a VAE latent of 8 steps x 16; a GRU decoder (hidden 32) turns the latent (each latent step repeated
for 4 action steps) plus the newest touch features into the action of the current step.

What this script makes (all in models/rdp/):
  rdp_encoder.onnx          actions [batch, 32, 7] -> latent [batch, 8, 16]          (VAE mean)
  rdp_decoder.onnx          latent_step [batch, 16], touch [batch, 22], hidden [batch, 32]
                              -> action [batch, 7], hidden_out [batch, 32]          (one GRU step + output head)
  rdp_decoder.safetensors   the decoder's weights (the fast loop runs the GRU step in TypeScript from these)
  rdp.json                  the contract: sizes, rates, action normalization, touch features
  export_report.json        reconstruction error and the torch-vs-onnxruntime check

Weights: trained here for a few seconds as a plain autoencoder on synthetic smooth chunks (so the pair round-trips
a chunk), with random touch inputs the target does not depend on. The touch pathway is wired and exported but has
learned nothing yet: training on the embedded task is separate work. Fixed seed, one thread: re-running the script
reproduces the same weights.

Usage: python models/scripts/export_rdp.py   (needs torch, onnx, onnxruntime, numpy, safetensors)
"""
from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "models", "rdp")

SEED = 20250705
CHUNK_STEPS = 32
LATENT_STEPS = 8
LATENT_WIDTH = 16
HIDDEN = 32
STEP_PERIOD_S = 1.0 / 24.0  # RDP's fast rate: 32 steps at 24 Hz
WRENCH = 6
TAXELS = 16  # the embedded arm's fingertip array (4 x 4)
TOUCH = WRENCH + TAXELS
TOUCH_CLIP = 5.0
# Per-feature scale: force (N), torque (N m), taxel normal force (N). feature = clip(value / scale, -5, 5).
TOUCH_SCALE = [20.0, 20.0, 20.0, 2.0, 2.0, 2.0] + [5.0] * TAXELS
TRAIN_STEPS = 1200
BATCH = 128
KL_WEIGHT = 1e-4


def arm_bounds() -> tuple[list[str], list[float], list[float]]:
    """Command layout of the embedded arm: joint targets (rad) then the gripper width (m), with their limits."""
    with open(os.path.join(ROOT, "sim", "arm", "description.json")) as f:
        arm = json.load(f)
    names = [j["name"] for j in arm["joints"]] + [arm["gripper"]["name"]]
    low = [float(j["lowerRad"]) for j in arm["joints"]] + [float(arm["gripper"]["lowerM"])]
    high = [float(j["upperRad"]) for j in arm["joints"]] + [float(arm["gripper"]["upperM"])]
    return names, low, high


class Encoder(nn.Module):
    """[batch, 32, dim] normalized actions -> VAE mean and log-variance [batch, 8, 16]."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv1 = nn.Conv1d(dim, 32, kernel_size=4, stride=2, padding=1)  # 32 -> 16 steps
        self.conv2 = nn.Conv1d(32, 32, kernel_size=4, stride=2, padding=1)  # 16 -> 8 steps
        self.head = nn.Conv1d(32, 2 * LATENT_WIDTH, kernel_size=1)

    def forward(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = actions.transpose(1, 2)
        x = torch.nn.functional.gelu(self.conv1(x))
        x = torch.nn.functional.gelu(self.conv2(x))
        stats = self.head(x).transpose(1, 2)
        return stats[..., :LATENT_WIDTH], stats[..., LATENT_WIDTH:]


class EncoderMean(nn.Module):
    """What runs at inference: the VAE mean only."""

    def __init__(self, encoder: Encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        return self.encoder(actions)[0]


class DecoderStep(nn.Module):
    """One GRU step (PyTorch GRU equations, gates r, z, n) and a linear output head."""

    def __init__(self, dim: int):
        super().__init__()
        inputs = LATENT_WIDTH + TOUCH
        bound = 1.0 / math.sqrt(HIDDEN)
        self.weight_ih = nn.Parameter(torch.empty(3 * HIDDEN, inputs).uniform_(-bound, bound))
        self.weight_hh = nn.Parameter(torch.empty(3 * HIDDEN, HIDDEN).uniform_(-bound, bound))
        self.bias_ih = nn.Parameter(torch.empty(3 * HIDDEN).uniform_(-bound, bound))
        self.bias_hh = nn.Parameter(torch.empty(3 * HIDDEN).uniform_(-bound, bound))
        self.head = nn.Linear(HIDDEN, dim)

    def forward(self, latent_step: torch.Tensor, touch: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([latent_step, touch], dim=-1)
        gi = x @ self.weight_ih.t() + self.bias_ih
        gh = hidden @ self.weight_hh.t() + self.bias_hh
        i_r, i_z, i_n = gi.chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        hidden_out = (1 - z) * n + z * hidden
        return self.head(hidden_out), hidden_out


def decode_sequence(step: DecoderStep, latent: torch.Tensor, touch: torch.Tensor) -> torch.Tensor:
    """latent [b, 8, 16], touch [b, 32, 22] -> actions [b, 32, dim]: each latent step drives 4 action steps."""
    repeat = CHUNK_STEPS // LATENT_STEPS
    hidden = torch.zeros(latent.shape[0], HIDDEN)
    out = []
    for t in range(CHUNK_STEPS):
        action, hidden = step(latent[:, t // repeat], touch[:, t], hidden)
        out.append(action)
    return torch.stack(out, dim=1)


def synthetic_chunks(gen: torch.Generator, batch: int, dim: int) -> torch.Tensor:
    """Smooth normalized chunks: an offset, a drift and two slow sinusoids per dimension, clipped to [-1, 1]."""
    t = torch.linspace(0, 1, CHUNK_STEPS).view(1, CHUNK_STEPS, 1)
    offset = torch.rand(batch, 1, dim, generator=gen) * 1.6 - 0.8
    drift = torch.randn(batch, 1, dim, generator=gen) * 0.3
    chunk = offset + drift * t
    for _ in range(2):
        freq = 0.2 + 1.3 * torch.rand(batch, 1, dim, generator=gen)
        phase = 2 * math.pi * torch.rand(batch, 1, dim, generator=gen)
        amp = 0.05 + 0.2 * torch.rand(batch, 1, dim, generator=gen)
        chunk = chunk + amp * torch.sin(2 * math.pi * freq * t + phase)
    return chunk.clamp(-1, 1)


def random_touch(gen: torch.Generator, batch: int) -> torch.Tensor:
    return (torch.randn(batch, CHUNK_STEPS, TOUCH, generator=gen) * 0.7).clamp(-TOUCH_CLIP, TOUCH_CLIP)


def train(encoder: Encoder, step: DecoderStep, dim: int) -> list[float]:
    gen = torch.Generator().manual_seed(SEED + 1)
    params = list(encoder.parameters()) + list(step.parameters())
    opt = torch.optim.Adam(params, lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, TRAIN_STEPS)
    losses = []
    for i in range(TRAIN_STEPS):
        chunk = synthetic_chunks(gen, BATCH, dim)
        mean, logvar = encoder(chunk)
        latent = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen)
        recon = decode_sequence(step, latent, random_touch(gen, BATCH))
        mse = ((recon - chunk) ** 2).mean()
        kl = -0.5 * (1 + logvar - mean**2 - logvar.exp()).mean()
        loss = mse + KL_WEIGHT * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if i % 100 == 0 or i == TRAIN_STEPS - 1:
            losses.append(float(mse))
            print(f"step {i:5d}  mse {float(mse):.5f}  kl {float(kl):.3f}", file=sys.stderr)
    return losses


def export(encoder: Encoder, step: DecoderStep, dim: int) -> None:
    enc = EncoderMean(encoder).eval()
    torch.onnx.export(
        enc,
        (torch.zeros(1, CHUNK_STEPS, dim),),
        os.path.join(OUT, "rdp_encoder.onnx"),
        input_names=["actions"],
        output_names=["latent"],
        dynamic_axes={"actions": {0: "batch"}, "latent": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    torch.onnx.export(
        step.eval(),
        (torch.zeros(1, LATENT_WIDTH), torch.zeros(1, TOUCH), torch.zeros(1, HIDDEN)),
        os.path.join(OUT, "rdp_decoder.onnx"),
        input_names=["latent_step", "touch", "hidden"],
        output_names=["action", "hidden_out"],
        dynamic_axes={n: {0: "batch"} for n in ["latent_step", "touch", "hidden", "action", "hidden_out"]},
        opset_version=17,
        dynamo=False,
    )
    from safetensors.torch import save_file

    tensors = {
        "weight_ih": step.weight_ih.detach().contiguous(),
        "weight_hh": step.weight_hh.detach().contiguous(),
        "bias_ih": step.bias_ih.detach().contiguous(),
        "bias_hh": step.bias_hh.detach().contiguous(),
        "head.weight": step.head.weight.detach().contiguous(),
        "head.bias": step.head.bias.detach().contiguous(),
    }
    path = os.path.join(OUT, "rdp_decoder.safetensors")
    save_file(tensors, path, metadata={"gates": "r,z,n (PyTorch GRU order)"})
    os.chmod(path, 0o644)


def check_with_onnxruntime(encoder: Encoder, step: DecoderStep, dim: int) -> dict:
    import onnxruntime as ort

    gen = torch.Generator().manual_seed(SEED + 2)
    chunk = synthetic_chunks(gen, 16, dim)
    touch = random_touch(gen, 16)
    with torch.no_grad():
        mean, _ = encoder(chunk)
        recon = decode_sequence(step, mean, touch)
        recon_zero_touch = decode_sequence(step, mean, torch.zeros_like(touch))
    enc = ort.InferenceSession(os.path.join(OUT, "rdp_encoder.onnx"), providers=["CPUExecutionProvider"])
    latent = enc.run(["latent"], {"actions": chunk.numpy()})[0]
    dec = ort.InferenceSession(os.path.join(OUT, "rdp_decoder.onnx"), providers=["CPUExecutionProvider"])
    hidden = np.zeros((16, HIDDEN), dtype=np.float32)
    ort_actions = []
    for t in range(CHUNK_STEPS):
        action, hidden = dec.run(None, {"latent_step": latent[:, t // 4], "touch": touch[:, t].numpy(), "hidden": hidden})
        ort_actions.append(action)
    ort_recon = np.stack(ort_actions, axis=1)
    return {
        "latentMaxAbsDiffTorchVsOnnxruntime": float(np.abs(latent - mean.numpy()).max()),
        "actionMaxAbsDiffTorchVsOnnxruntime": float(np.abs(ort_recon - recon.numpy()).max()),
        "reconstructionRmsNormalized": float(torch.sqrt(((recon - chunk) ** 2).mean())),
        "reconstructionRmsNormalizedZeroTouch": float(torch.sqrt(((recon_zero_touch - chunk) ** 2).mean())),
        "reconstructionMaxAbsNormalizedZeroTouch": float((recon_zero_touch - chunk).abs().max()),
    }


def main() -> None:
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    names, low, high = arm_bounds()
    dim = len(names)
    encoder = Encoder(dim)
    step = DecoderStep(dim)
    losses = train(encoder, step, dim)
    encoder.eval()
    step.eval()
    export(encoder, step, dim)
    report = check_with_onnxruntime(encoder, step, dim)
    report["trainingMseEvery100Steps"] = [round(x, 6) for x in losses]
    report["trainSteps"] = TRAIN_STEPS
    report["seed"] = SEED
    contract = {
        "format": "rdp-asymmetric-tokenizer/1",
        "chunkSteps": CHUNK_STEPS,
        "latentSteps": LATENT_STEPS,
        "latentWidth": LATENT_WIDTH,
        "hiddenSize": HIDDEN,
        "stepPeriodS": STEP_PERIOD_S,
        "action": {
            "dim": dim,
            "names": names,
            "space": "absolute joint targets (rad) and gripper width (m), normalized per entry to [-1, 1] with low/high",
            "low": low,
            "high": high,
        },
        "touch": {
            "wrench": WRENCH,
            "tactile": TAXELS,
            "order": "fx fy fz (N), tx ty tz (N m) of the wrist wrench, then the fingertip taxels (N)",
            "scale": TOUCH_SCALE,
            "clip": TOUCH_CLIP,
        },
        "files": {"encoder": "rdp_encoder.onnx", "decoder": "rdp_decoder.onnx", "decoderWeights": "rdp_decoder.safetensors"},
        "decoderWeights": {
            "gates": "PyTorch GRU order r, z, n: weight_ih [96, 38], weight_hh [96, 32], bias_ih [96], bias_hh [96]",
            "input": "latent step (16) then touch features (22)",
            "head": "head.weight [7, 32], head.bias [7]: action = head.weight @ hidden + head.bias",
        },
    }
    with open(os.path.join(OUT, "rdp.json"), "w") as f:
        json.dump(contract, f, indent=2)
        f.write("\n")
    with open(os.path.join(OUT, "export_report.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
