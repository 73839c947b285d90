#!/usr/bin/env python3
"""Independent check of Sealpost's test vectors (protocol/vectors/*.json).

Re-implements, from protocol/SPEC.md alone and without the Swift code:

  * the command tables of sections 4.2 and 11.4, read from SPEC.md itself:
    every command in them has a vector with its id, and every vector is in them;
  * the codec of every client <-> node command (sections 4-7) and of every
    node <-> node command (section 11), with their decoding rules, encoding the
    field values listed in SPEC.md section 18 and decoding the stored bytes back;
  * the node's answer to a malformed client frame (section 4.3: code and ref),
    and the refusal of frames that break the decoding rules (sections 4.3, 6,
    11.5), on frames derived from the vectors;
  * the end-to-end body (section 8): X25519 + HSalsa20 shared key (also
    computed here in pure Python), XSalsa20-Poly1305 with the MAC first;
  * the directory entry and its Ed25519 signature (section 9), its key
    fingerprint (section 9.5), and its trip
    through ENTRY, ENTRIES and DIR-SNAPSHOT with the checks of sections 9.3 and
    14.3;
  * the contact card (section 9.4): the member card of card.json built from the
    directory.json entry and its node's key, the external card from its fields,
    both decoded back, and the receiver's verdict (verified only with the key
    its own node holds, never with the card's key alone; the reasons of the
    cases that are not verified; damaged cards);
  * the invite code text (section 10);
  * reminders (section 7.5): the worked examples of section 7.5.1 (the
    reminder_due body, the due-notice ids, BLAKE2b with a 16-byte output from
    both hashlib and libsodium), a reminder body made and opened with the keys
    of e2e.json, the due_at check of section 7.5.6 and the body lengths of
    kinds 4-6 (these check the spec against itself);
  * files (section 7.8) against file.json: the secretstream chunks rebuilt
    from the key and header given (a truncated, reordered or moved stream
    refused), the whole-file hash, the size rules at exactly 2 GiB and one
    byte more, the manifest and offer bodies, and the file commands of both
    protocols encoded from their fields and decoded back;
  * groups (section 7.6) against group.json: the group message body rebuilt
    with crypto_secretbox and one crypto_box_afternm wrap per member (pairwise
    keys from the secrets given), a member opening its own wrap and the inner
    header check, and the group_op, group_event, group_fanout, reminder content
    and reminder_due bodies re-encoded from their fields and decoded back;
  * labels (section 7.11) against labels.json: the label set and its digest,
    LABELS both ways, HELLO with the digest, a labelled SEND, the version 2 body
    with the label in its inner header (rebuilt with the keys of e2e.json, and
    refused once its clear label is rewritten, stripped or added to a version 1
    body), the directory entry with a clearance signed over "sealpost-dir-v2"
    (refused once the clearance is changed or stripped), the signed refusal
    notice and its id, the group label operation, and the policy cases decided
    from the rules of section 7.11.5;
  * burn after reading (section 7.7) against burn.json: the burn body rebuilt
    and opened (its sealed expiry and image count equal to the clear ones),
    the notice, the deletion receipts re-signed with the node's seed and
    verified (and refused once moved to another sender), their envelope ids,
    the capture report, the quote body, and the size of the largest group
    burn message and its fan-out against the 12.5 MiB limit;
  * the audit log (section 15.7) against audit.json: every record's canonical
    bytes from its fields and decoded back, the BLAKE2b chain, the RFC 6962
    leaves and roots, the signed head re-signed and verified, the inclusion
    proof (and its failure for an altered record), and the verification of
    15.7.4 finding an edited, removed, swapped or cut record at its position;
  * forwarding (section 7.9) against forward.json: the origin and hop records
    re-signed with the users' seeds, the keyed content and recipient-set
    hashes, the links, the clear header, the sealed content and the
    provenance block re-encoded, the chain verified, and a forged hop
    signature, altered content and a removed hop found; the node's
    countersigned hop statement re-signed.
  * downgrades (sections 7.9.1, 7.9.3, 7.11.11, 6.22.1) against downgrade.json:
    the version 2 origin with its label, the downgrade signed by its person
    and countersigned by its node, the version 2 forward header carrying it,
    the DOWNGRADE frames, the effective label, and a downgrade that does not
    hold (another node's signature, another origin) found;
  * receipts (section 7.10) against receipts.json: the delivered body and its
    envelope id rebuilt, the seen body sealed again and opened by the sender,
    and every malformed id list refused (by the decoder and by the RELAY rule).
  * forward reports (section 7.9.9) against forward_report.json: the report
    re-signed with the node's seed, its envelope id and the kind 19 envelope
    rebuilt, a changed reason that does not verify, malformed bodies refused.

With `--audit-export FILE` it verifies an archived `sealpost-node audit export`.

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
    import nacl.exceptions
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
# Field types (SPEC.md section 3), names and addresses (section 1)
# ---------------------------------------------------------------------------

class Malformed(ValueError):
    """A frame that breaks SPEC.md section 4.3; `field` says where."""

    def __init__(self, field, reason):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


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


NAME_FIRST = set(b"abcdefghijklmnopqrstuvwxyz0123456789")
NAME_REST = NAME_FIRST | set(b"._-")


def is_name(text):
    """Section 1: 1-32 bytes of a-z 0-9 . _ -, starting with a-z or 0-9."""
    raw = text.encode("utf-8")
    return 1 <= len(raw) <= 32 and raw[0] in NAME_FIRST and all(c in NAME_REST for c in raw)


def is_address(text):
    """Section 1: name "@" name."""
    local, at, node = text.partition("@")
    return at == "@" and is_name(local) and is_name(node)


def address_node(text):
    return text.partition("@")[2] if is_address(text) else None


class Reader:
    """Reads the field types back; every failure is a Malformed naming the field."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n, field):
        if self.pos + n > len(self.data):
            raise Malformed(field, "truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self, field="u8"):
        return self.take(1, field)[0]

    def u16(self, field="u16"):
        return struct.unpack(">H", self.take(2, field))[0]

    def u32(self, field="u32"):
        return struct.unpack(">I", self.take(4, field))[0]

    def u64(self, field="u64"):
        v = struct.unpack(">Q", self.take(8, field))[0]
        if v >= 1 << 63:
            raise Malformed(field, f"{v} is 2^63 or more")  # section 3
        return v

    def string(self, field="string"):
        raw = self.take(self.u8(field), field)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed(field, "not UTF-8") from None

    def longstr(self, field="longstr", maximum=None):
        n = self.u32(field)
        if maximum is not None and n > maximum:
            raise Malformed(field, f"{n} bytes, limit {maximum}")
        return self.take(n, field)

    def octets(self, n, field="octets"):
        return self.take(n, field)

    def end(self):
        if self.pos != len(self.data):
            raise Malformed("end", f"{len(self.data) - self.pos} trailing bytes")


# ---------------------------------------------------------------------------
# Commands (SPEC.md sections 4-7 and 11): one table per protocol, used to
# encode and to decode.
#
# A layout is a list of (field, kind). A kind is one of
#   "u8" "u16" "u32" "u64" "string" "octetsN"
#   "name"                 a string with the decoding rule "a valid name"
#   ("longstr", max)       a longstr of at most max bytes
#   ("list", count_kind, item, max_count)
#                          a count, then that many items; item is a kind, or a
#                          layout (the items are then dicts)
#   "envelope"             the envelope of section 7.1, its fields flattened
#                          into the command's dict
# ---------------------------------------------------------------------------

SIGNATURE = b"\xAA\x5C"
VERSION = 1
MAX_BODY = 204_800
# Kinds burn (11) and group_fanout (10) may carry up to 12.5 MiB (section 7.4).
MAX_LARGE_BODY = 12 * 1024 * 1024 + 512 * 1024
LARGE_BODY_KINDS = (10, 11)
MAX_ENTRY = 4096

# Envelope (section 7.1), in wire order.
ENVELOPE = [("id", "octets16"), ("from", "string"), ("to", "string"), ("kind", "u8"),
            ("flags", "u16"), ("sent_at", "u64"), ("body", ("longstr", MAX_BODY))]

ENTRIES_ITEM = [("entry", ("longstr", MAX_ENTRY)), ("home_sign_key", "octets32")]

# Client <-> node (section 6), in id order.
COMMANDS = {
    "ENROLL":    (0x01, [("display", "string"), ("curve_key", "octets32"),
                         ("box_key", "octets32"), ("sign_key", "octets32")]),
    "ENROLLED":  (0x02, [("address", "string"), ("node_sign_key", "octets32")]),
    "LOOKUP":    (0x03, [("request_id", "u32"), ("address", "string")]),
    "ENTRY":     (0x04, [("request_id", "u32"), ("entry", ("longstr", MAX_ENTRY)),
                         ("home_sign_key", "octets32")]),
    "SEND":      (0x05, [("envelope", "envelope")]),
    "STORED":    (0x06, [("id", "octets16")]),
    "ATTACH":    (0x07, [("window", "u32")]),
    "DELIVER":   (0x08, [("seq", "u64"), ("envelope", "envelope")]),
    "ACK":       (0x09, [("seq", "u64")]),
    "SYNCED":    (0x0A, [("pending", "u32")]),
    "PING":      (0x0B, []),
    "PONG":      (0x0C, [("attached", "u8")]),
    "ERROR":     (0x0D, [("code", "u16"), ("ref", "octets16"), ("reason", "string")]),
    "DETACH":    (0x0E, []),
    "DIRECTORY": (0x0F, [("request_id", "u32"), ("query", "string")]),
    "ENTRIES":   (0x10, [("request_id", "u32"), ("items", ("list", "u32", ENTRIES_ITEM, 100_000))]),
    "VIEW":      (0x11, [("id", "octets16")]),
    "VIEWING":   (0x12, [("envelope", "envelope")]),
    "NODE-KEYS": (0x13, [("request_id", "u32")]),
    "NODE-LIST": (0x14, [("request_id", "u32"), ("nodes", ("list", "u16", [("node", "name"), ("sign_key", "octets32")], None))]),
}

ROUTE_ENTRY = [("dest", "name"), ("sign_key", "octets32"), ("directory_version", "u64"),
               ("path", ("list", "u8", "name", 32))]

# Node <-> node (section 11.5), in id order.
PEER_COMMANDS = {
    "HELLO":        (0x20, [("node", "name"), ("sign_key", "octets32"), ("credit", "u32"), ("epoch", ("optional", "u64"))]),
    "RELAY":        (0x21, [("jid", "u64"), ("origin", "name"), ("dest", "name"),
                            ("stream_seq", "u64"), ("hops", "u8"), ("envelope", "envelope"),
                            ("epoch", ("optional", "u64"))]),
    "RELAYED":      (0x22, [("jids", ("list", "u16", "u64", None))]),
    "PEER-PING":    (0x23, [("sent_ns", "u64")]),
    "PEER-PONG":    (0x24, [("echo_ns", "u64")]),
    "ROUTES":       (0x25, [("node", "name"), ("seq", "u64"),
                            ("entries", ("list", "u16", ROUTE_ENTRY, None))]),
    "DIR-REQ":      (0x26, [("home", "name")]),
    "DIR-SNAPSHOT": (0x27, [("home", "name"), ("version", "u64"),
                            ("entries", ("list", "u32", ("longstr", MAX_ENTRY), 1_000_000)),
                            ("signature", "octets64")]),
    "SUMMARY":      (0x28, [("node", "name"), ("seq", "u64"), ("json", ("longstr", 65_536))]),
}


def encode_field(kind, value):
    if isinstance(kind, tuple):
        if kind[0] == "optional":
            return encode_field(kind[1], value)
        if kind[0] == "longstr":
            if len(value) > kind[1]:
                raise ValueError(f"longstr over {kind[1]} bytes")
            return longstr(value)
        _, count_kind, item, _ = kind
        out = encode_field(count_kind, len(value))
        for element in value:
            out += encode_layout(item, element) if isinstance(item, list) else encode_field(item, element)
        return out
    if kind in ("u8", "u16", "u32", "u64"):
        return {"u8": u8, "u16": u16, "u32": u32, "u64": u64}[kind](value)
    if kind in ("string", "name"):
        return string(value)
    if kind.startswith("octets"):
        return octets(value, int(kind[6:]))
    raise AssertionError(kind)


def encode_layout(layout, values):
    out = b""
    for field, kind in layout:
        out += encode_layout(ENVELOPE, values) if kind == "envelope" else encode_field(kind, values[field])
    return out


def decode_field(r, kind, field):
    if isinstance(kind, tuple):
        if kind[0] == "longstr":
            return r.longstr(field, kind[1])
        _, count_kind, item, max_count = kind
        n = decode_field(r, count_kind, f"{field}.count")
        if max_count is not None and n > max_count:
            raise Malformed(field, f"{n} items, limit {max_count}")
        if isinstance(item, list):
            return [decode_layout(r, item, field) for _ in range(n)]
        return [decode_field(r, item, field) for _ in range(n)]
    if kind == "name":
        value = r.string(field)
        if not is_name(value):
            raise Malformed(field, "not a valid name")
        return value
    if kind.startswith("octets"):
        return r.octets(int(kind[6:]), field)
    return getattr(r, kind)(field)


def decode_envelope(r):
    """Section 7.1: fields in wire order, then the `from` and `to` rules."""
    values = {}
    for field, kind in ENVELOPE:
        if field == "body" and values["kind"] in LARGE_BODY_KINDS:
            kind = ("longstr", MAX_LARGE_BODY)
        values[field] = decode_field(r, kind, f"envelope.{field}")
    if values["from"] and not is_address(values["from"]):
        raise Malformed("envelope.from", "not an address")
    if not is_address(values["to"]):
        raise Malformed("envelope.to", "not an address")
    return values


def decode_layout(r, layout, prefix=""):
    values = {}
    for field, kind in layout:
        if kind == "envelope":
            values.update(decode_envelope(r))
        elif isinstance(kind, tuple) and kind[0] == "optional":
            # Section 11.5.1: a field at the end that nodes of earlier releases do not send (0 then).
            values[field] = 0 if r.pos == len(r.data) else decode_field(r, kind[1], field)
        else:
            values[field] = decode_field(r, kind, f"{prefix}.{field}" if prefix else field)
    return values


# Decoding rules about several fields (sections 6.12, 11.5.2, 11.5.6).

def rule_pong(v):
    if v["attached"] > 1:
        raise Malformed("attached", "must be 0 or 1")


def relay_clear_header(kind, body):
    """Section 11.5.2: the clear header nodes read in a reminder, burn, file or delivered body decodes."""
    r = Reader(body)
    if kind == 3:
        r.u64("due_at")
    elif kind == 11:
        r.u64("expires_at")
        if r.u8("images") > 6:
            raise Malformed("images", "at most 6 images")
    elif kind == 16:
        receipt_ids(body)
    elif kind == 14:
        if r.u8("version") != 1:
            raise Malformed("version", "unsupported file body")
        r.octets(16, "file_id")
        size, chunks = r.u64("cipher_size"), r.u32("chunks")
        if not file_consistent(size, chunks):
            raise Malformed("cipher_size", "not a file of at most 2 GiB in 128 KiB chunks")


def rule_relay(v):
    if address_node(v["from"]) != v["origin"]:
        raise Malformed("envelope.from", "must be a user of the origin node")
    if address_node(v["to"]) != v["dest"]:
        raise Malformed("envelope.to", "must be a user of the destination node")
    if v["origin"] == v["dest"]:
        raise Malformed("dest", "the same node as origin")
    if v["stream_seq"] >= (1 << 63) - 1:
        raise Malformed("stream_seq", "2^63 - 1 or more (section 3)")
    relay_clear_header(v["kind"], v["body"])


def rule_routes(v):
    dests = set()
    for e in v["entries"]:
        path = e["path"]
        if len(set(path)) != len(path) or v["node"] in path:
            raise Malformed("path", "repeats a node")
        if e["dest"] in dests:
            raise Malformed("dest", "listed twice")
        dests.add(e["dest"])
        if (e["dest"] == v["node"]) != (not path) or (path and path[-1] != e["dest"]):
            raise Malformed("path", "does not end at its destination")


RULES = {"PONG": rule_pong, "RELAY": rule_relay, "ROUTES": rule_routes}


def encode_command(table, name, fields):
    command_id, layout = table[name]
    return SIGNATURE + u8(VERSION) + u8(command_id) + encode_layout(layout, fields)


def decode_command(table, frame):
    """Decodes one frame against one table (a client's frames against COMMANDS,
    a peer's against PEER_COMMANDS, section 4.2); raises Malformed."""
    r = Reader(frame)
    if r.octets(2, "signature") != SIGNATURE:
        raise Malformed("signature", "not AA 5C")
    if r.u8("version") != VERSION:
        raise Malformed("version", "unsupported")
    command_id = r.u8("command")
    for name, (cid, layout) in table.items():
        if cid == command_id:
            fields = decode_layout(r, layout)
            if name in RULES:
                RULES[name](fields)
            r.end()
            return name, fields
    raise Malformed("command", f"unknown command {command_id:#x}")


def node_error_for(frame):
    """Section 4.3: the (code, ref) of the ERROR a node sends for a client frame
    that does not decode, or None when it decodes."""
    try:
        decode_command(COMMANDS, frame)
        return None
    except Malformed as error:
        code = {"envelope.body": 413, "envelope.to": 404}.get(error.field, 400)
        ref = frame[4:20] if len(frame) >= 20 and frame[3] == 0x05 else bytes(16)
        return code, ref


# The input values of SPEC.md section 18 (the same as VectorTests.swift).
ID1 = bytes(range(16))
ENVELOPE_VALUES = {"id": ID1, "from": "alice@hq", "to": "wu@traffic", "kind": 1, "flags": 0,
                   "sent_at": 1_764_000_000_000, "body": bytes.fromhex("deadbeef")}

COMMAND_INPUTS = [
    ("ENROLL", {"display": "Wu Lei", "curve_key": b"\x11" * 32, "box_key": b"\x22" * 32,
                "sign_key": b"\x33" * 32}),
    ("ENROLLED", {"address": "wu@traffic", "node_sign_key": b"\x44" * 32}),
    ("LOOKUP", {"request_id": 7, "address": "alice@hq"}),
    ("ENTRY", {"request_id": 7, "entry": bytes([1, 2, 3]), "home_sign_key": b"\x55" * 32}),
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
    ("DIRECTORY", {"request_id": 8, "query": "wu"}),
    ("ENTRIES", {"request_id": 8, "items": [{"entry": bytes([4, 5]), "home_sign_key": b"\x66" * 32}]}),
    ("VIEW", {"id": ID1}),
    ("VIEWING", dict(ENVELOPE_VALUES)),
    ("NODE-KEYS", {"request_id": 9}),
    ("NODE-LIST", {"request_id": 9, "nodes": [{"node": "hq", "sign_key": b"\x88" * 32},
                                              {"node": "traffic", "sign_key": b"\x99" * 32}]}),
]

PEER_COMMAND_INPUTS = [
    ("HELLO", {"node": "hq", "sign_key": b"\x77" * 32, "credit": 1000, "epoch": 1_764_000_000_000}),
    ("RELAY", dict(ENVELOPE_VALUES, jid=9, origin="hq", dest="traffic", stream_seq=3, hops=1, epoch=1_764_000_000_000)),
    ("RELAYED", {"jids": [9, 10]}),
    ("PEER-PING", {"sent_ns": 123_456_789}),
    ("PEER-PONG", {"echo_ns": 123_456_789}),
    ("ROUTES", {"node": "city", "seq": 5, "entries": [
        {"dest": "city", "sign_key": b"\x01" * 32, "directory_version": 4, "path": []},
        {"dest": "district", "sign_key": b"\x02" * 32, "directory_version": 2, "path": ["district"]},
    ]}),
    ("DIR-REQ", {"home": "traffic"}),
    ("DIR-SNAPSHOT", {"home": "traffic", "version": 2, "entries": [bytes([1, 2]), bytes([3])],
                      "signature": None}),  # filled in by snapshot_inputs(): signed with the seed of 18.4
    ("SUMMARY", {"node": "hq", "seq": 1, "json": b'{"users":2}'}),
]


def check_table(file, label, table, inputs, first_id):
    v = load(file)
    vectors = v["vectors"]
    check(f"{file}: number of commands", len(vectors), len(inputs))
    check(f"{file}: command names in spec order", [x["command"] for x in vectors], [name for name, _ in inputs])
    ids = [table[name][0] for name, _ in inputs]
    check(f"{file}: command ids are {first_id:#04x}..{first_id + len(inputs) - 1:#04x} in order",
          ids, list(range(first_id, first_id + len(inputs))))
    for vector, (name, fields) in zip(vectors, inputs):
        stored = bytes.fromhex(vector["hex"])
        check(f"{label} {name}: encoding", encode_command(table, name, fields), stored)
        try:
            decoded = decode_command(table, stored)
        except Malformed as error:
            decoded = ("undecodable", str(error))
        check(f"{label} {name}: decoding", decoded, (name, fields))


def check_commands():
    check_table("commands.json", "client", COMMANDS, COMMAND_INPUTS, 0x01)


def check_peer_commands():
    inputs = [(name, dict(fields, signature=directory_head_signature(DIRECTORY_SEED, fields["home"], fields["version"],
                                                                      fields["entries"])))
              if name == "DIR-SNAPSHOT" else (name, fields) for name, fields in PEER_COMMAND_INPUTS]
    check_table("peer-commands.json", "peer", PEER_COMMANDS, inputs, 0x20)


# The home node's signature over its directory (section 14.3).

DIRECTORY_SEED = bytes(range(0x21, 0x21 + 32))  # seq(21, 32), the node key of 18.4


def directory_entries_hash(entries):
    """BLAKE2b-256 of count:u32 || the encoded entries as longstr, sorted bytewise."""
    return hashlib.blake2b(u32(len(entries)) + b"".join(longstr(e) for e in sorted(entries)), digest_size=32).digest()


def directory_head_bytes(home, version, entries):
    return b"sealpost directory v1" + string(home) + u64(version) + directory_entries_hash(entries)


def directory_head_signature(seed, home, version, entries):
    return nacl.signing.SigningKey(seed).sign(directory_head_bytes(home, version, entries)).signature


def head_verifies(home, version, entries, signature, key):
    try:
        nacl.signing.VerifyKey(key).verify(directory_head_bytes(home, version, entries), signature)
        return "valid"
    except nacl.exceptions.BadSignatureError:
        return "invalid"


def vector_bytes(file, name):
    return next(bytes.fromhex(x["hex"]) for x in load(file)["vectors"] if x["command"] == name)


def refused(table, frame):
    try:
        decode_command(table, frame)
        return "accepted"
    except Malformed as error:
        return f"refused ({error.field})"


def check_decoding_rules():
    """Frames derived from the vectors that SPEC.md says must not decode (or, for
    the node's answer to a client, must get a given ERROR)."""
    client = lambda n: vector_bytes("commands.json", n)  # noqa: E731
    peer = lambda n: vector_bytes("peer-commands.json", n)  # noqa: E731

    # The two tables are separate (section 4.2).
    check("4.2: a client command id is unknown between nodes",
          refused(PEER_COMMANDS, client("PING")), "refused (command)")
    check("4.2: a node-to-node command id is unknown from a client",
          refused(COMMANDS, peer("PEER-PING")), "refused (command)")

    # Section 4.3: the node's ERROR for malformed client frames.
    send = client("SEND")
    body_at = len(send) - 8  # u32 length + 4 body bytes
    too_long = send[:body_at] + u32(MAX_BODY + 1) + b"\x00" * (MAX_BODY + 1)
    check("4.3: SEND with a body over 204 800 bytes -> ERROR 413, ref = its id",
          node_error_for(too_long), (413, ID1))
    bad_to = encode_command(COMMANDS, "SEND", dict(ENVELOPE_VALUES, **{"from": "", "to": "wu"}))
    check("4.3: SEND whose to is not an address -> ERROR 404, ref = its id", node_error_for(bad_to), (404, ID1))
    bad_from = encode_command(COMMANDS, "SEND", dict(ENVELOPE_VALUES, **{"from": "Alice@hq"}))
    check("4.3: SEND whose from is not an address -> ERROR 400, ref = its id", node_error_for(bad_from), (400, ID1))
    check("4.3: a byte after the last field -> ERROR 400, ref = its id", node_error_for(send + b"\x00"), (400, ID1))
    check("4.3: a truncated ACK -> ERROR 400, zero ref", node_error_for(client("ACK")[:-1]), (400, bytes(16)))
    check("4.3: PONG attached = 2 is malformed",
          refused(COMMANDS, client("PONG")[:-1] + b"\x02"), "refused (attached)")
    many = client("ENTRIES")[:8] + u32(100_001)
    check("6.16: ENTRIES count over 100 000 is malformed", refused(COMMANDS, many), "refused (items)")

    # Section 11.5: decoding rules of node-to-node commands.
    relay = dict(ENVELOPE_VALUES, jid=9, origin="hq", dest="traffic", stream_seq=3, hops=1, epoch=1)
    check("11.5.2: RELAY whose from is not of the origin is malformed",
          refused(PEER_COMMANDS, encode_command(PEER_COMMANDS, "RELAY", dict(relay, origin="city"))),
          "refused (envelope.from)")
    check("11.5.2: RELAY with an empty from is malformed",
          refused(PEER_COMMANDS, encode_command(PEER_COMMANDS, "RELAY", dict(relay, **{"from": ""}))),
          "refused (envelope.from)")
    check("11.5.2: RELAY whose to is not of the destination is malformed",
          refused(PEER_COMMANDS, encode_command(PEER_COMMANDS, "RELAY", dict(relay, dest="city"))),
          "refused (envelope.to)")
    check("11.5.1: HELLO of an earlier release (ends after credit) decodes with epoch 0",
          decode_command(PEER_COMMANDS, peer("HELLO")[:-8])[1]["epoch"], 0)
    check("11.5.2: RELAY of an earlier release (ends after the envelope) decodes with epoch 0",
          decode_command(PEER_COMMANDS, peer("RELAY")[:-8])[1]["epoch"], 0)
    check("11.5.1: HELLO with a truncated epoch is malformed",
          refused(PEER_COMMANDS, peer("HELLO")[:-3]), "refused (epoch)")
    check("11.5.1: HELLO with a node name that is not valid is malformed",
          refused(PEER_COMMANDS, encode_command(PEER_COMMANDS, "HELLO",
                                                {"node": "HQ", "sign_key": b"\x77" * 32, "credit": 1, "epoch": 1})),
          "refused (node)")

    def routes(*entries, node="city"):
        return encode_command(PEER_COMMANDS, "ROUTES", {"node": node, "seq": 5, "entries": [
            {"dest": d, "sign_key": b"\x01" * 32, "directory_version": 0, "path": p} for d, p in entries]})

    own = ("city", [])
    check("11.5.6: the ROUTES vector's rules hold (control)", refused(PEER_COMMANDS, routes(own, ("a", ["b", "a"]))),
          "accepted")
    check("11.5.6: a path that repeats a node is malformed",
          refused(PEER_COMMANDS, routes(own, ("a", ["b", "b", "a"]))), "refused (path)")
    check("11.5.6: a path through the announcer is malformed",
          refused(PEER_COMMANDS, routes(own, ("a", ["city", "a"]))), "refused (path)")
    check("11.5.6: a destination listed twice is malformed",
          refused(PEER_COMMANDS, routes(own, ("a", ["a"]), ("a", ["b", "a"]))), "refused (dest)")
    check("11.5.6: a path that does not end at its destination is malformed",
          refused(PEER_COMMANDS, routes(own, ("a", ["b"]))), "refused (path)")
    check("11.5.6: another destination with an empty path is malformed",
          refused(PEER_COMMANDS, routes(own, ("a", []))), "refused (path)")
    check("11.5.6: the announcer's own entry with a path is malformed",
          refused(PEER_COMMANDS, routes(("city", ["a", "city"]))), "refused (path)")
    long_path = [f"n{i}" for i in range(33)]
    check("11.5.6: a path of 33 names is malformed",
          refused(PEER_COMMANDS, routes(own, ("n32", long_path))), "refused (entries.path)")
    check("11.5.6: a path of 32 names is not (control)",
          refused(PEER_COMMANDS, routes(own, ("n31", long_path[:32]))), "accepted")
    snapshot = peer("DIR-SNAPSHOT")
    over = snapshot[:4 + 8 + 8] + u32(1_000_001)
    check("11.5.8: DIR-SNAPSHOT count over 1 000 000 is malformed", refused(PEER_COMMANDS, over), "refused (entries)")
    big_json = encode_field("name", "hq") + u64(1) + u32(65_537) + b" " * 65_537
    check("11.5.9: SUMMARY json over 65 536 bytes is malformed",
          refused(PEER_COMMANDS, SIGNATURE + u8(VERSION) + u8(0x28) + big_json), "refused (json)")
    check("11.5.3: RELAYED with fewer jids than its count is malformed",
          refused(PEER_COMMANDS, peer("RELAYED")[:-8]), "refused (jids)")

    # Section 3: every u64 is under 2^63; 2^63 - 1 is the largest accepted.
    for v in (1 << 63, (1 << 64) - 1):
        hexv = f"{v:#x}"
        for field in ("jid", "stream_seq", "sent_at"):
            frame = encode_command(PEER_COMMANDS, "RELAY", dict(relay, **{field: v}))
            check(f"3: RELAY {field} = {hexv} is malformed", refused(PEER_COMMANDS, frame),
                  f"refused ({'envelope.' if field == 'sent_at' else ''}{field})")
        for name, fields, field in (
                ("RELAYED", {"jids": [9, v]}, "jids"),
                ("PEER-PING", {"sent_ns": v}, "sent_ns"),
                ("PEER-PONG", {"echo_ns": v}, "echo_ns"),
                ("ROUTES", {"node": "city", "seq": v, "entries": []}, "seq"),
                ("ROUTES", {"node": "city", "seq": 5, "entries": [
                    {"dest": "city", "sign_key": b"\x01" * 32, "directory_version": v, "path": []}]}, "entries.directory_version"),
                ("DIR-SNAPSHOT", {"home": "traffic", "version": v, "entries": [], "signature": bytes(64)}, "version"),
                ("SUMMARY", {"node": "hq", "seq": v, "json": b"{}"}, "seq")):
            check(f"3: {name} {field} = {hexv} is malformed",
                  refused(PEER_COMMANDS, encode_command(PEER_COMMANDS, name, fields)), f"refused ({field})")
        for name, fields, field in (("ACK", {"seq": v}, "seq"), ("DELIVER", dict(ENVELOPE_VALUES, seq=v), "seq"),
                                    ("SEND", dict(ENVELOPE_VALUES, **{"from": "", "sent_at": v}), "envelope.sent_at")):
            check(f"3: {name} {field} = {hexv} is malformed",
                  refused(COMMANDS, encode_command(COMMANDS, name, fields)), f"refused ({field})")
        check(f"4.3: ACK seq = {hexv} -> ERROR 400, zero ref",
              node_error_for(encode_command(COMMANDS, "ACK", {"seq": v})), (400, bytes(16)))
    check("3: ACK seq = 2^63 - 1 decodes (control)",
          refused(COMMANDS, encode_command(COMMANDS, "ACK", {"seq": (1 << 63) - 1})), "accepted")

    # Section 11.5.2: origin and dest differ; the clear header of a reminder, burn or file decodes.
    check("11.5.2: RELAY whose dest is its origin is malformed",
          refused(PEER_COMMANDS, encode_command(PEER_COMMANDS, "RELAY",
                                                dict(relay, dest="hq", **{"to": "bob@hq"}))), "refused (dest)")
    for kind, body, field in ((3, u64(1 << 63) + b"\x01", "due_at"), (3, b"\x00" * 7, "due_at"),
                              (11, u64((1 << 64) - 1) + u8(0) + b"\x01", "expires_at"),
                              (11, u64(1) + u8(7) + b"\x01", "images"),
                              (14, u8(1) + bytes(16) + u64(1 << 63) + u32(1) + b"\x01", "cipher_size"),
                              (14, u8(2) + bytes(16) + u64(17) + u32(1), "version")):
        check(f"11.5.2: RELAY of kind {kind} with a bad {field} ({body[:9].hex()}...) is malformed",
              refused(PEER_COMMANDS, encode_command(PEER_COMMANDS, "RELAY", dict(relay, kind=kind, body=body))),
              f"refused ({field})")
    check("3: RELAY stream_seq = 2^63 - 1 is malformed (the counter past it would be 2^63)",
          refused(PEER_COMMANDS, encode_command(PEER_COMMANDS, "RELAY", dict(relay, stream_seq=(1 << 63) - 1))),
          "refused (stream_seq)")
    check("3: RELAY stream_seq = 2^63 - 2 decodes (control)",
          refused(PEER_COMMANDS, encode_command(PEER_COMMANDS, "RELAY", dict(relay, stream_seq=(1 << 63) - 2))), "accepted")
    check("11.5.2: RELAY of a reminder due at 2^63 - 1 decodes (control)",
          refused(PEER_COMMANDS, encode_command(PEER_COMMANDS, "RELAY",
                                                dict(relay, kind=3, body=u64((1 << 63) - 1) + b"\x01"))), "accepted")


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
    digest = hashlib.blake2b(b"sealpost-fp-v1" + box_key + sign_key, digest_size=32).digest()[:10].hex()
    check("directory: key fingerprint (section 9.5)", " ".join(digest[i:i + 4] for i in range(0, 20, 4)), v["fingerprint"])


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


# ---------------------------------------------------------------------------
# A directory entry through ENTRY, ENTRIES and DIR-SNAPSHOT (sections 6.4,
# 6.16, 9.3, 11.5.8, 14.3)
# ---------------------------------------------------------------------------

def client_verifies(entry_bytes, home_sign_key, own_node, own_node_key):
    """Section 9.3 as a client applies it; returns the verdict as text."""
    try:
        r = Reader(entry_bytes)
        address, display = r.string("address"), r.string("display")
        box_key, sign_key, updated_at = r.octets(32), r.octets(32), r.u64()
        signature = r.octets(64)
        r.end()
    except Malformed:
        return "refused: damaged"
    if not is_address(address):
        return "refused: no address"
    if address_node(address) == own_node:
        if home_sign_key != own_node_key:
            return "refused: another key for the own node"
        key = own_node_key
    else:
        key = home_sign_key
    signed = (b"sealpost-dir-v1" + string(address) + string(display) + box_key + sign_key + u64(updated_at))
    try:
        nacl.signing.VerifyKey(key).verify(signed, signature)
    except nacl.exceptions.BadSignatureError:
        return "refused: bad signature"
    return "accepted"


def snapshot_applies(home, entries, pinned_key, version=3, signature=None, held=0):
    """Section 14.3, rules 2-4 (the snapshot answers the node's own DIR-REQ from
    its next hop): the version grows, the home's signature over version and entry
    set verifies, and every entry decodes, is on `home`, verifies, and is there once."""
    if version <= held:
        return "ignored"
    if signature is not None and head_verifies(home, version, entries, signature, pinned_key) != "valid":
        return "rejected"
    addresses = set()
    for entry in entries:
        if client_verifies(entry, pinned_key, own_node=None, own_node_key=None) != "accepted":
            return "rejected"
        address = Reader(entry).string()
        if address_node(address) != home or address in addresses:
            return "rejected"
        addresses.add(address)
    return "applied"


def check_entry_transport():
    d = load("directory.json")
    entry = bytes.fromhex(d["encoded"])
    traffic_key = bytes.fromhex(d["node_sign_public"])
    other_key = bytes(nacl.signing.SigningKey(seq(0x99, 32)).verify_key)

    frame = encode_command(COMMANDS, "ENTRY", {"request_id": 1, "entry": entry, "home_sign_key": traffic_key})
    name, fields = decode_command(COMMANDS, frame)
    check("ENTRY carries the directory.json entry and its home key intact",
          (name, fields["entry"], fields["home_sign_key"]), ("ENTRY", entry, traffic_key))
    check("9.3: a client of hq accepts wu@traffic with the key its node pinned",
          client_verifies(fields["entry"], fields["home_sign_key"], "hq", other_key), "accepted")
    check("9.3: ... and refuses it with another key",
          client_verifies(entry, other_key, "hq", other_key), "refused: bad signature")
    check("9.3: a client of traffic verifies with its invite key",
          client_verifies(entry, traffic_key, "traffic", traffic_key), "accepted")
    check("9.3: a client of traffic refuses another home_sign_key for its own node",
          client_verifies(entry, other_key, "traffic", traffic_key), "refused: another key for the own node")

    items = [{"entry": entry, "home_sign_key": traffic_key}] * 2
    frame = encode_command(COMMANDS, "ENTRIES", {"request_id": 2, "items": items})
    check("ENTRIES round trip with two real entries", decode_command(COMMANDS, frame)[1]["items"], items)

    snap = d["snapshot"]
    head_signature = directory_head_signature(DIRECTORY_SEED, "traffic", 3, [entry])
    check("directory.json snapshot: home, version, entries", (snap["home"], snap["version"], snap["entries"]),
          ("traffic", 3, [entry.hex()]))
    check("14.3: entries_hash = BLAKE2b-256(count || sorted longstr entries)",
          directory_entries_hash([entry]), bytes.fromhex(snap["entries_hash"]))
    check("14.3: entries_hash equals crypto_generichash",
          nacl.hash.blake2b(u32(1) + longstr(entry), digest_size=32, encoder=nacl.encoding.RawEncoder),
          bytes.fromhex(snap["entries_hash"]))
    check("14.3: head signed_bytes = \"sealpost directory v1\" || home || version || entries_hash",
          directory_head_bytes("traffic", 3, [entry]), bytes.fromhex(snap["signed_bytes"]))
    check("14.3: head signature re-made from the node seed", head_signature, bytes.fromhex(snap["signature"]))
    frame = encode_command(PEER_COMMANDS, "DIR-SNAPSHOT", {"home": "traffic", "version": 3, "entries": [entry],
                                                           "signature": head_signature})
    check("DIR-SNAPSHOT of directory.json: frame", frame, bytes.fromhex(snap["frame"]))
    _, fields = decode_command(PEER_COMMANDS, bytes.fromhex(snap["frame"]))
    check("DIR-SNAPSHOT round trip", (fields["entries"], fields["signature"]), ([entry], head_signature))
    check("14.3: the stored head signature verifies with traffic's key",
          head_verifies("traffic", 3, [entry], fields["signature"], traffic_key), "valid")
    check("14.3: ... and not with another key", head_verifies("traffic", 3, [entry], fields["signature"], other_key), "invalid")
    check("14.3: a raised version does not verify (a relay cannot make one up)",
          head_verifies("traffic", 4, [entry], fields["signature"], traffic_key), "invalid")
    check("14.3: an emptied entry set does not verify (a removal must be signed)",
          head_verifies("traffic", 3, [], fields["signature"], traffic_key), "invalid")
    check("14.3: the head of another home does not verify", head_verifies("hq", 3, [entry], fields["signature"], traffic_key),
          "invalid")
    other_entry = bytes.fromhex(d["encoded"])[:-1] + b"\x00"
    check("14.3: the entries hash does not depend on the order entries travel in",
          directory_entries_hash([entry, other_entry]), directory_entries_hash([other_entry, entry]))
    check("14.3: a snapshot of traffic verifying with traffic's pinned key applies",
          snapshot_applies("traffic", fields["entries"], traffic_key, signature=fields["signature"]), "applied")
    check("14.3: ... but not when its version is not above the one held",
          snapshot_applies("traffic", fields["entries"], traffic_key, signature=fields["signature"], held=3), "ignored")
    check("14.3: an unsigned snapshot (64 zero bytes) is rejected",
          snapshot_applies("traffic", fields["entries"], traffic_key, signature=bytes(64)), "rejected")
    check("14.3: the same snapshot under another home is rejected",
          snapshot_applies("hq", fields["entries"], traffic_key), "rejected")
    check("14.3: one entry that does not verify rejects the whole snapshot",
          snapshot_applies("traffic", [entry, entry[:-1] + bytes([entry[-1] ^ 1])], traffic_key), "rejected")
    check("14.3: an entry listed twice rejects the whole snapshot",
          snapshot_applies("traffic", [entry, entry], traffic_key), "rejected")
    check("11.5.8: DIR-SNAPSHOT without its signature is malformed",
          refused(PEER_COMMANDS, bytes.fromhex(snap["frame"])[:-64]), "refused (signature)")


# ---------------------------------------------------------------------------
# Contact card (SPEC.md section 9.4): encoding, decoding and the receiver's
# verdict
# ---------------------------------------------------------------------------

CARD_MEMBER, CARD_EXTERNAL = 1, 2
EXTERNAL_INPUTS = {"name": "Ms Zhang", "phone": "+86 10 5555 0100", "org": "City Water", "email": "z@water.example"}


def encode_card(card):
    """Section 9.4.1; `card` is ("member", entry, home_sign_key) or ("external", name, phone, org, email)."""
    if card[0] == "member":
        _, entry, home_sign_key = card
        if len(entry) > MAX_ENTRY:
            raise ValueError("entry over 4096 bytes")
        return u8(CARD_MEMBER) + longstr(entry) + octets(home_sign_key, 32)
    _, name, phone, org, email = card
    return u8(CARD_EXTERNAL) + string(name) + string(phone) + string(org) + string(email)


def decode_card(data):
    """Section 9.4.1, the inverse of encode_card; raises Malformed for a damaged card."""
    r = Reader(data)
    variant = r.u8("variant")
    if variant == CARD_MEMBER:
        card = ("member", r.longstr("entry", MAX_ENTRY), r.octets(32, "home_sign_key"))
    elif variant == CARD_EXTERNAL:
        card = ("external", r.string("name"), r.string("phone"), r.string("org"), r.string("email"))
    else:
        raise Malformed("variant", f"unknown card variant {variant}")
    r.end()
    return card


def decode_entry(data):
    """Section 9.1: (address, signed_bytes, signature); raises Malformed."""
    r = Reader(data)
    address, display = r.string("address"), r.string("display")
    box_key, sign_key, updated_at = r.octets(32, "box_key"), r.octets(32, "sign_key"), r.u64("updated_at")
    signature = r.octets(64, "signature")
    r.end()
    if not is_address(address):
        raise Malformed("address", "not an address")
    signed = b"sealpost-dir-v1" + string(address) + string(display) + box_key + sign_key + u64(updated_at)
    return address, signed, signature


def ed25519_ok(key, message, signature):
    try:
        nacl.signing.VerifyKey(key).verify(message, signature)
        return True
    except (nacl.exceptions.BadSignatureError, ValueError):
        return False


def card_verdict(data, own_node, invite_key, node_holds):
    """Section 9.4.3 as a receiver applies it. `node_holds` maps a node name to the
    home_sign_key the receiver's own node answers LOOKUP with (no entry: it
    answers ERROR, so there is no anchor). Returns "verified" or the reason."""
    try:
        card = decode_card(data)
        if card[0] == "member":
            address, signed, signature = decode_entry(card[1])
    except Malformed:
        return "the card is damaged"
    if card[0] == "external":
        return "external contact: not on Sealpost, not reachable by chat"
    node, card_key = address_node(address), card[2]
    anchor = invite_key if node == own_node else node_holds.get(node)
    if anchor is not None and ed25519_ok(anchor, signed, signature):
        return "verified"
    if anchor is not None and ed25519_ok(card_key, signed, signature):
        return f"signed with a key that is not the one your node holds for '{node}'"
    if anchor is None and ed25519_ok(card_key, signed, signature):
        return f"'{node}' or this person is not known to your node, so the signature cannot be checked"
    return "the signature does not verify: the card was altered"


def check_card():
    v = load("card.json")
    d = load("directory.json")
    entry = bytes.fromhex(d["encoded"])
    traffic_key = bytes.fromhex(d["node_sign_public"])
    check("card: directory.json node key is the one derived from seq(21, 32)",
          bytes(nacl.signing.SigningKey(seq(0x21, 32)).verify_key), traffic_key)

    # The member card: the directory.json entry and its home node's key.
    member = encode_card(("member", entry, traffic_key))
    stored = bytes.fromhex(v["member"])
    check("card: member = 01 || entry:longstr || home_sign_key", member, stored)
    check("card: member length = 37 + len(entry)", len(stored), 37 + len(entry))
    try:
        decoded = decode_card(stored)
    except Malformed as error:
        decoded = ("undecodable", str(error))
    check("card: member decodes to the directory.json entry and key", decoded, ("member", entry, traffic_key))

    # The external card, from its fields.
    ext = v["external"]
    check("card.json: external inputs", {k: ext[k] for k in EXTERNAL_INPUTS}, EXTERNAL_INPUTS)
    fields = tuple(EXTERNAL_INPUTS[k] for k in ("name", "phone", "org", "email"))
    external = encode_card(("external",) + fields)
    check("card: external = 02 || name || phone || org || email", external, bytes.fromhex(ext["hex"]))
    try:
        decoded = decode_card(bytes.fromhex(ext["hex"]))
    except Malformed as error:
        decoded = ("undecodable", str(error))
    check("card: external decodes to its fields", decoded, ("external",) + fields)

    # The member entry verifies with its home node's key, and only with it.
    decoded_entry = decode_card(stored)[1]
    address, signed, signature = decode_entry(decoded_entry)
    check("card: the member entry is the entry of wu@traffic", (address, decoded_entry), ("wu@traffic", entry))
    check("card: the member entry verifies with traffic's key", ed25519_ok(traffic_key, signed, signature), True)
    other = nacl.signing.SigningKey(seq(0x99, 32))
    other_key = bytes(other.verify_key)
    check("card: ... and not with another key", ed25519_ok(other_key, signed, signature), False)

    # The receiver's verdict (section 9.4.3).
    check("9.4.3: a client of hq whose node holds traffic's key: verified",
          card_verdict(stored, "hq", other_key, {"traffic": traffic_key}), "verified")
    check("9.4.3: a client of traffic verifies with its invite key: verified",
          card_verdict(stored, "traffic", traffic_key, {}), "verified")
    check("9.4.3: the card's own key is never trusted alone (node holds another key)",
          card_verdict(stored, "hq", other_key, {"traffic": other_key}),
          "signed with a key that is not the one your node holds for 'traffic'")
    check("9.4.3: ... nor by a client of traffic whose invite key is another",
          card_verdict(stored, "traffic", other_key, {}),
          "signed with a key that is not the one your node holds for 'traffic'")
    check("9.4.3: traffic unknown to the receiver's node: not verified",
          card_verdict(stored, "hq", other_key, {}),
          "'traffic' or this person is not known to your node, so the signature cannot be checked")
    check("9.4.3: a card carrying a wrong key but a genuine entry is still verified by the anchor",
          card_verdict(encode_card(("member", entry, other_key)), "hq", other_key, {"traffic": traffic_key}),
          "verified")
    altered = bytearray(entry)
    altered[20] ^= 1  # a bit of box_key
    check("9.4.3: an altered entry: not verified",
          card_verdict(encode_card(("member", bytes(altered), traffic_key)), "hq", other_key, {"traffic": traffic_key}),
          "the signature does not verify: the card was altered")
    check("9.4.3: ... even when the receiver's node does not know traffic",
          card_verdict(encode_card(("member", bytes(altered), traffic_key)), "hq", other_key, {}),
          "the signature does not verify: the card was altered")
    resigned = entry[:-64] + other.sign(signed).signature
    check("9.4.3: re-signed with another key that the card claims is traffic's: not verified",
          card_verdict(encode_card(("member", resigned, other_key)), "hq", other_key, {"traffic": traffic_key}),
          "signed with a key that is not the one your node holds for 'traffic'")
    check("9.4.3: an external card is never verified",
          card_verdict(bytes.fromhex(ext["hex"]), "hq", other_key, {"traffic": traffic_key}),
          "external contact: not on Sealpost, not reachable by chat")

    # Damaged cards (section 9.4.1).
    for label, data in [("unknown variant 3", b"\x03" + stored[1:]),
                        ("trailing byte", stored + b"\x00"),
                        ("truncated home_sign_key", stored[:-1]),
                        ("entry over 4096 bytes", u8(1) + u32(4097) + bytes(4097) + traffic_key),
                        ("entry that is not a directory entry", encode_card(("member", entry[:-1], traffic_key))),
                        ("external name not UTF-8", u8(2) + u8(1) + b"\xff" + b"\x00" * 3),
                        ("empty", b"")]:
        check(f"9.4.1: damaged card ({label})", card_verdict(data, "hq", other_key, {"traffic": traffic_key}),
              "the card is damaged")


# ---------------------------------------------------------------------------
# Reminders (SPEC.md section 7.5). No vector file yet: the expected values are
# the worked examples written in section 7.5.1.
# ---------------------------------------------------------------------------

REMINDER_DUE_AT = 1_764_003_600_000          # 2025-11-24T17:00:00Z
REMINDER_TEXT = "File the incident report"
SPEC_DUE_BODY = bytes.fromhex("000102030405060708090a0b0c0d0e0f"
                              "0000019ab6ced680" "0000019ab6ced683" "00")
SPEC_DUE_IDS = {"wu": bytes.fromhex("a0c77be7b4fd7e95ee6b4ee7b8bf89ee"),
                "alice": bytes.fromhex("c9362706616ce11e3d10c92efa23d18d")}
MAX_AHEAD_MS = 366 * 24 * 3_600_000


def due_notice_id(reminder, user):
    """Section 7.5.4: BLAKE2b with a 16-byte output, no key, of "due" || reminder || user."""
    return hashlib.blake2b(b"due" + octets(reminder, 16) + user.encode("utf-8"), digest_size=16).digest()


def decode_due(body):
    r = Reader(body)
    out = (r.octets(16, "reminder"), r.u64("due_at"), r.u64("fired_at"), r.u8("late"))
    r.end()
    return out


def decode_reference(body):
    """Sections 7.5.1: the body of reminder_cancel and reminder_done."""
    if len(body) != 16:
        raise Malformed("reminder", "must be 16 bytes")
    return body


def open_reminder(envelope_fields, body, key):
    """Section 7.5.6, step 1: clear due_at, open the rest (section 8.3), check both due_at agree."""
    kind, mid, sender, recipient, sent_at = envelope_fields
    r = Reader(body)
    clear_due = r.u64("due_at")
    sealed = body[8:]
    if len(sealed) < 41 or sealed[0] != 1:
        raise Malformed("sealed", "not an end-to-end body")
    inner = Reader(sodium.crypto_box_open_easy_afternm(sealed[25:], sealed[1:25], key))
    header = (inner.u8(), inner.octets(16), inner.string(), inner.string(), inner.u64())
    content = inner.longstr("content", MAX_BODY)
    inner.end()
    if header != envelope_fields:
        raise Malformed("inner header", "does not match the envelope")
    c = Reader(content)
    due, text = c.u64("due_at"), c.longstr("text", 65_536)
    c.end()
    if due != clear_due:
        raise Malformed("due_at", "the sealed due_at differs from the clear one")
    return due, text.decode("utf-8")


def check_reminders():
    # reminder_due body (section 7.5.1), encoded from the example's fields and decoded back.
    fired = REMINDER_DUE_AT + 3
    body = octets(ID1, 16) + u64(REMINDER_DUE_AT) + u64(fired) + u8(0)
    check("7.5.1: reminder_due body of the example", body, SPEC_DUE_BODY)
    check("7.5.1: reminder_due body is 33 bytes", len(body), 33)
    check("7.5.1: reminder_due decodes back", decode_due(SPEC_DUE_BODY), (ID1, REMINDER_DUE_AT, fired, 0))
    for label, bad in [("truncated", SPEC_DUE_BODY[:-1]), ("trailing byte", SPEC_DUE_BODY + b"\x00")]:
        try:
            decode_due(bad)
            outcome = "accepted"
        except Malformed:
            outcome = "refused"
        check(f"7.5.1: reminder_due body {label} is malformed", outcome, "refused")

    # Due-notice ids (section 7.5.4), two independent BLAKE2b implementations.
    for user, want in SPEC_DUE_IDS.items():
        check(f"7.5.4: due notice id for {user} (hashlib)", due_notice_id(ID1, user), want)
        via_sodium = nacl.hash.blake2b(b"due" + ID1 + user.encode(), digest_size=16, encoder=nacl.encoding.RawEncoder)
        check(f"7.5.4: due notice id for {user} (libsodium crypto_generichash)", via_sodium, want)
    check("7.5.4: the id is not a truncated BLAKE2b-512",
          hashlib.blake2b(b"due" + ID1 + b"wu").digest()[:16] != SPEC_DUE_IDS["wu"], True)

    # reminder_cancel / reminder_done bodies (section 7.5.1).
    check("7.5.1: a 16-byte reference decodes", decode_reference(ID1), ID1)
    for n in (15, 17, 0):
        try:
            decode_reference(bytes(n))
            outcome = "accepted"
        except Malformed:
            outcome = "refused"
        check(f"7.5.1: a {n}-byte cancel/done body is malformed", outcome, "refused")

    # A reminder body (sections 7.5.1, 8.2) with the keys and nonce of e2e.json, opened back (7.5.6).
    v = load("e2e.json")
    sender_sk, recipient_sk, nonce = seq(0x01, 32), seq(0x41, 32), seq(0x81, 24)
    k = sodium.crypto_box_beforenm(sodium.crypto_scalarmult_base(recipient_sk), sender_sk)
    check("7.5: the e2e.json shared key is the one used here", k, bytes.fromhex(v["shared_key"]))
    fields = (3, ID1, "alice@hq", "wu@traffic", 1_764_000_000_000)
    text = REMINDER_TEXT.encode("utf-8")
    check("7.5.1: the example text is 24 bytes", len(text), 0x18)
    content = u64(REMINDER_DUE_AT) + longstr(text)
    sealed = b"\x01" + nonce + sodium.crypto_box_easy_afternm(inner_plaintext(*fields, content), nonce, k)
    body = u64(REMINDER_DUE_AT) + sealed
    check("7.5.1: a reminder body starts with the clear due_at", body[:8].hex(), "0000019ab6ced680")
    check("7.5.1: the sealed content starts with the same due_at and the text length",
          content[:12].hex(), "0000019ab6ced680" + "00000018")
    receiver_k = sodium.crypto_box_beforenm(sodium.crypto_scalarmult_base(sender_sk), recipient_sk)
    try:
        got = open_reminder(fields, body, receiver_k)
    except Exception as error:  # noqa: BLE001 - reported as a failure
        got = ("cannot open", str(error))
    check("7.5.6: the recipient opens the reminder", got, (REMINDER_DUE_AT, REMINDER_TEXT))
    moved = u64(REMINDER_DUE_AT + 86_400_000) + sealed
    try:
        open_reminder(fields, moved, receiver_k)
        outcome = "accepted"
    except Malformed as error:
        outcome = error.field
    check("7.5.6: a changed clear due_at is refused (the sealed one differs)", outcome, "due_at")
    try:
        open_reminder((1,) + fields[1:], body, receiver_k)
        outcome = "accepted"
    except Malformed as error:
        outcome = error.field
    check("7.5.6: the inner kind must be 3 (a reminder cannot pass as a text)", outcome, "inner header")
    check("7.5.2: at most 366 days ahead, in ms", MAX_AHEAD_MS, 31_622_400_000)
    check("7.4: the largest reminder body fits in 204 800 bytes",
          8 + 1 + 24 + 16 + len(inner_plaintext(3, ID1, "a" * 32 + "@" + "b" * 32, "c" * 32 + "@" + "d" * 32, 0,
                                                  u64(0) + longstr(bytes(65_536)))) <= MAX_BODY, True)


# ---------------------------------------------------------------------------
# Groups (SPEC.md section 7.6) and group.json (section 18.8)
# ---------------------------------------------------------------------------

GROUP_OPS = {"create": 1, "add": 2, "remove": 3, "leave": 4, "admin": 5}
GROUP_REFUSED = 6
MAX_GROUP_MEMBERS = 500


def group_op_body(op, members):
    """Section 7.6.1: op:u8 count:u16 *member:string."""
    return u8(op) + u16(len(members)) + b"".join(string(m) for m in members)


def decode_group_op(body):
    r = Reader(body)
    op = r.u8("op")
    if op not in GROUP_OPS.values():
        raise Malformed("op", "unknown group operation")
    n = r.u16("count")
    if n > MAX_GROUP_MEMBERS:
        raise Malformed("count", "more than 500 members")
    members = []
    for _ in range(n):
        m = r.string("member")
        if not is_address(m):
            raise Malformed("member", "not an address")
        members.append(m)
    r.end()
    return op, members


def group_event_body(op, actor, reason, members):
    """Section 7.6.1: op:u8 actor:string reason:string count:u16 *(member:string admin:u8)."""
    return (u8(op) + string(actor) + string(reason) + u16(len(members))
            + b"".join(string(m) + u8(1 if admin else 0) for m, admin in members))


def decode_group_event(body):
    r = Reader(body)
    op, actor, reason = r.u8("op"), r.string("actor"), r.string("reason")
    members = [(r.string("member"), r.u8("admin") != 0) for _ in range(r.u16("count"))]
    r.end()
    return op, actor, reason, members


def encode_envelope(values):
    return encode_layout(ENVELOPE, values)


def group_fanout_body(recipients, envelope):
    """Section 7.6.1: count:u16 *recipient:string envelope:longstr."""
    return u16(len(recipients)) + b"".join(string(x) for x in recipients) + longstr(encode_envelope(envelope))


def decode_group_fanout(body):
    r = Reader(body)
    recipients = [r.string("recipient") for _ in range(r.u16("count"))]
    inner = Reader(r.longstr("envelope", MAX_BODY + 1024))
    envelope = decode_envelope(inner)
    inner.end()
    r.end()
    return recipients, envelope


def group_seal(fields, content, key, nonce, wraps):
    """Section 7.6.3. wraps: (member, pairwise key k, wrap_nonce) in order."""
    inner = inner_plaintext(*fields, content)
    ciphertext = sodium.crypto_secretbox(inner, nonce, key)
    out = b"\x01" + octets(nonce, 24) + longstr(ciphertext) + u16(len(wraps))
    payload = key + hashlib.blake2b(ciphertext, digest_size=32).digest()
    for member, k, wrap_nonce in wraps:
        out += string(member) + octets(wrap_nonce, 24) + sodium.crypto_box_afternm(payload, wrap_nonce, k)
    return out


def group_open(envelope_fields, body, me, k):
    """Section 7.6.3, opening: decode, find my wrap, unwrap K, open, check the inner header."""
    r = Reader(body)
    if r.u8("version") != 1:
        raise Malformed("version", "unsupported")
    nonce = r.octets(24, "nonce")
    ciphertext = r.longstr("ciphertext", MAX_BODY)
    mine = None
    for _ in range(r.u16("count")):
        member, wrap_nonce, wrap = r.string("member"), r.octets(24, "wrap_nonce"), r.octets(80, "wrap")
        if member == me:
            mine = (wrap_nonce, wrap)
    r.end()
    if mine is None:
        raise Malformed("wrap", "no key for this member")
    payload = sodium.crypto_box_open_afternm(mine[1], mine[0], k)
    key, digest = payload[:32], payload[32:]
    if digest != hashlib.blake2b(ciphertext, digest_size=32).digest():
        raise Malformed("wrap", "names another ciphertext")
    inner = Reader(sodium.crypto_secretbox_open(ciphertext, nonce, key))
    header = (inner.u8(), inner.octets(16), inner.string(), inner.string(), inner.u64())
    content = inner.longstr("content", MAX_BODY)
    inner.end()
    if header != tuple(envelope_fields):
        raise Malformed("inner header", "does not match the envelope")
    return content


def event_id(request_id, actor):
    """Section 7.6.4: BLAKE2b-128("event" || request id || actor)."""
    return hashlib.blake2b(b"event" + octets(request_id, 16) + actor.encode("utf-8"), digest_size=16).digest()


def fanout_id(envelope_id, node):
    """Section 7.6.5: BLAKE2b-128("fanout" || envelope id || node)."""
    return hashlib.blake2b(b"fanout" + octets(envelope_id, 16) + node.encode("utf-8"), digest_size=16).digest()


def outcome_of(fn):
    try:
        fn()
        return "accepted"
    except Malformed as error:
        return f"refused ({error.field})"
    except nacl.exceptions.CryptoError:
        return "refused (does not authenticate)"


def check_group():
    v = load("group.json")
    e2e = load("e2e.json")
    hx = lambda name: bytes.fromhex(v[name])  # noqa: E731

    # Inputs of section 18.8, as the file repeats them.
    sender_sk, b_sk, c_sk = seq(0x01, 32), seq(0x41, 32), seq(0xC1, 32)
    key, nonce, wrap_nonces = seq(0x90, 32), seq(0xA0, 24), [seq(0xB0, 24), seq(0xD0, 24)]
    check("group.json: secrets", (hx("sender_box_secret"), hx("member_b_box_secret"), hx("member_c_box_secret")),
          (sender_sk, b_sk, c_sk))
    check("group.json: content_key / nonce / wrap_nonces",
          (hx("content_key"), hx("nonce"), [bytes.fromhex(x) for x in v["wrap_nonces"]]), (key, nonce, wrap_nonces))
    fields = (9, ID1, "alice@hq", "ops@hq", 1_764_000_000_000)
    check("group.json: id/from/group/sent_at/members",
          (hx("id"), v["from"], v["group"], v["sent_at"], v["member_b"], v["member_c"]),
          (ID1, "alice@hq", "ops@hq", 1_764_000_000_000, "wu@traffic", "zhao@district"))
    content = "Shift change at 18:00.".encode("utf-8")
    check("group.json: content_utf8", v["content_utf8"].encode("utf-8"), content)

    # Pairwise keys (section 8.1) from the secrets, sender's side.
    sender_pk = sodium.crypto_scalarmult_base(sender_sk)
    b_pk, c_pk = sodium.crypto_scalarmult_base(b_sk), sodium.crypto_scalarmult_base(c_sk)
    kb = sodium.crypto_box_beforenm(b_pk, sender_sk)
    kc = sodium.crypto_box_beforenm(c_pk, sender_sk)
    check("7.6.3: k(alice, wu) is the e2e.json shared key", kb, bytes.fromhex(e2e["shared_key"]))
    check("7.6.3: k(alice, zhao) = HSalsa20(X25519(sender_sk, zhao_pk), 0^16) (pure Python)",
          hsalsa20(sodium.crypto_scalarmult(sender_sk, c_pk), b"\x00" * 16), kc)

    # The body, rebuilt from its inputs.
    stored = hx("group_message_body")
    body = group_seal(fields, content, key, nonce,
                      [("wu@traffic", kb, wrap_nonces[0]), ("zhao@district", kc, wrap_nonces[1])])
    check("7.6.3: group_message body = 01 nonce secretbox(inner) count wraps", body, stored)
    inner = inner_plaintext(*fields, content)
    check("7.6.3: ciphertext = crypto_secretbox_easy(inner, nonce, K), MAC first",
          stored[25:29] + stored[29:29 + 16 + len(inner)],
          u32(16 + len(inner)) + sodium.crypto_secretbox(inner, nonce, key))
    check("7.6.3: each wrap is crypto_box_easy_afternm(K, wrap_nonce, k) = crypto_secretbox_easy under k",
          sodium.crypto_box_afternm(key, wrap_nonces[1], kc), sodium.crypto_secretbox(key, wrap_nonces[1], kc))
    wrap_len = 1 + len("zhao@district") + 24 + 80
    check("7.6.3: body length = 1 + 24 + 4 + 16 + len(inner) + 2 + sum(1 + len(member) + 72)",
          len(stored), 1 + 24 + 4 + 16 + len(inner) + 2 + (1 + len("wu@traffic") + 104) + wrap_len)

    # A member opens it with its own wrap (receiver's side keys).
    back_c = sodium.crypto_box_beforenm(sender_pk, c_sk)
    back_b = sodium.crypto_box_beforenm(sender_pk, b_sk)
    try:
        got_c = group_open(fields, stored, "zhao@district", back_c)
        got_b = group_open(fields, stored, "wu@traffic", back_b)
    except Exception as error:  # noqa: BLE001 - reported as a failure
        got_c = got_b = ("cannot open", str(error))
    check("7.6.3: zhao@district opens its wrap and the inner header matches", got_c, content)
    check("7.6.3: wu@traffic opens its wrap too", got_b, content)
    check("7.6.3: a member without a wrap cannot open it",
          outcome_of(lambda: group_open(fields, stored, "bob@hq", back_c)), "refused (wrap)")
    check("7.6.3: the body moved to another group is refused (inner to)",
          outcome_of(lambda: group_open((9, ID1, "alice@hq", "other@hq", 1_764_000_000_000), stored,
                                        "zhao@district", back_c)), "refused (inner header)")
    check("7.6.3: the body under another sender's name is refused",
          outcome_of(lambda: group_open((9, ID1, "mallory@hq", "ops@hq", 1_764_000_000_000), stored,
                                        "zhao@district", back_c)), "refused (inner header)")
    check("7.6.3: one member's wrap does not open with another's key",
          outcome_of(lambda: group_open(fields, stored, "zhao@district", back_b)), "refused (does not authenticate)")
    tampered = bytearray(stored)
    tampered[40] ^= 1  # inside the ciphertext
    check("7.6.3: a flipped ciphertext bit no longer matches the digest in the wraps",
          outcome_of(lambda: group_open(fields, bytes(tampered), "zhao@district", back_c)),
          "refused (wrap)")
    # A member knows K: it re-encrypts other content under K and keeps the sender's wraps.
    forged_ct = sodium.crypto_secretbox(inner_plaintext(*fields, b"Shift change cancelled."), nonce, key)
    r = Reader(stored); r.u8(); r.octets(24, "nonce"); r.longstr("ciphertext", MAX_BODY)
    forged = b"\x01" + octets(nonce, 24) + longstr(forged_ct) + stored[r.pos:]
    check("7.6.3: content substituted under the same K with the sender's wraps is refused",
          outcome_of(lambda: group_open(fields, forged, "zhao@district", back_c)), "refused (wrap)")
    check("7.6.3: a trailing byte is malformed",
          outcome_of(lambda: group_open(fields, stored + b"\x00", "zhao@district", back_c)), "refused (end)")

    # group_op (section 7.6.1).
    op = group_op_body(GROUP_OPS["add"], ["wu@traffic", "zhao@district"])
    check("7.6.1: group_op add body", op, hx("group_op_add"))
    check("7.6.1: group_op decodes back", decode_group_op(hx("group_op_add")), (2, ["wu@traffic", "zhao@district"]))
    check("7.6.1: group_op with op 6 is malformed (6 is for events only)",
          outcome_of(lambda: decode_group_op(b"\x06" + hx("group_op_add")[1:])), "refused (op)")
    check("7.6.1: group_op naming a non-address is malformed",
          outcome_of(lambda: decode_group_op(group_op_body(2, ["wu"]))), "refused (member)")
    check("7.6.1: group_op with 501 members is malformed",
          outcome_of(lambda: decode_group_op(u8(2) + u16(501))), "refused (count)")
    check("7.6.1: group_op with a trailing byte is malformed",
          outcome_of(lambda: decode_group_op(hx("group_op_add") + b"\x00")), "refused (end)")

    # group_event (section 7.6.1).
    members = [("alice@hq", True), ("wu@traffic", False), ("zhao@district", False)]
    event = group_event_body(GROUP_OPS["add"], "alice@hq", "", members)
    check("7.6.1: group_event add body", event, hx("group_event_add"))
    check("7.6.1: group_event decodes back", decode_group_event(hx("group_event_add")), (2, "alice@hq", "", members))
    refused = group_event_body(GROUP_REFUSED, "alice@hq", "only admins of ops@hq may add members", [])
    check("7.6.1: a refusal decodes with op 6, its reason and no members", decode_group_event(refused),
          (6, "alice@hq", "only admins of ops@hq may add members", []))
    check("7.6.1: group_event truncated is malformed",
          outcome_of(lambda: decode_group_event(hx("group_event_add")[:-1])), "refused (admin)")

    # group_fanout (section 7.6.1) carrying a whole envelope.
    carried = {"id": ID1, "from": "alice@hq", "to": "ops@hq", "kind": 9, "flags": 0,
               "sent_at": 1_764_000_000_000, "body": b"\x01\x02\x03"}
    fanout = group_fanout_body(["zhao@district"], carried)
    check("7.6.1: group_fanout body", fanout, hx("group_fanout"))
    recipients, envelope = decode_group_fanout(hx("group_fanout"))
    check("7.6.1: group_fanout decodes back", (recipients, envelope), (["zhao@district"], carried))
    check("7.6.5: the carried envelope's to is the group (the wrapper's from)", envelope["to"], v["group"])
    check("7.6.1: a group_fanout whose envelope has a trailing byte is malformed",
          outcome_of(lambda: decode_group_fanout(u16(1) + string("zhao@district")
                                                 + longstr(encode_envelope(carried) + b"\x00"))), "refused (end)")
    check("7.6.1: a group_fanout with a byte after the envelope is malformed",
          outcome_of(lambda: decode_group_fanout(hx("group_fanout") + b"\x00")), "refused (end)")

    # Derived ids (sections 7.6.4, 7.6.5): two BLAKE2b implementations agree.
    check("7.6.4: event id, hashlib = libsodium", event_id(ID1, "alice@hq"),
          nacl.hash.blake2b(b"event" + ID1 + b"alice@hq", digest_size=16, encoder=nacl.encoding.RawEncoder))
    check("7.6.5: fan-out id, hashlib = libsodium", fanout_id(ID1, "district"),
          nacl.hash.blake2b(b"fanout" + ID1 + b"district", digest_size=16, encoder=nacl.encoding.RawEncoder))
    check("7.6.5: fan-out ids differ per destination node", fanout_id(ID1, "district") != fanout_id(ID1, "traffic"), True)

    # Reminder content and due notice (section 7.5.1), from the Swift code this time.
    due_at, fired_at = 1_764_003_600_000, 1_764_003_600_250
    check("7.5.1: reminder content = due_at:u64 text:longstr",
          u64(due_at) + longstr("file the report".encode("utf-8")), hx("reminder_content"))
    c = Reader(hx("reminder_content"))
    check("7.5.1: reminder content decodes back", (c.u64(), c.longstr("text", 65_536).decode(), c.end()),
          (due_at, "file the report", None))
    check("7.5.1: reminder_due body = reminder due_at fired_at late",
          octets(ID1, 16) + u64(due_at) + u64(fired_at) + u8(0), hx("reminder_due"))
    check("7.5.1: reminder_due decodes back", decode_due(hx("reminder_due")), (ID1, due_at, fired_at, 0))

    # A group reminder (section 7.6.7): clear due_at, then a group body with inner kind 3; opened by a member.
    rfields = (3, ID1, "alice@hq", "ops@hq", 1_764_000_000_000)
    sealed = group_seal(rfields, hx("reminder_content"), key, nonce,
                        [("wu@traffic", kb, wrap_nonces[0]), ("zhao@district", kc, wrap_nonces[1])])
    rbody = u64(due_at) + sealed
    try:
        opened = group_open(rfields, rbody[8:], "zhao@district", back_c)
        r = Reader(opened)
        got = (r.u64() == struct.unpack(">Q", rbody[:8])[0], r.longstr("text", 65_536).decode())
        r.end()
    except Exception as error:  # noqa: BLE001
        got = ("cannot open", str(error))
    check("7.6.7: a member opens a group reminder; sealed due_at = clear due_at", got, (True, "file the report"))
    check("7.6.7: a group reminder cannot pass as a group message (inner kind)",
          outcome_of(lambda: group_open(fields, sealed, "zhao@district", back_c)), "refused (inner header)")

    # Sizes (section 7.4): the largest group message to the largest group fits, and so does its fan-out.
    longest = "a" * 32 + "@" + "b" * 32
    biggest_inner = inner_plaintext(3, ID1, longest, longest, 0, u64(0) + longstr(bytes(65_536)))
    biggest = 8 + 1 + 24 + 4 + 16 + len(biggest_inner) + 2 + (MAX_GROUP_MEMBERS - 1) * (1 + len(longest) + 72)
    check("7.4: the largest group reminder to 500 members fits in 204 800 bytes", biggest <= MAX_BODY, True)
    fan = 2 + (MAX_GROUP_MEMBERS - 1) * (1 + len(longest)) + 4 + 33 + 2 * len(longest) + biggest
    check("7.4: so does its largest group_fanout", fan <= MAX_BODY, True)


# ---------------------------------------------------------------------------
# Burn after reading (SPEC.md section 7.7)
# ---------------------------------------------------------------------------

def burn_content(expires_at, text, images):
    out = u64(expires_at) + u8(len(images)) + longstr(text)
    for name, data in images:
        out += string(name) + longstr(data)
    return out


def receipt_unsigned(burn, sender, node, event, subject, deleted_at):
    return octets(burn, 16) + string(sender) + string(node) + u8(event) + string(subject) + u64(deleted_at)


def check_burn():
    v = load("burn.json")
    hx = lambda name: bytes.fromhex(v[name])  # noqa: E731
    sender_sk, recipient_sk, nonce, seed = seq(0x01, 32), seq(0x41, 32), seq(0x81, 24), seq(0x61, 32)
    check("burn.json: secrets, nonce, sign seed",
          (hx("sender_box_secret"), hx("recipient_box_secret"), hx("nonce"), hx("node_sign_seed")),
          (sender_sk, recipient_sk, nonce, seed))
    node = nacl.signing.SigningKey(seed)
    check("burn: node_sign_public from seed", bytes(node.verify_key), hx("node_sign_public"))
    sent_at, expires_at = 1_764_000_000_000, 1_764_086_400_000
    check("burn.json: id/from/to/sent_at/expires_at", (hx("id"), v["from"], v["to"], v["sent_at"], v["expires_at"]),
          (ID1, "alice@hq", "wu@traffic", sent_at, expires_at))

    content = burn_content(expires_at, "Gate code 4471.".encode(), [("a.png", bytes.fromhex("89504e47"))])
    check("7.7.1: content = expires_at count text *(name image)", content, hx("content"))
    k = sodium.crypto_box_beforenm(sodium.crypto_scalarmult_base(recipient_sk), sender_sk)
    inner = inner_plaintext(11, ID1, "alice@hq", "wu@traffic", sent_at, content)
    sealed = b"\x01" + nonce + sodium.crypto_box_easy_afternm(inner, nonce, k)
    body = u64(expires_at) + u8(1) + sealed
    check("7.7.1: burn body = expires_at:u64 images:u8 || 1:1 body of section 8 (inner kind 11)", body, hx("burn_body"))
    check("7.7.3: the notice is the first 9 bytes of the body", hx("notice_body"), body[:9])

    # The recipient opens it and checks both headers agree.
    back = sodium.crypto_box_beforenm(sodium.crypto_scalarmult_base(sender_sk), recipient_sk)
    try:
        stored = hx("burn_body")
        plain = sodium.crypto_box_open_easy_afternm(stored[9 + 25:], stored[9 + 1:9 + 25], back)
        r = Reader(plain)
        head = (r.u8(), r.octets(16), r.string(), r.string(), r.u64())
        c = Reader(r.longstr("content", MAX_LARGE_BODY))
        r.end()
        got = (head, c.u64() == struct.unpack(">Q", stored[:8])[0], c.u8() == stored[8], c.longstr("text", 65_536).decode())
    except Exception as error:  # noqa: BLE001
        got = ("cannot open", str(error))
    check("7.7.6: the recipient opens it; sealed expires_at and count = the clear ones", got,
          ((11, ID1, "alice@hq", "wu@traffic", sent_at), True, True, "Gate code 4471."))

    # Receipts (section 7.7.5): Ed25519 over the context and the fields.
    for name, event, subject, deleted_at in (("receipt_viewed", 2, "wu@traffic", 1_764_000_060_000),
                                             ("receipt_forwarded", 1, "district via city", 1_764_000_001_000)):
        unsigned = receipt_unsigned(ID1, "alice@hq", "traffic", event, subject, deleted_at)
        signed = b"sealpost burn receipt v1" + unsigned
        if name == "receipt_viewed":
            check("7.7.5: signed bytes = context || fields", signed, hx("receipt_viewed_signed"))
        signature = node.sign(signed).signature
        check(f"7.7.5: {name} = fields || Ed25519(seed, context || fields)", unsigned + signature, hx(name))
        check(f"7.7.5: {name} verifies with the node's key", ed25519_ok(bytes(node.verify_key), signed, hx(name)[-64:]), True)
        mid = hashlib.blake2b(b"receipt" + ID1 + b"traffic" + bytes([0, event]) + subject.encode(), digest_size=16).digest()
        check(f"7.7.5: {name} envelope id = BLAKE2b-128('receipt' || burn || node || 00 event || subject)",
              mid, hx(name + "_message_id"))
    moved = receipt_unsigned(ID1, "mallory@hq", "traffic", 2, "wu@traffic", 1_764_000_060_000)
    check("7.7.5: a receipt moved to another sender does not verify",
          ed25519_ok(bytes(node.verify_key), b"sealpost burn receipt v1" + moved, hx("receipt_viewed")[-64:]), False)

    check("7.7.8: capture content = burn at how", octets(ID1, 16) + u64(1_764_000_070_000) + string("screenshot"),
          hx("capture_content"))
    check("7.7.9: quoting body = ref || body", ID1 + bytes.fromhex("deadbeef"), hx("quote_body"))

    # Sizes (section 7.4): six 2 MiB images and the longest text, sealed for 500 members, fit.
    longest = "a" * 32 + "@" + "b" * 32
    biggest_content = 8 + 1 + 4 + 65_536 + 6 * (1 + 255 + 4 + 2 * 1024 * 1024)
    biggest_inner = 1 + 16 + 2 * (1 + len(longest)) + 8 + 4 + biggest_content
    biggest = 9 + 1 + 24 + 4 + 16 + biggest_inner + 2 + (MAX_GROUP_MEMBERS - 1) * (1 + len(longest) + 104)
    check("7.4: the largest group burn message fits in 12.5 MiB with room for its fan-out",
          biggest + 4096 + MAX_GROUP_MEMBERS * 66 <= MAX_LARGE_BODY, True)


# ---------------------------------------------------------------------------
# Files (section 7.8, commands 6.23-6.27 and 11.5.10-11.5.13, vectors 18.10)
# ---------------------------------------------------------------------------

PLAIN_CHUNK = 131072
SS_ABYTES = 17
MAX_FILE = 2147483648


def file_chunk_count(plain_size):
    return max(1, (plain_size + PLAIN_CHUNK - 1) // PLAIN_CHUNK)


def file_cipher_size(plain_size):
    return plain_size + SS_ABYTES * file_chunk_count(plain_size)


def file_consistent(cipher_size, chunks):
    """Section 7.8.1: a declared size and chunk count describe a file of at most 2 GiB."""
    if chunks < 1 or chunks > MAX_FILE // PLAIN_CHUNK or cipher_size < SS_ABYTES * chunks:
        return False
    plain = cipher_size - SS_ABYTES * chunks
    return plain <= MAX_FILE and file_chunk_count(plain) == chunks


def file_encrypt(plain, key, header, file_id):
    """Section 7.8.2: secretstream from `header` (init_pull gives the push state), AD = file id."""
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
    n = file_chunk_count(len(plain))
    out = []
    for i in range(n):
        tag = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL if i == n - 1 else sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
        out.append(sodium.crypto_secretstream_xchacha20poly1305_push(state, plain[i * PLAIN_CHUNK:(i + 1) * PLAIN_CHUNK], file_id, tag))
    return out


def file_decrypt(chunks, key, header, file_id):
    """Opens chunks in order; raises on a bad chunk, an early final tag or a missing one (truncation)."""
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
    plain = b""
    for i, c in enumerate(chunks):
        m, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, c, file_id)
        last = i == len(chunks) - 1
        if (tag == sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL) != last:
            raise ValueError("final tag in the wrong place (truncated or extended)")
        plain += m
    return plain


def file_manifest(flags, file_id, name, size, chunk_size, key, header, digest):
    return u8(1) + u8(flags) + octets(file_id, 16) + string(name) + u64(size) + u32(chunk_size) + octets(key, 32) + octets(header, 24) + octets(digest, 32)


def decode_file_command(frame):
    """Sections 6.23-6.27 and 11.5.10-11.5.13: the file commands of both protocols."""
    r = Reader(frame)
    if r.octets(2, "signature") != b"\xaa\x5c" or r.u8("version") != 1:
        raise Malformed("header", "not a Sealpost frame")
    cid = r.u8("command")
    fid = r.octets(16, "file_id")
    if cid == 0x18:
        out = ("FILE-BEGIN", fid, r.u64("size"), r.u32("chunks"))
    elif cid == 0x19:
        out = ("FILE-STATUS", fid, r.u32("have"), r.u32("chunks"))
    elif cid == 0x1A:
        out = ("FILE-CHUNK", fid, r.u32("index"), r.longstr("data", PLAIN_CHUNK + SS_ABYTES))
    elif cid == 0x1B:
        out = ("FILE-GET", fid, r.u32("from"), r.u32("count"))
    elif cid == 0x1C:
        out = ("FILE-DONE", fid)
    elif cid == 0x29:
        origin = r.string("origin")
        if not is_name(origin):
            raise Malformed("origin", "not a node name")
        size, chunks = r.u64("size"), r.u32("chunks")
        if not file_consistent(size, chunks):
            raise Malformed("size", "not a file of at most 2 GiB in 128 KiB chunks")
        out = ("FILE-PULL", fid, origin, size, chunks, r.u32("from"), r.u32("count"))
    elif cid == 0x2A:
        out = ("FILE-DATA", fid, r.u32("index"), r.octets(32, "hash"), r.longstr("data", PLAIN_CHUNK + SS_ABYTES))
    elif cid == 0x2B:
        have, known = r.u32("have"), r.u8("known")
        if known > 1:
            raise Malformed("known", "must be 0 or 1")
        out = ("FILE-HAVE", fid, have, known)
    elif cid == 0x2C:
        out = ("FILE-PULLED", fid)
    else:
        raise Malformed("command", "not a file command")
    r.end()
    return out


def file_outcome(fn):
    """"error" when fn is refused (malformed, does not authenticate, wrong final tag), else "accepted"."""
    try:
        fn()
        return "accepted"
    except (Malformed, ValueError, nacl.exceptions.CryptoError):
        return "error"


def check_file():
    v = load("file.json")
    key, header, fid = bytes.fromhex(v["key"]), bytes.fromhex(v["header"]), bytes.fromhex(v["file_id"])
    check("18.10 inputs", (key, header, fid), (seq(0x40, 32), seq(0x80, 24), seq(0xF0, 16)))
    plain = bytes((7 * i + 3) & 0xFF for i in range(v["plaintext_size"]))
    digest = hashlib.blake2b(plain, digest_size=32).digest()
    check("7.8: whole-file hash (BLAKE2b-256 of the plaintext)", digest.hex(), v["plaintext_blake2b_256"])
    chunks = file_encrypt(plain, key, header, fid)
    check("7.8: chunk count", len(chunks), len(v["chunks"]))
    for i, (c, want) in enumerate(zip(chunks, v["chunks"])):
        check(f"7.8: chunk {i} size", len(c), want["size"])
        check(f"7.8: chunk {i} BLAKE2b-256", hashlib.blake2b(c, digest_size=32).hexdigest(), want["blake2b_256"])
        check(f"7.8: chunk {i} first and last bytes", (c[:32].hex(), c[-32:].hex()), (want["first_32"], want["last_32"]))
    check("7.8: the short final chunk", chunks[1].hex(), v["chunk_1"])
    check("7.8: an empty file is one empty final chunk", file_encrypt(b"", key, header, fid)[0].hex(), v["empty_file_chunk"])
    check("7.8: chunks open in order back to the plaintext", file_decrypt(chunks, key, header, fid) == plain, True)
    check("7.8: a missing final chunk is truncation", file_outcome(lambda: file_decrypt(chunks[:1], key, header, fid)), "error")
    check("7.8: chunks out of order do not open", file_outcome(lambda: file_decrypt(chunks[::-1], key, header, fid)), "error")
    check("7.8: another file id does not open", file_outcome(lambda: file_decrypt(chunks, key, header, seq(0, 16))), "error")
    check("7.8: cipher size", file_cipher_size(len(plain)), v["cipher_size"])
    for limit in v["limits"]:
        n, size = file_chunk_count(limit["plaintext_size"]), file_cipher_size(limit["plaintext_size"])
        check(f"7.8.1: {limit['plaintext_size']} bytes: chunks and cipher size", (n, size), (limit["chunks"], limit["cipher_size"]))
        check(f"7.8.1: {limit['plaintext_size']} bytes: accepted", file_consistent(size, n), limit["valid"])
    f = v["manifest_fields"]
    check("7.8.3: manifest", file_manifest(f["flags"], fid, f["name"], f["size"], f["chunk_size"], key, header, digest).hex(), v["manifest"])
    check("7.8.3: offer header", (u8(1) + fid + u64(v["cipher_size"]) + u32(len(chunks))).hex(), v["offer_header"])
    cipher_size = v["cipher_size"]
    head = lambda cid: b"\xaa\x5c\x01" + u8(cid) + fid
    want = {
        "FILE-BEGIN": head(0x18) + u64(cipher_size) + u32(2),
        "FILE-STATUS": head(0x19) + u32(1) + u32(2),
        "FILE-CHUNK": head(0x1A) + u32(1) + longstr(chunks[1]),
        "FILE-GET": head(0x1B) + u32(0) + u32(64),
        "FILE-DONE": head(0x1C),
        "FILE-PULL": head(0x29) + string("hq") + u64(cipher_size) + u32(2) + u32(0) + u32(64),
        "FILE-DATA": head(0x2A) + u32(1) + hashlib.blake2b(chunks[1], digest_size=32).digest() + longstr(chunks[1]),
        "FILE-HAVE": head(0x2B) + u32(0) + u8(0),
        "FILE-PULLED": head(0x2C),
    }
    for entry in v["commands"] + v["peer_commands"]:
        frame = bytes.fromhex(entry["hex"])
        check(f"6.23/11.5.10: {entry['name']} encoding", frame.hex(), want[entry["name"]].hex())
        check(f"6.23/11.5.10: {entry['name']} decodes", decode_file_command(frame)[0], entry["name"])
    check("6.25: a chunk over 131089 bytes is refused",
          file_outcome(lambda: decode_file_command(head(0x1A) + u32(0) + longstr(bytes(PLAIN_CHUNK + SS_ABYTES + 1)))), "error")
    check("11.5.10: a pull for a file over 2 GiB is refused",
          file_outcome(lambda: decode_file_command(head(0x29) + string("hq") + u64(file_cipher_size(MAX_FILE + 1)) + u32(16385) + u32(0) + u32(1))), "error")


def receipt_ids(body):
    """Section 7.10.1: count:u16 (1..256) ids, none twice, nothing after."""
    r = Reader(body)
    count = r.u16("count")
    if not 1 <= count <= 256:
        raise Malformed("count", "1 to 256 ids")
    ids = [r.octets(16, "id") for _ in range(count)]
    if len(set(ids)) != len(ids):
        raise Malformed("id", "repeated")
    r.end()
    return ids


def check_receipts():
    v = load("receipts.json")
    hx = lambda name: bytes.fromhex(v[name])  # noqa: E731
    id1, id2, id3 = seq(0x00, 16), seq(0x10, 16), seq(0x20, 16)
    wu_sk, alice_sk, nonce = seq(0x41, 32), seq(0x01, 32), seq(0x81, 24)
    check("receipts.json: ids, secrets, nonce", ([bytes.fromhex(x) for x in v["ids"]], hx("seen_id"), hx("sender_box_secret"),
          hx("recipient_box_secret"), hx("nonce")), ([id1, id2], id3, wu_sk, alice_sk, nonce))
    body = u16(2) + id1 + id2
    check("7.10.1: delivered body = count:u16 ids", body, hx("delivered_body"))
    check("7.10.1: the list decodes back", receipt_ids(hx("delivered_body")), [id1, id2])
    mid = hashlib.blake2b(b"delivered" + b"wu@traffic" + b"\x00" + b"alice@hq" + b"\x00" + id1 + id2, digest_size=16).digest()
    check("7.10.2: delivered id = BLAKE2b-128('delivered' || from || 00 || to || 00 || ids)", mid, hx("delivered_id"))
    k = sodium.crypto_box_beforenm(sodium.crypto_scalarmult_base(alice_sk), wu_sk)
    inner = inner_plaintext(17, id3, "wu@traffic", "alice@hq", v["seen_sent_at"], body)
    sealed = b"\x01" + nonce + sodium.crypto_box_easy_afternm(inner, nonce, k)
    check("7.10.1: seen body = 1:1 body of section 8, inner kind 17, content = ids", sealed, hx("seen_body"))
    back = sodium.crypto_box_beforenm(sodium.crypto_scalarmult_base(wu_sk), alice_sk)
    stored = hx("seen_body")
    plain = sodium.crypto_box_open_easy_afternm(stored[25:], stored[1:25], back)
    r = Reader(plain)
    head = (r.u8(), r.octets(16), r.string(), r.string(), r.u64())
    content = r.longstr("content", MAX_BODY)
    r.end()
    check("7.10.3: the sender opens it: its header and ids", (head, receipt_ids(content)),
          ((17, id3, "wu@traffic", "alice@hq", v["seen_sent_at"]), [id1, id2]))
    for name, text in sorted(v["malformed"].items()):
        bad = bytes.fromhex(text)
        try:
            receipt_ids(bad)
            got = "accepted"
        except (Malformed, ValueError):
            got = "refused"
        check(f"7.10.1: an id list that is {name.replace('_', ' ')} is refused", got, "refused")
        try:
            relay_clear_header(16, bad)
            got = "accepted"
        except (Malformed, ValueError):
            got = "refused"
        check(f"11.5.2: a relayed delivered receipt that is {name.replace('_', ' ')} is malformed", got, "refused")
    check("7.10.1: the malformed cases", sorted(v["malformed"]), ["count_over_256", "count_zero", "repeated_id", "short", "trailing_byte"])


# The command tables of SPEC.md (sections 4.2 and 11.4) against the vectors: every
# command of a table has a vector whose command byte is its id, and every vector's
# command is in its table (the Swift enums are compared with the same tables by
# ProtocolTableTests.swift).


# ---- audit log (section 15.7) ----

AUDIT_RECORD_CONTEXT = b"sealpost audit record v1"
AUDIT_HEAD_CONTEXT = b"sealpost audit head v1"
AUDIT_KINDS = {1: "forward", 2: "forward_refused", 3: "forward_hop", 4: "burn_viewed", 5: "file_fetched",
               6: "user_enabled", 7: "user_disabled", 8: "user_removed", 9: "user_rekeyed", 10: "invite_created",
               11: "invite_used", 12: "invite_revoked", 13: "peer_added", 14: "peer_removed", 15: "directory_forget",
               16: "directory_unpin", 17: "backup", 18: "restore", 19: "officer_granted", 20: "officer_revoked",
               21: "trace_query_answered", 22: "audit_head_signed", 23: "viewer_code", 24: "label_refused",
               25: "clearance_set", 26: "group_label_changed", 27: "label_downgraded"}


def blake2b_256(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def audit_canonical(r):
    """Section 15.7.1: the canonical bytes of a record, from its fields."""
    ref = bytes.fromhex(r["ref"]) if r["ref"] else b""
    if len(ref) not in (0, 16):
        raise Malformed("ref", "not 0 or 16 bytes")
    return (u64(r["position"]) + u64(r["time"]) + u8(r["kind"]) + string(r["actor"]) + string(r["subject"])
            + u8(len(ref)) + ref + longstr(bytes.fromhex(r["detail"])))


def audit_decode(data):
    """Section 15.7.1 decoding rules: a known kind, ref 0 or 16, detail at most 4096, nothing after."""
    rd = Reader(data)
    out = {"position": rd.u64("position"), "time": rd.u64("time"), "kind": rd.u8("kind")}
    if out["kind"] not in AUDIT_KINDS:
        raise Malformed("kind", "unknown audit kind")
    out["actor"] = rd.string("actor")
    out["subject"] = rd.string("subject")
    n = rd.u8("ref")
    if n not in (0, 16):
        raise Malformed("ref", "not 0 or 16 bytes")
    out["ref"] = rd.octets(n, "ref").hex()
    out["detail"] = rd.longstr("detail", 4096).hex()
    rd.end()
    return out


def audit_hash(prev, canonical):
    return blake2b_256(AUDIT_RECORD_CONTEXT + prev + canonical)


def tree_leaf(record_hash):
    return blake2b_256(b"\x00" + record_hash)


def tree_node(left, right):
    return blake2b_256(b"\x01" + left + right)


def tree_root(leaves):
    """RFC 6962 section 2.1, written from the RFC: split at the largest power of two below n."""
    if not leaves:
        return blake2b_256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k << 1 < len(leaves):
        k <<= 1
    return tree_node(tree_root(leaves[:k]), tree_root(leaves[k:]))


def tree_verify(leaf, index, size, path, root):
    """RFC 9162 section 2.1.3.2, the inclusion check."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = tree_node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = tree_node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def audit_head_bytes(node, position, root, time):
    return AUDIT_HEAD_CONTEXT + string(node) + u64(position) + root + u64(time)


def ed25519_verifies(key, message, signature):
    try:
        nacl.signing.VerifyKey(key).verify(message, signature)
        return True
    except nacl.exceptions.BadSignatureError:
        return False


def audit_first_bad(records, heads, key, node):
    """Section 15.7.4, from the spec: the first bad position of a log and its heads, or None.

    `records` are dicts with the fields and the stored `prev` and `hash`; `heads` dicts with
    position, root, time, signature (bytes).
    """
    prev = bytes(32)
    leaves = []
    by_position = {}
    for h in heads:
        if h["position"] > 0:
            by_position.setdefault(h["position"], []).append(h)
    for expected, r in enumerate(records, start=1):
        if r["position"] != expected:
            return expected
        if bytes.fromhex(r["prev"]) != prev:
            return expected
        h = audit_hash(prev, audit_canonical(r))
        if "hash" in r and bytes.fromhex(r["hash"]) != h:
            return expected
        leaves.append(tree_leaf(h))
        prev = h
        for head in by_position.get(expected, []):
            if not ed25519_verifies(key, audit_head_bytes(node, head["position"], head["root"], head["time"]), head["signature"]):
                return expected
            if tree_root(leaves) != head["root"]:
                return expected
    if any(p > len(records) for p in by_position):
        return len(records) + 1
    return None


def check_audit():
    v = load("audit.json")
    seed = bytes.fromhex(v["node_sign_seed"])
    signing = nacl.signing.SigningKey(seed)
    key = bytes(signing.verify_key)
    check("audit: the node key derived from the seed", key.hex(), v["node_sign_public"])
    check("audit: the empty tree is H('')", blake2b_256(b"").hex(), v["empty_root"])
    prev = bytes(32)
    leaves = []
    for r in v["records"]:
        label = f"audit record {r['position']} ({r['kind_name']})"
        check(f"{label}: kind name", AUDIT_KINDS.get(r["kind"]), r["kind_name"])
        canonical = audit_canonical(r)
        check(f"{label}: canonical bytes from its fields", canonical.hex(), r["canonical"])
        check(f"{label}: decoded back", audit_decode(canonical),
              {k: r[k] for k in ("position", "time", "kind", "actor", "subject", "ref", "detail")})
        check(f"{label}: prev is the hash of the record before", r["prev"], prev.hex())
        h = audit_hash(prev, canonical)
        check(f"{label}: hash", h.hex(), r["hash"])
        check(f"{label}: leaf", tree_leaf(h).hex(), r["leaf"])
        leaves.append(tree_leaf(h))
        check(f"{label}: tree root at size {len(leaves)}", tree_root(leaves).hex(), v["roots"][len(leaves) - 1])
        prev = h
    head = v["head"]
    root = tree_root(leaves)
    check("audit head: root", root.hex(), head["root"])
    signed = audit_head_bytes(v["node"], head["position"], root, head["time"])
    check("audit head: signed bytes", signed.hex(), head["signed_bytes"])
    check("audit head: signature (Ed25519 is deterministic)", signing.sign(signed).signature.hex(), head["signature"])
    check("audit head: verifies with the node key", ed25519_verifies(key, signed, bytes.fromhex(head["signature"])), True)
    check("audit head: wire form", (string(v["node"]) + u64(head["position"]) + root + u64(head["time"])
                                    + bytes.fromhex(head["signature"])).hex(), head["wire"])
    proof = v["proof"]
    path = [bytes.fromhex(p) for p in proof["path"]]
    rec = v["records"][proof["position"] - 1]
    leaf = bytes.fromhex(rec["leaf"])
    check("audit proof: record 3 is in the tree of 5", tree_verify(leaf, proof["position"] - 1, proof["tree_size"], path, root), True)
    altered = dict(rec, subject="someone@else")
    altered_leaf = tree_leaf(audit_hash(bytes.fromhex(rec["prev"]), audit_canonical(altered)))
    check("audit proof: an altered record is not", tree_verify(altered_leaf, 2, 5, path, root), False)
    check("audit proof: nor the record at another position", tree_verify(leaf, 3, 5, path, root), False)
    check("audit proof: wire form", (longstr(bytes.fromhex(rec["canonical"])) + bytes.fromhex(rec["prev"]) + u8(len(path))
                                     + b"".join(path) + bytes.fromhex(head["wire"])).hex(), proof["wire"])
    # Verification (15.7.4) on the vector log and on damaged copies of it.
    heads = [{"position": 5, "root": root, "time": head["time"], "signature": bytes.fromhex(head["signature"])}]
    recs = v["records"]
    check("audit verify: the vector log is good", audit_first_bad(recs, heads, key, v["node"]), None)
    edited = [dict(r) for r in recs]
    edited[1]["subject"] = "x@hq"
    check("audit verify: an edited record is found at its position", audit_first_bad(edited, heads, key, v["node"]), 2)
    check("audit verify: a removed record", audit_first_bad(recs[:2] + recs[3:], heads, key, v["node"]), 3)
    swapped = [dict(r) for r in recs]
    swapped[2], swapped[3] = dict(recs[3], position=3), dict(recs[2], position=4)
    check("audit verify: two swapped records", audit_first_bad(swapped, heads, key, v["node"]), 3)
    check("audit verify: a tail cut below the signed head", audit_first_bad(recs[:3], heads, key, v["node"]), 4)
    forged = [dict(heads[0], signature=bytes(64))]
    check("audit verify: a forged head", audit_first_bad(recs, forged, key, v["node"]), 5)
    for bad, why in ((canonical_with(recs[0], kind=99), "unknown kind"), (bytes.fromhex(recs[0]["canonical"]) + b"\x00", "trailing byte")):
        try:
            audit_decode(bad)
            check(f"audit decode refuses a record with an {why}", "accepted", "refused")
        except Malformed:
            check(f"audit decode refuses a record with an {why}", "refused", "refused")


def canonical_with(r, **fields):
    return audit_canonical(dict(r, **fields))


def check_audit_export(path):
    """`check_vectors.py --audit-export FILE`: verifies an archived `sealpost-node audit export`."""
    with open(path, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    meta = lines[0]
    check("export: its first line describes it", meta.get("format"), "sealpost-audit-export")
    key = bytes.fromhex(meta["sign_key"])
    records = [x for x in lines[1:] if "head" not in x]
    heads = [{"position": x["head"]["position"], "root": bytes.fromhex(x["head"]["root"]), "time": x["head"]["time_ms"],
              "signature": bytes.fromhex(x["head"]["signature"])} for x in lines[1:] if "head" in x]
    for r in records:
        r["kind"] = {n: k for k, n in AUDIT_KINDS.items()}.get(r["kind"], -1)
        r["time"] = r["time_ms"]
        r["ref"] = r["ref"] or ""
    bad = audit_first_bad(records, heads, key, meta["node"])
    print(f"{meta['node']}: {len(records)} records, {len(heads)} signed heads: "
          + ("verified" if bad is None else f"BROKEN at position {bad}"))
    check("export: the log verifies against its signed heads", bad, None)
    check("export: the last head covers every record", bool(heads) and max(h["position"] for h in heads) >= len(records) - 1, True)


SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "SPEC.md")


# ---------------------------------------------------------------------------
# Federated trace (SPEC.md 6.28, 6.29, 11.5.14, 11.5.15, 11.7)
# ---------------------------------------------------------------------------

TRACE_SEED = bytes(range(0x61, 0x61 + 32))  # seq(61, 32): the asking node's signing key
TRACE_ANSWER_SEED = bytes(range(0x81, 0x81 + 32))  # seq(81, 32): the answering node's
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def trace_subject(kind, subject):
    return u8(kind) + (octets(subject, 16) if kind == 1 else string(subject))


def trace_query_signed(f):
    return (b"sealpost trace query v1" + octets(f["query_id"], 16) + string(f["origin"]) + string(f["dest"])
            + u64(f["asked_at"]) + string(f["officer"]) + trace_subject(f["subject_kind"], f["subject"]))


def trace_query(f, signature):
    return (b"\xaa\x5c\x01\x2d" + octets(f["query_id"], 16) + string(f["origin"]) + string(f["dest"]) + u8(f["hops"])
            + u64(f["asked_at"]) + string(f["officer"]) + trace_subject(f["subject_kind"], f["subject"]) + signature)


def trace_answer_unsigned(f):
    out = (octets(f["query_id"], 16) + string(f["node"]) + string(f["asker"]) + trace_subject(f["subject_kind"], f["subject"])
           + u8(f["status"]) + string(f["reason"]) + u64(f["answered_at"]) + u16(len(f["records"])))
    for r in f["records"]:
        out += u64(r["position"]) + longstr(bytes.fromhex(r["record"])) + longstr(bytes.fromhex(r["proof"]))
    return out + longstr(bytes.fromhex(f["head"])) + u32(f["truncated"])


def trace_answer_body(f, seed):
    unsigned = trace_answer_unsigned(f)
    return unsigned + nacl.signing.SigningKey(seed).sign(b"sealpost trace answer v1" + unsigned).signature


def viewer_code(text):
    """Section 11.7.4: (node, token) or None."""
    parts = text.strip(" \t\r\n").split("-")
    if len(parts) < 3:
        return None
    token = ""
    for group in parts[-2:]:
        group = group.upper()
        if len(group) != 4:
            return None
        for c in group:
            c = "0" if c == "O" else "1" if c in "IL" else c
            if c not in CROCKFORD:
                return None
            token += c
    node = "-".join(parts[:-2]).lower()
    return (node, token) if is_name(node) else None


def decode_trace_answer(data):
    r = Reader(data)
    qid = r.octets(16, "query_id")
    node, asker = r.string("node"), r.string("asker")
    if not is_name(node) or not is_name(asker):
        raise Malformed("node", "not a node name")
    kind = r.u8("subject_kind")
    if kind == 1:
        subject = r.octets(16, "subject")
    elif kind == 2:
        subject = r.string("subject")
        if viewer_code(subject) is None:
            raise Malformed("subject", "not a viewer code")
    else:
        raise Malformed("subject_kind", "not 1 or 2")
    status = r.u8("status")
    if status > 1:
        raise Malformed("status", "not 0 or 1")
    reason, at, n = r.string("reason"), r.u64("answered_at"), r.u16("count")
    if n > 4096:
        raise Malformed("count", "over 4096")
    records = [(r.u64("position"), r.longstr("record", 65536), r.longstr("proof", 65536)) for _ in range(n)]
    head, truncated, signature = r.longstr("head", 65536), r.u32("truncated"), r.octets(64, "signature")
    r.end()
    if status == 1 and records:
        raise Malformed("count", "a refusal carries no records")
    return qid, node, asker, kind, subject, status, reason, at, records, head, truncated, signature


def check_trace():
    v = load("trace.json")
    q = v["query"]
    qf = dict(q["fields"], query_id=bytes.fromhex(q["fields"]["query_id"]), subject=bytes.fromhex(q["fields"]["subject"]))
    key = nacl.signing.SigningKey(TRACE_SEED)
    check("18.11 asking node key", key.verify_key.encode().hex(), v["asking_node_sign_key"])
    signature = key.sign(trace_query_signed(qf)).signature
    check("11.5.14: TRACE-QUERY signed bytes", trace_query_signed(qf).hex(), q["signed"])
    check("11.5.14: TRACE-QUERY encoding", trace_query(qf, signature).hex(), q["hex"])
    # hops is not signed: a relay raises it and the signature still holds.
    relayed = dict(qf, hops=3)
    check("11.7: a relay's hops do not change the signed bytes", trace_query_signed(relayed), trace_query_signed(qf))
    for a in v["answers"]:
        f = dict(a["fields"], query_id=bytes.fromhex(a["fields"]["query_id"]))
        if f["subject_kind"] == 1:
            f["subject"] = bytes.fromhex(f["subject"])
        body = trace_answer_body(f, TRACE_ANSWER_SEED)
        check(f"11.5.15: answer body ({a['name']})", body.hex(), a["body"])
        decoded = decode_trace_answer(body)
        check(f"11.5.15: answer body decodes ({a['name']})", (decoded[1], decoded[5], len(decoded[8])),
              (f["node"], f["status"], len(f["records"])))
        frame = (b"\xaa\x5c\x01\x2e" + f["query_id"] + string(f["node"]) + string(f["asker"]) + u8(0) + longstr(body))
        check(f"11.5.15: TRACE-ANSWER encoding ({a['name']})", frame.hex(), a["hex"])
    answer_key = nacl.signing.SigningKey(TRACE_ANSWER_SEED).verify_key
    check("18.11 answering node key", answer_key.encode().hex(), v["answering_node_sign_key"])
    body = bytes.fromhex(v["answers"][1]["body"])
    tampered = bytearray(body)
    tampered[40] ^= 1
    for name, data, want in (("as signed", body, True), ("one byte changed", bytes(tampered), False)):
        try:
            answer_key.verify(b"sealpost trace answer v1" + data[:-64], data[-64:])
            ok = True
        except nacl.exceptions.BadSignatureError:
            ok = False
        check(f"11.7.2: answer signature {name}", ok, want)
    for c in v["commands"]:
        check(f"6.28/6.29: {c['name']} bytes", c["hex"][:8], "aa5c01" + {"TRACE": "1d", "TRACE-RESULT": "1e"}[c["name"]])
    for case in v["codes"]:
        got = viewer_code(case["text"])
        check(f"11.7.4: viewer code '{case['text']}'", list(got) if got else None, case["parsed"])
    for bad in v["malformed_answers"]:
        try:
            decode_trace_answer(bytes.fromhex(bad["hex"]))
            outcome = "accepted"
        except Malformed as error:
            outcome = error.field
        check(f"11.5.15: malformed answer ({bad['why']})", outcome, bad["field"])


def spec_table(heading):
    """{name: id} of the command table under `heading` in SPEC.md."""
    with open(SPEC, encoding="utf-8") as f:
        lines = f.read().split("\n")
    start = lines.index(heading)
    rows = {}
    for line in lines[start + 1:]:
        if line.startswith("#"):
            break
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 6 and cells[1].startswith("`") and cells[1].endswith("`"):
            rows[cells[2]] = int(cells[1].strip("`"), 16)
    return rows


def check_spec_tables():
    files = load("file.json")
    for heading, file, table, file_key in (("### 4.2 Command ids", "commands.json", COMMANDS, "commands"),
                                           ("### 11.4 Command ids", "peer-commands.json", PEER_COMMANDS, "peer_commands")):
        spec = spec_table(heading)
        vectors = [(x["command"], x["hex"]) for x in load(file)["vectors"]]
        vectors += [(x["name"], x["hex"]) for x in files[file_key]]
        vectors += [(x["name"], x["hex"]) for x in load("trace.json")[file_key]]
        if file_key == "commands":
            vectors += [(x["name"], x["hex"]) for x in load("labels.json")["commands"]]
            vectors += [(x["name"], x["hex"]) for x in load("downgrade.json")["commands"]]
        got = {name: bytes.fromhex(frame)[3] for name, frame in vectors}
        check(f"{heading[4:]}: every command of SPEC.md has a vector, and every vector a row",
              sorted(got), sorted(spec))
        check(f"{heading[4:]}: each vector's command byte is its id in SPEC.md",
              {n: got[n] for n in sorted(got) if n in spec}, {n: spec[n] for n in sorted(spec) if n in got})
        check(f"{heading[4:]}: the codec here uses the ids of SPEC.md",
              {n: table[n][0] for n in sorted(table)}, {n: spec.get(n) for n in sorted(table)})



# ---------------------------------------------------------------------------
# Forwarding (section 7.9) against forward.json.

FWD_CONTEXTS = {"origin": b"sealpost-fwd-origin-v1", "hop": b"sealpost-fwd-hop-v1", "link": b"sealpost-fwd-link-v1",
                "content": b"sealpost-fwd-content-v1", "rcpt": b"sealpost-fwd-rcpt-v1",
                "countersign": b"sealpost-fwd-countersign-v1"}


def fwd_keyed(key, data):
    return hashlib.blake2b(data, digest_size=32, key=key).digest()


def fwd_origin_fields(o):
    return (u8(1) + bytes.fromhex(o["id"]) + string(o["sender"]) + string(o["to"]) + u64(o["sent_at"]) + u8(o["content_kind"])
            + u8(o["scope"]) + u8(o["max_hops"]) + u16(o["max_recipients"]) + bytes.fromhex(o["content_hash"]))


def fwd_hop_fields(h, parent):
    return (string(h["forwarder"]) + string(h["via"]) + u16(h["recipient_count"]) + bytes.fromhex(h["recipient_set"]) + u64(h["at"])
            + parent)


def fwd_recipient_set(key, recipients):
    unique = sorted(set(recipients), key=lambda a: a.encode())
    return fwd_keyed(key, FWD_CONTEXTS["rcpt"] + u16(len(unique)) + b"".join(string(r) for r in unique))


def fwd_verify_chain(v, origin_encoded, hops_encoded, content, keys, hash_key, envelope_from):
    """The recipient's check of 7.9.6 on raw records: a list of problems (empty: verified)."""
    problems = []
    fields = origin_encoded[:-64]
    if not ed25519_verifies(keys[v["origin"]["sender"]], FWD_CONTEXTS["origin"] + fields, origin_encoded[-64:]):
        problems.append("origin signature")
    content_hash = fields[-32:]
    if fwd_keyed(hash_key, FWD_CONTEXTS["content"] + u8(v["origin"]["content_kind"]) + content) != content_hash:
        problems.append("content hash")
    parent = blake2b_256(FWD_CONTEXTS["link"] + origin_encoded)
    for i, (h, raw) in enumerate(zip(v["hops"], hops_encoded)):
        if raw[-64 - 32:-64] != parent:
            problems.append(f"hop {i + 1} link")
        if not ed25519_verifies(keys[h["forwarder"]], FWD_CONTEXTS["hop"] + raw[:-64], raw[-64:]):
            problems.append(f"hop {i + 1} signature")
        parent = blake2b_256(FWD_CONTEXTS["link"] + raw)
    if v["hops"][-1]["forwarder"] != envelope_from:
        problems.append("last forwarder")
    return problems


def check_forward():
    v = load("forward.json")
    keys = {}
    for who, seed in v["seeds"].items():
        signing = nacl.signing.SigningKey(bytes.fromhex(seed))
        keys[who] = bytes(signing.verify_key)
        check(f"forward: the sign key of {who} from its seed", keys[who].hex(), v["public_keys"][who])
    hash_key = bytes.fromhex(v["hash_key"])
    content = v["content_utf8"].encode()
    o = v["origin"]
    check("forward origin: keyed content hash", fwd_keyed(hash_key, FWD_CONTEXTS["content"] + u8(o["content_kind"]) + content).hex(),
          o["content_hash"])
    signed = FWD_CONTEXTS["origin"] + fwd_origin_fields(o)
    check("forward origin: signed bytes", signed.hex(), o["signed_bytes"])
    li = nacl.signing.SigningKey(bytes.fromhex(v["seeds"][o["sender"]]))
    check("forward origin: signature (Ed25519 is deterministic)", li.sign(signed).signature.hex(), o["signature"])
    origin_encoded = fwd_origin_fields(o) + bytes.fromhex(o["signature"])
    check("forward origin: encoded", origin_encoded.hex(), o["encoded"])
    check("forward origin: link", blake2b_256(FWD_CONTEXTS["link"] + origin_encoded).hex(), o["link"])
    check("forward origin: a guess of the content without the key does not give the hash",
          blake2b_256(FWD_CONTEXTS["content"] + u8(o["content_kind"]) + content).hex() != o["content_hash"], True)
    parent = bytes.fromhex(o["link"])
    hops_encoded = []
    for i, h in enumerate(v["hops"]):
        label = f"forward hop {i + 1}"
        check(f"{label}: recipient set", fwd_recipient_set(hash_key, h["recipients"]).hex(), h["recipient_set"])
        check(f"{label}: parent is the link of the record before", h["parent"], parent.hex())
        signed = FWD_CONTEXTS["hop"] + fwd_hop_fields(h, parent)
        check(f"{label}: signed bytes", signed.hex(), h["signed_bytes"])
        signer = nacl.signing.SigningKey(bytes.fromhex(v["seeds"][h["forwarder"]]))
        check(f"{label}: signature", signer.sign(signed).signature.hex(), h["signature"])
        raw = fwd_hop_fields(h, parent) + bytes.fromhex(h["signature"])
        check(f"{label}: encoded", raw.hex(), h["encoded"])
        parent = blake2b_256(FWD_CONTEXTS["link"] + raw)
        check(f"{label}: link", parent.hex(), h["link"])
        hops_encoded.append(raw)
    check("forward: the first hop's via is the origin's to", v["hops"][0]["via"] == o["to"] or v["hops"][0]["via"] == v["hops"][0]["forwarder"], True)
    header = u8(1) + origin_encoded + u8(len(hops_encoded)) + b"".join(hops_encoded)
    check("forward: clear header (no offer: content_kind 1)", header.hex(), v["forward_header"])
    fc = v["forward_content"]
    sealed = (u8(1) + hash_key + longstr(content) + longstr(fc["note"].encode()) + u16(len(fc["recipients"]))
              + b"".join(string(r) for r in fc["recipients"]))
    check("forward: sealed content", sealed.hex(), fc["encoded"])
    check("forward: the last hop's recipient set matches the sealed list",
          fwd_recipient_set(hash_key, fc["recipients"]).hex(), v["hops"][-1]["recipient_set"])
    check("forward: provenance block", (u8(1) + hash_key + origin_encoded + content).hex(), v["provenance_block"])
    check("forward: flag bit 2, kind 15", (v["origin_flag"], v["forward_kind"]), (4, 15))
    last = v["hops"][-1]["forwarder"]
    check("forward: the chain verifies", fwd_verify_chain(v, origin_encoded, hops_encoded, content, keys, hash_key, last), [])
    bad = bytearray(hops_encoded[1])
    bad[-1] ^= 1
    check("forward: a forged hop signature is found",
          fwd_verify_chain(v, origin_encoded, [hops_encoded[0], bytes(bad)], content, keys, hash_key, last), ["hop 2 signature"])
    check("forward: altered content is found",
          fwd_verify_chain(v, origin_encoded, hops_encoded, content.replace(b"Friday", b"Monday"), keys, hash_key, last), ["content hash"])
    check("forward: a removed hop is found",
          fwd_verify_chain({**v, "hops": v["hops"][1:]}, origin_encoded, hops_encoded[1:], content, keys, hash_key, last), ["hop 1 link"])
    c = v["countersign"]
    statement = (bytes.fromhex(o["id"]) + string(o["sender"]) + string(c["to"]) + u8(c["hop_index"]) + u8(c["role"]) + u8(c["chain"])
                 + hops_encoded[c["hop_index"] - 1])
    check("forward countersign: statement", statement.hex(), c["statement"])
    signed = FWD_CONTEXTS["countersign"] + string(c["node"]) + statement
    check("forward countersign: signed bytes", signed.hex(), c["signed_bytes"])
    node = nacl.signing.SigningKey(bytes.fromhex(v["seeds"][c["node"]]))
    check("forward countersign: signature", node.sign(signed).signature.hex(), c["signature"])
    check("forward countersign: another node's name does not verify",
          ed25519_verifies(keys[c["node"]], FWD_CONTEXTS["countersign"] + string("hq") + statement, bytes.fromhex(c["signature"])), False)
# ---------------------------------------------------------------------------
# Downgrades (sections 7.9.1, 7.9.3, 7.11.11, 6.22.1) against downgrade.json.

DOWNGRADE_CONTEXTS = {"user": b"sealpost-downgrade-v1", "node": b"sealpost-downgrade-node-v1"}


def downgrade_holds(record, origin_encoded, origin_label, origin_unit, node_keys):
    """Section 7.11.11: whether a downgrade record (raw bytes) holds for an origin; returns (holds, to)."""
    r = Reader(record)
    version = r.u8("version")
    link = r.take(32, "origin_link")
    frm, to = r.u8("from"), r.u8("to")
    by, at, reason = r.string("by"), r.u64("at"), r.string("reason")
    user_signature = r.take(64, "user_signature")
    node = r.string("node")
    node_signature = r.take(64, "node_signature")
    statement = u8(version) + link + u8(frm) + u8(to) + string(by) + u64(at) + string(reason)
    ok = (version == 1 and to < frm <= origin_label and by.split("@")[1] == node == origin_unit
          and link == blake2b_256(FWD_CONTEXTS["link"] + origin_encoded) and node in node_keys
          and ed25519_verifies(node_keys[node], DOWNGRADE_CONTEXTS["node"] + statement + user_signature + string(node), node_signature))
    return ok, to


def check_downgrade():
    v = load("downgrade.json")
    signing = {who: nacl.signing.SigningKey(bytes.fromhex(seed)) for who, seed in v["seeds"].items()}
    keys = {who: bytes(k.verify_key) for who, k in signing.items()}
    hash_key = bytes.fromhex(v["hash_key"])
    content = v["content_utf8"].encode()
    o = v["origin"]
    fields = (u8(2) + bytes.fromhex(o["id"]) + string(o["sender"]) + string(o["to"]) + u64(o["sent_at"]) + u8(o["content_kind"])
              + u8(o["scope"]) + u8(o["max_hops"]) + u16(o["max_recipients"])
              + fwd_keyed(hash_key, FWD_CONTEXTS["content"] + u8(o["content_kind"]) + content) + u8(o["label"]))
    check("7.9.1 origin v2: signed bytes (label after content_hash)", (FWD_CONTEXTS["origin"] + fields).hex(), o["signed_bytes"])
    signature = signing[o["sender"]].sign(FWD_CONTEXTS["origin"] + fields).signature
    check("7.9.1 origin v2: signature", signature.hex(), o["signature"])
    origin_encoded = fields + signature
    check("7.9.1 origin v2: encoded", origin_encoded.hex(), o["encoded"])
    check("7.9.1 origin v2: link", blake2b_256(FWD_CONTEXTS["link"] + origin_encoded).hex(), o["link"])
    d = v["downgrade"]
    statement = (u8(1) + blake2b_256(FWD_CONTEXTS["link"] + origin_encoded) + u8(d["from"]) + u8(d["to"]) + string(d["by"])
                 + u64(d["at"]) + string(d["reason"]))
    check("7.11.11 downgrade: the person's signed bytes", (DOWNGRADE_CONTEXTS["user"] + statement).hex(), d["user_signed_bytes"])
    user_signature = signing[d["by"]].sign(DOWNGRADE_CONTEXTS["user"] + statement).signature
    check("7.11.11 downgrade: the person's signature", user_signature.hex(), d["user_signature"])
    node_signed = DOWNGRADE_CONTEXTS["node"] + statement + user_signature + string(d["node"])
    check("7.11.11 downgrade: the node's signed bytes", node_signed.hex(), d["node_signed_bytes"])
    node_signature = signing[d["node"]].sign(node_signed).signature
    check("7.11.11 downgrade: the node's signature", node_signature.hex(), d["node_signature"])
    record = statement + user_signature + string(d["node"]) + node_signature
    check("7.11.11 downgrade: encoded", record.hex(), d["encoded"])
    node_keys = {"hq": keys["hq"]}
    check("7.11.11 downgrade: it holds for its origin", downgrade_holds(record, origin_encoded, o["label"], "hq", node_keys), (True, 1))
    check("7.11.11 downgrade: not with another node's key",
          downgrade_holds(record, origin_encoded, o["label"], "hq", {"hq": keys["li@hq"]})[0], False)
    other = bytearray(origin_encoded)
    other[1] ^= 1
    check("7.11.11 downgrade: not for another origin", downgrade_holds(record, bytes(other), o["label"], "hq", node_keys)[0], False)
    h = v["hop"]
    hop_fields = (string(h["forwarder"]) + string(h["via"]) + u16(len(h["recipients"])) + fwd_recipient_set(hash_key, h["recipients"])
                  + u64(h["at"]) + blake2b_256(FWD_CONTEXTS["link"] + origin_encoded))
    hop_signature = signing[h["forwarder"]].sign(FWD_CONTEXTS["hop"] + hop_fields).signature
    check("7.9.1 hop: encoded", (hop_fields + hop_signature).hex(), h["encoded"])
    header = u8(2) + origin_encoded + u8(1) + hop_fields + hop_signature + u8(1) + record
    check("7.9.3 forward body v2: has_downgrade 1 and the record after the hops", header.hex(), v["forward_header"])
    effective = downgrade_holds(record, origin_encoded, o["label"], "hq", node_keys)
    check("7.11.11: the effective label is the downgrade's to", effective[1] if effective[0] else o["label"], v["effective_label"])
    check("7.11.11: a forward labelled 0 is below it, one labelled 1 is not", (0 < v["effective_label"], 1 < v["effective_label"]), (True, False))
    head = SIGNATURE + u8(VERSION) + u8(0x15)
    request = (head + u8(1) + origin_encoded + u8(0) + u8(d["from"]) + u8(d["to"]) + u64(d["at"]) + string(d["reason"]) + user_signature)
    answer = head + u8(2) + record
    check("6.22.1: DOWNGRADE frames (request, record)", [c["hex"] for c in v["commands"]], [request.hex(), answer.hex()])


# ---------------------------------------------------------------------------
# Labels (SPEC.md section 7.11, 9.7)
# ---------------------------------------------------------------------------

LABELLED_FLAG = 0x0008


def label_set_bytes(labels):
    return u8(len(labels)) + b"".join(string(x["name"]) + string(x["english"]) + u8(1 if x["state_secret"] else 0) for x in labels)


def label_verdict(c, labels):
    """Section 7.11.5 for one relay (ceiling, link) and one recipient (clearance)."""
    rank = c["label"]
    if rank >= len(labels):
        return "unknown_label"
    if labels[rank]["state_secret"] and rank not in c["accredited"]:
        return "not_accredited"
    if rank > c["ceiling"]:
        return "node_ceiling"
    if c["link"] is not None and rank > c["link"]:
        return "link_ceiling"
    if rank > c["clearance"]:
        return "not_cleared"
    return "allowed"


def open_labelled(body, k, header):
    """Section 7.11.3 as a recipient applies it: the content, or why it is refused.
    `header` is (kind, id, from, to, sent_at, label or None, readable_until)."""
    try:
        plain = sodium.crypto_box_open_easy_afternm(body[25:], body[1:25], k)
    except Exception:  # noqa: BLE001
        return "does not authenticate"
    r = Reader(plain)
    got = (r.u8(), r.octets(16), r.string(), r.string(), r.u64())
    inner_label = (r.u8(), r.u64()) if body[0] == 2 else None
    content = r.longstr()
    r.end()
    if got != header[:5]:
        return "header mismatch"
    clear = None if header[5] is None else (header[5], header[6])
    if inner_label != clear:
        return "label rewritten"
    return content


def check_labels():
    v = load("labels.json")
    labels = v["set"]
    check("7.11.1: the standard set, in order", [(x["name"], x["english"], x["state_secret"]) for x in labels],
          [("公开", "public", False), ("内部", "internal", False), ("敏感", "sensitive", False), ("工作秘密", "work-secret", False),
           ("秘密", "secret", True), ("机密", "confidential", True), ("绝密", "top-secret", True)])
    enc = label_set_bytes(labels)
    check("7.11.1: label_set encoding", enc.hex(), v["set_encoded"])
    digest = hashlib.blake2b(b"sealpost-labels-v1" + enc, digest_size=16).digest()
    check("7.11.1: digest = BLAKE2b-128(\"sealpost-labels-v1\" || label_set)", digest.hex(), v["set_digest"])

    head = SIGNATURE + u8(VERSION) + u8(0x1F)
    request, answer, with_expiry = v["commands"]
    check("7.11.4: LABELS request (no fields)", request["hex"], head.hex())
    want = head + enc + u8(answer["default"]) + u8(answer["ceiling"]) + u16(answer["accredited"]) + u8(answer["clearance"])
    check("7.11.4: LABELS answer (no expiry field, as from a node before 保密期限)", answer["hex"], want.hex())
    periods = with_expiry["expiry"]
    want = (head + enc + u8(with_expiry["default"]) + u8(with_expiry["ceiling"]) + u16(with_expiry["accredited"])
            + u8(with_expiry["clearance"]) + u8(len(periods)) + b"".join(u8(p["rank"]) + u64(p["seconds"]) for p in periods))
    check("7.11.4/7.11.9: LABELS answer with expiry = count:u8 *(rank:u8 seconds:u64)", with_expiry["hex"], want.hex())
    ranks = [p["rank"] for p in periods]
    check("7.11.9: expiry ranks ascend, each a rank of the set", ranks == sorted(set(ranks)) and all(r < len(labels) for r in ranks), True)
    check("7.11.9: expiry periods are 1 s to 3650 days", all(1 <= p["seconds"] <= 3650 * 86400 for p in periods), True)

    hello = SIGNATURE + u8(VERSION) + u8(0x20) + string("hq") + b"\x77" * 32 + u32(1000) + u64(1_764_000_000_000) + digest
    check("11.5.1: HELLO with the label set's digest after epoch", v["hello"], hello.hex())

    e = v["envelope"]
    label, until = e["label"], e["readable_until"]
    send = (SIGNATURE + u8(VERSION) + u8(0x05) + ID1 + string("") + string("wu@traffic") + u8(1) + u16(LABELLED_FLAG)
            + u64(1_764_000_000_000) + u8(label) + u64(until) + longstr(bytes.fromhex("deadbeef")))
    check("7.1/7.11.3: labelled SEND (flag bit 2, label and readable_until after sent_at)", e["send"], send.hex())
    r = Reader(send[4:])
    r.octets(16); r.string(); r.string(); r.u8()
    flags = r.u16(); r.u64()
    check("7.11.3: the flag says the label fields follow", (flags & LABELLED_FLAG != 0, r.u8(), r.u64()), (True, label, until))

    e2e = load("e2e.json")
    sender_sk, recipient_sk, nonce = seq(0x01, 32), seq(0x41, 32), seq(0x81, 24)
    k = sodium.crypto_box_beforenm(sodium.crypto_scalarmult_base(recipient_sk), sender_sk)
    check("7.11.3: keys of e2e.json", k.hex(), e2e["shared_key"])
    content = v["e2e"]["content_utf8"].encode("utf-8")
    header = (1, ID1, "alice@hq", "wu@traffic", 1_764_000_000_000)
    inner = u8(1) + ID1 + string("alice@hq") + string("wu@traffic") + u64(1_764_000_000_000) + u8(label) + u64(until) + longstr(content)
    body = b"\x02" + nonce + sodium.crypto_box_easy_afternm(inner, nonce, k)
    check("7.11.3: body = 02 || nonce || box(inner with label and readable_until)", body.hex(), v["e2e"]["body"])
    back = sodium.crypto_box_beforenm(sodium.crypto_scalarmult_base(sender_sk), recipient_sk)
    check("7.11.3: the recipient opens it under its clear label", open_labelled(body, back, header + (label, until)), content)
    check("7.11.3: a rewritten label is refused", open_labelled(body, back, header + (label - 1, until)), "label rewritten")
    check("7.11.3: a changed readable_until is refused", open_labelled(body, back, header + (label, 0)), "label rewritten")
    check("7.11.3: a stripped label is refused", open_labelled(body, back, header + (None, 0)), "label rewritten")
    v1 = b"\x01" + nonce + sodium.crypto_box_easy_afternm(inner_plaintext(*header, content), nonce, k)
    check("7.11.3: a label added to a version 1 body is refused", open_labelled(v1, back, header + (label, until)), "label rewritten")

    node = nacl.signing.SigningKey(DIRECTORY_SEED)
    entry = v["entry"]
    fields = string("wu@traffic") + string("Wu Lei") + seq(0x61, 32) + seq(0xA1, 32) + u64(1_764_000_000_000)
    signed = b"sealpost-dir-v2" + fields + u8(entry["clearance"])
    check("9.7: signed_bytes = \"sealpost-dir-v2\" || fields || clearance", signed.hex(), entry["signed_bytes"])
    signature = node.sign(signed).signature
    check("9.7: encoded = fields || signature || clearance", (fields + signature + u8(entry["clearance"])).hex(), entry["encoded"])
    key = bytes(node.verify_key)
    check("9.7: verifies with the clearance", ed25519_ok(key, signed, signature), True)
    check("9.7: a changed clearance does not verify", ed25519_ok(key, b"sealpost-dir-v2" + fields + u8(3), signature), False)
    check("9.7: a stripped clearance does not verify", ed25519_ok(key, b"sealpost-dir-v1" + fields, signature), False)

    n = v["refusal"]
    unsigned = (ID1 + string("alice@hq") + string("wu@traffic") + string("city") + u8(n["reason"]) + u8(n["label"])
                + string(n["text"]) + u64(n["refused_at"]))
    sig = node.sign(b"sealpost refusal v1" + unsigned).signature
    check("7.11.7: refusal notice = fields || Ed25519(\"sealpost refusal v1\" || fields)", (unsigned + sig).hex(), n["body"])
    rid = hashlib.blake2b(b"refusal" + ID1 + b"city" + b"\x00" + b"wu@traffic", digest_size=16).hexdigest()
    check("7.11.7: its envelope id", rid, n["id"])
    check("7.11.7: moved to another sender, it does not verify",
          ed25519_ok(key, b"sealpost refusal v1" + unsigned.replace(string("alice@hq"), string("bob@hq")), sig), False)
    check("7.11.8: group label operation = 07 0000 label", v["group_label_op"], (u8(7) + u16(0) + u8(3)).hex())
    for c in v["policy"]:
        check(f"7.11.5: label {c['label']} clearance {c['clearance']} ceiling {c['ceiling']} link {c['link']} accredited {c['accredited']}",
              label_verdict(c, labels), c["verdict"])


def decode_forward_report(data):
    """Section 7.9.9: the report's fields, or an error by the decoding rules."""
    r = Reader(data)
    if r.u8("version") != 1:
        raise Malformed("version", "not 1")
    out = {"ref": r.octets(16, "ref").hex(), "origin": r.octets(16, "origin").hex()}
    for field in ("originator", "forwarder", "to", "reason"):
        out[field] = r.string(field)
    out["label"], out["hops"], out["suppressed"] = r.u8("label"), r.u8("hops"), r.u32("suppressed")
    out["refused_at"] = r.u64("refused_at")
    out["node"] = r.string("node")
    out["signature"] = r.octets(64, "signature")
    r.end()
    for field in ("originator", "forwarder", "to"):
        if not is_address(out[field]):
            raise Malformed(field, "not an address")
    if not is_name(out["node"]):
        raise Malformed("node", "not a node name")
    if not (1 <= len(out["reason"].encode()) <= 64 and all(c in "abcdefghijklmnopqrstuvwxyz0123456789_" for c in out["reason"])):
        raise Malformed("reason", "not a refusal name")
    return out


def check_forward_report():
    v = load("forward_report.json")
    f = v["fields"]
    unsigned = (u8(1) + bytes.fromhex(f["ref"]) + bytes.fromhex(f["origin"]) + string(f["originator"]) + string(f["forwarder"])
                + string(f["to"]) + string(f["reason"]) + u8(f["label"]) + u8(f["hops"]) + u32(f["suppressed"])
                + u64(f["refused_at"]) + string(f["node"]))
    node = nacl.signing.SigningKey(DIRECTORY_SEED)
    sig = node.sign(b"sealpost forward report v1" + unsigned).signature
    check("7.9.9: report = fields || Ed25519(\"sealpost forward report v1\" || fields)", (unsigned + sig).hex(), v["body"])
    rid = hashlib.blake2b(b"forward report" + bytes.fromhex(f["ref"]) + f["node"].encode() + b"\x00" + f["to"].encode(),
                          digest_size=16).hexdigest()
    check("7.9.9: its envelope id", rid, v["id"])
    key = bytes(node.verify_key)
    check("7.9.9: it verifies with the node's key", ed25519_ok(key, b"sealpost forward report v1" + unsigned, sig), True)
    check("7.9.9: a changed reason does not verify",
          ed25519_ok(key, b"sealpost forward report v1" + unsigned.replace(string(f["reason"]), string("no_forward")), sig), False)
    decoded = decode_forward_report(bytes.fromhex(v["body"]))
    check("7.9.9: the body decodes to its fields", {k: decoded[k] for k in f}, f)
    env = (bytes.fromhex(v["id"]) + string("node@traffic") + string("node@hq") + u8(19) + u16(0) + u64(f["refused_at"])
           + longstr(bytes.fromhex(v["body"])))
    check("7.9.9: the kind 19 envelope from node@traffic to node@hq", env.hex(), v["envelope"])
    for bad in v["malformed"]:
        try:
            decode_forward_report(bytes.fromhex(bad["hex"]))
            got = "accepted"
        except Malformed:
            got = "refused"
        check(f"7.9.9: a report with {bad['reason']} is refused", got, "refused")


def main():
    global failed
    if len(sys.argv) == 3 and sys.argv[1] == "--audit-export":
        try:
            check_audit_export(sys.argv[2])
        except Exception as error:  # noqa: BLE001
            failed += 1
            print(f"FAIL  {sys.argv[2]}: {type(error).__name__}: {error}")
        print(f"{passed} passed, {failed} failed")
        return 1 if failed else 0
    for part in (check_spec_tables, check_commands, check_peer_commands, check_decoding_rules, check_e2e, check_directory,
                 check_entry_transport, check_card, check_invite, check_reminders, check_group, check_burn,
                 check_file, check_audit, check_forward, check_trace, check_receipts, check_labels, check_forward_report,
                 check_downgrade):
        try:
            part()
        except Exception as error:  # noqa: BLE001 - a crash is a failure, not a traceback
            failed += 1
            print(f"FAIL  {part.__name__}: {type(error).__name__}: {error}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
