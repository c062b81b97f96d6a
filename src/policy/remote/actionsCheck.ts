// The checks every remote action chunk passes before it becomes a policy output.

export interface ActionShapeLimits {
  /** Required action width D, when the runtime knows it. */
  actionDim?: number;
  /** Most steps accepted in one chunk. */
  maxSteps: number;
}

/** Shape limits on [T][D]; null when fine. */
export function actionShapeError(steps: number, dim: number, limits: ActionShapeLimits): string | null {
  if (steps < 1 || dim < 1) return `expected actions as [T][D] with T, D >= 1, got [${steps}][${dim}]`;
  if (steps > limits.maxSteps) return `expected at most ${limits.maxSteps} action steps, got ${steps}`;
  if (limits.actionDim !== undefined && dim !== limits.actionDim) return `expected actions as [T][${limits.actionDim}], got [${steps}][${dim}]`;
  return null;
}

/** The first non-finite value of a row-major [T][D] chunk, named by position; null when all are finite. */
export function nonFiniteActionError(values: Float64Array, dim: number): string | null {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) return `actions[${Math.floor(i / dim)}][${i % dim}] is ${values[i]} (expected finite numbers)`;
  }
  return null;
}
