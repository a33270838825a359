// Resizing a VHDX file by path: opened read-write, so locked against every other opener.
import { type MinimumResizeResult, resizeImageToMinimum } from "../maintain/minimum-size.js";
import { type ResizeOptions, type ResizeResult, resizeImage } from "../maintain/resize.js";
import { checkOptionKeys } from "../internal/options.js";
import { openVhdx } from "./open-vhdx.js";

/** Grows (or, when nothing would be lost or `force` is set, shrinks) the fixed or dynamic VHDX at `path`. */
export async function resizeVhdx(path: string, newSize: number, options: ResizeOptions = {}): Promise<ResizeResult> {
  checkOptionKeys("resizeVhdx", options, ["force"]);
  return resizeImage(await openVhdx(path, { readOnly: false }), newSize, options);
}

/** Shrinks the fixed or dynamic VHDX at `path` to the end of its last partition (Resize-VHD -ToMinimumSize). */
export async function resizeVhdxToMinimum(path: string, options: ResizeOptions = {}): Promise<MinimumResizeResult> {
  checkOptionKeys("resizeVhdxToMinimum", options, ["force"]);
  return resizeImageToMinimum(await openVhdx(path, { readOnly: false }), options);
}
