"""The session cookie's and the CSRF token's signatures with their keys derived once.

Flask builds a new serializer for the session cookie on every request, and Flask-WTF one
for the CSRF token; each signature then derives its key again from the secret key (an
HMAC or a hash) and computes the HMAC through `hmac.new` with a digest constructor, the
slow pure-Python path. Here the serializers are built once per secret key (fallbacks
included), each key is derived once, and the HMAC is the one-shot `hmac.digest`. The bytes
are the same — same keys, salts, key derivations, digests and payloads — so cookies and
tokens from before still verify, and `flask_wtf.csrf.validate_csrf` checks the tokens
made here exactly as its own (tests/test_signing.py compares them byte for byte).
"""

import hashlib
import hmac
import os
import threading

from flask import current_app, g, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from itsdangerous.signer import HMACAlgorithm

_lock = threading.Lock()
_serializers: dict = {}


class _OneShotHMAC(HMACAlgorithm):
    """`hmac.digest` (one C call) instead of `hmac.new(...).digest()`: the same MAC."""

    def __init__(self, digest_method):
        super().__init__(digest_method)
        self.name = digest_method().name

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, self.name)


class _DerivedOnceSigner(TimestampSigner):
    """A timestamp signer that derives each of its keys once (they never change)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.algorithm = _OneShotHMAC(self.digest_method)
        self._derived: dict = {}

    def derive_key(self, secret_key=None) -> bytes:
        found = self._derived.get(secret_key)
        if found is None:
            found = self._derived[secret_key] = super().derive_key(secret_key)
        return found


class _SignerPerSalt(URLSafeTimedSerializer):
    """A serializer that keeps its signer (one per salt) instead of making one per call."""

    signer = _DerivedOnceSigner

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._signers: dict = {}

    def make_signer(self, salt=None):
        found = self._signers.get(salt)
        if found is None:
            found = self._signers[salt] = super().make_signer(salt)
        return found


def _kept(key: tuple, build):
    found = _serializers.get(key)
    if found is None:
        with _lock:
            found = _serializers.setdefault(key, build())
    return found


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session with its serializer built once per secret key."""

    def get_signing_serializer(self, app):
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        return _kept(
            ("session", keys, self.salt),
            lambda: _SignerPerSalt(
                list(keys),
                salt=self.salt,
                serializer=self.serializer,
                signer_kwargs={
                    "key_derivation": self.key_derivation,
                    "digest_method": self.digest_method,
                },
            ),
        )


def generate_csrf() -> str:
    """`flask_wtf.csrf.generate_csrf()` (same token, same caching in `g` for the request,
    same raw secret in the session) with a serializer kept per secret key."""
    config = current_app.config
    secret_key = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
    if not secret_key:
        raise RuntimeError("A secret key is required to use CSRF.")
    field_name = config.get("WTF_CSRF_FIELD_NAME") or "csrf_token"
    token = g.get(field_name)
    if token is None:
        serializer = _kept(
            ("csrf", secret_key), lambda: _SignerPerSalt(secret_key, salt="wtf-csrf-token")
        )
        if field_name not in session:
            session[field_name] = hashlib.sha1(os.urandom(64)).hexdigest()  # noqa: S324
        try:
            token = serializer.dumps(session[field_name])
        except TypeError:
            session[field_name] = hashlib.sha1(os.urandom(64)).hexdigest()  # noqa: S324
            token = serializer.dumps(session[field_name])
        setattr(g, field_name, token)
    return token


def init_app(app) -> None:
    app.session_interface = SessionInterface()
    app.jinja_env.globals["csrf_token"] = generate_csrf
