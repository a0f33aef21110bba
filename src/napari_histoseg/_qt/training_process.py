"""The training child process, seen from the GUI thread: lines in, a kill switch, an exit code.

Built on ``QProcess``: the child's pipes are read by Qt's event loop as data
arrives, so the GUI thread never blocks on them, and ``kill()`` (SIGKILL) ends
the child without touching napari's process.
"""

from __future__ import annotations

from qtpy.QtCore import QObject, QProcess, QProcessEnvironment, Signal

MAX_STDERR_CHARS = 20_000


class TrainingProcess(QObject):
    """Starts one command; emits each stdout line, then ``ended(exit_code, stderr, killed)``."""

    line = Signal(str)
    ended = Signal(int, str, bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._process: QProcess | None = None
        self._stdout = b""
        self._stderr = ""
        self._killed = False

    def start(self, command: tuple[str, ...], environment: dict[str, str], folder: str) -> None:
        """Run ``command`` (program first) in ``folder`` with exactly ``environment``."""
        if self.running():
            raise RuntimeError("a training process is already running")
        self._stdout, self._stderr, self._killed = b"", "", False
        process = QProcess(self)
        env = QProcessEnvironment()
        for key, value in environment.items():
            env.insert(key, value)
        process.setProcessEnvironment(env)
        process.setWorkingDirectory(folder)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._failed_to_start)
        self._process = process
        process.start(command[0], list(command[1:]))

    def running(self) -> bool:
        return self._process is not None and self._process.state() != QProcess.ProcessState.NotRunning

    def pid(self) -> int:
        """The child's process id (0 when none runs)."""
        return int(self._process.processId()) if self._process is not None else 0

    def kill(self) -> None:
        """SIGKILL the child; ``ended`` follows once it is reaped."""
        if self.running():
            self._killed = True
            self._process.kill()

    def _read_stdout(self) -> None:
        self._stdout += bytes(self._process.readAllStandardOutput())
        *lines, self._stdout = self._stdout.split(b"\n")
        for raw in lines:
            self.line.emit(raw.decode(errors="replace"))

    def _read_stderr(self) -> None:
        text = bytes(self._process.readAllStandardError()).decode(errors="replace")
        self._stderr = (self._stderr + text)[-MAX_STDERR_CHARS:]

    def _finished(self, exit_code: int, exit_status) -> None:
        self._read_stdout()
        self._read_stderr()
        if self._stdout.strip():
            self.line.emit(self._stdout.decode(errors="replace"))
        self._stdout = b""
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        self.ended.emit(-9 if crashed and exit_code == 0 else exit_code, self._stderr, self._killed)

    def _failed_to_start(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._stderr += f"could not start {self._process.program()}: {self._process.errorString()}"
            self.ended.emit(-1, self._stderr, False)
