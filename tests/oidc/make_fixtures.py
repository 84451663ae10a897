"""Regenerates the RSA fixtures of tests/oidc*.rs (ring cannot generate RSA keys).

    python3 tests/oidc/make_fixtures.py

ca.pem, server.pem, server.key: a private CA and a 127.0.0.1 server certificate.
rsa2048-a.pk8 / rsa2048-b.pk8: PKCS#8 DER private keys the tests sign with (ring's
RsaKeyPair). rsa1024.jwk.json + rsa1024.jwt: a 1024-bit public key and a token genuinely
signed by it, for the "RSA keys under 2048 bits are refused" test.
"""
import base64, json, os
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

here = os.path.dirname(os.path.abspath(__file__))

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def uint(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big")

for name in ("rsa2048-a", "rsa2048-b"):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    open(os.path.join(here, name + ".pk8"), "wb").write(der)

weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
pub = weak.public_key().public_numbers()
jwk = {"kty": "RSA", "kid": "weak-1024", "use": "sig", "alg": "RS256", "n": b64(uint(pub.n)), "e": b64(uint(pub.e))}
open(os.path.join(here, "rsa1024.jwk.json"), "w").write(json.dumps(jwk, indent=2) + "\n")
header = b64(json.dumps({"alg": "RS256", "kid": "weak-1024", "typ": "JWT"}).encode())
claims = b64(json.dumps({"iss": "https://weak.example", "sub": "weak", "aud": "client-1",
                         "iat": 1700000000, "exp": 4000000000, "nonce": "weak-nonce"}).encode())
signing_input = (header + "." + claims).encode()
sig = weak.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
open(os.path.join(here, "rsa1024.jwt"), "w").write(header + "." + claims + "." + b64(sig) + "\n")

# A private CA and a server certificate for 127.0.0.1 it issued, for the custom CA
# bundle test (valid for a century: fixtures must not expire).
import datetime, ipaddress
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives.asymmetric import ec

now = datetime.datetime(2024, 1, 1)
until = datetime.datetime(2124, 1, 1)
ca_key = ec.generate_private_key(ec.SECP256R1())
ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "libscim test CA")])
ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
      .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
      .not_valid_before(now).not_valid_after(until)
      .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
      .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
      .sign(ca_key, hashes.SHA256()))
leaf_key = ec.generate_private_key(ec.SECP256R1())
leaf = (x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(until)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256()))
open(os.path.join(here, "ca.pem"), "wb").write(ca.public_bytes(serialization.Encoding.PEM))
open(os.path.join(here, "server.pem"), "wb").write(leaf.public_bytes(serialization.Encoding.PEM))
open(os.path.join(here, "server.key"), "wb").write(leaf_key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
