"""APNs-like ASGI app for hypercorn in the interop suite: the token's first byte picks the answer.

INTEROP_BODY_LEN: the exact request body length expected; any other length answers 400 BodyLength.
"""

import json
import os
import uuid

BODY_LEN = int(os.environ.get("INTEROP_BODY_LEN", "-1"))


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    token = path[len("/3/device/") :] if path.startswith("/3/device/") else ""
    headers = [(b"apns-id", str(uuid.uuid4()).encode())]
    status, payload = 200, None
    if scope["method"] != "POST" or not token:
        status, payload = 404, {"reason": "BadPath"}
    elif BODY_LEN >= 0 and len(body) != BODY_LEN:
        status, payload = 400, {"reason": "BodyLength"}
    elif token.startswith("40"):
        status, payload = 400, {"reason": "BadDeviceToken"}
    elif token.startswith("41"):
        status, payload = 410, {"reason": "Unregistered", "timestamp": 1767225600000}
    elif token.startswith("42"):
        status, payload = 429, {"reason": "TooManyRequests"}
        headers.append((b"retry-after", b"7"))
    data = json.dumps(payload, separators=(",", ":")).encode() if payload else b""
    if data:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
