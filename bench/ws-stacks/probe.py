"""A few Autobahn-style protocol checks against `ws-stacks serve`: what the
server answers to frames a strict server must refuse. Not Autobahn (which
needs docker here), but the cases that tell strict from lenient apart.

    python3 probe.py 127.0.0.1 47311

Prints one line per case: the close code the server sent (or how the
connection ended) against what RFC 6455 asks for.
"""
import base64
import os
import socket
import struct
import sys
import time

HOST, PORT = sys.argv[1], int(sys.argv[2])
MASK = b"\x11\x22\x33\x44"


def frame(opcode, payload=b"", fin=True, rsv=0, masked=True, length=None):
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([bit | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    return head + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))


def connect():
    s = socket.create_connection((HOST, PORT))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        f"GET / HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    assert b" 101 " in data.split(b"\r\n")[0], data
    return s


def outcome(s, timeout=2.0):
    """Reads frames until a close frame, EOF or the timeout."""
    s.settimeout(timeout)
    buf = b""
    seen = []
    try:
        while True:
            while len(buf) < 2:
                chunk = s.recv(65536)
                if not chunk:
                    return " ".join(seen + ["EOF, no close frame"])
                buf += chunk
            op, n = buf[0] & 0x0F, buf[1] & 0x7F
            hdr = 2
            if n == 126:
                hdr = 4
            elif n == 127:
                hdr = 10
            while len(buf) < hdr:
                buf += s.recv(65536)
            if n == 126:
                n = struct.unpack(">H", buf[2:4])[0]
            elif n == 127:
                n = struct.unpack(">Q", buf[2:10])[0]
            while len(buf) < hdr + n:
                chunk = s.recv(65536)
                if not chunk:
                    return " ".join(seen + ["EOF mid-frame"])
                buf += chunk
            payload, buf = buf[hdr : hdr + n], buf[hdr + n :]
            if op == 8:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else "none"
                return " ".join(seen + [f"close {code}"])
            seen.append({1: "text", 2: "binary", 9: "ping", 10: "pong"}.get(op, f"op{op}"))
    except socket.timeout:
        return " ".join(seen + ["no answer (timeout)"])
    except ConnectionResetError:
        return " ".join(seen + ["reset"])


def case(name, expected, send):
    s = connect()
    try:
        send(s)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got = outcome(s)
    s.close()
    print(f"| {name} | {expected} | {got} |")


MIB = 1024 * 1024
print("| case | RFC 6455 / Autobahn expects | server did |")
print("|---|---|---|")
case("ping 'hi'", "pong", lambda s: s.sendall(frame(9, b"hi") + frame(8, struct.pack(">H", 1000))))
case("text, invalid UTF-8", "close 1007", lambda s: s.sendall(frame(1, b"\xce\xba\xff")))
case(
    "fragmented text, invalid UTF-8 in the first fragment (fail fast, message unfinished)",
    "close 1007 before the message ends",
    lambda s: s.sendall(frame(1, b"ok\xff", fin=False)),
)
case(
    "fragmented text, valid UTF-8 split across fragments",
    "text echoed",
    lambda s: s.sendall(frame(1, b"\xce", fin=False) + frame(0, b"\xba") + frame(8, struct.pack(">H", 1000))),
)
case("ping with 126-byte payload", "close 1002", lambda s: s.sendall(frame(9, b"x" * 126)))
case("close with 126-byte payload", "close 1002", lambda s: s.sendall(frame(8, struct.pack(">H", 1000) + b"x" * 124)))
case("fragmented ping", "close 1002", lambda s: s.sendall(frame(9, b"x", fin=False)))
case("close code 999", "close 1002", lambda s: s.sendall(frame(8, struct.pack(">H", 999))))
case("close code 1005 (reserved)", "close 1002", lambda s: s.sendall(frame(8, struct.pack(">H", 1005))))
case("close 1000 with invalid UTF-8 reason", "close 1007 (or 1002)", lambda s: s.sendall(frame(8, struct.pack(">H", 1000) + b"\xff")))
case("close with 1-byte payload", "close 1002", lambda s: s.sendall(frame(8, b"\x03")))
case("unmasked client frame", "close 1002", lambda s: s.sendall(frame(2, b"abc", masked=False)))
case("RSV1 set, no extension", "close 1002", lambda s: s.sendall(frame(2, b"abc", rsv=4)))
case("opcode 3 (reserved)", "close 1002", lambda s: s.sendall(frame(3, b"abc")))
case("continuation with nothing to continue", "close 1002", lambda s: s.sendall(frame(0, b"abc")))
case(
    "new text frame inside a fragmented message",
    "close 1002",
    lambda s: s.sendall(frame(1, b"a", fin=False) + frame(1, b"b")),
)
case(
    "one frame announcing 17 MiB (limit 16 MiB), header and mask only",
    "close 1009 at once",
    lambda s: s.sendall(frame(2, b"", length=17 * MIB)[:14]),
)


def fragments(s):
    s.sendall(frame(2, b"y" * MIB, fin=False))
    for _ in range(17):
        s.sendall(frame(0, b"y" * MIB, fin=False))


case("17 fragments of 1 MiB (message over the 16 MiB limit)", "close 1009", fragments)
