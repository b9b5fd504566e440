// Types of scripts/test-deps.mjs, for the tests that import it.
export interface Probe {
  readonly env: NodeJS.ProcessEnv;
  command(name: string): boolean;
  file(path: string): boolean;
  tesseractLangs(): string[];
  readonly uid: number;
  sudo(): boolean;
  apt(): boolean;
}
export interface Missing {
  readonly what: string;
  readonly pkg: string;
}
export type Decision =
  | { readonly action: 'ok' }
  | { readonly action: 'install'; readonly commands: string[][]; readonly shown: string; readonly message: string }
  | { readonly action: 'stop'; readonly message: string };
export const PACKAGES_FILE: string;
export function parsePackageList(text: string): string[];
export function readPackageList(file?: string): string[];
export const REQUIREMENTS: ReadonlyArray<{ readonly what: string; readonly pkg: string; found(p: Probe): boolean }>;
export function systemProbe(env?: NodeJS.ProcessEnv): Probe;
export function findMissing(probe: Probe): Missing[];
export function decide(o: { missing: readonly Missing[]; root: boolean; sudo: boolean; apt: boolean; packages: readonly string[] }): Decision;
