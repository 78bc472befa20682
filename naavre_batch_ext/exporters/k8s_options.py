"""Checks of option values that end up in a Kubernetes or Argo object, before anything is written.

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

  and a resource request must not be negative (``ValidateNonnegativeQuantity``);
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
    """A container image reference: non-empty, no white space, no Argo braces."""
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise OptionError(option, f"must be a container image name without spaces, got {value!r}")
    check_no_braces(option, value)
