"""A throwaway PostgreSQL cluster with PostGIS, for the database tests.

Debian's server binaries (``/usr/lib/postgresql/<version>/bin``) and PostGIS
(``.ci/install-postgis`` installs both) run a cluster in a temporary folder, on
a free loopback port, with a password-checked role: nothing of the machine's own
PostgreSQL is touched. As root (CI), the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER, PASSWORD = "planner", "s3cret-Pl4nner"


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def why_not() -> str | None:
    """Why no cluster can start here (None: it can)."""
    bindir = _bin_dir()
    if bindir is None:
        return ("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb); "
                "run bash .ci/install-postgis (Debian's postgresql, postgresql-postgis)")
    version = bindir.parts[-2]
    if not Path(f"/usr/share/postgresql/{version}/extension/postgis.control").is_file():
        return (f"no PostGIS for PostgreSQL {version}; run bash .ci/install-postgis "
                "(Debian's postgresql-postgis)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres user to run the server as"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    folder: Path
    port: int
    bindir: Path

    def url(self, database: str = "crm", *, password: str | None = PASSWORD,
            user: str = USER) -> str:
        secret = f":{password}" if password is not None else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the superuser over the cluster's socket."""
        out = _as_server_user([str(self.bindir / "psql"), "-h", str(self.folder), "-p",
                               str(self.port), "-U", "postgres", "-d", database, "-v",
                               "ON_ERROR_STOP=1", "-qAt", "-c", sql])
        return out

    def create_database(self, name: str) -> None:
        self.psql(f'CREATE DATABASE "{name}" OWNER {USER}')
        self.psql("CREATE EXTENSION IF NOT EXISTS postgis", database=name)

    def stop(self) -> None:
        _as_server_user([str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"),
                         "-m", "immediate", "stop"], check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def _as_server_user(cmd: list[str], *, check: bool = True) -> str:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
    return done.stdout


def start() -> Cluster:
    """A new cluster, running; ``stop()`` it when done."""
    bindir = _bin_dir()
    assert bindir is not None, why_not()
    folder = Path(tempfile.mkdtemp(prefix="topt-pg-"))
    os.chmod(folder, 0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    pwfile = folder / "pw"
    pwfile.write_text("postgres\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    _as_server_user([str(bindir / "initdb"), "-D", str(folder / "data"), "-U", "postgres",
                     "--auth-local=trust", "--auth-host=scram-sha-256",
                     f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8"])
    port = _free_port()
    _as_server_user([str(bindir / "pg_ctl"), "-D", str(folder / "data"), "-w", "-l",
                     str(folder / "log"), "-o",
                     f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                     "start"])
    cluster = Cluster(folder=folder, port=port, bindir=bindir)
    cluster.psql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
    return cluster
