// The instruction tokenizer: a Qwen2-style byte-level BPE read from a Hugging Face tokenizer.json (NFC normalizer,
// a regex Split pre-tokenizer followed by ByteLevel without its own regex, BPE model, special tokens as added
// tokens). The same loader reads a real Qwen2/2.5-VL tokenizer.json and the bundled tiny one.
//
// The prompt is assembled from ids (special tokens by id, text pieces encoded here), so text inside the instruction
// is always plain text: an instruction that spells "<|im_end|>" cannot end the user turn early. The tokenizers
// library would turn such text into the special token; ids differ from it only in that case.
import { readFileSync } from "node:fs";
import { ByteLevelBpe } from "../../tokenizers/byteLevelBpe.js";

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Turn a tokenizers (Rust regex) pattern into a JavaScript one. The only construct Qwen2's pattern uses that Node 20
 * lacks is a case-insensitive group `(?i:...)` of literal alternatives: each ASCII letter becomes a class [xX].
 */
export function translateSplitPattern(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; ) {
    if (pattern.startsWith("(?i:", i)) {
      let depth = 1;
      let j = i + 4;
      let inner = "";
      while (j < pattern.length && depth > 0) {
        const ch = pattern[j];
        if (ch === "\\") {
          inner += pattern.slice(j, j + 2);
          j += 2;
          continue;
        }
        if (ch === "(") depth++;
        if (ch === ")") depth--;
        if (depth > 0) inner += ch;
        j++;
      }
      out += "(?:" + inner.replace(/[A-Za-z]/g, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`) + ")";
      i = j;
    } else {
      out += pattern[i++];
    }
  }
  try {
    return new RegExp(out, "gu");
  } catch (error) {
    throw new Error(`vla tokenizer: cannot use the pre-tokenizer pattern ${JSON.stringify(pattern).slice(0, 120)}: ${(error as Error).message}`);
  }
}

/** Split as the tokenizers library's Split pre-tokenizer with behavior "Isolated": every match and every gap is a piece. */
function splitIsolated(text: string, pattern: RegExp): string[] {
  const pieces: string[] = [];
  let last = 0;
  pattern.lastIndex = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    if (m[0].length === 0) {
      pattern.lastIndex++;
      continue;
    }
    if (m.index > last) pieces.push(text.slice(last, m.index));
    pieces.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) pieces.push(text.slice(last));
  return pieces;
}

export class VlaTextTokenizer {
  /** One past the largest id (vocabulary and added tokens). */
  readonly vocabSize: number;
  private readonly bpe: ByteLevelBpe;
  private readonly split: RegExp | null;
  private readonly nfc: boolean;
  private readonly added = new Map<string, number>();

  private constructor(bpe: ByteLevelBpe, split: RegExp | null, nfc: boolean, added: Map<string, number>) {
    this.bpe = bpe;
    this.split = split;
    this.nfc = nfc;
    this.added = added;
    let max = bpe.vocabSize - 1;
    for (const id of added.values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
  }

  static load(path: string): VlaTextTokenizer {
    let json: Json;
    try {
      json = JSON.parse(readFileSync(path, "utf8"));
    } catch (error) {
      throw new Error(`vla tokenizer ${path}: cannot read it as JSON: ${(error as Error).message.split("\n")[0]}`);
    }
    return VlaTextTokenizer.fromJson(json, `vla tokenizer ${path}`);
  }

  static fromJson(json: Json, source = "vla tokenizer"): VlaTextTokenizer {
    const fail = (what: string, got: unknown): never => {
      throw new Error(`${source}: expected ${what}, got ${typeof got === "string" ? got : JSON.stringify(got)?.slice(0, 100)}`);
    };
    if (!isObject(json)) return fail("a tokenizer.json object", typeof json);
    const model = json.model;
    if (!isObject(model) || model.type !== "BPE") return fail('model.type "BPE"', isObject(model) ? model.type : model);
    if (model.byte_fallback === true) fail("byte_fallback false (a byte-level BPE)", true);
    if (!isObject(model.vocab)) return fail("model.vocab to be an object", model.vocab);
    const vocab = new Map<string, number>();
    for (const [token, id] of Object.entries(model.vocab)) {
      if (typeof id !== "number" || !Number.isInteger(id) || id < 0) fail(`vocab ids to be non-negative integers (token ${JSON.stringify(token)})`, id);
      vocab.set(token, id as number);
    }
    if (!Array.isArray(model.merges)) return fail("model.merges to be an array", model.merges);
    const merges: Array<[string, string]> = model.merges.map((m, i) => {
      if (typeof m === "string") {
        const space = m.indexOf(" ", 1);
        if (space < 0) fail(`merges[${i}] to be "a b"`, m);
        return [m.slice(0, space), m.slice(space + 1)] as [string, string];
      }
      if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") return [m[0], m[1]] as [string, string];
      return fail(`merges[${i}] to be "a b" or [a, b]`, m);
    });

    // Normalizer: none or NFC (Qwen2 uses NFC).
    let nfc = false;
    const norm = json.normalizer;
    if (norm !== null && norm !== undefined) {
      if (isObject(norm) && norm.type === "NFC") nfc = true;
      else fail("normalizer null or NFC", isObject(norm) ? norm.type : norm);
    }

    // Pre-tokenizer: ByteLevel (GPT-2 split) or Sequence[Split(regex, Isolated), ByteLevel(use_regex false)].
    const pre = json.pre_tokenizer;
    let split: RegExp | null = null;
    let useRegex = false;
    const byteLevelOk = (p: Json): p is Record<string, Json> => isObject(p) && p.type === "ByteLevel" && p.add_prefix_space !== true;
    if (byteLevelOk(pre)) {
      useRegex = pre.use_regex !== false;
    } else if (isObject(pre) && pre.type === "Sequence" && Array.isArray(pre.pretokenizers) && pre.pretokenizers.length === 2) {
      const [s, b] = pre.pretokenizers;
      const regexSource = isObject(s) && isObject(s.pattern) ? s.pattern.Regex : undefined;
      if (!isObject(s) || s.type !== "Split" || typeof regexSource !== "string" || s.behavior !== "Isolated" || s.invert === true) {
        fail("a Split pre-tokenizer with a Regex pattern and behavior Isolated", isObject(s) ? `${String(s.type)}/${String(s.behavior)}` : s);
      }
      if (!byteLevelOk(b) || b.use_regex !== false) fail("ByteLevel (use_regex false, no prefix space) after the Split", isObject(b) ? b.type : b);
      split = translateSplitPattern(regexSource as string);
    } else {
      fail("pre_tokenizer ByteLevel or Sequence[Split, ByteLevel]", isObject(pre) ? pre.type : pre);
    }

    const added = new Map<string, number>();
    if (json.added_tokens !== undefined) {
      if (!Array.isArray(json.added_tokens)) fail("added_tokens to be an array", json.added_tokens);
      (json.added_tokens as Json[]).forEach((t, i) => {
        if (!isObject(t) || typeof t.content !== "string" || typeof t.id !== "number" || !Number.isInteger(t.id) || t.id < 0) {
          fail(`added_tokens[${i}] to be {id, content}`, t);
        }
        const token = t as { content: string; id: number };
        added.set(token.content, token.id);
      });
    }
    const bpe = new ByteLevelBpe({ vocab, merges, useRegex, addPrefixSpace: false });
    return new VlaTextTokenizer(bpe, split, nfc, added);
  }

  /** Ids of `text` as plain text (special-token strings inside it are not matched). */
  encode(text: string): number[] {
    const normalized = this.nfc ? text.normalize("NFC") : text;
    if (normalized.length === 0) return [];
    if (this.split === null) return this.bpe.encode(normalized);
    const ids: number[] = [];
    for (const piece of splitIsolated(normalized, this.split)) for (const id of this.bpe.encode(piece)) ids.push(id);
    return ids;
  }

  /** Id of an added (special) token, or of a vocabulary entry; undefined when the tokenizer has neither. */
  tokenId(content: string): number | undefined {
    return this.added.get(content) ?? this.bpe.tokenToId(content);
  }

  /** Like tokenId, with a one-line error naming `role` when the token is missing. */
  requireTokenId(content: string, role: string): number {
    const id = this.tokenId(content);
    if (id === undefined) throw new Error(`vla tokenizer: expected the ${role} token ${JSON.stringify(content)}, the tokenizer has none`);
    return id;
  }
}
