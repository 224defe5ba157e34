"""Static files: content-hashed immutable URLs and precompressed variants, served by WhiteNoise.

`url_for("static", filename="css/site.css")` gives `/static/css/site.<hash>.css`, where the
hash is taken from the file's bytes when the app starts: every process serving the same
files computes the same names, and a changed file gets a new name, so browsers may keep
those URLs for a year without asking again (`Cache-Control: max-age=31536000, immutable`).
The plain names keep working with a one-hour lifetime. Files listed in PRECOMPRESSED have
`.br` and `.gz` siblings committed next to them (written by `python -m sv_platform.assets`,
run by `make assets`); WhiteNoise sends whichever the browser accepts.
"""

import gzip
import hashlib
import sys
from pathlib import Path

import brotli
from whitenoise import WhiteNoise

# What the pages link, compressed once at build time (brotli at its best quality).
PRECOMPRESSED = ("css/site.css", "js/*.js", "img/*.svg")
PLAIN_MAX_AGE = 3600
HASH_LENGTH = 12


def hashed_name(relative: str, data: bytes) -> str:
    """`css/site.css` → `css/site.<first 12 hex digits of its SHA-256>.css`."""
    path = Path(relative)
    digest = hashlib.sha256(data).hexdigest()[:HASH_LENGTH]
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))


def source_files(root: Path) -> list[Path]:
    """Every servable file under `root` (compressed siblings are variants, not files)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix not in (".br", ".gz"))


def manifest(root: Path) -> dict[str, str]:
    """Relative name → content-hashed relative name, for every servable file."""
    return {
        p.relative_to(root).as_posix(): hashed_name(p.relative_to(root).as_posix(), p.read_bytes())
        for p in source_files(root)
    }


def precompressed(root: Path) -> list[Path]:
    return sorted({p for pattern in PRECOMPRESSED for p in root.glob(pattern) if p.is_file()})


def compress(root: Path) -> list[Path]:
    """Write the `.br` and `.gz` sibling of each precompressed file (deterministic bytes)."""
    written = []
    for path in precompressed(root):
        data = path.read_bytes()
        for suffix, packed in (
            (".br", brotli.compress(data, quality=11)),
            (".gz", gzip.compress(data, compresslevel=9, mtime=0)),
        ):
            target = path.with_name(path.name + suffix)
            target.write_bytes(packed)
            written.append(target)
    return written


def _headers(headers, _path, _url):
    headers["X-Content-Type-Options"] = "nosniff"


def init_app(app) -> None:
    """Serve `app.static_folder` through WhiteNoise under hashed and plain names."""
    root = Path(app.static_folder)
    names = manifest(root)
    immutable = {f"{app.static_url_path}/{hashed}" for hashed in names.values()}

    @app.url_defaults
    def _hashed_static(endpoint, values):
        if endpoint == "static" and values.get("filename") in names:
            values["filename"] = names[values["filename"]]

    static = WhiteNoise(
        app.wsgi_app,
        max_age=PLAIN_MAX_AGE,
        allow_all_origins=False,
        add_headers_function=_headers,
        immutable_file_test=lambda _path, url: url in immutable,
    )
    for relative, hashed in names.items():
        for url_name in (relative, hashed):
            static.add_file_to_dictionary(f"{app.static_url_path}/{url_name}", str(root / relative))
    app.wsgi_app = static
    app.extensions["sv_assets"] = names


if __name__ == "__main__":
    static_root = Path(__file__).parent / "static"
    for written in compress(static_root):
        print(f"{written.relative_to(static_root)}: {written.stat().st_size} bytes")
    sys.exit(0)
