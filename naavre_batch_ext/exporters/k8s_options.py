r"""Checks of option values that end up in a Kubernetes or Argo object, before anything is written.

One implementation for the CLI (``naavre-batch export``: exit 2), the REST API (HTTP 400) and the
panel (which shows the REST error): a value the cluster would refuse at ``argo submit`` time, or
worse accept and read differently, is refused here with the option's name and what to type.

The rules follow Kubernetes' own validation (``k8s.io/apimachinery``):

- names (``pkg/util/validation/validation.go``): a namespace is a DNS-1123 *label*
  (``IsDNS1123Label``: at most 63 characters of ``[a-z0-9-]``, starting and ending with a letter
  or digit); a service account name is a DNS-1123 *subdomain* (``IsDNS1123Subdomain``: labels
  joined by ``.``, at most 253 characters);
- quantities (``pkg/api/resource/quantity.go``, ``ParseQuantity``)::

      <quantity>        ::= <signedNumber><suffix>
      <signedNumber>    ::= <number> | <sign><number>
      <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
      <sign>            ::= "+" | "-"
      <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
      <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
      <decimalSI>       ::= m | "" | k | M | G | T | P | E
      <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>

  and a resource request must not be negative (``ValidateNonnegativeQuantity``) nor larger than
  the kubelet can hold: it reads requests through the ``int64`` accessors of ``Quantity``
  (``Value`` for memory in bytes, ``MilliValue`` for CPU in millicores), which overflow beyond
  2**63 - 1 (``maxAllowed`` in the same file), so ``1e999`` is refused, not written;
- image references (``github.com/distribution/reference``, the grammar in ``reference.go``'s
  package comment, which ``regexp.go`` implements and container runtimes parse with)::

      reference        := name [ ":" tag ] [ "@" digest ]
      name             := [domain '/'] remote-name
      domain           := host [':' port-number]
      host             := domain-name | IPv4address | [ IPv6address ]
      domain-name      := domain-component ['.' domain-component]*
      domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
      path-component   := alpha-numeric [separator alpha-numeric]*
      remote-name      := path-component ['/' path-component]*   (at most 255 characters)
      alpha-numeric    := /[a-z0-9]+/
      separator        := /[_.]|__|[-]*/
      tag              := /[\w][\w.-]{0,127}/
      digest           := algorithm ":" /[0-9a-fA-F]{32,}/
      algorithm        := /[A-Za-z][A-Za-z0-9]*/ [ /[+.-_]/ /[A-Za-z][A-Za-z0-9]*/ ]*

  so a repository path is lower case (``UPPER/Case:tag`` is refused) and a digest is hex
  (``x@sha256:zz`` is refused; ``sha256`` and ``sha512`` digests also have their exact lengths,
  64 and 128 lower-case hex digits, as ``github.com/opencontainers/go-digest`` checks);
- integers of the Workflow spec (``parallelism``, ``activeDeadlineSeconds``, ``ttlStrategy``,
  ``retryStrategy.limit``) are ``int32`` fields in Argo's Go types.

Every string option is also refused when it holds ``{{`` or ``}}``: Argo would take it for one of
its template expressions (``{{workflow.name}}`` as a CPU request is not a request).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "INT32_MAX",
    "INT64_MAX",
    "OptionError",
    "check_dns_label",
    "check_dns_subdomain",
    "check_duration",
    "check_image",
    "check_int32",
    "check_no_braces",
    "check_quantity",
    "parse_quantity",
]

INT32_MAX = 2**31 - 1

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(\d+(\.\d*)?|\.\d+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?\d+|)$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
INT64_MAX = 2**63 - 1
_QUANTITY_UNITS = {"cpu": (Decimal(1000), "millicores"), "memory": (Decimal(1), "bytes")}

# The image reference grammar above, written out from its EBNF (not copied from regexp.go).
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"(?:(?P<domain>{_HOST}(?::[0-9]+)?)/)?"
    rf"(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>\w[\w.-]{0,127}))?"
    r"(?:@(?P<algorithm>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*)"
    r":(?P<hex>[0-9a-fA-F]{32,}))?",
    re.ASCII,
)
_DIGEST_HEX = {"sha256": 64, "sha512": 128}
_REPOSITORY_NAME_MAX = 255

_DURATION = re.compile(r"^(\d+|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$")


class OptionError(ValueError):
    """An option value the cluster would refuse or misread.

    ``option`` is the :class:`~naavre_batch_ext.exporters.argo.ArgoOptions` field (``service_account``); the
    CLI names it as its flag (``--service-account``), the REST API as ``options.serviceAccount``.
    ``problem`` says what is wrong and what is expected, without the option's name.
    """

    def __init__(self, option: str, problem: str) -> None:
        self.option = option
        self.problem = problem
        super().__init__(f"{option.replace('_', ' ')}: {problem}")


def check_no_braces(option: str, value: str) -> None:
    """Refuse ``{{`` and ``}}``: Argo would substitute (or fail to resolve) them."""
    if "{{" in value or "}}" in value:
        raise OptionError(
            option,
            f"{value!r} contains '{{{{' or '}}}}', which Argo reads as a template expression; "
            "give the value itself",
        )


def check_dns_label(option: str, value: str) -> None:
    """A Kubernetes namespace name: an RFC 1123 label (``IsDNS1123Label``)."""
    check_no_braces(option, value)
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise OptionError(
            option,
            f"{value!r} is not a valid Kubernetes name: use at most 63 lower-case letters, "
            "digits and '-', starting and ending with a letter or digit (RFC 1123 label), "
            "e.g. 'naavre-batch'",
        )


def check_dns_subdomain(option: str, value: str) -> None:
    """A Kubernetes object name such as a service account's (``IsDNS1123Subdomain``)."""
    check_no_braces(option, value)
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise OptionError(
            option,
            f"{value!r} is not a valid Kubernetes name: use lower-case letters, digits, '-' and "
            "'.', starting and ending with a letter or digit, at most 253 characters "
            "(RFC 1123 subdomain), e.g. 'workflow-runner'",
        )


def parse_quantity(text: str) -> Decimal | None:
    """The value of a Kubernetes quantity (``ParseQuantity``'s grammar), ``None`` if it is none."""
    match = _QUANTITY.match(text)
    if not match:
        return None
    try:
        number = Decimal(match.group("number"))
    except InvalidOperation:  # pragma: no cover - the pattern only lets decimals through
        return None
    suffix = match.group("suffix")
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix])
    return number.scaleb(int(suffix[1:]))


def check_quantity(option: str, value: str, example: str) -> None:
    """A resource request: a Kubernetes quantity (``500m``, ``1.5``, ``1Gi``), not negative."""
    check_no_braces(option, value)
    amount = parse_quantity(value)
    if amount is None:
        raise OptionError(
            option,
            f"{value!r} is not a Kubernetes quantity: give a number with an optional suffix "
            f"(m, k, M, G, T, Ki, Mi, Gi, Ti, ...), e.g. {example!r}",
        )
    if amount < 0:
        raise OptionError(option, f"{value!r} is negative; a request must be 0 or more")
    factor, unit = _QUANTITY_UNITS.get(option, (Decimal(1), "units"))
    if amount * factor > INT64_MAX:
        raise OptionError(
            option,
            f"{value!r} is too large: Kubernetes holds a request as a 64-bit count of {unit} "
            f"(at most {INT64_MAX:,}), e.g. {example!r}",
        )


def check_int32(option: str, value: Any, minimum: int) -> None:
    """An integer field of Argo's Workflow (Go ``int32``): from ``minimum`` to 2**31 - 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(option, f"must be a whole number, got {value!r}")
    if value < minimum or value > INT32_MAX:
        raise OptionError(
            option, f"must be a whole number from {minimum} to {INT32_MAX}, got {value}"
        )


def check_duration(option: str, value: str) -> None:
    """A duration as Argo's ``retryStrategy.backoff`` takes it: seconds, or Go's ``10s``, ``1m30s``."""
    check_no_braces(option, value)
    if not _DURATION.match(value):
        raise OptionError(
            option, f"{value!r} is not a duration: give seconds (30) or e.g. '10s', '2m', '1m30s'"
        )


def check_image(option: str, value: Any) -> None:
    """A container image reference by the grammar of ``distribution/reference`` (see the module
    docstring): what a container runtime can pull, checked before the export is written."""
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise OptionError(option, f"must be a container image name without spaces, got {value!r}")
    check_no_braces(option, value)
    match = _IMAGE.fullmatch(value)
    if match is None:
        lower = _IMAGE.fullmatch(value.lower()) is not None
        raise OptionError(
            option,
            f"{value!r} is not a container image reference: "
            + (
                "the repository name must be lower case"
                if lower
                else "expected [registry/]name[:tag][@algorithm:hex-digest] with a lower-case "
                "name of letters, digits and '.', '_', '-' separators"
            )
            + ", e.g. 'python:3.12-slim' or 'ghcr.io/org/image@sha256:<64 hex digits>'",
        )
    if len(match.group("path")) > _REPOSITORY_NAME_MAX:
        raise OptionError(
            option, f"the repository name is longer than {_REPOSITORY_NAME_MAX} characters"
        )
    algorithm, digest = match.group("algorithm"), match.group("hex")
    if algorithm in _DIGEST_HEX and (
        len(digest) != _DIGEST_HEX[algorithm] or digest != digest.lower()
    ):
        raise OptionError(
            option,
            f"{value!r} has a malformed {algorithm} digest: it must be "
            f"{_DIGEST_HEX[algorithm]} lower-case hex digits",
        )
