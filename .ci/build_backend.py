"""The build backend (PEP 517 and PEP 660) that `pip install .` runs: standard library only.

pyproject.toml names it (`backend-path = [".ci"]`: the top level of the repository is fixed, so
it lives here), and it needs nothing installed, so `pip install .` works offline, with or without
build isolation, setuptools or not.

The repository has one source file, `chatcompletion.py`.  The wheel installs it as a package,
because PEP 561's `py.typed` marker, which mypy and pyright need before they read an installed
library's types, can only sit in a package:

    chatcompletion/__init__.py   chatcompletion.py, byte for byte (classes keep __module__
                                 "chatcompletion", so pickles load either way)
    chatcompletion/__main__.py   python -m chatcompletion: calls main()
    chatcompletion/py.typed      the marker

The metadata comes from setup.cfg, in setuptools' spelling (so setuptools can still build a plain
single-module distribution from it); only the keys used there are read, and any other key is an
error rather than dropped.  An editable install (pip install -e .) puts the checkout on sys.path.
.ci/install_check installs what this builds, from the checkout and from the sdist, and checks it.
"""

from __future__ import annotations

import ast
import base64
import configparser
import gzip
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile
from typing import Dict, List, NamedTuple, Optional

_MAIN = b'''"""python -m chatcompletion: the command line (chatcompletion.main)."""
import sys

from chatcompletion import main

if __name__ == "__main__":  # not when multiprocessing's spawn or forkserver imports it again
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
'''
_KNOWN = {
    "metadata": {"name", "version", "description", "long_description", "long_description_content_type",
                 "license", "license_files", "classifiers"},
    "options": {"py_modules", "python_requires"},
    "options.entry_points": {"console_scripts"},
}
# Zip and tar entries get this time (SOURCE_DATE_EPOCH when set), so that a build is reproducible.
_EPOCH = max(315532800, int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")))  # 1980, zip's first


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _lines(value: str) -> List[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


class _Project(NamedTuple):
    stem: str  # name-version, as file names spell them
    module: str
    metadata: str  # METADATA in the wheel, PKG-INFO in the sdist
    entry_points: str
    licenses: List[str]


def _project() -> _Project:
    """What setup.cfg says, with the version read from the module."""
    cfg = configparser.ConfigParser(interpolation=None)
    if not cfg.read("setup.cfg", encoding="utf-8"):
        raise FileNotFoundError("setup.cfg")
    for section in cfg.sections():
        unknown = set(cfg[section]) - _KNOWN.get(section, set())
        if unknown and section.startswith(("metadata", "options")):
            raise ValueError(f"setup.cfg [{section}]: .ci/build_backend.py does not read {sorted(unknown)}")
    meta, options = cfg["metadata"], cfg["options"]
    (module,) = _lines(options["py_modules"])
    version = meta["version"]
    if version == f"attr: {module}.__version__":
        for node in ast.parse(_read(f"{module}.py")).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
                version = ast.literal_eval(node.value)
    if not isinstance(version, str) or not re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version):
        raise ValueError(f"setup.cfg: version {version!r}")
    readme = meta["long_description"]
    if not readme.startswith("file: "):
        raise ValueError("setup.cfg: long_description must be file: NAME")
    metadata = "\n".join([
        "Metadata-Version: 2.1",
        f"Name: {meta['name']}",
        f"Version: {version}",
        f"Summary: {meta['description']}",
        f"License: {meta['license']}",
        *(f"Classifier: {c}" for c in _lines(meta.get("classifiers", ""))),
        f"Requires-Python: {options['python_requires']}",
        f"Description-Content-Type: {meta['long_description_content_type']}",
        "",
        _read(readme[len("file: "):]).decode("utf-8"),
    ])
    scripts = _lines(cfg.get("options.entry_points", "console_scripts", fallback=""))
    return _Project(
        stem=f"{re.sub(r'[-_.]+', '_', meta['name']).lower()}-{version}",
        module=module,
        metadata=metadata,
        entry_points="".join(f"{line}\n" for line in ["[console_scripts]", *scripts]) if scripts else "",
        licenses=_lines(meta.get("license_files", "")),
    )


def _wheel(directory: str, project: _Project, files: Dict[str, bytes]) -> str:
    """Write the wheel holding files plus its .dist-info; return its file name."""
    info = f"{project.stem}.dist-info"
    files = dict(files)
    files[f"{info}/METADATA"] = project.metadata.encode("utf-8")
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: chatcompletion .ci/build_backend.py\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    if project.entry_points:
        files[f"{info}/entry_points.txt"] = project.entry_points.encode("utf-8")
    for name in project.licenses:
        files[f"{info}/{os.path.basename(name)}"] = _read(name)
    record: List[str] = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
        record.append(f"{path},sha256={digest},{len(data)}\n")
    files[f"{info}/RECORD"] = "".join(record + [f"{info}/RECORD,,\n"]).encode("utf-8")
    name = f"{project.stem}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as whl:
        for path, data in files.items():
            entry = zipfile.ZipInfo(path, time.gmtime(_EPOCH)[:6])
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            whl.writestr(entry, data)
    return name


def build_wheel(wheel_directory: str, config_settings: Optional[Dict[str, object]] = None,
                metadata_directory: Optional[str] = None) -> str:
    project = _project()
    module = project.module
    return _wheel(wheel_directory, project, {
        f"{module}/__init__.py": _read(f"{module}.py"),
        f"{module}/__main__.py": _MAIN,
        f"{module}/py.typed": b"",
    })


def build_editable(wheel_directory: str, config_settings: Optional[Dict[str, object]] = None,
                   metadata_directory: Optional[str] = None) -> str:
    """pip install -e .: a .pth file puts the checkout on sys.path, so the module is the file here."""
    project = _project()
    pth = f"{os.path.abspath('.')}\n".encode()
    return _wheel(wheel_directory, project, {f"__editable__.{project.stem}.pth": pth})


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, object]] = None) -> str:
    """The source archive: what building needs (this file included), the README and the licence."""
    project = _project()
    stem = project.stem
    files = {"PKG-INFO": project.metadata.encode("utf-8")}
    for path in ["pyproject.toml", "setup.cfg", "README.md", f"{project.module}.py", ".ci/build_backend.py",
                 *project.licenses]:
        files[path] = _read(path)
    name = f"{stem}.tar.gz"
    with open(os.path.join(sdist_directory, name), "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=_EPOCH, filename="") as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in files.items():
            entry = tarfile.TarInfo(f"{stem}/{path}")
            entry.size, entry.mtime, entry.mode = len(data), _EPOCH, 0o644
            tar.addfile(entry, io.BytesIO(data))
    return name
