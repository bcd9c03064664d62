"""The process's capacity for open connections, and the error for settings that cannot work.

No litellm import here: the fake server uses it too, and starts fast.
"""

from __future__ import annotations


class LLMConfigError(ValueError):
    """A model setting that cannot work: unknown model, missing key. Raised before any call."""


# -- the process's capacity for open connections ----------------------------------------------------
# Descriptors besides the connections: the cache, the usage log, stdio, sockets of other libraries.
FILE_HEADROOM = 256
_raised_nofile: tuple[int, int] | None = None


def raise_open_file_limit(needed: int = 0) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit, once per process; (soft, hard) afterwards.

    Every request in flight holds one socket, so `needed` connections need `needed` descriptors
    plus FILE_HEADROOM: LLMConfigError, with one clear message, when they cannot fit.
    """
    global _raised_nofile
    try:
        import resource
    except ImportError:  # no rlimits on this platform
        return (-1, -1)
    if _raised_nofile is None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
            # RLIM_INFINITY as a hard limit: Linux still caps the soft one at fs.nr_open.
            target = hard if hard != resource.RLIM_INFINITY else _nr_open(soft)
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft = target
            except (ValueError, OSError):
                pass
        _raised_nofile = (soft, hard)
    soft, hard = _raised_nofile
    if needed and soft != resource.RLIM_INFINITY and needed + FILE_HEADROOM > soft:
        raise LLMConfigError(
            f"max_in_flight={needed} needs about {needed + FILE_HEADROOM} open files (one socket per request "
            f"in flight, plus {FILE_HEADROOM}), but this process may open at most {soft} (RLIMIT_NOFILE, hard "
            f"limit {'unlimited' if hard == resource.RLIM_INFINITY else hard}); lower max_in_flight to "
            f"{max(1, soft - FILE_HEADROOM)} or raise the hard limit (ulimit -Hn, systemd LimitNOFILE=, "
            f"docker --ulimit nofile=)"
        )
    return soft, hard


def _nr_open(fallback: int) -> int:
    try:
        with open("/proc/sys/fs/nr_open") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return max(fallback, 1 << 20)
