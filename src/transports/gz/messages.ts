// The gz messages the arm backend exchanges, written from the public field numbers in ignition-msgs 8 /
// gz-msgs 10 (unchanged between them):
//
//   Time      { int64 sec = 1; int32 nsec = 2; }
//   Header    { Time stamp = 1; repeated Map data = 2; }
//   Double    { Header header = 1; double data = 2; }
//   Vector3d  { Header header = 1; double x = 2; double y = 3; double z = 4; }
//   Axis      { Header header = 1; Vector3d xyz = 2; double limit_lower = 3; ... double position = 10;
//               double velocity = 11; double force = 12; double acceleration = 13; ... }
//   Joint     { Header header = 1; string name = 2; uint32 id = 3; ... Axis axis1 = 10; Axis axis2 = 11; ... }
//   Model     { Header header = 1; string name = 2; uint32 id = 3; ... repeated Joint joint = 6; ... }
//   Wrench    { Header header = 1; Vector3d force = 2; Vector3d torque = 3; Vector3d force_offset = 4; }
//   Entity    { Header header = 1; uint64 id = 2; string name = 3; Type type = 4; }
//   JointWrench { Header header = 1; string body_1_name = 2; uint32 body_1_id = 3; string body_2_name = 4;
//               uint32 body_2_id = 5; Wrench body_1_wrench = 6; Wrench body_2_wrench = 7; }
//   Contact   { Header header = 1; Entity collision1 = 2; Entity collision2 = 3; repeated Vector3d position = 4;
//               repeated Vector3d normal = 5; repeated double depth = 6; repeated JointWrench wrench = 7; Entity world = 8; }
//   Contacts  { Header header = 1; repeated Contact contact = 2; }
//   Actuators { Header header = 1; repeated double position = 2; repeated double velocity = 3; repeated double normalized = 4; }
//
// Decoders for the per-tick messages write into preallocated state and allocate nothing: names are matched
// against pre-encoded byte strings instead of being decoded. Each decoder checks the whole message before it
// changes its output, so a malformed message leaves the last good values in place.
import { ProtoError, ProtoReader, WireType } from "./protobuf.js";

// ---------------------------------------------------------------------------------------------- encoders

/** A Double message in a preallocated 9-byte buffer: field 2 (data), fixed64. The header is left out. */
export class DoubleEncoder {
  readonly bytes = new Uint8Array(9);
  private readonly view = new DataView(this.bytes.buffer);
  constructor() {
    this.bytes[0] = (2 << 3) | WireType.Fixed64;
  }
  encode(value: number): Uint8Array {
    this.view.setFloat64(1, value, true);
    return this.bytes;
  }
}

/** An Actuators message with `count` positions (packed field 2) in a preallocated buffer. */
export class ActuatorsPositionEncoder {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly offset: number;
  constructor(readonly count: number) {
    if (!Number.isInteger(count) || count < 1 || count > 1000) throw new Error(`actuators encoder: expected 1..1000 positions, got ${count}`);
    const payload = 8 * count;
    const lenBytes: number[] = [];
    let v = payload;
    while (v >= 0x80) {
      lenBytes.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    lenBytes.push(v);
    this.bytes = new Uint8Array(1 + lenBytes.length + payload);
    this.bytes[0] = (2 << 3) | WireType.LengthDelimited;
    this.bytes.set(lenBytes, 1);
    this.offset = 1 + lenBytes.length;
    this.view = new DataView(this.bytes.buffer);
  }
  /** Write positions[i] into slot i; returns the message bytes. */
  set(i: number, value: number): void {
    this.view.setFloat64(this.offset + 8 * i, value, true);
  }
  get message(): Uint8Array {
    return this.bytes;
  }
}

// ---------------------------------------------------------------------------------------------- helpers

function readVector3(r: ProtoReader, end: number, out: Float64Array, at: number): void {
  const saved = r.end;
  r.end = end;
  let x = 0, y = 0, z = 0;
  while (!r.done()) {
    const f = r.tag();
    if (f >= 2 && f <= 4 && r.wireType === WireType.Fixed64) {
      const v = r.double();
      if (f === 2) x = v;
      else if (f === 3) y = v;
      else z = v;
    } else if (f >= 2 && f <= 4) {
      throw new ProtoError(`Vector3d field ${f} must be a double (wire type 1), got wire type ${r.wireType}`);
    } else r.skip();
  }
  r.end = saved;
  out[at] = x;
  out[at + 1] = y;
  out[at + 2] = z;
}

/** Does bytes[start, end) equal `name`? */
function bytesEqual(bytes: Uint8Array, start: number, end: number, name: Uint8Array): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (bytes[start + i] !== name[i]) return false;
  return true;
}

/** Does bytes[start, end) equal `name` or end with "::" + name (a scoped entity name)? */
function scopedNameMatches(bytes: Uint8Array, start: number, end: number, name: Uint8Array): boolean {
  const len = end - start;
  if (len === name.length) return bytesEqual(bytes, start, end, name);
  if (len < name.length + 2) return false;
  const s = end - name.length;
  if (bytes[s - 1] !== 0x3a || bytes[s - 2] !== 0x3a) return false;
  return bytesEqual(bytes, s, end, name);
}

const encoder = new TextEncoder();

// ---------------------------------------------------------------------------------------------- Model (joint state)

/**
 * Decodes JointStatePublisher's Model messages into per-joint position / velocity / effort for a fixed list
 * of joint names (axis 1 only: the arm's joints have one axis). Joints not in the list are skipped.
 */
export class JointStateDecoder {
  readonly positions: Float64Array;
  readonly velocities: Float64Array;
  readonly efforts: Float64Array;
  /** Which joints the last decoded message carried. */
  readonly present: Uint8Array;
  private readonly names: Uint8Array[];
  private readonly scratch: Float64Array;
  private readonly scratchPresent: Uint8Array;
  private readonly r0 = new ProtoReader();
  /** Simulation time of the last decoded message (header stamp), seconds; NaN when it had none. */
  stampS = NaN;

  constructor(readonly jointNames: readonly string[]) {
    const n = jointNames.length;
    this.names = jointNames.map((j) => encoder.encode(j));
    this.positions = new Float64Array(n);
    this.velocities = new Float64Array(n);
    this.efforts = new Float64Array(n);
    this.present = new Uint8Array(n);
    this.scratch = new Float64Array(3 * n);
    this.scratchPresent = new Uint8Array(n);
  }

  /**
   * Decode one Model message. Returns the number of listed joints it carried. Throws ProtoError (and changes
   * nothing) when the bytes are malformed or a listed joint carries a non-finite value.
   */
  decode(bytes: Uint8Array): number {
    const r = this.r0.reset(bytes);
    const n = this.names.length;
    this.scratchPresent.fill(0);
    let stamp = NaN;
    let found = 0;
    while (!r.done()) {
      const f = r.tag();
      if (f === 6) {
        r.expect(WireType.LengthDelimited, 6, "Model.joint");
        const end = r.lengthDelimited();
        const idx = this.decodeJoint(r, end);
        if (idx >= 0 && this.scratchPresent[idx] === 0) {
          this.scratchPresent[idx] = 1;
          found++;
        }
      } else if (f === 1 && r.wireType === WireType.LengthDelimited) {
        stamp = readHeaderStamp(r, r.lengthDelimited());
      } else r.skip();
    }
    for (let i = 0; i < n; i++) {
      if (this.scratchPresent[i] === 0) continue;
      const p = this.scratch[3 * i], v = this.scratch[3 * i + 1], e = this.scratch[3 * i + 2];
      if (!Number.isFinite(p) || !Number.isFinite(v) || !Number.isFinite(e)) {
        throw new ProtoError(`joint ${this.jointNames[i]}: expected finite position/velocity/effort, got ${p}/${v}/${e}`);
      }
    }
    for (let i = 0; i < n; i++) {
      this.present[i] = this.scratchPresent[i];
      if (this.scratchPresent[i] === 0) continue;
      this.positions[i] = this.scratch[3 * i];
      this.velocities[i] = this.scratch[3 * i + 1];
      this.efforts[i] = this.scratch[3 * i + 2];
    }
    this.stampS = stamp;
    return found;
  }

  /** Returns the joint's index in the list, or -1; fills scratch for it. */
  private decodeJoint(r: ProtoReader, end: number): number {
    const saved = r.end;
    r.end = end;
    let idx = -1;
    let axisStart = -1, axisEnd = -1;
    while (!r.done()) {
      const f = r.tag();
      if (f === 2 && r.wireType === WireType.LengthDelimited) {
        const e = r.lengthDelimited();
        for (let i = 0; i < this.names.length; i++) {
          if (bytesEqual(r.bytes, r.pos, e, this.names[i])) {
            idx = i;
            break;
          }
        }
        r.pos = e;
      } else if (f === 10) {
        r.expect(WireType.LengthDelimited, 10, "Joint.axis1");
        const e = r.lengthDelimited();
        axisStart = r.pos;
        axisEnd = e;
        r.pos = e;
      } else r.skip();
    }
    if (idx >= 0) {
      let p = 0, v = 0, force = 0;
      if (axisStart >= 0) {
        r.pos = axisStart;
        r.end = axisEnd;
        while (!r.done()) {
          const f = r.tag();
          if (f === 10 || f === 11 || f === 12) {
            r.expect(WireType.Fixed64, f, "Axis");
            const x = r.double();
            if (f === 10) p = x;
            else if (f === 11) v = x;
            else force = x;
          } else r.skip();
        }
        r.pos = end;
      }
      this.scratch[3 * idx] = p;
      this.scratch[3 * idx + 1] = v;
      this.scratch[3 * idx + 2] = force;
    } else if (axisStart >= 0) {
      // Still validate the axis of joints we do not use: a malformed message is malformed as a whole.
      r.pos = axisStart;
      r.end = axisEnd;
      while (!r.done()) {
        r.tag();
        r.skip();
      }
      r.pos = end;
    }
    r.end = saved;
    return idx;
  }
}

/** Header.stamp as seconds (NaN when absent). */
function readHeaderStamp(r: ProtoReader, end: number): number {
  const saved = r.end;
  r.end = end;
  let stamp = NaN;
  while (!r.done()) {
    const f = r.tag();
    if (f === 1 && r.wireType === WireType.LengthDelimited) {
      const e = r.lengthDelimited();
      const s2 = r.end;
      r.end = e;
      let sec = 0, nsec = 0;
      while (!r.done()) {
        const tf = r.tag();
        const twt = r.wireType as number;
        if (tf === 1 && twt === WireType.Varint) sec = r.int64();
        else if (tf === 2 && twt === WireType.Varint) nsec = r.int64();
        else r.skip();
      }
      r.end = s2;
      stamp = sec + nsec * 1e-9;
    } else r.skip();
  }
  r.end = saved;
  return stamp;
}

// ---------------------------------------------------------------------------------------------- Wrench

/** Decodes a Wrench (force, torque) into a preallocated [fx, fy, fz, tx, ty, tz]. */
export class WrenchDecoder {
  readonly wrench = new Float64Array(6);
  private readonly scratch = new Float64Array(6);
  private readonly r0 = new ProtoReader();
  stampS = NaN;

  decode(bytes: Uint8Array): void {
    const r = this.r0.reset(bytes);
    this.scratch.fill(0);
    let stamp = NaN;
    while (!r.done()) {
      const f = r.tag();
      if (f === 2 || f === 3) {
        r.expect(WireType.LengthDelimited, f, "Wrench");
        readVector3(r, r.lengthDelimited(), this.scratch, f === 2 ? 0 : 3);
      } else if (f === 1 && r.wireType === WireType.LengthDelimited) {
        stamp = readHeaderStamp(r, r.lengthDelimited());
      } else r.skip();
    }
    for (let i = 0; i < 6; i++) {
      if (!Number.isFinite(this.scratch[i])) throw new ProtoError(`wrench: expected finite force and torque, got ${Array.from(this.scratch).join(", ")}`);
    }
    this.wrench.set(this.scratch);
    this.stampS = stamp;
  }
}

// ---------------------------------------------------------------------------------------------- Contacts

/**
 * Turns a Contacts message into a normal force per taxel. A contact belongs to taxel i when either of its
 * collision names is `taxelCollisions[i]`, alone or as the last part of a scoped name ("model::link::name").
 * The force of each contact point is the contact wrench on the taxel's body (body_1 when the taxel is
 * collision1, body_2 otherwise) projected on the contact normal; when the message carries no wrench (physics
 * engines that do not report contact forces) it is the penetration depth times `stiffnessNPerM`.
 */
export class ContactsDecoder {
  readonly forcesN: Float64Array;
  private readonly scratch: Float64Array;
  private readonly names: Uint8Array[];
  private readonly r0 = new ProtoReader();
  // Per contact point (up to maxPoints per contact): normal, depth, force on body 1 and on body 2.
  private readonly normals: Float64Array;
  private readonly depths: Float64Array;
  private readonly body1: Float64Array;
  private readonly body2: Float64Array;
  /** Contacts that matched no taxel in the last message. */
  unmatched = 0;
  /** Contact points beyond maxPoints ignored in the last message. */
  truncatedPoints = 0;

  constructor(
    readonly taxelCollisions: readonly string[],
    readonly stiffnessNPerM: number,
    readonly maxPoints = 64,
  ) {
    if (!(stiffnessNPerM >= 0)) throw new Error(`contacts decoder: expected a stiffness >= 0 N/m, got ${stiffnessNPerM}`);
    this.names = taxelCollisions.map((n) => encoder.encode(n));
    this.forcesN = new Float64Array(taxelCollisions.length);
    this.scratch = new Float64Array(taxelCollisions.length);
    this.normals = new Float64Array(3 * maxPoints);
    this.depths = new Float64Array(maxPoints);
    this.body1 = new Float64Array(3 * maxPoints);
    this.body2 = new Float64Array(3 * maxPoints);
  }

  decode(bytes: Uint8Array): void {
    const r = this.r0.reset(bytes);
    this.scratch.fill(0);
    let unmatched = 0;
    let truncated = 0;
    while (!r.done()) {
      const f = r.tag();
      if (f === 2) {
        r.expect(WireType.LengthDelimited, 2, "Contacts.contact");
        const result = this.decodeContact(r, r.lengthDelimited());
        if (result < 0) unmatched++;
        else truncated += result;
      } else r.skip();
    }
    for (let i = 0; i < this.scratch.length; i++) {
      if (!Number.isFinite(this.scratch[i])) throw new ProtoError(`contacts: taxel ${this.taxelCollisions[i]}: expected a finite force, got ${this.scratch[i]}`);
    }
    this.forcesN.set(this.scratch);
    this.unmatched = unmatched;
    this.truncatedPoints = truncated;
  }

  /** Entity.name (field 3) matched against the taxel names: index or -1. */
  private matchTaxel(r: ProtoReader, end: number): number {
    const saved = r.end;
    r.end = end;
    let idx = -1;
    while (!r.done()) {
      const f = r.tag();
      if (f === 3 && r.wireType === WireType.LengthDelimited) {
        const e = r.lengthDelimited();
        for (let i = 0; i < this.names.length; i++) {
          if (scopedNameMatches(r.bytes, r.pos, e, this.names[i])) {
            idx = i;
            break;
          }
        }
        r.pos = e;
      } else r.skip();
    }
    r.end = saved;
    return idx;
  }

  /** Adds the contact's force to its taxel. Returns -1 when no taxel matched, else the points ignored. */
  private decodeContact(r: ProtoReader, end: number): number {
    const saved = r.end;
    r.end = end;
    const max = this.maxPoints;
    let taxel1 = -1, taxel2 = -1;
    let nNormals = 0, nDepths = 0, nWrenches = 0;
    while (!r.done()) {
      const f = r.tag();
      const wt = r.wireType;
      if (f === 2 && wt === WireType.LengthDelimited) taxel1 = this.matchTaxel(r, r.lengthDelimited());
      else if (f === 3 && wt === WireType.LengthDelimited) taxel2 = this.matchTaxel(r, r.lengthDelimited());
      else if (f === 5 && wt === WireType.LengthDelimited) {
        const e = r.lengthDelimited();
        if (nNormals < max) readVector3(r, e, this.normals, 3 * nNormals);
        else r.pos = e;
        nNormals++;
      } else if (f === 6 && wt === WireType.Fixed64) {
        const d = r.double();
        if (nDepths < max) this.depths[nDepths] = d;
        nDepths++;
      } else if (f === 6 && wt === WireType.LengthDelimited) {
        // Packed repeated double (what proto3 encoders write).
        const e = r.lengthDelimited();
        if ((e - r.pos) % 8 !== 0) throw new ProtoError(`Contact.depth: packed doubles must take a multiple of 8 bytes, got ${e - r.pos}`);
        while (r.pos < e) {
          const d = r.double();
          if (nDepths < max) this.depths[nDepths] = d;
          nDepths++;
        }
      } else if (f === 7 && wt === WireType.LengthDelimited) {
        const e = r.lengthDelimited();
        if (nWrenches < max) this.decodeJointWrench(r, e, nWrenches);
        else r.pos = e;
        nWrenches++;
      } else if ((f === 2 || f === 3 || f === 4 || f === 5 || f === 7 || f === 8) && wt !== WireType.LengthDelimited) {
        throw new ProtoError(`Contact field ${f} must be a message (wire type 2), got wire type ${wt}`);
      } else r.skip();
    }
    r.end = saved;
    const taxel = taxel1 >= 0 ? taxel1 : taxel2;
    if (taxel < 0) return -1;
    const forces = taxel1 >= 0 ? this.body1 : this.body2;
    const available = nWrenches > 0 ? nWrenches : nDepths;
    const points = available < max ? available : max;
    let total = 0;
    for (let k = 0; k < points; k++) {
      if (nWrenches > 0) {
        const b = 3 * k;
        const fx = forces[b], fy = forces[b + 1], fz = forces[b + 2];
        const nx = k < nNormals ? this.normals[b] : 0, ny = k < nNormals ? this.normals[b + 1] : 0, nz = k < nNormals ? this.normals[b + 2] : 0;
        const nn = Math.sqrt(nx * nx + ny * ny + nz * nz);
        const along = nn > 1e-12 ? (fx * nx + fy * ny + fz * nz) / nn : Math.sqrt(fx * fx + fy * fy + fz * fz);
        total += along < 0 ? -along : along;
      } else {
        const d = this.depths[k];
        if (d > 0) total += d * this.stiffnessNPerM;
      }
    }
    this.scratch[taxel] += total;
    return available - points;
  }

  /** JointWrench: body_1_wrench (6) and body_2_wrench (7) forces of point k. */
  private decodeJointWrench(r: ProtoReader, end: number, k: number): void {
    const saved = r.end;
    r.end = end;
    const b = 3 * k;
    this.body1[b] = this.body1[b + 1] = this.body1[b + 2] = 0;
    this.body2[b] = this.body2[b + 1] = this.body2[b + 2] = 0;
    while (!r.done()) {
      const f = r.tag();
      if ((f === 6 || f === 7) && r.wireType === WireType.LengthDelimited) {
        const e = r.lengthDelimited();
        const s2 = r.end;
        r.end = e;
        while (!r.done()) {
          const wf = r.tag();
          // Wrench.force is field 2.
          if (wf === 2 && r.wireType === WireType.LengthDelimited) readVector3(r, r.lengthDelimited(), f === 6 ? this.body1 : this.body2, b);
          else r.skip();
        }
        r.end = s2;
      } else r.skip();
    }
    r.end = saved;
  }
}
