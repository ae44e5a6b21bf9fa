import { connect, type Socket } from 'node:net';
import { ProbeError } from '../core/errors';

/**
 * A minimal client for Firefox's Marionette protocol (the WebDriver transport geckodriver uses):
 * length-prefixed JSON over TCP on loopback, `[0, id, command, params]` answered by
 * `[1, id, error, result]`. Node-only; no dependencies.
 */

/** A JSON value sent to or received from Marionette. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

interface Pending {
  resolve: (v: Json) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** Splits a byte stream into Marionette packets (`<decimal length>:<JSON of that many bytes>`). */
export class PacketReader {
  private buf: Buffer = Buffer.alloc(0);

  /** Adds bytes; returns every packet now complete. Throws ProbeError('BAD_MESSAGE') on a malformed frame. */
  push(chunk: Buffer): Json[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: Json[] = [];
    for (;;) {
      const colon = this.buf.indexOf(0x3a);
      if (colon < 0) {
        if (this.buf.length > 20) throw new ProbeError('BAD_MESSAGE', 'Marionette: no length prefix in the stream.');
        return out;
      }
      const head = this.buf.subarray(0, colon).toString('ascii');
      if (!/^\d{1,10}$/.test(head)) throw new ProbeError('BAD_MESSAGE', `Marionette: bad length prefix "${head.slice(0, 20)}".`);
      const len = Number(head);
      if (this.buf.length < colon + 1 + len) return out;
      const body = this.buf.subarray(colon + 1, colon + 1 + len).toString('utf8');
      this.buf = this.buf.subarray(colon + 1 + len);
      try {
        out.push(JSON.parse(body) as Json);
      } catch {
        throw new ProbeError('BAD_MESSAGE', 'Marionette: a packet is not JSON.');
      }
    }
  }
}

/** Encodes one packet. */
export function encodePacket(value: Json): Buffer {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  return Buffer.concat([Buffer.from(`${body.length}:`, 'ascii'), body]);
}

/** One Marionette connection; every command has its own timeout, so nothing can hang. */
export class Marionette {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly reader = new PacketReader();
  private hello: ((v: Json) => void) | null = null;
  private failure: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      let packets: Json[];
      try {
        packets = this.reader.push(chunk);
      } catch (e) {
        this.fail(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      for (const p of packets) this.dispatch(p);
    });
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new ProbeError('INTERNAL', 'Marionette: connection closed.')));
  }

  /** Connects to 127.0.0.1:port and waits for the server's greeting. */
  static async connect(port: number, timeoutMs: number): Promise<Marionette> {
    const socket = connect({ host: '127.0.0.1', port });
    const client = new Marionette(socket);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ProbeError('TIMEOUT', `Marionette: no greeting on port ${port} within ${timeoutMs} ms.`));
      }, timeoutMs);
      client.hello = () => {
        clearTimeout(timer);
        resolve();
      };
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new ProbeError('INTERNAL', `Marionette: cannot connect to port ${port}: ${e.message}`));
      });
    });
    return client;
  }

  private dispatch(p: Json): void {
    if (this.hello && !Array.isArray(p)) {
      const h = this.hello;
      this.hello = null;
      h(p);
      return;
    }
    if (!Array.isArray(p) || p.length !== 4 || p[0] !== 1 || typeof p[1] !== 'number') return;
    const waiter = this.pending.get(p[1]);
    if (!waiter) return;
    this.pending.delete(p[1]);
    clearTimeout(waiter.timer);
    const err = p[2];
    if (err !== null) {
      const e = err as { error?: Json; message?: Json };
      waiter.reject(new ProbeError('INTERNAL', `Marionette: ${String(e.error ?? 'error')}: ${String(e.message ?? '')}`));
    } else {
      waiter.resolve(p[3]);
    }
  }

  private fail(e: Error): void {
    if (!this.failure) this.failure = e;
    for (const [id, w] of this.pending) {
      clearTimeout(w.timer);
      this.pending.delete(id);
      w.reject(e);
    }
  }

  /** Sends one command and resolves with its result (rejects on a Marionette error or after timeoutMs). */
  command(name: string, params: { [key: string]: Json }, timeoutMs: number): Promise<Json> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ProbeError('TIMEOUT', `Marionette: ${name} took longer than ${timeoutMs} ms.`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.write(encodePacket([0, id, name, params]));
    });
  }

  /** Closes the socket (pending commands are rejected). */
  close(): void {
    this.socket.destroy();
  }
}
