"""A scripted HTTP/2 server on python-h2: an independent implementation for the interop suite.

Answers APNs-like (POST /3/device/<token> -> 200 with an apns-id; tokens starting 40/41/42 get
400 BadDeviceToken, 410 Unregistered with a timestamp, 429 with Retry-After), with the SETTINGS
given on the command line, and can misbehave on purpose (--mode). It writes one JSON line per
event to stdout, so the test can check what the server saw: every answered request, every frame
the client should not have sent, every connection and how it ended.

Modes (the hostile ones act on the first connection only, unless noted):
  normal          well-behaved
  goaway          after --after requests, GOAWAY(last stream = that request), no answer above it
  refuse          RST_STREAM(REFUSED_STREAM) on the HEADERS of every third new token, body unread
  lower-streams   after --after requests, SETTINGS_MAX_CONCURRENT_STREAMS drops to 1
  abrupt-close    after --after requests, the TCP connection is reset without answers
  no-settings     every connection: TLS with ALPN h2, then silence (no SETTINGS ever)
  zero-streams    every connection: SETTINGS_MAX_CONCURRENT_STREAMS 0, then silence
  no-alpn         every connection: TLS without ALPN, then silence
  raw-<name>      after the first answer, the raw frames <name> (see RAW_FRAMES)
Token prefixes with a special answer in every mode: ee (a 1 MiB header block in CONTINUATIONs),
ba (:status abc), db (two :status fields, 410 then 200).
"""

import argparse
import asyncio
import json
import socket
import ssl
import struct
import sys
import time
import uuid

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9


def frame(kind, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream_id) + payload


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def literal(name, value):
    """A literal header field without indexing, new name, no Huffman: leaves the dynamic table alone."""
    return hpack_int(0, 4) + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


def status_literal(value):
    """:status (static name index 8) as a literal without indexing."""
    return hpack_int(8, 4) + hpack_int(len(value), 7) + value


def header_frames(stream_id, block, max_frame, end_stream):
    """HEADERS then CONTINUATION frames carrying `block`."""
    chunks = [block[i : i + max_frame] for i in range(0, len(block), max_frame)] or [b""]
    out = []
    for i, chunk in enumerate(chunks):
        flags = (0x4 if i == len(chunks) - 1 else 0) | (0x1 if i == 0 and end_stream else 0)
        out.append(frame(HEADERS if i == 0 else CONTINUATION, flags, stream_id, chunk))
    return b"".join(out)


# Frames a client must treat as a connection error (RFC 9113), sent after the first answer.
RAW_FRAMES = {
    # Two increments of 2^31-1 overflow the connection window (§6.9.1: FLOW_CONTROL_ERROR).
    "window-overflow": frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF)) * 2,
    # SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 (§6.5.2: FLOW_CONTROL_ERROR).
    "initial-window-2-31": frame(SETTINGS, 0, 0, struct.pack(">HI", 0x4, 0x80000000)),
    # SETTINGS_MAX_FRAME_SIZE below 16384 (§6.5.2: PROTOCOL_ERROR).
    "max-frame-small": frame(SETTINGS, 0, 0, struct.pack(">HI", 0x5, 1024)),
    # SETTINGS_ENABLE_PUSH 1 from a server (§6.5.2: PROTOCOL_ERROR).
    "enable-push": frame(SETTINGS, 0, 0, struct.pack(">HI", 0x2, 1)),
    # DATA on a stream the client never opened (§5.1 idle stream: PROTOCOL_ERROR).
    "data-idle-stream": frame(DATA, 0, 0x7FFF, b"x"),
}


def emit(**event):
    event["t"] = round(time.monotonic(), 4)
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


class Peer(asyncio.Protocol):
    count = 0

    def __init__(self, args, seen):
        self.args = args
        self.seen = seen  # tokens already refused once (refuse mode), shared across connections
        self.conn_no = 0
        self.hostile = False
        self.transport = None
        self.h2 = None
        self.streams = {}  # stream id -> {"path", "body"}
        self.answered = 0
        self.reset_by_us = set()
        self.goaway_last = None
        self.raw = b""
        self.raw_seen_preface = False
        self.open_streams = set()
        self.settings_pending = None
        self.stream_cap = None
        self.ended = False

    # -- connection life --------------------------------------------------------------------
    def connection_made(self, transport):
        # Counted once TLS is up: the test's readiness probe (a bare TCP connect) is no connection.
        Peer.count += 1
        self.conn_no = Peer.count
        self.hostile = self.conn_no == 1
        self.transport = transport
        alpn = transport.get_extra_info("ssl_object").selected_alpn_protocol()
        emit(e="conn", conn=self.conn_no, alpn=alpn)
        mode = self.args.mode
        if mode in ("no-settings", "no-alpn"):
            return
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config=config)
        self.h2.initiate_connection()
        # One SETTINGS frame with this server's values, which python-h2 applies only once the client
        # acknowledges it: its own preface would carry its defaults (and values given to its
        # constructor would bind before the client knew them).
        self.h2.clear_outbound_data_buffer()
        values = dict(self.h2.local_settings.items())
        for code, value in self.initial_settings().items():
            values[code] = value
            self.h2.local_settings[code] = value
        payload = b"".join(struct.pack(">HI", int(code), value) for code, value in values.items())
        self.transport.write(frame(SETTINGS, 0, 0, payload))
        if self.args.conn_window:
            self.h2.increment_flow_control_window(self.args.conn_window - 65535)
        self.flush()

    def initial_settings(self):
        a = self.args
        values = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: a.max_streams}
        if a.mode == "zero-streams":
            values[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = 0
        if a.initial_window is not None:
            values[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] = a.initial_window
        if a.header_table_size is not None:
            values[h2.settings.SettingCodes.HEADER_TABLE_SIZE] = a.header_table_size
        if a.max_frame_size is not None:
            values[h2.settings.SettingCodes.MAX_FRAME_SIZE] = a.max_frame_size
        return values

    def connection_lost(self, exc):
        if not self.conn_no:
            return
        emit(e="closed", conn=self.conn_no, error=str(exc) if exc else None)

    def flush(self):
        if self.h2 is not None and not self.transport.is_closing():
            data = self.h2.data_to_send()
            if data:
                self.transport.write(data)

    def abort(self, why):
        if self.ended:
            return
        self.ended = True
        emit(e="abort", conn=self.conn_no, why=why)
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER 0: close() sends a TCP RST instead of a FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    # -- receiving --------------------------------------------------------------------------
    def data_received(self, data):
        if self.h2 is None or self.ended:
            return
        self.scan(data)
        if self.goaway_last is not None:
            # python-h2 takes no input after its own GOAWAY; the streams up to the last id are done.
            return
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as err:
            emit(e="h2-error", conn=self.conn_no, error=type(err).__name__ + ": " + str(err))
            self.flush()
            self.transport.close()
            self.ended = True
            return
        for event in events:
            self.on_event(event)
        self.flush()

    def scan(self, data):
        """Reads the client's frame headers itself: python-h2 hides frames it ignores."""
        self.raw += data
        if not self.raw_seen_preface:
            if len(self.raw) < len(PREFACE):
                return
            self.raw = self.raw[len(PREFACE) :]
            self.raw_seen_preface = True
        while len(self.raw) >= 9:
            length = int.from_bytes(self.raw[0:3], "big")
            if len(self.raw) < 9 + length:
                return
            kind, flags = self.raw[3], self.raw[4]
            stream_id = int.from_bytes(self.raw[5:9], "big") & 0x7FFFFFFF
            payload = self.raw[9 : 9 + length]
            self.raw = self.raw[9 + length :]
            if kind == RST_STREAM and stream_id in self.reset_by_us:
                emit(e="rst-after-rst", conn=self.conn_no, stream=stream_id, code=int.from_bytes(payload, "big"))
            elif kind == GOAWAY:
                emit(e="client-goaway", conn=self.conn_no, code=int.from_bytes(payload[4:8], "big"))
            elif kind == HEADERS:
                self.on_client_headers(stream_id)
            elif kind == SETTINGS and flags & 0x1 and self.settings_pending is not None:
                # The client acknowledged our lowered limit: from here on it binds.
                self.stream_cap, self.settings_pending = self.settings_pending, None
                emit(e="settings-acked", conn=self.conn_no, max_streams=self.stream_cap)
            if kind == RST_STREAM:
                self.open_streams.discard(stream_id)

    def on_client_headers(self, stream_id):
        if self.stream_cap is not None and len(self.open_streams) >= self.stream_cap:
            emit(e="stream-limit-exceeded", conn=self.conn_no, stream=stream_id, open=len(self.open_streams))
        self.open_streams.add(stream_id)

    def on_event(self, event):
        if isinstance(event, h2.events.RequestReceived):
            headers = dict(event.headers)
            path = headers.get(b":path", b"").decode()
            self.streams[event.stream_id] = {"path": path, "body": b""}
            emit(e="request", conn=self.conn_no, stream=event.stream_id, path=path)
            if self.args.mode == "refuse" and self.hostile_refuse(event.stream_id, path):
                return
        elif isinstance(event, h2.events.DataReceived):
            self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream["body"] += event.data
        elif isinstance(event, h2.events.StreamEnded):
            if event.stream_id in self.streams:
                delay = self.args.delay_ms / 1000
                if delay > 0:
                    asyncio.get_running_loop().call_later(delay, self.answer, event.stream_id)
                else:
                    self.answer(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            self.streams.pop(event.stream_id, None)
            self.open_streams.discard(event.stream_id)
        elif isinstance(event, h2.events.ConnectionTerminated):
            emit(e="goaway-received", conn=self.conn_no, code=int(event.error_code))

    def hostile_refuse(self, stream_id, path):
        """Refuses the first attempt of every third new token (1st, 4th, 7th, ...)."""
        token = path.rsplit("/", 1)[-1]
        if token in self.seen:
            return False
        self.seen.add(token)
        if len(self.seen) % 3 != 1:
            return False
        self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
        self.reset_by_us.add(stream_id)
        self.open_streams.discard(stream_id)
        self.streams.pop(stream_id, None)
        emit(e="refused", conn=self.conn_no, stream=stream_id, path=path)
        return True

    # -- answering --------------------------------------------------------------------------
    def answer(self, stream_id):
        stream = self.streams.pop(stream_id, None)
        if stream is None or self.ended or self.transport.is_closing():
            return
        if self.goaway_last is not None and stream_id > self.goaway_last:
            emit(e="dropped", conn=self.conn_no, stream=stream_id, path=stream["path"])
            return
        path, body = stream["path"], stream["body"]
        token = path[len("/3/device/") :] if path.startswith("/3/device/") else ""
        status, payload, extra = 200, None, []
        if not token:
            status, payload = 404, {"reason": "BadPath"}
        elif self.args.body_len >= 0 and len(body) != self.args.body_len:
            status, payload = 400, {"reason": "BodyLength"}
        elif token.startswith("40"):
            status, payload = 400, {"reason": "BadDeviceToken"}
        elif token.startswith("41"):
            status, payload = 410, {"reason": "Unregistered", "timestamp": 1767225600000}
        elif token.startswith("42"):
            status, payload, extra = 429, {"reason": "TooManyRequests"}, [(b"retry-after", b"7")]
        special = token[:2]
        if special in ("ee", "ba", "db"):
            self.answer_raw(stream_id, special)
            emit(e="answered", conn=self.conn_no, stream=stream_id, path=path, status=special, len=len(body))
        else:
            apns_id = str(uuid.uuid4()).encode()
            headers = [(b":status", str(status).encode()), (b"apns-id", apns_id)] + extra
            data = json.dumps(payload, separators=(",", ":")).encode() if payload else b""
            if data:
                headers.append((b"content-type", b"application/json"))
            self.h2.send_headers(stream_id, headers, end_stream=not data)
            if data:
                self.h2.send_data(stream_id, data, end_stream=True)
            self.open_streams.discard(stream_id)
            emit(e="answered", conn=self.conn_no, stream=stream_id, path=path, status=status, len=len(body))
        self.answered += 1
        self.flush()
        self.after_answer(stream_id)

    def answer_raw(self, stream_id, special):
        """Answers python-h2 would refuse to encode, as raw frames that leave HPACK's table alone."""
        self.flush()
        if special == "ee":
            block = b"\x88" + b"".join(literal(b"x-junk-%d" % i, b"a" * 8192) for i in range(128))
        elif special == "ba":
            block = status_literal(b"abc")
        else:
            block = status_literal(b"410") + status_literal(b"200")
        self.transport.write(header_frames(stream_id, block, 16384, end_stream=True))
        # python-h2 still thinks the stream is open; it must not send on it again.
        self.open_streams.discard(stream_id)

    def after_answer(self, stream_id):
        if not self.hostile or self.ended:
            return
        mode, after = self.args.mode, self.args.after
        if mode == "goaway" and self.answered == after and self.goaway_last is None:
            # python-h2 sends nothing after its GOAWAY, so the last stream id is below every stream
            # still unanswered: all up to it are answered, all above it are left for a re-send.
            unanswered = [sid for sid in self.streams if sid < stream_id]
            self.goaway_last = min(unanswered) - 2 if unanswered else stream_id
            self.h2.close_connection(error_code=h2.errors.ErrorCodes.NO_ERROR, last_stream_id=self.goaway_last)
            self.flush()
            emit(e="goaway-sent", conn=self.conn_no, last_stream=self.goaway_last)
            # Lets the streams at or below the last id finish, then closes like a server going away.
            asyncio.get_running_loop().call_later(0.3, self.transport.close)
        elif mode == "lower-streams" and self.answered == after and self.settings_pending is None:
            self.settings_pending = 1
            self.h2.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1})
            self.flush()
            emit(e="settings-sent", conn=self.conn_no, max_streams=1)
        elif mode == "abrupt-close" and self.answered == after:
            self.abort("abrupt-close")
        elif mode.startswith("raw-") and self.answered == 1:
            self.transport.write(RAW_FRAMES[mode[4:]])
            emit(e="raw-sent", conn=self.conn_no, frames=mode[4:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--mode", default="normal")
    parser.add_argument("--after", type=int, default=20)
    parser.add_argument("--body-len", type=int, default=-1)
    parser.add_argument("--delay-ms", type=float, default=0)
    parser.add_argument("--max-streams", type=int, default=100)
    parser.add_argument("--initial-window", type=int)
    parser.add_argument("--conn-window", type=int)
    parser.add_argument("--header-table-size", type=int)
    parser.add_argument("--max-frame-size", type=int)
    args = parser.parse_args()
    if args.mode.startswith("raw-") and args.mode[4:] not in RAW_FRAMES:
        parser.error("unknown raw frames " + args.mode)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    if args.mode != "no-alpn":
        context.set_alpn_protocols(["h2"])
    seen = set()

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Peer(args, seen), "127.0.0.1", args.port, ssl=context)
        emit(e="listening", port=args.port)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
