#!/usr/bin/env python3
"""Independent check of Sealpost's test vectors (protocol/vectors/*.json).

Re-implements, from protocol/SPEC.md alone and without the Swift code:

  * the codec of every command (section 5 and 6), encoding the field values
    listed in SPEC.md section 13 and decoding the stored bytes back;
  * the end-to-end body (section 8): X25519 + HSalsa20 shared key (also
    computed here in pure Python), XSalsa20-Poly1305 with the MAC first;
  * the directory entry and its Ed25519 signature (section 9);
  * the invite code text (section 10).

Each check compares against the stored vector. Prints `N passed, M failed`
and exits 1 when anything fails.

Needs PyNaCl (`pip install pynacl`). Run from anywhere:

    python3 protocol/check_vectors.py
"""

import base64
import hashlib
import json
import os
import struct
import sys

try:
    import nacl.bindings as sodium
    import nacl.encoding
    import nacl.hash
    import nacl.signing
except ImportError:  # pragma: no cover
    sys.stderr.write("check_vectors.py needs PyNaCl: pip install pynacl\n")
    sys.exit(2)

VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors")

passed = 0
failed = 0


def check(name, got, want):
    """Records one comparison; prints the difference when it fails."""
    global passed, failed
    if got == want:
        passed += 1
        print(f"ok    {name}")
    else:
        failed += 1
        print(f"FAIL  {name}\n      got  {show(got)}\n      want {show(want)}")


def show(v):
    return v.hex() if isinstance(v, (bytes, bytearray)) else repr(v)


def load(name):
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        return json.load(f)


def seq(start, count):
    """Bytes start, start+1, ... (mod 256), as the vectors use for keys and nonces."""
    return bytes((start + i) & 0xFF for i in range(count))


# ---------------------------------------------------------------------------
# Field types (SPEC.md section 3)
# ---------------------------------------------------------------------------

def u8(v):
    return struct.pack(">B", v)


def u16(v):
    return struct.pack(">H", v)


def u32(v):
    return struct.pack(">I", v)


def u64(v):
    return struct.pack(">Q", v)


def string(v):
    raw = v.encode("utf-8")
    if len(raw) > 255:
        raise ValueError("string over 255 bytes")
    return u8(len(raw)) + raw


def longstr(v):
    return u32(len(v)) + bytes(v)


def octets(v, n):
    if len(v) != n:
        raise ValueError(f"octets[{n}] given {len(v)} bytes")
    return bytes(v)


class Reader:
    """Reads the field types back, failing on any truncation."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def string(self):
        return self.take(self.u8()).decode("utf-8")

    def longstr(self):
        return self.take(self.u32())

    def octets(self, n):
        return self.take(n)

    def end(self):
        if self.pos != len(self.data):
            raise ValueError(f"{len(self.data) - self.pos} trailing bytes")


# ---------------------------------------------------------------------------
# Commands (SPEC.md sections 4-7): one table, used to encode and to decode
# ---------------------------------------------------------------------------

SIGNATURE = b"\xAA\x5C"
VERSION = 1

# Envelope (section 7), in wire order.
ENVELOPE = [("id", "octets16"), ("from", "string"), ("to", "string"), ("kind", "u8"),
            ("flags", "u16"), ("sent_at", "u64"), ("body", "longstr")]

COMMANDS = {
    "ENROLL":   (0x01, [("display", "string"), ("curve_key", "octets32"),
                        ("box_key", "octets32"), ("sign_key", "octets32")]),
    "ENROLLED": (0x02, [("address", "string"), ("node_sign_key", "octets32")]),
    "LOOKUP":   (0x03, [("request_id", "u32"), ("address", "string")]),
    "ENTRY":    (0x04, [("request_id", "u32"), ("entry", "longstr")]),
    "SEND":     (0x05, ENVELOPE),
    "STORED":   (0x06, [("id", "octets16")]),
    "ATTACH":   (0x07, [("window", "u32")]),
    "DELIVER":  (0x08, [("seq", "u64")] + ENVELOPE),
    "ACK":      (0x09, [("seq", "u64")]),
    "SYNCED":   (0x0A, [("pending", "u32")]),
    "PING":     (0x0B, []),
    "PONG":     (0x0C, [("attached", "u8")]),
    "ERROR":    (0x0D, [("code", "u16"), ("ref", "octets16"), ("reason", "string")]),
    "DETACH":   (0x0E, []),
}


def encode_field(kind, value):
    if kind == "u8":
        return u8(value)
    if kind == "u16":
        return u16(value)
    if kind == "u32":
        return u32(value)
    if kind == "u64":
        return u64(value)
    if kind == "string":
        return string(value)
    if kind == "longstr":
        return longstr(value)
    if kind.startswith("octets"):
        return octets(value, int(kind[6:]))
    raise AssertionError(kind)


def decode_field(r, kind):
    if kind.startswith("octets"):
        return r.octets(int(kind[6:]))
    return getattr(r, kind)()


def encode_command(name, fields):
    command_id, layout = COMMANDS[name]
    out = SIGNATURE + u8(VERSION) + u8(command_id)
    for field, kind in layout:
        out += encode_field(kind, fields[field])
    return out


def decode_command(frame):
    r = Reader(frame)
    if r.octets(2) != SIGNATURE:
        raise ValueError("bad signature")
    if r.u8() != VERSION:
        raise ValueError("bad version")
    command_id = r.u8()
    for name, (cid, layout) in COMMANDS.items():
        if cid == command_id:
            fields = {field: decode_field(r, kind) for field, kind in layout}
            r.end()
            return name, fields
    raise ValueError(f"unknown command {command_id:#x}")


# The input values of SPEC.md section 13 (the same as VectorTests.swift `commands`).
ID1 = bytes(range(16))
ENVELOPE_VALUES = {"id": ID1, "from": "alice@hq", "to": "wu@traffic", "kind": 1, "flags": 0,
                   "sent_at": 1_764_000_000_000, "body": bytes.fromhex("deadbeef")}

COMMAND_INPUTS = [
    ("ENROLL", {"display": "Wu Lei", "curve_key": b"\x11" * 32, "box_key": b"\x22" * 32,
                "sign_key": b"\x33" * 32}),
    ("ENROLLED", {"address": "wu@traffic", "node_sign_key": b"\x44" * 32}),
    ("LOOKUP", {"request_id": 7, "address": "alice@hq"}),
    ("ENTRY", {"request_id": 7, "entry": bytes([1, 2, 3])}),
    ("SEND", dict(ENVELOPE_VALUES, **{"from": ""})),
    ("STORED", {"id": ID1}),
    ("ATTACH", {"window": 1000}),
    ("DELIVER", dict(ENVELOPE_VALUES, seq=42)),
    ("ACK", {"seq": 42}),
    ("SYNCED", {"pending": 3}),
    ("PING", {}),
    ("PONG", {"attached": 1}),
    ("ERROR", {"code": 404, "ref": ID1, "reason": "no user 'carol' on node 'hq'"}),
    ("DETACH", {}),
]


def check_commands():
    v = load("commands.json")
    vectors = v["vectors"]
    check("commands.json: number of commands", len(vectors), len(COMMAND_INPUTS))
    check("commands.json: command names in spec order",
          [x["command"] for x in vectors], [name for name, _ in COMMAND_INPUTS])
    check("commands.json: command ids are 0x01..0x0E in order",
          [COMMANDS[name][0] for name, _ in COMMAND_INPUTS], list(range(1, 15)))
    for vector, (name, fields) in zip(vectors, COMMAND_INPUTS):
        stored = bytes.fromhex(vector["hex"])
        check(f"{name}: encoding", encode_command(name, fields), stored)
        try:
            decoded = decode_command(stored)
        except ValueError as error:
            decoded = ("undecodable", str(error))
        want = (name, {k: (bytes(x) if isinstance(x, (bytes, bytearray)) else x) for k, x in fields.items()})
        check(f"{name}: decoding", decoded, want)


# ---------------------------------------------------------------------------
# End-to-end body (SPEC.md section 8)
# ---------------------------------------------------------------------------

def _rotl(x, n):
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


def hsalsa20(key, nonce16):
    """HSalsa20 core (the key derivation of crypto_box_beforenm), in pure Python."""
    sigma = b"expand 32-byte k"
    c = struct.unpack("<4I", sigma)
    k = struct.unpack("<8I", key)
    n = struct.unpack("<4I", nonce16)
    x = [c[0], k[0], k[1], k[2], k[3], c[1], n[0], n[1],
         n[2], n[3], c[2], k[4], k[5], k[6], k[7], c[3]]

    def qr(a, b, cc, d):
        x[b] ^= _rotl((x[a] + x[d]) & 0xFFFFFFFF, 7)
        x[cc] ^= _rotl((x[b] + x[a]) & 0xFFFFFFFF, 9)
        x[d] ^= _rotl((x[cc] + x[b]) & 0xFFFFFFFF, 13)
        x[a] ^= _rotl((x[d] + x[cc]) & 0xFFFFFFFF, 18)

    for _ in range(10):
        qr(0, 4, 8, 12); qr(5, 9, 13, 1); qr(10, 14, 2, 6); qr(15, 3, 7, 11)
        qr(0, 1, 2, 3); qr(5, 6, 7, 4); qr(10, 11, 8, 9); qr(15, 12, 13, 14)
    return struct.pack("<8I", x[0], x[5], x[10], x[15], x[6], x[7], x[8], x[9])


def inner_plaintext(kind, mid, sender, recipient, sent_at, content):
    return u8(kind) + octets(mid, 16) + string(sender) + string(recipient) + u64(sent_at) + longstr(content)


def check_e2e():
    v = load("e2e.json")
    sender_sk, recipient_sk, nonce = seq(0x01, 32), seq(0x41, 32), seq(0x81, 24)
    check("e2e.json: sender_box_secret", bytes.fromhex(v["sender_box_secret"]), sender_sk)
    check("e2e.json: recipient_box_secret", bytes.fromhex(v["recipient_box_secret"]), recipient_sk)
    check("e2e.json: nonce", bytes.fromhex(v["nonce"]), nonce)
    sender_pk = sodium.crypto_scalarmult_base(sender_sk)
    recipient_pk = sodium.crypto_scalarmult_base(recipient_sk)
    check("e2e: sender_box_public = X25519(sk, 9)", sender_pk, bytes.fromhex(v["sender_box_public"]))
    check("e2e: recipient_box_public = X25519(sk, 9)", recipient_pk, bytes.fromhex(v["recipient_box_public"]))

    k = sodium.crypto_box_beforenm(recipient_pk, sender_sk)
    check("e2e: shared_key = crypto_box_beforenm(recipient_pk, sender_sk)", k, bytes.fromhex(v["shared_key"]))
    by_hand = hsalsa20(sodium.crypto_scalarmult(sender_sk, recipient_pk), b"\x00" * 16)
    check("e2e: shared_key = HSalsa20(X25519(sender_sk, recipient_pk), 0^16) (pure Python)",
          by_hand, bytes.fromhex(v["shared_key"]))
    check("e2e: the recipient derives the same key",
          sodium.crypto_box_beforenm(sender_pk, recipient_sk), k)

    fields = (1, ID1, "alice@hq", "wu@traffic", 1_764_000_000_000)
    check("e2e.json: kind/id/from/to/sent_at",
          (v["kind"], bytes.fromhex(v["id"]), v["from"], v["to"], v["sent_at"]), fields)
    content = "Meet at the east gate at 09:00.".encode("utf-8")
    check("e2e.json: content_utf8", v["content_utf8"].encode("utf-8"), content)

    inner = inner_plaintext(*fields, content)
    body = b"\x01" + nonce + sodium.crypto_box_easy_afternm(inner, nonce, k)
    stored = bytes.fromhex(v["body"])
    check("e2e: body = 01 || nonce || crypto_box_easy_afternm(inner, nonce, k)", body, stored)
    check("e2e: body length = 1 + 24 + 16 + len(inner)", len(stored), 1 + 24 + 16 + len(inner))
    # crypto_box_easy_afternm is crypto_secretbox_easy (XSalsa20-Poly1305, MAC first) under k.
    check("e2e: same bytes from crypto_secretbox_easy(inner, nonce, k)",
          b"\x01" + nonce + sodium.crypto_secretbox_easy(inner, nonce, k), stored)

    # The recipient's side: open and check the inner header against the clear one.
    try:
        opened = sodium.crypto_box_open_easy_afternm(stored[25:], stored[1:25],
                                                     sodium.crypto_box_beforenm(sender_pk, recipient_sk))
        r = Reader(opened)
        got = (r.u8(), r.octets(16), r.string(), r.string(), r.u64(), r.longstr())
        r.end()
    except Exception as error:  # noqa: BLE001 - reported as a failure
        got = ("cannot open", str(error))
    check("e2e: recipient opens the body and the inner header matches", got, fields + (content,))
    tampered = bytearray(stored)
    tampered[-1] ^= 1
    try:
        sodium.crypto_box_open_easy_afternm(bytes(tampered[25:]), bytes(tampered[1:25]), k)
        outcome = "opened"
    except Exception:  # noqa: BLE001
        outcome = "refused"
    check("e2e: a flipped bit does not authenticate", outcome, "refused")


# ---------------------------------------------------------------------------
# Directory entry (SPEC.md section 9)
# ---------------------------------------------------------------------------

def check_directory():
    v = load("directory.json")
    seed = seq(0x21, 32)
    check("directory.json: node_sign_seed", bytes.fromhex(v["node_sign_seed"]), seed)
    node = nacl.signing.SigningKey(seed)
    check("directory: node_sign_public from seed", bytes(node.verify_key), bytes.fromhex(v["node_sign_public"]))

    address, display, box_key, sign_key, updated_at = "wu@traffic", "Wu Lei", seq(0x61, 32), seq(0xA1, 32), 1_764_000_000_000
    check("directory.json: address/display/box_key/sign_key/updated_at",
          (v["address"], v["display"], bytes.fromhex(v["box_key"]), bytes.fromhex(v["sign_key"]), v["updated_at"]),
          (address, display, box_key, sign_key, updated_at))
    fields = string(address) + string(display) + octets(box_key, 32) + octets(sign_key, 32) + u64(updated_at)
    signed = b"sealpost-dir-v1" + fields
    check("directory: signed_bytes = \"sealpost-dir-v1\" || fields", signed, bytes.fromhex(v["signed_bytes"]))
    signature = node.sign(signed).signature
    check("directory: Ed25519 detached signature", signature, bytes.fromhex(v["signature"]))
    check("directory: encoded = fields || signature", fields + signature, bytes.fromhex(v["encoded"]))
    try:
        node.verify_key.verify(signed, bytes.fromhex(v["signature"]))
        verdict = "valid"
    except Exception:  # noqa: BLE001
        verdict = "invalid"
    check("directory: stored signature verifies with the node key", verdict, "valid")


# ---------------------------------------------------------------------------
# Invite code (SPEC.md section 10)
# ---------------------------------------------------------------------------

def check_invite():
    v = load("invite.json")
    node, user, endpoint = "hq", "wu", "tcp://10.1.2.3:7400"
    curve, sign, secret, expires = seq(0x10, 32), seq(0x30, 32), seq(0x50, 32), 1_764_086_400
    check("invite.json: inputs",
          (v["node"], v["user"], v["endpoint"], bytes.fromhex(v["node_curve_key"]),
           bytes.fromhex(v["node_sign_key"]), bytes.fromhex(v["invite_secret"]), v["expires_at"]),
          (node, user, endpoint, curve, sign, secret, expires))
    payload = (u8(1) + string(node) + string(user) + string(endpoint) + octets(curve, 32)
               + octets(sign, 32) + octets(secret, 32) + u64(expires))
    check_bytes = hashlib.blake2b(payload, digest_size=32).digest()[:4]
    libsodium_check = nacl.hash.blake2b(payload, digest_size=32, encoder=nacl.encoding.RawEncoder)[:4]
    check("invite: hashlib blake2b-256 equals crypto_generichash (32 bytes, unkeyed)", check_bytes, libsodium_check)
    text = "sp1-" + base64.urlsafe_b64encode(payload + check_bytes).decode("ascii").rstrip("=")
    check("invite: text", text, v["text"])

    # Parse it back as a client would.
    stored = v["text"]
    raw = stored[4:]
    decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    check("invite: prefix", stored[:4], "sp1-")
    check("invite: check bytes", hashlib.blake2b(decoded[:-4], digest_size=32).digest()[:4], decoded[-4:])
    r = Reader(decoded[:-4])
    got = (r.u8(), r.string(), r.string(), r.string(), r.octets(32), r.octets(32), r.octets(32), r.u64())
    r.end()
    check("invite: parsed fields", got, (1, node, user, endpoint, curve, sign, secret, expires))


def main():
    for part in (check_commands, check_e2e, check_directory, check_invite):
        try:
            part()
        except Exception as error:  # noqa: BLE001 - a crash is a failure, not a traceback
            global failed
            failed += 1
            print(f"FAIL  {part.__name__}: {type(error).__name__}: {error}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
