"""Checkpoints and signed notes as text (c2sp.org/tlog-checkpoint, c2sp.org/signed-note),
with the specs' own examples."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_trail.core.integrity.checkpoint import (
    Checkpoint,
    NoteError,
    NoteSignature,
    format_vkey,
    key_id,
    parse_checkpoint,
    parse_signed_note,
    parse_vkey,
    sign_note,
)

# c2sp.org/signed-note, "Verifier keys" example and the note it verifies.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n"
    "\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3"
    "mFXmRKuwHjG1Yu72IneyaQM=\n"
)
# c2sp.org/signed-note, the opening example: a text with an empty line of its own.
POEM = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed \u00e8 subito sera.\n"
    "\n"
    "\u2014 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKO"
    "NrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)
# c2sp.org/tlog-checkpoint example.
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u"
    "5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
ROOT = bytes(range(32))
PUBLIC = bytes(range(100, 132))


def test_the_spec_vkey_parses_and_its_key_id_is_recomputed() -> None:
    vkey = parse_vkey(SPEC_VKEY)
    assert vkey.name == "example.com/foo"
    assert vkey.key_id == bytes.fromhex("530d903a")
    assert key_id(vkey.name, vkey.public_key) == vkey.key_id
    assert format_vkey(vkey.name, vkey.public_key) == SPEC_VKEY


def test_the_spec_notes_parse() -> None:
    note = parse_signed_note(SPEC_NOTE)
    assert note.body == "This is an example message.\n"
    (signature,) = note.signatures
    assert (signature.name, signature.key_id) == ("example.com/foo", bytes.fromhex("530d903a"))
    assert len(signature.signature) == 64

    poem = parse_signed_note(POEM)
    assert poem.body == POEM[: POEM.index("\n\n\u2014") + 1]
    assert poem.body.endswith("ed \u00e8 subito sera.\n")
    assert [s.name for s in poem.signatures] == ["quasimodo.example/salvatore"]


def test_the_spec_checkpoint_parses() -> None:
    checkpoint = parse_checkpoint(parse_signed_note(SPEC_CHECKPOINT).body)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.body() == SPEC_CHECKPOINT[: SPEC_CHECKPOINT.index("\n\n") + 1]


def test_body_and_signed_note_format() -> None:
    checkpoint = Checkpoint("audit.example/log/acme", 7, ROOT)
    body = checkpoint.body()
    assert body == f"audit.example/log/acme\n7\n{base64.b64encode(ROOT).decode()}\n"
    text = sign_note(body, "audit.example/log", b"\x01\x02\x03\x04", b"s" * 64)
    signature = base64.b64encode(b"\x01\x02\x03\x04" + b"s" * 64).decode()
    assert text == body + "\n\u2014 audit.example/log " + signature + "\n"
    note = parse_signed_note(text)
    assert note.body == body
    assert note.signatures == (NoteSignature("audit.example/log", b"\x01\x02\x03\x04", b"s" * 64),)
    assert parse_checkpoint(note.body) == checkpoint


def test_extension_lines_are_allowed_and_ignored() -> None:
    body = Checkpoint("o", 0, ROOT).body() + "ext one\next two\n"
    assert parse_checkpoint(body) == Checkpoint("o", 0, ROOT)


def test_several_signatures_keep_their_order() -> None:
    text = sign_note("t\n", "a", b"aaaa", b"1") + "\u2014 b " + base64.b64encode(b"bbbb2").decode()
    note = parse_signed_note(text + "\n")
    assert [(s.name, s.signature) for s in note.signatures] == [("a", b"1"), ("b", b"2")]


names = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zs", "Zl", "Zp"]),
    min_size=1,
    max_size=20,
).filter(lambda n: "+" not in n and not any(c.isspace() for c in n))
lines = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=30)


@given(names, st.integers(min_value=0, max_value=2**64 - 1), st.binary(min_size=32, max_size=32))
def test_checkpoints_round_trip(origin: str, size: int, root: bytes) -> None:
    checkpoint = Checkpoint(origin, size, root)
    assert parse_checkpoint(checkpoint.body()) == checkpoint


@given(
    st.lists(lines, min_size=1, max_size=6),
    st.lists(
        st.tuples(names, st.binary(min_size=4, max_size=4), st.binary(min_size=1)), min_size=1
    ),
)
def test_signed_notes_round_trip(
    body_lines: list[str], signatures: list[tuple[str, bytes, bytes]]
) -> None:
    body = "".join(line + "\n" for line in body_lines)
    text = body + "\n" + "".join(sign_note("x\n", *s).removeprefix("x\n\n") for s in signatures)
    note = parse_signed_note(text)
    assert note.body == body
    assert note.signatures == tuple(NoteSignature(*s) for s in signatures)


@given(names, st.binary(min_size=32, max_size=32))
def test_vkeys_round_trip(name: str, public_key: bytes) -> None:
    vkey = parse_vkey(format_vkey(name, public_key))
    assert (vkey.name, vkey.key_id, vkey.public_key) == (name, key_id(name, public_key), public_key)


SIG = base64.b64encode(b"abcd" + b"s" * 64).decode()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "body\n",
        "body\n\n",  # no signature line
        f"body\n\n\u2014 name {SIG}",  # last line without newline
        f"body\n\n- name {SIG}\n",  # hyphen, not em dash
        f"body\n\n\u2014  name {SIG}\n",  # two spaces
        f"body\n\n\u2014 name  {SIG}\n",
        "body\n\n\u2014 name\n",
        f"body\n\n\u2014 name {SIG} extra\n",
        f"body\n\n\u2014 na+me {SIG}\n",
        f"body\n\n\u2014 na\u00a0me {SIG}\n",  # a Unicode space in the name
        f"body\n\n\u2014 name {SIG[:-1]}\n",  # padding dropped
        f"body\n\n\u2014 name {SIG}\n\n",  # blank line after the signatures
        f"body\n\n\u2014 name {SIG}\n\u2014 name {SIG}\nnot a signature\n",
        "body\n\n\u2014 name " + base64.b64encode(b"abcd").decode() + "\n",  # id, no signature
        "body\n\n\u2014 name " + base64.urlsafe_b64encode(b"\xfb\xff" * 34).decode() + "\n",
        f"bo\tdy\n\n\u2014 name {SIG}\n",  # a control character
        f"body\r\n\n\u2014 name {SIG}\n",
        f"bo\udc80dy\n\n\u2014 name {SIG}\n",  # not UTF-8
        "body\n\n" + f"\u2014 name {SIG}\n" * 101,  # too many signatures
    ],
)
def test_malformed_signed_notes_are_refused(text: str) -> None:
    with pytest.raises(NoteError):
        parse_signed_note(text)


ROOT64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    "body",
    [
        f"origin\n7\n{ROOT64}",  # no final newline
        "origin\n7\n",
        f"\n7\n{ROOT64}\n",
        f"origin\n07\n{ROOT64}\n",
        f"origin\n-7\n{ROOT64}\n",
        f"origin\n+7\n{ROOT64}\n",
        f"origin\n 7\n{ROOT64}\n",
        f"origin\n\u0667\n{ROOT64}\n",  # an Arabic-Indic digit
        f"origin\n{2**64}\n{ROOT64}\n",
        f"origin\n7\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"origin\n7\n{ROOT64.rstrip('=')}\n",
        f"origin\n7\n{ROOT64}\n\nextension\n",  # an empty extension line
        f"origin\n7\n{ROOT64}\n\n",
    ],
)
def test_malformed_checkpoints_are_refused(body: str) -> None:
    with pytest.raises(NoteError):
        parse_checkpoint(body)


@pytest.mark.parametrize(
    "vkey",
    [
        "example.com/foo+530d903a",
        SPEC_VKEY + "+x",
        SPEC_VKEY.replace("530d903a", "530D903A"),
        SPEC_VKEY.replace("530d903a", "530d903b"),  # id does not match
        SPEC_VKEY.replace("example.com/foo", "example.com/bar"),
        SPEC_VKEY.replace("+Aek", "+Aik"),  # key type 0x02
        "example.com/foo+530d903a+" + base64.b64encode(b"\x01" + PUBLIC[:31]).decode(),
        "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        SPEC_VKEY.rstrip("k"),
    ],
)
def test_malformed_vkeys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        parse_vkey(vkey)


@pytest.mark.parametrize(
    ("origin", "size", "root"),
    [("", 1, ROOT), ("a\nb", 1, ROOT), ("o", -1, ROOT), ("o", 2**64, ROOT), ("o", 1, b"x")],
)
def test_impossible_checkpoints_are_refused(origin: str, size: int, root: bytes) -> None:
    with pytest.raises(NoteError):
        Checkpoint(origin, size, root)


def test_sign_note_refuses_what_it_could_not_parse_back() -> None:
    with pytest.raises(NoteError, match="newline"):
        sign_note("no newline", "name", b"abcd", b"s")
    with pytest.raises(NoteError, match="key name"):
        sign_note("t\n", "two words", b"abcd", b"s")
    with pytest.raises(NoteError, match="4-byte"):
        sign_note("t\n", "name", b"abc", b"s")
    with pytest.raises(NoteError, match="32 bytes"):
        key_id("name", b"short")
