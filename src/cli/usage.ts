import { parseArgs } from 'node:util';

export const DEFAULT_CONFIG = '/etc/kioskd/config.yaml';
export const EX_USAGE = 64;

export const USAGE = `Usage:
  kioskd [--config FILE]        run the kiosk daemon (default config: ${DEFAULT_CONFIG})
         [--exit-with-parent]   stop cleanly when the launching process dies (hw-sim uses it)
         [--sim-clock OFFSET_MS] hw-sim only (hal.mode: sim): time starts OFFSET_MS ahead and
                                hw-sim may move it forward ("advance time")
  kioskd check-config FILE      validate a config file and exit (78 if invalid)
  kioskd config-schema          print the config's JSON Schema
  kioskd card decode [--reveal] parse scanner bytes from stdin (masked unless --reveal; 65 if rejected)
  kioskd card read-chip (--can N | --from-qr) [--reveal] [--portrait FILE] [--config FILE]
                                read the chip of the card on the PC/SC reader (CAN: 6 digits, or the QR
                                scan on stdin); prints the groups read (masked unless --reveal), the SOD
                                status, protocol and timings; the portrait only into FILE; 1 if unusable
  kioskd calibrate --data DIR [--data DIR…] [--groups CSV] --far 1e-3 --out FILE
                  [--recognizer fr_feature|faceapi|MODEL.onnx|model.json] [--config FILE]
                                fit the face-match threshold of a recogniser (default: the configured
                                one) on labelled photos (DIR/<identity>/<n>.jpg)
  kioskd monitor --broker URL [--prefix P] [--once] [--json]
                                live table of every kiosk on a broker (JSON lines when not a TTY)
  kioskd selftest [--config FILE] [--skip CHECK…] [--timeout-sec N] [--expect-face] [--scan-sec N] [--json]
                                on the kiosk (service stopped): test ticket, camera + face detection,
                                lamps, scanner, broker, BHYT token, clock sync; exit 1 names failures
  kioskd --version | --help

Environment: KIOSKD__SECTION__KEY=value overrides a config key, e.g. KIOSKD__MQTT__URL=mqtt://broker:1883.`;

/** The options of every command but monitor and selftest (they parse their own). */
export function parseCommandLine(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      'exit-with-parent': { type: 'boolean' },
      'sim-clock': { type: 'string' },
      reveal: { type: 'boolean' },
      can: { type: 'string' },
      'from-qr': { type: 'boolean' },
      portrait: { type: 'string' },
      data: { type: 'string', multiple: true },
      groups: { type: 'string' },
      far: { type: 'string' },
      out: { type: 'string' },
      recognizer: { type: 'string' },
    },
  });
}

export type CommandLine = ReturnType<typeof parseCommandLine>['values'];
