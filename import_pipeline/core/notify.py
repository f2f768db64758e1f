"""Webhook notifications: the JSON summary of a batch's run, its signature, its delivery.

Only the standard library: a webhook is a plain HTTPS POST, and a receiver verifies
`X-Import-Signature: sha256=<hex>` as the HMAC-SHA256 of the raw body with the shared secret
(always present: nothing is sent without a secret).
"""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

SIGNATURE_HEADER = "X-Import-Signature"
SECRET_ENV = "IMPORT_WEBHOOK_SECRET"


class UnsignedWebhooks(ValueError):
    """Webhook URLs are set without a secret: a receiver could not tell our summaries from
    forged ones, so nothing is sent until a secret is set."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__(
            f"{len(urls)} webhook URL(s) are set but {SECRET_ENV} is empty: webhooks are never "
            f"sent unsigned. Set {SECRET_ENV} to a shared secret (e.g. `openssl rand -hex 32`) "
            "and give it to the receivers, or unset IMPORT_WEBHOOK_URLS."
        )


def require_secret(urls: list[str], secret: str) -> None:
    """Refuse to notify `urls` without a signing secret (nothing to refuse without URLs)."""
    if urls and not secret:
        raise UnsignedWebhooks(urls)


@dataclass(frozen=True)
class Delivery:
    """What became of one POST: delivered or not, after how many attempts, and why not."""

    url: str
    delivered: bool
    attempts: int
    error: str = ""


def body_of(summary: dict) -> bytes:
    """The exact bytes sent and signed (sorted keys, so a receiver can log them stably)."""
    return json.dumps(summary, sort_keys=True, default=str).encode()


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(
    url: str, body: bytes, secret: str, timeout: float, retries: int, backoff: float
) -> Delivery:
    """POST `body`, signed, to `url`, retrying a timeout, a connection error or a 5xx/429
    answer up to `retries` times with exponential backoff; a delivery problem is reported,
    never raised (an empty secret is refused: `UnsignedWebhooks`)."""
    require_secret([url], secret)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "import-pipeline",
        SIGNATURE_HEADER: signature(body, secret),
    }
    error = ""
    for attempt in range(1, retries + 2):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
            return Delivery(url, True, attempt)
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                return Delivery(url, False, attempt, error)
        except (OSError, ValueError) as exc:  # URLError, timeouts, refused, bad URL
            error = f"{type(exc).__name__}: {exc}"
        if attempt <= retries:
            time.sleep(backoff * 2 ** (attempt - 1))
    return Delivery(url, False, retries + 1, error)
