"""Believe `X-Forwarded-For` and `X-Forwarded-Proto` from trusted proxies only.

The client address then comes from the socket unless the peer is one of
`TRUSTED_PROXIES`; from those, the right-most forwarded address that is not itself a
trusted proxy is the client. Anyone else's forwarded headers are ignored, so a client
cannot pick its own address to dodge a rate limit.
"""

import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: list[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


class TrustedProxyMiddleware:
    def __init__(self, app: ASGIApp, *, trusted_proxies: list[str]) -> None:
        self.app = app
        self.trusted = parse_networks(trusted_proxies)

    def _is_trusted(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if self.trusted and scope["type"] == "http" and client and self._is_trusted(client[0]):
            self._apply_forwarded(scope)
        await self.app(scope, receive, send)

    def _apply_forwarded(self, scope: Scope) -> None:
        forwarded_for = forwarded_proto = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded_for = value.decode("latin-1")
            elif name == b"x-forwarded-proto":
                forwarded_proto = value.decode("latin-1").strip().lower()
        if forwarded_proto in ("http", "https"):
            scope["scheme"] = forwarded_proto
        if forwarded_for:
            hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
            for hop in reversed(hops):
                if not self._is_trusted(hop):
                    scope["client"] = (hop, 0)
                    break
