#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mkcpio.py OUT DIR: pack DIR's tree into an uncompressed cpio "newc"
initramfs (what the kernel unpacks), owned by root, in sorted order, so
no cpio binary is needed. Regular files, directories and symlinks."""
import os
import stat
import sys


def entry(out, ino, name, mode, data, nlink):
    nb = name.encode() + b"\0"
    hdr = "070701" + "".join("%08x" % v for v in (
        ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(nb), 0))
    out.write(hdr.encode() + nb)
    out.write(b"\0" * (-(110 + len(nb)) % 4))
    out.write(data)
    out.write(b"\0" * (-len(data) % 4))


def main():
    out_path, root = sys.argv[1], sys.argv[2]
    ino = 1
    with open(out_path, "wb") as out:
        for dirpath, dirs, files in os.walk(root):
            dirs.sort()
            rel = os.path.relpath(dirpath, root)
            if rel != ".":
                entry(out, ino, rel, stat.S_IFDIR | 0o755, b"", 2)
                ino += 1
            for f in sorted(files):
                p = os.path.join(dirpath, f)
                name = os.path.normpath(os.path.join(rel, f))
                st = os.lstat(p)
                if stat.S_ISLNK(st.st_mode):
                    data = os.readlink(p).encode()
                    mode = stat.S_IFLNK | 0o777
                else:
                    with open(p, "rb") as fh:
                        data = fh.read()
                    mode = stat.S_IFREG | (st.st_mode & 0o777)
                entry(out, ino, name, mode, data, 1)
                ino += 1
        entry(out, 0, "TRAILER!!!", 0, b"", 1)


main()
