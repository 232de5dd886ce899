"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import hmac
import secrets
from hashlib import sha256

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from lakana.core.errors import Invalid

MIN_LENGTH = 12
MAX_LENGTH = 256

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
_COMMON = frozenset({
    "password1234", "motdepasse12", "azertyuiop12", "123456789012", "qwertyuiop12",
    "administrator", "lakanalakana", "bamakobamako", "mali12345678",
})


def check_policy(password: str, *, email: str | None = None) -> None:
    """Raise :class:`Invalid` unless the password is long, varied and not trivially guessable."""
    if len(password) < MIN_LENGTH:
        raise Invalid("The password must have at least %(n)s characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise Invalid("The password must have at most %(n)s characters.", n=MAX_LENGTH)
    if len(set(password)) < 6:
        raise Invalid("The password repeats too few different characters.")
    lowered = password.lower()
    if lowered in _COMMON:
        raise Invalid("This password is too common.")
    if email and email.split("@")[0].lower() in lowered and len(email.split("@")[0]) >= 4:
        raise Invalid("The password must not contain your e-mail address.")
    classes = sum([any(c.islower() for c in password), any(c.isupper() for c in password),
                   any(c.isdigit() for c in password), any(not c.isalnum() for c in password)])
    if classes < 3 and len(password) < 20:
        raise Invalid("Use at least three of: lower case, upper case, digits, symbols "
                      "(or a passphrase of 20 characters or more).")


def generate_temporary_password() -> str:
    """A random password that meets the policy, for administrators' resets (shown once)."""
    while True:
        candidate = f"{secrets.token_urlsafe(12)}-{secrets.randbelow(90) + 10}"
        try:
            check_policy(candidate)
        except Invalid:
            continue
        return candidate


def use_cheap_hashing_for_tests() -> None:
    """Hash with argon2id at its minimal cost from now on, in this process.

    Only the test suite calls this (as Django's test settings swap their hasher): at the
    production cost, hashing and verifying the passwords of the suite's thousands of users
    and log-ins took most of its run time. No setting or variable reaches it.
    """
    global _hasher
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def hash_password(password: str) -> str:
    """Hash with argon2id."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; never raises on a malformed hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash uses outdated parameters."""
    return _hasher.check_needs_rehash(password_hash)


def token_digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret (session ids, API tokens, recovery codes)."""
    return sha256(secret.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    """Compare two strings without leaking where they differ."""
    return hmac.compare_digest(a.encode(), b.encode())
