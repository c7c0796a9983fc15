// A reporter for Node's test runner that prints nothing while the tests run and,
// at the end, every failed test again: its file, its suite path, its name and
// its error. The TAP stream before it can be long; this summary is what the
// last lines of a CI log then show.
import { inspect } from 'node:util';

const MAX_ERROR_CHARS = 4000;

function describeError(error) {
  const cause = error && typeof error === 'object' && 'cause' in error ? error.cause : error;
  const text = inspect(cause, { depth: 4, breakLength: 120 })
    .split('\n')
    .filter((line) => !/^\s+at .*\(node:(internal|async_hooks)[^)]*\)$/.test(line))
    .join('\n');
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)} …` : text;
}

function isSuiteSummary(details) {
  const error = details?.error;
  return error?.failureType === 'subtestsFailed';
}

export default async function* failuresReporter(source) {
  const failures = [];
  // Files run side by side, so each keeps its own stack of open suites.
  const openByFile = new Map();
  for await (const event of source) {
    const open = openByFile.get(event.data?.file) ?? [];
    openByFile.set(event.data?.file, open);
    if (event.type === 'test:start') {
      open[event.data.nesting] = event.data.name;
      open.length = event.data.nesting + 1;
    } else if (event.type === 'test:fail' && !isSuiteSummary(event.data.details)) {
      const path = open.slice(0, event.data.nesting).concat(event.data.name);
      failures.push({ file: event.data.file, path, error: describeError(event.data.details?.error) });
    }
  }
  if (failures.length === 0) return;
  yield `\n# ${failures.length} failed test${failures.length === 1 ? '' : 's'}:\n`;
  for (const failure of failures) {
    yield `\n# FAILED ${failure.file ?? '(unknown file)'}\n#   ${failure.path.join(' > ')}\n`;
    yield `${failure.error.replace(/^/gm, '#     ')}\n`;
  }
}
