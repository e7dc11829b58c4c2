"""The mail port: the embedded outbox, and SMTP delivery against a real local SMTP server.

The SMTP server is aiosmtpd on 127.0.0.1 (a free port); nothing leaves the machine. Tests that
call ``MailDispatcher.run_once`` stop the app's background dispatcher first, so that they count
deliveries deterministically.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import logging
import os
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request
from sqlalchemy import select

from stvos.app import create_app
from stvos.config import Settings, SettingsError, load_settings
from stvos.integrations.mail import RETRY_SCHEDULE, Attachment, Mail, MailDispatcher, Mailer
from stvos.kit.clock import FrozenClock
from stvos.kit.db import Database
from stvos.kit.errors import Conflict
from stvos.kit.policy import Auth, allow
from stvos.kit.routing import DbSession, api_router
from stvos.kit.schemas import Envelope, ok
from stvos.kit.tenancy import TenantScope
from stvos.models import OutboxMail
from tests.support.factories import TestClient, make_client, make_user

BASE_URL = "http://testserver/api/v1"
RESET_URL = "https://app.example.com/reset-password?token={token}"
ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//stvos//test//EN\r\nMETHOD:REQUEST\r\n"
    b"BEGIN:VEVENT\r\nUID:class-1@stvos.test\r\nDTSTAMP:20260101T090000Z\r\n"
    b"DTSTART:20260102T090000Z\r\nSUMMARY:Morning Flow\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)

# --- a local SMTP server ----------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpHandler:
    refuse: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        login, password = data.login.decode(), data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=(login, password) == ("mailer", "s3cret-pass"))


@dataclass
class SmtpServer:
    port: int
    handler: SmtpHandler


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    handler = SmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(port, handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    def build(port: int, **mail: object) -> Settings:
        values = {
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_starttls": False,
            "from_address": "hello@stvos.test",
            "reset_url": RESET_URL,
        }
        return make_settings(mail=values | mail)

    return build


# --- apps -------------------------------------------------------------------------------------

extra = api_router(prefix="/api/v1/_mail")


@extra.post("/send", dependencies=[allow(Auth.API_KEY)])
async def send_then_maybe_fail(
    request: Request, session: DbSession, fail: bool = False
) -> Envelope[int]:
    mailer: Mailer = request.app.state.mailer
    row = await mailer.send(
        session, Mail(to="ann@example.com", subject="Hi", body_text="Hello", template="test")
    )
    if fail:
        raise Conflict("Changed my mind after writing the mail")
    return ok(row.id)


@asynccontextmanager
async def serving(
    settings: Settings, *, background: bool = False
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app with the test route; the background dispatcher runs only if asked."""
    app = create_app(settings)
    app.include_router(extra)
    try:
        async with LifespanManager(app):
            dispatcher: MailDispatcher | None = app.state.mail_dispatcher
            if dispatcher is not None and not background:
                await dispatcher.stop()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
                yield app, http
    finally:
        await app.state.db.dispose()
        await app.state.limiter.aclose()


async def _outbox(db: Database) -> list[OutboxMail]:
    async with db.transaction(TenantScope.for_platform(), write=False) as session:
        return list(await session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    text = part.get_content()
    assert isinstance(text, str)
    return text


async def _forgot(http: httpx.AsyncClient, client: TestClient, email: str) -> httpx.Response:
    return await http.post("/auth/forgot-password", json={"email": email}, headers=client.headers)


# --- the embedded outbox ----------------------------------------------------------------------


async def test_embedded_default_keeps_mail_in_the_outbox(
    app: FastAPI, db: Database, client_a: TestClient
) -> None:
    mailer: Mailer = app.state.mailer
    assert app.state.mail_dispatcher is None
    assert mailer.transport == "outbox"
    async with db.transaction(TenantScope.for_client(client_a.id)) as session:
        row = await mailer.send(
            session,
            Mail(
                to="ann@example.com",
                subject="Your booking",
                body_text="See you there",
                template="booking_confirmation",
                attachments=[Attachment("class.ics", "text/calendar; method=REQUEST", ICS)],
            ),
        )
        assert row.id is not None
    [stored] = await _outbox(db)
    assert stored.client_id == client_a.id
    assert (stored.transport, stored.status, stored.sent_at) == ("outbox", "stored", None)
    assert (stored.to_address, stored.subject, stored.template) == (
        "ann@example.com",
        "Your booking",
        "booking_confirmation",
    )
    assert stored.attachments == [
        {
            "filename": "class.ics",
            "contentType": "text/calendar; method=REQUEST",
            "content": base64.b64encode(ICS).decode(),
        }
    ]


async def test_a_rolled_back_request_sends_nothing(
    smtp_server: SmtpServer,
    smtp_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serving(smtp_settings(smtp_server.port)) as (app, http):
        client = await make_client(app.state.db, "Alpha Studio")
        with caplog.at_level(logging.INFO, logger="stvos.mail"):
            failed = await http.post("/_mail/send?fail=true", headers=client.headers)
        assert failed.status_code == 409, failed.text
        assert await _outbox(app.state.db) == []
        assert await app.state.mail_dispatcher.run_once() == 0
        assert smtp_server.handler.received == []
        assert [r for r in caplog.records if r.name == "stvos.mail"] == []

        with caplog.at_level(logging.INFO, logger="stvos.mail"):
            sent = await http.post("/_mail/send", headers=client.headers)
            assert sent.status_code == 200, sent.text
            [row] = await _outbox(app.state.db)
            assert row.id == sent.json()["data"]
            assert await app.state.mail_dispatcher.run_once() == 1
        assert [r.rcpt_tos for r in smtp_server.handler.received] == [["ann@example.com"]]
        assert [r.getMessage() for r in caplog.records if r.name == "stvos.mail"] == [
            f"mail {row.id} (test) queued for SMTP",
            f"mail {row.id} (test) sent",
        ]


async def test_mail_of_a_rolled_back_savepoint_is_neither_kept_nor_announced(
    app: FastAPI, db: Database, client_a: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    mailer: Mailer = app.state.mailer

    def mail(subject: str) -> Mail:
        return Mail(to="ann@example.com", subject=subject, body_text="x", template="test")

    with caplog.at_level(logging.INFO, logger="stvos.mail"):
        async with db.transaction(TenantScope.for_client(client_a.id)) as session:
            kept = await mailer.send(session, mail("kept"))
            with pytest.raises(RuntimeError):
                async with session.begin_nested():
                    await mailer.send(session, mail("undone"))
                    raise RuntimeError("undo the savepoint")
    assert [m.subject for m in await _outbox(db)] == ["kept"]
    assert [r.getMessage() for r in caplog.records if r.name == "stvos.mail"] == [
        f"mail {kept.id} (test) stored in the outbox"
    ]


# --- SMTP -------------------------------------------------------------------------------------


async def test_reset_mail_goes_out_over_smtp_after_commit(
    smtp_server: SmtpServer, smtp_settings: Callable[..., Settings]
) -> None:
    async with serving(smtp_settings(smtp_server.port)) as (app, http):
        db: Database = app.state.db
        client = await make_client(db, "Alpha Studio")
        user = await make_user(http, db, client, "ann@example.com", name="Ann")
        assert (await _forgot(http, client, user.email)).status_code == 200
        [pending] = await _outbox(db)
        assert (pending.transport, pending.status) == ("smtp", "pending")
        assert smtp_server.handler.received == []  # nothing leaves inside the request

        assert await app.state.mail_dispatcher.run_once() == 1
        [received] = smtp_server.handler.received
        assert received.mail_from == "hello@stvos.test"
        assert received.rcpt_tos == ["ann@example.com"]
        message = received.message
        assert message["To"] == "ann@example.com"
        assert message["From"] == "Alpha Studio <hello@stvos.test>"
        assert message["Subject"] == "Reset your Alpha Studio password"
        assert message["Message-ID"].endswith("@stvos.test>")
        match = re.search(r"https://app\.example\.com/reset-password\?token=(\S+)", _body(message))
        assert match, _body(message)

        [sent] = await _outbox(db)
        assert (sent.status, sent.error) == ("sent", None)
        assert sent.sent_at is not None
        assert await app.state.mail_dispatcher.run_once() == 0  # sent once only
        assert len(smtp_server.handler.received) == 1

        reset = await http.post(
            "/auth/reset-password",
            json={"token": match.group(1), "password": "a-brand-new-secret"},
            headers=client.headers,
        )
        assert reset.status_code == 200, reset.text


async def test_the_background_dispatcher_is_woken_by_the_commit(
    smtp_server: SmtpServer, smtp_settings: Callable[..., Settings]
) -> None:
    # The poll interval is 5 s; a delivery well within it proves the commit woke the dispatcher.
    async with serving(smtp_settings(smtp_server.port), background=True) as (app, http):
        client = await make_client(app.state.db, "Alpha Studio")
        await make_user(http, app.state.db, client, "ann@example.com")
        assert (await _forgot(http, client, "ann@example.com")).status_code == 200
        for _ in range(150):  # 3 s
            if smtp_server.handler.received:
                break
            await asyncio.sleep(0.02)
        assert [r.rcpt_tos for r in smtp_server.handler.received] == [["ann@example.com"]]
        for _ in range(100):  # the row is marked as the delivery's transaction commits
            [row] = await _outbox(app.state.db)
            if row.status == "sent":
                break
            await asyncio.sleep(0.02)
        assert row.status == "sent"


async def test_smtp_down_keeps_the_request_ok_and_retries_until_failed(
    smtp_settings: Callable[..., Settings], clock: FrozenClock
) -> None:
    async with serving(smtp_settings(free_port())) as (app, http):  # nothing listens there
        db: Database = app.state.db
        dispatcher: MailDispatcher = app.state.mail_dispatcher
        client = await make_client(db, "Alpha Studio")
        await make_user(http, db, client, "ann@example.com")
        assert (await _forgot(http, client, "ann@example.com")).status_code == 200

        assert await dispatcher.run_once() == 1
        [row] = await _outbox(db)
        assert row.status == "pending"
        assert row.error is not None
        assert row.error.startswith("attempt 1 of 5: SMTPConnectError")
        assert await dispatcher.run_once() == 0  # the next attempt is not due yet

        for attempt in range(2, len(RETRY_SCHEDULE) + 1):
            # Failed attempt n is retried RETRY_SCHEDULE[n] later, not a second sooner.
            clock.advance(RETRY_SCHEDULE[attempt - 1] - timedelta(seconds=1))
            assert await dispatcher.run_once() == 0
            clock.advance(timedelta(seconds=1))
            assert await dispatcher.run_once() == 1
            [row] = await _outbox(db)
            assert row.attempts == attempt
            assert row.error is not None
            assert row.error.startswith(f"attempt {attempt} of 5:")
        assert row.status == "failed"
        assert row.sent_at is None
        clock.advance(RETRY_SCHEDULE[-1] * 10)
        assert await dispatcher.run_once() == 0  # failed mails stay failed


async def test_a_refused_recipient_fails_without_retries(
    smtp_server: SmtpServer, smtp_settings: Callable[..., Settings]
) -> None:
    smtp_server.handler.refuse.add("ann@example.com")
    async with serving(smtp_settings(smtp_server.port)) as (app, http):
        client = await make_client(app.state.db, "Alpha Studio")
        await http.post("/_mail/send", headers=client.headers)
        assert await app.state.mail_dispatcher.run_once() == 1
        [row] = await _outbox(app.state.db)
        assert row.status == "failed"
        assert row.error is not None
        assert row.error.startswith("attempt 1 of 5: SMTPRecipientsRefused")
        assert "550" in row.error
        assert smtp_server.handler.received == []


async def test_attachments_travel_as_mime_parts(
    smtp_server: SmtpServer, smtp_settings: Callable[..., Settings]
) -> None:
    pdf = b"%PDF-1.4\n" + bytes(range(256))
    settings = smtp_settings(smtp_server.port, from_name="Bookings")
    async with serving(settings) as (app, _http):
        client = await make_client(app.state.db, "Alpha Studio")
        async with app.state.db.transaction(TenantScope.for_client(client.id)) as session:
            await app.state.mailer.send(
                session,
                Mail(
                    to="ann@example.com",
                    subject="Booked: Morning Flow",
                    body_text="You are booked.",
                    template="booking_confirmation",
                    attachments=[
                        Attachment("invite.ics", "text/calendar; method=REQUEST", ICS),
                        Attachment("receipt.pdf", "application/pdf", pdf),
                    ],
                ),
            )
        assert await app.state.mail_dispatcher.run_once() == 1

    [received] = smtp_server.handler.received
    message = received.message
    assert message["From"] == "Bookings <hello@stvos.test>"
    assert message.get_content_type() == "multipart/mixed"
    assert _body(message).strip() == "You are booked."
    parts = {part.get_filename(): part for part in message.iter_attachments()}
    assert set(parts) == {"invite.ics", "receipt.pdf"}
    invite, receipt = parts["invite.ics"], parts["receipt.pdf"]
    assert invite.get_content_type() == "text/calendar"
    assert invite.get_param("method") == "REQUEST"
    assert invite.get_payload(decode=True) == ICS
    assert receipt.get_content_type() == "application/pdf"
    assert receipt.get_payload(decode=True) == pdf


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_smtp_login_uses_the_configured_credentials(
    smtp_settings: Callable[..., Settings],
) -> None:
    handler = SmtpHandler()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=handler.authenticate,
        auth_required=True,
        auth_require_tls=False,  # a loopback test server has no certificate
    )
    controller.start()
    try:
        settings = smtp_settings(port, smtp_username="mailer", smtp_password="s3cret-pass")
        async with serving(settings) as (app, http):
            client = await make_client(app.state.db, "Alpha Studio")
            await http.post("/_mail/send", headers=client.headers)
            assert await app.state.mail_dispatcher.run_once() == 1
            [row] = await _outbox(app.state.db)
            assert row.status == "sent", row.error
    finally:
        controller.stop()
    assert handler.logins == [("mailer", "s3cret-pass")]
    assert [r.rcpt_tos for r in handler.received] == [["ann@example.com"]]


# --- the port's rules and settings ------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"to": "ann@example.com\r\nBcc: eve@example.com"},
        {"subject": "Hi\nBcc: eve@example.com"},
        {"to": "not-an-address"},
        {"subject": ""},
    ],
)
def test_mail_refuses_header_injection_and_nonsense(fields: dict[str, str]) -> None:
    values = {"to": "ann@example.com", "subject": "Hi", "body_text": "x", "template": "t"}
    with pytest.raises(ValueError, match=r"single lines|address|characters"):
        Mail(**(values | fields))  # type: ignore[arg-type]


def test_attachment_names_and_types_are_checked() -> None:
    with pytest.raises(ValueError, match="file name"):
        Attachment("../etc/passwd", "text/plain", b"x")
    with pytest.raises(ValueError, match="type/subtype"):
        Attachment("a.txt", "text", b"x")


def test_mail_settings_come_from_stvos_mail_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("STVOS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env
    assert load_settings().mail.smtp_host is None  # embedded outbox by default
    monkeypatch.setenv("STVOS_MAIL_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("STVOS_MAIL_SMTP_PORT", "2525")
    monkeypatch.setenv("STVOS_MAIL_SMTP_USERNAME", "mailer")
    monkeypatch.setenv("STVOS_MAIL_SMTP_PASSWORD", "s3cret-pass")
    monkeypatch.setenv("STVOS_MAIL_SMTP_STARTTLS", "false")
    monkeypatch.setenv("STVOS_MAIL_FROM_ADDRESS", "hello@example.com")
    monkeypatch.setenv("STVOS_MAIL_FROM_NAME", "Example Fitness")
    monkeypatch.setenv("STVOS_MAIL_RESET_URL", "https://{client}.example.com/r?t={token}")
    mail = load_settings().mail
    assert (mail.smtp_host, mail.smtp_port, mail.smtp_username) == (
        "smtp.example.com",
        2525,
        "mailer",
    )
    assert mail.smtp_password is not None
    assert mail.smtp_password.get_secret_value() == "s3cret-pass"
    assert "s3cret-pass" not in repr(load_settings())
    assert mail.smtp_starttls is False
    assert (mail.from_address, mail.from_name) == ("hello@example.com", "Example Fitness")
    assert mail.reset_url == "https://{client}.example.com/r?t={token}"

    monkeypatch.setenv("STVOS_MAIL_RESET_URL", "https://app.example.com/reset")
    with pytest.raises(SettingsError, match="STVOS_MAIL_RESET_URL"):
        load_settings()


class _WritingTransport:
    """Delivers by writing to the database meanwhile: proves no dispatcher lock is held."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.delivered: list[str] = []

    async def deliver(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        async with self.db.transaction(TenantScope.for_platform()) as session:
            await make_client_in(session, f"Made during delivery {len(self.delivered)}")
        self.delivered.append(recipient)


async def make_client_in(session: Any, name: str) -> None:
    from stvos.tenancy.service import create_client

    await create_client(session, name=name)


async def test_no_database_lock_is_held_while_the_smtp_server_answers(
    smtp_settings: Callable[..., Settings],
) -> None:
    async with serving(smtp_settings(free_port())) as (app, http):
        db: Database = app.state.db
        client = await make_client(db, "Alpha Studio")
        assert (await http.post("/_mail/send", headers=client.headers)).status_code == 200
        dispatcher = MailDispatcher(db, app.state.settings.mail, transport=_WritingTransport(db))
        # With SQLite's single writer, a dispatcher holding a write transaction here would
        # make the transport's own write wait out the busy timeout and fail.
        assert await asyncio.wait_for(dispatcher.run_once(), timeout=5) == 1
        [row] = await _outbox(db)
        assert row.status == "sent"
        assert row.claimed_until is None


async def test_a_claim_lapses_so_a_crashed_send_is_retried(
    smtp_server: SmtpServer, smtp_settings: Callable[..., Settings], clock: FrozenClock
) -> None:
    async with serving(smtp_settings(smtp_server.port)) as (app, http):
        db: Database = app.state.db
        client = await make_client(db, "Alpha Studio")
        assert (await http.post("/_mail/send", headers=client.headers)).status_code == 200
        crashed = MailDispatcher(db, app.state.settings.mail, claim_seconds=60)
        claimed = await crashed._claim()  # took the mail, then died before sending
        assert len(claimed) == 1
        dispatcher: MailDispatcher = app.state.mail_dispatcher
        assert await dispatcher.run_once() == 0  # still claimed by the dead one
        clock.advance(timedelta(seconds=61))
        assert await dispatcher.run_once() == 1
        [row] = await _outbox(db)
        assert (row.status, row.attempts) == ("sent", 1)
        assert len(smtp_server.handler.received) == 1
