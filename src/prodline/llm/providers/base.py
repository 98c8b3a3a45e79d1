"""What every provider offers, and the HTTP plumbing the remote ones share.

A provider answers an :class:`~prodline.llm.types.LlmRequest` with a ``Completion``
(``complete``) or with text deltas followed by the ``Completion`` (``stream``). It raises
:class:`~prodline.llm.errors.ProviderFailed` — never an httpx error — with a message
that holds no secret; the gateway records it and falls back.

Remote providers retry connect errors, timeouts, HTTP 5xx and 429 with exponential
backoff (``backoff_s`` x 2^attempt, or ``Retry-After`` when the server says so, capped at
``MAX_BACKOFF_S``), at most ``config.retries`` times. Other 4xx are not retried. A stream
is retried only until its first byte arrives: after that, text has reached the caller.
"""

from __future__ import annotations

import json
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from prodline.llm.errors import ProviderFailed
from prodline.llm.tokens import count_message_tokens, count_tokens
from prodline.llm.types import ChatMessage, Completion, LlmRequest, ProviderConfig

__all__ = [
    "HttpProvider",
    "MAX_BACKOFF_S",
    "Provider",
    "metered",
    "scrub",
    "split_userinfo",
    "sse_events",
]

MAX_BACKOFF_S = 8.0
_DETAIL_CHARS = 300
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]*@")
_CREDENTIAL = re.compile(
    r"(?i)(\b(?:authorization|x-api-key|api[-_]?key)\b[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?:bearer|basic)\s+)?)[^\s\"',;}]+"
)
_SCHEME_TOKEN = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without ``user:password@``, and the (decoded) user and password if it had one.

    >>> split_userinfo("https://bob:s3cret@llm.example/v1")
    ('https://llm.example/v1', ('bob', 's3cret'))
    >>> split_userinfo("http://127.0.0.1:8000/v1")
    ('http://127.0.0.1:8000/v1', None)
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO.sub(r"\1", url), None
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, (unquote(user), unquote(password))


def scrub(text: str, secrets: Iterator[str] | list[str] | tuple[str, ...] = ()) -> str:
    """``text`` with credentials replaced by ``***``.

    Removed: ``user:password@`` in any URL, the values of ``Authorization``/``x-api-key``
    headers and ``Bearer``/``Basic`` tokens, and every given secret in any form a message
    may hold it: as is, stripped of whitespace, or escaped (``\\n``) as in a ``repr``.

    >>> scrub("POST https://u:p@h/v1: 401; key was Bearer sk-123456789", ["sk-123456789"])
    'POST https://***@h/v1: 401; key was Bearer ***'
    """
    forms: set[str] = set()
    for secret in secrets:
        for form in (secret, secret.strip()):
            if len(form) >= 3:
                forms.add(form)
                forms.add(form.encode("unicode_escape").decode("ascii"))
                forms.add(json.dumps(form)[1:-1])
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    text = _USERINFO.sub(r"\1***@", text)
    text = _CREDENTIAL.sub(r"\1***", text)
    return _SCHEME_TOKEN.sub(r"\1 ***", text)


class Provider(Protocol):
    """The one interface behind the gateway."""

    config: ProviderConfig

    def complete(self, request: LlmRequest) -> Completion:
        """Answer ``request`` in one call: text, citations, token counts and latency."""
        ...

    def stream(self, request: LlmRequest) -> Iterator[str | Completion]:
        """Text deltas as they arrive, then the same ``Completion`` ``complete`` returns."""
        ...

    def close(self) -> None:
        """Release the HTTP client; the gateway calls it when it is closed."""
        ...


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """``(event, data)`` pairs from server-sent-event lines (``event`` is "" if unnamed).

    >>> list(sse_events(iter(["event: ping", "data: {}", "", ": comment", "data: [DONE]"])))
    [('ping', '{}'), ('', '[DONE]')]
    """
    event = ""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
    if data:
        yield event, "\n".join(data)


class HttpProvider(ABC):
    """Shared by the OpenAI-compatible and Anthropic providers: client, retries, errors."""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        client: httpx.Client | None = None,
        backoff_s: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._client = client
        self._own_client = client is None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=httpx.Timeout(self.config.timeout_s))
            return self._client

    @property
    def url(self) -> str:
        """``config.base_url`` without ``user:password@``: what messages and logs may show."""
        return split_userinfo(self.config.base_url)[0]

    def api_key(self) -> str | None:
        """The configured key without surrounding whitespace (a key file's newline)."""
        key = self.config.api_key()
        return key.strip() or None if key else None

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._own_client:
                self._client.close()
                self._client = None

    @abstractmethod
    def headers(self) -> dict[str, str]:
        """Request headers, including the key read from the environment now."""

    def secrets(self) -> list[str]:
        """Everything that must never leave in a message: the key and the URL's userinfo."""
        found = [self.config.api_key() or ""]
        userinfo = split_userinfo(self.config.base_url)[1]
        if userinfo:
            raw = urlsplit(self.config.base_url).netloc.rpartition("@")[0]
            found += [userinfo[1], f"{userinfo[0]}:{userinfo[1]}", raw, raw.partition(":")[2]]
        return [s for s in found if s]

    def redact(self, text: str) -> str:
        """``text`` with credentials (should a server or a library echo them) as ``***``."""
        return scrub(text, self.secrets())

    def fail(self, message: str, *, retryable: bool = False) -> ProviderFailed:
        return ProviderFailed(self.redact(message), retryable=retryable)

    def send(self, path: str, body: dict[str, Any], *, stream: bool = False) -> httpx.Response:
        """POST ``body`` as JSON with retries; a 2xx/3xx response (open if ``stream``)."""
        url, userinfo = split_userinfo(self.config.base_url + path)
        # Credentials in the URL go as Basic auth (what httpx would do), never in the URL
        # that httpx logs and exceptions quote.
        auth = httpx.BasicAuth(*userinfo) if userinfo else None
        attempts = self.config.retries + 1
        for attempt in range(attempts):
            wait = self.backoff_s * 2**attempt
            try:
                request = self.client.build_request("POST", url, json=body, headers=self.headers())
                response = self.client.send(request, stream=stream, auth=auth)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # connect, timeout, bad URL
                retryable = isinstance(exc, httpx.TransportError) and not isinstance(
                    exc, httpx.UnsupportedProtocol
                )
                failure = self.fail(
                    f"{type(exc).__name__} calling {url}: {exc}", retryable=retryable
                )
            else:
                if response.status_code < 400:
                    return response
                failure = self._status_failure(response, url)
                wait = max(wait, _retry_after(response))
            if not failure.retryable or attempt == attempts - 1:
                if attempts > 1 and failure.retryable:
                    failure = self.fail(
                        f"{failure.message} (after {attempts} attempts)", retryable=True
                    )
                raise failure
            self._sleep(min(wait, MAX_BACKOFF_S))
        raise AssertionError("unreachable")  # pragma: no cover

    def _status_failure(self, response: httpx.Response, url: str) -> ProviderFailed:
        try:
            response.read()
            detail = _error_detail(response)
        except httpx.HTTPError:
            detail = ""
        finally:
            response.close()
        status = response.status_code
        retryable = status >= 500 or status == 429
        suffix = f": {detail}" if detail else ""
        return self.fail(f"HTTP {status} from {url}{suffix}", retryable=retryable)

    def read_json(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON object in a (non-stream) response, or ``ProviderFailed``."""
        try:
            data = response.json()
        except (ValueError, httpx.HTTPError) as exc:
            raise self.fail(f"reply from {self.url} is not JSON: {exc}") from None
        finally:
            response.close()
        if not isinstance(data, dict):
            raise self.fail(f"reply from {self.url} is not a JSON object")
        return data

    def events(self, response: httpx.Response) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """Parsed SSE events; ``None`` data marks ``[DONE]``. Transport errors translated."""
        try:
            for event, data in sse_events(response.iter_lines()):
                if data.strip() == "[DONE]":
                    yield event, None
                    continue
                try:
                    parsed = json.loads(data)
                except ValueError:
                    raise self.fail(f"stream from {self.url} sent non-JSON data") from None
                if isinstance(parsed, dict):
                    yield event, parsed
        except httpx.HTTPError as exc:
            raise self.fail(f"stream from {self.url} broke: {exc!r}") from None
        finally:
            response.close()


def metered(
    config: ProviderConfig,
    prompt: list[ChatMessage],
    text: str,
    citations: list[int],
    finish_reason: str,
    usage: tuple[Any, Any],
    started: float,
) -> Completion:
    """A ``Completion`` with provider-reported usage, or locally counted when missing."""
    reported_in, reported_out = usage
    reported = isinstance(reported_in, int) and isinstance(reported_out, int)
    return Completion(
        text=text,
        provider=config.name,
        model=config.model,
        input_tokens=reported_in if reported else count_message_tokens(prompt),
        output_tokens=reported_out if reported else count_tokens(text),
        latency_ms=(time.perf_counter() - started) * 1000.0,
        cost_usd=0.0,  # the gateway prices every call from its own config
        citations=citations,
        finish_reason=finish_reason,
        usage_source="provider" if reported else "counted",
    )


def _error_detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:_DETAIL_CHARS].strip()
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            return str(error.get("message") or error)[:_DETAIL_CHARS]
        return str(error)[:_DETAIL_CHARS]
    return str(data)[:_DETAIL_CHARS]


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "0")))
    except ValueError:  # an HTTP date: fall back to our own backoff
        return 0.0
