"""What the kernel says about a stack's processes, read from /proc (Linux; no psutil)."""

from __future__ import annotations

import ipaddress
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TCP_LISTEN = "0A"


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    sid: int
    cmdline: tuple[str, ...]

    @property
    def command(self) -> str:
        return " ".join(self.cmdline)


def read_proc(pid: int) -> Proc | None:
    """The process `pid`, or None once it is gone (a zombie counts as gone)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        cmdline = (PROC / str(pid) / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # "pid (comm) state ppid pgrp session …": comm may hold spaces and parentheses.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    args = tuple(a.decode(errors="replace") for a in cmdline.split(b"\0") if a)
    return Proc(pid, int(fields[1]), int(fields[2]), int(fields[3]), args)


def all_procs() -> list[Proc]:
    found = (read_proc(int(p.name)) for p in PROC.iterdir() if p.name.isdigit())
    return [p for p in found if p is not None]


def tree(root: int) -> list[Proc]:
    """`root` and all its descendants."""
    procs = all_procs()
    family, frontier = [p for p in procs if p.pid == root], {root}
    while frontier:
        children = [p for p in procs if p.ppid in frontier]
        family.extend(children)
        frontier = {p.pid for p in children}
    return family


def in_sessions(sessions: set[int]) -> list[Proc]:
    """Processes still alive in any of these sessions."""
    return [p for p in all_procs() if p.sid in sessions]


def wait_until_gone(sessions: set[int], timeout: float) -> list[Proc]:
    """Wait up to `timeout` seconds for every process of `sessions` to end; what is left."""
    deadline = time.monotonic() + timeout
    while (left := in_sessions(sessions)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def kill(processes: list[Proc]) -> None:
    """SIGKILL these processes (a failed test's leftovers)."""
    for proc in processes:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def environ(pid: int) -> dict[str, str]:
    raw = (PROC / str(pid) / "environ").read_bytes()
    pairs = (entry.decode(errors="replace").partition("=") for entry in raw.split(b"\0") if entry)
    return {name: value for name, _, value in pairs}


def _socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    try:
        fds = list((PROC / str(pid) / "fd").iterdir())
    except FileNotFoundError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def _address(hex_address: str) -> str:
    # /proc/net/tcp{,6} print addresses as 32-bit words in host (little-endian) order.
    raw = bytes.fromhex(hex_address)
    swapped = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(swapped))


def listening_sockets(pids: list[int]) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket these processes listen on."""
    inodes = set().union(*(_socket_inodes(pid) for pid in pids))
    found = set()
    for table in ("tcp", "tcp6"):
        for line in (PROC / "net" / table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state == TCP_LISTEN and inode in inodes:
                address, port = local.split(":")
                found.add((_address(address), int(port, 16)))
    return found
