/**
 * One call to a proxy backend: the event POSTed as JSON over kept-alive
 * sockets, the answer read up to its byte bound and parsed, all within the
 * time limit. Every failure is a `ProxyBackendError` whose message tells the
 * client what went wrong with the backend (never its URL) and whose `cause`
 * tells the operator the rest.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ErrorCode } from '../../wire/errors.js';
import { RpcError } from '../errors.js';

/**
 * A proxy backend failed: unreachable, too slow (`timeout`), an HTTP error
 * status, or an answer that is not a valid one (`internal`).
 */
export class ProxyBackendError extends RpcError {
  constructor(code: typeof ErrorCode.Timeout | typeof ErrorCode.Internal, message: string, cause: Error) {
    super(code, message);
    this.cause = cause;
  }
}

/** How calls to a backend are made. */
export interface BackendCallOptions {
  timeout: number;
  maxAnswerBytes: number;
  maxSockets: number;
}

/** Posts events to backends over kept-alive connections. */
export class BackendClient {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;

  constructor(
    private readonly options: BackendCallOptions,
    /** Sent with every call; they win over the per-call headers. */
    private readonly fixedHeaders: Readonly<Record<string, string>> = {},
  ) {
    this.http = new HttpAgent({ keepAlive: true, maxSockets: options.maxSockets });
    this.https = new HttpsAgent({ keepAlive: true, maxSockets: options.maxSockets });
  }

  /** POSTs `body` as JSON to `url` with `headers`; resolves the parsed answer or rejects with a `ProxyBackendError`. */
  post(url: URL, body: unknown, headers: Record<string, string> = {}): Promise<unknown> {
    let payload: Buffer;
    try {
      payload = Buffer.from(JSON.stringify(body, refuseBinary), 'utf8');
    } catch (error) {
      if (error instanceof RpcError) return Promise.reject(error);
      return Promise.reject(new ProxyBackendError(ErrorCode.Internal, 'the event cannot be sent to the proxy backend as JSON', asCause(error)));
    }
    const { timeout, maxAnswerBytes } = this.options;
    const where = `${url.origin}${url.pathname}`;
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      const finish = (error: ProxyBackendError | null, value?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === null) resolve(value);
        else {
          reject(error);
          request.destroy();
        }
      };
      const requestHeaders: OutgoingHttpHeaders = {
        ...headers,
        ...this.fixedHeaders,
        'content-type': 'application/json',
        'content-length': payload.length,
        accept: 'application/json',
      };
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const agent = url.protocol === 'https:' ? this.https : this.http;
      const request = send(url, { method: 'POST', agent, headers: requestHeaders });
      const timer = setTimeout(() => {
        finish(new ProxyBackendError(ErrorCode.Timeout, `the proxy backend did not answer within ${timeout} ms`, new Error(`POST ${where}: no answer within ${timeout} ms`)));
      }, timeout);
      request.on('error', (error) => {
        finish(new ProxyBackendError(ErrorCode.Internal, 'the proxy backend is unreachable', new Error(`POST ${where}: ${error.message}`, { cause: error })));
      });
      request.on('response', (response) => readAnswer(response, where, maxAnswerBytes, finish));
      request.end(payload);
    });
  }

  /** Closes the kept-alive sockets. */
  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

/**
 * A JSON replacer that refuses binary values (JSON would turn them into
 * objects of indices, or a Buffer's `toJSON` form): it looks at the value
 * before any `toJSON`.
 */
function refuseBinary(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  if (ArrayBuffer.isView(original) || original instanceof ArrayBuffer) {
    throw new RpcError(ErrorCode.InvalidData, 'binary data cannot be sent to the proxy backend (its events are JSON)');
  }
  return value;
}

function asCause(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function invalid(message: string, detail: string): ProxyBackendError {
  return new ProxyBackendError(ErrorCode.Internal, message, new Error(detail));
}

/** Reads a 2xx answer of at most `max` bytes and parses it as JSON; anything else fails. */
function readAnswer(response: IncomingMessage, where: string, max: number, finish: (error: ProxyBackendError | null, value?: unknown) => void): void {
  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) {
    response.resume();
    finish(invalid(`the proxy backend answered HTTP ${status}`, `POST ${where}: HTTP ${status}`));
    return;
  }
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    finish(invalid(`the proxy backend's answer is over ${max} bytes`, `POST ${where}: an answer of ${declared} bytes, over maxAnswerBytes (${max})`));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  response.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > max) {
      finish(invalid(`the proxy backend's answer is over ${max} bytes`, `POST ${where}: an answer over maxAnswerBytes (${max})`));
      return;
    }
    chunks.push(chunk);
  });
  response.on('error', (error) => finish(invalid('the proxy backend is unreachable', `POST ${where}: ${error.message}`)));
  response.on('end', () => {
    if (size > max) return;
    let value: unknown;
    try {
      value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (error) {
      finish(invalid("the proxy backend's answer is not JSON", `POST ${where}: ${(error as Error).message}`));
      return;
    }
    finish(null, value);
  });
}
