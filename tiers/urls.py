"""Base URLs as sent, as shown, and as trusted.

A base URL may carry credentials: ``http://user:PW@host/v1?token=...`` (gateways and
proxies take them that way). The real URL goes to the host; anything shown or stored
(errors, history, exports, the trust record) uses ``display_url``, which drops the
user information and masks query values whose names look secret.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "****"
# Query or fragment names whose values are credentials. Matched anywhere in the name
# (``x-api-key``, ``access_token``, ``X-Amz-Signature``, ``client_secret``).
SECRET_NAME = re.compile(
    r"token|key|secret|passw|pwd|sig|auth|credential|session|jwt|bearer|cookie|code",
    re.IGNORECASE,
)


def _masked_pairs(text: str) -> str:
    """``a=1&token=x`` with every secret-looking value masked; the rest kept as written."""
    pieces = []
    for piece in text.split("&"):
        name, eq, value = piece.partition("=")
        if eq and value and SECRET_NAME.search(unquote(name)):
            value = MASK
        pieces.append(f"{name}{eq}{value}")
    return "&".join(pieces)


def display_url(url: str) -> str:
    """The URL as it may be shown or stored: no ``user:password@``, secret-looking
    query and fragment values masked. Never raises (a URL that cannot be parsed is
    described, not shown: it may be a credential pasted in the wrong field)."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        return "(a malformed URL)"
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            parts.path,
            _masked_pairs(parts.query),
            _masked_pairs(parts.fragment),
        )
    )


def url_secrets(url: str) -> list[str]:
    """The credentials inside a URL (user information, secret query values), raw and
    percent-decoded, for scrubbing any text that quotes the URL (an exception)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return []
    found: set[str] = set()
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo:
        found.add(userinfo)
        found.update(p for p in userinfo.split(":") if p)
    for text in (parts.query, parts.fragment):
        for piece in text.split("&"):
            name, eq, value = piece.partition("=")
            if eq and value and SECRET_NAME.search(unquote(name)):
                found.add(value)
    found |= {unquote(s) for s in found}
    # A piece this short would mask ordinary words; it is still dropped from display_url.
    return sorted((s for s in found if len(s) >= 4), key=len, reverse=True)


def split_query(url: str) -> tuple[str, str]:
    """(the URL without its query and fragment, the query): request paths are added to
    the first, and the query goes back at the end of every request URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), parts.query


def with_query(url: str, query: str) -> str:
    """``url`` (which may have its own query, Gemini's ``?alt=sse``) with ``query`` added."""
    if not query:
        return url
    return f"{url}&{query}" if "?" in url else f"{url}?{query}"


def origin(url: str) -> str:
    """``scheme://host[:port]``, lower case, default ports left out: what a key goes
    to. Paths do not matter (the key reaches the same host), schemes and ports do (a
    key over plain http can be read on the way). Empty for a URL without a host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    if not host:
        return ""
    scheme = parts.scheme.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")
