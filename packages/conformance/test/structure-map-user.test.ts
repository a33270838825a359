// The fuzzer's structure map tells user metadata items from system ones: a
// user item under a system item's GUID is not taken for that system item.
import { buildVhdx } from "@vhdx-tools/fixtures";
import { VIRTUAL_DISK_SIZE_GUID } from "@vhdx/structs";
import { describe, expect, it } from "vitest";
import { mapStructures } from "../src/fuzz/structure-map.js";

const MiB = 1 << 20;
const USER = "b2b2b2b2-3333-4444-8555-666666666666";

describe("user metadata items in the structure map", () => {
  it("are named as user items, with their first and last words as fields", () => {
    const image = buildVhdx({
      virtualSize: 4 * MiB,
      blockSize: MiB,
      type: "dynamic",
      extraItems: [
        { itemId: USER, isUser: true, isRequired: false, data: new Uint8Array(40).fill(7) },
        { itemId: VIRTUAL_DISK_SIZE_GUID, isUser: true, isRequired: false, data: new Uint8Array(8).fill(9) },
      ],
      blocks: {},
    });
    const names = mapStructures(image.bytes).structures.map((s) => s.name);
    expect(names).toContain(`user metadata item ${USER}`);
    expect(names.filter((n) => n === `metadata item ${VIRTUAL_DISK_SIZE_GUID}`)).toHaveLength(1);
    expect(names).toContain(`user metadata item ${VIRTUAL_DISK_SIZE_GUID}`);
    const user = mapStructures(image.bytes).structures.find((s) => s.name === `user metadata item ${USER}`)!;
    expect(user.fields.map((f) => [f.name, f.offset - user.offset])).toEqual([
      ["word0", 0],
      ["lastWord", 36],
    ]);
  });
});
