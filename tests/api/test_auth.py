"""Tests for bearer-token verification, the local key pair and local token minting."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import stat
import threading
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.auth import (
    LOCAL_AUDIENCE,
    LOCAL_ISSUER,
    SCOPES,
    AuthConfigError,
    AuthError,
    Forbidden,
    JwtSettings,
    LocalKeys,
    Principal,
    TokenVerifier,
    bearer_token,
    ensure_local_keys,
    local_settings,
    mint_token,
)

HMAC_SECRET = "s" * 32


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> LocalKeys:
    return ensure_local_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> LocalKeys:
    return ensure_local_keys(tmp_path_factory.mktemp("other-keys"))


@pytest.fixture(scope="module")
def verifier(keys: LocalKeys) -> TokenVerifier:
    return TokenVerifier(local_settings(keys))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segment(value: object) -> str:
    return _b64(json.dumps(value).encode("utf-8"))


def _claims(**overrides: Any) -> dict[str, Any]:
    """Return a complete, currently valid claim set for the local issuer."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "sub": "p1",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "tenant_id": "t1",
        "profile_id": "p1",
        "scope": "profile:read",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


@functools.lru_cache(maxsize=4)
def _private_key(private_pem: bytes) -> rsa.RSAPrivateKey:
    # Loading checks the key and is slow; hypothesis signs hundreds of tokens.
    private_key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    return private_key


def _sign(private_pem: bytes, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, _private_key(private_pem), algorithm="RS256")


def _sign_raw(private_pem: bytes, header: object, payload: bytes) -> str:
    """Sign arbitrary payload bytes with RS256, which PyJWT's encoder would refuse."""
    signing_input = f"{_segment(header)}.{_b64(payload)}"
    signature = _private_key(private_pem).sign(
        signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
    )
    return f"{signing_input}.{_b64(signature)}"


def _refused(verifier: TokenVerifier, token: str, reason: str) -> AuthError:
    with pytest.raises(AuthError) as info:
        verifier.verify(token)
    assert info.value.reason == reason
    assert info.value.status == 401
    assert type(info.value) is AuthError
    return info.value


# The attack set.


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
def test_unsigned_token_is_refused(verifier: TokenVerifier, alg: str) -> None:
    token = f"{_segment({'alg': alg, 'typ': 'JWT'})}.{_segment(_claims())}."
    _refused(verifier, token, "bad_algorithm")


def test_header_without_alg_is_refused(verifier: TokenVerifier) -> None:
    token = f"{_segment({'typ': 'JWT'})}.{_segment(_claims())}."
    _refused(verifier, token, "bad_algorithm")


def test_hmac_signed_with_the_public_key_is_refused(
    verifier: TokenVerifier, keys: LocalKeys
) -> None:
    # The classic algorithm confusion: the public key, which anyone may hold, used as the
    # HMAC secret. PyJWT refuses to sign this way, so the token is built by hand.
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT'})}.{_segment(_claims())}"
    for secret in (keys.public_pem, keys.public_pem.strip()):
        signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
        _refused(verifier, f"{signing_input}.{_b64(signature)}", "bad_algorithm")


def test_algorithm_outside_the_configured_list_is_refused(
    verifier: TokenVerifier, keys: LocalKeys
) -> None:
    # Same key family, different algorithm: still not on the list.
    token = jwt.encode(_claims(), _private_key(keys.private_pem), algorithm="RS512")
    _refused(verifier, token, "bad_algorithm")


def test_expired_token_is_refused(verifier: TokenVerifier, keys: LocalKeys) -> None:
    token = mint_token(
        keys.private_pem,
        tenant_id="t1",
        profile_id="p1",
        scopes=["profile:read"],
        now=int(time.time()) - 7200,
    )
    _refused(verifier, token, "expired")


def test_token_from_the_future_is_refused(verifier: TokenVerifier, keys: LocalKeys) -> None:
    token = mint_token(
        keys.private_pem,
        tenant_id="t1",
        profile_id="p1",
        scopes=["profile:read"],
        now=int(time.time()) + 3600,
    )
    _refused(verifier, token, "not_yet_valid")


def test_nbf_in_the_future_is_refused(verifier: TokenVerifier, keys: LocalKeys) -> None:
    token = _sign(keys.private_pem, _claims(nbf=int(time.time()) + 600))
    _refused(verifier, token, "not_yet_valid")


def test_wrong_audience_is_refused(verifier: TokenVerifier, keys: LocalKeys) -> None:
    token = mint_token(
        keys.private_pem, tenant_id="t1", profile_id="p1", scopes=[], audience="elsewhere"
    )
    _refused(verifier, token, "wrong_audience")


def test_wrong_issuer_is_refused(verifier: TokenVerifier, keys: LocalKeys) -> None:
    token = mint_token(
        keys.private_pem, tenant_id="t1", profile_id="p1", scopes=[], issuer="someone-else"
    )
    _refused(verifier, token, "wrong_issuer")


def test_tampered_payload_is_refused(verifier: TokenVerifier, keys: LocalKeys) -> None:
    token = mint_token(keys.private_pem, tenant_id="t1", profile_id="p1", scopes=["stream:read"])
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["tenant_id"] = "victim"
    _refused(verifier, f"{header}.{_segment(claims)}.{signature}", "bad_signature")


def test_signature_of_another_key_is_refused(
    verifier: TokenVerifier, other_keys: LocalKeys
) -> None:
    token = mint_token(other_keys.private_pem, tenant_id="t1", profile_id="p1", scopes=[])
    _refused(verifier, token, "bad_signature")


@pytest.mark.parametrize("claim", ["tenant_id", "exp", "iss", "aud"])
def test_missing_required_claim_is_refused(
    verifier: TokenVerifier, keys: LocalKeys, claim: str
) -> None:
    claims = _claims()
    del claims[claim]
    _refused(verifier, _sign(keys.private_pem, claims), "missing_claim")


def test_null_tenant_id_counts_as_missing(verifier: TokenVerifier, keys: LocalKeys) -> None:
    claims = _claims()
    claims["tenant_id"] = None
    _refused(verifier, _sign(keys.private_pem, claims), "missing_claim")


@pytest.mark.parametrize("value", ["a b", "../x", "", ".hidden", "x" * 129, "t1\n", 42, ["t1"]])
@pytest.mark.parametrize("claim", ["tenant_id", "profile_id"])
def test_id_claim_not_matching_the_pattern_is_refused(
    verifier: TokenVerifier, keys: LocalKeys, claim: str, value: object
) -> None:
    _refused(verifier, _sign(keys.private_pem, _claims(**{claim: value})), "bad_claim")


@pytest.mark.parametrize("scope", [42, {"profile:read": True}, ["profile:read", 7]])
def test_scope_claim_of_the_wrong_type_is_refused(
    verifier: TokenVerifier, keys: LocalKeys, scope: object
) -> None:
    _refused(verifier, _sign(keys.private_pem, _claims(scope=scope)), "bad_claim")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "....",
        "..",
        "é.é.é",
        "\ud800.\ud800.\ud800",
        "\x00",
        " " + "a.b.c",
        "Bearer a.b.c",
        "!!!!.!!!!.!!!!",
    ],
)
def test_garbage_is_refused(verifier: TokenVerifier, token: str) -> None:
    _refused(verifier, token, "malformed")


def test_header_that_is_not_an_object_is_refused(verifier: TokenVerifier) -> None:
    _refused(verifier, f"{_segment(['RS256'])}.{_segment(_claims())}.", "malformed")


def test_deeply_nested_header_is_refused(verifier: TokenVerifier) -> None:
    header = _b64(b"[" * 3000 + b"]" * 3000)
    _refused(verifier, f"{header}.{_segment(_claims())}.AAAA", "malformed")


def test_signed_payload_that_is_a_list_is_refused(verifier: TokenVerifier, keys: LocalKeys) -> None:
    token = _sign_raw(keys.private_pem, {"alg": "RS256", "typ": "JWT"}, b'["tenant_id", "t1"]')
    _refused(verifier, token, "malformed")


def test_signed_payload_that_is_not_json_is_refused(
    verifier: TokenVerifier, keys: LocalKeys
) -> None:
    token = _sign_raw(keys.private_pem, {"alg": "RS256", "typ": "JWT"}, b"\xff\xfe not json")
    _refused(verifier, token, "malformed")


def test_token_over_the_size_limit_is_refused(verifier: TokenVerifier, keys: LocalKeys) -> None:
    # Validly signed, so only the size can be the reason.
    token = _sign(keys.private_pem, _claims(padding="x" * 6500))
    assert len(token) > 8192
    _refused(verifier, token, "malformed")


def test_token_just_under_the_size_limit_is_accepted(
    verifier: TokenVerifier, keys: LocalKeys
) -> None:
    token = _sign(keys.private_pem, _claims(padding="x" * 5000))
    assert len(token) <= 8192
    assert verifier.verify(token).tenant_id == "t1"


# Accepted tokens.


def test_minted_token_verifies_to_its_principal(verifier: TokenVerifier, keys: LocalKeys) -> None:
    token = mint_token(
        keys.private_pem,
        tenant_id="t1",
        profile_id="p1",
        scopes=["stream:read", "profile:read", "profile:read"],
    )
    assert verifier.verify(token) == Principal(
        tenant_id="t1",
        profile_id="p1",
        scopes=frozenset({"profile:read", "stream:read"}),
        subject="p1",
    )


def test_minted_claims(keys: LocalKeys) -> None:
    token = mint_token(
        keys.private_pem,
        tenant_id="t1",
        profile_id=None,
        scopes=["tenant:admin", "commands:write"],
        ttl_seconds=60,
        now=1_700_000_000,
    )
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims == {
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "sub": "t1",
        "iat": 1_700_000_000,
        "nbf": 1_700_000_000,
        "exp": 1_700_000_060,
        "tenant_id": "t1",
        "scope": "commands:write tenant:admin",
    }


def test_tenant_token_without_profile(verifier: TokenVerifier, keys: LocalKeys) -> None:
    token = mint_token(
        keys.private_pem, tenant_id="t1", profile_id=None, scopes=SCOPES, subject="ops@example"
    )
    principal = verifier.verify(token)
    assert principal.profile_id is None
    assert principal.subject == "ops@example"
    assert principal.scopes == SCOPES


def test_unknown_scopes_are_dropped(verifier: TokenVerifier, keys: LocalKeys) -> None:
    claims = _claims(scope="profile:read  root:everything stream:read profile:write")
    principal = verifier.verify(_sign(keys.private_pem, claims))
    assert principal.scopes == frozenset({"profile:read", "stream:read"})


def test_scope_list_is_accepted(verifier: TokenVerifier, keys: LocalKeys) -> None:
    claims = _claims(scope=["commands:write", "admin"])
    assert verifier.verify(_sign(keys.private_pem, claims)).scopes == {"commands:write"}


def test_missing_scope_claim_grants_nothing(verifier: TokenVerifier, keys: LocalKeys) -> None:
    claims = _claims()
    del claims["scope"]
    assert verifier.verify(_sign(keys.private_pem, claims)).scopes == frozenset()


def test_null_profile_id_counts_as_absent(verifier: TokenVerifier, keys: LocalKeys) -> None:
    claims = _claims()
    claims["profile_id"] = None
    assert verifier.verify(_sign(keys.private_pem, claims)).profile_id is None


def test_audience_list_containing_ours_is_accepted(
    verifier: TokenVerifier, keys: LocalKeys
) -> None:
    claims = _claims(aud=["other-api", LOCAL_AUDIENCE])
    assert verifier.verify(_sign(keys.private_pem, claims)).tenant_id == "t1"


def test_leeway_tolerates_small_clock_skew(keys: LocalKeys) -> None:
    base = local_settings(keys)
    lenient = TokenVerifier(
        JwtSettings(
            algorithms=base.algorithms,
            key=base.key,
            issuer=base.issuer,
            audience=base.audience,
            leeway_seconds=30,
        )
    )
    token = mint_token(
        keys.private_pem,
        tenant_id="t1",
        profile_id=None,
        scopes=[],
        ttl_seconds=60,
        now=int(time.time()) - 70,
    )
    assert lenient.verify(token).tenant_id == "t1"
    _refused(TokenVerifier(base), token, "expired")


def test_hmac_settings_verify_hmac_tokens() -> None:
    verifier = TokenVerifier(
        JwtSettings(algorithms=("HS256",), key=HMAC_SECRET, issuer="idp", audience="api")
    )
    claims = _claims(iss="idp", aud="api")
    assert verifier.verify(jwt.encode(claims, HMAC_SECRET, algorithm="HS256")).tenant_id == "t1"
    wrong = jwt.encode(claims, "t" * 32, algorithm="HS256")
    _refused(verifier, wrong, "bad_signature")


def test_ec_settings_verify_ec_tokens() -> None:
    private_key = ec.generate_private_key(ec.SECP256R1())
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    verifier = TokenVerifier(
        JwtSettings(
            algorithms=("ES256",), key=public_pem.decode("ascii"), issuer="idp", audience="api"
        )
    )
    token = jwt.encode(_claims(iss="idp", aud="api"), private_key, algorithm="ES256")
    assert verifier.verify(token).profile_id == "p1"


# Principal checks.


def test_require_accepts_a_granted_scope() -> None:
    principal = Principal("t1", "p1", frozenset({"profile:read"}), "p1")
    principal.require("profile:read")
    assert principal.require_profile() == "p1"


def test_require_refuses_a_missing_scope() -> None:
    principal = Principal("t1", "p1", frozenset({"profile:read"}), "p1")
    with pytest.raises(Forbidden) as info:
        principal.require("commands:write")
    assert info.value.reason == "missing_scope"
    assert info.value.status == 403
    assert isinstance(info.value, AuthError)


def test_require_refuses_an_unknown_scope_name() -> None:
    principal = Principal("t1", "p1", frozenset(SCOPES), "p1")
    with pytest.raises(ValueError, match="unknown scope"):
        principal.require("profile:raed")


def test_require_profile_refuses_a_tenant_token() -> None:
    principal = Principal("t1", None, frozenset(SCOPES), "t1")
    with pytest.raises(Forbidden) as info:
        principal.require_profile()
    assert info.value.reason == "missing_claim"
    assert info.value.status == 403


def test_auth_error_carries_reason_and_message() -> None:
    error = AuthError("expired", "The token has expired.")
    assert (error.status, error.reason, error.message, str(error)) == (
        401,
        "expired",
        "The token has expired.",
        "The token has expired.",
    )


# Settings.


def _settings(keys: LocalKeys, **overrides: Any) -> JwtSettings:
    values: dict[str, Any] = {
        "algorithms": ("RS256",),
        "key": keys.public_pem.decode("ascii"),
        "issuer": LOCAL_ISSUER,
        "audience": LOCAL_AUDIENCE,
    }
    values.update(overrides)
    return JwtSettings(**values)


def test_local_settings(keys: LocalKeys) -> None:
    assert local_settings(keys) == _settings(keys)
    assert local_settings(keys).leeway_seconds == 0


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"algorithms": ()}, "non-empty"),
        ({"algorithms": "RS256"}, "non-empty"),
        ({"algorithms": ("none",)}, "'none'"),
        ({"algorithms": ("NONE",)}, "'none'"),
        ({"algorithms": ("RS256", "none")}, "'none'"),
        ({"algorithms": ("RS256", "HS256")}, "mix"),
        ({"algorithms": ("RS256", "PS256")}, "mix"),
        ({"algorithms": ("ES256", "EdDSA")}, "mix"),
        ({"algorithms": ("RS999",)}, "unknown"),
        ({"algorithms": ("rs256",)}, "unknown"),
        ({"issuer": ""}, "issuer"),
        ({"issuer": "  "}, "issuer"),
        ({"audience": ""}, "audience"),
        ({"key": ""}, "empty"),
        ({"key": "not a pem key"}, "cannot be used"),
        ({"algorithms": ("ES256",)}, "cannot be used"),
        ({"leeway_seconds": -1}, "negative"),
    ],
)
def test_settings_refuse(keys: LocalKeys, overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(AuthConfigError, match=match):
        _settings(keys, **overrides)


def test_settings_refuse_a_private_key(keys: LocalKeys) -> None:
    with pytest.raises(AuthConfigError, match="public key"):
        _settings(keys, key=keys.private_pem.decode("ascii"))


def test_settings_refuse_a_short_rsa_key() -> None:
    # A deliberately weak key: the settings must refuse it.
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    pem = small.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(AuthConfigError, match="too weak"):
        JwtSettings(algorithms=("RS256",), key=pem.decode("ascii"), issuer="i", audience="a")


@pytest.mark.parametrize(
    ("algorithms", "key", "match"),
    [
        (("HS256",), "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n", "PEM"),
        (("HS256",), "short", "32 bytes"),
        (("HS256",), "x" * 31, "32 bytes"),
        (("HS256", "HS512"), "x" * 40, "too weak"),
        (("HS256",), "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ" + "A" * 40, "cannot be used"),
    ],
)
def test_settings_refuse_unsafe_hmac_secrets(
    algorithms: tuple[str, ...], key: str, match: str
) -> None:
    with pytest.raises(AuthConfigError, match=match):
        JwtSettings(algorithms=algorithms, key=key, issuer="i", audience="a")


def test_settings_refuse_the_real_public_key_as_hmac_secret(keys: LocalKeys) -> None:
    with pytest.raises(AuthConfigError, match="PEM"):
        _settings(keys, algorithms=("HS256",))


def test_settings_accept_one_family(keys: LocalKeys) -> None:
    _settings(keys, algorithms=("RS256", "RS384", "RS512"))
    JwtSettings(algorithms=("HS256", "HS384"), key="k" * 48, issuer="i", audience="a")


def test_auth_config_error_is_a_value_error() -> None:
    assert issubclass(AuthConfigError, ValueError)


# Minting.


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scopes": ["profile:read", "root"]},
        {"scopes": "profile:read"},
        {"tenant_id": "a b"},
        {"tenant_id": "../x"},
        {"profile_id": ""},
        {"ttl_seconds": 0},
    ],
)
def test_mint_token_refuses_bad_input(keys: LocalKeys, kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"tenant_id": "t1", "profile_id": "p1", "scopes": []}
    arguments.update(kwargs)
    with pytest.raises(ValueError):  # noqa: PT011
        mint_token(keys.private_pem, **arguments)


def test_mint_token_refuses_a_key_that_is_not_rsa() -> None:
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for pem in (ec_pem, b"not a key"):
        with pytest.raises(ValueError, match="private_pem"):
            mint_token(pem, tenant_id="t1", profile_id=None, scopes=[])


# Local keys.


def test_ensure_local_keys_is_stable(tmp_path: Path) -> None:
    directory = tmp_path / "nested" / "keys"
    first = ensure_local_keys(directory)
    second = ensure_local_keys(directory)
    assert first == second
    assert (directory / "jwt-private.pem").read_bytes() == first.private_pem
    assert (directory / "jwt-public.pem").read_bytes() == first.public_pem
    assert stat.S_IMODE((directory / "jwt-private.pem").stat().st_mode) == 0o600
    assert sorted(path.name for path in directory.iterdir()) == [
        "jwt-private.pem",
        "jwt-public.pem",
    ]


def test_local_keys_are_a_matching_rsa_2048_pair(keys: LocalKeys) -> None:
    private_key = serialization.load_pem_private_key(keys.private_pem, password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    assert private_key.key_size == 2048
    derived = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert derived == keys.public_pem


def test_missing_public_key_is_recreated(tmp_path: Path) -> None:
    first = ensure_local_keys(tmp_path)
    (tmp_path / "jwt-public.pem").unlink()
    assert ensure_local_keys(tmp_path) == first
    assert (tmp_path / "jwt-public.pem").read_bytes() == first.public_pem


def test_corrupt_private_key_is_reported(tmp_path: Path) -> None:
    (tmp_path / "jwt-private.pem").write_bytes(b"not a key")
    with pytest.raises(AuthConfigError, match="jwt-private.pem"):
        ensure_local_keys(tmp_path)


def test_racing_creators_agree_on_one_pair(tmp_path: Path) -> None:
    results: list[LocalKeys] = []
    start = threading.Barrier(6)

    def create() -> None:
        start.wait()
        results.append(ensure_local_keys(tmp_path))

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6
    assert len(set(results)) == 1
    assert (tmp_path / "jwt-public.pem").read_bytes() == results[0].public_pem
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "jwt-private.pem",
        "jwt-public.pem",
    ]


# Authorization header.


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer x", "x"), ("bearer x", "x"), ("BEARER a.b.c", "a.b.c"), ("  Bearer   x  ", "x")],
)
def test_bearer_token_parses(header: str, token: str) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize(
    "header", [None, "", "   ", "Basic x", "Bearer", "Bearer ", "Bearer a b", "x", "Bearerx y"]
)
def test_bearer_token_refuses(header: str | None) -> None:
    with pytest.raises(AuthError) as info:
        bearer_token(header)
    assert info.value.reason == "missing_token"
    assert info.value.status == 401


# Arbitrary input.

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
_claim_sets = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.sampled_from([LOCAL_ISSUER, "x"]) | _json_values,
        "aud": st.sampled_from([LOCAL_AUDIENCE, [LOCAL_AUDIENCE]]) | _json_values,
        "exp": st.integers(min_value=-(2**70), max_value=2**70) | _json_values,
        "nbf": st.integers(min_value=0, max_value=2**40) | _json_values,
        "iat": st.floats(allow_nan=True) | _json_values,
        "sub": _json_values,
        "tenant_id": st.sampled_from(["t1", "a b"]) | _json_values,
        "profile_id": _json_values,
        "scope": st.sampled_from(["profile:read", ["stream:read"]]) | _json_values,
    },
)
_headers = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["RS256", "HS256", "none", "ES256", "PS256"]) | _json_values,
        "typ": _json_values,
        "kid": _json_values,
        "crit": _json_values,
        "b64": _json_values,
        "jku": _json_values,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token=st.text(max_size=300))
def test_arbitrary_text_is_a_principal_or_an_auth_error(
    verifier: TokenVerifier, token: str
) -> None:
    try:
        principal = verifier.verify(token)
    except AuthError:
        return
    assert isinstance(principal, Principal)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=_headers | _json_values,
    claims=_claim_sets | _json_values,
    signature=st.binary(max_size=300),
)
def test_arbitrary_unsigned_tokens_are_refused(
    verifier: TokenVerifier, header: object, claims: object, signature: bytes
) -> None:
    token = f"{_segment(header)}.{_segment(claims)}.{_b64(signature)}"
    with pytest.raises(AuthError):
        verifier.verify(token)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claims=_claim_sets)
def test_arbitrary_signed_claims_are_a_principal_or_an_auth_error(
    verifier: TokenVerifier, keys: LocalKeys, claims: dict[str, Any]
) -> None:
    token = _sign_raw(keys.private_pem, {"alg": "RS256"}, json.dumps(claims).encode("utf-8"))
    try:
        principal = verifier.verify(token)
    except AuthError:
        return
    assert isinstance(principal, Principal)
    assert principal.scopes <= SCOPES
