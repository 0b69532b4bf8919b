"""HubProcess: a real pulse_hub binary on a free loopback port, for integration tests
of agents (this repository's own tests use it).

The hub announces its address on one stdout line, "pulse_hub <id> listening on
HOST:PORT", once it serves: waiting for that line (with a deadline) is the readiness
condition, so a test never guesses with a sleep. stop() sends SIGTERM, which the hub
answers with a clean exit 0.
"""

import os
import select
import signal
import subprocess
import time
from typing import Optional, Sequence


class HubProcess:
    def __init__(
        self,
        binary: str,
        data_dir: str,
        flags: Sequence[str] = (),
        startup_timeout: float = 30.0,
    ):
        self.binary = binary
        self.data_dir = data_dir
        self.flags = list(flags)
        self.startup_timeout = startup_timeout
        self.process: Optional[subprocess.Popen] = None
        self.address = ""  # host:port once started
        self.hub_id_text = ""

    def start(self) -> "HubProcess":
        self.process = subprocess.Popen(
            [
                self.binary,
                "--listen=127.0.0.1:0",
                f"--data_dir={self.data_dir}",
                "--log_level=warning",
                "--metrics_listen=",  # no /metrics: tests start many hubs at once
                *self.flags,
            ],
            stdout=subprocess.PIPE,
        )
        line = self._read_line(self.startup_timeout)
        if line is None or " listening on " not in line:
            self.kill()
            raise RuntimeError(f"pulse_hub did not report its address (got {line!r})")
        words = line.split()
        self.hub_id_text, self.address = words[1], words[-1]
        return self

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit code (the hub exits 0 on a clean stop)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("pulse_hub did not stop within the deadline after SIGTERM")
        finally:
            self.process.stdout.close()

    def kill(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()

    def _read_line(self, timeout: float) -> Optional[str]:
        # Raw reads with select: a buffered readline could block past the deadline.
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        buffer = b""
        while b"\n" not in buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                return None  # exited before announcing itself
            buffer += chunk
        return buffer.split(b"\n", 1)[0].decode()

    def __enter__(self) -> "HubProcess":
        return self.start()

    def __exit__(self, *exc) -> bool:
        try:
            self.stop()
        finally:
            self.kill()
        return False
