"""Bearer-token authentication for the HTTP API: JWT verification and local token minting.

A request carries ``Authorization: Bearer <jwt>``. The token is checked against one
configured key and a fixed list of algorithms from a single family; its ``tenant_id``,
``profile_id`` and ``scope`` claims become a :class:`Principal`. Every way a token can fail
raises :class:`AuthError` with a short ``reason`` code, so the API can answer 401 without
leaking detail, and a route that needs more than authentication raises :class:`Forbidden`.

The embedded stack has no identity provider, so it keeps an RSA key pair on disk
(:func:`ensure_local_keys`) and mints its own tokens (:func:`mint_token`).
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final, TypeAlias

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import Algorithm, get_default_algorithms

from schemas.envelopes import ID_PATTERN

SCOPES: Final[frozenset[str]] = frozenset(
    {"profile:read", "commands:write", "stream:read", "tenant:admin"}
)
LOCAL_ISSUER: Final = "fintra-local"
LOCAL_AUDIENCE: Final = "fintra-api"

# Longer tokens are refused before any parsing, which bounds the work an unauthenticated
# caller can demand. Real tokens carrying a handful of claims are well under 2 KiB.
_MAX_TOKEN_LENGTH: Final = 8192

# Compact JWS: three base64url segments. Matching this first keeps non-ASCII text (including
# lone surrogates, which cannot be encoded as UTF-8) away from the decoder. The signature
# may be empty so that an unsigned token is reported as a refused algorithm.
_TOKEN_SHAPE: Final = re.compile(
    r"[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]*={0,2}"
)
_ID: Final = re.compile(ID_PATTERN)

# HMAC secrets shorter than the SHA-256 output give less security than the algorithm
# promises (RFC 7518, section 3.2).
_MIN_HMAC_SECRET_BYTES: Final = 32
_RSA_KEY_BITS: Final = 2048
_HMAC_FAMILY: Final = "HS"
_FAMILY_PREFIXES: Final = frozenset({"HS", "RS", "PS", "ES"})
_REQUIRED_CLAIMS: Final = ("exp", "iss", "aud", "tenant_id")

# PyJWT's registry, without "none": an unsigned token is never acceptable here.
_ALGORITHMS: Final[Mapping[str, Algorithm]] = {
    name: algorithm
    for name, algorithm in get_default_algorithms().items()
    if name.lower() != "none"
}

_PUBLIC_KEY_TYPES: Final = (
    RSAPublicKey,
    EllipticCurvePublicKey,
    Ed25519PublicKey,
    Ed448PublicKey,
)
_VerificationKey: TypeAlias = (
    bytes | RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey
)

# Reason codes carried by AuthError and Forbidden.
_EXPIRED: Final = "expired"
_NOT_YET_VALID: Final = "not_yet_valid"
_WRONG_AUDIENCE: Final = "wrong_audience"
_WRONG_ISSUER: Final = "wrong_issuer"
_MISSING_CLAIM: Final = "missing_claim"
_BAD_CLAIM: Final = "bad_claim"
_BAD_SIGNATURE: Final = "bad_signature"
_BAD_ALGORITHM: Final = "bad_algorithm"
_MALFORMED: Final = "malformed"
_INVALID_JWT: Final = "invalid_token"
_NO_BEARER: Final = "missing_token"
_MISSING_SCOPE: Final = "missing_scope"

# Most specific first: InvalidSignatureError is a DecodeError, and every class here is an
# InvalidTokenError, whose remaining subclasses all map to "invalid_token".
_REASONS: Final[tuple[tuple[type[jwt.PyJWTError], str], ...]] = (
    (jwt.ExpiredSignatureError, _EXPIRED),
    (jwt.ImmatureSignatureError, _NOT_YET_VALID),
    (jwt.InvalidAudienceError, _WRONG_AUDIENCE),
    (jwt.InvalidIssuerError, _WRONG_ISSUER),
    (jwt.MissingRequiredClaimError, _MISSING_CLAIM),
    (jwt.InvalidSignatureError, _BAD_SIGNATURE),
    (jwt.InvalidAlgorithmError, _BAD_ALGORITHM),
    (jwt.DecodeError, _MALFORMED),
)

# Fixed texts rather than PyJWT's own messages, so what a client sees does not change
# with the library version and says nothing about the parser's internals.
_MESSAGES: Final[Mapping[str, str]] = {
    _EXPIRED: "The token has expired.",
    _NOT_YET_VALID: "The token is not valid yet.",
    _WRONG_AUDIENCE: "The token was issued for another audience.",
    _WRONG_ISSUER: "The token was issued by an unexpected issuer.",
    _MISSING_CLAIM: "The token lacks a required claim.",
    _BAD_SIGNATURE: "The token's signature does not verify.",
    _BAD_ALGORITHM: "The token's algorithm is not accepted.",
    _MALFORMED: "The token is not a well-formed JWT.",
    _INVALID_JWT: "The token is invalid.",
}


class AuthError(Exception):
    """Authentication failed (HTTP 401).

    ``reason`` is a short stable code such as ``"expired"`` or ``"bad_signature"``, fit for
    logs and for a client deciding whether to fetch a new token; ``message`` is a sentence
    for people. Neither repeats anything from the token itself.
    """

    status: ClassVar[int] = 401

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Forbidden(AuthError):
    """Authenticated but not allowed (HTTP 403).

    Reasons: ``"missing_scope"``, ``"wrong_profile"``, and ``"missing_claim"`` when a route
    needs a profile and the token names none.
    """

    status: ClassVar[int] = 403


class AuthConfigError(ValueError):
    """The JWT settings are unsafe or unusable."""


@dataclass(frozen=True, slots=True)
class JwtSettings:
    """How tokens are verified: accepted algorithms, the key, and the expected iss and aud.

    ``key`` is a PEM public key for the asymmetric families (RS*, PS*, ES*, EdDSA) and the
    shared secret for HS*. All algorithms must come from one family: accepting HMAC next to
    a public-key algorithm lets anyone holding the public key sign tokens with it as the
    HMAC secret. ``leeway_seconds`` is the clock skew tolerated on ``exp``, ``nbf`` and
    ``iat``.

    Raises:
        AuthConfigError: On construction, when the settings are unsafe or the key cannot
            be used with the algorithms: no algorithm, ``none``, an unknown or mixed
            family, an empty issuer or audience, a negative leeway, a PEM key for HMAC,
            an HMAC secret under 32 bytes (or under the hash size), a private or
            unparsable key where a public key belongs, or an RSA key under 2048 bits.
    """

    algorithms: tuple[str, ...]
    key: str
    issuer: str
    audience: str
    leeway_seconds: int = 0

    def __post_init__(self) -> None:
        _check_algorithms(self.algorithms)
        if not self.issuer.strip():
            msg = "the expected JWT issuer must not be empty"
            raise AuthConfigError(msg)
        if not self.audience.strip():
            msg = "the expected JWT audience must not be empty"
            raise AuthConfigError(msg)
        if self.leeway_seconds < 0:
            msg = f"the JWT leeway must not be negative, got {self.leeway_seconds}"
            raise AuthConfigError(msg)
        _verification_key(self)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token speaks for and what it allows.

    ``scopes`` holds only names from :data:`SCOPES`; ``profile_id`` is None when the token
    covers the tenant without naming a profile.
    """

    tenant_id: str
    profile_id: str | None
    scopes: frozenset[str]
    subject: str | None

    def require(self, scope: str) -> None:
        """Refuse the request unless the token grants ``scope``.

        Raises:
            Forbidden: ``"missing_scope"`` when the scope was not granted.
            ValueError: When ``scope`` is not one of :data:`SCOPES`; a misspelt name
                would otherwise refuse every caller without anyone noticing why.
        """
        if scope not in SCOPES:
            msg = f"unknown scope {scope!r}"
            raise ValueError(msg)
        if scope not in self.scopes:
            message = f"This request needs the {scope!r} scope."
            raise Forbidden(_MISSING_SCOPE, message)

    def require_profile(self) -> str:
        """Return the profile the token names.

        Raises:
            Forbidden: ``"missing_claim"`` when the token names no profile.
        """
        if self.profile_id is None:
            message = "This request needs a token that names a profile."
            raise Forbidden(_MISSING_CLAIM, message)
        return self.profile_id


class TokenVerifier:
    """Checks bearer tokens against one :class:`JwtSettings` and turns them into principals.

    The key is parsed once here. The token's header is consulted only to refuse it: the
    algorithm must be in the configured list, and the key never comes from the token.
    """

    def __init__(self, settings: JwtSettings) -> None:
        self._settings = settings
        self._key = _verification_key(settings)

    def verify(self, token: str) -> Principal:
        """Verify ``token`` and return the principal it carries.

        Checked: the signature, ``exp`` (required), ``nbf`` and ``iat`` when present,
        ``iss`` and ``aud`` (required, exact), and the claims ``tenant_id`` (required) and
        ``profile_id`` (optional, null meaning absent), both matching ``ID_PATTERN``.
        ``scope`` may be a space-separated string or a list of strings; names outside
        :data:`SCOPES` are dropped.

        Raises:
            AuthError: For every way the token can fail, whatever the input; see the
                module's reason codes. No other exception escapes for a ``str`` token.
        """
        if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH:
            raise _auth_error(_MALFORMED)
        if _TOKEN_SHAPE.fullmatch(token) is None:
            raise _auth_error(_MALFORMED)
        claims = self._decode(token)
        tenant_id = _id_claim(claims, "tenant_id")
        if tenant_id is None:
            raise _auth_error(_MISSING_CLAIM)
        subject = claims.get("sub")
        return Principal(
            tenant_id=tenant_id,
            profile_id=_id_claim(claims, "profile_id"),
            scopes=_scope_claim(claims.get("scope")),
            subject=subject if isinstance(subject, str) else None,
        )

    def _decode(self, token: str) -> dict[str, Any]:
        settings = self._settings
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=list(settings.algorithms),
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_seconds,
                # Spelled out so that a change in the library's defaults cannot quietly
                # switch a check off.
                options={
                    "verify_signature": True,
                    "verify_exp": True,
                    "verify_nbf": True,
                    "verify_iat": True,
                    "verify_iss": True,
                    "verify_aud": True,
                    "require": list(_REQUIRED_CLAIMS),
                },
            )
        except jwt.PyJWTError as exc:
            reason = next((code for kind, code in _REASONS if isinstance(exc, kind)), None)
            raise _auth_error(reason or _INVALID_JWT) from exc
        except (ValueError, TypeError, ArithmeticError, RecursionError) as exc:
            # Older PyJWT releases let some errors on hostile input through, such as
            # RecursionError from deeply nested JSON or OverflowError from an infinite
            # "iat". A token is untrusted input, so these are a rejected token, never a
            # server error.
            raise _auth_error(_MALFORMED) from exc
        if not isinstance(claims, dict):
            raise _auth_error(_MALFORMED)
        return claims


def bearer_token(authorization: str | None) -> str:
    """Return the token from an ``Authorization`` header value of the form ``Bearer <token>``.

    The scheme is matched case-insensitively.

    Raises:
        AuthError: ``"missing_token"`` when the header is absent, uses another scheme, or
            does not hold exactly one token after the scheme.
    """
    parts = authorization.split() if authorization is not None else []
    if len(parts) != 2 or parts[0].lower() != "bearer":
        message = "The request needs an 'Authorization: Bearer <token>' header."
        raise AuthError(_NO_BEARER, message)
    return parts[1]


@dataclass(frozen=True, slots=True)
class LocalKeys:
    """The embedded stack's RSA key pair, both halves PEM-encoded."""

    private_pem: bytes
    public_pem: bytes


_PRIVATE_KEY_FILE: Final = "jwt-private.pem"
_PUBLIC_KEY_FILE: Final = "jwt-public.pem"


def ensure_local_keys(directory: Path) -> LocalKeys:
    """Return the key pair kept in ``directory``, creating it on first use.

    The private key lives in ``jwt-private.pem`` (mode 0600) and the public key in
    ``jwt-public.pem``; the directory is created (mode 0700) if missing. Processes racing
    to create the pair all end up with the same one: the private key is published with a
    hard link, which fails rather than overwrite a key another process published first,
    and the public key is always derived from whichever private key won.

    Raises:
        AuthConfigError: When ``jwt-private.pem`` exists but is not an unencrypted PEM
            RSA private key.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_path = directory / _PRIVATE_KEY_FILE
    if not private_path.exists():
        _publish_private_key(private_path)
    private_pem = private_path.read_bytes()
    public_pem = _public_pem(private_pem, private_path)
    public_path = directory / _PUBLIC_KEY_FILE
    if not public_path.exists() or public_path.read_bytes() != public_pem:
        # Racing writers all write the same bytes, so the last replace wins harmlessly.
        _write_file(public_path, public_pem, mode=0o644, replace=True)
    return LocalKeys(private_pem=private_pem, public_pem=public_pem)


def local_settings(keys: LocalKeys) -> JwtSettings:
    """Return settings that accept exactly the tokens :func:`mint_token` makes with ``keys``."""
    return JwtSettings(
        algorithms=("RS256",),
        key=keys.public_pem.decode("ascii"),
        issuer=LOCAL_ISSUER,
        audience=LOCAL_AUDIENCE,
    )


def mint_token(
    private_pem: bytes,
    *,
    tenant_id: str,
    profile_id: str | None,
    scopes: Iterable[str],
    issuer: str = LOCAL_ISSUER,
    audience: str = LOCAL_AUDIENCE,
    ttl_seconds: int = 3600,
    now: int | None = None,
    subject: str | None = None,
) -> str:
    """Sign an RS256 token for the embedded stack.

    Claims: ``iss``, ``aud``, ``sub`` (``subject``, else ``profile_id``, else
    ``tenant_id``), ``iat`` and ``nbf`` (both ``now``), ``exp`` (``now + ttl_seconds``),
    ``tenant_id``, ``profile_id`` (left out when None) and ``scope`` (the scope names,
    sorted and space-separated). ``now`` is Unix time in seconds and defaults to the
    current time.

    Raises:
        ValueError: When a scope is not in :data:`SCOPES` (or ``scopes`` is a single
            string), an id does not match ``ID_PATTERN``, ``ttl_seconds`` is not positive,
            or ``private_pem`` is not an unencrypted PEM RSA private key.
    """
    if isinstance(scopes, str):
        msg = "scopes must be a collection of scope names, not a single string"
        raise ValueError(msg)
    granted = frozenset(scopes)
    unknown = sorted(granted - SCOPES)
    if unknown:
        msg = f"unknown scopes: {', '.join(unknown)}"
        raise ValueError(msg)
    for name, value in (("tenant_id", tenant_id), ("profile_id", profile_id)):
        if value is not None and _ID.fullmatch(value) is None:
            msg = f"{name} {value!r} does not match {ID_PATTERN}"
            raise ValueError(msg)
    if ttl_seconds <= 0:
        msg = f"ttl_seconds must be positive, got {ttl_seconds}"
        raise ValueError(msg)
    issued_at = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject or profile_id or tenant_id,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + ttl_seconds,
        "tenant_id": tenant_id,
        "scope": " ".join(sorted(granted)),
    }
    if profile_id is not None:
        claims["profile_id"] = profile_id
    return jwt.encode(claims, _signing_key(private_pem), algorithm="RS256")


# Parsing a PEM private key checks the key's consistency and costs tens of milliseconds,
# far more than signing, so the parsed key is kept for the next token.
@functools.lru_cache(maxsize=4)
def _signing_key(private_pem: bytes) -> rsa.RSAPrivateKey:
    try:
        private_key = serialization.load_pem_private_key(private_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        msg = "private_pem is not an unencrypted PEM private key"
        raise ValueError(msg) from exc
    if not isinstance(private_key, rsa.RSAPrivateKey):
        msg = f"private_pem holds a {type(private_key).__name__}, not an RSA private key"
        raise ValueError(msg)
    return private_key


def _auth_error(reason: str) -> AuthError:
    return AuthError(reason, _MESSAGES[reason])


def _id_claim(claims: Mapping[str, Any], name: str) -> str | None:
    """Return an id claim, None when absent or null; refuse anything not matching ID_PATTERN."""
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or _ID.fullmatch(value) is None:
        message = f"The token's {name} claim is not a valid id."
        raise AuthError(_BAD_CLAIM, message)
    return value


def _scope_claim(value: object) -> frozenset[str]:
    """Return the known scopes in a ``scope`` claim, given as a string or a list of strings."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        names = value.split()
    elif isinstance(value, list) and all(isinstance(name, str) for name in value):
        names = value
    else:
        message = "The token's scope claim is neither a string nor a list."
        raise AuthError(_BAD_CLAIM, message)
    return frozenset(names) & SCOPES


def _family(algorithm: str) -> str:
    prefix = algorithm[:2]
    return prefix if prefix in _FAMILY_PREFIXES else algorithm


def _check_algorithms(algorithms: tuple[str, ...]) -> None:
    if isinstance(algorithms, str) or not algorithms:
        msg = "JWT algorithms must be a non-empty tuple of algorithm names"
        raise AuthConfigError(msg)
    for algorithm in algorithms:
        if algorithm.lower() == "none":
            msg = "the JWT algorithm 'none' accepts unsigned tokens and is never allowed"
            raise AuthConfigError(msg)
        if algorithm not in _ALGORITHMS:
            msg = f"unknown JWT algorithm {algorithm!r}; known: {', '.join(sorted(_ALGORITHMS))}"
            raise AuthConfigError(msg)
    families = sorted({_family(algorithm) for algorithm in algorithms})
    if len(families) > 1:
        msg = (
            f"JWT algorithms mix the families {', '.join(families)}; accepting more than one "
            "family lets a token pick how the key is interpreted (algorithm confusion)"
        )
        raise AuthConfigError(msg)


def _verification_key(settings: JwtSettings) -> _VerificationKey:
    """Parse the settings' key once for every configured algorithm and return it.

    Raises:
        AuthConfigError: When the key is empty, cannot be parsed for one of the algorithms,
            is a private key, or is too short.
    """
    key = settings.key
    if not key:
        msg = "the JWT key must not be empty"
        raise AuthConfigError(msg)
    is_hmac = _family(settings.algorithms[0]) == _HMAC_FAMILY
    if is_hmac:
        _check_hmac_secret(key)
    prepared: _VerificationKey = b""
    for name in settings.algorithms:
        algorithm = _ALGORITHMS[name]
        try:
            prepared = algorithm.prepare_key(key)
        except (jwt.PyJWTError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
            msg = f"the JWT key cannot be used with {name}: {exc}"
            raise AuthConfigError(msg) from exc
        if not is_hmac and not isinstance(prepared, _PUBLIC_KEY_TYPES):
            # The verifier needs only the public half; refusing a private key keeps signing
            # material out of the API's configuration.
            msg = f"the JWT key for {name} must be a public key"
            raise AuthConfigError(msg)
        weakness = algorithm.check_key_length(prepared)
        if weakness:
            msg = f"the JWT key is too weak for {name}: {weakness}"
            raise AuthConfigError(msg)
    return prepared


def _check_hmac_secret(secret: str) -> None:
    if "-----BEGIN" in secret:
        msg = (
            "the JWT key looks like a PEM key but the algorithms are HMAC; a public key "
            "used as an HMAC secret lets anyone who has it sign tokens"
        )
        raise AuthConfigError(msg)
    if len(secret.encode("utf-8")) < _MIN_HMAC_SECRET_BYTES:
        msg = f"the HMAC secret must be at least {_MIN_HMAC_SECRET_BYTES} bytes long"
        raise AuthConfigError(msg)


def _public_pem(private_pem: bytes, path: Path) -> bytes:
    """Derive the public key PEM from a private key PEM read from ``path``."""
    try:
        private_key = serialization.load_pem_private_key(private_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        msg = f"{path} does not hold an unencrypted PEM private key"
        raise AuthConfigError(msg) from exc
    if not isinstance(private_key, rsa.RSAPrivateKey):
        msg = f"{path} holds a {type(private_key).__name__}, not an RSA private key"
        raise AuthConfigError(msg)
    return private_key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )


def _publish_private_key(path: Path) -> None:
    """Create a new RSA private key at ``path`` unless another process got there first."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_KEY_BITS)
    pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    _write_file(path, pem, mode=0o600, replace=False)


def _write_file(path: Path, data: bytes, *, mode: int, replace: bool) -> None:
    """Write ``data`` to ``path`` atomically, so no reader ever sees part of it.

    The bytes go to a temporary file in the same directory first. With ``replace`` the
    file then takes the place of any existing one; without it, it is hard-linked into
    place, which leaves an existing file untouched.
    """
    # mkstemp creates the file readable by its owner only, so a private key is never
    # exposed between creation and the chmod below.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        if replace:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                # Another process published its key first; everyone uses that one.
                pass
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
