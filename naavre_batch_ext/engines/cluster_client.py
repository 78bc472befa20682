"""Sends :class:`naavre_batch_ext.engines.cluster.ApiRequest` objects to an Argo server.

Plain HTTP with tornado's ``AsyncHTTPClient`` rather than the ``argo-workflows`` PyPI client:
tornado is already here (jupyter-server runs on it), it is asynchronous (a slow cluster never
blocks the Jupyter server's event loop, and no thread pool is needed), and it gives exactly the
controls this needs: connect and request timeouts, TLS verification on or off, the raw answer of
an error (Argo's message is quoted to the user). The generated client would add a dependency
pinned to one Argo version, whose models parse (and reject) the whole Workflow object, while this
module needs seven calls and reads a handful of fields. The requests and the parsing stay pure in
:mod:`naavre_batch_ext.engines.cluster`; the tests check every request against Argo's OpenAPI description.

The token goes into the ``Authorization`` header and nowhere else: exceptions raised here carry
:class:`~naavre_batch_ext.engines.cluster.ClusterError` messages built without it.
"""

from __future__ import annotations

import json
import ssl
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .cluster import (
    MAX_ANSWER_BYTES,
    ApiRequest,
    ClusterConfigError,
    ClusterError,
    ClusterSettings,
    error_for_status,
)

__all__ = ["MAX_ANSWER_BYTES", "ArgoClient"]


class _TooLarge(Exception):
    """Raised from the streaming callback to stop reading an answer over the limit."""


class ArgoClient:
    """One Argo server connection (stateless: every call is one HTTP request)."""

    def __init__(self, settings: ClusterSettings) -> None:
        self.settings = settings

    async def send(self, request: ApiRequest) -> Any:
        """The JSON answer (or, for a log, its text); :class:`ClusterError` otherwise."""
        s = self.settings
        body = json.dumps(request.body).encode("utf-8") if request.body is not None else None
        if body is None and request.method in ("POST", "PUT"):
            body = b"{}"
        try:
            headers = s.headers()
        except ClusterConfigError as exc:
            raise ClusterError("not-configured", exc.message, exc.hint) from None
        chunks: list[bytes] = []
        size = {"declared": 0, "received": 0}

        def on_header(line: str) -> None:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length" and value.strip().isdigit():
                size["declared"] = int(value)

        def on_chunk(chunk: bytes) -> None:
            size["received"] += len(chunk)
            if size["received"] > MAX_ANSWER_BYTES:
                raise _TooLarge
            chunks.append(chunk)

        http = HTTPRequest(
            s.url(request),
            method=request.method,
            headers=headers,
            body=body,
            connect_timeout=min(s.timeout, 10.0),
            request_timeout=s.timeout,
            validate_cert=not s.insecure_skip_verify,
            follow_redirects=False,
            header_callback=on_header,
            streaming_callback=on_chunk,
        )
        client = AsyncHTTPClient()
        where = s.base_url
        too_large = ClusterError(
            "too-large",
            f"the Argo server at {where} answered with more than "
            f"{MAX_ANSWER_BYTES // 2**20} MiB when asked to {request.what}; it was not read",
            "a run with that many nodes is better followed with the argo CLI or the Argo UI",
        )
        try:
            # raise_error=False: an HTTP error status is an answer (Argo's message is read);
            # no answer at all (refused, TLS, timeout) still raises.
            response = await client.fetch(http, raise_error=False)
        except ssl.SSLError as exc:
            reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or "TLS"
            raise ClusterError(
                "tls",
                f"TLS handshake with {where} failed ({reason})",
                "if the server uses a self-signed certificate, set ARGO_INSECURE_SKIP_VERIFY=true "
                "(trusted networks only); if it speaks plain HTTP, set ARGO_SECURE=false or use an "
                "http:// address",
            ) from None
        except _TooLarge:
            raise too_large from None
        except HTTPClientError as exc:  # 599: tornado's timeout (HTTPTimeoutError) and the like
            if size["declared"] > MAX_ANSWER_BYTES:  # tornado hung up at the Content-Length
                raise too_large from None
            raise self._no_answer(str(exc)) from None
        except ValueError:  # a header HTTP cannot carry: its text would hold the token
            raise ClusterError(
                "not-configured",
                f"the request to {where} could not be sent: a header holds a character HTTP "
                "does not allow",
                "check ARGO_TOKEN and ARGO_SERVER for line breaks",
            ) from None
        except OSError as exc:  # refused, unknown host, network unreachable
            raise ClusterError(
                "unreachable",
                f"cannot reach the Argo server at {where} "
                f"({getattr(exc, 'strerror', None) or type(exc).__name__})",
                "check ARGO_SERVER (host:port of the argo-server service) and that this "
                "machine can reach it",
            ) from None
        if response.code == 599:
            if size["declared"] > MAX_ANSWER_BYTES:
                raise too_large
            raise self._no_answer(str(response.error or ""))
        raw = b"".join(chunks)
        if response.code >= 300:
            raise error_for_status(response.code, raw, s, request)
        if request.binary:
            return raw
        if request.stream:
            return raw.decode("utf-8", "replace")
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            raise ClusterError(
                "bad-answer",
                f"{where} did not answer with JSON when asked to {request.what}",
                "is ARGO_SERVER the Argo server (not its UI behind a login page)? "
                "check ARGO_BASE_HREF too",
                response.code,
            ) from None

    def _no_answer(self, text: str) -> ClusterError:
        where = self.settings.base_url
        if "timeout" in text.lower() or "timed out" in text.lower():
            return ClusterError(
                "timeout",
                f"the Argo server at {where} did not answer within {self.settings.timeout:g} s",
                "the server or the network is overloaded or hanging; try again, or raise "
                "c.NaavreBatch.argo_timeout",
            )
        return ClusterError(
            "unreachable",
            f"cannot reach the Argo server at {where} ({text or 'no answer'})",
            "check ARGO_SERVER (host:port of the argo-server service) and that this machine "
            "can reach it",
        )
