#!/usr/bin/env python3
"""Known-answer vectors for flatstream-encrypt, made independently of the Rust code.

Uses Python's `cryptography` package (AES-256-GCM, ChaCha20-Poly1305, HKDF-SHA256).
`cryptography` has no XChaCha20-Poly1305, so HChaCha20 is written out here from
draft-irtf-cfrg-xchacha-03, section 2.2, and checked against that draft's own vector; the
ChaCha20-Poly1305 under the subkey is `cryptography`'s. CRC-32C (the frames' checksum) is
written out too, and checked against its published check value.

    python3 -m venv /tmp/encvenv && /tmp/encvenv/bin/pip install cryptography
    /tmp/encvenv/bin/python make_vectors.py   # writes xchacha20poly1305.json, aes256gcm.json

The format is docs/wire-format.md, "Encrypted payloads".
"""

import json
import pathlib
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DOMAIN = b"flatstream-encrypt v1"
AES_KEY_INFO = b"flatstream-encrypt v1 aes256gcm stream key"
CIPHER_IDS = {"xchacha20poly1305": 1, "aes256gcm": 2}
FINAL_FLAG = 1 << 63


def rotl32(value, count):
    return ((value << count) | (value >> (32 - count))) & 0xFFFFFFFF


def quarter_round(state, a, b, c, d):
    state[a] = (state[a] + state[b]) & 0xFFFFFFFF
    state[d] = rotl32(state[d] ^ state[a], 16)
    state[c] = (state[c] + state[d]) & 0xFFFFFFFF
    state[b] = rotl32(state[b] ^ state[c], 12)
    state[a] = (state[a] + state[b]) & 0xFFFFFFFF
    state[d] = rotl32(state[d] ^ state[a], 8)
    state[c] = (state[c] + state[d]) & 0xFFFFFFFF
    state[b] = rotl32(state[b] ^ state[c], 7)


def hchacha20(key, nonce16):
    """draft-irtf-cfrg-xchacha-03, 2.2: 20 ChaCha rounds, no final addition, words 0-3, 12-15."""
    state = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    state += list(struct.unpack("<8I", key))
    state += list(struct.unpack("<4I", nonce16))
    for _ in range(10):
        quarter_round(state, 0, 4, 8, 12)
        quarter_round(state, 1, 5, 9, 13)
        quarter_round(state, 2, 6, 10, 14)
        quarter_round(state, 3, 7, 11, 15)
        quarter_round(state, 0, 5, 10, 15)
        quarter_round(state, 1, 6, 11, 12)
        quarter_round(state, 2, 7, 8, 13)
        quarter_round(state, 3, 4, 9, 14)
    return struct.pack("<8I", *(state[0:4] + state[12:16]))


# The draft's HChaCha20 vector (2.2.1).
assert hchacha20(
    bytes(range(32)), bytes.fromhex("000000090000004a0000000031415927")
) == bytes.fromhex("82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc")


def xchacha20poly1305_encrypt(key, nonce24, plaintext, associated_data):
    subkey = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(subkey).encrypt(b"\0" * 4 + nonce24[16:], plaintext, associated_data)


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def seal(cipher, key, stream_id, sequence_word, plaintext):
    """One encrypted payload: stream id, sequence word (u64 LE), ciphertext, tag."""
    header = stream_id + struct.pack("<Q", sequence_word)
    associated_data = DOMAIN + bytes([CIPHER_IDS[cipher]]) + header
    if cipher == "xchacha20poly1305":
        sealed = xchacha20poly1305_encrypt(key, header, plaintext, associated_data)
    else:
        stream_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=stream_id, info=AES_KEY_INFO
        ).derive(key)
        nonce = struct.pack("<Q", sequence_word) + b"\0" * 4
        sealed = AESGCM(stream_key).encrypt(nonce, plaintext, associated_data)
    return header + sealed


def frame(payload):
    """A flatstream frame with a CRC-32C: length, checksum, payload (little-endian)."""
    return struct.pack("<II", len(payload), crc32c(payload)) + payload


def vectors(cipher):
    key = bytes(range(0x80, 0xA0))
    stream_id = bytes.fromhex("f0e1d2c3b4a5968778695a4b3c2d1e0f")
    payloads = [b"", b"\x2a", b"position 51.5074N 0.1278W", bytes(range(256)) * 4]
    sealed = [seal(cipher, key, stream_id, number, p) for number, p in enumerate(payloads)]
    final = seal(cipher, key, stream_id, len(payloads) | FINAL_FLAG, b"")
    stream = b"".join(frame(payload) for payload in sealed + [final])
    return {
        "comment": "made by make_vectors.py with Python's cryptography package",
        "cipher": cipher,
        "key": key.hex(),
        "stream_id": stream_id.hex(),
        "checksum": "crc32c",
        "payloads": [p.hex() for p in payloads],
        "sealed": [s.hex() for s in sealed],
        "final": final.hex(),
        "stream": stream.hex(),
    }


if __name__ == "__main__":
    here = pathlib.Path(__file__).parent
    for cipher in CIPHER_IDS:
        path = here / f"{cipher}.json"
        path.write_text(json.dumps(vectors(cipher), indent=1) + "\n")
        print("wrote", path)
