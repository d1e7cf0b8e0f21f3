import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (
  request: IncomingMessage,
  body: string,
  hit: number,
) => {
  status?: number;
  body?: unknown;
  delayMs?: number;
  headers?: Record<string, string>;
};

/** A small HTTP server on 127.0.0.1 for http-request steps to call; counts hits per path. */
export async function startHttpTarget(routes: Record<string, Handler>) {
  const hits = new Map<string, number>();
  const pending = new Set<ServerResponse>();
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const path = (request.url ?? '/').split('?')[0] ?? '/';
      const hit = (hits.get(path) ?? 0) + 1;
      hits.set(path, hit);
      const handler = routes[path];
      const answer = handler
        ? handler(request, body, hit)
        : { status: 404, body: { error: 'no route' } };
      pending.add(response);
      setTimeout(() => {
        pending.delete(response);
        if (response.destroyed) return;
        const text =
          typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {});
        response.writeHead(answer.status ?? 200, {
          'content-type': typeof answer.body === 'string' ? 'text/plain' : 'application/json',
          ...answer.headers,
        });
        response.end(text);
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    hits: (path: string) => hits.get(path) ?? 0,
    close: async () => {
      for (const response of pending) response.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
