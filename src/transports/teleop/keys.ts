// CURVE key pairs in files, and the allow-list of client public keys.
//
// Certificate files use the ZPL layout that CZMQ and pyzmq (zmq.auth) read and write: `<name>.key` holds the
// public key (safe to hand out), `<name>.key_secret` holds both keys (readable by its owner only). So a Python
// client can use `zmq.auth.load_certificate`, and keys made by those tools work here:
//
//   metadata
//       name = "operator"
//   curve
//       public-key = "<40 characters of Z85>"
//       secret-key = "<40 characters of Z85>"     (secret file only)
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { curveKeyPair } from "zeromq";
import { isCurveKey } from "./z85.js";

export interface CurveKeyPair {
  /** Z85, 40 characters. */
  publicKey: string;
  /** Z85, 40 characters. */
  secretKey: string;
}

export interface CurveCertificate {
  publicKey: string;
  /** Present in a secret certificate only. */
  secretKey?: string;
  /** From the metadata section (or the file name without extension). */
  name: string;
}

/** A client allowed to connect: its public key and a name for logs and intervention events. */
export interface AllowedClient {
  publicKey: string;
  name: string;
}

/** A fresh key pair from libzmq (its CSPRNG). */
export function generateCurveKeyPair(): CurveKeyPair {
  const pair = curveKeyPair();
  return { publicKey: pair.publicKey, secretKey: pair.secretKey };
}

function certificateText(name: string, keys: { publicKey: string; secretKey?: string }): string {
  const secret = keys.secretKey !== undefined;
  const lines = [
    secret ? "#   vla-runtime CURVE certificate, SECRET part: keep it on this machine, readable by its owner only." : "#   vla-runtime CURVE certificate, public part: give this file to the peers that must trust this key.",
    `#   generated ${new Date().toISOString()}`,
    "",
    "metadata",
    `    name = ${JSON.stringify(name)}`,
    "curve",
    `    public-key = "${keys.publicKey}"`,
  ];
  if (secret) lines.push(`    secret-key = "${keys.secretKey}"`);
  return lines.join("\n") + "\n";
}

/** Parse a certificate (public or secret) from text; `origin` names it in errors. */
export function parseCertificate(text: string, origin: string): CurveCertificate {
  let section = "";
  const fields: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    if (!/^\s/.test(line)) {
      section = line.trim();
      continue;
    }
    const m = /^\s+([A-Za-z0-9_-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S*))\s*$/.exec(line);
    if (!m) throw new Error(`${origin}:${i + 1}: expected 'name = "value"' inside a section, got ${JSON.stringify(line.trim())}`);
    fields[`${section}.${m[1]}`] = m[2] ?? m[3] ?? m[4] ?? "";
  }
  const publicKey = fields["curve.public-key"];
  if (!isCurveKey(publicKey)) {
    throw new Error(`${origin}: expected a curve section with public-key = a 40-character Z85 key, got ${publicKey === undefined ? "none" : JSON.stringify(publicKey)}`);
  }
  const secretKey = fields["curve.secret-key"];
  if (secretKey !== undefined && !isCurveKey(secretKey)) {
    throw new Error(`${origin}: expected secret-key to be a 40-character Z85 key, got a value of length ${String(secretKey).length}`);
  }
  const name = fields["metadata.name"] || basename(origin).replace(/\.key(_secret)?$/, "");
  return secretKey === undefined ? { publicKey, name } : { publicKey, secretKey, name };
}

export function readCertificate(path: string): CurveCertificate {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`keys: cannot read certificate ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return parseCertificate(text, path);
}

/** Read a secret certificate (`<name>.key_secret`): both keys must be there. */
export function readKeyPair(secretPath: string): CurveKeyPair & { name: string } {
  const cert = readCertificate(secretPath);
  if (cert.secretKey === undefined) throw new Error(`keys: expected ${secretPath} to be a secret certificate (with secret-key), got a public one`);
  return { publicKey: cert.publicKey, secretKey: cert.secretKey, name: cert.name };
}

/**
 * The allow-list: a folder of public certificates (every `*.key` file, as zmq.auth's configure_curve reads), a
 * single certificate file, or a text file with one `<Z85 public key> [name]` per line (`#` at the line start or after a space starts a comment).
 */
export function loadAllowedClients(path: string): AllowedClient[] {
  if (!existsSync(path)) throw new Error(`keys: the allow-list ${path} does not exist`);
  if (statSync(path).isDirectory()) {
    const files = readdirSync(path).filter((f) => f.endsWith(".key")).sort();
    return files.map((f) => {
      const cert = readCertificate(join(path, f));
      return { publicKey: cert.publicKey, name: cert.name };
    });
  }
  const text = readFileSync(path, "utf8");
  if (/^curve\s*$/m.test(text)) {
    const cert = parseCertificate(text, path);
    return [{ publicKey: cert.publicKey, name: cert.name }];
  }
  const clients: AllowedClient[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    // '#' is a Z85 character too: a comment starts only at the line start or after whitespace.
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (line === "") return;
    const [key, ...rest] = line.split(/\s+/);
    if (!isCurveKey(key)) throw new Error(`${path}:${i + 1}: expected a 40-character Z85 public key first, got ${JSON.stringify(key)}`);
    clients.push({ publicKey: key, name: rest.join(" ") || `client-${key.slice(0, 8)}` });
  });
  return clients;
}

export interface GenerateKeysOptions {
  /** Folder to write into (created if missing). */
  dir: string;
  /** File stem: writes `<name>.key` and `<name>.key_secret`. */
  name: string;
  /** Replace an existing secret certificate (default false: refuse). */
  force?: boolean;
}

export interface GeneratedKeys {
  publicPath: string;
  secretPath: string;
  publicKey: string;
}

/** `vla-runtime keys generate`: a new key pair as a public and a secret certificate. */
export function generateKeys(options: GenerateKeysOptions): GeneratedKeys {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(options.name ?? "")) {
    throw new Error(`keys: expected a name of 1-64 letters, digits, '_', '.', '-', got ${JSON.stringify(options.name)}`);
  }
  mkdirSync(options.dir, { recursive: true });
  const publicPath = join(options.dir, `${options.name}.key`);
  const secretPath = join(options.dir, `${options.name}.key_secret`);
  if (!options.force && existsSync(secretPath)) {
    throw new Error(`keys: ${secretPath} already exists (pass force to replace it; clients that trust the old key must be updated)`);
  }
  const pair = generateCurveKeyPair();
  writeFileSync(secretPath, certificateText(options.name, pair), { mode: 0o600 });
  chmodSync(secretPath, 0o600); // an existing file keeps its mode on overwrite
  writeFileSync(publicPath, certificateText(options.name, { publicKey: pair.publicKey }), { mode: 0o644 });
  return { publicPath, secretPath, publicKey: pair.publicKey };
}
