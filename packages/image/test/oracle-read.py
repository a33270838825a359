#!/usr/bin/python3
# Reads byte ranges of a VHDX virtual disk through libvhdi (python3-libvhdi),
# an oracle independent of QEMU and of @vhdx/image. Used by test/oracles.ts.
#
#   oracle-read.py < REQUEST_JSON
#     {"path": "child.vhdx", "parents": ["parent.vhdx", "grandparent.vhdx"],
#      "ranges": [[offset, length], ...]}
#
# Writes the ranges' bytes to stdout, concatenated in request order, nothing
# else. Parents are given nearest first; libvhdi checks each one's identifier
# (DataWriteGuid) against the child's parent_linkage in set_parent and refuses
# a mismatch. Errors go to stderr with a non-zero exit status.
import json
import sys

import pyvhdi

CHUNK = 16 << 20


def main() -> None:
    request = json.load(sys.stdin)
    files = []
    try:
        for path in [request["path"], *request.get("parents", [])]:
            f = pyvhdi.file()
            f.open(path)
            files.append(f)
        for child, parent in zip(files, files[1:]):
            child.set_parent(parent)
        disk = files[0]
        out = sys.stdout.buffer
        for offset, length in request["ranges"]:
            done = 0
            while done < length:
                n = min(CHUNK, length - done)
                data = disk.read_buffer_at_offset(n, offset + done)
                if len(data) != n:
                    raise RuntimeError(f"short read: {len(data)} of {n} bytes at {offset + done}")
                out.write(data)
                done += n
        out.flush()
    finally:
        for f in files:
            f.close()


if __name__ == "__main__":
    main()
