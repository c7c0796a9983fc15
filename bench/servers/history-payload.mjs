// The data of the publication at `offset` in the history scenario (rt-history):
// a string of `size` characters, `<offset, 12 hex digits> ` then letters and
// digits from a fixed pattern at a place derived from the offset — JSON-safe
// as it is, different for every offset, checked byte for byte by
// bench/history-load.mjs.
const PATTERN = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export function historyPayload(offset, size) {
  const head = `${offset.toString(16).padStart(12, '0')} `;
  let body = '';
  const from = offset % PATTERN.length;
  while (body.length < size - head.length) body += PATTERN.slice(from) + PATTERN.slice(0, from);
  return (head + body).slice(0, Math.max(size, head.length));
}
