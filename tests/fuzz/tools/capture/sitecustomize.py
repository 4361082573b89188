"""Loaded by Python at start-up when this directory is on PYTHONPATH: records
the raw bytes every http.client connection sends (SDK requests included) into
$WHARF_CAPTURE_DIR, one file per connection, for make_seeds.py. Changes
nothing about what is sent."""
import http.client
import itertools
import os

_dir = os.environ.get("WHARF_CAPTURE_DIR")
if _dir:
    os.makedirs(_dir, exist_ok=True)
    _ids = itertools.count()
    _orig_send = http.client.HTTPConnection.send

    def _send(self, data):
        path = getattr(self, "_wharf_capture_path", None)
        if path is None:
            path = os.path.join(_dir, "%d-%d.raw" % (os.getpid(), next(_ids)))
            self._wharf_capture_path = path
        chunk = data
        if hasattr(data, "read"):
            # file-like body: read it, send the bytes instead
            chunk = data.read()
            data = chunk
        if isinstance(chunk, str):
            chunk = chunk.encode("iso-8859-1")
        try:
            with open(path, "ab") as f:
                f.write(bytes(chunk))
        except Exception:
            pass
        return _orig_send(self, data)

    http.client.HTTPConnection.send = _send
