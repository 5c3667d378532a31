#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# compare.py LOG [LUA] - check a Lua image's console log (tests/qemu/lua/
# main.c) against the host interpreter: every "[lua] out cpu=C script=S
# bytes=N fnv=H" block must be byte-for-byte what `LUA S` (default lua5.4,
# run in tests/qemu/lua so chunk names match) prints, its FNV-1a must be
# the one the guest computed before printing (nothing lost on the
# console), each CPU must have run each script once, and every round's
# hak_check() must be 0. One line per block, then a summary; exit 1 on
# any difference, 2 if the log or the interpreter is missing.
import os
import re
import subprocess
import sys

HDR = re.compile(rb'^\[lua\] out cpu=(\d+) script=(\S+) bytes=(\d+) fnv=([0-9a-f]{8})\n',
                 re.M)
END = re.compile(rb'\[lua\] end cpu=(\d+) script=(\S+) status=(-?\d+)')
CPUS = re.compile(rb'^\[lua\] cpus=(\d+) scripts=(\d+)', re.M)
CHECK = re.compile(rb'^\[lua\] round (\d+): hak_check\(\) = (-?\d+)', re.M)


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xffffffff
    return h


def main():
    if len(sys.argv) not in (2, 3):
        print('usage: compare.py LOG [LUA]', file=sys.stderr)
        return 2
    log, lua = sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else 'lua5.4'
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        data = open(log, 'rb').read()
    except OSError as e:
        print(f'FAIL lua compare: {e}')
        return 2
    m = CPUS.search(data)
    if not m:
        print(f'FAIL lua compare: no "[lua] cpus=" line in {log}')
        return 1
    ncpus, nscripts = int(m.group(1)), int(m.group(2))
    ref = {}
    bad = []
    seen = set()
    same = 0
    pos = 0
    while True:
        m = HDR.search(data, pos)
        if not m:
            break
        cpu, script = int(m.group(1)), m.group(2).decode()
        n, fnv = int(m.group(3)), int(m.group(4), 16)
        body = data[m.end():m.end() + n]
        pos = m.end() + n
        tag = f'cpu {cpu} {script}'
        e = END.match(data, pos)
        if not e or int(e.group(1)) != cpu or e.group(2).decode() != script:
            bad.append(f'{tag}: no end marker right after {n} bytes')
            continue
        if script not in ref:
            try:
                ref[script] = subprocess.run([lua, script], cwd=here,
                                             capture_output=True, check=False,
                                             timeout=60).stdout
            except OSError as err:
                print(f'FAIL lua compare: cannot run {lua}: {err}')
                return 2
        seen.add((cpu, script))
        if fnv1a(body) != fnv:
            bad.append(f'{tag}: console copy differs from the guest buffer '
                       f'(fnv {fnv1a(body):08x}, guest {fnv:08x})')
        elif body != ref[script]:
            a, b = body.splitlines(), ref[script].splitlines()
            i = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]),
                     min(len(a), len(b)))
            got = a[i] if i < len(a) else b'<end>'
            want = b[i] if i < len(b) else b'<end>'
            bad.append(f'{tag}: line {i + 1} differs from {lua}: '
                       f'guest {got!r}, host {want!r}')
        else:
            same += 1
            print(f'ok    {tag}: {n} bytes, identical to {lua}')
    want = {(c, s) for c in range(ncpus) for s in ref} if ref else set()
    if len(ref) != nscripts:
        bad.append(f'{len(ref)} scripts in the log, the image has {nscripts}')
    for c, s in sorted(want - seen):
        bad.append(f'cpu {c} {s}: no output block')
    checks = CHECK.findall(data)
    if len(checks) != nscripts:
        bad.append(f'{len(checks)} hak_check() lines, want {nscripts}')
    bad += [f'round {r.decode()}: hak_check() = {v.decode()}'
            for r, v in checks if v != b'0']
    for b in bad:
        print(f'WRONG {b}')
    print(f'lua compare {log}: {same} of {ncpus * nscripts} outputs '
          f'identical, {len(bad)} problems')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
