"""Counted limits for work that must be bounded before it is done (logins, registrations,
votes, searches): one atomic hit on the rate-limit storage (Redis in production, so every
process shares it), taken before the expensive or state-changing step."""

import logging
import threading
from contextlib import nullcontext

from flask import current_app
from limits import parse as parse_limit
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

log = logging.getLogger("sv_platform.security")
# The in-memory storage (`make run`, tests) is not atomic across threads: a hit on a new key
# can be lost while a parallel one sets its expiry, letting a burst past the limit. Its
# operations are serialized here; Redis increments are atomic on the server.
_memory_lock = threading.Lock()


def _serialized(strategy):
    return _memory_lock if isinstance(strategy.storage, MemoryStorage) else nullcontext()


def _strategy() -> FixedWindowRateLimiter:
    app = current_app._get_current_object()
    strategy = app.extensions.get("sv_throttle")
    if strategy is None:
        # Created once per app even when a burst of first requests arrives together: each
        # thread building its own in-memory storage would count apart.
        with _memory_lock:
            strategy = app.extensions.get("sv_throttle")
            if strategy is None:
                storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
                strategy = app.extensions["sv_throttle"] = FixedWindowRateLimiter(storage)
    return strategy


def _prefixed(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The keys under this deployment's RATELIMIT_KEY_PREFIX (two deployments sharing one
    Redis count apart, as the route limits and the chat's do)."""
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    return (prefix, *keys) if prefix else keys


def hit(rate: str, *keys: str) -> bool:
    """Count one use of `rate` (e.g. "5 per 15 minutes") for `keys`; False once the limit
    is spent. The count is one atomic increment, so N parallel requests for a limit of L
    let exactly L through."""
    strategy = _strategy()
    try:
        with _serialized(strategy):
            return strategy.hit(parse_limit(rate), *_prefixed(keys))
    except Exception:
        if _reachable(strategy):
            raise
        # Storage unreachable (Redis down): pages keep working, and it is logged.
        log.exception("rate-limit storage unreachable; %s not counted", keys[:1])
        return True


def _reachable(strategy) -> bool:
    try:
        return bool(strategy.storage.check())
    except Exception:  # noqa: BLE001 - a failing check means unreachable
        return False


def refund(rate: str, *keys: str) -> None:
    """Give back one use (a success that must not count, e.g. a correct password)."""
    strategy = _strategy()
    item = parse_limit(rate)
    key = item.key_for(*_prefixed(keys))
    try:
        # Two atomic steps instead of get-then-decrement: parallel refunds never take the
        # count below zero for longer than their own correction (a window that expired in
        # between leaves no credit behind).
        with _serialized(strategy):
            if strategy.storage.incr(key, item.get_expiry(), amount=-1) < 0:
                strategy.storage.incr(key, item.get_expiry(), amount=1)
    except Exception:  # storage unreachable: nothing was counted either
        log.exception("rate-limit storage unreachable; refund skipped")


def clear(rate: str, *keys: str) -> None:
    """Forget every use of `rate` for `keys` (e.g. after a password reset)."""
    strategy = _strategy()
    try:
        with _serialized(strategy):
            strategy.clear(parse_limit(rate), *_prefixed(keys))
    except Exception:  # storage unreachable: nothing to clear
        log.exception("rate-limit storage unreachable; clear skipped")
