"""Signals the accounts domain sends; receivers in other domains react to them.

`data_exported`, `user_anonymized` and `sessions_ending` are sent inside the accounts
transaction: a receiver adds its own rows' part (export), erases its own rows
(anonymization) or ends what it kept for a session, without committing.
"""

from blinker import Namespace

_signals = Namespace()

# sender: user_id — every session of the user is ending (logout, password change,
# disabled, deleted), inside that transaction, before its commit: what other domains keep
# for a session (an advisor's availability) ends in their rows, committed with the cause.
sessions_ending = _signals.signal("sessions-ending")
# sender: user_id — every session of the user ended (logout, password change, disabled,
# deleted): live connections such as chat sockets must drop too. Sent after the commit.
sessions_ended = _signals.signal("sessions-ended")
# sender: user_id; returns (via receivers' return values) dicts merged into the export
data_exported = _signals.signal("data-exported")
# sender: user_id; kwargs: now — the account is being deleted: erase what identifies it
user_anonymized = _signals.signal("user-anonymized")
# sender: the User just created (flushed, not committed); kwargs: now
account_created = _signals.signal("account-created")
# sender: the User whose email just changed (now unconfirmed); kwargs: old_email, now
email_changed = _signals.signal("email-changed")
# sender: the User whose password just changed (inside the transaction); kwargs: now
password_changed = _signals.signal("password-changed")
# sender: a target type of the audit log ("enrollment_window", "faq_entry"…); kwargs: ids (a
# list of str). The domain owning that type returns {id: label}, a noun phrase naming each
# object in Spanish ("«Asesoría Legal · Biobío»"). Read-only; sent while rendering the log.
audit_labels = _signals.signal("audit-labels")
# sender: the User whose RUT or email someone just tried to register with (the stranger at
# the form is told nothing); kwargs: now. Sent inside the transaction that records it.
registration_attempted = _signals.signal("registration-attempted")
