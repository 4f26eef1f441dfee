"""Keys and TLS on the wire: whether a key can go in a header at all, every form in
which a key may appear in text (to mask it), and the TLS context of a CA bundle."""

from __future__ import annotations

import json
import os
import re
import ssl
from urllib.parse import quote

from .http_options import ProviderError

# The only setting that fills HttpOptions.ca_bundle (see app/engine/build_tiers.py).
CA_BUNDLE_SETTING = "[selfhosted] ca_bundle"
# What a key may contain to go in a header: visible ASCII, nothing else.
HEADER_SAFE_KEY = re.compile(r"[\x21-\x7e]+")


def header_key_problem(key: str | None, label: str, key_env: str | None) -> str | None:
    """Why ``key`` cannot be sent in a header (never showing it), or None."""
    if not key or HEADER_SAFE_KEY.fullmatch(key):
        return None
    bad = next(c for c in key if not HEADER_SAFE_KEY.fullmatch(c))
    if bad in "\r\n":
        what = "a line break (often a stray \\r from a Windows .env file)"
    elif bad.isspace():
        what = "a space or tab"
    elif bad.isascii():
        what = "a control character"
    else:
        what = "a non-ASCII character (a pasted quote or dash?)"
    where = f" or ${key_env}" if key_env else ""
    return (
        f"The {label} API key contains {what}, so it cannot be sent. "
        f"Enter it again in Settings{where}."
    )


def key_forms(key: str) -> list[str]:
    """Every way a key may be written out, longest first: raw, stripped, as ``repr``
    and bytes ``repr`` (exceptions quoting a header), JSON-escaped and URL-quoted."""
    if not key:
        return []
    forms = {
        key,
        key.strip(),
        repr(key)[1:-1],
        repr(key.encode("utf-8", "backslashreplace"))[2:-1],
        json.dumps(key)[1:-1],
        json.dumps(key, ensure_ascii=False)[1:-1],
        quote(key, safe=""),
    }
    # A form this short would mask ordinary words; no real key is that short.
    return sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)


def ca_context(path: str) -> ssl.SSLContext:
    """A TLS context trusting ``path``; a missing or broken file is named with its setting."""
    try:
        return ssl.create_default_context(cafile=os.path.expanduser(path))
    except FileNotFoundError:
        reason = "no such file"
    except IsADirectoryError:
        reason = "it is a directory, not a file"
    except PermissionError:
        reason = "permission denied"
    except ssl.SSLError:
        reason = "it holds no PEM certificate"
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    raise ProviderError(
        f"cannot use the CA bundle {path!r} ({CA_BUNDLE_SETTING}): {reason}. "
        "Fix the path in Settings or clear it.",
        kind="config",
    )
