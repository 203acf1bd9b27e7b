#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Stop ONE thread of a process for SECONDS, leaving the others running:
PTRACE_SEIZE then PTRACE_INTERRUPT stop only that thread (no group stop,
unlike SIGSTOP), PTRACE_DETACH lets it go. Used to hang a data lcore."""
import ctypes
import os
import sys
import time

PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                        ctypes.c_void_p]
tid, secs = int(sys.argv[1]), float(sys.argv[2])


def pt(req):
    if libc.ptrace(req, tid, None, None) != 0:
        e = ctypes.get_errno()
        sys.exit("ptrace(%#x, %d): %s" % (req, tid, os.strerror(e)))


pt(PTRACE_SEIZE)
pt(PTRACE_INTERRUPT)
os.waitpid(tid, os.__dict__.get("__WALL", 0x40000000))
print("thread %d stopped" % tid, flush=True)
time.sleep(secs)
pt(PTRACE_DETACH)
print("thread %d released" % tid, flush=True)
