import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MujocoArm, READY_POSITIONS_VLA_ARM6 } from "../../src/sim/mujocoArm.js";
import { bundledArm, makeSnapshot, padDownIk, sum } from "./helpers.js";

const arm = bundledArm();
const SURFACE_M = 0.08;
const AREA: [number, number] = [0.45, 0];

describe("MujocoArm", () => {
  let sim: MujocoArm;
  const snap = makeSnapshot(7, 16);
  const cmd = new Float64Array(7);

  beforeAll(async () => {
    sim = await MujocoArm.create({ arm, task: { surfaceHeightM: SURFACE_M, areaCenterXyM: AREA, areaSizeXyM: [0.16, 0.12] } });
  });
  afterAll(() => sim.close());

  /** Command the pad-down pose over (x, y) at height z, linearly over durationS, as a 500 Hz stream. */
  function moveTo(x: number, y: number, z: number, durationS: number) {
    sim.readSensors(snap);
    const from = Float64Array.from(cmd);
    const to = [...padDownIk(arm, x, y, z), 0.06];
    const n = Math.round(durationS / sim.timestepS);
    for (let k = 1; k <= n; k++) {
      for (let i = 0; i < 7; i++) cmd[i] = from[i] + ((to[i] - from[i]) * k) / n;
      sim.sendCommand(cmd, sim.simTimeS * 1e9);
      sim.step(1);
    }
  }

  function settle(seconds: number) {
    sim.step(Math.round(seconds / sim.timestepS));
    sim.readSensors(snap);
  }

  it("exposes the description's dimensions and the sensor counts", () => {
    expect(sim.name).toBe("mujoco");
    expect(sim.dim).toBe(arm.joints.length + 1);
    expect(sim.tactileCount).toBe(16);
    expect(sim.timestepS).toBe(0.002);
    expect(sim.readSensors(snap)).toBe(true);
    for (let i = 0; i < 7; i++) expect(snap.positions[i]).toBeCloseTo(READY_POSITIONS_VLA_ARM6[i], 6);
  });

  it("moves the joints where commanded and the gripper to the commanded width", () => {
    sim.reset();
    cmd.set(READY_POSITIONS_VLA_ARM6);
    const target = [0.3, 0.5, 0.6, 1.9, -0.4, 0.3, 0.03];
    const from = Float64Array.from(cmd);
    for (let k = 1; k <= 500; k++) {
      for (let i = 0; i < 7; i++) cmd[i] = from[i] + ((target[i] - from[i]) * k) / 500;
      sim.sendCommand(cmd, k * 2e6);
      sim.step(1);
    }
    settle(0.5);
    for (let i = 0; i < 6; i++) expect(Math.abs(snap.positions[i] - target[i])).toBeLessThan(2e-3);
    expect(Math.abs(snap.positions[6] - 0.03)).toBeLessThan(1e-3);
    for (let i = 0; i < 7; i++) expect(Math.abs(snap.velocities[i])).toBeLessThan(0.01);
  });

  it("tracks a smooth 500 Hz command stream closely and without oscillation", () => {
    sim.reset();
    cmd.set(READY_POSITIONS_VLA_ARM6);
    let maxError = 0;
    // 0.2 rad at 0.5 Hz on every joint (peak 0.63 rad/s), faded in; errors against the command the sample answers.
    for (let k = 1; k <= 1500; k++) {
      const t = k * 0.002;
      const wave = 0.2 * Math.sin(Math.PI * t) * (1 - Math.exp(-3 * t));
      for (let i = 0; i < 6; i++) cmd[i] = READY_POSITIONS_VLA_ARM6[i] + (i === 3 ? -wave : wave);
      sim.sendCommand(cmd, t * 1e9);
      sim.step(1);
      sim.readSensors(snap);
      if (t > 1) for (let i = 0; i < 6; i++) maxError = Math.max(maxError, Math.abs(snap.positions[i] - cmd[i]));
    }
    // The sample is one step old (2 ms at up to 0.63 rad/s is 1.3 mrad of it).
    expect(maxError).toBeLessThan(4e-3);
    // Stop the stream: the arm comes to rest at the last command without ringing.
    const last = Float64Array.from(cmd);
    let crossings = 0;
    let previous = snap.positions[1] - last[1];
    for (let k = 0; k < 500; k++) {
      sim.step(1);
      sim.readSensors(snap);
      const e = snap.positions[1] - last[1];
      if (Math.abs(e) > 1e-4 && Math.sign(e) !== Math.sign(previous) && Math.abs(previous) > 1e-4) crossings++;
      previous = e;
    }
    expect(crossings).toBeLessThanOrEqual(1);
    for (let i = 0; i < 6; i++) expect(Math.abs(snap.positions[i] - last[i])).toBeLessThan(5e-4);
  });

  it("keeps the previous target for non-finite command entries", () => {
    sim.reset();
    cmd.set(READY_POSITIONS_VLA_ARM6);
    cmd[1] = Number.NaN;
    cmd[2] = Number.POSITIVE_INFINITY;
    sim.sendCommand(cmd, 0);
    settle(0.2);
    for (let i = 0; i < 7; i++) expect(Number.isFinite(snap.positions[i])).toBe(true);
    expect(snap.positions[1]).toBeCloseTo(READY_POSITIONS_VLA_ARM6[1], 3);
    cmd.set(READY_POSITIONS_VLA_ARM6);
  });

  it("feels the surface: force rises when pressing deeper and returns to zero on lift", () => {
    sim.reset();
    cmd.set(READY_POSITIONS_VLA_ARM6);
    moveTo(AREA[0], AREA[1], SURFACE_M + 0.05, 1);
    settle(0.3);
    expect(sum(snap.tactile)).toBe(0);
    expect(Math.hypot(snap.wrench[0], snap.wrench[1], snap.wrench[2])).toBeLessThan(0.5);
    expect(sim.contactForceN()).toBe(0);

    moveTo(AREA[0], AREA[1], SURFACE_M - 0.004, 1);
    settle(0.3);
    const shallow = sum(snap.tactile);
    const shallowFz = snap.wrench[2];
    moveTo(AREA[0], AREA[1], SURFACE_M - 0.01, 0.5);
    settle(0.3);
    const deep = sum(snap.tactile);
    expect(shallow).toBeGreaterThan(2);
    expect(deep).toBeGreaterThan(shallow + 4);
    // Every taxel of the flat pad carries load on a flat surface.
    for (let i = 0; i < 16; i++) expect(snap.tactile[i]).toBeGreaterThan(0);
    // The surface pushes back against the tool's z axis (which points down): fz < 0, about the tactile total.
    expect(shallowFz).toBeLessThan(0);
    expect(-snap.wrench[2]).toBeGreaterThan(0.8 * deep);
    expect(-snap.wrench[2]).toBeLessThan(1.2 * deep);
    expect(sim.contactForceN()).toBeCloseTo(sum(sim.readSensors(snap) ? snap.tactile : []), 9);

    moveTo(AREA[0], AREA[1], SURFACE_M + 0.05, 1);
    settle(0.3);
    expect(sum(snap.tactile)).toBe(0);
    expect(Math.abs(snap.wrench[2])).toBeLessThan(0.5);
  });

  it("metrics: free-air motion wipes nothing, sliding in the band wipes the path", () => {
    sim.reset();
    cmd.set(READY_POSITIONS_VLA_ARM6);
    moveTo(AREA[0] - 0.06, 0, SURFACE_M + 0.01, 1); // hovering 1 cm above the surface
    moveTo(AREA[0] + 0.06, 0, SURFACE_M + 0.01, 1);
    expect(sim.coverage()).toBe(0);
    expect(sim.metrics().contactTimeS).toBe(0);

    moveTo(AREA[0] - 0.06, 0, SURFACE_M + 0.01, 1);
    moveTo(AREA[0] - 0.06, 0, SURFACE_M - 0.008, 1); // about 10 N on the sponge
    settle(0.2);
    const before = sim.coverage();
    moveTo(AREA[0] + 0.06, 0, SURFACE_M - 0.008, 3);
    const m = sim.metrics();
    expect(m.contactTimeS).toBeGreaterThan(3);
    expect(m.peakForceN).toBeGreaterThan(5);
    // One stroke along the middle: a band about as wide as the pad (5.6 cm of the 12 cm), most of the length.
    expect(sim.coverage()).toBeGreaterThan(before + 0.3);
    expect(sim.coverage()).toBeLessThan(0.7);
  });

  it("applies perturbations: the surface moves, friction changes, a push deflects the arm", () => {
    sim.reset();
    expect(sim.surfaceHeightM()).toBeCloseTo(SURFACE_M, 9);
    sim.applyPerturbation({ kind: "surfaceHeightShift", deltaM: 0.01, rampS: 0.1 });
    sim.step(25);
    expect(sim.surfaceHeightM()).toBeGreaterThan(SURFACE_M + 0.002);
    expect(sim.surfaceHeightM()).toBeLessThan(SURFACE_M + 0.008);
    sim.step(50);
    expect(sim.surfaceHeightM()).toBeCloseTo(SURFACE_M + 0.01, 9);

    sim.applyPerturbation({ kind: "friction", friction: 1.3 });
    expect(sim.surfaceFriction()).toBe(1.3);

    sim.reset();
    cmd.set(READY_POSITIONS_VLA_ARM6);
    sim.sendCommand(cmd, 0);
    settle(0.1);
    const tcpBefore = sim.tcpPositionM(new Float64Array(3)).slice();
    sim.applyPerturbation({ kind: "push", forceN: [0, 40, 0], durationS: 0.1 });
    settle(0.1);
    const tcpDuring = sim.tcpPositionM(new Float64Array(3)).slice();
    expect(tcpDuring[1] - tcpBefore[1]).toBeGreaterThan(0.001);
    settle(1);
    const tcpAfter = sim.tcpPositionM(new Float64Array(3));
    expect(Math.abs(tcpAfter[1] - tcpBefore[1])).toBeLessThan(0.001);
    expect(() => sim.applyPerturbation({ kind: "push", forceN: [0, 0, 0], durationS: -1 })).toThrow(/durationS must be a number in/);
  });

  it("runs the task's scheduled perturbations at their times", async () => {
    const scheduled = await MujocoArm.create({
      arm,
      task: { surfaceHeightM: 0.1, perturbations: [{ kind: "surfaceHeightShift", atS: 0.1, deltaM: -0.02 }, { kind: "friction", atS: 0.2, friction: 1.5 }] },
    });
    try {
      scheduled.step(49);
      expect(scheduled.surfaceHeightM()).toBeCloseTo(0.1, 9);
      scheduled.step(2);
      expect(scheduled.surfaceHeightM()).toBeCloseTo(0.08, 9);
      expect(scheduled.surfaceFriction()).toBeCloseTo(resolveFriction(scheduled), 9);
      scheduled.step(50);
      expect(scheduled.surfaceFriction()).toBe(1.5);
      scheduled.reset();
      expect(scheduled.surfaceHeightM()).toBeCloseTo(0.1, 9);
      expect(scheduled.surfaceFriction()).toBe(scheduled.task.friction);
    } finally {
      scheduled.close();
    }
    function resolveFriction(s: MujocoArm) {
      return s.task.friction;
    }
  });

  it("maps sim time to the runtime clock from the given origin", () => {
    sim.reset();
    const origin = 5e9;
    sim.setTimeOriginNs(origin);
    expect(sim.stepTo(origin + 10e6)).toBe(5);
    expect(sim.stepTo(origin + 10e6)).toBe(0);
    expect(sim.stepTo(origin + 11e6)).toBe(0);
    expect(sim.stepTo(origin + 12e6)).toBe(1);
    sim.readSensors(snap);
    // Sensors describe the state at the start of the last step.
    expect(snap.timeNs).toBe(origin + 10e6);
    // Far behind the wall clock: at most maxStepsPerCall (250) steps, the rest is dropped.
    expect(sim.stepTo(origin + 2e9)).toBe(250);
    expect(sim.droppedStepCount).toBe(1000 - 6 - 250);
    expect(sim.stepTo(origin + 2e9)).toBe(0);
    sim.setTimeOriginNs(0);
  });

  it("keeps working after the wasm memory grows (its cached views are re-read)", async () => {
    sim.reset();
    const { compileMjcf, loadMujoco } = await import("../../src/sim/mujocoLoader.js");
    const mujoco = await loadMujoco();
    // A view taken now: after the heap grows it is either detached (non-shared memory) or still covers only the
    // old, smaller buffer (this build's SharedArrayBuffer memory); a fresh view sees the grown buffer.
    const small = compileMjcf(mujoco, `<mujoco><worldbody><body><joint/><geom size="0.1"/></body></worldbody></mujoco>`, "small");
    const smallData = new mujoco.MjData(small);
    const probe = smallData.qpos as Float64Array;
    expect(probe.length).toBe(1);
    // A model whose data arena needs 64 MB forces the heap to grow, which detaches every old typed-array view.
    const big = compileMjcf(mujoco, `<mujoco><size memory="64M"/><worldbody><body><joint/><geom size="0.1"/></body></worldbody></mujoco>`, "big");
    const bigData = new mujoco.MjData(big);
    try {
      expect((smallData.qpos as Float64Array).buffer.byteLength).toBeGreaterThan(probe.buffer.byteLength);
      cmd.set(READY_POSITIONS_VLA_ARM6);
      cmd[0] = 0.2;
      for (let k = 1; k <= 300; k++) {
        sim.sendCommand(cmd, k * 2e6);
        sim.step(1);
      }
      expect(sim.readSensors(snap)).toBe(true);
      expect(snap.positions[0]).toBeCloseTo(0.2, 2);
    } finally {
      bigData.delete();
      big.delete();
      smallData.delete();
      small.delete();
    }
  });

  it("rejects undersized snapshot buffers with a clear message", () => {
    expect(() => sim.readSensors(makeSnapshot(7, 4))).toThrow(/snapshot buffers too small: need .*tactile >= 16.*got 7\/7\/6\/4/);
  });
});

describe("MujocoArm.create", () => {
  it.each([
    [{ task: { surfaceHeightM: -1 } }, /wipe task: surfaceHeightM must be a number in \[0, 0.3\] m, got -1/],
    [{ timestepS: 0.05 }, /wipe scene: timestepS must be a number in \[0.0001, 0.01\] s, got 0.05/],
    [{ scene: { tactileRows: 2.5 } }, /wipe scene: tactileRows must be an integer in \[1, 16\], got 2.5/],
    [{ initialPositions: [0, 0, 0] }, /initialPositions must have 7 entries \(joints \+ gripper\), got 3/],
    [{ seed: Number.NaN }, /seed must be a finite number, got NaN/],
  ])("rejects a malformed option %j with a one-line error", async (options, message) => {
    const error = await MujocoArm.create({ arm, ...options }).then(
      (s) => {
        s.close();
        return null;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain("\n");
  });

  it("samples the task from the seed when none is given", async () => {
    const a = await MujocoArm.create({ arm, seed: 4 });
    const b = await MujocoArm.create({ arm, seed: 4 });
    try {
      expect(a.task).toEqual(b.task);
      expect(a.xml).toBe(b.xml);
    } finally {
      a.close();
      b.close();
    }
  });

  it("reports what MuJoCo says when the model does not compile", async () => {
    const { compileMjcf, loadMujoco } = await import("../../src/sim/mujocoLoader.js");
    const mujoco = await loadMujoco();
    expect(() => compileMjcf(mujoco, `<mujoco><worldbody><geom type="sphere" size="x"/></worldbody></mujoco>`, "broken")).toThrow(
      /mujoco: the generated MJCF for broken did not compile: .*size/,
    );
  });
});
