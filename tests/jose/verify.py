"""Checks the broker's signatures with an independent JOSE implementation (jwcrypto), never the
broker's own code: the key comes from the broker's JWKS URL, as a partner's system would take it.

    verify.py JWKS_URL receipt COMPACT_JWS   -> prints the receipt's payload
    verify.py JWKS_URL package ZIP_FILE      -> checks manifest.json.jws against manifest.json and
                                                every file's SHA-256 and size against the manifest;
                                                prints the manifest
Exits non-zero with a message on any failure.
"""

import hashlib
import json
import sys
import urllib.request
import zipfile

from jwcrypto import jwk, jws


def verified_payload(keys, token):
    signed = jws.JWS()
    signed.allowed_algs = ["EdDSA"]
    signed.deserialize(token)
    header = signed.jose_header
    if header.get("alg") != "EdDSA":
        sys.exit(f"unexpected alg {header.get('alg')!r}")
    key = keys.get_key(header["kid"])
    if key is None:
        sys.exit(f"no key {header['kid']!r} in the JWKS")
    if key.thumbprint() != header["kid"]:
        sys.exit("the kid is not the key's RFC 7638 thumbprint")
    signed.verify(key)  # raises InvalidJWSSignature
    return signed.payload


def main():
    jwks_url, mode, target = sys.argv[1:4]
    with urllib.request.urlopen(jwks_url) as answer:
        keys = jwk.JWKSet.from_json(answer.read())
    if mode == "receipt":
        print(json.dumps(json.loads(verified_payload(keys, target))))
        return
    with zipfile.ZipFile(target) as package:
        manifest_bytes = package.read("manifest.json")
        token = package.read("manifest.json.jws").decode("ascii").strip()
        if verified_payload(keys, token) != manifest_bytes:
            sys.exit("manifest.json.jws does not sign manifest.json's bytes")
        manifest = json.loads(manifest_bytes)
        names = set(package.namelist()) - {"manifest.json", "manifest.json.jws"}
        for entry in manifest["documents"]:
            content = package.read(entry["file"])
            if hashlib.sha256(content).hexdigest() != entry["sha256"] or len(content) != entry["size_bytes"]:
                sys.exit(f"{entry['file']} does not match its manifest entry")
            names.discard(entry["file"])
        if names:
            sys.exit(f"files the manifest does not name: {sorted(names)}")
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
