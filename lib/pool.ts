// Read buffers: reads land directly in pooled slabs (one copy: kernel to
// the Buffer the user gets). The read size adapts per socket: it doubles
// while reads fill it and shrinks when they do not, so a bulk stream moves
// megabytes per wake-up and a chatty one does not pin big slabs. It stops at
// 1 MiB. Reads share slabs, one for small reads (up to 128 KiB) and one for
// large ones per thread, made when a read first needs them: an idle socket
// holds no slab of its own, and the reads of many sockets share pages.
//
// That memory comes from the addon's recycled slabs (native/read_slabs.h)
// where it can: a slab goes back to its free list once V8 has freed the last
// view of it, so reads land in warm pages. Fresh memory is what caps reads
// here: a page fault costs ~100x the copy into the page on this kind of VM,
// and which memory malloc hands back (recycled, or newly mapped after a trim)
// changes from run to run. Nothing here keeps a read's memory once the read
// is done (a socket's last buffer would otherwise stay reachable, and so
// survive young GCs, until its next read).
import { binding } from './binding';

const SMALL_SLAB = 256 * 1024;
const LARGE_SLAB = 1024 * 1024;
const MIN_READ = 16 * 1024;
const MAX_READ = 1024 * 1024;

interface Region {
  buffer: Buffer;
  offset: number;
  length: number;
}

// The shared slabs (module state is per thread: each worker has its own).
interface Slab {
  size: number;
  buffer: Buffer | null;
  used: number;
}
const small: Slab = { size: SMALL_SLAB, buffer: null, used: 0 };
const large: Slab = { size: LARGE_SLAB, buffer: null, used: 0 };
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

// What the 'data' reads of one turn of the event loop may take, all sockets
// together; a socket that finds it spent reads on when the turn ends (in an
// immediate: its fd need not be readable again, as the rest of a posted
// write or of the lane says nothing there). Memory read in one turn can only
// come back in a later one (the finalizers that recycle it run between
// turns), so a turn that read from a thousand sockets at once would need all
// of it fresh; bounded, the pool (and RSS) stays near what is read per turn,
// and the sockets take turns.
const TURN_BUDGET = 16 * 1024 * 1024;
let turnBytes = 0;
let turnEnds = false;
const waiting = new Set<() => void>();

function endTurn(): void {
  turnBytes = 0;
  turnEnds = false;
  if (waiting.size === 0) return;
  const resume = [...waiting];
  waiting.clear();
  for (const fn of resume) fn();
}

// The turn's end is looked for only once its reads add up to this much: a
// chatty socket (a message, a reply) costs no immediate per turn. Bytes
// below it may count towards a later turn, which only ends that one sooner.
const TURN_WATCH = 1024 * 1024;

function spend(n: number): void {
  turnBytes += n;
  if (!turnEnds && turnBytes >= TURN_WATCH) {
    turnEnds = true;
    setImmediate(endTurn);
  }
}

export class ReadPool {
  size = 64 * 1024;
  // One region object, reused: a read needs no allocation but its data's.
  #region: Region = { buffer: EMPTY, offset: 0, length: 0 };

  /**
   * A region to read into (valid until the next call); call commit() with
   * the bytes that landed. It is the rest of the shared slab when that is
   * shorter than the read size but still MIN_READ or more: a short read
   * then leaves the slab's tail to the next read instead of pinning it
   * unused (with a thousand sockets each wanting 1 MiB and getting a few
   * hundred KiB, every read took a slab of its own, and the slabs out at
   * once, all fresh memory, grew to ~250 MiB).
   */
  region(): Region {
    const want = this.size;
    const r = this.#region;
    const slab = want > SMALL_SLAB / 2 ? large : small;
    if (slab.buffer === null || slab.size - slab.used < Math.min(want, MIN_READ)) {
      slab.buffer = readMemory(slab.size);
      slab.used = 0;
    }
    r.buffer = slab.buffer;
    r.offset = slab.used;
    r.length = Math.min(want, slab.size - slab.used);
    return r;
  }

  /**
   * Whether this turn of the event loop may read more (see TURN_BUDGET); if
   * not, |resume| runs (once) when the turn ends.
   */
  static mayRead(resume: () => void): boolean {
    if (turnBytes < TURN_BUDGET) return true;
    waiting.add(resume);
    return false;
  }

  /** A reader that no longer wants to be resumed (it was closed). */
  static forget(resume: () => void): void {
    waiting.delete(resume);
  }

  /** Records a read of |n| bytes into |region| and returns the data. */
  commit(region: Region, n: number): Buffer {
    spend(n);
    const data = region.buffer.subarray(region.offset, region.offset + n);
    const slab = region.buffer === small.buffer ? small : region.buffer === large.buffer ? large : null;
    if (slab) slab.used = (region.offset + n + 7) & ~7;
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
