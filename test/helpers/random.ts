// Deterministic pseudo-random numbers for tests (mulberry32), so a failure reproduces. The same generator as the
// benchmarks' synthetic chunks, which the Python reference scripts mirror.
export { seededRandom as mulberry32 } from "../../bench/lib/synthetic.js";
