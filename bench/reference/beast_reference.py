#!/usr/bin/env python3
"""BEAST reference algorithm in torch (float32, CPU, one thread) for speed comparison.

Reimplements the published BEAST tokenizer pipeline the way the reference runs it: each call builds
the clamped uniform B-spline basis on the time grid (Cox-de Boor), solves the ridge normal equations
(B^T B + reg I) w = B^T y per DoF, clamps and quantizes the weights into 256 bins, and reorders
them control-point-major; decode dequantizes, reorders and multiplies by the basis again.

Prints JSON with median microseconds per chunk (batch 1) for encode and decode at 50x7 with 10 basis
and 10x7 with 5 basis (the last DoF a degree-0 gripper). With --golden PATH it first checks its own
output against the golden vectors and reports the mismatch counts.

Usage: python beast_reference.py [--golden ../shared/fixtures/beast/golden.json] [--iterations 300]
Tooling only: the runtime never needs Python.
"""

import argparse
import json
import statistics
import time

import torch

DEGREE = 4
VOCAB = 256
REGULARIZATION = 1e-9  # the reference training code; the hub port uses 1e-4


def clamped_knots(num_basis: int, degree: int) -> torch.Tensor:
    inner = torch.linspace(0.0, 1.0, num_basis + 1 - degree, dtype=torch.float32)
    return torch.cat([torch.zeros(degree), inner, torch.ones(degree)])


def basis_matrix(phases: torch.Tensor, num_basis: int, degree: int) -> torch.Tensor:
    """[T, num_basis] B-spline basis by the Cox-de Boor recursion; the last span is closed at 1."""
    knots = clamped_knots(num_basis, degree)
    spans = knots.numel() - 1
    u = phases.unsqueeze(-1)
    left, right = knots[:-1], knots[1:]
    n = ((u >= left) & (u < right)).to(torch.float32)
    last = max(i for i in range(spans) if knots[i] < knots[i + 1])
    n[phases == knots[last + 1], last] = 1.0
    for k in range(1, degree + 1):
        count = spans - k
        lo, hi = knots[:count], knots[k:k + count]
        lo1, hi1 = knots[1:count + 1], knots[k + 1:k + 1 + count]
        den_a = hi - lo
        den_b = hi1 - lo1
        a = torch.where(den_a > 0, (u - lo) / torch.where(den_a > 0, den_a, 1.0), 0.0) * n[:, :count]
        b = torch.where(den_b > 0, (hi1 - u) / torch.where(den_b > 0, den_b, 1.0), 0.0) * n[:, 1:count + 1]
        n = a + b
    return n


class ReferenceBeast:
    def __init__(self, num_dof, num_basis, seq_len, gripper_zero_order, w_min, w_max):
        self.num_dof, self.num_basis, self.seq_len = num_dof, num_basis, seq_len
        self.gripper = 1 if gripper_zero_order else 0
        self.joint_dof = num_dof - self.gripper
        self.times = torch.linspace(0.0, 1.0, seq_len, dtype=torch.float32)
        self.w_min = torch.as_tensor(w_min, dtype=torch.float32)
        self.w_max = torch.as_tensor(w_max, dtype=torch.float32)

    def _fit(self, basis, y):
        # y: [T, dofs] -> weights [dofs, num_basis]
        gram = basis.T @ basis + REGULARIZATION * torch.eye(self.num_basis)
        return torch.linalg.solve(gram, basis.T @ y).T

    def fit_weights(self, actions):
        weights = [self._fit(basis_matrix(self.times, self.num_basis, DEGREE), actions[:, :self.joint_dof])]
        if self.gripper:
            weights.append(self._fit(basis_matrix(self.times, self.num_basis, 0), actions[:, self.joint_dof:]))
        return torch.cat(weights, dim=0).reshape(-1)  # DoF-major

    def encode(self, actions):
        w = torch.clamp(self.fit_weights(actions), self.w_min, self.w_max)
        tokens = torch.round((w - self.w_min) / (self.w_max - self.w_min) * (VOCAB - 1)).long()
        return tokens.reshape(self.num_dof, self.num_basis).T.reshape(-1)  # control-point-major

    def decode(self, tokens, times=None):
        times = self.times if times is None else times
        flat = tokens.reshape(self.num_basis, self.num_dof).T.reshape(-1).to(torch.float32)
        w = (self.w_min + flat / (VOCAB - 1) * (self.w_max - self.w_min)).reshape(self.num_dof, self.num_basis)
        out = [basis_matrix(times, self.num_basis, DEGREE) @ w[:self.joint_dof].T]
        if self.gripper:
            out.append(basis_matrix(times, self.num_basis, 0) @ w[self.joint_dof:].T)
        return torch.cat(out, dim=1)


def check_golden(path):
    with open(path) as f:
        golden = json.load(f)
    report = []
    for cfg in golden["configs"]:
        ref = ReferenceBeast(cfg["num_dof"], cfg["num_basis"], cfg["seq_len"], cfg["gripper_zero_order"], cfg["w_min"], cfg["w_max"])
        mismatched = total = 0
        max_err = 0.0
        for case in cfg["cases"]:
            actions = torch.tensor(case["actions"], dtype=torch.float32)
            tokens = ref.encode(actions)
            expected = torch.tensor(case["tokens"])
            mismatched += int((tokens != expected).sum())
            total += tokens.numel()
            decoded = ref.decode(expected)
            max_err = max(max_err, float((decoded - torch.tensor(case["decoded"])).abs().max()))
        report.append({"config": cfg["name"], "token_mismatch": f"{mismatched}/{total}", "decoded_max_error": max_err})
    return report


def median_micros(fn, iterations):
    for _ in range(max(10, iterations // 10)):
        fn()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1000.0)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--golden", help="golden.json to check against before timing")
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    result = {"implementation": "torch float32 CPU, 1 thread", "torch": torch.__version__, "iterations": args.iterations}
    if args.golden:
        result["golden"] = check_golden(args.golden)
    timings = {}
    for seq_len, num_basis in ((50, 10), (10, 5)):
        num_dof = 7
        phase = torch.linspace(0.0, 1.0, seq_len).unsqueeze(-1)
        joints = 0.3 * torch.sin(6.0 * phase + torch.arange(num_dof - 1))
        gripper = (phase > 1.0 / 3.0).to(torch.float32)
        actions = torch.cat([joints, gripper], dim=1)
        n = num_dof * num_basis
        ref = ReferenceBeast(num_dof, num_basis, seq_len, True, [-2.0] * n, [2.0] * n)
        tokens = ref.encode(actions)
        with torch.no_grad():
            timings[f"{seq_len}x{num_dof}_basis{num_basis}"] = {
                "encode_us": median_micros(lambda: ref.encode(actions), args.iterations),
                "decode_us": median_micros(lambda: ref.decode(tokens), args.iterations),
            }
    result["timings"] = timings
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
