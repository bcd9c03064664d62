"""The sandboxes' seccomp policy, written once and rendered twice: a classic BPF program for bwrap
(`bwrap --seccomp FD`) and a Docker seccomp profile (`--security-opt seccomp=...`) for the docker
backend, which replaces Docker's default profile (that one allows io_uring and every socket family).

What it refuses, and why:
- state outside the sandbox's namespaces: the kernel keyrings (add_key, keyctl, request_key: not
  namespaced, so two sandboxes, or a sandbox and the judge, would share them); new namespaces
  (unshare, setns, clone with a CLONE_NEW* flag; clone3 answers ENOSYS so that libc falls back to
  clone, whose flags a filter can read);
- kernel attack surface: io_uring, bpf, perf_event_open, userfaultfd, ptrace, and the privileged
  calls Docker's default profile refuses (mounts, modules, kexec, clocks, swap, reboot, ...): the
  sandboxes hold no capability, so these are defence in depth;
- other processes: everything in a sandbox runs as one uid, and the calls that change a process's
  limits, scheduling or I/O priority need only the same uid. A program could lower PID 1's hard
  limits (every later test's limits then fail to apply), keep a register in its soft limits that
  the next program reads (a verdict oracle) or make the job runner SCHED_IDLE. These calls are
  allowed only on the caller itself (pid 0; setpriority and ioprio_set: "this process", who 0);
- socket families other than AF_UNIX, AF_INET and AF_INET6 (EAFNOSUPPORT): AF_VSOCK is not
  namespaced (sandboxes, judges and the host share its port space; in a VM it reaches the
  hypervisor), netlink and the rest are kernel surface no judged program needs. AF_INET sockets
  exist inside an empty network namespace (bwrap) or `--network none` (docker).
Calls made through another ABI (x32, or i386's `int 0x80` on x86_64, whose numbers differ) are
refused whole. An argument is compared in all 64 bits: a pid or family with high bits set is refused.
"""

from __future__ import annotations

import json
import os
import platform
import struct
from dataclasses import dataclass

_EPERM, _ENOSYS, _EAFNOSUPPORT = 1, 38, 97
_X32_BIT = 0x40000000
CLONE_NAMESPACES = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
ALLOWED_FAMILIES = (1, 2, 10)  # AF_UNIX, AF_INET, AF_INET6

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
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "migrate_pages",
    "move_pages",
    "fanotify_init",
    "acct",
    "clock_adjtime",
    "clock_settime",
    "settimeofday",
    "delete_module",
    "finit_module",
    "init_module",
    "kexec_file_load",
    "kexec_load",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "mount",
    "mount_setattr",
    "move_mount",
    "open_tree",
    "umount2",
    "pivot_root",
    "lookup_dcookie",
    "open_by_handle_at",
    "quotactl",
    "quotactl_fd",
    "reboot",
    "swapon",
    "swapoff",
    "syslog",
    "vhangup",
)


@dataclass(frozen=True)
class Conditional:
    """A call allowed only when one of `allowed` holds (each: argument index -> exact value), or, for
    `clear_bits`, when none of those bits is set in argument 0; refused with `errno` otherwise."""

    name: str
    allowed: tuple[dict[int, int], ...] = ()
    clear_bits: int = 0
    errno: int = _EPERM


CONDITIONAL = (
    Conditional("prlimit64", ({0: 0},)),
    Conditional("sched_setscheduler", ({0: 0},)),
    Conditional("sched_setparam", ({0: 0},)),
    Conditional("sched_setaffinity", ({0: 0},)),
    Conditional("sched_setattr", ({0: 0},)),
    Conditional("setpriority", ({0: 0, 1: 0},)),  # PRIO_PROCESS, who 0: this process
    Conditional("ioprio_set", ({0: 1, 1: 0},)),  # IOPRIO_WHO_PROCESS, who 0: this process
    Conditional("socket", tuple({0: family} for family in ALLOWED_FAMILIES), errno=_EAFNOSUPPORT),
    Conditional("socketpair", ({0: 1},), errno=_EAFNOSUPPORT),
    Conditional("clone", clear_bits=CLONE_NAMESPACES),
)
ENOSYS = ("clone3",)  # libc falls back to clone, whose flags the filter can read

_NUMBERS = {
    # name: (x86_64, aarch64), from the kernel's unistd headers
    "add_key": (248, 217),
    "request_key": (249, 218),
    "keyctl": (250, 219),
    "unshare": (272, 97),
    "setns": (308, 268),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "bpf": (321, 280),
    "perf_event_open": (298, 241),
    "userfaultfd": (323, 282),
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "kcmp": (312, 272),
    "pidfd_getfd": (438, 438),
    "migrate_pages": (256, 238),
    "move_pages": (279, 239),
    "fanotify_init": (300, 262),
    "acct": (163, 89),
    "clock_adjtime": (305, 266),
    "clock_settime": (227, 112),
    "settimeofday": (164, 170),
    "delete_module": (176, 106),
    "finit_module": (313, 273),
    "init_module": (175, 105),
    "kexec_file_load": (320, 294),
    "kexec_load": (246, 104),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fsopen": (430, 430),
    "fspick": (433, 433),
    "mount": (165, 40),
    "mount_setattr": (442, 442),
    "move_mount": (429, 429),
    "open_tree": (428, 428),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "lookup_dcookie": (212, 18),
    "open_by_handle_at": (304, 265),
    "quotactl": (179, 60),
    "quotactl_fd": (443, 443),
    "reboot": (169, 142),
    "swapon": (167, 224),
    "swapoff": (168, 225),
    "syslog": (103, 116),
    "vhangup": (153, 58),
    "prlimit64": (302, 261),
    "sched_setscheduler": (144, 119),
    "sched_setparam": (142, 118),
    "sched_setaffinity": (203, 122),
    "sched_setattr": (314, 274),
    "setpriority": (141, 140),
    "ioprio_set": (251, 30),
    "socket": (41, 198),
    "socketpair": (53, 199),
    "clone": (56, 220),
    "clone3": (435, 435),
}
_ARCHES = {"x86_64": (0xC000003E, 0, "SCMP_ARCH_X86_64"), "aarch64": (0xC00000B7, 1, "SCMP_ARCH_AARCH64")}


def supported() -> bool:
    return platform.machine() in _ARCHES


# ---- the BPF program (bwrap) -----------------------------------------------------------------------

_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_NR, _ARCH = 0, 4


def _arg(index: int, high: bool) -> int:
    """Offset of an argument's low or high 32 bits in struct seccomp_data (little-endian arches)."""
    return 16 + 8 * index + (4 if high else 0)


class _Assembler:
    """Instructions with symbolic jump targets, resolved to the relative offsets BPF wants."""

    def __init__(self) -> None:
        self.code: list[tuple[int, object, object, int]] = []
        self.labels: dict[str, int] = {}
        self._count = 0

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def fresh(self) -> str:
        self._count += 1
        return f"L{self._count}"

    def op(self, code: int, k: int, jt: object = 0, jf: object = 0) -> None:
        self.code.append((code, jt, jf, k))

    def assemble(self) -> bytes:
        out = []
        for position, (code, jt, jf, k) in enumerate(self.code):

            def offset(target: object) -> int:
                if isinstance(target, int):
                    return target
                distance = self.labels[target] - position - 1
                if not 0 <= distance <= 255:
                    raise ValueError(f"seccomp jump of {distance} instructions")
                return distance

            out.append(struct.pack("=HBBI", code, offset(jt), offset(jf), k))
        return b"".join(out)


def _conditional_block(asm: _Assembler, rule: Conditional) -> None:
    """After the number matched: allow when the rule's arguments hold, else refuse with its errno."""
    refuse, allow = asm.fresh(), asm.fresh()
    if rule.clear_bits:
        asm.op(_LD_W_ABS, _arg(0, False))
        asm.op(_JSET_K, rule.clear_bits, refuse, allow)
    for alternative in rule.allowed:
        next_alternative = asm.fresh()
        for index, value in sorted(alternative.items()):
            asm.op(_LD_W_ABS, _arg(index, True))
            asm.op(_JEQ_K, value >> 32, 0, next_alternative)
            asm.op(_LD_W_ABS, _arg(index, False))
            asm.op(_JEQ_K, value & 0xFFFFFFFF, 0, next_alternative)
        asm.op(_JEQ_K, 0, allow, allow)  # every argument matched: allowed (either way of the jump)
        asm.label(next_alternative)
    asm.label(refuse)
    asm.op(_RET_K, _RET_ERRNO | rule.errno)
    asm.label(allow)
    asm.op(_RET_K, _RET_ALLOW)


def _emit_rule(asm: _Assembler, rule: object) -> None:
    """The number in A matched: refuse with an errno, or check the arguments (a Conditional)."""
    if isinstance(rule, Conditional):
        _conditional_block(asm, rule)
    else:
        asm.op(_RET_K, _RET_ERRNO | int(rule))


def _dispatch(asm: _Assembler, entries: list[tuple[int, object]]) -> None:
    """A binary search on the call number (sorted entries), so that a call costs about a dozen
    instructions whatever the policy's length: most calls a program makes are allowed ones."""
    if len(entries) <= 3:
        for nr, rule in entries:
            skip = asm.fresh()
            asm.op(_JEQ_K, nr, 0, skip)
            _emit_rule(asm, rule)
            asm.label(skip)
        asm.op(_RET_K, _RET_ALLOW)
        return
    middle = len(entries) // 2
    upper = asm.fresh()
    asm.op(_JGE_K, entries[middle][0], upper, 0)
    _dispatch(asm, entries[:middle])
    asm.label(upper)
    _dispatch(asm, entries[middle:])


def program(machine: str | None = None) -> bytes:
    arch, column, _ = _ARCHES[machine or platform.machine()]
    number = {name: numbers[column] for name, numbers in _NUMBERS.items()}
    rules: dict[int, object] = {number[name]: _EPERM for name in REFUSED}
    rules.update({number[name]: _ENOSYS for name in ENOSYS})
    rules.update({number[rule.name]: rule for rule in CONDITIONAL})
    asm = _Assembler()
    asm.op(_LD_W_ABS, _ARCH)
    asm.op(_JEQ_K, arch, 1, 0)
    asm.op(_RET_K, _RET_ERRNO | _ENOSYS)  # another ABI: its numbers are not the ones listed here
    asm.op(_LD_W_ABS, _NR)
    if arch == 0xC000003E:
        asm.op(_JGE_K, _X32_BIT, 0, 1)  # x32 numbers: refused
        asm.op(_RET_K, _RET_ERRNO | _EPERM)
    _dispatch(asm, sorted(rules.items()))
    return asm.assemble()


def program_fd() -> int:
    """A descriptor bwrap reads the filter from (it reads to the end, then closes its copy)."""
    fd = os.memfd_create("xcoder-seccomp", 0)
    os.write(fd, program())
    os.lseek(fd, 0, 0)
    return fd


# ---- the Docker profile ----------------------------------------------------------------------------


def _refusals(rule: Conditional) -> list[list[dict[str, int | str]]]:
    """The argument conditions under which a conditional call is refused, as libseccomp rules (the
    conditions of one rule all hold; any rule refuses). Only single-argument alternatives and one
    exact pair are needed here, which keeps the complement small."""
    if rule.clear_bits:
        bits = [1 << b for b in range(32) if rule.clear_bits >> b & 1]
        return [[{"index": 0, "value": bit, "valueTwo": bit, "op": "SCMP_CMP_MASKED_EQ"}] for bit in bits]
    if len(rule.allowed) == 1:  # every argument must equal its value: refused when any differs
        return [[{"index": i, "value": v, "op": "SCMP_CMP_NE"}] for i, v in sorted(rule.allowed[0].items())]
    values = sorted(alternative[0] for alternative in rule.allowed)  # one argument, a set of values
    top = values[-1]
    refused = [[{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}] for v in range(top) if v not in values]
    return refused + [[{"index": 0, "value": top, "op": "SCMP_CMP_GT"}]]


def docker_profile(machine: str | None = None) -> str:
    """The policy as a Docker seccomp profile (JSON), everything not listed allowed."""
    _, _, scmp_arch = _ARCHES[machine or platform.machine()]
    syscalls: list[dict[str, object]] = [
        {"names": list(REFUSED), "action": "SCMP_ACT_ERRNO", "errnoRet": _EPERM},
        {"names": list(ENOSYS), "action": "SCMP_ACT_ERRNO", "errnoRet": _ENOSYS},
    ]
    for rule in CONDITIONAL:
        for args in _refusals(rule):
            syscalls.append({"names": [rule.name], "action": "SCMP_ACT_ERRNO", "errnoRet": rule.errno, "args": args})
    # Only the native architecture: libseccomp refuses calls of any other ABI (x32 included).
    return json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [scmp_arch], "syscalls": syscalls})
