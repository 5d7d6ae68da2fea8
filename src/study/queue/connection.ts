/**
 * The Redis behind a distributed study: `redis://[:password@]host[:port][/db]` or `rediss://…`
 * (TLS). Passwords never reach a file or a log line: `redactUrl` is what gets written.
 */
import { Redis } from 'ioredis';

/** The URL as it may be shown or stored: the password (and user) replaced by `***`. */
export function redactUrl(url: string): string {
  const u = parseQueueUrl(url);
  if (u.password || u.username) {
    u.username = u.username ? '***' : '';
    u.password = u.password ? '***' : '';
  }
  return u.toString();
}

/** A validated queue URL: redis:// or rediss://, a host, a port and db in range. */
export function parseQueueUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue ${JSON.stringify(url)}: not a URL (expected redis://[:password@]host[:port][/db])`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new Error(`--queue ${redactRaw(url)}: the scheme must be redis:// or rediss:// (TLS), got ${u.protocol}//`);
  if (!u.hostname) throw new Error(`--queue ${redactRaw(url)}: no host`);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db))
    throw new Error(`--queue ${redactRaw(url)}: the path must be a database number, got /${db}`);
  return u;
}

function redactRaw(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/**
 * A connection for BullMQ (it needs `maxRetriesPerRequest: null` for blocking commands). Errors
 * surface as one clear message per connection instead of an unhandled 'error' event.
 */
export function connect(url: string, onError?: (msg: string) => void): Redis {
  parseQueueUrl(url);
  const redis = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true });
  let said = '';
  redis.on('error', (e: Error) => {
    const msg = `Redis at ${redactUrl(url)}: ${e.message}`;
    lastError.set(redis, msg);
    if (msg !== said) onError?.(msg);
    said = msg;
  });
  return redis;
}

const lastError = new WeakMap<Redis, string>();

/**
 * Wait until Redis answers, or fail with its last error after `seconds` (commands would
 * otherwise wait for a reconnect forever, which is right mid-run but not at the start).
 */
export async function reachable(redis: Redis, url: string, seconds = 10): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `cannot reach Redis at ${redactUrl(url)} within ${seconds} s${lastError.has(redis) ? ` (${lastError.get(redis)})` : ''}`,
          ),
        ),
      seconds * 1000,
    );
  });
  try {
    await Promise.race([redis.ping(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
