/**
 * Payload checks with Standard Schema v1 (zod, valibot, arktype ...): the
 * publication data of a namespace and the params of a method. A payload that
 * does not match is refused with `invalid_data`, listing the issues.
 */
import { ErrorCode } from '../wire/errors.js';
import type { StandardResult, StandardSchema } from '../wire/api.js';
import { RpcError } from './errors.js';

/** One problem found in a payload, as sent in the `data` of an `invalid_data` error. */
export interface SchemaIssue {
  message: string;
  path?: Array<string | number>;
}

/** Most issues listed in one error. */
const MAX_ISSUES = 10;

function pathKey(segment: PropertyKey | { readonly key: PropertyKey }): string | number {
  const key = typeof segment === 'object' && segment !== null ? segment.key : segment;
  return typeof key === 'number' ? key : String(key);
}

function issuesOf(result: StandardResult<unknown>): SchemaIssue[] {
  return (result.issues ?? []).slice(0, MAX_ISSUES).map((issue) => {
    const path = issue.path?.map(pathKey);
    return path !== undefined && path.length > 0 ? { message: issue.message, path } : { message: issue.message };
  });
}

/**
 * Checks `value` against `schema` and returns the schema's output (which may
 * differ from the input, e.g. with unknown keys stripped). Throws
 * `RpcError('invalid_data')` when it does not match, or when the schema
 * itself fails.
 */
export async function checkSchema(schema: StandardSchema, value: unknown, what: string): Promise<unknown> {
  let result: StandardResult<unknown>;
  try {
    result = await schema['~standard'].validate(value);
  } catch {
    throw new RpcError(ErrorCode.InvalidData, `${what} could not be checked`);
  }
  if (result.issues !== undefined) {
    throw new RpcError(ErrorCode.InvalidData, `${what} does not match the schema`, { issues: issuesOf(result) });
  }
  return result.value;
}
