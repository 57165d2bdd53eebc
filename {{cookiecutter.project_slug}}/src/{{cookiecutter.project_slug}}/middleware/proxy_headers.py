"""Which peers' `X-Forwarded-For` and `X-Forwarded-Proto` count: `TRUSTED_PROXIES` only.

uvicorn's ProxyHeadersMiddleware, added by the app factory when `TRUSTED_PROXIES` is set
(empty trusts no one), does the work: from a trusted peer, the right-most forwarded hop
that is not itself a trusted proxy is the client, with the brackets and port of
`[2001:db8::1]:4711` taken off. Anyone else's forwarded headers are ignored, so a client
cannot pick its own address to dodge a rate limit.
"""

import ipaddress


def trusted_networks(proxies: list[str]) -> list[str]:
    """`TRUSTED_PROXIES` written as networks uvicorn parses: `10.0.0.1/8` as `10.0.0.0/8`.

    Settings accept an address with host bits set as its network; uvicorn would take it
    for a literal name that no address ever matches, and trust nobody without a word.
    """
    return [str(ipaddress.ip_network(entry, strict=False)) for entry in proxies]
