// A metadata edit of the crash workloads, as a step names it: its own module
// so that steps.ts and metadata-steps.ts (which builds steps) do not import
// each other.
export type MetadataEdit =
  | { op: "set-user"; itemId: string; length: number; value: number; isVirtualDisk: boolean }
  | { op: "remove-user"; itemId: string }
  | { op: "set-parent"; paths: Record<string, string> }
  | { op: "set-properties"; resetDiskId: boolean; physicalSectorSize: 512 | 4096 };

export function describeMetadataEdit(edit: MetadataEdit): string {
  switch (edit.op) {
    case "set-user":
      return `set user item ${edit.itemId.slice(0, 8)} to 0x${edit.value.toString(16)} x ${edit.length}`;
    case "remove-user":
      return `remove user item ${edit.itemId.slice(0, 8)}`;
    case "set-parent":
      return `set-parent ${JSON.stringify(edit.paths)}`;
    case "set-properties":
      return `set${edit.resetDiskId ? " --reset-disk-id" : ""} --physical-sector-size ${edit.physicalSectorSize}`;
  }
}
