/** The limits of one service's HTTPS + WebSocket front (see service-server.ts). */
export interface ServerLimits {
  host: string;
  port: number;
  maxPayloadBytes: number;
  /** Largest WebSocket frame; defaults to maxPayloadBytes. The msgqueue raises it for batched link frames. */
  maxFrameBytes?: number;
  /** Offer permessage-deflate; the size limit then applies to the inflated message. Off by default. */
  perMessageDeflate?: boolean;
  pingIntervalMs: number;
  allowedOrigins: readonly string[];
  maxConnections: number;
  maxConnectionsPerUser: number;
  handshakeTimeoutMs: number;
  /** Time for a whole plain request, headers and body (Node's requestTimeout); default 3 × handshakeTimeoutMs. */
  requestTimeoutMs?: number;
  metricsAuth: boolean;
}
