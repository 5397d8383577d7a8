import net from "node:net";
import { deadline } from "../util/deadline.js";

/** Why a DNS exchange got no answer. */
export type DnsTransportFailure = "timeout" | "aborted" | "unreachable" | "reset" | "protocol";

/** An exchange that got no DNS answer at all; the message names the server, never the message. */
export class DnsTransportError extends Error {
  readonly failure: DnsTransportFailure;
  readonly code: string | undefined;
  constructor(failure: DnsTransportFailure, message: string, code?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DnsTransportError";
    this.failure = failure;
    this.code = code;
  }
}

const UNREACHABLE = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "EADDRNOTAVAIL"]);

/**
 * Sends one message over a new TCP connection and returns the one response (RFC 1035 §4.2.2:
 * each message is preceded by its two-byte length). TCP rather than UDP: every DNS server must
 * speak it (RFC 7766), it has no truncation to fall back from, no datagram retransmission that
 * could deliver an UPDATE twice, no spoofable source address, and a refused connection tells a
 * stopped server at once instead of after a timeout. We send a handful of messages per VM, so the
 * handshake costs nothing that matters.
 *
 * Bounded by `timeoutMs` (connect, send and receive together) and by `signal`; the socket is
 * always destroyed before this returns.
 */
export function exchangeTcp(host: string, port: number, message: Buffer, o: { timeoutMs: number; signal?: AbortSignal }): Promise<Buffer> {
  const where = `DNS server ${host}:${port}`;
  if (message.length > 0xffff) return Promise.reject(new RangeError(`DNS message of ${message.length} bytes is too long for TCP`));
  const d = deadline(o.signal, o.timeoutMs);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const socket = net.connect({ host, port });
    const finish = (err: Error | undefined, value?: Buffer): void => {
      if (settled) return;
      settled = true;
      d.release();
      d.signal.removeEventListener("abort", onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const onAbort = (): void => {
      const reason: unknown = d.signal.reason;
      const timedOut = reason instanceof DOMException && reason.name === "TimeoutError";
      finish(
        timedOut
          ? new DnsTransportError("timeout", `${where}: no answer within ${o.timeoutMs}ms`)
          : new DnsTransportError("aborted", `${where}: request aborted`, undefined, { cause: reason }),
      );
    };
    if (d.signal.aborted) return onAbort();
    d.signal.addEventListener("abort", onAbort, { once: true });
    socket.on("connect", () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(message.length);
      socket.write(Buffer.concat([len, message]));
    });
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < 2) return;
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const want = all.readUInt16BE(0);
      if (all.length >= 2 + want) finish(undefined, all.subarray(2, 2 + want));
    });
    socket.on("end", () => finish(new DnsTransportError("reset", `${where}: closed the connection before answering`)));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      const code = err.code;
      if (code && UNREACHABLE.has(code)) finish(new DnsTransportError("unreachable", `${where}: ${code}`, code, { cause: err }));
      else finish(new DnsTransportError("reset", `${where}: ${code ?? err.message}`, code, { cause: err }));
    });
  });
}
