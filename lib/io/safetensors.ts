/**
 * Safetensors files (https://github.com/huggingface/safetensors), typed for TypeScript.
 *
 * The package has ONE safetensors reader and ONE writer, the native ones (binding/io/safetensors.h): the
 * weight loader reads checkpoints with them straight into LibTorch tensors (memory-mapped, tensor by tensor,
 * no JS round trip) and model saving writes with them (atomic: temp file, fsync, rename). This module is a
 * thin typed wrapper over that reader and writer (the addon's `readSafetensors` / `writeSafetensors`), so
 * what it accepts, refuses and writes is exactly what the loader accepts, refuses and writes. Every check
 * happens before a tensor is handed out: header length within the file, a JSON object, known dtypes,
 * shapes of non-negative integers, offsets inside the data and not overlapping, shape x dtype size = byte
 * length; failures are XT_IO errors naming the file and the tensor.
 *
 * It needs the addon (LibTorch). Nothing in lib/ reads safetensors without it: embeddings are written and
 * read as .npy (lib/eval/npy.ts), which needs no LibTorch.
 */
import { native, type SafetensorsTensor } from '../native';
import { xtError, type XtError } from '../errors';

/** The dtypes the reader and writer know. */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/**
 * The typed array a tensor is read into: F64 Float64Array, F32/F16/BF16 Float32Array (16-bit floats
 * widened), I64 BigInt64Array, I32/I16/I8 Int32Array (widened), U8/BOOL Uint8Array.
 */
export type SafetensorsArray = Float64Array | Float32Array | BigInt64Array | Int32Array | Uint8Array;

export interface SafeTensor<A extends SafetensorsArray = SafetensorsArray> {
  /** As stored. */
  dtype: SafetensorsDtype;
  shape: number[];
  data: A;
}

function ioError(source: string, msg: string): XtError {
  return xtError('XT_IO', `${source}: ${msg}`);
}

/** A read and validated safetensors file: its metadata and every tensor, copied out of the file. */
export class SafetensorsFile {
  readonly source: string;
  readonly metadata: Readonly<Record<string, string>>;
  private readonly tensors: Map<string, SafeTensor>;

  constructor(source: string, metadata: Record<string, string>, tensors: Record<string, SafetensorsTensor>) {
    this.source = source;
    this.metadata = { ...metadata };
    this.tensors = new Map(
      Object.entries(tensors).map(([name, t]) => [name, { dtype: t.dtype as SafetensorsDtype, shape: t.shape, data: t.data }]),
    );
  }

  /** Tensor names. */
  get names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The tensor as read (see SafetensorsArray); XT_IO naming the file for a name it does not hold. */
  get(name: string): SafeTensor {
    const t = this.tensors.get(name);
    if (!t) {
      const names = this.names;
      throw ioError(this.source, `no tensor "${name}" (it has ${names.length}: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''})`);
    }
    return { dtype: t.dtype, shape: [...t.shape], data: t.data };
  }

  /** The tensor as a fresh Float64Array (64-bit integers must be exactly representable). */
  getFloat64(name: string): SafeTensor<Float64Array> {
    const t = this.get(name);
    const d = t.data;
    let out: Float64Array;
    if (d instanceof BigInt64Array) {
      out = new Float64Array(d.length);
      for (let i = 0; i < d.length; i++) {
        const v = Number(d[i]);
        if (!Number.isSafeInteger(v)) throw ioError(this.source, `tensor "${name}": element ${i} (${d[i]}) is not exactly representable`);
        out[i] = v;
      }
    } else {
      out = Float64Array.from(d);
    }
    return { dtype: t.dtype, shape: t.shape, data: out };
  }

  /** The tensor as a fresh Float32Array. */
  getFloat32(name: string): SafeTensor<Float32Array> {
    const t = this.getFloat64(name);
    return { dtype: t.dtype, shape: t.shape, data: Float32Array.from(t.data) };
  }
}

/** Read and validate a safetensors file (the native reader, on a worker thread). */
export async function readSafetensors(file: string): Promise<SafetensorsFile> {
  const r = await native().readSafetensors(file);
  return new SafetensorsFile(file, r.metadata, r.tensors);
}

/**
 * A tensor to write. `dtype` defaults from the array: Float64Array F64, Float32Array F32, BigInt64Array I64,
 * Int32Array I32, Uint8Array U8. Numbers may be stored narrower (F16/BF16: rounded to nearest even) and
 * integers too when every value fits (I16, I8, U8, BOOL: XT_INVALID otherwise), so what readSafetensors
 * gives back can be written again with its dtype.
 */
export interface SafeTensorInput {
  dtype?: SafetensorsDtype;
  shape: number[];
  data: SafetensorsArray;
}

function defaultDtype(a: SafetensorsArray): SafetensorsDtype | undefined {
  if (a instanceof Float64Array) return 'F64';
  if (a instanceof Float32Array) return 'F32';
  if (a instanceof BigInt64Array) return 'I64';
  if (a instanceof Int32Array) return 'I32';
  if (a instanceof Uint8Array) return 'U8';
  return undefined;
}

/**
 * Write tensors (in the given order) and string metadata, atomically (the native writer: temp file, fsync,
 * rename). The header is padded so the data starts 8-byte aligned. Bad input is XT_INVALID / XT_SHAPE
 * naming the tensor; a failed write is XT_IO naming the file.
 */
export async function writeSafetensors(
  file: string,
  tensors: Record<string, SafeTensorInput> | [string, SafeTensorInput][],
  metadata?: Record<string, string>,
): Promise<void> {
  const list = Array.isArray(tensors) ? tensors : Object.entries(tensors);
  const entries = list.map(([name, t]) => {
    const dtype = t.dtype ?? defaultDtype(t.data);
    if (!dtype) {
      throw xtError('XT_INVALID', `${file}: tensor "${name}": a ${(t.data as object)?.constructor?.name ?? typeof t.data} ` +
        'cannot be written (Float64Array, Float32Array, BigInt64Array, Int32Array or Uint8Array)');
    }
    return { name, dtype, shape: t.shape, data: t.data };
  });
  await native().writeSafetensors(file, entries, metadata);
}
