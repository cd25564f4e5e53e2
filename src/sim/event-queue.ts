/**
 * The simulator's agenda: a binary min-heap ordered by (time, sequence number). The sequence
 * number is assigned when an event is scheduled, so events due at the same virtual time fire in
 * the order they were scheduled — the tie-break that makes a run a function of its seed.
 */
export interface ScheduledEvent {
  readonly time: number;
  readonly seq: number;
  /** Runs the event; returns false when it turned out to be void (a cancelled or dead timer). */
  readonly fire: () => boolean;
}

function before(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

export class EventQueue {
  private readonly heap: ScheduledEvent[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): ScheduledEvent | undefined {
    return this.heap[0];
  }

  push(event: ScheduledEvent): void {
    const heap = this.heap;
    let index = heap.length;
    heap.push(event);
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(event, heap[parent]!)) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = event;
  }

  pop(): ScheduledEvent | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let index = 0;
    const length = heap.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, last)) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = last;
    return top;
  }
}
