"""The base of Vigil's image, made here: `debian:bookworm-slim` cannot be pulled on machines
without Docker Hub, so the deploy tests make a Debian bookworm root with debootstrap (minbase,
from the Debian mirror this machine's apt uses) and `docker import` it under the name
deploy/Dockerfile uses. It includes python3 and python3-venv, which the real slim image lacks
and the Dockerfile would install with apt: so the image build needs no network.

A base made here carries the label `vigil.test.base` (its recipe); a later session reuses it
when the recipe matches, and never replaces a `debian:bookworm-slim` that it did not make.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

BASE_TAG = "debian:bookworm-slim"
SUITE = "bookworm"
INCLUDE = ("python3", "python3-venv", "ca-certificates")
FALLBACK_MIRROR = "http://deb.debian.org/debian"
LABEL = "vigil.test.base"
# What a slim image leaves out: apt's caches and lists, docs, man pages, locales.
PRUNE = (
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
)


def recipe() -> str:
    text = f"{SUITE} minbase {','.join(INCLUDE)} {','.join(PRUNE)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def apt_mirror(sources: dict[str, str]) -> str | None:
    """The first Debian archive serving bookworm (not the security one) in apt's sources, given as
    {file name: text}: deb822 `.sources` files and one-line `sources.list` files. Pure."""
    for name, text in sorted(sources.items()):
        if name.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = dict(
                    (k.strip().lower(), v.strip())
                    for k, _, v in (line.partition(":") for line in stanza.splitlines())
                    if not k.startswith("#") and v
                )
                suites = fields.get("suites", "").split()
                if "deb" in fields.get("types", "").split() and SUITE in suites:
                    for uri in fields.get("uris", "").split():
                        if "security" not in uri:
                            return uri.rstrip("/")
        else:
            for line in text.splitlines():
                parts = re.sub(r"\[[^]]*\]", "", line).split()
                if (
                    len(parts) >= 3
                    and parts[0] == "deb"
                    and parts[2] == SUITE
                    and "security" not in parts[1]
                ):
                    return parts[1].rstrip("/")
    return None


def machine_mirror() -> str:
    sources: dict[str, str] = {}
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        if path.is_file() and path.suffix in (".list", ".sources"):
            sources[path.name] = path.read_text(errors="replace")
    return apt_mirror(sources) or FALLBACK_MIRROR


def debootstrap_binary() -> str | None:
    return shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )


def existing_base(client: Any) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = client.api.inspect_image(BASE_TAG)
    except Exception:  # docker.errors.ImageNotFound: none yet
        return None
    return data


def ensure_base(client: Any, workdir: Path | None = None) -> str:
    """`debian:bookworm-slim` on the engine: the one already there when it is ours with this
    recipe (or not ours at all: a real one), else made now. Returns how it was obtained."""
    found = existing_base(client)
    if found is not None:
        labels = (found.get("Config") or {}).get("Labels") or {}
        if LABEL not in labels:
            return "a real debian:bookworm-slim was already there"
        if labels[LABEL] == recipe():
            return "reused the base made by an earlier session"
    binary = debootstrap_binary()
    if binary is None:
        raise RuntimeError("debootstrap is missing: run scripts/prepare-test-env.sh")
    work = Path(tempfile.mkdtemp(prefix="vigil-base-", dir=workdir))
    root = work / "root"
    try:
        subprocess.run(
            [
                binary,
                "--variant=minbase",
                f"--include={','.join(INCLUDE)}",
                SUITE,
                str(root),
                machine_mirror(),
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
        for rel in PRUNE:
            target = root / rel
            if target.is_dir():
                shutil.rmtree(target)
                target.mkdir()
        (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
        tar = subprocess.Popen(
            ["tar", "-C", str(root), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE
        )
        subprocess.run(
            [
                "docker",
                "import",
                "--change",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--change",
                'CMD ["bash"]',
                "--change",
                f"LABEL {LABEL}={recipe()}",
                "-",
                BASE_TAG,
            ],
            stdin=tar.stdout,
            check=True,
            capture_output=True,
            timeout=300,
        )
        if tar.wait() != 0:
            raise RuntimeError("tar of the debootstrapped root failed")
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or b"").decode(errors="replace")[-2000:]
        raise RuntimeError(f"making the Debian base failed: {exc.cmd[0]}: {tail}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return "made with debootstrap"
