import { Worker } from 'node:worker_threads';

/**
 * A worker's young generation, MiB. V8's default lets each isolate's nursery grow to tens of MiB,
 * which on a kiosk board is resident memory for garbage: the face worker's live heap is ~28 MiB,
 * and with this limit the daemon's RSS over `bench checkin` fell by ~40 MiB (issue 17's note).
 * Frames and tensors live outside the JS heap, so collections stay short.
 */
const YOUNG_GENERATION_MB = 6;

/**
 * Starts the worker module `name` that sits beside `base` (an import.meta.url): the built .js,
 * or under tsx (tests, benchmarks) the TypeScript source, with tsx registered in it first.
 */
export function startWorker(base: string, name: string, workerData: unknown): Worker {
  const resourceLimits = { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB };
  if (!base.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, base), { workerData, resourceLimits });
  const url = new URL(`./${name}.ts`, base);
  const src = `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}); register(); await import(${JSON.stringify(url.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(src)}`), { workerData, resourceLimits });
}
