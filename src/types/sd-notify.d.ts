// The optional native package ships no types of its own; only what kioskd calls is declared.
declare module 'sd-notify' {
  /** Sends newline-separated assignments (e.g. "READY=1\nSTATUS=idle") with sd_notify(3). */
  export function sendState(state: string): void;
}
