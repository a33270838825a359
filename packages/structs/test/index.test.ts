import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { guidFromBytes, guidToBytes } from "@vhdx/guid";
import * as structs from "../src/index.js";

const srcDir = fileURLToPath(new URL("../src/", import.meta.url));

describe("package surface", () => {
  it("names the spec's GUIDs as lower-case constants", () => {
    const spec: Record<string, string> = {
      BAT_REGION_GUID: "2DC27766-F623-4200-9D64-115E9BFD4A08",
      METADATA_REGION_GUID: "8B7CA206-4790-4B9A-B8FE-575F050F886E",
      FILE_PARAMETERS_GUID: "CAA16737-FA36-4D43-B3B6-33F0AA44E76B",
      VIRTUAL_DISK_SIZE_GUID: "2FA54224-CD1B-4876-B211-5DBED83BF4B8",
      VIRTUAL_DISK_ID_GUID: "BECA12AB-B2E6-4523-93EF-C309E000C746",
      LOGICAL_SECTOR_SIZE_GUID: "8141BF1D-A96F-4709-BA47-F233A8FAAB5F",
      PHYSICAL_SECTOR_SIZE_GUID: "CDA348C7-445D-4471-9CC9-E9885251C556",
      PARENT_LOCATOR_GUID: "A8D35F2D-B30B-454D-ABF7-D3D84834AB0C",
      VHDX_PARENT_LOCATOR_TYPE_GUID: "B04AEFB7-D19E-4A81-B789-25B8E9445913",
    };
    for (const [name, text] of Object.entries(spec)) {
      const value = (structs as unknown as Record<string, string>)[name];
      expect(value, name).toBe(text.toLowerCase());
      expect(guidFromBytes(guidToBytes(value!))).toBe(value);
    }
  });

  it("exports the layout constants and limits", () => {
    expect(structs).toMatchObject({
      FILE_IDENTIFIER_OFFSET: 0,
      HEADER_1_OFFSET: 0x10000,
      HEADER_2_OFFSET: 0x20000,
      REGION_TABLE_1_OFFSET: 0x30000,
      REGION_TABLE_2_OFFSET: 0x40000,
      HEADER_SECTION_SIZE: 0x100000,
      HEADER_SIZE: 4096,
      REGION_TABLE_SIZE: 65536,
      METADATA_TABLE_SIZE: 65536,
      LOG_SECTOR_SIZE: 4096,
      MiB: 1048576,
      MAX_REGION_TABLE_ENTRIES: 2047,
      MAX_METADATA_TABLE_ENTRIES: 2047,
      MAX_USER_METADATA_ITEMS: 1024,
      MIN_BLOCK_SIZE: 1048576,
      MAX_BLOCK_SIZE: 268435456,
      MAX_VIRTUAL_DISK_SIZE: 64 * 2 ** 40,
    });
  });

  it("exports a decoder and an encoder for every structure", () => {
    const names = [
      "FileIdentifier",
      "Header",
      "RegionTableHeader",
      "RegionTableEntry",
      "RegionTable",
      "MetadataTableHeader",
      "MetadataTableEntry",
      "MetadataTable",
      "FileParameters",
      "VirtualDiskSize",
      "VirtualDiskId",
      "LogicalSectorSize",
      "PhysicalSectorSize",
      "ParentLocatorHeader",
      "ParentLocatorEntry",
      "ParentLocator",
      "LogEntryHeader",
      "ZeroDescriptor",
      "DataDescriptor",
      "DataSector",
      "BatEntry",
    ];
    const exported = structs as unknown as Record<string, unknown>;
    for (const name of names) {
      expect(typeof exported[`decode${name}`], `decode${name}`).toBe("function");
      expect(typeof exported[`encode${name}`], `encode${name}`).toBe("function");
    }
  });

  it("re-exports nothing from src/internal and uses no export *", () => {
    const index = readFileSync(`${srcDir}index.ts`, "utf8");
    expect(index).not.toMatch(/from "\.\/internal\//);
    expect(index).not.toMatch(/export \*/);
    expect(Object.keys(structs)).not.toContain("Reader");
    expect(Object.keys(structs)).not.toContain("Writer");
  });

  it("every structure module opens with its MS-VHDX section and a field table", () => {
    const modules = readdirSync(srcDir).filter(
      (f) => f.endsWith(".ts") && !["index.ts", "errors.ts", "violation.ts", "constants.ts", "checksum.ts"].includes(f),
    );
    expect(modules.length).toBe(21);
    for (const file of modules) {
      const text = readFileSync(`${srcDir}${file}`, "utf8");
      expect(text, file).toMatch(/^\/\/ MS-VHDX \d+(\.\d+)+ /);
      expect(text, file).toMatch(/\/\/ \| offset +\| size +\| field +\| rule +\|/);
    }
  });
});
