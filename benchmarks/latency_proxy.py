"""A TCP relay on loopback that delays everything it carries, to put a ClickHouse server "far away".

A managed ClickHouse in another zone or region answers 2-30 ms later than one on the same machine. The
target's cost of that distance is its number of round trips, which a relay that holds every chunk for a
fixed time in each direction reproduces: each direction has a reader that stamps what arrives and a writer
that sends it once its time has come, in order, so a request and its answer each take the delay once.
`relay_process` runs it in a process of its own (`python -m benchmarks.latency_proxy`), so that its threads
do not wait for the interpreter lock of the process that runs the simulator; its CPU still shares the
machine's cores.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

CHUNK_BYTES = 1 << 16
REPO = Path(__file__).resolve().parent.parent


class LatencyProxy:
    """Listens on 127.0.0.1:`port` and relays every connection to `target`, `one_way_s` late each way."""

    def __init__(self, target: tuple[str, int], one_way_s: float) -> None:
        self.target = target
        self.one_way_s = one_way_s
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="latency-proxy", daemon=True).start()

    def close(self) -> None:
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (close alone does not)
        self._listener.close()
        for sock in self._sockets:
            sock.close()

    def __enter__(self) -> LatencyProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()  # the client sees the server refuse, as it would without the relay
                continue
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._sockets.append(sock)
            self._relay(client, server)
            self._relay(server, client)

    def _relay(self, source: socket.socket, sink: socket.socket) -> None:
        queue: deque[tuple[float, bytes]] = deque()
        ready = threading.Condition()
        threading.Thread(target=self._read, args=(source, queue, ready), daemon=True).start()
        threading.Thread(target=self._write, args=(sink, queue, ready), daemon=True).start()

    def _read(
        self, source: socket.socket, queue: deque[tuple[float, bytes]], ready: threading.Condition
    ) -> None:
        while True:
            try:
                data = source.recv(CHUNK_BYTES)
            except OSError:
                data = b""
            with ready:
                queue.append((time.monotonic() + self.one_way_s, data))
                ready.notify()
            if not data:
                return

    @staticmethod
    def _write(sink: socket.socket, queue: deque[tuple[float, bytes]], ready: threading.Condition) -> None:
        while True:
            with ready:
                ready.wait_for(lambda: bool(queue))
                due, data = queue.popleft()
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                sink.sendall(data)
            except OSError:
                return


@contextmanager
def relay_process(target: tuple[str, int], one_way_s: float) -> Iterator[int]:
    """A `LatencyProxy` in a child process for the duration of the block; yields its port."""
    command = [sys.executable, "-m", "benchmarks.latency_proxy", target[0], str(target[1]), str(one_way_s)]
    # Its own PYTHONPATH: a benchmark may point the variable at another commit's plugins meanwhile.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip():
            raise RuntimeError(f"the latency relay did not start (exit code {process.wait()})")
        yield int(line)
    finally:
        assert process.stdin is not None
        process.stdin.close()  # the relay ends when its input does
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.latency_proxy", description=__doc__.split("\n")[0]
    )
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("one_way_s", type=float, help="delay in each direction, seconds")
    args = parser.parse_args(argv)
    with LatencyProxy((args.host, args.port), args.one_way_s) as proxy:
        print(proxy.port, flush=True)
        sys.stdin.read()  # until the parent closes it
    return 0


if __name__ == "__main__":
    sys.exit(main())
