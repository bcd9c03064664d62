"""The seccomp filter every bwrap sandbox gets (`bwrap --seccomp FD`): a classic BPF program.

It refuses (EPERM) the system calls no judged program needs and that reach state outside the
sandbox's namespaces: the kernel keyrings (add_key, keyctl, request_key: keyrings are not
namespaced, so two sandboxes, or a sandbox and the judge, would share them), new namespaces
(unshare, setns), and kernel attack surface (io_uring, bpf, perf_event_open, userfaultfd, ptrace).
Calls made through another ABI (x32, or i386's `int 0x80` on x86_64, whose numbers differ) are
refused whole. Docker's default profile already refuses these, so only bwrap needs it.
"""

from __future__ import annotations

import os
import platform
import struct

# struct seccomp_data: nr at offset 0, arch at offset 4.
_BPF_LD_W_ABS, _BPF_JEQ_K, _BPF_JGE_K, _BPF_RET_K = 0x20, 0x15, 0x35, 0x06
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_EPERM, _ENOSYS = 1, 38
_X32_BIT = 0x40000000

REFUSED = (
    "add_key",
    "request_key",
    "keyctl",
    "unshare",
    "setns",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "ptrace",
)
_ARCHES = {
    "x86_64": (
        0xC000003E,
        {
            "add_key": 248,
            "request_key": 249,
            "keyctl": 250,
            "unshare": 272,
            "setns": 308,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
            "bpf": 321,
            "perf_event_open": 298,
            "userfaultfd": 323,
            "ptrace": 101,
        },
    ),
    "aarch64": (
        0xC00000B7,
        {
            "add_key": 217,
            "request_key": 218,
            "keyctl": 219,
            "unshare": 97,
            "setns": 268,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
            "bpf": 280,
            "perf_event_open": 241,
            "userfaultfd": 282,
            "ptrace": 117,
        },
    ),
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def supported() -> bool:
    return platform.machine() in _ARCHES


def program(machine: str | None = None) -> bytes:
    arch, numbers = _ARCHES[machine or platform.machine()]
    refused = [numbers[name] for name in REFUSED]
    body = [_insn(_BPF_LD_W_ABS, 0, 0, 4)]
    # another ABI: refuse (its syscall numbers would not be the ones listed here)
    body.append(_insn(_BPF_JEQ_K, 1, 0, arch))
    body.append(_insn(_BPF_RET_K, 0, 0, _RET_ERRNO | _ENOSYS))
    body.append(_insn(_BPF_LD_W_ABS, 0, 0, 0))
    if arch == 0xC000003E:
        body.append(_insn(_BPF_JGE_K, len(refused) + 1, 0, _X32_BIT))  # x32 numbers: to the refusal
    for position, number in enumerate(refused):
        body.append(_insn(_BPF_JEQ_K, len(refused) - position, 0, number))  # jump to the refusal at the end
    body.append(_insn(_BPF_RET_K, 0, 0, _RET_ALLOW))
    body.append(_insn(_BPF_RET_K, 0, 0, _RET_ERRNO | _EPERM))
    return b"".join(body)


def program_fd() -> int:
    """A descriptor bwrap reads the filter from (it reads to the end, then closes its copy)."""
    fd = os.memfd_create("xcoder-seccomp", 0)
    os.write(fd, program())
    os.lseek(fd, 0, 0)
    return fd
