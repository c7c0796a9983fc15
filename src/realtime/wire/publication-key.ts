/**
 * The key of a publication in a namespace with conflation (docs/protocol.md
 * §5.6): the value of one field of its data, which names what the
 * publication is the latest value of (e.g. `symbol` in a ticker). Server and
 * client derive it alike: conflation holds the latest publication per key,
 * and delta compression diffs a publication against the previous one of its key.
 */

/** The key of decoded publication data: `data[field]` when data is a plain object and that is a string or a finite number. */
export function publicationKey(data: unknown, field: string): string | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data) || ArrayBuffer.isView(data)) return undefined;
  if (!Object.prototype.hasOwnProperty.call(data, field)) return undefined;
  const value = (data as Record<string, unknown>)[field];
  if (typeof value === 'string') return `s${value}`;
  if (typeof value === 'number' && Number.isFinite(value)) return `n${value}`;
  return undefined;
}
