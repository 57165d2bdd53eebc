"""A Redis server of the test's own, on a spare loopback port, that it may stop and start."""

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from .conftest import free_port

START_TIMEOUT_SECONDS = 10


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.fail("redis-server is not installed; the Redis tests need it on PATH")
        self.executable = executable
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # The path comes from shutil.which and every argument is ours.
        self._process = subprocess.Popen(  # noqa: S603
            [
                self.executable,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        client = redis.Redis.from_url(self.url, socket_timeout=0.5)
        try:
            while time.monotonic() < deadline:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    time.sleep(0.05)
        finally:
            client.close()
        pytest.fail(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None
