# SPDX-License-Identifier: BSD-3-Clause
"""Test certificates made with certtool (gnutls-bin): a CA, and hosts
signed by it, for the tunnel's tls=x509 (tests/e2e/test_migration.py, tls)
and etcd over TLS with client certificates (tests/e2e/test_discovery.py).
A missing certtool is a skip, a failure with CI=true."""

import os
import subprocess

from .env import HarnessError, skip_or_fail

__all__ = ["tls_certtool", "tls_make_ca", "tls_make_host"]


def tls_certtool(*args):
    """Run certtool (gnutls-bin); a missing tool is a skip (a failure in CI)."""
    try:
        r = subprocess.run(["certtool"] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
    except FileNotFoundError:
        skip_or_fail("certtool not found (apt-get install gnutls-bin)")
    if r.returncode != 0:
        raise HarnessError("certtool %s: %s" % (" ".join(args), r.stdout))


def tls_make_ca(d, name):
    """A CA in directory d: ca-cert.pem, ca-key.pem."""
    os.makedirs(d, exist_ok=True)
    tmpl = os.path.join(d, "ca.tmpl")
    with open(tmpl, "w") as f:
        f.write('cn = "%s"\nca\ncert_signing_key\nexpiration_days = 2\n' % name)
    tls_certtool("--generate-privkey", "--key-type", "ecdsa",
                 "--outfile", os.path.join(d, "ca-key.pem"))
    tls_certtool("--generate-self-signed", "--load-privkey", os.path.join(d, "ca-key.pem"),
                 "--template", tmpl, "--outfile", os.path.join(d, "ca-cert.pem"))
    return d


def tls_make_host(ca, d, node, expired=False, ip=None):
    """A tls-dir d for node: the CA's ca-cert.pem, server-cert.pem naming node
    (CN and DNS name, and IP address ip if given; TLS server and client use)
    signed by ca, server-key.pem."""
    os.makedirs(d, exist_ok=True)
    tmpl = os.path.join(d, "host.tmpl")
    with open(tmpl, "w") as f:
        f.write('cn = "%s"\ndns_name = "%s"\ntls_www_server\ntls_www_client\n'
                'signing_key\nencryption_key\n' % (node, node))
        if ip:
            f.write('ip_address = "%s"\n' % ip)
        if expired:
            f.write('activation_date = "2020-01-01 00:00:00"\n'
                    'expiration_date = "2020-01-02 00:00:00"\n')
        else:
            f.write("expiration_days = 2\n")
    key = os.path.join(d, "server-key.pem")
    tls_certtool("--generate-privkey", "--key-type", "ecdsa", "--outfile", key)
    os.chmod(key, 0o600)
    tls_certtool("--generate-certificate", "--load-privkey", key,
                 "--load-ca-certificate", os.path.join(ca, "ca-cert.pem"),
                 "--load-ca-privkey", os.path.join(ca, "ca-key.pem"),
                 "--template", tmpl, "--outfile", os.path.join(d, "server-cert.pem"))
    with open(os.path.join(ca, "ca-cert.pem")) as src, \
            open(os.path.join(d, "ca-cert.pem"), "w") as dst:
        dst.write(src.read())
    return d
