import { Worker } from 'node:worker_threads';

/**
 * Starts the worker module `name` that sits beside `base` (an import.meta.url): the built .js,
 * or under tsx (tests, benchmarks) the TypeScript source, with tsx registered in it first.
 */
export function startWorker(base: string, name: string, workerData: unknown): Worker {
  if (!base.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, base), { workerData });
  const url = new URL(`./${name}.ts`, base);
  const src = `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}); register(); await import(${JSON.stringify(url.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(src)}`), { workerData });
}
