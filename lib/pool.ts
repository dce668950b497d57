// Read buffers: reads land directly in pooled slabs (one copy: kernel to
// the Buffer the user gets). The read size adapts per socket: it doubles
// while reads fill it and shrinks when they do not, so a bulk stream moves
// megabytes per wake-up and a chatty one does not pin big slabs. It stops at
// 1 MiB. Small reads share one slab per thread, made when a read first needs
// it: an idle socket holds no slab of its own, and the small reads of many
// sockets share pages; a read larger than half a slab gets memory of its own.
//
// That memory comes from the addon's recycled slabs (native/read_slabs.h)
// where it can: a slab goes back to its free list once V8 has freed the last
// view of it, so reads land in warm pages. Fresh memory is what caps reads
// here: a page fault costs ~100x the copy into the page on this kind of VM,
// and which memory malloc hands back (recycled, or newly mapped after a trim)
// changes from run to run. Nothing here keeps a read's memory once the read
// is done (a socket's last buffer would otherwise stay reachable, and so
// survive young GCs, until its next read).
const SLAB = 256 * 1024;
const MIN_READ = 16 * 1024;
const MAX_READ = 1024 * 1024;

import { binding } from './binding';

interface Region {
  buffer: Buffer;
  offset: number;
  length: number;
}

// The shared slab (module state is per thread: each worker has its own).
let slab: Buffer | null = null;
let used = 0;
const EMPTY = Buffer.alloc(0);

/** |size| bytes for reads: a recycled slab where the addon has one of that size. */
export function readMemory(size: number): Buffer {
  const recycled = binding.readSlab(size);
  if (recycled === undefined) return Buffer.allocUnsafeSlow(size);
  // V8 runs a young-generation GC when the ArrayBuffers of the young
  // generation hold a lot of memory, but looks only when JS allocates one:
  // a slab's Buffer is made by the addon, so without this nothing would
  // look, the dead reads' slabs would come back only at the next old-space
  // GC, and the pool would grow by all that was read in between.
  new ArrayBuffer(1);
  return recycled;
}

export class ReadPool {
  size = 64 * 1024;
  // One region object, reused: a read needs no allocation but its data's.
  #region: Region = { buffer: EMPTY, offset: 0, length: 0 };

  /** A region to read into (valid until the next call); call commit() with the bytes that landed. */
  region(): Region {
    const want = this.size;
    const r = this.#region;
    if (want > SLAB / 2) {
      r.buffer = readMemory(want); // a buffer of its own
      r.offset = 0;
      r.length = want;
      return r;
    }
    if (slab === null || SLAB - used < want) {
      slab = readMemory(SLAB);
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
    region.buffer = EMPTY; // the data's view keeps the memory, not the pool
    if (n === region.length) this.size = Math.min(this.size * 2, MAX_READ);
    else if (n < region.length / 4) this.size = Math.max(this.size / 2, MIN_READ);
    return data;
  }

  /** The read into the last region found nothing (or failed): let go of its memory. */
  release(): void {
    this.#region.buffer = EMPTY;
  }
}
