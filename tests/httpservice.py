"""A local HTTP service for tests that call out under load."""

from __future__ import annotations

from http.server import ThreadingHTTPServer


class LoadedHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a listen backlog for many clients at once.

    The standard library's backlog is 5: with 50 workflows calling at once on a loaded
    machine, the kernel refuses connections beyond it, and the test would see a "service
    down" that no real service of this kind would show.
    """

    request_queue_size = 256
    daemon_threads = True
