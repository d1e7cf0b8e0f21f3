import { connect, type Socket } from 'node:net';

/**
 * A minimal HTTP/1.1 keep-alive client for load generation: one request in flight per connection, the
 * request written as one buffer, the response parsed just enough (status, Content-Length or chunked
 * body). It spends a fraction of the CPU a full client spends per request, so on a 2-core machine more
 * of the CPU goes to the system under test, whichever system that is.
 */
export class RawHttpConnection {
  private socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private pending:
    | { resolve: (r: { status: number; body: string }) => void; reject: (e: Error) => void }
    | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.tryParse();
    });
    const fail = (error: Error) => {
      const pending = this.pending;
      this.pending = undefined;
      pending?.reject(error);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static open(host: string, port: number): Promise<RawHttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => resolve(new RawHttpConnection(socket)));
      socket.once('error', reject);
    });
  }

  post(host: string, path: string, body: string): Promise<{ status: number; body: string }> {
    const payload = Buffer.from(body);
    const head =
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${payload.length}\r\n\r\n`;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(Buffer.concat([Buffer.from(head), payload]));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private tryParse(): void {
    if (!this.pending) return;
    const headEnd = this.buffer.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const head = this.buffer.subarray(0, headEnd).toString('latin1');
    const status = Number(head.slice(9, 12));
    const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const bodyStart = headEnd + 4;
    let body: string;
    let consumed: number;
    if (lengthMatch) {
      const length = Number(lengthMatch[1]);
      if (this.buffer.length < bodyStart + length) return;
      body = this.buffer.subarray(bodyStart, bodyStart + length).toString('utf8');
      consumed = bodyStart + length;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const parts: Buffer[] = [];
      let at = bodyStart;
      while (true) {
        const lineEnd = this.buffer.indexOf('\r\n', at);
        if (lineEnd < 0) return;
        const size = Number.parseInt(this.buffer.subarray(at, lineEnd).toString('latin1'), 16);
        if (this.buffer.length < lineEnd + 2 + size + 2) return;
        if (size === 0) {
          consumed = lineEnd + 4;
          break;
        }
        parts.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(parts).toString('utf8');
    } else {
      body = '';
      consumed = bodyStart;
    }
    this.buffer = this.buffer.subarray(consumed);
    const pending = this.pending;
    this.pending = undefined;
    pending.resolve({ status, body });
  }
}
