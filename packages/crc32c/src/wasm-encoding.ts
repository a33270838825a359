// Just enough of the WebAssembly binary format to write a one-function module
// by hand: LEB128 numbers, sections, and the instructions the CRC kernel
// needs, each method named after its text-format instruction (`i32Load` is
// `i32.load`). Reference: https://webassembly.github.io/spec/core/binary/

export const valueType = { i32: 0x7f, v128: 0x7b } as const;

const sectionId = { type: 1, function: 3, memory: 5, export: 7, code: 10 } as const;
const exportKind = { function: 0x00, memory: 0x02 } as const;

/** Appends bytes and LEB128 numbers to one array. */
export class ByteWriter {
  readonly bytes: number[] = [];

  byte(...values: number[]): this {
    this.bytes.push(...values);
    return this;
  }

  unsigned(value: number): this {
    for (;;) {
      const low7 = value & 0x7f;
      value >>>= 7;
      if (value === 0) return this.byte(low7);
      this.byte(low7 | 0x80);
    }
  }

  signed(value: number): this {
    for (;;) {
      const low7 = value & 0x7f;
      value >>= 7;
      const signBitSet = (low7 & 0x40) !== 0;
      if ((value === 0 && !signBitSet) || (value === -1 && signBitSet)) return this.byte(low7);
      this.byte(low7 | 0x80);
    }
  }

  /** A vector of bytes or a name: its length, then the bytes. */
  sized(bytes: readonly number[]): this {
    return this.unsigned(bytes.length).byte(...bytes);
  }
}

/** A function body under construction: each method appends one instruction. */
export class InstructionWriter extends ByteWriter {
  // Blocks and loops here take and leave nothing on the stack (block type 0x40).
  block(): this {
    return this.byte(0x02, 0x40);
  }
  loop(): this {
    return this.byte(0x03, 0x40);
  }
  end(): this {
    return this.byte(0x0b);
  }
  brIf(depth: number): this {
    return this.byte(0x0d).unsigned(depth);
  }

  localGet(index: number): this {
    return this.byte(0x20).unsigned(index);
  }
  localSet(index: number): this {
    return this.byte(0x21).unsigned(index);
  }
  localTee(index: number): this {
    return this.byte(0x22).unsigned(index);
  }

  // A load's immediates: the alignment hint (log2 of bytes), then a constant
  // offset that the engine adds to the address operand.
  i32Load(offset: number): this {
    return this.byte(0x28, 2).unsigned(offset);
  }
  i32Load8U(offset: number): this {
    return this.byte(0x2d, 0).unsigned(offset);
  }

  i32Const(value: number): this {
    return this.byte(0x41).signed(value | 0);
  }
  i32LtU(): this {
    return this.byte(0x49);
  }
  i32GeU(): this {
    return this.byte(0x4f);
  }
  i32Add(): this {
    return this.byte(0x6a);
  }
  i32And(): this {
    return this.byte(0x71);
  }
  i32Xor(): this {
    return this.byte(0x73);
  }
  i32Shl(): this {
    return this.byte(0x74);
  }
  i32ShrU(): this {
    return this.byte(0x76);
  }

  // SIMD instructions: the 0xfd prefix, then the opcode as a LEB128 number.
  private simd(opcode: number): this {
    return this.byte(0xfd).unsigned(opcode);
  }
  v128Load(offset: number): this {
    return this.simd(0x00).unsigned(4).unsigned(offset);
  }
  v128Store(offset: number): this {
    return this.simd(0x0b).unsigned(4).unsigned(offset);
  }
  /** Lane i of the result is lane lanes[i] of the two operands taken as one 32-lane vector. */
  i8x16Shuffle(lanes: readonly number[]): this {
    return this.simd(0x0d).byte(...lanes);
  }
  i8x16Swizzle(): this {
    return this.simd(0x0e);
  }
  i8x16Splat(): this {
    return this.simd(0x0f);
  }
  v128And(): this {
    return this.simd(0x4e);
  }
  v128Xor(): this {
    return this.simd(0x51);
  }
  i16x8ShrU(): this {
    return this.simd(0x8d);
  }
}

export interface FunctionDefinition {
  exportName: string;
  params: number[];
  results: number[];
  /** Types of the locals that follow the parameters. */
  locals: number[];
  /** The instructions, without the final `end`. */
  body: InstructionWriter;
}

/**
 * A module with one exported memory of `memoryPages` 64 KiB pages (fixed
 * size, so views of its buffer never detach) and one exported function.
 */
export function encodeModule(memoryPages: number, fn: FunctionDefinition, memoryExportName = "memory"): Uint8Array {
  const module = new ByteWriter().byte(0x00, 0x61, 0x73, 0x6d).byte(0x01, 0x00, 0x00, 0x00); // "\0asm", version 1
  const section = (id: number, contents: ByteWriter) => module.byte(id).sized(contents.bytes);

  const oneFunctionType = new ByteWriter().unsigned(1).byte(0x60).sized(fn.params).sized(fn.results);
  section(sectionId.type, oneFunctionType);
  section(sectionId.function, new ByteWriter().unsigned(1).unsigned(0)); // function 0 has type 0

  const oneFixedSizeMemory = new ByteWriter().unsigned(1).byte(0x01).unsigned(memoryPages).unsigned(memoryPages);
  section(sectionId.memory, oneFixedSizeMemory);

  const exports = new ByteWriter().unsigned(2);
  exports.sized(asciiBytes(fn.exportName)).byte(exportKind.function).unsigned(0);
  exports.sized(asciiBytes(memoryExportName)).byte(exportKind.memory).unsigned(0);
  section(sectionId.export, exports);

  const code = new ByteWriter().unsigned(fn.locals.length);
  for (const type of fn.locals) code.unsigned(1).byte(type); // one group per local, one local each
  code.byte(...fn.body.bytes).byte(0x0b); // the body, then its `end`
  section(sectionId.code, new ByteWriter().unsigned(1).sized(code.bytes));

  return new Uint8Array(module.bytes);
}

/** ASCII only, so one byte per character, as UTF-8 wants. */
function asciiBytes(text: string): number[] {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) bytes.push(text.charCodeAt(i));
  return bytes;
}
