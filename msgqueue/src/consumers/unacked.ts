/** The credit window of one durable consumer (the link's and the embedded home's). */

/** Seqs sent and not yet acknowledged, oldest first (at most `window` of them). */
export class Unacked {
  private seqs: number[] = [];
  private head = 0;
  get count(): number {
    return this.seqs.length - this.head;
  }
  push(seq: number): void {
    this.seqs.push(seq);
  }
  ackThrough(seq: number): void {
    while (this.head < this.seqs.length && this.seqs[this.head] <= seq) this.head++;
    if (this.head > 1024 && this.head * 2 > this.seqs.length) {
      this.seqs = this.seqs.slice(this.head);
      this.head = 0;
    }
  }
}
