"""A download's timeout is its whole deadline: a server that trickles bytes cannot keep it alive,
and a failed download leaves no .part file behind."""

import hashlib
import http.server
import threading
import time

import pytest

from tallynet.data import DownloadError, fetch

BODY = b"x" * 4000


class _Handler(http.server.BaseHTTPRequestHandler):
    """/trickle: a byte every 20 ms, far slower than any deadline below; /stall: the headers,
    then nothing; /whole: the body at once."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        try:
            if self.path == "/whole":
                self.wfile.write(BODY)
            elif self.path == "/trickle":
                for i in range(len(BODY)):
                    self.wfile.write(BODY[i:i + 1])
                    self.wfile.flush()
                    time.sleep(0.02)
            else:
                time.sleep(5)
        except OSError:  # the client gave up, as it should
            pass

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


SHA = hashlib.sha256(BODY).hexdigest()


@pytest.mark.parametrize("path", ["/trickle", "/stall"])
def test_a_download_slower_than_its_deadline_fails_and_leaves_nothing(server, tmp_path, path):
    dest = tmp_path / "file.bin"
    with pytest.raises(DownloadError) as info:
        fetch(server + path, dest, SHA, timeout=0.5)
    message = str(info.value)
    assert server + path in message and "within the timeout of 0.5 s" in message
    assert "deadline of the whole download" in message
    assert list(tmp_path.iterdir()) == []  # neither the file nor a .part


def test_a_download_within_its_deadline_arrives(server, tmp_path):
    assert fetch(server + "/whole", tmp_path / "file.bin", SHA, timeout=30).read_bytes() == BODY


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "10", True, None])
def test_a_timeout_that_is_not_a_deadline_is_refused(tmp_path, timeout):
    with pytest.raises(ValueError, match=r"timeout must be a finite number of seconds > 0, got"):
        fetch("http://127.0.0.1:9/none", tmp_path / "f", SHA, timeout=timeout)
    assert list(tmp_path.iterdir()) == []
