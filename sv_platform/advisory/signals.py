"""Signals the advisory domain sends from inside its write transaction.

Receivers (notifications, reports) add their own rows in the same transaction and never
commit; the consulta's change and its consequences commit together or not at all.
"""

from blinker import Namespace

_signals = Namespace()

# sender: the Consultation after the change; kwargs: action (take, assign, answer, ask,
# resolve, close, reopen, withdraw, open, auto_close), old_status, actor (User or None), now
consultation_changed = _signals.signal("consultation-changed")
# sender: the Message just stored; kwargs: consultation, author, now
message_posted = _signals.signal("message-posted")
