"""Mail for IBridgePy's ``send_email``: one message over the SMTP server of the run's settings, never fatal."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from runtime.algorithm.ibridgepy_options import IBridgePyOptions

_email_log = logging.getLogger("ibalgo.email")


def send_mail(o: IBridgePyOptions, title: str, body: str, to_email: str | list[str] | None = None) -> bool:
    """Send ``title``/``body`` to ``to_email`` (else the options' EMAIL_TO) over the options' SMTP server; True
    when the server took it. Without SMTP_HOST or a recipient the mail is logged instead; a failure is logged as an
    error; both return False."""
    to = to_email if to_email is not None else o.email_to
    recipients = [a.strip() for a in (to.split(",") if isinstance(to, str) else to or []) if a and a.strip()]
    if not o.smtp_host or not recipients:
        _email_log.info("send_email (no %s set, not sent): %s\n%s",
                        "SMTP_HOST" if not o.smtp_host else "EMAIL_TO or toEmail", title, body)
        return False
    msg = EmailMessage()
    msg["Subject"] = str(title)
    msg["From"] = o.email_from or o.smtp_user or "ibalgo@localhost"
    msg["To"] = ", ".join(recipients)
    msg.set_content(str(body))
    try:
        with smtplib.SMTP(o.smtp_host, int(o.smtp_port), timeout=10) as smtp:
            if o.smtp_starttls:
                smtp.starttls()
            if o.smtp_user:
                smtp.login(o.smtp_user, o.smtp_password or "")
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        _email_log.error("send_email failed (%s:%s): %s: %s; the run goes on", o.smtp_host, o.smtp_port,
                         type(exc).__name__, exc)
        return False
    _email_log.info("mail sent to %s: %s", ", ".join(recipients), title)
    return True
