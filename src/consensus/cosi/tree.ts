/**
 * The communication tree of one CoSi attempt (Syta et al. 2016 §3; white paper §7.2): the invited
 * validators in a fixed order — the leader first, then registry order starting after the leader,
 * so every leader gets a different set of inner nodes — laid out as a complete k-ary tree
 * (position p has children k·p + 1 … k·p + k). A star is the same layout with k = size − 1:
 * everyone is a child of the leader. Every node derives the identical layout from the
 * announcement, so the tree itself never travels.
 */
import { hasBit } from "./mask.js";

export type CosiMode = "tree" | "star";

export class TreeLayout {
  /** Registry index at each position; position 0 is the leader. */
  readonly order: readonly number[];
  readonly fanout: number;
  private readonly positionOf = new Map<number, number>();
  /** Levels below each position (0 for a leaf). */
  private readonly heights: number[];

  constructor(count: number, leaderIndex: number, invited: Uint8Array, mode: CosiMode, fanout: number) {
    const order = [leaderIndex];
    for (let step = 1; step < count; step++) {
      const index = (leaderIndex + step) % count;
      if (hasBit(invited, index)) order.push(index);
    }
    this.order = order;
    this.fanout = mode === "star" ? Math.max(1, order.length - 1) : fanout;
    order.forEach((index, position) => this.positionOf.set(index, position));
    this.heights = new Array<number>(order.length).fill(0);
    for (let position = order.length - 1; position > 0; position--) {
      const parent = this.parentPosition(position);
      this.heights[parent] = Math.max(this.heights[parent]!, this.heights[position]! + 1);
    }
  }

  get size(): number {
    return this.order.length;
  }

  position(index: number): number | undefined {
    return this.positionOf.get(index);
  }

  parentPosition(position: number): number {
    return Math.floor((position - 1) / this.fanout);
  }

  childPositions(position: number): number[] {
    const children: number[] = [];
    for (let child = position * this.fanout + 1; child <= position * this.fanout + this.fanout && child < this.order.length; child++) {
      children.push(child);
    }
    return children;
  }

  height(position: number): number {
    return this.heights[position]!;
  }

  /** Registry indices in the subtree rooted at `position` (itself included). */
  subtree(position: number): number[] {
    const indices: number[] = [];
    const stack = [position];
    while (stack.length > 0) {
      const next = stack.pop()!;
      indices.push(this.order[next]!);
      stack.push(...this.childPositions(next));
    }
    return indices;
  }
}

/** Levels of the full tree of `count` validators at `fanout` (the longest an attempt can be). */
export function fullTreeHeight(count: number, fanout: number): number {
  let height = 0;
  let covered = 1;
  let level = 1;
  while (covered < count) {
    level *= fanout;
    covered += level;
    height++;
  }
  return height;
}
