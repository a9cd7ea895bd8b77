"""Email over SMTP (smtplib, in a thread): one connection per batch, plain text in UTF-8, one message per
notification with its id as Message-ID (so a receiving system can spot a repeat)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate

from notify.channels.base import Outcome, Outgoing, describe
from notify.config import SmtpSettings

# Answers that will not change on a retry: the mailbox does not exist, the address is malformed.
_PERMANENT_CODES = frozenset({501, 550, 551, 553})


def message_for(outgoing: Outgoing, *, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = outgoing.title
    message["From"] = sender
    message["To"] = outgoing.address
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{outgoing.id}@diesel-direct>"
    message["X-Diesel-Notification"] = str(outgoing.id)
    text = (
        outgoing.body if not outgoing.link or outgoing.link in outgoing.body else f"{outgoing.body}\n\n{outgoing.link}"
    )
    message.set_content(text, charset="utf-8")
    return message


class SmtpChannel:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    async def send_many(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        return await asyncio.to_thread(self._send_all, list(messages))

    def _send_all(self, messages: list[Outgoing]) -> list[Outcome]:
        s = self.settings
        outcomes: list[Outcome] = []
        error_text = "not sent"
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as smtp:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.user:
                    smtp.login(s.user, s.password)
                for message in messages:
                    outcomes.append(self._send_one(smtp, message))
        except (OSError, smtplib.SMTPException) as error:
            # The server is down or the connection broke: what was accepted stays accepted, the rest waits.
            error_text = describe(error)
        return outcomes + [Outcome(ok=False, error=error_text) for _ in messages[len(outcomes) :]]

    def _send_one(self, smtp: smtplib.SMTP, outgoing: Outgoing) -> Outcome:
        try:
            refused = smtp.send_message(message_for(outgoing, sender=self.settings.sender))
        except smtplib.SMTPRecipientsRefused as error:
            codes = {code for code, _ in error.recipients.values()}
            return Outcome(ok=False, error=describe(error), permanent=bool(codes & _PERMANENT_CODES))
        except smtplib.SMTPResponseException as error:
            return Outcome(ok=False, error=describe(error), permanent=error.smtp_code in _PERMANENT_CODES)
        if refused:
            return Outcome(ok=False, error=f"refused: {refused}"[:300])
        return Outcome(ok=True, provider_message_id=f"<{outgoing.id}@diesel-direct>")
