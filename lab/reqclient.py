#!/usr/bin/python3
"""HTTP clients built on requests, for the middlebox lab.

  reqclient.py get URL [--timeout S] [--keepalive IDLE,INTVL,CNT]
      one GET; with --keepalive the socket sends TCP keepalive probes
      (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT), without it
      none (the requests default).
  reqclient.py reuse URL --wait S [--timeout S]
      a Session makes one GET, waits S seconds, then makes a second GET on
      the pooled connection.
  reqclient.py beat URL [--every S] [--count N]
      a Session makes a GET every S seconds, N times, on one connection.

Prints one line per request ("ok ..." or "error ...") and exits 1 if any
request failed.
"""
import argparse
import socket
import sys
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection


class KeepAliveAdapter(HTTPAdapter):
    """KeepAliveAdapter turns on TCP keepalive probes for pooled connections."""

    def __init__(self, idle, intvl, cnt, **kwargs):
        self.socket_options = HTTPConnection.default_socket_options + [
            (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
            (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle),
            (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, intvl),
            (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, cnt),
        ]
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["socket_options"] = self.socket_options
        super().init_poolmanager(*args, **kwargs)


def fetch(session, url, timeout):
    start = time.monotonic()
    try:
        r = session.get(url, timeout=(3, timeout))
        print("ok %d %r after %.1fs" % (r.status_code, r.text, time.monotonic() - start), flush=True)
        return True
    except requests.RequestException as e:
        print("error after %.1fs: %r" % (time.monotonic() - start, e), flush=True)
        return False


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["get", "reuse", "beat"])
    p.add_argument("url")
    p.add_argument("--timeout", type=float, default=30, help="read timeout in seconds")
    p.add_argument("--keepalive", help="IDLE,INTVL,CNT in seconds, seconds, probes")
    p.add_argument("--wait", type=float, default=0, help="reuse: seconds between the requests")
    p.add_argument("--every", type=float, default=1, help="beat: seconds between requests")
    p.add_argument("--count", type=int, default=10, help="beat: number of requests")
    a = p.parse_args()

    ok = True
    with requests.Session() as s:
        if a.keepalive:
            idle, intvl, cnt = (int(x) for x in a.keepalive.split(","))
            s.mount("http://", KeepAliveAdapter(idle, intvl, cnt))
        if a.mode == "get":
            ok = fetch(s, a.url, a.timeout)
        elif a.mode == "reuse":
            ok = fetch(s, a.url, a.timeout)
            time.sleep(a.wait)
            ok = fetch(s, a.url, a.timeout) and ok
        else:
            for i in range(a.count):
                if i:
                    time.sleep(a.every)
                ok = fetch(s, a.url, a.timeout) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
