// Constrained decoding for FAST action tokens: which FAST ids may come next so that the sequence decodes to exactly
// steps x dim coefficients. A FAST chunk is the BPE of a string with one character per DCT coefficient; the strict
// decoder refuses a sequence whose bytes are not valid UTF-8, whose character count is not steps x dim, or with a
// character outside the coefficient alphabet. Small VLAs get this wrong often (and so does pi0-FAST, see the
// decoder's malformed cases), and a refused chunk is a policy call lost. Restricting each greedy choice to the ids
// that keep the sequence completable makes every answer decodable; what the model says is still its own choice
// among those. The check is a UTF-8 automaton run over each candidate's bytes (a few thousand byte steps a token)
// that also refuses a partial character no continuation can finish inside the alphabet, so it never dead-ends.
// Build one with FastTokenizer.lengthGrammar(steps, dim).

/** The decoding state: characters started, continuation bytes still expected, the code point being built and the
 * smallest code point its length may encode (longer forms of smaller ones are invalid UTF-8). */
interface Utf8State {
  chars: number;
  pending: number;
  codePoint: number;
  minCodePoint: number;
}

export class FastLengthGrammar {
  private readonly state: Utf8State = { chars: 0, pending: 0, codePoint: 0, minCodePoint: 0 };
  private readonly trial: Utf8State = { chars: 0, pending: 0, codePoint: 0, minCodePoint: 0 };

  /**
   * @param tokenBytes the UTF-8 bytes of each FAST id (null: an id that can never be chosen)
   * @param coefficients steps x dim: the character count a complete chunk has
   * @param alphabetSize valid characters are code points 0 .. alphabetSize - 1
   */
  constructor(
    private readonly tokenBytes: ReadonlyArray<Uint8Array | null>,
    readonly coefficients: number,
    private readonly alphabetSize: number,
  ) {
    if (!Number.isInteger(coefficients) || coefficients < 1) throw new Error(`fast grammar: expected a positive coefficient count, got ${coefficients}`);
  }

  reset(): void {
    this.state.chars = 0;
    this.state.pending = 0;
    this.state.codePoint = 0;
    this.state.minCodePoint = 0;
  }

  /** The sequence so far is a whole chunk: only an end token may follow. */
  get complete(): boolean {
    return this.state.chars === this.coefficients && this.state.pending === 0;
  }

  /** FAST id `id` keeps the sequence valid UTF-8 within the alphabet and at most `coefficients` characters. */
  allows(id: number): boolean {
    return this.advance(id, this.trial);
  }

  /** Take `id` (it must be allowed). */
  accept(id: number): void {
    if (!this.advance(id, this.trial)) throw new Error(`fast grammar: FAST id ${id} is not allowed here`);
    this.state.chars = this.trial.chars;
    this.state.pending = this.trial.pending;
    this.state.codePoint = this.trial.codePoint;
    this.state.minCodePoint = this.trial.minCodePoint;
  }

  /** Some `pending` continuation bytes turn the partial code point into one in [minCodePoint, alphabetSize). */
  private completable(partial: number, pending: number, minCodePoint: number): boolean {
    const span = 2 ** (6 * pending);
    return Math.max(partial * span, minCodePoint) <= Math.min((partial + 1) * span - 1, this.alphabetSize - 1);
  }

  private advance(id: number, out: Utf8State): boolean {
    const bytes = id >= 0 && id < this.tokenBytes.length ? this.tokenBytes[id] : null;
    if (bytes === null || bytes.length === 0) return false;
    let { chars, pending, codePoint, minCodePoint } = this.state;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (pending > 0) {
        if ((b & 0xc0) !== 0x80) return false;
        codePoint = (codePoint << 6) | (b & 0x3f);
        pending--;
        if (pending === 0 ? codePoint < minCodePoint || codePoint >= this.alphabetSize : !this.completable(codePoint, pending, minCodePoint)) return false;
        continue;
      }
      if (b < 0x80) {
        codePoint = b;
      } else if (b >= 0xc2 && b < 0xe0) {
        codePoint = b & 0x1f;
        pending = 1;
        minCodePoint = 0x80;
      } else if (b >= 0xe0 && b < 0xf0) {
        codePoint = b & 0x0f;
        pending = 2;
        minCodePoint = 0x800;
      } else if (b >= 0xf0 && b < 0xf5) {
        codePoint = b & 0x07;
        pending = 3;
        minCodePoint = 0x10000;
      } else {
        return false; // a stray continuation byte, an overlong lead or a byte UTF-8 never uses
      }
      chars++;
      if (chars > this.coefficients) return false;
      if (pending === 0 ? codePoint >= this.alphabetSize : !this.completable(codePoint, pending, minCodePoint)) return false;
    }
    out.chars = chars;
    out.pending = pending;
    out.codePoint = codePoint;
    out.minCodePoint = minCodePoint;
    return true;
  }
}
