"""Leases in the database: who leads the scheduler, who is retraining a tenant.

A lease is a row in `leases` with a holder and an expiry. Taking it is one
atomic statement, so of two processes exactly one wins; a holder that dies
stops renewing and the lease can be taken over once it expires.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from ..core.errors import ForecastingError, StorageError
from ..core.logs import log_event
from ..storage import Storage

#: A retrain takes seconds to a minute; a crashed one blocks the tenant at most this long.
TENANT_LOCK_SECONDS = 15 * 60

_PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

# Holders of the tenant locks whose `with` block is running in this process. A lease naming this
# process but none of these was left behind: its release failed (the database was down then).
_RUNNING: set[str] = set()
_RUNNING_GUARD = threading.Lock()


class BusyError(ForecastingError):
    """Someone else holds the lease (e.g. the tenant is being retrained right now)."""


def process_holder() -> str:
    """This process's identity in leases and job runs: host, pid and a random suffix."""
    return _PROCESS_ID


def holder_is_dead(holder: str) -> bool:
    """True when `holder` (host:pid:...) was a process on this host that no longer exists.

    For another host nothing can be told from here: its lease expiry and its
    heartbeats are the only evidence.
    """
    host, _, rest = str(holder).partition(":")
    pid = rest.split(":")[0]
    return host == socket.gethostname() and pid.isdigit() and not process_alive(int(pid))


def process_alive(pid: int) -> bool:
    """Whether process `pid` exists on this host (one owned by another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _left_behind(holder: str) -> bool:
    """True when no one can be working under `holder` any more: its process is gone, or it is
    this process and the block that took the lock has ended (its release failed)."""
    if holder_is_dead(holder):
        return True
    with _RUNNING_GUARD:
        return holder.startswith(f"{_PROCESS_ID}:") and holder not in _RUNNING


def tenant_lock_name(tenant_id: str) -> str:
    return f"retrain:{tenant_id}"


@contextmanager
def lease_lock(storage: Storage, name: str, busy: str, *, holder: str | None = None,
               ttl_seconds: float = TENANT_LOCK_SECONDS) -> Iterator[str]:
    """Hold the lease `name` for the duration of the block, or raise BusyError.

    `busy` says what is going on in words ("tenant 1 is already being
    retrained"); the message adds since when and by whom. A lease left by a
    process that died, or by a block of this process whose release failed,
    is taken over. Renew a long block's lease with
    `storage.acquire_lease(name, holder, ttl_seconds)`.
    """
    holder = holder or f"{process_holder()}:{uuid.uuid4().hex[:6]}"
    with _RUNNING_GUARD:  # before the lease exists, so no other thread takes it for left behind
        _RUNNING.add(holder)
    acquired = False
    try:
        acquired = storage.acquire_lease(name, holder, ttl_seconds)
        if not acquired:
            current = storage.lease(name) or {}
            if current.get("holder") and _left_behind(current["holder"]):
                # The holder crashed mid-block, or could not release the lock (the database was
                # down): it would block everyone until the lease expires.
                log_event("lock_taken_over", lock=name, dead_holder=current["holder"])
                storage.release_lease(name, current["holder"])
                acquired = storage.acquire_lease(name, holder, ttl_seconds)
        if not acquired:
            current = storage.lease(name) or {}
            since = current.get("acquired_at")
            when = f" since {since:%H:%M:%S} UTC" if isinstance(since, datetime) else ""
            raise BusyError(f"{busy}{when} (by {current.get('holder', 'another process')}); "
                            "wait for it to finish and try again")
        log_event("lock_acquired", lock=name, holder=holder)
        yield holder
    finally:
        with _RUNNING_GUARD:
            _RUNNING.discard(holder)
        if acquired:
            try:
                storage.release_lease(name, holder)
                log_event("lock_released", lock=name, holder=holder, at=datetime.now(timezone.utc))
            except StorageError as exc:
                # Typically the database went down mid-block: raising here would hide the block's
                # own error. The lease expires, and this process takes it over at its next attempt.
                log_event("lock_release_failed", level=30, lock=name, holder=holder, error=str(exc))


@contextmanager
def tenant_lock(storage: Storage, tenant_id: str, *, holder: str | None = None,
                ttl_seconds: float = TENANT_LOCK_SECONDS) -> Iterator[str]:
    """Hold the tenant's retrain lock for the duration of the block, or raise BusyError."""
    with lease_lock(storage, tenant_lock_name(tenant_id), f"tenant {tenant_id} is already being retrained",
                    holder=holder, ttl_seconds=ttl_seconds) as held:
        yield held
