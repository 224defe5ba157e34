"""The production server command's settings (gunicorn.conf.py) that are not about sockets."""

import gc
import runpy
from pathlib import Path

CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"


def test_a_worker_freezes_what_it_loaded_and_collects_fully_less_often():
    settings = runpy.run_path(str(CONF))
    threshold = gc.get_threshold()
    try:
        settings["post_worker_init"](None)
        assert gc.get_freeze_count() > 10_000  # the app and its libraries, loaded here
        assert gc.get_threshold() == (threshold[0], threshold[1], 100)
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
