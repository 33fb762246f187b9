"""Who is calling a REST dialect, decided once per request.

Without accounts the studio belongs to one local user and programs need no key, the
same as the UI. With accounts, every REST call names its account: `Authorization:
Bearer KEY` (both dialects), or HTTP basic auth as AUTOMATIC1111 clients send it,
with either the account's password or one of its keys as the password. Anything else
is refused before a body is read, so an anonymous caller cannot even learn which
models exist.
"""

from __future__ import annotations

import base64
import binascii
from typing import Callable

from studio.services.access.api_keys import ApiKeyService
from studio.services.studio import LOCAL_USER

PasswordCheck = Callable[[str, str], bool]


def caller_of(
    authorization: str | None,
    keys: ApiKeyService,
    password_check: PasswordCheck | None,
    *,
    allow_basic: bool,
) -> str | None:
    """The account the request acts for, or None when it must be refused."""
    if password_check is None:
        return LOCAL_USER
    scheme, _, value = (authorization or "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return keys.user_for(value)
    if scheme.lower() == "basic" and value and allow_basic:
        try:
            user, sep, secret = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        if not sep or not secret:
            return None
        key_owner = keys.user_for(secret)
        if key_owner is not None and user in ("", key_owner):
            return key_owner
        if user and _safe_check(password_check, user, secret):
            return user
    return None


def _safe_check(check: PasswordCheck, user: str, password: str) -> bool:
    from studio.accounts import SignInThrottled

    try:
        return bool(check(user, password))
    except SignInThrottled:
        raise  # the caller answers 429 with the wait
    except Exception:  # a broken account store must refuse, never let the caller in
        return False


def password_check_from_pairs(pairs: list[tuple[str, str]] | None) -> PasswordCheck | None:
    """A check over today's plain `--auth` pairs; None when accounts are off."""
    if not pairs:
        return None
    import hmac

    accounts = dict(pairs)

    def check(user: str, password: str) -> bool:
        expected = accounts.get(user)
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())

    return check
