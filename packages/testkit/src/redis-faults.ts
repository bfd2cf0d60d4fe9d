import type { Redis } from 'ioredis';

/**
 * - `fail-before`: the call fails and never reaches Redis; the process goes on.
 * - `fail-after`: Redis runs the call, the caller gets an error (a lost reply, a command timeout).
 * - `die-before` / `die-after`: the same, and the process "dies" there: nothing it sends
 *   afterwards reaches Redis (on this connection and its duplicates).
 */
export type FaultMode = 'fail-before' | 'fail-after' | 'die-before' | 'die-after';

export const faultModes: readonly FaultMode[] = ['fail-before', 'fail-after', 'die-before', 'die-after'];

export interface FaultPlan {
  /** The call to fail, counted from when the plan was armed (1 = the next call)… */
  at?: number;
  /** …or the first call that starts with this command (e.g. `multi` for a transaction). */
  command?: string;
  mode: FaultMode;
}

export class InjectedRedisFault extends Error {
  constructor(message: string) {
    // Shaped like ioredis' own errors, so code under test maps it as a Redis outage (503 etc.).
    super(`Command timed out (${message})`);
    this.name = 'InjectedRedisFault';
  }
}

interface Command {
  name: string;
  args: unknown[];
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  promise: Promise<unknown>;
}

type SendCommand = (command: Command, stream?: unknown, node?: unknown) => unknown;

export interface RedisFaults {
  /** The wrapped connection: use it where the code under test would use its own. */
  readonly redis: Redis;
  /** Calls made so far: a single command, or one pipeline / MULTI…EXEC batch, is one call. */
  readonly calls: number;
  /** Command names of each call, for reports ("call 7: evalsha", "call 8: multi+exec"). */
  readonly trace: string[];
  readonly dead: boolean;
  /** Kills the "process" now: every later command fails without reaching Redis. */
  kill(): void;
  /** Sets the fault to inject (replacing any armed one). */
  arm(plan: FaultPlan): void;
  /** Disconnects the connection and its duplicates (test clean-up). */
  disconnect(): void;
}

/**
 * A proxy in front of Redis for crash-point tests: counts every call a connection makes and fails
 * the planned one, before or after Redis runs it. Pipelines and transactions are one call (they
 * are written to the socket in one piece, so no crash can fall inside one). Duplicates of the
 * connection (BullMQ's blocking connection) die with it but are not counted.
 */
export function interceptRedis(redis: Redis, initial?: FaultPlan): RedisFaults {
  let calls = 0;
  let plan: FaultPlan | undefined = initial;
  let armedAt = 0;
  let dead = false;
  const trace: string[] = [];
  const connections: Redis[] = [redis];
  let unitStream: unknown;
  let unitAction: 'pass' | 'fail-before' | 'fail-after' = 'pass';
  let unitIndex = 0;
  let dieAfter = false;

  const refuse = (command: Command, why: string) => {
    command.reject(new InjectedRedisFault(why));
    return command.promise;
  };

  const wrap = (conn: Redis, counted: boolean) => {
    const original = (conn as unknown as { sendCommand: SendCommand }).sendCommand.bind(conn);
    (conn as unknown as { sendCommand: SendCommand }).sendCommand = (command, stream, node) => {
      if (dead) return refuse(command, 'process is dead');
      if (!counted) return original(command, stream, node);
      // A pipeline hands every command over with the same `stream`: they make one call.
      if (stream === undefined || stream !== unitStream) {
        unitStream = stream;
        unitIndex = ++calls;
        dieAfter = false;
        trace[unitIndex - 1] = command.name;
        unitAction = 'pass';
        const hit =
          plan !== undefined &&
          (plan.at !== undefined ? plan.at === unitIndex - armedAt : plan.command === command.name);
        if (hit && plan) {
          const mode = plan.mode;
          plan = undefined;
          if (mode === 'die-after') dieAfter = true;
          if (mode === 'fail-before' || mode === 'die-before') {
            unitAction = 'fail-before';
            if (mode === 'die-before') dead = true;
          } else unitAction = 'fail-after';
        }
      } else {
        trace[unitIndex - 1] = `${trace[unitIndex - 1]}+${command.name}`;
      }
      if (unitAction === 'fail-before') return refuse(command, `before call ${unitIndex}`);
      if (unitAction === 'fail-after') {
        const index = unitIndex;
        const reject = command.reject;
        // Redis runs it; its reply is turned into an error on the way back.
        const dies = dieAfter;
        command.resolve = () => {
          if (dies) dead = true;
          reject(new InjectedRedisFault(`after call ${index}`));
        };
      }
      return original(command, stream, node);
    };
    const duplicate = conn.duplicate.bind(conn);
    conn.duplicate = ((...args: Parameters<Redis['duplicate']>) => {
      const copy = duplicate(...args);
      connections.push(copy);
      wrap(copy, false);
      return copy;
    }) as Redis['duplicate'];
  };
  wrap(redis, true);

  return {
    redis,
    get calls() {
      return calls;
    },
    trace,
    get dead() {
      return dead;
    },
    kill() {
      dead = true;
    },
    arm(next) {
      plan = next;
      armedAt = calls;
    },
    disconnect() {
      dead = true;
      for (const conn of connections) conn.disconnect();
    },
  };
}
