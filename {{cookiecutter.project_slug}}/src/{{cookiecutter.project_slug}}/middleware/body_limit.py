"""Refuse request bodies over a size limit while they stream in.

A declared `Content-Length` over the limit is refused before a byte is read. A chunked
body is counted as it arrives: the moment it passes the limit the 413 goes out, the app
is told the client went away, and whatever the app still tries to send is dropped.
(Raising from `receive` would not do: FastAPI turns errors while reading a body into 400.)

FastAPI's own `max_body_size` does not replace this: it refuses a declared length only
when the app reads the body or starts its answer (a DELETE, which reads none, deletes and
then answers 413), in plain text from outside every other middleware (no security
headers, no request id), and it wraps every request, bodiless ones too.
"""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        body = json.dumps({"detail": f"Request body is larger than {max_bytes} bytes"}).encode()
        self.refusal: list[Message] = [
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            },
            {"type": "http.response.body", "body": body},
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        has_body = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    await self._refuse(send)
                    return
                has_body = value != b"0"
            elif name == b"transfer-encoding":
                has_body = True
        if not has_body and scope.get("http_version") in ("1.0", "1.1"):
            # Neither a length nor chunks: in HTTP/1.x there is no body to count.
            await self.app(scope, receive, send)
            return

        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not started:
                    refused = True
                    await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            # The app may fail on the disconnect it was handed; the client has its 413.
            if not refused:
                raise

    async def _refuse(self, send: Send) -> None:
        for message in self.refusal:
            await send(message)
