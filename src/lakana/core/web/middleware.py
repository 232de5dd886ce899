"""Security headers on every response, as a plain ASGI middleware (cheap on hot paths)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")

_BASE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


class SecurityHeadersMiddleware:
    """Adds CSP, nosniff, frame, referrer and (over HTTPS) HSTS headers to every response."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap ``send`` so the response start message carries the headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        over_https = self.https or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in _BASE_HEADERS if h[0] not in present)
                if over_https:
                    headers.append(_HSTS)
                # Pages and API answers hold personal or sensitive data: never kept in a
                # shared browser's or proxy's cache. Vendored static files may be.
                if not scope["path"].startswith("/static/") and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimitMiddleware:
    """Refuses request bodies over the limit with 413 before they are read whole.

    Paths in ``own_limit_paths`` are left to their route, which reads the body itself under a
    tighter limit and ledgers its refusals (an enrollment packet: every refusal is ledgered,
    whatever the size).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int,
                 own_limit_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.own_limit_paths = own_limit_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check ``Content-Length`` and count streamed bytes."""
        if scope["type"] != "http" or scope.get("path") in self.own_limit_paths:
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _too_large(scope, send, self.max_bytes)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await _too_large(scope, send, self.max_bytes)


class BodyTooLarge(Exception):
    """Raised while streaming a body over the limit."""


async def _too_large(scope: Scope, send: Send, max_bytes: int) -> None:
    from lakana.core.web.errors import too_large_response

    response = too_large_response(scope, max_bytes)
    await response(scope, _empty_receive, send)


async def _empty_receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
