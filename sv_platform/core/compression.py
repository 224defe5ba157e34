"""Zstandard for pages, with one compressor kept per server thread.

Flask-Compress compresses each response with `zstd.compress(data, level)`, which sets up a
new compression context every time (for a 12 kB page that set-up costs about twice the
compression itself). Browsers that send `zstd` in Accept-Encoding (current Chrome, Edge,
Firefox) get here the same frame, byte for byte, from a context kept per thread and
reused. When to compress is Flask-Compress's rule (its algorithm choice from
Accept-Encoding, its mimetypes, minimum size and statuses; never a streamed response or
one already encoded), and every other case (Brotli, gzip, streams) is left to it. Runs
after the ETag is computed over the uncompressed page (core.conditional) and before
Flask-Compress.
"""

import threading

from flask import current_app, request
from flask_compress.flask_compress import _choose_algorithm

from sv_platform.extensions import compress

try:  # Python 3.14
    from compression import zstd
except ImportError:  # pragma: no cover - the backport Flask-Compress depends on
    from backports import zstd

_local = threading.local()


def _compressor(level: int):
    found = getattr(_local, "compressor", None)
    if found is None or _local.level != level:
        found = _local.compressor = zstd.ZstdCompressor(level=level)
        _local.level = level
    return found


def _zstd_pages(response):
    if response.direct_passthrough or response.is_streamed:
        return response
    config = current_app.config
    if not config["COMPRESS_REGISTER"]:
        return response
    accept = request.headers.get("Accept-Encoding", "")
    if not accept or _choose_algorithm(compress.enabled_algorithms, accept) != "zstd":
        return response
    if (
        response.mimetype not in compress.compress_mimetypes_set
        or not 200 <= response.status_code < 300
        or "Content-Encoding" in response.headers
    ):
        return response
    data = response.get_data()
    if len(data) < config["COMPRESS_MIN_SIZE"]:
        return response
    compressor = _compressor(config["COMPRESS_ZSTD_LEVEL"])
    compressor.set_pledged_input_size(len(data))  # the frame zstd.compress() would make
    frame = compressor.compress(data, mode=zstd.ZstdCompressor.FLUSH_FRAME)
    response.set_data(frame)
    response.headers["Content-Encoding"] = "zstd"
    response.vary.add("Accept-Encoding")
    return response


def init_app(app) -> None:
    """Register before core.security (after_request hooks run last-registered first)."""
    app.after_request(_zstd_pages)
