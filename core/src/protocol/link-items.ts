/** The items the link carries: what a producer appends and what a consumer receives. */
export interface LinkAppendItem {
  topic: string;
  /** JSON text of the payload. */
  data: string;
  ts: number;
  /** Idempotency key (`user` + NUL + client id), when the publisher had one. */
  pid?: string;
  /**
   * Otherwise the publisher's own number for it: its pid is generatedPid(producer, counter),
   * the append frame's producer (generated-pid.ts). An item has a pid or a counter, not both.
   */
  counter?: number;
}
export interface LinkMessage {
  seq: number;
  topic: string;
  data: string;
  ts: number;
}
