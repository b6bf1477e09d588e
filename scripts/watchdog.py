#!/usr/bin/env python3
"""Runs a test command under a time limit, so that a hang fails CI with a diagnosis instead of
running into CI's own limit with none.

    python3 scripts/watchdog.py --limit SECONDS -- swift test ...

The command's output passes through unchanged (line by line). If it is still running after
`--limit` seconds, this prints the Swift Testing tests that started but never finished, the stacks
of every thread of the test processes (when `gdb` is installed), kills the command and exits 1.
Otherwise it exits with the command's status.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

args = sys.argv[1:]
if len(args) < 4 or args[0] != "--limit" or args[2] != "--":
    sys.exit("usage: watchdog.py --limit SECONDS -- COMMAND ...")
limit = float(args[1])
command = args[3:]

started = {}  # test name -> order
finished = set()
start_line = re.compile(r'^\S+ Test "(.*)" started\.$')
end_line = re.compile(r'^\S+ Test "(.*)" (?:passed|failed|skipped|recorded)')

process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           errors="replace", start_new_session=True)


def pump():
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        text = line.rstrip("\n")
        if m := start_line.match(text):
            started.setdefault(m[1], len(started))
        elif m := end_line.match(text):
            finished.add(m[1])


reader = threading.Thread(target=pump, daemon=True)
reader.start()
deadline = time.monotonic() + limit
while process.poll() is None and time.monotonic() < deadline:
    time.sleep(1)

if process.poll() is None:
    print(f"\n== watchdog: still running after {limit:.0f} s: {' '.join(command)}", flush=True)
    running = sorted((order, name) for name, order in started.items() if name not in finished)
    print(f"== tests started but not finished ({len(running)}):")
    for _, name in running:
        print(f"   {name}")
    if shutil.which("gdb"):
        pids = subprocess.run(["pgrep", "-s", str(process.pid)], capture_output=True, text=True).stdout.split()
        for pid in pids:
            name = open(f"/proc/{pid}/comm").read().strip() if os.path.exists(f"/proc/{pid}/comm") else "?"
            if "xctest" not in name and "Tests" not in name and "Spindle" not in name:
                continue
            print(f"== thread stacks of process {pid} ({name}):", flush=True)
            subprocess.run(["gdb", "-p", pid, "-batch", "-ex", "thread apply all bt 25"],
                           stdout=sys.stdout, stderr=subprocess.DEVNULL, timeout=300)
    os.killpg(process.pid, signal.SIGKILL)
    sys.exit(1)
reader.join(timeout=10)
sys.exit(process.returncode)
