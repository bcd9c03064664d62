"""The seccomp policy, checked on its two renderings without a kernel: the BPF program run by a small
interpreter of the instructions it uses, and the Docker profile read with libseccomp's semantics
(any rule whose conditions all hold refuses). The live attacks are in test_security_round3.py."""

import json
import struct

import pytest

from xcoder_assets.sandbox import seccomp

ARCHES = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
ALLOW, ERRNO = 0x7FFF0000, 0x00050000


def run_bpf(program: bytes, nr: int, args=(0, 0, 0, 0, 0, 0), arch: int = ARCHES["x86_64"]) -> int:
    data = struct.pack("=iI", nr, arch) + struct.pack("=Q", 0) + struct.pack("=6Q", *args)
    code = [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    pc, acc = 0, 0
    for _ in range(len(code)):
        op, jt, jf, k = code[pc]
        if op == 0x20:
            acc = struct.unpack("=I", data[k : k + 4])[0]
            pc += 1
        elif op == 0x06:
            return k
        elif op in (0x15, 0x35, 0x45):
            taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[op]
            pc += 1 + (jt if taken else jf)
        else:
            raise AssertionError(f"unexpected instruction {op:#x}")
    raise AssertionError("the program ran off its end")


def number(name: str, machine: str) -> int:
    return seccomp._NUMBERS[name][0 if machine == "x86_64" else 1]


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_bpf_program_decides_as_the_policy_says(machine):
    program = seccomp.program(machine)
    arch = ARCHES[machine]

    def verdict(name_or_nr, *args):
        nr = name_or_nr if isinstance(name_or_nr, int) else number(name_or_nr, machine)
        return run_bpf(program, nr, tuple(args) + (0,) * (6 - len(args)), arch)

    for nr in range(0, 460):  # every call the policy does not name is allowed
        named = {number(n, machine) for n in seccomp._NUMBERS}
        if nr not in named:
            assert verdict(nr) == ALLOW, nr
    for name in seccomp.REFUSED:
        assert verdict(name) == ERRNO | 1, name
    assert verdict("clone3") == ERRNO | 38
    assert verdict("prlimit64", 0, 9) == ALLOW
    for pid in (1, 2, 1 << 32):  # another process, or pid 0 with high bits set
        assert verdict("prlimit64", pid, 9) == ERRNO | 1
        assert verdict("sched_setaffinity", pid) == ERRNO | 1
    assert verdict("setpriority", 0, 0, 19) == ALLOW
    assert verdict("setpriority", 0, 1, 19) == ERRNO | 1
    assert verdict("setpriority", 2, 0, 19) == ERRNO | 1  # PRIO_USER
    assert verdict("ioprio_set", 1, 0) == ALLOW
    assert verdict("ioprio_set", 3, 0) == ERRNO | 1  # IOPRIO_WHO_USER
    for family in (1, 2, 10):
        assert verdict("socket", family, 1) == ALLOW
    for family in (0, 3, 16, 17, 40, 44, 40 | 1 << 32):
        assert verdict("socket", family, 1) == ERRNO | 97, family
    assert verdict("socketpair", 1) == ALLOW and verdict("socketpair", 40) == ERRNO | 97
    assert verdict("clone", 0x01200011) == ALLOW  # what fork() passes
    assert verdict("clone", 0x10000000 | 17) == ERRNO | 1  # CLONE_NEWUSER
    assert run_bpf(program, number("socket", machine), (1, 1, 0, 0, 0, 0), arch ^ 1) == ERRNO | 38  # another ABI
    if machine == "x86_64":
        assert verdict(0x40000000 | 41, 1) == ERRNO | 1  # x32


def docker_refuses(profile: dict, name: str, args=(0, 0, 0, 0, 0, 0)) -> int | None:
    """The errno a call gets under the profile, None when allowed (libseccomp: a rule refuses when all of
    its conditions hold)."""
    for rule in profile["syscalls"]:
        if name not in rule["names"]:
            continue
        holds = True
        for cond in rule.get("args") or []:
            value = args[cond["index"]]
            op = cond["op"]
            if op == "SCMP_CMP_NE":
                holds &= value != cond["value"]
            elif op == "SCMP_CMP_EQ":
                holds &= value == cond["value"]
            elif op == "SCMP_CMP_GT":
                holds &= value > cond["value"]
            elif op == "SCMP_CMP_MASKED_EQ":
                holds &= value & cond["value"] == cond["valueTwo"]
            else:
                raise AssertionError(op)
        if holds:
            return rule["errnoRet"]
    return None


def test_the_docker_profile_decides_as_the_bpf_program():
    profile = json.loads(seccomp.docker_profile("x86_64"))
    assert profile["defaultAction"] == "SCMP_ACT_ALLOW" and profile["architectures"] == ["SCMP_ARCH_X86_64"]
    program = seccomp.program("x86_64")
    cases = [(name, (0,) * 6) for name in seccomp._NUMBERS]
    cases += [("prlimit64", (pid, 9, 0, 0, 0, 0)) for pid in (0, 1, 7, 1 << 32)]
    cases += [("setpriority", (which, who, 19, 0, 0, 0)) for which in (0, 1, 2) for who in (0, 1)]
    cases += [("ioprio_set", (which, who, 0, 0, 0, 0)) for which in (1, 2, 3) for who in (0, 5)]
    cases += [("socket", (family, 1, 0, 0, 0, 0)) for family in list(range(0, 50)) + [1 << 32, 2 | 1 << 32]]
    cases += [("socketpair", (family, 1, 0, 0, 0, 0)) for family in (1, 2, 40)]
    cases += [("clone", (flags, 0, 0, 0, 0, 0)) for flags in (0x01200011, 0x10000011, 0x20000000, 0x00020000)]
    for name, args in cases:
        bpf = run_bpf(program, number(name, "x86_64"), args)
        docker = docker_refuses(profile, name, args)
        assert (None if bpf == ALLOW else bpf - ERRNO) == docker, (name, args)
