/**
 * The client's side of delta compression (docs/protocol.md §5.4): the last
 * value it received of each key, in the canonical encoding the server diffs
 * (the connection's encoding of the decoded value), and the rebuilding of a
 * delta push's data against one of them, verified by length and checksum.
 */
import { applyBytes, applyText, DeltaError } from '../wire/delta.js';
import { decodeValue, encodeValue, type EncodedValue } from '../wire/encoded.js';
import type { DeltaTerms } from '../wire/messages.js';
import { publicationKey } from '../wire/publication-key.js';

export { DeltaError };

/** The bases of one delta subscription: the latest value per key, at most `terms.keys` keys. */
export class DeltaBases {
  readonly #terms: DeltaTerms;
  /** Key → offset of its latest value. */
  readonly #byKey = new Map<string, number>();
  /** Offset → canonical encoding of that value. */
  readonly #byOffset = new Map<number, EncodedValue>();

  constructor(terms: DeltaTerms) {
    this.#terms = terms;
  }

  /** A full publication: becomes the base of its key. */
  received(offset: number, data: unknown): void {
    const key = this.#keyOf(data);
    if (key === undefined) return;
    this.#keep(key, offset, encodeValue(data, { binary: this.#terms.units === 'bytes' }));
  }

  /** The data of a delta push against the publication at `base`; `DeltaError` when it cannot be rebuilt. */
  rebuild(offset: number, base: number, delta: unknown): unknown {
    const from = this.#byOffset.get(base);
    if (from === undefined) throw new DeltaError(`no base at offset ${base}`);
    const target = typeof from === 'string' ? applyText(from, delta) : applyBytes(from, delta);
    let data: unknown;
    try {
      data = decodeValue(target);
    } catch {
      throw new DeltaError('the rebuilt value does not decode');
    }
    const key = this.#keyOf(data);
    if (key !== undefined) this.#keep(key, offset, target);
    return data;
  }

  #keyOf(data: unknown): string | undefined {
    return this.#terms.key === undefined ? '' : publicationKey(data, this.#terms.key);
  }

  #keep(key: string, offset: number, value: EncodedValue): void {
    const previous = this.#byKey.get(key);
    if (previous !== undefined) {
      this.#byOffset.delete(previous);
      this.#byKey.delete(key);
    }
    this.#byKey.set(key, offset);
    this.#byOffset.set(offset, value);
    if (this.#byKey.size > this.#terms.keys) {
      const [oldestKey, oldestOffset] = this.#byKey.entries().next().value as [string, number];
      this.#byKey.delete(oldestKey);
      this.#byOffset.delete(oldestOffset);
    }
  }
}
