#!/usr/bin/env python3
"""Writes seed corpora for the fuzz targets from the WAMP test vectors.

Reads every sample of protocol/tests/vectors/singlemessage/ and writes its
JSON, MsgPack and CBOR encodings to fuzz/corpus/decode_{json,msgpack,cbor}/,
and batches of one (selector byte + batched frame) to
fuzz/corpus/decode_batched/. The corpus directory is ignored by git.
"""

import hashlib
import json
import pathlib
import struct

FUZZ = pathlib.Path(__file__).resolve().parent
VECTORS = FUZZ.parent / "protocol" / "tests" / "vectors" / "singlemessage"
CORPUS = FUZZ / "corpus"
# Selector bytes of decode_batched: the codec is Serialization::ALL[b % 3].
SELECTOR = {"json": 0, "msgpack": 1, "cbor": 2}


def write(target, data):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main():
    count = 0
    for path in sorted(VECTORS.rglob("*.json")):
        for sample in json.loads(path.read_text()).get("samples", []):
            for name, encodings in sample.get("serializers", {}).items():
                if name not in SELECTOR:
                    continue
                for encoding in encodings:
                    data = bytes.fromhex(encoding["bytes_hex"])
                    write(f"decode_{name}", data)
                    if name == "json":
                        frame = data + b"\x1e"
                    else:
                        frame = struct.pack(">I", len(data)) + data
                    write("decode_batched", bytes([SELECTOR[name]]) + frame)
                    count += 1
    print(f"wrote {count} samples under {CORPUS}")


if __name__ == "__main__":
    main()
