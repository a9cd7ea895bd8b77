"""A process that ends when the process that started it ends, whatever ended that one (SIGKILL included): the
demo's worker ends with the demo, and the embedded beat of any worker ends with its worker. Without it they are
left running for ever, attached to nothing, the beat still sending periodic tasks."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_INTERVAL_S = 1.0


def end_with_parent(parent_pid: int, *, sig: signal.Signals = signal.SIGTERM) -> None:
    """Have `sig` sent to this process when its parent, `parent_pid`, ends (at once if it has ended already).

    On Linux the kernel sends it (PR_SET_PDEATHSIG), and does so when the *thread* that started this process ends:
    the parent starts it from a thread that lives as long as the parent does. Elsewhere a thread watches getppid().
    """
    if not _ask_the_kernel(sig):
        threading.Thread(target=_watch, args=(parent_pid, sig), name="parent-watch", daemon=True).start()
    # The parent may have ended before the request was made: this process then has another parent already.
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)


def _ask_the_kernel(sig: signal.Signals) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0


def _watch(parent_pid: int, sig: signal.Signals) -> None:
    while os.getppid() == parent_pid:
        time.sleep(WATCH_INTERVAL_S)
    os.kill(os.getpid(), sig)
