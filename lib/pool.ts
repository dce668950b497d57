// Read buffers: reads land directly in pooled slabs (one copy: kernel to
// the Buffer the user gets). The read size adapts per socket: it doubles
// while reads fill it and shrinks when they do not, so a bulk stream moves
// megabytes per wake-up and a chatty one does not pin big slabs. It stops at
// 1 MiB: a fresh Buffer larger than that costs more in page faults than the
// fewer reads save (a 4 MiB Buffer filled by memcpy: ~4.6 GB/s here; 256
// KiB: ~10). The slab is shared by all the sockets of a thread, made when a
// read first needs it: an idle socket holds no slab of its own, and the small
// reads of many sockets share pages.
const SLAB = 256 * 1024;
const MIN_READ = 16 * 1024;
const MAX_READ = 1024 * 1024;

interface Region {
  buffer: Buffer;
  offset: number;
  length: number;
}

// The shared slab (module state is per thread: each worker has its own).
let slab: Buffer | null = null;
let used = 0;

export class ReadPool {
  size = 64 * 1024;
  // One region object, reused: a read needs no allocation but its data's.
  #region: Region = { buffer: Buffer.alloc(0), offset: 0, length: 0 };

  /** A region to read into (valid until the next call); call commit() with the bytes that landed. */
  region(): Region {
    const want = this.size;
    const r = this.#region;
    if (want > SLAB / 2) {
      r.buffer = Buffer.allocUnsafeSlow(want);
      r.offset = 0;
      r.length = want;
      return r;
    }
    if (slab === null || SLAB - used < want) {
      slab = Buffer.allocUnsafeSlow(SLAB);
      used = 0;
    }
    r.buffer = slab;
    r.offset = used;
    r.length = want;
    return r;
  }

  /** Records a read of |n| bytes into |region| and returns the data. */
  commit(region: Region, n: number): Buffer {
    const data = region.buffer.subarray(region.offset, region.offset + n);
    if (region.buffer === slab) used = (region.offset + n + 7) & ~7;
    if (n === region.length) this.size = Math.min(this.size * 2, MAX_READ);
    else if (n < region.length / 4) this.size = Math.max(this.size / 2, MIN_READ);
    return data;
  }
}
