"""The simulator's own certificate authority, made at start-up, so the sim speaks TLS.

A venue is reached over https:// and wss://; a simulator in plain text never exercised the
client's certificate handling. `SimCertificates` makes a throwaway CA (the `trustme`
library) and a server certificate for 127.0.0.1 and localhost, and writes the CA as a PEM
file in a temporary directory it owns: the engine is given that file as the venue's
`ca_file` and verifies the server like any other. Nothing here turns verification off.
"""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

import trustme

SERVER_NAMES = ("127.0.0.1", "localhost")


class SimCertificates:
    """A CA and its server certificate; `close()` removes the CA file's directory."""

    def __init__(self) -> None:
        self._ca = trustme.CA(organization_name="venuefeed simulator")
        self._server = self._ca.issue_cert(*SERVER_NAMES)
        self._dir: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(
            prefix="venuefeed-sim-ca-"
        )
        self.ca_file = Path(self._dir.name) / "ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_file))

    def server_context(self) -> ssl.SSLContext:
        """What the simulated venues serve with."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only this CA (for tests' own clients)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def close(self) -> None:
        directory, self._dir = self._dir, None
        if directory is not None:
            directory.cleanup()

    def __enter__(self) -> SimCertificates:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
