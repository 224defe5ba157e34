"""Signals the enrolment domain sends from inside its write transaction.

Receivers run in the sender's transaction: they change their own domain's rows, never
commit, and an exception they raise rolls back the change that caused it.
"""

from blinker import Namespace

_signals = Namespace()

# sender: the Enrollment just made, holding a seat (active) or waiting; kwargs: now
enrollment_created = _signals.signal("enrollment-created")
# sender: the Enrollment that left the waitlist and now holds a seat; kwargs: now
enrollment_promoted = _signals.signal("enrollment-promoted")
# sender: the Enrollment just cancelled (status already "cancelled"); kwargs: now, actor
enrollment_cancelled = _signals.signal("enrollment-cancelled")
# sender: the Enrollment that just reached egreso (status "graduated"); kwargs: now
enrollment_graduated = _signals.signal("enrollment-graduated")
