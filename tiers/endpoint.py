"""A remote endpoint's model list: the cheapest real call, for Settings' "Test
connection", its model picker and the self-hosted rung's model discovery. Bounded in
bytes and time like every request; a compressed answer is refused unread."""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING

import httpx

from .base import ModelList
from .faults import clip, size_text
from .http_options import ProviderError
from .reply import content_coding, read_capped
from .urls import display_url

if TYPE_CHECKING:
    from .http_options import HttpOptions

# A model list, even a big gateway's with hundreds of models, is far smaller than this.
LISTING_LIMIT = 8 * 1024 * 1024


class EndpointListing:
    """``list_models``, ``check_connection`` and ``get_small`` for RemoteTier."""

    label: str
    host_problem: str | None
    needs_key: bool
    options: HttpOptions
    _api_key: str | None

    async def list_models(self) -> ModelList:
        """The models the endpoint serves (``GET {base}/models``), or why not: the
        cheapest real call, for Settings' "Test connection" and its model picker."""
        if self.host_problem:
            return ModelList(False, self.host_problem)
        if self.needs_key and not self._api_key:
            return ModelList(False, f"No API key for {self.label}.")
        problem = self.key_problem()
        if problem:
            return ModelList(False, problem)
        start = time.monotonic()
        try:
            status, body = await self.get_small(self.url("/models"))
        except httpx.HTTPError as exc:
            return ModelList(False, self._network_failure(exc, False).message)
        except ProviderError as exc:
            return ModelList(False, f"{self.label}: {clip(self.scrub(str(exc)), 300)}")
        latency = 1000 * (time.monotonic() - start)
        if status >= 400:
            return ModelList(False, self._http_failure(status, body, 1).message)
        try:
            data = json.loads(body)
            listed = data.get("data") or data.get("models") or []
            # OpenAI-style {"id": ...}; Gemini's {"name": "models/gemini-…"}.
            ids = [
                str(m.get("id") or m.get("name", "")).removeprefix("models/")
                for m in listed
                if isinstance(m, dict)
            ]
        except (ValueError, AttributeError):
            return ModelList(False, f"{self.label} answered, but not with a model list.")
        ids = [i for i in ids if i]
        message = f"Connected to {self.label} in {latency:.0f} ms · {len(ids)} models listed"
        return ModelList(True, message, ids)

    async def check_connection(self) -> tuple[bool, str]:
        listed = await self.list_models()
        return listed.ok, listed.message

    async def get_small(self, url: str) -> tuple[int, bytes]:
        """GET a small document (a model list): (status, body), bounded in bytes and time."""
        o = self.options
        shown = display_url(url)
        try:
            async with asyncio.timeout(o.connect_timeout + o.read_timeout):
                # identity: httpx would otherwise offer gzip, deflate (and br, zstd),
                # and a compressed answer is refused unread (content_coding).
                headers = {"accept-encoding": "identity", **self.auth_headers()}
                request = self.client.build_request("GET", url, headers=headers)
                response = await self.client.send(request, stream=True)
        except TimeoutError:
            raise ProviderError(
                f"no answer from {shown} within {o.connect_timeout + o.read_timeout:g}s",
                kind="network",
                retryable=True,
            ) from None
        coding = content_coding(response)
        if coding is not None:
            await response.aclose()
            raise ProviderError(
                f"the answer from {shown} is {coding}-compressed although Rung asked for "
                "an uncompressed one; Rung does not inflate it",
                kind="protocol",
            )
        body = await read_capped(response, LISTING_LIMIT + 1, o.read_timeout)
        if len(body) > LISTING_LIMIT:
            raise ProviderError(
                f"the answer from {shown} is larger than {size_text(LISTING_LIMIT)}",
                kind="protocol",
            )
        return response.status_code, body
