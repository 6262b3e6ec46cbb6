#!/usr/bin/python3
"""Slow HTTP/1.1 server for the middlebox lab.

GET /         answers 200 at once.
GET /sleep/N  sleeps N seconds (at most 600), then answers 200.

Connections are kept alive (HTTP/1.1 with Content-Length), so a client
can reuse a pooled connection. Usage: slowserver.py ADDR PORT
"""
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Buffer the response so that headers and body leave in one write.
    wbufsize = -1

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "sleep":
            try:
                secs = float(parts[1])
            except ValueError:
                self.send_error(400)
                return
            time.sleep(max(0.0, min(secs, 600.0)))
        elif self.path != "/":
            self.send_error(404)
            return
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("%.3f %s %s\n" % (time.time(), self.address_string(), fmt % args))
        sys.stderr.flush()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: slowserver.py ADDR PORT")
    srv = ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
