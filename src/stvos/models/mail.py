"""Outgoing mail. The embedded mailer keeps it here; the SMTP mailer records what it sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stvos.kit.orm import Base, IdMixin, TenantOwned


class OutboxMail(IdMixin, TenantOwned, Base):
    __tablename__ = "mail_outbox"
    __table_args__ = (
        Index("ix_mail_outbox_client_id_created_at", "client_id", "created_at"),
        # The dispatcher's scan for due mail, across clients (platform scope).
        Index("ix_mail_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(Text)
    # What kind of mail ("password_reset", "booking_confirmation", ...), for tests and support.
    template: Mapped[str] = mapped_column(String(64))
    # [{"filename", "contentType", "content" (base64)}], e.g. iCalendar invitations.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    transport: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    # Delivery bookkeeping of the SMTP dispatcher.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    # A dispatcher that took the mail to send holds it until then; past it, another may retry.
    claimed_until: Mapped[datetime | None] = mapped_column()
