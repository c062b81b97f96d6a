// Smooth synthetic action chunks for benchmarks: a few low-frequency sinusoids per dimension, normalized to about [-1, 1].

/**
 * Deterministic PRNG (mulberry32) so every run measures the same chunks. Kept separate from the simulator's seeded
 * generator on purpose: bench/reference/fast_reference.py reproduces exactly this one to time the same chunks.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function smoothChunk(steps: number, dim: number, random: () => number): number[][] {
  const phases = Array.from({ length: dim }, () => [random() * Math.PI * 2, random() * Math.PI * 2]);
  const amplitudes = Array.from({ length: dim }, () => [0.3 + 0.4 * random(), 0.1 * random()]);
  const offsets = Array.from({ length: dim }, () => (random() - 0.5) * 0.4);
  const chunk: number[][] = [];
  for (let t = 0; t < steps; t++) {
    const s = t / Math.max(1, steps - 1);
    chunk.push(
      Array.from({ length: dim }, (_, d) =>
        offsets[d] + amplitudes[d][0] * Math.sin(Math.PI * s + phases[d][0]) + amplitudes[d][1] * Math.sin(3 * Math.PI * s + phases[d][1]),
      ),
    );
  }
  return chunk;
}
