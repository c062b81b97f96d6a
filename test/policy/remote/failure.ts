import { expect } from "vitest";
import { RemotePolicyError } from "../../../src/policy/remote/errors.js";

/** The call must fail with a one-line RemotePolicyError; returns it for further checks. */
export async function failure(promise: Promise<unknown>): Promise<RemotePolicyError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(RemotePolicyError);
    expect((err as Error).message).not.toContain("\n");
    return err as RemotePolicyError;
  }
  throw new Error("expected the call to fail");
}
