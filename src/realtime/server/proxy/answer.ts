/**
 * A proxy backend's answer (docs/realtime.md, "Proxy hooks"): exactly one of
 * `{"result": {…}}` (go ahead), `{"error": {"code", "message"}}` (refuse
 * with that code) or `{"disconnect": {"code", "reason"}}` (refuse and end
 * the connection). Anything else is an invalid answer (`internal`).
 */
import { ErrorCode } from '../../wire/errors.js';
import { DisconnectError, RpcError } from '../errors.js';
import { ProxyBackendError } from './backend.js';

/** Longest error code a backend may give (its message is cut to `MAX_MESSAGE_LENGTH`). */
const MAX_CODE_LENGTH = 64;
const MAX_MESSAGE_LENGTH = 1024;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An answer that is not one of the three shapes. */
export function invalidAnswer(detail: string): ProxyBackendError {
  return new ProxyBackendError(ErrorCode.Internal, "the proxy backend's answer is invalid", new Error(`invalid proxy answer: ${detail}`));
}

function refusal(error: unknown): RpcError {
  if (!isRecord(error)) throw invalidAnswer('"error" must be an object');
  const { code, message, data } = error;
  if (typeof code !== 'string' || code === '' || code.length > MAX_CODE_LENGTH) throw invalidAnswer(`"error.code" must be a string of 1 to ${MAX_CODE_LENGTH} characters`);
  if (message !== undefined && typeof message !== 'string') throw invalidAnswer('"error.message" must be a string');
  const text = message === undefined || message === '' ? code : message.slice(0, MAX_MESSAGE_LENGTH);
  return new RpcError(code, text, data);
}

function disconnection(disconnect: unknown): DisconnectError {
  if (!isRecord(disconnect)) throw invalidAnswer('"disconnect" must be an object');
  const { code, reason } = disconnect;
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 4000 || code > 4999) throw invalidAnswer('"disconnect.code" must be a close code from 4000 to 4999');
  if (reason !== undefined && typeof reason !== 'string') throw invalidAnswer('"disconnect.reason" must be a string');
  return new DisconnectError(code, reason ?? '');
}

/** The `result` object of an answer; throws the refusal it stands for, or `internal` for an invalid answer. */
export function resultOf(answer: unknown): Record<string, unknown> {
  if (!isRecord(answer)) throw invalidAnswer('not a JSON object');
  const keys = ['result', 'error', 'disconnect'].filter((key) => answer[key] !== undefined);
  if (keys.length !== 1) throw invalidAnswer(`expected exactly one of "result", "error", "disconnect", got ${keys.length === 0 ? 'none' : keys.join(' and ')}`);
  if (answer.error !== undefined) throw refusal(answer.error);
  if (answer.disconnect !== undefined) throw disconnection(answer.disconnect);
  if (!isRecord(answer.result)) throw invalidAnswer('"result" must be an object');
  return answer.result;
}
