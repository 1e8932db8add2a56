/** The prebuilt front end (Vite's output, dist/web), served as files; every other path gets index.html. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ServerResponse } from 'node:http';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/** dist/web beside the compiled server, or (running from source in tests) the package's dist/web. */
export function webRoot(): string | undefined {
  return [path.join(__dirname, 'web'), path.join(__dirname, '..', 'dist', 'web')].find((dir) =>
    existsSync(path.join(dir, 'index.html')),
  );
}

export async function serveStatic(root: string | undefined, pathname: string, response: ServerResponse): Promise<void> {
  if (!root) {
    response.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
    response.end('The UI front end is not built: run `npm run build` (it runs vite build for @lightbus/ui).');
    return;
  }
  const relative = path.normalize(decodeURIComponent(pathname)).replace(/^(\.\.[/\\])+/, '');
  let file = path.join(root, relative);
  if (!file.startsWith(root) || !existsSync(file) || relative === '/' || relative === path.sep) {
    file = path.join(root, 'index.html');
  }
  try {
    const body = await readFile(file);
    const ext = path.extname(file);
    response.writeHead(200, {
      'content-type': TYPES[ext] ?? 'application/octet-stream',
      'cache-control': file.includes(`${path.sep}assets${path.sep}`)
        ? 'public, max-age=31536000, immutable'
        : 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    response.end(body);
  } catch {
    response.writeHead(404);
    response.end();
  }
}
