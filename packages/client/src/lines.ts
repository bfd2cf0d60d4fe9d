/**
 * The lines of a streamed response body, decoded as they arrive: memory holds one network chunk
 * and one partial line, whatever the body's size. Breaking out of the loop cancels the body, so
 * the server stops sending.
 */
export async function* bodyLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let rest = '';
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += decoder.decode(value, { stream: true });
      let start = 0;
      for (let nl = rest.indexOf('\n'); nl !== -1; nl = rest.indexOf('\n', start)) {
        const line = rest.slice(start, nl);
        start = nl + 1;
        yield line.endsWith('\r') ? line.slice(0, -1) : line;
      }
      rest = rest.slice(start);
    }
    rest += decoder.decode();
    if (rest) yield rest;
    finished = true;
  } finally {
    // Early exit (break, throw in the loop body): tell the server to stop instead of draining.
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
