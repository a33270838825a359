// Where a sparse raw file holds data. Reading a hole the first time costs the
// kernel a zeroed page-cache page per 4 KiB (seconds for a 4 GiB disk), so
// holes are not read: they are zeros. Linux's SEEK_DATA/SEEK_HOLE, which Node
// does not expose, is asked through the system Python; without it the whole
// file counts as data.
import { SYSTEM_PYTHON, run } from "@vhdx-tools/oracles";

const SCRIPT = `
import json, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
extents, offset = [], 0
while offset < size:
    try:
        start = os.lseek(fd, offset, os.SEEK_DATA)
    except OSError:
        break
    end = os.lseek(fd, start, os.SEEK_HOLE)
    extents.append([start, end - start])
    offset = end
print(json.dumps(extents))
`;

/** The data extents [offset, length] of the file, sorted; [[0, size]] when holes cannot be found. */
export function dataExtents(path: string, size: number): Array<[number, number]> {
  try {
    const extents = JSON.parse(run(SYSTEM_PYTHON, ["-c", SCRIPT, path]).toString()) as Array<[number, number]>;
    return extents.every(([offset, length]) => Number.isSafeInteger(offset) && Number.isSafeInteger(length))
      ? extents
      : [[0, size]];
  } catch {
    return [[0, size]];
  }
}
