"""The demo's authenticated realms (`tickets`, `cra`, `cookies`, `mixed`
from the demo contract; `scram` and `cryptosign` beyond it), joined by
autobahn-python with its own client authentication code: ticket and
WAMP-CRA answers from `autobahn.wamp.auth` (`compute_wcs`, `derive_key`,
`AuthTicket`, `AuthWampCra`), WAMP-SCRAM from `AuthScram` (which checks
the router's signature in WELCOME), WAMP-cryptosign from
`autobahn.wamp.cryptosign.CryptosignKey` / `AuthCryptoSign`.
Every test runs once per WebSocket serializer variant."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os

import pytest
from autobahn.wamp import auth, message
from autobahn.wamp.cryptosign import CryptosignKey
from autobahn.wamp.types import CallResult

from wamp_client import AuthClient, join, open_session, run

ALICE_TICKET = "secret123"
ERIN_SEED = "e5b1d6b7c2a9f0e3d4c5b6a7980112233445566778899aabbccddeeff0011223"
ERIN_PUBLIC_KEY = "47e034885aa937f5448cdefe72d68a03774d6c148cfea46e374725cbd096ed36"
DAVE_SALT = b"serverwamp-demo!"


def ticket(value: str):
    """An `onChallenge` answering a ticket CHALLENGE with `value`."""

    def on_challenge(challenge):
        assert challenge.method == "ticket", challenge
        return value

    return on_challenge


def wampcra(secret: str):
    """An `onChallenge` answering a WAMP-CRA CHALLENGE with autobahn's
    `compute_wcs`, deriving the key with `derive_key` from the salt,
    iterations and keylen the CHALLENGE names when it names a salt."""

    def on_challenge(challenge):
        assert challenge.method == "wampcra", challenge
        key = secret.encode("utf8")
        if "salt" in challenge.extra:
            key = auth.derive_key(
                key,
                challenge.extra["salt"],
                challenge.extra["iterations"],
                challenge.extra["keylen"],
            )
        return auth.compute_wcs(key, challenge.extra["challenge"]).decode("ascii")

    return on_challenge


def cryptosign(seed_hex: str):
    """An `onChallenge` signing a cryptosign CHALLENGE with autobahn's
    `CryptosignKey` (no channel binding)."""
    key = CryptosignKey.from_bytes(binascii.a2b_hex(seed_hex))

    def on_challenge(challenge):
        assert challenge.method == "cryptosign", challenge
        return key.sign_challenge(challenge, channel_id=None, channel_id_type=None)

    return on_challenge, key.public_key()


async def whoami(session) -> dict:
    result = await session.call("session.whoami")
    assert isinstance(result, CallResult), result
    assert not result.results
    return result.kwresults


async def refused(url: str, serializer: str, realm: str, **options) -> str:
    """Opens a session that the router must refuse with ABORT; returns its
    reason (checked against the wire too)."""
    s = await open_session(url, serializer, realm, **options)
    assert not s.joined.done(), f"{realm}: joined, expected ABORT"
    assert s.left.done(), f"{realm}: no ABORT; received {s.received!r}"
    aborts = [m for m in s.received if isinstance(m, message.Abort)]
    assert len(aborts) == 1, s.received
    assert aborts[0].reason == s.left.result().reason
    assert not any(isinstance(m, message.Welcome) for m in s.received)
    await asyncio.wait_for(asyncio.shield(s.disconnected), 5)
    return aborts[0].reason


def challenges(session) -> list[message.Challenge]:
    return [m for m in session.received if isinstance(m, message.Challenge)]


# ---------------------------------------------------------------- tickets


def test_ticket_alice(demo_url, serializer):
    async def test():
        s = await join(
            demo_url, serializer, "tickets",
            authmethods=["ticket"], authid="alice", on_challenge=ticket(ALICE_TICKET),
        )
        assert [c.method for c in challenges(s)] == ["ticket"]
        [auth_msg] = [m for m in s.sent if isinstance(m, message.Authenticate)]
        assert auth_msg.signature == ALICE_TICKET
        details = s.joined.result()
        assert (details.realm, details.authid, details.authmethod) == ("tickets", "alice", "ticket")
        me = await whoami(s)
        assert me["identity"] == {"name": "alice"}
        assert (me["realm"], me["authid"], me["authmethod"]) == ("tickets", "alice", "ticket")
        assert me["session"] == details.session
        # An authenticated session is an ordinary one otherwise.
        assert await s.call("math.add", 2, 3) == 5
        await s.close()

    run(test)


def test_ticket_autobahn_authenticator(demo_url, serializer):
    async def test():
        s = await join(
            demo_url, serializer, "tickets",
            authenticators=[auth.AuthTicket(authid="alice", ticket=ALICE_TICKET)],
        )
        assert (await whoami(s))["identity"] == {"name": "alice"}
        await s.close()

    run(test)


@pytest.mark.parametrize(
    "authid,value",
    [("alice", "wrong"), ("alice", ""), ("bob", ALICE_TICKET), (None, ALICE_TICKET)],
    ids=["wrong-ticket", "empty-ticket", "other-authid", "no-authid"],
)
def test_ticket_refused(demo_url, serializer, authid, value):
    async def test():
        reason = await refused(
            demo_url, serializer, "tickets",
            authmethods=["ticket"], authid=authid, on_challenge=ticket(value),
        )
        assert reason == "wamp.error.authentication_failed"

    run(test)


# ---------------------------------------------------------------- WAMP-CRA


def test_cra_bob(demo_url, serializer):
    async def test():
        s = await join(
            demo_url, serializer, "cra",
            authmethods=["wampcra"], authid="bob", on_challenge=wampcra("bobsecret"),
        )
        [challenge] = challenges(s)
        assert challenge.method == "wampcra"
        assert "salt" not in challenge.extra
        details = s.joined.result()
        assert (details.authid, details.authrole, details.authmethod, details.authprovider) == (
            "bob", "RegularUser", "wampcra", "demo_db",
        )
        me = await whoami(s)
        assert me["identity"] == {"name": "bob"}
        assert (me["realm"], me["authid"], me["authrole"], me["authmethod"]) == (
            "cra", "bob", "RegularUser", "wampcra",
        )
        await s.close()

    run(test)


def test_cra_carol_salted(demo_url, serializer):
    async def test():
        s = await join(
            demo_url, serializer, "cra",
            authmethods=["wampcra"], authid="carol", on_challenge=wampcra("carolsecret"),
        )
        [challenge] = challenges(s)
        assert challenge.method == "wampcra"
        extra = challenge.extra
        assert (extra["salt"], extra["iterations"], extra["keylen"]) == ("salt123", 1000, 32)
        details = s.joined.result()
        assert (details.authid, details.authrole, details.authmethod, details.authprovider) == (
            "carol", "RegularUser", "wampcra", "demo_db",
        )
        me = await whoami(s)
        assert me["identity"] == {"name": "carol"}
        assert (me["authid"], me["authrole"], me["authmethod"]) == ("carol", "RegularUser", "wampcra")
        await s.close()

    run(test)


def test_cra_challenge_is_wamp_cra_json(demo_url, serializer):
    """The WAMP-CRA challenge string is the JSON the spec describes."""

    async def test():
        s = await join(
            demo_url, serializer, "cra",
            authmethods=["wampcra"], authid="bob", on_challenge=wampcra("bobsecret"),
        )
        [challenge] = challenges(s)
        info = json.loads(challenge.extra["challenge"])
        assert info["authid"] == "bob"
        assert info["authrole"] == "RegularUser"
        assert info["authmethod"] == "wampcra"
        assert info["authprovider"] == "demo_db"
        assert info["session"] == s.joined.result().session
        assert isinstance(info["nonce"], str) and info["nonce"]
        assert isinstance(info["timestamp"], str) and info["timestamp"]
        await s.close()

    run(test)


@pytest.mark.parametrize("authid,secret", [("bob", "bobsecret"), ("carol", "carolsecret")])
def test_cra_autobahn_authenticator(demo_url, serializer, authid, secret):
    async def test():
        s = await join(
            demo_url, serializer, "cra",
            authenticators=[auth.AuthWampCra(authid=authid, secret=secret)],
        )
        assert (await whoami(s))["identity"] == {"name": authid}
        await s.close()

    run(test)


@pytest.mark.parametrize(
    "authid,secret",
    [("bob", "wrongsecret"), ("carol", "bobsecret"), ("bob", "carolsecret"), ("mallory", "bobsecret")],
    ids=["bob-wrong", "carol-wrong", "bob-with-carols", "unknown-authid"],
)
def test_cra_refused(demo_url, serializer, authid, secret):
    async def test():
        reason = await refused(
            demo_url, serializer, "cra",
            authmethods=["wampcra"], authid=authid, on_challenge=wampcra(secret),
        )
        assert reason == "wamp.error.authentication_failed"

    run(test)


def cra_challenge_shape(challenge: message.Challenge) -> tuple:
    """What of a WAMP-CRA CHALLENGE could tell a known authid from an
    unknown one: the extra's keys, the challenge's keys, role and provider,
    and the salting parameters."""
    fields = json.loads(challenge.extra["challenge"])
    return (
        sorted(challenge.extra),
        sorted(fields),
        fields["authrole"],
        fields["authprovider"],
        challenge.extra.get("iterations"),
        challenge.extra.get("keylen"),
        len(challenge.extra.get("salt", "")),
    )


async def cra_challenge_of(url: str, serializer: str, authid: str) -> message.Challenge:
    s = await open_session(
        url, serializer, "cra", authmethods=["wampcra"], authid=authid, on_challenge=wampcra("guess"),
    )
    [challenge] = challenges(s)
    return challenge


def test_cra_unknown_authids_get_challenges_like_known_ones(demo_url, serializer):
    """A client cannot tell valid user names from the challenges: an
    unknown authid's challenge has the same fields, role, provider and
    salting as a real principal's (salted, as carol's, once salted secrets
    are in use), and a salt that stays the same for the same name."""

    async def test():
        real = await cra_challenge_of(demo_url, serializer, "carol")
        fake = await cra_challenge_of(demo_url, serializer, "mallory")
        assert cra_challenge_shape(fake) == cra_challenge_shape(real), fake.extra
        again = await cra_challenge_of(demo_url, serializer, "mallory")
        assert again.extra["salt"] == fake.extra["salt"]
        other = await cra_challenge_of(demo_url, serializer, "trudy")
        assert other.extra["salt"] != fake.extra["salt"]

    run(test)


def test_a_claimed_authid_is_not_kept_unverified(demo_url, serializer):
    """An anonymous session that claims an authid in HELLO gets its session
    ID as authid, not the claimed name."""

    async def test():
        s = await join(demo_url, serializer, "realm1", authid="admin")
        details = s.joined.result()
        assert details.authid == str(details.session)
        assert (await whoami(s))["authid"] == str(details.session)
        await s.close()

    run(test)


def test_cra_unsalted_answer_for_salted_user_refused(demo_url, serializer):
    """carol's answer must use the derived key, not the plain secret."""

    async def test():
        def plain(challenge):
            return auth.compute_wcs(b"carolsecret", challenge.extra["challenge"]).decode("ascii")

        reason = await refused(
            demo_url, serializer, "cra", authmethods=["wampcra"], authid="carol", on_challenge=plain,
        )
        assert reason == "wamp.error.authentication_failed"

    run(test)


# ---------------------------------------------------------------- cookies


def test_cookie_jeff(demo_url, serializer):
    async def test():
        s = await join(demo_url, serializer, "cookies", headers={"Cookie": "myName=Jeff"})
        assert challenges(s) == []
        assert s.joined.result().realm == "cookies"
        assert (await whoami(s))["identity"] == {"name": "Jeff"}
        await s.close()

    run(test)


def test_cookie_among_others(demo_url, serializer):
    async def test():
        s = await join(
            demo_url, serializer, "cookies", headers={"Cookie": "theme=dark; myName=Jeff; lang=en"},
        )
        assert (await whoami(s))["identity"] == {"name": "Jeff"}
        await s.close()

    run(test)


def test_cookie_from_another_origin_is_not_trusted(demo, serializer):
    """Cross-site WebSocket hijacking: a page of another origin opens the
    socket and the browser adds the cookie; the demo does not trust it. The
    demo's own origin (and a program sending no Origin) are trusted."""

    async def test():
        cookie = {"Cookie": "myName=Jeff"}
        own = {**cookie, "Origin": f"http://{demo.host}:{demo.port}"}
        s = await join(demo.url, serializer, "cookies", headers=own)
        assert (await whoami(s))["identity"] == {"name": "Jeff"}
        await s.close()
        evil = {**cookie, "Origin": "https://evil.example"}
        reason = await refused(demo.url, serializer, "cookies", headers=evil)
        assert reason == "wamp.error.authentication_failed"

    run(test)


@pytest.mark.parametrize(
    "headers",
    [None, {"Cookie": "myName=Bob"}, {"Cookie": "yourName=Jeff"}],
    ids=["no-cookie", "other-name", "other-cookie"],
)
def test_cookie_refused(demo_url, serializer, headers):
    async def test():
        reason = await refused(demo_url, serializer, "cookies", headers=headers)
        assert reason == "wamp.error.authentication_failed"

    run(test)


# ---------------------------------------------------------------- mixed


def test_mixed_cookie_first(demo_url, serializer):
    """With the cookie, the transport authenticator admits the session even
    when HELLO also offers ticket auth: no CHALLENGE."""

    async def test():
        plain = await join(demo_url, serializer, "mixed", headers={"Cookie": "myName=Jeff"})
        assert challenges(plain) == []
        assert (await whoami(plain))["identity"] == {"name": "Jeff"}
        await plain.close()

        offering = await join(
            demo_url, serializer, "mixed", headers={"Cookie": "myName=Jeff"},
            authmethods=["ticket"], authid="alice", on_challenge=ticket(ALICE_TICKET),
        )
        assert challenges(offering) == []
        assert (await whoami(offering))["identity"] == {"name": "Jeff"}
        await offering.close()

    run(test)


def test_mixed_ticket_without_cookie(demo_url, serializer):
    async def test():
        s = await join(
            demo_url, serializer, "mixed",
            authmethods=["ticket"], authid="alice", on_challenge=ticket(ALICE_TICKET),
        )
        assert [c.method for c in challenges(s)] == ["ticket"]
        me = await whoami(s)
        assert me["identity"] == {"name": "alice"}
        assert (me["authid"], me["authmethod"]) == ("alice", "ticket")
        await s.close()

    run(test)


def test_mixed_refused(demo_url, serializer):
    async def test():
        wrong = await refused(
            demo_url, serializer, "mixed",
            authmethods=["ticket"], authid="alice", on_challenge=ticket("wrong"),
        )
        assert wrong == "wamp.error.authentication_failed"
        # A wrong cookie does not admit; ticket auth still decides.
        other_cookie = await join(
            demo_url, serializer, "mixed", headers={"Cookie": "myName=Bob"},
            authmethods=["ticket"], authid="alice", on_challenge=ticket(ALICE_TICKET),
        )
        assert (await whoami(other_cookie))["identity"] == {"name": "alice"}
        await other_cookie.close()

    run(test)


# ---------------------------------------------------------------- WAMP-SCRAM


def test_scram_dave(demo_url, serializer):
    async def test():
        s = await join(
            demo_url, serializer, "scram",
            authenticators=[auth.AuthScram(authid="dave", password="davesecret")],
        )
        [hello] = [m for m in s.sent if isinstance(m, message.Hello)]
        assert hello.authmethods == ["scram"] and hello.authid == "dave"
        [challenge] = challenges(s)
        assert challenge.method == "scram"
        extra = challenge.extra
        assert extra["kdf"] == "argon2id-13"
        assert (extra["iterations"], extra["memory"]) == (2, 1024)
        assert base64.b64decode(extra["salt"]) == DAVE_SALT
        # The server nonce extends the client's.
        assert extra["nonce"].startswith(hello.authextra["nonce"])
        # autobahn checked the router's signature in WELCOME (AuthScram's
        # on_welcome returns a complaint instead of None when it is wrong).
        [welcome] = [m for m in s.received if isinstance(m, message.Welcome)]
        assert welcome.authextra.get("scram_server_signature")
        assert s.welcome_verdicts == [None]
        details = s.joined.result()
        assert (details.authid, details.authrole, details.authmethod, details.authprovider) == (
            "dave", "RegularUser", "scram", "demo_db",
        )
        me = await whoami(s)
        assert me["identity"] == {"name": "dave"}
        assert (me["realm"], me["authid"]) == ("scram", "dave")
        await s.close()

    run(test)


class TamperingScramClient(AuthClient):
    """Flips one bit of the router's SCRAM signature in WELCOME before
    autobahn sees it."""

    def onMessage(self, msg):
        if isinstance(msg, message.Welcome) and msg.authextra:
            sig = bytearray(base64.b64decode(msg.authextra["scram_server_signature"]))
            sig[0] ^= 1
            msg.authextra["scram_server_signature"] = base64.b64encode(bytes(sig)).decode("ascii")
        return super().onMessage(msg)


def test_scram_server_signature_is_checked(demo_url, serializer):
    """Shows that the check in `test_scram_dave` has teeth: with a tampered
    server signature, autobahn refuses the WELCOME (ABORT
    wamp.error.cannot_authenticate) and never joins; the router then ends
    the connection."""

    async def test():
        s = await open_session(
            demo_url, serializer, "scram", client_class=TamperingScramClient,
            authenticators=[auth.AuthScram(authid="dave", password="davesecret")],
        )
        assert isinstance(s, TamperingScramClient)
        await asyncio.wait_for(asyncio.shield(s.disconnected), 5)
        assert not s.joined.done()
        assert len(s.welcome_verdicts) == 1 and s.welcome_verdicts[0] is not None
        aborts = [m for m in s.sent if isinstance(m, message.Abort)]
        assert [m.reason for m in aborts] == ["wamp.error.cannot_authenticate"]

    run(test)


@pytest.mark.parametrize(
    "authid,password", [("dave", "wrongpassword"), ("mallory", "davesecret")],
    ids=["wrong-password", "unknown-authid"],
)
def test_scram_refused(demo_url, serializer, authid, password):
    async def test():
        reason = await refused(
            demo_url, serializer, "scram",
            authenticators=[auth.AuthScram(authid=authid, password=password)],
        )
        assert reason == "wamp.error.authentication_failed"

    run(test)


def test_scram_spec_dialect_offered(demo_url, serializer):
    """Offering the spec's `wamp-scram` gets a CHALLENGE of that method
    (autobahn has no client for it, so it gives up with its own ABORT)."""

    def give_up(challenge):
        raise RuntimeError("no wamp-scram client here")

    async def test():
        s = await open_session(
            demo_url, serializer, "scram",
            authmethods=["wamp-scram"], authid="dave",
            authextra={"nonce": base64.b64encode(os.urandom(16)).decode("ascii")},
            on_challenge=give_up,
        )
        assert [c.method for c in challenges(s)] == ["wamp-scram"]
        assert not s.joined.done()
        aborts = [m for m in s.sent if isinstance(m, message.Abort)]
        assert [m.reason for m in aborts] == ["wamp.error.cannot_authenticate"]
        await asyncio.wait_for(asyncio.shield(s.disconnected), 5)

    run(test)


# ---------------------------------------------------------------- cryptosign


def test_cryptosign_erin(demo_url, serializer):
    async def test():
        on_challenge, public_key = cryptosign(ERIN_SEED)
        assert public_key == ERIN_PUBLIC_KEY
        s = await join(
            demo_url, serializer, "cryptosign",
            authmethods=["cryptosign"], authextra={"pubkey": public_key},
            on_challenge=on_challenge,
        )
        [challenge] = challenges(s)
        assert challenge.method == "cryptosign"
        assert len(challenge.extra["challenge"]) == 64
        details = s.joined.result()
        assert (details.authid, details.authmethod) == ("erin", "cryptosign")
        me = await whoami(s)
        assert me["identity"] == {"name": "erin"}
        assert (me["realm"], me["authid"], me["authmethod"]) == ("cryptosign", "erin", "cryptosign")
        await s.close()

    run(test)


def test_cryptosign_autobahn_authenticator(demo_url, serializer):
    async def test():
        s = await join(
            demo_url, serializer, "cryptosign",
            authenticators=[auth.AuthCryptoSign(authid="erin", privkey=ERIN_SEED)],
        )
        assert s.joined.result().authid == "erin"
        assert (await whoami(s))["identity"] == {"name": "erin"}
        await s.close()

    run(test)


def test_cryptosign_other_key_refused(demo_url, serializer):
    async def test():
        on_challenge, public_key = cryptosign(os.urandom(32).hex())
        reason = await refused(
            demo_url, serializer, "cryptosign",
            authmethods=["cryptosign"], authextra={"pubkey": public_key}, on_challenge=on_challenge,
        )
        assert reason == "wamp.error.authentication_failed"

    run(test)


def test_cryptosign_signature_by_other_key_refused(demo_url, serializer):
    """Claiming erin's public key but signing with another key fails."""

    async def test():
        on_challenge, _ = cryptosign(os.urandom(32).hex())
        reason = await refused(
            demo_url, serializer, "cryptosign",
            authmethods=["cryptosign"], authextra={"pubkey": ERIN_PUBLIC_KEY},
            on_challenge=on_challenge,
        )
        assert reason == "wamp.error.authentication_failed"

    run(test)


# ---------------------------------------------------------------- realms and methods


def test_auth_realms_without_default_realm(demo_no_default_realm, serializer):
    url = demo_no_default_realm.url

    async def test():
        joined = [
            await join(url, serializer, "tickets",
                       authmethods=["ticket"], authid="alice", on_challenge=ticket(ALICE_TICKET)),
            await join(url, serializer, "cra",
                       authmethods=["wampcra"], authid="carol", on_challenge=wampcra("carolsecret")),
            await join(url, serializer, "cookies", headers={"Cookie": "myName=Jeff"}),
            await join(url, serializer, "mixed",
                       authmethods=["ticket"], authid="alice", on_challenge=ticket(ALICE_TICKET)),
            await join(url, serializer, "scram",
                       authenticators=[auth.AuthScram(authid="dave", password="davesecret")]),
            await join(url, serializer, "cryptosign",
                       authenticators=[auth.AuthCryptoSign(authid="erin", privkey=ERIN_SEED)]),
        ]
        names = [(await whoami(s))["identity"]["name"] for s in joined]
        assert names == ["alice", "carol", "Jeff", "alice", "dave", "erin"]
        for s in joined:
            await s.close()
        reason = await refused(
            url, serializer, "tickets",
            authmethods=["ticket"], authid="alice", on_challenge=ticket("wrong"),
        )
        assert reason == "wamp.error.authentication_failed"

    run(test)


@pytest.mark.parametrize(
    "realm,authmethods",
    [
        ("tickets", ["wampcra"]),
        ("cra", ["ticket"]),
        ("scram", ["wampcra", "cryptosign"]),
        ("cryptosign", ["ticket"]),
        ("tickets", ["anonymous"]),
        ("cra", None),
    ],
    ids=["tickets", "cra", "scram", "cryptosign", "tickets-anonymous", "cra-no-authmethods"],
)
def test_no_matching_auth_method(demo_url, serializer, realm, authmethods):
    async def test():
        def no_challenge_expected(challenge):
            raise AssertionError(f"unexpected CHALLENGE {challenge}")

        reason = await refused(
            demo_url, serializer, realm,
            authmethods=authmethods, authid="alice", on_challenge=no_challenge_expected,
        )
        assert reason == "wamp.error.no_matching_auth_method"

    run(test)


def test_mixed_unserved_method_without_cookie(demo_url, serializer):
    """In `mixed`, a client without the cookie that offers a method other
    than ticket is refused with `authentication_failed`: the realm's
    transport authenticator (the cookie) was tried and refused it, so
    this is the contract's "failed authentication" (only realms without a
    transport authenticator answer `no_matching_auth_method`)."""

    async def test():
        reason = await refused(
            demo_url, serializer, "mixed", authmethods=["wampcra"], authid="alice",
            on_challenge=lambda challenge: None,
        )
        assert reason == "wamp.error.authentication_failed"

    run(test)
