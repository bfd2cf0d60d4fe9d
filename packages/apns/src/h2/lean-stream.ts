import type { StreamResult } from '../connection.ts';

/** One request on the wire, from HEADERS sent to the stream's end. */
export class LeanStream {
  /** The final response's status; 0 until its HEADERS arrive. */
  status = 0;
  apnsId: string | undefined;
  retryAfter: string | undefined;
  /** A non-200 answer's body, at most maxErrorBodyBytes of it. */
  body: Buffer[] | undefined;
  bodyBytes = 0;
  /** The part of the payload flow control has held back. */
  unsent: Buffer | undefined;
  /** Reset by either side: never reset it (again). */
  reset = false;

  constructor(
    readonly id: number,
    readonly done: (result: StreamResult) => void,
    readonly deadline: number,
    readonly started: number,
    public sendWindow: number,
  ) {}
}
