"""The mail port: every capability sends mail through :class:`Mailer`.

Every mail becomes a row of ``mail_outbox`` written in the caller's transaction, so a request
that rolls back sends nothing, and a committed mail cannot be lost on its way out.

* **Embedded default** (``STVOS_MAIL_SMTP_HOST`` unset): the outbox is the destination. Rows are
  ``transport="outbox", status="stored"``; support staff and tests read them there.
* **SMTP** (``STVOS_MAIL_SMTP_HOST`` set): rows are ``transport="smtp", status="pending"`` and
  :class:`MailDispatcher` relays them after commit with aiosmtplib, marking each ``sent`` or,
  after a permanent refusal or its last retry, ``failed`` (``error`` says why). A commit that
  wrote mail wakes the dispatcher at once; it also polls every few seconds.

Each mail gets one log line (logger ``stvos.mail``) once its transaction has committed, naming
the outbox row, template and client, never the recipient or the body (bodies carry secrets such
as reset links). The one exception: in ``development`` with the embedded outbox, where nothing
leaves the machine, the line carries the recipient and body so that a developer can follow a
reset link from the console.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.message
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from enum import StrEnum
from typing import Any, Protocol

import aiosmtplib
from sqlalchemy import event, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from stvos.config import MailSettings, Settings
from stvos.kit.clock import utcnow
from stvos.kit.db import Database
from stvos.kit.tenancy import TenantScope
from stvos.models import Client, OutboxMail

log = logging.getLogger("stvos.mail")

_NOTICES = "stvos.mail.notices"  # session.info: what to announce once the transaction commits
_ERROR_LENGTH = 500  # mail_outbox.error
# How long after failed attempt n (1-based: index n) the next one is due; index 0 is the first
# attempt, at once. Its length bounds the attempts.
RETRY_SCHEDULE = (
    timedelta(0),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
)


class Transport(StrEnum):
    OUTBOX = "outbox"
    SMTP = "smtp"


class MailStatus(StrEnum):
    STORED = "stored"  # embedded outbox: kept, not sent anywhere
    PENDING = "pending"  # waiting for (another) SMTP attempt
    SENT = "sent"
    FAILED = "failed"  # refused permanently, or out of retries


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # "text/calendar; method=REQUEST", "application/pdf", ...
    content: bytes

    def __post_init__(self) -> None:
        if not self.filename or any(c in self.filename for c in "\r\n/\\"):
            raise ValueError("attachment filename must be a plain file name")
        maintype, _, subtype = self.content_type.partition(";")[0].strip().partition("/")
        if not maintype or not subtype or any(c in self.content_type for c in "\r\n"):
            raise ValueError("attachment content_type must be type/subtype")

    def to_json(self) -> dict[str, str]:
        return {
            "filename": self.filename,
            "contentType": self.content_type,
            "content": base64.b64encode(self.content).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Attachment:
        return cls(
            filename=str(data["filename"]),
            content_type=str(data["contentType"]),
            content=base64.b64decode(str(data["content"]), validate=True),
        )


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    body_text: str
    template: str  # what kind of mail: "password_reset", "booking_confirmation", ...
    attachments: Sequence[Attachment] = ()

    def __post_init__(self) -> None:
        if any(c in self.to + self.subject for c in "\r\n"):
            raise ValueError("mail headers must be single lines")
        if not 0 < len(self.subject) <= 255 or not 0 < len(self.template) <= 64:
            raise ValueError("subject must be 1-255 and template 1-64 characters")
        if "@" not in self.to or len(self.to) > 320:
            raise ValueError("not a mail address")


class Mailer:
    """The port: ``await mailer.send(session, Mail(...))`` inside the caller's transaction."""

    def __init__(self, settings: Settings) -> None:
        self.transport = Transport.SMTP if settings.mail.smtp_host else Transport.OUTBOX
        self.from_address = settings.mail.from_address  # e.g. an invitation's organiser
        self.log_bodies = (
            settings.environment == "development" and self.transport is Transport.OUTBOX
        )
        self._on_commit: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever a transaction that wrote mail has committed."""
        self._on_commit.append(callback)

    async def send(
        self, session: AsyncSession, mail: Mail, *, client_id: int | None = None
    ) -> OutboxMail:
        """Write ``mail`` to the outbox; it leaves (over SMTP) only if the transaction commits.

        The row belongs to the session's client; a platform-scope session names ``client_id``.
        """
        status = MailStatus.PENDING if self.transport is Transport.SMTP else MailStatus.STORED
        row = OutboxMail(
            to_address=mail.to,
            subject=mail.subject,
            body_text=mail.body_text,
            template=mail.template,
            attachments=[attachment.to_json() for attachment in mail.attachments],
            transport=self.transport.value,
            status=status.value,
            created_at=utcnow(),
        )
        if client_id is not None:
            row.client_id = client_id
        session.add(row)
        await session.flush()
        sync = session.sync_session
        written_in = sync.get_nested_transaction() or sync.get_transaction()
        notice = _Notice(self, row.id, row.client_id, mail, written_in)
        sync.info.setdefault(_NOTICES, []).append(notice)
        return row

    def _committed(self, notice: _Notice) -> None:
        where = "stored in the outbox" if self.transport is Transport.OUTBOX else "queued for SMTP"
        extra = {
            "mailId": notice.mail_id,
            "template": notice.mail.template,
            "clientId": notice.client_id,
        }
        if self.log_bodies:
            log.info(
                "mail %s (%s) to %s %s:\n%s",
                notice.mail_id,
                notice.mail.template,
                notice.mail.to,
                where,
                notice.mail.body_text,
                extra=extra,
            )
        else:
            log.info("mail %s (%s) %s", notice.mail_id, notice.mail.template, where, extra=extra)
        for callback in self._on_commit:
            callback()


@dataclass(frozen=True, slots=True)
class _Notice:
    mailer: Mailer
    mail_id: int
    client_id: int
    mail: Mail
    written_in: SessionTransaction | None


@event.listens_for(Session, "after_commit")
def _announce_committed_mail(session: Session) -> None:
    for notice in session.info.pop(_NOTICES, ()):
        notice.mailer._committed(notice)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back_mail(session: Session, rolled_back: SessionTransaction) -> None:
    """Drop the notices of mail written inside the transaction (or savepoint) rolled back."""

    def undone(transaction: SessionTransaction | None) -> bool:
        while transaction is not None:
            if transaction is rolled_back:
                return True
            transaction = transaction.parent
        return False

    notices = session.info.get(_NOTICES)
    if notices:
        session.info[_NOTICES] = [n for n in notices if not undone(n.written_in)]


# --- SMTP -------------------------------------------------------------------------------------


def build_message(row: OutboxMail, *, from_address: str, from_name: str | None) -> EmailMessage:
    """The MIME message of an outbox row: a text body plus its attachments."""
    message = EmailMessage()
    message["From"] = Address(display_name=from_name or "", addr_spec=from_address)
    message["To"] = Address(addr_spec=row.to_address)
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = make_msgid(f"stvos.{row.id}", domain=from_address.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.body_text)
    for data in row.attachments or []:
        attachment = Attachment.from_json(data)
        parsed = email.message.Message()
        parsed["Content-Type"] = attachment.content_type
        params = dict((parsed.get_params() or [])[1:])
        message.add_attachment(
            attachment.content,
            maintype=parsed.get_content_maintype(),
            subtype=parsed.get_content_subtype(),
            filename=attachment.filename,
            params=params,
        )
    return message


class MailTransport(Protocol):
    async def deliver(self, message: EmailMessage, *, sender: str, recipient: str) -> None: ...


class SmtpTransport:
    """The real adapter: one SMTP conversation per mail with aiosmtplib."""

    def __init__(self, settings: MailSettings, *, timeout: float = 10.0) -> None:
        if not settings.smtp_host:
            raise ValueError("STVOS_MAIL_SMTP_HOST is not set")
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.username = settings.smtp_username
        self.password = settings.smtp_password
        self.starttls = settings.smtp_starttls
        self.timeout = timeout

    async def deliver(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        await aiosmtplib.send(
            message,
            sender=sender,
            recipients=[recipient],
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password.get_secret_value() if self.password else None,
            start_tls=self.starttls,
            timeout=self.timeout,
        )


def _is_permanent(exc: Exception) -> bool:
    """A refusal that will not change by retrying (5xx for the sender, recipient or content)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(refused.code >= 500 for refused in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPSenderRefused | aiosmtplib.SMTPDataError):
        return exc.code >= 500
    return False


class MailDispatcher:
    """Relays pending outbox rows to SMTP after their transaction committed.

    A pass claims due mails in one short platform-scope transaction (``claimed_until``; with
    ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), hands each to the SMTP server with no
    transaction open, then records the outcome in another short transaction. So several
    processes can dispatch without sending a mail twice, nothing holds a database lock while
    the SMTP server answers, and a crash mid-send leaves the claim to lapse and the mail to be
    retried (at-least-once). Failed attempt ``n`` is retried after ``RETRY_SCHEDULE[n]``.
    """

    def __init__(
        self,
        database: Database,
        settings: MailSettings,
        *,
        transport: MailTransport | None = None,
        poll_seconds: float = 5.0,
        batch_size: int = 50,
        claim_seconds: float = 120.0,
    ) -> None:
        self.db = database
        self.from_address = settings.from_address
        self.from_name = settings.from_name
        self.transport: MailTransport = transport or SmtpTransport(settings)
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.claim = timedelta(seconds=claim_seconds)
        self.max_attempts = len(RETRY_SCHEDULE)
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="stvos-mail-dispatcher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            handled = 0
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("mail dispatch failed; retrying in %s s", self.poll_seconds)
            if handled >= self.batch_size:
                continue  # more may be waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.poll_seconds)

    async def run_once(self) -> int:
        """One pass over the due mails; answers how many were attempted."""
        claimed = await self._claim()
        for mail_id, message, recipient in claimed:
            if isinstance(message, Exception):
                # A row that cannot become a message never will.
                await self._record(mail_id, message, permanent=True)
                continue
            try:
                await self.transport.deliver(message, sender=self.from_address, recipient=recipient)
            except Exception as exc:
                await self._record(mail_id, exc, permanent=_is_permanent(exc))
            else:
                await self._record(mail_id, None, permanent=False)
        return len(claimed)

    async def _claim(self) -> list[tuple[int, EmailMessage | Exception, str]]:
        now = utcnow()
        claimed: list[tuple[int, EmailMessage | Exception, str]] = []
        async with self.db.transaction(TenantScope.for_platform()) as session:
            rows = await session.scalars(
                select(OutboxMail)
                .where(
                    OutboxMail.status == MailStatus.PENDING.value,
                    OutboxMail.transport == Transport.SMTP.value,
                    or_(OutboxMail.next_attempt_at.is_(None), OutboxMail.next_attempt_at <= now),
                    or_(OutboxMail.claimed_until.is_(None), OutboxMail.claimed_until <= now),
                )
                .order_by(OutboxMail.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            names: dict[int, str | None] = {}
            for row in rows:
                row.claimed_until = now + self.claim
                if row.client_id not in names:
                    client = await session.get(Client, row.client_id)
                    names[row.client_id] = client.name if client else None
                from_name = self.from_name or names[row.client_id]
                try:
                    message: EmailMessage | Exception = build_message(
                        row, from_address=self.from_address, from_name=from_name
                    )
                except Exception as exc:
                    message = exc
                claimed.append((row.id, message, row.to_address))
        return claimed

    async def _record(self, mail_id: int, failure: Exception | None, *, permanent: bool) -> None:
        async with self.db.transaction(TenantScope.for_platform()) as session:
            row = await session.get(OutboxMail, mail_id)
            if row is None:
                return
            row.claimed_until = None
            row.attempts += 1
            if failure is None:
                row.status = MailStatus.SENT.value
                row.sent_at = utcnow()
                row.error = None
                log.info("mail %s (%s) sent", row.id, row.template, extra={"mailId": row.id})
                return
            final = permanent or row.attempts >= self.max_attempts
            reason = f"{type(failure).__name__}: {failure}".replace("\n", " ")
            row.error = f"attempt {row.attempts} of {self.max_attempts}: {reason}"[:_ERROR_LENGTH]
            row.status = (MailStatus.FAILED if final else MailStatus.PENDING).value
            row.next_attempt_at = None if final else utcnow() + RETRY_SCHEDULE[row.attempts]
            log.warning(
                "mail %s (%s) %s: %s",
                row.id,
                row.template,
                "failed" if final else "will be retried",
                row.error,
                extra={"mailId": row.id},
            )


def mail_services(settings: Settings, database: Database) -> tuple[Mailer, MailDispatcher | None]:
    """The application's mailer, and the SMTP dispatcher when SMTP is configured."""
    mailer = Mailer(settings)
    if mailer.transport is not Transport.SMTP:
        return mailer, None
    dispatcher = MailDispatcher(database, settings.mail)
    mailer.subscribe(dispatcher.wake)
    return mailer, dispatcher
