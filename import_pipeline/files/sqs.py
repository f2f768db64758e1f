"""The SQS queue S3 event notifications of the landing bucket are delivered to.

Messages are received with a long poll and at most `limit` a tick, and deleted only once
their batches are in the ledger: a tick that dies before that leaves them to come back
after the visibility timeout, and the ledger makes the second delivery a no-op.
"""

from dataclasses import dataclass
from typing import Any

BATCH = 10
"""SQS hands out and deletes at most 10 messages per call."""


@dataclass(frozen=True)
class Message:
    body: str
    receipt: str


def client(endpoint_url: str, settings: dict[str, str]) -> Any:
    """An SQS client; empty settings are left to boto3's own lookup (AWS_ENDPOINT_URL,
    AWS_* credentials, a role)."""
    import boto3  # here: only a deployment reading events pays its import

    options = {"endpoint_url": endpoint_url} | settings
    return boto3.client("sqs", **{k: v for k, v in options.items() if v})


class LandingQueue:
    """Receives and deletes the landing bucket's event messages."""

    def __init__(self, sqs: Any, url: str, wait_seconds: int, visibility_seconds: int) -> None:
        self.sqs = sqs
        self.url = url
        self.wait_seconds = wait_seconds
        self.visibility_seconds = visibility_seconds

    def receive(self, limit: int) -> list[Message]:
        """Up to `limit` messages: the first call waits up to `wait_seconds` for one (long
        poll), the next ones take only what is already there."""
        messages: list[Message] = []
        wait = self.wait_seconds
        while len(messages) < limit:
            response = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=min(BATCH, limit - len(messages)),
                WaitTimeSeconds=wait,
                VisibilityTimeout=self.visibility_seconds,
            )
            received = response.get("Messages", [])
            messages += [Message(m["Body"], m["ReceiptHandle"]) for m in received]
            if not received:
                return messages
            wait = 0
        return messages

    def delete(self, messages: list[Message]) -> None:
        """Delete handled messages (a receipt that expired meanwhile is delivered again,
        which the ledger makes harmless)."""
        for start in range(0, len(messages), BATCH):
            entries = [
                {"Id": str(i), "ReceiptHandle": m.receipt}
                for i, m in enumerate(messages[start : start + BATCH])
            ]
            self.sqs.delete_message_batch(QueueUrl=self.url, Entries=entries)
